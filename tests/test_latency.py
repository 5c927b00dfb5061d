"""``sending_ts_ms`` on every message, and the server-queue-to-callback latency in stats().

The envelope's ``sending_ts_ms`` (when Kalshi queued the frame) decodes onto every class,
control replies included. Delivery records ``now - sending_ts_ms`` as each message's
callbacks are about to run, in a bounded ring; ``stats()`` reports p50/p99 over it.
"""

from __future__ import annotations

import json
import queue
import time
from typing import Any

import pytest
from _helpers import make_client, wait_for

import kalshi_sync as ks
from kalshi_sync.dispatch import LATENCY_WINDOW, Delivery, Router
from kalshi_sync.events import ConnectedEvent
from kalshi_sync.models import Trade
from kalshi_sync.protocol import KNOWN_TYPES, decode

URL = "ws://127.0.0.1:9/trade-api/ws/v2"
SENT = 1_790_000_000_000  # a Unix ms timestamp in Oct 2026


def frame(**envelope: Any) -> bytes:
    return json.dumps(envelope).encode()


# --- decode ----------------------------------------------------------------------------------

CONTROL_FRAMES = {
    "subscribed": {"id": 1, "type": "subscribed", "msg": {"channel": "ticker", "sid": 1}},
    "ok": {"id": 2, "type": "ok", "sid": 1, "seq": 108, "msg": {"market_tickers": ["A"]}},
    "list": {"id": 3, "type": "ok", "msg": [{"channel": "ticker", "sid": 1}]},
    "legacy-list": {"id": 3, "type": "list_subscriptions", "subscriptions": []},
    "unsubscribed": {"id": 4, "type": "unsubscribed", "sid": 1, "seq": 9},
    "error": {"id": 5, "type": "error", "sid": 1, "seq": 3, "msg": {"code": 14, "msg": "x"}},
    "unknown": {"type": "brand_new", "sid": 1, "msg": {}},
}


@pytest.mark.parametrize("name", sorted(CONTROL_FRAMES))
def test_control_replies_carry_sending_ts_ms(name: str) -> None:
    """subscribed, ok, list replies, unsubscribed, error and unknown types expose it."""
    msg = decode(json.dumps({**CONTROL_FRAMES[name], "sending_ts_ms": SENT}))
    assert msg.sending_ts_ms == SENT


@pytest.mark.parametrize("type_", sorted(KNOWN_TYPES - {"subscribed", "error"}))
def test_every_known_type_carries_sending_ts_ms(type_: str) -> None:
    """Every typed class reads the envelope's sending_ts_ms, and None when it is absent."""
    env = {"type": type_, "sid": 2, "seq": 5, "msg": {}}
    assert decode(json.dumps({**env, "sending_ts_ms": SENT})).sending_ts_ms == SENT
    assert decode(json.dumps(env)).sending_ts_ms is None


def test_hot_path_delta_carries_sending_ts_ms() -> None:
    """The orderbook_delta fast path sets it too (a complete, current-form delta)."""
    msg = decode(
        frame(
            type="orderbook_delta",
            sid=2,
            seq=3,
            sending_ts_ms=SENT,
            msg={"market_ticker": "M", "price_dollars": "0.96", "delta_fp": "-54.00",
                 "side": "yes", "ts_ms": SENT - 5},
        )
    )  # fmt: skip
    assert msg.sending_ts_ms == SENT and msg.missing == ()


@pytest.mark.parametrize("drift", ["1790000000000", 1.79e12, True, [1], {"ms": 1}])
def test_drifted_sending_ts_ms_is_none_and_costs_nothing(drift: Any) -> None:
    """A sending_ts_ms of another JSON type is None (kept in raw); the message still decodes."""
    for env in (
        {"type": "orderbook_delta", "sid": 1, "seq": 1,
         "msg": {"market_ticker": "M", "price_dollars": "0.5", "delta_fp": "1", "side": "yes"}},
        {"type": "ok", "id": 1, "sid": 1, "seq": 1},
    ):  # fmt: skip
        msg = decode(json.dumps({**env, "sending_ts_ms": drift}))
        assert msg.sending_ts_ms is None
        assert msg.raw["sending_ts_ms"] == drift


def test_sending_ts_ms_is_not_part_of_equality() -> None:
    """The same message queued at two times compares equal (it is transport metadata)."""
    body = {"market_ticker": "M", "yes_price_dollars": "0.5", "count_fp": "1"}
    a = decode(frame(type="trade", sid=1, seq=1, sending_ts_ms=SENT, msg=body))
    b = decode(frame(type="trade", sid=1, seq=1, sending_ts_ms=SENT + 7, msg=body))
    assert a == b and hash(a) == hash(b)


# --- Delivery as a plain object ---------------------------------------------------------------


class FakeClock:
    """Wall-clock seconds, moved by the test."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def trade(sent: int | None) -> Trade:
    return Trade(type="trade", sending_ts_ms=sent)


def test_no_samples_before_the_first_message() -> None:
    """latency() is (None, None, 0) until a message with sending_ts_ms is delivered."""
    d = Delivery(Router(), mode="inline", clock=FakeClock(SENT))
    assert d.latency() == (None, None, 0)
    d.put(trade(None))
    d.put_event(ConnectedEvent(generation=1))
    assert d.latency() == (None, None, 0)


def test_percentiles_are_nearest_rank_over_the_samples() -> None:
    """Latencies 1..100 ms: p50 is 50 and p99 is 99 (nearest rank), 100 samples."""
    clock = FakeClock(SENT)
    d = Delivery(Router(), mode="inline", clock=clock)
    for lag in range(100, 0, -1):  # order of arrival does not matter
        d.put(trade(SENT - lag))
    assert d.latency() == (50, 99, 100)


def test_one_sample_is_both_percentiles() -> None:
    """A single message of 7 ms gives p50 == p99 == 7."""
    d = Delivery(Router(), mode="inline", clock=FakeClock(SENT + 7))
    d.put(trade(SENT))
    assert d.latency() == (7, 7, 1)


def test_latency_is_measured_at_delivery_not_at_hand_over() -> None:
    """In poll mode the time spent queued counts: the sample is taken when poll() runs it."""
    clock = FakeClock(SENT + 2)
    seen: list[int] = []
    router = Router()
    router.on("trade", lambda m: seen.append(clock.ms))
    d = Delivery(router, mode="poll", clock=clock)
    d.put(trade(SENT))
    clock.ms = SENT + 250
    assert d.poll() == 1
    assert seen == [SENT + 250]
    assert d.latency() == (250, 250, 1)


def test_ring_keeps_only_the_most_recent_window() -> None:
    """After more than LATENCY_WINDOW samples the oldest ones no longer count."""
    clock = FakeClock(SENT)
    d = Delivery(Router(), mode="inline", clock=clock)
    for _ in range(10):
        d.put(trade(SENT - 60_000))  # a minute late: will fall out of the window
    for _ in range(LATENCY_WINDOW):
        d.put(trade(SENT - 3))
    assert d.latency() == (3, 3, LATENCY_WINDOW)


def test_negative_latency_from_a_fast_local_clock_is_reported_as_is() -> None:
    """A local clock behind the server's gives negative figures (not clamped, not hidden)."""
    d = Delivery(Router(), mode="inline", clock=FakeClock(SENT - 20))
    d.put(trade(SENT))
    assert d.latency() == (-20, -20, 1)


def test_thread_mode_records_on_the_dispatch_thread() -> None:
    """The dispatch thread takes the samples; flush() makes them visible."""
    d = Delivery(Router(), mode="thread", clock=FakeClock(SENT + 4))
    d.start()
    try:
        for _ in range(5):
            d.put(trade(SENT))
        assert d.flush(5)
        assert d.latency() == (4, 4, 5)
    finally:
        assert d.stop(5)


# --- stats() ---------------------------------------------------------------------------------


def test_stats_report_latency_keys(private_pem: bytes) -> None:
    """stats() has latency_ms_p50/p99 (None) and latency_samples (0) before any sample, and
    real figures once a frame with sending_ts_ms was delivered."""
    client = ks.KalshiClient("lat", private_pem, url=URL, delivery="inline")
    client._pipeline.offline = True
    client._state = "offline"
    try:
        stats = client.stats()
        assert (stats["latency_ms_p50"], stats["latency_ms_p99"]) == (None, None)
        assert stats["latency_samples"] == 0
        sent = int(time.time() * 1000) - 400
        client._on_frame(frame(type="ticker", sid=1, sending_ts_ms=sent, msg={}))
        client._on_frame(frame(type="ticker", sid=1, msg={}))  # no sending_ts_ms: no sample
        stats = client.stats()
        assert stats["latency_samples"] == 1
        p50, p99 = stats["latency_ms_p50"], stats["latency_ms_p99"]
        assert p50 is not None and p99 is not None
        assert 400 <= p50 == p99 < 60_000
    finally:
        client.close()


def test_latency_through_a_live_client(server, private_pem):
    """Frames from FakeKalshiServer stamped 300 ms in the past: the callback-side latency
    is at least that, for exactly the frames that carried sending_ts_ms."""
    client = make_client(server, private_pem)
    got: queue.Queue[Any] = queue.Queue()
    try:
        client.start()
        sub = client.subscribe("ticker", callback=got.put)
        for i in range(3):
            sent = int(time.time() * 1000) - 300
            server.send_raw(
                json.dumps({"type": "ticker", "sid": sub.sid, "sending_ts_ms": sent,
                            "msg": {"market_ticker": f"L-{i}"}})
            )  # fmt: skip
        server.send_raw(json.dumps({"type": "ticker", "sid": sub.sid, "msg": {}}))
        received = [got.get(timeout=5) for _ in range(4)]
        assert [m.sending_ts_ms is not None for m in received] == [True, True, True, False]
        wait_for(lambda: client.stats()["latency_samples"] == 3, what="3 latency samples")
        stats = client.stats()
        p50, p99 = stats["latency_ms_p50"], stats["latency_ms_p99"]
        assert p50 is not None and p99 is not None
        assert 300 <= p50 <= p99 < 60_000
    finally:
        client.close()
