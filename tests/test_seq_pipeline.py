"""Seq rules through the client's pipeline: every frame with sid and seq takes a number.

Data, ``ok``, ``unsubscribed`` and a subscription's ``error`` all advance their sid's
counter; ``subscribed`` carries none and starts the sid afresh; the first sequenced frame on
a sid sets the baseline at any seq. Offline clients are fed through the network thread's
entry point; the last tests run a real client against FakeKalshiServer.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from _helpers import book_equals_server, events, make_client, seed, wait_for

import kalshi_sync as ks
from kalshi_sync.testing import FakeKalshiServer

URL = "ws://127.0.0.1:9/trade-api/ws/v2"
T1 = "SEQ-A"
T2 = "SEQ-B"


def frame(**envelope: Any) -> bytes:
    return json.dumps(envelope).encode()


def snapshot(seq: int, sid: int = 1, ticker: str = T1) -> bytes:
    msg = {"market_ticker": ticker, "yes_dollars_fp": [["0.40", "5.00"]]}
    return frame(type="orderbook_snapshot", sid=sid, seq=seq, msg=msg)


def delta(seq: int, sid: int = 1, ticker: str = T1, count: str = "1.00") -> bytes:
    msg = {"market_ticker": ticker, "price_dollars": "0.40", "delta_fp": count, "side": "yes"}
    return frame(type="orderbook_delta", sid=sid, seq=seq, msg=msg)


@pytest.fixture
def offline(private_pem: bytes) -> Any:
    client = ks.KalshiClient("seq", private_pem, url=URL, delivery="inline")
    client._pipeline.offline = True
    client._state = "offline"
    got: list[Any] = []
    client.on("*", got.append)
    try:
        yield client, got
    finally:
        client.close()


def gaps(got: list[Any]) -> list[Any]:
    return [m for m in got if m.type == "gap"]


@pytest.mark.parametrize(
    "reply",
    [
        {"type": "ok", "id": 3, "sid": 1, "seq": 2, "msg": {"market_tickers": [T1]}},
        {"type": "unsubscribed", "id": 3, "sid": 1, "seq": 2},
        {"type": "error", "sid": 1, "seq": 2, "msg": {"code": 14, "msg": "Market Ticker required"}},
        {"type": "orderbook_clear", "sid": 1, "seq": 2, "msg": {}},  # a type we do not know
    ],
    ids=["ok", "unsubscribed", "error", "unknown-type"],
)
def test_any_frame_with_sid_and_seq_takes_a_number(offline: Any, reply: dict[str, Any]) -> None:
    """A reply (or unknown frame) at seq 2 between snapshot 1 and delta 3: no gap, the
    delta applies."""
    client, got = offline
    client._on_frame(snapshot(1))
    client._on_frame(json.dumps(reply).encode())
    client._on_frame(delta(3))
    assert gaps(got) == [] and client.stats()["gaps"] == 0
    assert client.orderbook(T1).yes[next(iter(client.orderbook(T1).yes))] == 6


def test_a_gap_shows_on_a_control_reply(offline: Any) -> None:
    """An ok that skips a number reports the gap at once: the sid's books resync and a gap
    event names the missing seq."""
    client, got = offline
    client._on_frame(snapshot(1))
    client._on_frame(snapshot(2, ticker=T2))
    client._on_frame(frame(type="ok", id=4, sid=1, seq=5, msg={}))
    [gap] = gaps(got)
    assert (gap.sid, gap.expected, gap.received) == (1, 3, 5)
    assert gap.channel == "" and set(gap.market_tickers) == {T1, T2}
    assert client.orderbook(T1).state == "resyncing"
    assert client.stats()["gaps"] == 1
    client._on_frame(delta(6))  # continues after the reply: no second gap
    assert len(gaps(got)) == 1


def test_an_error_reply_is_delivered_even_when_it_reveals_a_gap(offline: Any) -> None:
    """The reply itself is never dropped for its seq."""
    client, got = offline
    client._on_frame(snapshot(1))
    client._on_frame(frame(type="error", sid=1, seq=4, msg={"code": 25, "msg": "overflow"}))
    assert [m.type for m in got][-2:] == ["gap", "error"]


def test_control_reply_repeating_the_position_is_no_gap_and_no_drop(offline: Any) -> None:
    """A reply that reports the current seq (a server that does not consume one): the next
    data frame at last + 1 applies."""
    client, got = offline
    client._on_frame(snapshot(1))
    client._on_frame(frame(type="ok", id=3, sid=1, seq=1, msg={}))
    client._on_frame(delta(2))
    assert gaps(got) == [] and client.orderbook(T1).seq == 2


def test_subscribed_carries_no_seq_and_restarts_the_sid(offline: Any) -> None:
    """After ``subscribed`` a sid's numbering starts over: seq 1 is the new baseline."""
    client, got = offline
    client._on_frame(snapshot(7))
    client._on_frame(frame(id=9, type="subscribed", msg={"channel": "orderbook_delta", "sid": 1}))
    client._on_frame(snapshot(1))
    client._on_frame(delta(2))
    assert gaps(got) == [] and client.stats()["duplicates"] == 0
    assert client.orderbook(T1).seq == 2


def test_first_sequenced_frame_sets_the_baseline_at_any_seq(offline: Any) -> None:
    """No seq == 1 requirement: a sid first seen at seq 108 continues at 109 without a gap;
    a reply can be that first frame too."""
    client, got = offline
    client._on_frame(snapshot(108))
    client._on_frame(delta(109))
    client._on_frame(frame(type="ok", id=1, sid=2, seq=40, msg={}))
    client._on_frame(snapshot(41, sid=2, ticker=T2))
    client._on_frame(frame(type="ok", id=2, sid=3, seq=10, msg={}))
    client._on_frame(snapshot(12, sid=3, ticker="SEQ-C"))  # 11 lost after the baseline
    [gap] = gaps(got)
    assert (gap.sid, gap.expected, gap.received) == (3, 11, 12)


# --- against FakeKalshiServer ---------------------------------------------------------------


@pytest.mark.parametrize("consumes", [True, False], ids=["reply-takes-seq", "reply-reports-seq"])
def test_add_markets_reply_between_deltas_causes_no_gap(private_pem, key_pair, consumes):
    """Either server convention for the ok's seq: deltas before and after add_markets apply
    in order, no gap, no duplicate, books equal the server's."""
    server = FakeKalshiServer(public_key=key_pair[1], control_consumes_seq=consumes)
    server.start()
    seed(server, T1, T2)
    client = make_client(server, private_pem)
    gap_events = events(client, "gap")
    try:
        client.start()
        sub = client.subscribe("orderbook_delta", [T1])
        wait_for(lambda: book_equals_server(client, server, T1), what="first book")
        server.apply_delta(T1, "yes", "0.42", "2")
        sub.add_markets([T2])
        server.apply_delta(T1, "no", "0.56", "-3")
        server.apply_delta(T2, "yes", "0.40", "4")
        wait_for(lambda: book_equals_server(client, server, T1), what="T1 after add_markets")
        wait_for(lambda: book_equals_server(client, server, T2), what="T2 after add_markets")
        stats = client.stats()
        assert (stats["gaps"], stats["duplicates"], stats["resyncs"]) == (0, 0, 0)
        assert gap_events.empty()
    finally:
        client.close()
        server.stop()
