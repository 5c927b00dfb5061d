"""Tests for kalshi_sync.testing.FakeKalshiServer, driven by a plain websocket-client.

The client side signs handshakes with ``cryptography`` directly (not the project's signer)
so these tests pin the server's behaviour independently of the client library.
"""

from __future__ import annotations

import base64
import json
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import websocket
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kalshi_sync.testing import FakeKalshiServer, generate_test_key, tls_context_pair

pytestmark = pytest.mark.integration

PATH = "/trade-api/ws/v2"
KEY_ID = "a952bcbe-test-key"
T1, T2, T3 = "KXHIGHNY-24JAN01-T60", "KXHIGHNY-24JAN01-T61", "KXHIGHNY-24JAN01-T62"

ServerFactory = Callable[..., FakeKalshiServer]
Connector = Callable[..., websocket.WebSocket]


# ---- helpers and fixtures ---------------------------------------------------------------


@pytest.fixture(scope="module")
def keypair() -> tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey]:
    pem, public_key = generate_test_key()
    private_key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    assert isinstance(public_key, rsa.RSAPublicKey)
    return private_key, public_key


def auth_headers(
    private_key: rsa.RSAPrivateKey,
    *,
    ts_ms: int | None = None,
    key_id: str = KEY_ID,
    salt_length: Any = padding.PSS.DIGEST_LENGTH,  # an int or one of PSS's length markers
) -> list[str]:
    ts = str(ts_ms if ts_ms is not None else int(time.time() * 1000))
    signature = private_key.sign(
        (ts + "GET" + PATH).encode(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt_length),
        hashes.SHA256(),
    )
    return [
        f"KALSHI-ACCESS-KEY: {key_id}",
        f"KALSHI-ACCESS-TIMESTAMP: {ts}",
        f"KALSHI-ACCESS-SIGNATURE: {base64.b64encode(signature).decode()}",
    ]


@pytest.fixture
def make_server(
    keypair: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey],
) -> Iterator[ServerFactory]:
    servers: list[FakeKalshiServer] = []

    def factory(**kwargs: Any) -> FakeKalshiServer:
        kwargs.setdefault("public_key", keypair[1])
        kwargs.setdefault("key_id", KEY_ID)
        kwargs.setdefault("ping_interval", None)
        server = FakeKalshiServer(**kwargs)
        servers.append(server)
        return server.start()

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: ServerFactory) -> FakeKalshiServer:
    return make_server()


@pytest.fixture
def connect(keypair: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey]) -> Iterator[Connector]:
    opened: list[websocket.WebSocket] = []

    def factory(
        server: FakeKalshiServer, *, headers: list[str] | None = None, **kwargs: Any
    ) -> websocket.WebSocket:
        ws = websocket.create_connection(
            server.url,
            header=headers if headers is not None else auth_headers(keypair[0]),
            timeout=5,
            **kwargs,
        )
        opened.append(ws)
        return ws

    yield factory
    for ws in opened:
        # shutdown() closes the socket even after websocket-client answered a close frame
        # (which marks it disconnected without closing it); it never blocks.
        ws.shutdown()


def send(ws: websocket.WebSocket, obj: Any) -> None:
    ws.send(json.dumps(obj))


def recv(ws: websocket.WebSocket) -> dict[str, Any]:
    frame = json.loads(ws.recv())
    assert isinstance(frame, dict)
    return frame


def subscribe_book(
    ws: websocket.WebSocket, tickers: list[str], cid: int = 1, **extra: Any
) -> list[dict[str, Any]]:
    """Subscribe to orderbook_delta; returns [subscribed, snapshot, ...]."""
    send(
        ws,
        {
            "id": cid,
            "cmd": "subscribe",
            "params": {"channels": ["orderbook_delta"], "market_tickers": tickers, **extra},
        },
    )
    return [recv(ws) for _ in range(1 + len(tickers))]


def drain_until_quiet(ws: websocket.WebSocket, quiet: float = 0.3, limit: int = 3) -> list[int]:
    """Read frames until none arrives for ``quiet`` s; returns their opcodes.

    Fails if the stream does not go quiet within ``limit`` frames.
    """
    opcodes: list[int] = []
    ws.settimeout(quiet)
    try:
        for _ in range(limit):
            opcode, _frame = ws.recv_data_frame(control_frame=True)
            opcodes.append(opcode)
        pytest.fail(f"still receiving frames: {opcodes}")
    except websocket.WebSocketTimeoutException:
        pass
    finally:
        ws.settimeout(5)
    return opcodes


def assert_quiet(ws: websocket.WebSocket, cid: int = 999) -> None:
    """Nothing is pending before the reply to a fresh list_subscriptions."""
    send(ws, {"id": cid, "cmd": "list_subscriptions"})
    frame = recv(ws)
    assert frame["id"] == cid and frame["type"] == "ok", frame


# ---- handshake ------------------------------------------------------------------------


def test_handshake_with_valid_signature_is_accepted_and_recorded(
    server: FakeKalshiServer, connect: Connector
) -> None:
    """A correctly signed upgrade gets 101 and is recorded with its headers."""
    ws = connect(server)
    assert ws.connected
    server.wait_for_connections(1)
    (record,) = server.handshakes
    assert record["status"] == 101 and record["path"] == PATH
    assert record["headers"]["KALSHI-ACCESS-KEY"] == KEY_ID
    assert server.url == f"ws://127.0.0.1:{server.port}{PATH}"


def test_handshake_accepts_max_length_salt(
    server: FakeKalshiServer, connect: Connector, keypair: tuple[rsa.RSAPrivateKey, Any]
) -> None:
    """Signatures with a non-32-byte PSS salt verify too (the server uses PSS.AUTO)."""
    connect(server, headers=auth_headers(keypair[0], salt_length=padding.PSS.MAX_LENGTH))
    assert server.handshakes[-1]["status"] == 101


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("bad_signature", "invalid signature"),
        ("stale_timestamp", "stale timestamp"),
        ("missing_headers", "missing authentication headers"),
        ("wrong_key_id", "unknown API key"),
    ],
)
def test_handshake_rejections_are_401(
    server: FakeKalshiServer,
    keypair: tuple[rsa.RSAPrivateKey, Any],
    case: str,
    reason: str,
) -> None:
    """Bad signature, stale timestamp, missing headers or wrong key id -> HTTP 401."""
    if case == "bad_signature":
        other_pem, _ = generate_test_key()
        other = serialization.load_pem_private_key(other_pem, password=None)
        assert isinstance(other, rsa.RSAPrivateKey)
        headers = auth_headers(other)
    elif case == "stale_timestamp":
        headers = auth_headers(keypair[0], ts_ms=int((time.time() - 120) * 1000))
    elif case == "missing_headers":
        headers = auth_headers(keypair[0])[:2]
    else:
        headers = auth_headers(keypair[0], key_id="someone-else")
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(server.url, header=headers, timeout=5)
    assert info.value.status_code == 401
    assert server.handshakes[-1]["reason"] == reason
    assert server.connection_count == 0


def test_wrong_path_is_404(server: FakeKalshiServer, keypair: tuple[Any, Any]) -> None:
    """An upgrade on another path is answered 404."""
    url = f"ws://127.0.0.1:{server.port}/somewhere/else"
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(url, header=auth_headers(keypair[0]), timeout=5)
    assert info.value.status_code == 404


def test_refuse_next_handshakes_counts_down(server: FakeKalshiServer, connect: Connector) -> None:
    """refuse_next_handshakes(2) answers exactly two upgrades with 503, then accepts."""
    server.refuse_next_handshakes(2)
    for _ in range(2):
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            connect(server)
        assert info.value.status_code == 503
    assert connect(server).connected
    assert [h["status"] for h in server.handshakes] == [503, 503, 101]


def test_auth_failure_mode_rejects_valid_signatures(
    server: FakeKalshiServer, connect: Connector
) -> None:
    """set_auth_failure(True) answers 401 to every handshake until switched off."""
    server.set_auth_failure(True)
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        connect(server)
    assert info.value.status_code == 401
    server.set_auth_failure(False)
    assert connect(server).connected


def test_generate_test_key_is_pkcs1_and_fresh() -> None:
    """generate_test_key returns a PKCS#1 PEM and a new key on every call."""
    pem1, pub1 = generate_test_key()
    pem2, _ = generate_test_key()
    assert pem1.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert pem1 != pem2
    assert isinstance(pub1, rsa.RSAPublicKey)
    assert pub1.key_size == 2048


# ---- subscribe, snapshots, deltas ---------------------------------------------------------


def test_subscribe_orderbook_gets_subscribed_then_snapshot_seq_1(
    server: FakeKalshiServer, connect: Connector
) -> None:
    """subscribe -> subscribed(sid 1) then orderbook_snapshot seq 1 in the current shape."""
    server.set_book(T1, yes=[("0.42", "13"), ("0.08", "300")], no=[("0.56", "17")])
    ws = connect(server)
    subscribed, snapshot = subscribe_book(ws, [T1, T2])[:2]
    assert subscribed == {
        "id": 1,
        "type": "subscribed",
        "msg": {"channel": "orderbook_delta", "sid": 1},
    }
    assert snapshot["type"] == "orderbook_snapshot"
    assert (snapshot["sid"], snapshot["seq"]) == (1, 1)
    msg = snapshot["msg"]
    assert msg["market_ticker"] == T1 and msg["market_id"]
    assert msg["yes_dollars_fp"] == [["0.0800", "300.00"], ["0.4200", "13.00"]]
    assert msg["no_dollars_fp"] == [["0.5600", "17.00"]]


def test_snapshot_of_empty_market_has_no_side_keys(
    server: FakeKalshiServer, connect: Connector
) -> None:
    """An empty side's key is absent from the snapshot, and seq continues per sid."""
    ws = connect(server)
    _, first, second = subscribe_book(ws, [T1, T2])
    assert "yes_dollars_fp" not in first["msg"] and "no_dollars_fp" not in first["msg"]
    assert (first["seq"], second["seq"], second["msg"]["market_ticker"]) == (1, 2, T2)


def test_deltas_increment_seq_and_update_server_book(
    server: FakeKalshiServer, connect: Connector
) -> None:
    """apply_delta publishes orderbook_delta with the next seq and updates book()."""
    server.set_book(T1, yes=[("0.42", "13")])
    ws = connect(server)
    subscribe_book(ws, [T1])
    server.apply_delta(T1, "yes", "0.42", "-3", client_order_id="mine-1")
    server.apply_delta(T1, "no", Decimal("0.55"), 5)
    d1, d2 = recv(ws), recv(ws)
    assert (d1["type"], d1["sid"], d1["seq"], d2["seq"]) == ("orderbook_delta", 1, 2, 3)
    assert d1["msg"]["price_dollars"] == "0.4200" and d1["msg"]["delta_fp"] == "-3.00"
    assert d1["msg"]["side"] == "yes" and d1["msg"]["client_order_id"] == "mine-1"
    assert isinstance(d1["msg"]["ts_ms"], int) and d1["msg"]["market_id"]
    assert "client_order_id" not in d2["msg"] and d2["msg"]["delta_fp"] == "5.00"
    server.apply_delta(T1, "yes", "0.42", "-10")  # level goes to 0 -> removed
    assert server.book(T1) == ({}, {Decimal("0.55"): Decimal("5")})


def test_use_yes_price_reports_no_side_on_yes_scale(
    server: FakeKalshiServer, connect: Connector
) -> None:
    """With use_yes_price, no-side snapshot levels and deltas are reported as 1 - p."""
    server.set_book(T1, no=[("0.30", "7")])
    ws = connect(server)
    _, snapshot = subscribe_book(ws, [T1], use_yes_price=True)
    assert snapshot["msg"]["no_dollars_fp"] == [["0.7000", "7.00"]]
    server.apply_delta(T1, "no", "0.30", "2")
    assert recv(ws)["msg"]["price_dollars"] == "0.7000"
    assert server.book(T1)[1] == {Decimal("0.30"): Decimal("9")}


def test_resubscribe_merges_tickers_with_ok(server: FakeKalshiServer, connect: Connector) -> None:
    """Re-subscribing merges tickers: ok with the full list, snapshots only for new ones."""
    ws = connect(server)
    subscribe_book(ws, [T1])
    send(
        ws,
        {
            "id": 2,
            "cmd": "subscribe",
            "params": {"channels": ["orderbook_delta"], "market_tickers": [T1, T2]},
        },
    )
    ok, snapshot = recv(ws), recv(ws)
    assert ok == {"id": 2, "sid": 1, "seq": 2, "type": "ok", "msg": {"market_tickers": [T1, T2]}}
    assert snapshot["msg"]["market_ticker"] == T2 and snapshot["seq"] == 3
    assert_quiet(ws)


def test_resubscribe_same_tickers_is_ok_only(server: FakeKalshiServer, connect: Connector) -> None:
    """A repeated subscribe with the same tickers answers ok and sends no snapshot."""
    ws = connect(server)
    subscribe_book(ws, [T1])
    send(
        ws,
        {
            "id": 2,
            "cmd": "subscribe",
            "params": {"channels": ["orderbook_delta"], "market_ticker": T1},
        },
    )
    assert recv(ws)["type"] == "ok"
    assert_quiet(ws)
    assert len(server.subscriptions()) == 1


def test_update_subscription_add_and_delete_markets(
    server: FakeKalshiServer, connect: Connector
) -> None:
    """add_markets/delete_markets answer ok with the full list; added markets get snapshots."""
    ws = connect(server)
    subscribe_book(ws, [T1])
    send(
        ws,
        {
            "id": 2,
            "cmd": "update_subscription",
            "params": {"sid": 1, "action": "add_markets", "market_tickers": [T2, T3]},
        },
    )
    ok = recv(ws)
    assert ok == {
        "id": 2,
        "sid": 1,
        "seq": 2,
        "type": "ok",
        "msg": {"market_tickers": [T1, T2, T3]},
    }
    assert [recv(ws)["msg"]["market_ticker"] for _ in range(2)] == [T2, T3]
    send(
        ws,
        {
            "id": 3,
            "cmd": "update_subscription",
            "params": {"sids": [1], "action": "delete_markets", "market_ticker": T1},
        },
    )
    assert recv(ws) == {
        "id": 3,
        "sid": 1,
        "seq": 5,
        "type": "ok",
        "msg": {"market_tickers": [T2, T3]},
    }
    server.apply_delta(T1, "yes", "0.5", "1")  # no longer subscribed: nothing arrives
    assert_quiet(ws)


def test_skip_ticker_ack_omits_market_list(server: FakeKalshiServer, connect: Connector) -> None:
    """With skip_ticker_ack the update ok carries no market_tickers list."""
    ws = connect(server)
    subscribe_book(ws, [T1], skip_ticker_ack=True)
    send(
        ws,
        {
            "id": 2,
            "cmd": "update_subscription",
            "params": {"sid": 1, "action": "delete_markets", "market_tickers": [T1]},
        },
    )
    ok = recv(ws)
    assert ok["type"] == "ok" and "market_tickers" not in ok["msg"]


def test_get_snapshot_carries_command_id(server: FakeKalshiServer, connect: Connector) -> None:
    """get_snapshot answers with an orderbook_snapshot carrying id and the next seq, no ok."""
    server.set_book(T1, yes=[("0.10", "1")])
    ws = connect(server)
    subscribe_book(ws, [T1])
    send(
        ws,
        {
            "id": 7,
            "cmd": "update_subscription",
            "params": {"sids": [1], "action": "get_snapshot", "market_tickers": [T1]},
        },
    )
    snapshot = recv(ws)
    assert snapshot["type"] == "orderbook_snapshot"
    assert (snapshot["id"], snapshot["sid"], snapshot["seq"]) == (7, 1, 2)
    assert snapshot["msg"]["yes_dollars_fp"] == [["0.1000", "1.00"]]
    assert_quiet(ws)


def test_unsubscribe_answers_per_sid(server: FakeKalshiServer, connect: Connector) -> None:
    """unsubscribe answers one unsubscribed per sid (consuming seq) and stops the data."""
    ws = connect(server)
    subscribe_book(ws, [T1])
    send(ws, {"id": 2, "cmd": "unsubscribe", "params": {"sids": [1]}})
    assert recv(ws) == {"id": 2, "sid": 1, "seq": 2, "type": "unsubscribed"}
    server.apply_delta(T1, "yes", "0.5", "1")
    assert_quiet(ws)
    assert server.subscriptions() == []


def test_list_subscriptions(server: FakeKalshiServer, connect: Connector) -> None:
    """list_subscriptions answers ok with [{channel, sid}, ...]."""
    ws = connect(server)
    send(ws, {"id": 1, "cmd": "subscribe", "params": {"channels": ["ticker", "fill"]}})
    assert [recv(ws)["msg"]["sid"] for _ in range(2)] == [1, 2]
    send(ws, {"id": 2, "cmd": "list_subscriptions"})
    assert recv(ws) == {
        "id": 2,
        "type": "ok",
        "msg": [{"channel": "ticker", "sid": 1}, {"channel": "fill", "sid": 2}],
    }


def test_control_replies_keep_current_seq_when_configured(
    make_server: ServerFactory, connect: Connector
) -> None:
    """control_consumes_seq=False: ok carries the last seq and data continues from it."""
    server = make_server(control_consumes_seq=False)
    ws = connect(server)
    subscribe_book(ws, [T1])
    send(
        ws,
        {
            "id": 2,
            "cmd": "update_subscription",
            "params": {"sid": 1, "action": "add_markets", "market_tickers": [T2]},
        },
    )
    assert recv(ws)["seq"] == 1
    assert recv(ws)["seq"] == 2  # the T2 snapshot


# ---- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ({"id": 5, "cmd": "subscribe"}, 2),
        ({"id": 5, "cmd": "subscribe", "params": {}}, 3),
        ({"id": 5, "cmd": "unsubscribe", "params": {}}, 4),
        ({"id": 5, "cmd": "dance"}, 5),
        ({"id": 5, "cmd": "unsubscribe", "params": {"sids": [42]}}, 7),
        ({"id": 5, "cmd": "subscribe", "params": {"channels": ["ticker_v2"]}}, 8),
        ({"id": 5, "cmd": "update_subscription", "params": {"action": "add_markets"}}, 12),
        (
            {"id": 5, "cmd": "update_subscription", "params": {"sids": [1, 2], "action": "x"}},
            12,
        ),
        (
            {"id": 5, "cmd": "update_subscription", "params": {"sid": 1, "action": "get_snapshot"}},
            13,
        ),
        ({"id": 5, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"]}}, 14),
        ({"id": 5, "cmd": "update_subscription", "params": {"sid": 1}}, 15),
        ({"id": 5, "cmd": "update_subscription", "params": {"sid": 9, "action": "add_markets"}}, 7),
    ],
)
def test_error_codes(
    server: FakeKalshiServer, connect: Connector, command: dict[str, Any], code: int
) -> None:
    """Each malformed command gets the documented error code, echoing the command id."""
    ws = connect(server)
    send(ws, {"id": 1, "cmd": "subscribe", "params": {"channels": ["ticker"]}})  # sid 1
    recv(ws)
    send(ws, command)
    error = recv(ws)
    assert error["type"] == "error" and error["id"] == 5
    assert error["msg"]["code"] == code and error["msg"]["msg"]


def test_add_markets_on_non_market_channel_is_13(
    server: FakeKalshiServer, connect: Connector
) -> None:
    """add_markets on a channel without market filters answers error 13."""
    ws = connect(server)
    send(ws, {"id": 1, "cmd": "subscribe", "params": {"channels": ["market_lifecycle_v2"]}})
    recv(ws)
    send(
        ws,
        {
            "id": 2,
            "cmd": "update_subscription",
            "params": {"sid": 1, "action": "add_markets", "market_tickers": [T1]},
        },
    )
    assert recv(ws)["msg"]["code"] == 13


@pytest.mark.parametrize(
    "payload",
    ["{not json", b"\x00\x01binary", "[1, 2, 3]", '"just a string"'],
    ids=["bad-json", "binary", "array", "string"],
)
def test_unprocessable_frames_get_error_1_without_id(
    server: FakeKalshiServer, connect: Connector, payload: str | bytes
) -> None:
    """Invalid JSON, binary or non-object frames get error 1 without id; the link survives."""
    ws = connect(server)
    if isinstance(payload, bytes):
        ws.send_binary(payload)
    else:
        ws.send(payload)
    assert recv(ws) == {"type": "error", "msg": {"code": 1, "msg": "Unable to process message"}}
    assert_quiet(ws)
    assert server.commands[0]["_invalid"] == payload


def test_server_survives_wrongly_typed_fields(server: FakeKalshiServer, connect: Connector) -> None:
    """Wrong types anywhere in a command produce errors, never a dead connection."""
    ws = connect(server)
    bad: list[Any] = [
        {"cmd": []},
        {"id": "x", "cmd": "subscribe", "params": []},
        {"id": 1, "cmd": "subscribe", "params": {"channels": "ticker"}},
        {"id": 1, "cmd": "subscribe", "params": {"channels": [1]}},
        {"id": 1, "cmd": "subscribe", "params": {"channels": ["trade"], "market_tickers": 3}},
        {"id": 1, "cmd": "unsubscribe", "params": {"sids": ["a"]}},
        {"id": 1, "cmd": "update_subscription", "params": {"sid": True, "action": "x"}},
    ]
    for command in bad:
        send(ws, command)
        assert recv(ws)["type"] == "error", command
    assert_quiet(ws)


# ---- publish and fault injection ---------------------------------------------------------


def test_publish_sequenced_unsequenced_and_market_filter(
    server: FakeKalshiServer, connect: Connector
) -> None:
    """publish: trade frames carry seq, ticker frames none; market filters apply."""
    ws = connect(server)
    send(ws, {"id": 1, "cmd": "subscribe", "params": {"channels": ["trade", "ticker"]}})
    send(ws, {"id": 2, "cmd": "subscribe", "params": {"channels": ["fill"], "market_ticker": T1}})
    assert [recv(ws)["msg"]["sid"] for _ in range(3)] == [1, 2, 3]
    assert server.publish("trade", "trade", {"trade_id": "t1", "market_ticker": T1}) == 1
    assert server.publish("ticker", "ticker", {"market_ticker": T1}) == 1
    assert server.publish("fill", "fill", {"market_ticker": T2}, market_ticker=T2) == 0
    trade, ticker = recv(ws), recv(ws)
    assert (trade["type"], trade["sid"], trade["seq"], trade["msg"]["trade_id"]) == (
        "trade",
        1,
        1,
        "t1",
    )
    assert ticker == {"type": "ticker", "sid": 2, "msg": {"market_ticker": T1}}
    assert_quiet(ws)


def test_skip_seq_makes_a_visible_gap(server: FakeKalshiServer, connect: Connector) -> None:
    """skip_seq(2) makes the next sequenced frame jump by 2 extra, then counting resumes."""
    ws = connect(server)
    subscribe_book(ws, [T1])
    server.skip_seq(2, channel="orderbook_delta")
    server.apply_delta(T1, "yes", "0.5", "1")
    server.apply_delta(T1, "yes", "0.5", "1")
    assert [recv(ws)["seq"] for _ in range(2)] == [4, 5]


def test_skip_seq_before_subscribe_applies_to_first_frame(
    server: FakeKalshiServer, connect: Connector
) -> None:
    """A fault armed with no matching subscription applies to the next one created."""
    server.skip_seq(1)
    ws = connect(server)
    _, snapshot = subscribe_book(ws, [T1])
    assert snapshot["seq"] == 2


def test_duplicate_next_sends_a_frame_twice(server: FakeKalshiServer, connect: Connector) -> None:
    """duplicate_next sends the next sequenced frame twice with the same seq."""
    ws = connect(server)
    subscribe_book(ws, [T1])
    server.duplicate_next()
    server.apply_delta(T1, "yes", "0.5", "1")
    server.apply_delta(T1, "yes", "0.5", "2")
    frames = [recv(ws) for _ in range(3)]
    assert [f["seq"] for f in frames] == [2, 2, 3]
    assert frames[0] == frames[1]


def test_reorder_next_swaps_two_frames(server: FakeKalshiServer, connect: Connector) -> None:
    """reorder_next puts the next two sequenced frames on the wire in swapped order."""
    ws = connect(server)
    send(ws, {"id": 1, "cmd": "subscribe", "params": {"channels": ["trade"]}})
    recv(ws)
    server.reorder_next(channel="trade")
    for n in range(3):
        server.publish("trade", "trade", {"trade_id": str(n)})
    assert [recv(ws)["seq"] for _ in range(3)] == [2, 1, 3]


def test_send_raw_and_send_error_reach_clients(
    server: FakeKalshiServer, connect: Connector
) -> None:
    """send_raw writes frames verbatim; send_error writes an error frame with sid."""
    ws = connect(server)
    server.wait_for_connections(1)
    assert server.send_raw("not json at all") == 1
    server.send_raw(b"\xff\xfe")
    server.send_error(25, "Subscription buffer overflow", sid=3)
    assert ws.recv() == "not json at all"
    assert ws.recv() == b"\xff\xfe"
    assert recv(ws) == {
        "type": "error",
        "sid": 3,
        "msg": {"code": 25, "msg": "Subscription buffer overflow"},
    }
    assert server.frames_sent == 3


# ---- observation -----------------------------------------------------------------------------


def test_commands_wait_for_command_and_wait_for_subscription(
    server: FakeKalshiServer, connect: Connector
) -> None:
    """Commands are recorded with their connection index; waits return once they exist."""
    ws = connect(server)
    subscribe_book(ws, [T1, T2])
    record = server.wait_for_command(lambda c: c["cmd"] == "subscribe")
    assert record["_connection"] == 0 and record["params"]["market_tickers"] == [T1, T2]
    assert server.wait_for_subscription("orderbook_delta", [T2]) == 1
    with pytest.raises(TimeoutError):
        server.wait_for_subscription("orderbook_delta", [T3], timeout=0.05)
    with pytest.raises(TimeoutError):
        server.wait_for_command(lambda c: c["cmd"] == "unsubscribe", timeout=0.05)
    (sub,) = server.subscriptions()
    assert (sub["channel"], sub["sid"], sub["tickers"], sub["seq"]) == (
        "orderbook_delta",
        1,
        [T1, T2],
        2,
    )


# ---- heartbeats, drops, restarts, TLS, silence -------------------------------------------------


def test_server_pings_with_heartbeat_payload(
    make_server: ServerFactory, connect: Connector
) -> None:
    """Ping frames carry b"heartbeat"; the client's automatic pong is counted."""
    server = make_server(ping_interval=0.05)
    ws = connect(server)
    opcode, frame = ws.recv_data_frame(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_PING and frame.data == b"heartbeat"
    server.wait_for_pongs(1)
    assert server.pongs_received >= 1


def test_pong_timeout_drops_silent_client(make_server: ServerFactory, connect: Connector) -> None:
    """A client that never answers the heartbeat is dropped after pong_timeout."""
    server = make_server(ping_interval=0.05, pong_timeout=0.1)
    ws = connect(server)
    send(ws, {"id": 1, "cmd": "list_subscriptions"})
    while ws.recv_data_frame(control_frame=True)[0] != websocket.ABNF.OPCODE_TEXT:
        pass  # pings read here are answered; from now on the client stops reading
    server.wait_for_connection_count(0)  # registered (it answered), then dropped
    with pytest.raises((websocket.WebSocketConnectionClosedException, OSError)):
        while True:  # drain the unanswered ping(s), then hit the EOF
            ws.recv_data_frame(control_frame=True)


def test_drop_connections_is_abrupt(server: FakeKalshiServer, connect: Connector) -> None:
    """drop_connections ends the TCP stream without a close frame."""
    ws = connect(server)
    server.wait_for_connections(1)
    assert server.drop_connections() == 1
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        ws.recv_data_frame(control_frame=True)
    server.wait_for_connection_count(0)


def test_close_connections_sends_close_frame(server: FakeKalshiServer, connect: Connector) -> None:
    """close_connections sends a close frame with the given code and reason."""
    ws = connect(server)
    server.wait_for_connections(1)
    assert server.close_connections(4000, "bye") == 1
    opcode, frame = ws.recv_data_frame(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(frame.data[:2], "big") == 4000 and frame.data[2:] == b"bye"
    ws.shutdown()  # websocket-client answers the close but leaves TCP open; close it now
    server.wait_for_connection_count(0)


def test_restart_keeps_port_and_drops_clients(server: FakeKalshiServer, connect: Connector) -> None:
    """restart() drops clients and accepts again on the same port, sids starting over."""
    port = server.port
    old = connect(server)
    subscribe_book(old, [T1])
    server.restart()
    assert server.port == port
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        old.recv_data_frame(control_frame=True)
    new = connect(server)
    assert subscribe_book(new, [T1])[0]["msg"]["sid"] == 1


def test_wss_with_trustme_verifies_hostname(make_server: ServerFactory, connect: Connector) -> None:
    """With an ssl_context the server speaks wss://localhost, verified against the test CA."""
    server_ctx, client_ctx = tls_context_pair()
    server = make_server(ssl_context=server_ctx)
    assert server.url.startswith("wss://localhost:")
    ws = connect(server, sslopt={"context": client_ctx})
    send(ws, {"id": 1, "cmd": "list_subscriptions"})
    assert recv(ws) == {"id": 1, "type": "ok", "msg": []}
    untrusting = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no CA loaded -> must fail
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(server, sslopt={"context": untrusting})


def test_tls_context_pair_needs_trustme(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without trustme installed, tls_context_pair raises a clear ImportError."""
    monkeypatch.setitem(sys.modules, "trustme", None)
    with pytest.raises(ImportError, match="trustme"):
        tls_context_pair()


def test_silence_stops_pings_and_replies(make_server: ServerFactory, connect: Connector) -> None:
    """While silenced: no pings, no replies, connection open; afterwards it answers again."""
    server = make_server(ping_interval=0.05)
    ws = connect(server)
    ws.recv_data_frame(control_frame=True)  # pinging works
    server.silence(True)
    send(ws, {"id": 1, "cmd": "list_subscriptions"})
    server.wait_for_command(lambda c: c["id"] == 1)
    # A heartbeat decided just before the switch may still arrive; nothing else may.
    assert drain_until_quiet(ws) in ([], [websocket.ABNF.OPCODE_PING])
    assert server.connection_count == 1
    server.silence(False)
    send(ws, {"id": 2, "cmd": "list_subscriptions"})
    while True:
        opcode, frame = ws.recv_data_frame(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_TEXT:
            break
    assert json.loads(frame.data) == {"id": 2, "type": "ok", "msg": []}


def test_stop_is_idempotent_and_joins_threads(
    make_server: ServerFactory, connect: Connector
) -> None:
    """stop() closes clients with 1001, joins the server's threads and can be repeated."""
    server = make_server(ping_interval=0.05)
    ws = connect(server)
    server.wait_for_connections(1)
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    opcode, frame = ws.recv_data_frame(control_frame=True)
    while opcode != websocket.ABNF.OPCODE_CLOSE:
        opcode, frame = ws.recv_data_frame(control_frame=True)
    assert int.from_bytes(frame.data[:2], "big") == 1001
    ws.shutdown()
    stopper.join(timeout=5)
    assert not stopper.is_alive()
    server.stop()
    names = {t.name for t in threading.enumerate()}
    assert not names & {"kalshi-fake-server", "kalshi-fake-pinger"}


def test_stop_pinging_and_resume(make_server: ServerFactory, connect: Connector) -> None:
    """stop_pinging() halts heartbeats while commands are still answered."""
    server = make_server(ping_interval=0.05)
    ws = connect(server)
    ws.recv_data_frame(control_frame=True)
    server.stop_pinging()
    assert drain_until_quiet(ws) in ([], [websocket.ABNF.OPCODE_PING])
    assert_quiet(ws)
    server.resume_pinging()
    opcode, frame = ws.recv_data_frame(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_PING and frame.data == b"heartbeat"


def test_deltas_fan_out_with_per_connection_seq(
    server: FakeKalshiServer, connect: Connector
) -> None:
    """Each connection has its own sids and seq; a delta reaches every covering one."""
    first = connect(server)
    server.wait_for_connections(1)  # connection indexes follow registration order
    second = connect(server)
    subscribe_book(first, [T1])
    send(second, {"id": 1, "cmd": "subscribe", "params": {"channels": ["ticker"]}})
    recv(second)
    subscribe_book(second, [T2, T1], cid=2)
    server.apply_delta(T1, "yes", "0.30", "4")
    one, two = recv(first), recv(second)
    assert (one["sid"], one["seq"]) == (1, 2)
    assert (two["sid"], two["seq"]) == (2, 3)
    assert [c["_connection"] for c in server.commands] == [0, 1, 1]
