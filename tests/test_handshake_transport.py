"""Both read paths end to end, and the switch between them.

The same basics -- connect over ws:// and wss://, subscribe, receive, commands from
another thread, reconnect after a drop and after a server close, a silent server, a
prompt close -- run against FakeKalshiServer with ``transport="fast"`` (our read loop) and
``transport="library"`` (websocket-client's own ``run_forever``). Then the switch itself:
"auto" takes the library path with one warning when the probe of the library's internals
failed, and "fast" is refused then (docs/transport.md, 'Two read paths').
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from _helpers import book_equals_server, events, make_client, seed, wait_for

import kalshi_sync as ks
from kalshi_sync import _transport_probe
from kalshi_sync._transport_probe import PROBE, Probe, resolve_transport
from kalshi_sync.testing import FakeKalshiServer, tls_context_pair

pytestmark = pytest.mark.integration

T1 = "KXPATH-26-T1"
BROKEN = Probe("9.9.9", fast_path=False, masked_check=True, problems=("frame reading: boom",))
TRANSPORTS = [
    pytest.param("fast", marks=pytest.mark.skipif(not PROBE.fast_path, reason="fast path off")),
    "library",
]


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def srv(key_pair: tuple[bytes, Any]) -> Iterator[FakeKalshiServer]:
    server = FakeKalshiServer(public_key=key_pair[1], ping_interval=0.5)
    server.start()
    seed(server, T1)
    try:
        yield server
    finally:
        server.stop()


def test_connect_subscribe_receive(
    srv: FakeKalshiServer, private_pem: bytes, transport: str
) -> None:
    """The snapshot builds the book, a delta reaches the callback and the book, and a
    command from a user thread gets its reply."""
    got: queue.Queue[Any] = queue.Queue()
    with make_client(srv, private_pem, transport=transport) as client:
        assert client._conn.transport == transport
        client.subscribe("orderbook_delta", [T1], callback=got.put)
        wait_for(lambda: book_equals_server(client, srv, T1), what="the snapshot")
        srv.apply_delta(T1, "no", "0.56", "-7")
        wait_for(lambda: any(m.type == "orderbook_delta" for m in list(got.queue)))
        wait_for(lambda: book_equals_server(client, srv, T1), what="the delta")
        replies: list[Any] = []
        worker = threading.Thread(target=lambda: replies.extend(client.list_subscriptions()))
        worker.start()
        worker.join(10)
        assert [info.channel for info in replies] == ["orderbook_delta"]


def test_reconnect_after_a_drop_and_after_a_server_close(
    srv: FakeKalshiServer, private_pem: bytes, transport: str
) -> None:
    """A TCP drop and a close frame (1001, "restart") each end the connection with the
    right report; the client reconnects, resubscribes and resyncs after each."""
    with make_client(srv, private_pem, transport=transport) as client:
        lost = events(client, "disconnected")
        client.subscribe("orderbook_delta", [T1])
        wait_for(lambda: book_equals_server(client, srv, T1))
        srv.drop_connections()
        dropped = lost.get(timeout=5)
        assert dropped.error is not None and dropped.will_reconnect
        wait_for(lambda: len(srv.handshakes) == 2 and book_equals_server(client, srv, T1))
        srv.close_connections(1001, "restart")
        closed = lost.get(timeout=5)
        assert (closed.code, closed.reason, closed.error) == (1001, "restart", None)
        wait_for(lambda: len(srv.handshakes) == 3 and book_equals_server(client, srv, T1))
        srv.apply_delta(T1, "yes", "0.40", "1")
        wait_for(lambda: book_equals_server(client, srv, T1))
        assert client.stats()["reconnects"] == 2


def test_silent_server_is_dropped_within_stale_timeout(
    key_pair: tuple[bytes, Any], private_pem: bytes, transport: str
) -> None:
    """No frame and no ping for stale_timeout: the connection is dropped as stale and the
    client reconnects once the server speaks again."""
    srv = FakeKalshiServer(public_key=key_pair[1], ping_interval=0.1).start()
    try:
        with make_client(srv, private_pem, stale_timeout=0.8, transport=transport) as client:
            lost = events(client, "disconnected")
            t0 = time.monotonic()
            srv.silence(True)
            gone = lost.get(timeout=5)
            assert time.monotonic() - t0 < 0.8 + 1.5
            assert "no frame and no ping" in str(gone.error)
            srv.silence(False)
            wait_for(lambda: client.connected, what="the reconnect")
    finally:
        srv.stop()


def test_close_is_prompt_on_an_idle_connection(
    srv: FakeKalshiServer, private_pem: bytes, transport: str
) -> None:
    """close() on a quiet connection returns at once (no selector timeout to wait out),
    with every thread joined."""
    client = make_client(srv, private_pem, transport=transport).start()
    client.subscribe("ticker", [T1])
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started < 2.0
    assert not client.connected
    assert client._conn.thread is not None and not client._conn.thread.is_alive()


def test_wss_with_verification(
    key_pair: tuple[bytes, Any], private_pem: bytes, transport: str
) -> None:
    """Over wss:// (a throwaway CA, verification on) both paths connect and deliver."""
    server_ctx, client_ctx = tls_context_pair()
    srv = FakeKalshiServer(public_key=key_pair[1], ssl_context=server_ctx).start()
    seed(srv, T1)
    try:
        with make_client(srv, private_pem, ssl_context=client_ctx, transport=transport) as c:
            c.subscribe("orderbook_delta", [T1])
            wait_for(lambda: book_equals_server(c, srv, T1))
            for i in range(50):  # enough traffic to cross TLS records
                srv.apply_delta(T1, "yes", "0.40", str(i + 1))
            wait_for(lambda: book_equals_server(c, srv, T1))
    finally:
        srv.stop()


# -- the switch ----------------------------------------------------------------------------------


def test_library_is_always_available_and_fast_when_the_probe_passed() -> None:
    """ "library" is always the library path; "auto" and "fast" are the fast path when the
    probe passed; anything else is a ValueError."""
    passed = Probe("1.9.2", fast_path=True, masked_check=True, problems=())
    assert resolve_transport("library", BROKEN) == "library"
    assert resolve_transport("auto", passed) == "fast"
    assert resolve_transport("fast", passed) == "fast"
    with pytest.raises(ValueError, match="transport must be one of"):
        resolve_transport("turbo", passed)


def test_fast_is_refused_when_the_probe_failed() -> None:
    """Asking for the fast path that the probe ruled out names the version and the check."""
    with pytest.raises(ValueError, match=r"9\.9\.9: frame reading: boom"):
        resolve_transport("fast", BROKEN)


def test_auto_falls_back_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With a failed probe, "auto" is the library path, and the warning (version, failed
    checks) is logged once per process however many clients are made."""
    monkeypatch.setattr(_transport_probe, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="kalshi_sync.transport"):
        assert resolve_transport("auto", BROKEN) == "library"
        assert resolve_transport("auto", BROKEN) == "library"
    warnings = [r for r in caplog.records if r.name == "kalshi_sync.transport"]
    assert len(warnings) == 1
    assert "9.9.9" in warnings[0].getMessage() and "frame reading: boom" in warnings[0].getMessage()


def test_a_client_falls_back_to_the_library_path_and_works(
    srv: FakeKalshiServer, private_pem: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client made while the probe reports the fast path broken runs on the library path
    (transport="auto" by default) and subscribes and receives as usual."""
    monkeypatch.setattr(_transport_probe, "PROBE", BROKEN)
    monkeypatch.setattr(_transport_probe, "_warned", True)  # the warning has its own test
    with make_client(srv, private_pem) as client:
        assert client._conn.transport == "library"
        client.subscribe("orderbook_delta", [T1])
        wait_for(lambda: book_equals_server(client, srv, T1))
    with pytest.raises(ValueError, match="not available"):
        ks.KalshiClient("k", private_pem, url=srv.url, transport="fast")
