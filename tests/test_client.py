"""KalshiClient against a real FakeKalshiServer on loopback: threads, reconnects, books."""

from __future__ import annotations

import queue
import random
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from _helpers import book_equals_server, events, make_client, seed, wait_for

import kalshi_sync as ks
from kalshi_sync.testing import FakeKalshiServer

pytestmark = pytest.mark.integration

T1, T2, T3 = "KXHIGHNY-24JAN01-T60", "KXHIGHNY-24JAN01-T61", "FED-23DEC-T3.00"
D = Decimal


def test_subscribe_builds_the_same_book_as_the_server(server, private_pem):
    """A subscribed book equals the server's after the snapshot and a run of deltas."""
    seed(server, T1)
    got: queue.Queue[Any] = queue.Queue()
    with make_client(server, private_pem) as client:
        sub = client.subscribe("orderbook_delta", [T1], callback=got.put)
        assert sub.state == "active" and sub.sid is not None
        assert got.get(timeout=5).type == "orderbook_snapshot"
        for i in range(50):
            server.apply_delta(T1, "yes" if i % 2 else "no", f"0.4{i % 10}", "+1.5")
        wait_for(lambda: book_equals_server(client, server, T1), what="book sync")
        book = client.orderbook(T1)
        assert book.best_yes_bid is not None
        assert isinstance(book.best_yes_bid, Decimal)


def test_subscribe_error_reply_raises_subscription_error(server, private_pem):
    """An error reply (unknown channel) raises SubscriptionError with Kalshi's code."""
    with make_client(server, private_pem) as client:
        with pytest.raises(ks.SubscriptionError) as info:
            client.subscribe("no_such_channel")
        assert info.value.code == ks.ErrorCode.UNKNOWN_CHANNEL_NAME


def test_subscribe_before_start_returns_pending_handle(server, private_pem):
    """subscribe() before start() does not block; the handle goes live on connect."""
    seed(server, T1)
    client = make_client(server, private_pem)
    try:
        sub = client.subscribe("orderbook_delta", [T1])
        assert sub.state == "pending" and sub.sid is None
        client.start()
        sub.wait(5)
        # mypy keeps the "pending" narrowed above across start(); the state moved on.
        assert sub.state == "active"  # type: ignore[comparison-overlap]
        wait_for(lambda: book_equals_server(client, server, T1))
    finally:
        client.close()


def test_subscribe_from_callback_does_not_block(server, private_pem):
    """A callback may subscribe: it gets a pending handle at once and no deadlock."""
    seed(server, T1)
    seed(server, T2)
    handles: queue.Queue[Any] = queue.Queue()
    with make_client(server, private_pem) as client:

        def on_snapshot(msg: Any) -> None:
            if msg.market_ticker == T1 and handles.empty():
                handles.put(client.subscribe("ticker", [T2]))

        client.subscribe("orderbook_delta", [T1], callback=on_snapshot)
        sub = handles.get(timeout=5)
        sub.wait(5)
        assert sub.state == "active"


def test_add_and_remove_markets_survive_reconnect(server, private_pem):
    """Markets added/removed on a handle are exactly what a reconnect subscribes again."""
    for t in (T1, T2, T3):
        seed(server, t)
    client = make_client(server, private_pem)
    # Registered before start: the first connection's event is taken here, so the reconnect
    # below cannot be confused with it (it may still sit in the delivery queue otherwise).
    connected = events(client, "connected")
    with client:
        assert connected.get(timeout=5).reconnect is False
        sub = client.subscribe("orderbook_delta", [T1])
        sub.add_markets([T2, T3])
        sub.remove_markets([T1])
        assert sub.market_tickers == tuple(sorted([T2, T3]))
        old_sid = sub.sid
        server.drop_connections()
        assert connected.get(timeout=5).reconnect is True
        sub.wait(5)
        wait_for(lambda: sub.state == "active" and book_equals_server(client, server, T3))
        subs = server.subscriptions()
        book_subs = [s for s in subs if s["channel"] == "orderbook_delta"]
        assert len(book_subs) == 1
        assert sorted(book_subs[0]["tickers"]) == sorted([T2, T3])
        assert sub.sid == book_subs[0]["sid"]
        assert old_sid is not None
        with pytest.raises(KeyError):
            client.orderbook(T1)


def test_two_handles_share_one_channel(server, private_pem):
    """Two handles on one channel share the sid; each callback sees only its markets."""
    seed(server, T1)
    seed(server, T2)
    a: queue.Queue[Any] = queue.Queue()
    b: queue.Queue[Any] = queue.Queue()
    with make_client(server, private_pem) as client:
        sa = client.subscribe("orderbook_delta", [T1], callback=a.put)
        sb = client.subscribe("orderbook_delta", [T2], callback=b.put)
        assert sa.sid == sb.sid
        server.apply_delta(T2, "yes", "0.30", "2")
        wait_for(lambda: b.qsize() >= 2)  # snapshot + delta
        assert all(m.market_ticker == T1 for m in list(a.queue))
        sb.unsubscribe()
        assert sa.state == "active"
        subs = [s for s in server.subscriptions() if s["channel"] == "orderbook_delta"]
        assert [sorted(s["tickers"]) for s in subs] == [[T1]]


def test_books_match_server_after_random_drops_and_restarts(server, private_pem):
    """After 20 random drops/restarts with deltas between them, books equal the server's."""
    rng = random.Random(20261127)
    for t in (T1, T2):
        seed(server, t)
    with make_client(server, private_pem) as client:
        connected = events(client, "connected")
        client.subscribe("orderbook_delta", [T1, T2])
        for round_no in range(20):
            for _ in range(rng.randint(1, 20)):
                server.apply_delta(
                    rng.choice([T1, T2]),
                    rng.choice(["yes", "no"]),
                    f"0.{rng.randint(1, 98):02d}",
                    f"{rng.choice([-1, 1]) * rng.randint(1, 500) / 100:.2f}",
                )
            if rng.random() < 0.5:
                server.drop_connections()
            else:
                server.restart()
            connected.get(timeout=10)
            wait_for(
                lambda: (
                    book_equals_server(client, server, T1)
                    and book_equals_server(client, server, T2)
                ),
                timeout=10,
                what=f"books after fault {round_no}",
            )
        assert client.stats()["reconnects"] >= 20


def test_seq_gap_is_repaired_and_book_never_live_while_wrong(server, private_pem):
    """A gap marks the book resyncing (never live while wrong) and get_snapshot heals it."""
    seed(server, T1)
    states: queue.Queue[tuple[int | None, str]] = queue.Queue()
    with make_client(server, private_pem, delivery="inline") as client:

        def on_delta(msg: Any) -> None:
            states.put((msg.seq, client.orderbook(T1).state))

        sub = client.subscribe("orderbook_delta", [T1], callback=on_delta)
        gaps = events(client, "gap")
        resynced = events(client, "resynced")
        server.apply_delta(T1, "yes", "0.42", "1")
        # A change the client never hears of, then a frame whose seq jumps past it.
        server.set_book(T1, yes=[("0.42", "99")], no=[("0.56", "17")])
        server.skip_seq(1)
        server.apply_delta(T1, "no", "0.50", "3")
        gap = gaps.get(timeout=5)
        assert gap.sid == sub.sid and gap.received == gap.expected + 1
        assert gap.market_tickers == (T1,)
        resynced.get(timeout=5)
        assert book_equals_server(client, server, T1)
        seen = list(states.queue)
        jumped = [s for seq, s in seen if seq == gap.received]
        assert jumped == ["resyncing"]
        assert client.stats()["gaps"] == 1


def test_duplicate_frames_are_dropped_and_counted(server, private_pem):
    """A repeated seq is not delivered twice and does not double-apply to the book."""
    seed(server, T1)
    got: queue.Queue[Any] = queue.Queue()
    with make_client(server, private_pem) as client:
        client.subscribe("orderbook_delta", [T1], callback=got.put)
        server.duplicate_next()
        server.apply_delta(T1, "yes", "0.42", "2")
        server.apply_delta(T1, "yes", "0.42", "3")
        wait_for(lambda: got.qsize() >= 3)
        wait_for(lambda: client.stats()["duplicates"] == 1)
        seqs = [m.seq for m in list(got.queue)]
        assert len(seqs) == len(set(seqs))
        assert book_equals_server(client, server, T1)


def test_silent_server_is_detected_within_stale_timeout(key_pair, private_pem):
    """No frame and no ping for stale_timeout drops the zombie socket and reconnects."""
    srv = FakeKalshiServer(public_key=key_pair[1], ping_interval=0.1).start()
    try:
        with make_client(srv, private_pem, stale_timeout=0.6) as client:
            lost = events(client, "disconnected")
            t0 = time.monotonic()
            srv.silence(True)
            lost.get(timeout=5)
            assert time.monotonic() - t0 < 0.6 + 1.0
            srv.silence(False)
            wait_for(lambda: client.connected, what="reconnect")
    finally:
        srv.stop()


def test_blocking_callback_does_not_cost_the_connection(key_pair, private_pem):
    """A callback blocked 5 s does not delay pongs: the server (1 s pong timeout) keeps us."""
    srv = FakeKalshiServer(public_key=key_pair[1], ping_interval=0.2, pong_timeout=1.0)
    srv.start()
    seed(srv, T1)
    release = threading.Event()
    try:
        with make_client(srv, private_pem) as client:
            lost = events(client, "disconnected")
            blocked = threading.Event()

            def slow(msg: Any) -> None:
                blocked.set()
                release.wait(5.0)

            client.subscribe("orderbook_delta", [T1], callback=slow)
            assert blocked.wait(5)
            pongs = srv.pongs_received
            release.wait(5.0)  # the callback holds the dispatch thread for 5 s
            assert srv.pongs_received > pongs + 10
            assert lost.empty()
            assert len(srv.handshakes) == 1
            assert client.connected
    finally:
        release.set()
        srv.stop()


GARBAGE: list[str | bytes] = [
    "not json",
    "[1, 2, 3]",
    '"a string"',
    "{}",
    '{"type": 5}',
    '{"type": "orderbook_delta", "sid": "x", "seq": 1, "msg": {}}',
    '{"type": "orderbook_delta", "sid": 1, "seq": 1, "msg": {"price_dollars": "abc"}}',
    b"\xff\xfe\x00binary",
    '{"type": "brand_new_type", "sid": 99, "msg": {"x": 1}}',
]


def test_garbage_frames_and_raising_callback_leave_delivery_running(server, private_pem):
    """Undecodable frames are counted and skipped; a raising callback is reported."""
    seed(server, T1)
    got: queue.Queue[Any] = queue.Queue()
    with make_client(server, private_pem) as client:
        errors = events(client, "callback_error")
        calls = {"n": 0}

        def flaky(msg: Any) -> None:
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("boom")
            got.put(msg)

        client.subscribe("orderbook_delta", [T1], callback=flaky)
        for frame in GARBAGE:
            server.send_raw(frame)
        server.apply_delta(T1, "yes", "0.42", "1")
        err = errors.get(timeout=5)
        assert isinstance(err.exception, RuntimeError)
        assert got.get(timeout=5).type == "orderbook_delta"
        stats = client.stats()
        assert stats["decode_errors"] >= 7
        assert stats["callback_errors"] == 1
        assert client.connected


def test_delivery_modes_run_callbacks_on_the_documented_thread(server, private_pem):
    """thread: dispatch thread; inline: network thread; poll: the caller's thread."""
    seed(server, T1)
    for mode, expected in (
        ("thread", "kalshi-sync-dispatch"),
        ("inline", "kalshi-sync-ws"),
        ("poll", threading.current_thread().name),
    ):
        names: list[str] = []
        seen = threading.Event()

        def record(msg: Any, names: list[str] = names, seen: threading.Event = seen) -> None:
            names.append(threading.current_thread().name)
            seen.set()

        with make_client(server, private_pem, delivery=mode) as client:
            client.subscribe("orderbook_delta", [T1], callback=record)
            deadline = time.monotonic() + 5
            while not seen.is_set() and time.monotonic() < deadline:
                if mode == "poll":
                    client.poll(timeout=0.05)
                else:
                    seen.wait(0.05)
        assert set(names) == {expected}, mode


def test_poll_called_from_a_poll_callback_does_not_deadlock(server, private_pem):
    """delivery="poll": a callback that calls client.poll() (a Tk dialog's nested loop)
    returns, and the nested call delivers the following messages on the same thread."""
    seed(server, T1)
    with make_client(server, private_pem, delivery="poll") as client:
        seen: list[str] = []
        nested: list[int] = []

        def on_msg(msg: Any) -> None:
            seen.append(msg.type)
            if msg.type == "orderbook_snapshot" and not nested:
                for _ in range(3):
                    server.apply_delta(T1, "yes", "0.42", "1")
                deadline = time.monotonic() + 5
                while len(seen) < 4 and time.monotonic() < deadline:
                    nested.append(client.poll(timeout=0.05))

        client.subscribe("orderbook_delta", [T1], callback=on_msg)
        done = threading.Event()
        result: list[BaseException] = []

        def outer() -> None:
            try:
                deadline = time.monotonic() + 5
                while len(seen) < 4 and time.monotonic() < deadline:
                    client.poll(timeout=0.05)
            except BaseException as exc:  # reported below, not swallowed
                result.append(exc)
            finally:
                done.set()

        threading.Thread(target=outer, daemon=True).start()
        assert done.wait(10), "poll() from inside a poll() callback deadlocked"
        assert result == []
        assert seen == ["orderbook_snapshot"] + ["orderbook_delta"] * 3
        assert sum(nested) == 3


def test_overflow_drops_oldest_counts_and_keeps_books_right(server, private_pem):
    """A full queue drops data (counted, overflow event) while books stay correct."""
    seed(server, T1)
    release = threading.Event()
    overflow: queue.Queue[Any] = queue.Queue()
    with make_client(server, private_pem, max_queue=10) as client:
        client.on("overflow", overflow.put)
        client.subscribe("orderbook_delta", [T1], callback=lambda m: release.wait(10))
        for _ in range(100):
            server.apply_delta(T1, "yes", "0.42", "1")
        wait_for(lambda: book_equals_server(client, server, T1))
        wait_for(lambda: client.stats()["drops"] > 0)
        release.set()
        assert overflow.get(timeout=5).dropped > 0
        assert client.connected


def test_close_from_a_callback(server, private_pem):
    """close() inside a callback stops the client without deadlock."""
    seed(server, T1)
    client = make_client(server, private_pem).start()
    done = threading.Event()

    def closer(msg: Any) -> None:
        client.close()
        done.set()

    client.subscribe("orderbook_delta", [T1], callback=closer)
    assert done.wait(5)
    client.close()  # idempotent; joins what is left
    assert client.closed
    with pytest.raises(ks.ClientClosedError):
        client.subscribe("ticker")


def test_start_close_cycles_leave_no_thread_behind(server, private_pem):
    """50 start/close cycles: every kalshi-sync thread is joined each time."""
    for _ in range(50):
        client = make_client(server, private_pem).start()
        client.close()
        alive = [t.name for t in threading.enumerate() if t.name.startswith("kalshi-sync")]
        assert alive == []


def test_handshake_401_raises_authentication_error_at_start(server):
    """A key the server rejects fails start() at once with AuthenticationError."""
    from kalshi_sync.testing import generate_test_key

    other_pem, _ = generate_test_key()
    client = make_client(server, other_pem)
    t0 = time.monotonic()
    with pytest.raises(ks.AuthenticationError):
        client.start(timeout=10)
    assert time.monotonic() - t0 < 5
    assert len(server.handshakes) == 1  # no retry storm


def test_auth_revoked_mid_life_surfaces_through_run_forever(server, private_pem):
    """A 401 on reconnect stops retrying and run_forever() raises AuthenticationError."""
    client = make_client(server, private_pem).start()
    lost = events(client, "disconnected")
    server.wait_for_connections(1)  # registered just after the 101: don't drop too early
    server.set_auth_failure(True)
    server.drop_connections()
    with pytest.raises(ks.AuthenticationError):
        client.run_forever()
    final = [e for e in list(lost.queue) if not e.will_reconnect]
    assert final and isinstance(final[-1].error, ks.AuthenticationError)


def test_start_times_out_when_server_refuses(server, private_pem):
    """start(timeout) raises a TimeoutError while the server answers 503."""
    server.refuse_next_handshakes(10_000, status=503)
    client = make_client(server, private_pem)
    with pytest.raises(TimeoutError):
        client.start(timeout=0.5)
    assert client.closed


def test_list_subscriptions_asks_the_server(server, private_pem):
    """list_subscriptions() returns the server's channels and sids."""
    seed(server, T1)
    with make_client(server, private_pem) as client:
        sub = client.subscribe("orderbook_delta", [T1])
        t = client.subscribe("ticker")
        got = {(s.channel, s.sid) for s in client.list_subscriptions()}
        assert got == {("orderbook_delta", sub.sid), ("ticker", t.sid)}


def test_unsubscribe_stops_delivery_and_frees_the_sid(server, private_pem):
    """After unsubscribe() the server has no subscription and the book is gone."""
    seed(server, T1)
    with make_client(server, private_pem) as client:
        sub = client.subscribe("orderbook_delta", [T1])
        sub.unsubscribe()
        assert sub.state == "closed"
        assert server.subscriptions() == []
        with pytest.raises(KeyError):
            client.orderbook(T1)
        sub.unsubscribe()  # idempotent


def test_tls_connection_with_verification(key_pair, private_pem):
    """wss:// against a trustme CA: hostname and chain verified, data flows."""
    from kalshi_sync.testing import tls_context_pair

    server_ctx, client_ctx = tls_context_pair()
    srv = FakeKalshiServer(public_key=key_pair[1], ssl_context=server_ctx).start()
    seed(srv, T1)
    try:
        with make_client(srv, private_pem, ssl_context=client_ctx) as client:
            client.subscribe("orderbook_delta", [T1])
            srv.apply_delta(T1, "no", "0.50", "4")
            wait_for(lambda: book_equals_server(client, srv, T1))
            srv.drop_connections()
            wait_for(lambda: book_equals_server(client, srv, T1) and client.connected)
    finally:
        srv.stop()


def test_tls_refuses_unknown_ca(key_pair, private_pem):
    """Verification stays on: a certificate from an unknown CA never connects."""
    from kalshi_sync.testing import tls_context_pair

    server_ctx, _ = tls_context_pair()
    srv = FakeKalshiServer(public_key=key_pair[1], ssl_context=server_ctx).start()
    try:
        client = make_client(srv, private_pem)  # default context: system CAs only
        with pytest.raises(TimeoutError):
            client.start(timeout=1.0)
    finally:
        srv.stop()


def test_second_handle_already_covered_is_active_at_once(server, private_pem):
    """A handle whose markets the channel already has is acknowledged without a command."""
    seed(server, T1)
    with make_client(server, private_pem) as client:
        first = client.subscribe("orderbook_delta", [T1])
        n = len(server.commands)
        second = client.subscribe("orderbook_delta", [T1], timeout=2)
        assert second.state == "active" and second.sid == first.sid
        assert len(server.commands) == n
        second.unsubscribe()
        assert first.state == "active"
        assert [s["tickers"] for s in server.subscriptions()] == [[T1]]


def test_first_connection_after_refusals_is_not_reported_as_a_reconnect(server, private_pem):
    """Refused handshakes before the first connection do not make it a "reconnect"."""
    server.refuse_next_handshakes(2, status=503)
    client = make_client(server, private_pem)
    connected = events(client, "connected")
    with client:
        first = connected.get(timeout=5)
        assert first.reconnect is False and first.generation == 3
        # The server registers a connection just after its 101 answer: wait for it, so
        # the drop below cannot miss it.
        server.wait_for_connections(1)
        server.drop_connections()
        assert connected.get(timeout=5).reconnect is True


def test_stats_report_the_age_of_the_last_frame(server, private_pem):
    """stats()["last_message_age"] is None before any connection and small while live."""
    seed(server, T1)
    client = make_client(server, private_pem)
    assert client.stats()["last_message_age"] is None
    with client:
        client.subscribe("orderbook_delta", [T1])
        age = client.stats()["last_message_age"]
        assert age is not None and 0 <= age < 1.0
