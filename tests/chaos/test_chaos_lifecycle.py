"""Chaos: key revoked mid-life, and misuse (many threads, callbacks, close twice, use after
close). Seeded schedules; the seed is printed as ``CHAOS SEED=<n>``."""

from __future__ import annotations

import os
import queue
import random
import threading
import time
from typing import Any

import pytest
from _chaos_helpers import book_equals_server, make_client, wait_for

import kalshi_sync as ks

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

SEED = int(os.environ.get("KALSHI_SYNC_CHAOS_SEED", "20261127"))
MARKETS = [f"MIS-{i}" for i in range(6)]

# What a call may raise while another thread closes the client underneath it.
CLOSING_ERRORS = (ks.ClientClosedError,)


def test_key_revoked_mid_life_stops_cleanly(server, private_pem, chaos_report):
    """401 on reconnect: no retry storm, AuthenticationError via run_forever() and an event,
    subscriptions closed, every thread joined."""
    server.set_book(MARKETS[0], yes=[("0.42", "3")])
    client = make_client(server, private_pem)
    lost: queue.Queue[Any] = queue.Queue()
    client.on("disconnected", lost.put)
    client.start()
    sub = client.subscribe("orderbook_delta", [MARKETS[0]])
    for _ in range(20):
        server.apply_delta(MARKETS[0], "yes", "0.42", "1")
    wait_for(lambda: book_equals_server(client, server, MARKETS[0]), what="live book")
    server.wait_for_connections(1)
    before = len(server.handshakes)
    server.set_auth_failure(True)  # the key is revoked: every handshake now gets 401
    server.drop_connections()
    result: queue.Queue[BaseException | None] = queue.Queue()

    def run() -> None:
        try:
            client.run_forever()
            result.put(None)
        except BaseException as exc:
            result.put(exc)

    runner = threading.Thread(target=run, name="test-run-forever")
    runner.start()
    exc = result.get(timeout=10)
    runner.join(5)
    assert isinstance(exc, ks.AuthenticationError) and exc.status_code == 401
    refused = [h for h in server.handshakes[before:] if h["status"] == 401]
    assert len(refused) == 1, server.handshakes[before:]  # stopped at the first 401
    events = list(lost.queue)
    assert events and events[-1].will_reconnect is False
    assert isinstance(events[-1].error, ks.AuthenticationError)
    assert client.closed and sub.state == "closed"
    assert client.orderbook(MARKETS[0]).state != "live"
    alive = [t.name for t in threading.enumerate() if t.name.startswith("kalshi-sync")]
    assert alive == []
    with pytest.raises(ks.ClientClosedError):
        client.subscribe("ticker")
    client.close()  # still idempotent
    chaos_report.add("key revoked mid-life", 1)


def test_misuse_from_many_threads_and_callbacks(server, private_pem, chaos_report):
    """Subscribe/unsubscribe/add/remove from 8 threads and from callbacks while close() runs
    from another thread: no deadlock, no stray error, clear ClientClosedError afterwards."""
    print(f"CHAOS SEED={SEED}")
    rng = random.Random(SEED)
    for t in MARKETS:
        server.set_book(t, yes=[("0.42", "3")], no=[("0.55", "1")])
    client = make_client(server, private_pem).start()
    errors: list[BaseException] = []
    ops = [0]
    stop = threading.Event()
    callback_subs: list[Any] = []

    def on_snapshot(msg: Any) -> None:
        # From a callback: never blocks; pending handles complete later.
        try:
            if len(callback_subs) < 20:
                callback_subs.append(client.subscribe("trade"))
            if callback_subs and len(callback_subs) % 3 == 0:
                callback_subs[0].unsubscribe()
        except CLOSING_ERRORS:
            pass
        except BaseException as exc:
            errors.append(exc)

    client.on("orderbook_snapshot", on_snapshot)

    def worker(seed: int) -> None:
        r = random.Random(seed)
        mine: list[Any] = []
        for _ in range(400):  # bounded
            if stop.is_set():
                break
            try:
                op = r.random()
                if op < 0.35 or not mine:
                    mine.append(
                        client.subscribe("orderbook_delta", r.sample(MARKETS, 2), timeout=5)
                    )
                elif op < 0.55:
                    mine.pop(r.randrange(len(mine))).unsubscribe(timeout=5)
                elif op < 0.7:
                    r.choice(mine).add_markets([r.choice(MARKETS)], timeout=5)
                elif op < 0.8:
                    h = r.choice(mine)
                    if len(h.market_tickers) > 1:
                        h.remove_markets([h.market_tickers[0]], timeout=5)
                elif op < 0.9:
                    client.subscribe("ticker", [r.choice(MARKETS)], timeout=5)
                else:
                    client.list_subscriptions(timeout=5)
                ops[0] += 1
            except CLOSING_ERRORS:
                if not client.closed:
                    errors.append(AssertionError("ClientClosedError before close()"))
                return
            except ks.SubscriptionError as exc:
                errors.append(exc)
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [
        threading.Thread(target=worker, args=(rng.randrange(2**32),), name=f"test-misuse-{i}")
        for i in range(8)
    ]
    kept = client.subscribe("orderbook_delta", MARKETS[:2])
    for th in threads:
        th.start()
    wait_for(lambda: ops[0] >= 150, timeout=30, what=lambda: f"150 operations ({ops[0]})")
    closers = [threading.Thread(target=client.close, name=f"test-close-{i}") for i in range(3)]
    for th in closers:
        th.start()
    client.close()  # close from several threads at once, and twice
    stop.set()
    for th in threads + closers:
        th.join(10)
        assert not th.is_alive(), f"{th.name} is stuck"
    assert not errors, errors[:5]
    alive = [t.name for t in threading.enumerate() if t.name.startswith("kalshi-sync")]
    assert alive == []
    # Use after close: a clear ClientClosedError from everything that needs the client.
    assert kept.state == "closed"
    for call in (
        lambda: client.subscribe("ticker"),
        lambda: client.list_subscriptions(),
        lambda: client.start(),
        lambda: kept.add_markets(["X"]),
        lambda: kept.request_snapshot(),
        lambda: kept.wait(1),
    ):
        with pytest.raises(ks.ClientClosedError, match="closed"):
            call()
    kept.unsubscribe()  # unsubscribing a closed handle stays a harmless no-op
    assert client.subscriptions() == []
    assert all(h.state in ("closed", "failed") for h in callback_subs)
    client.close()
    client.run_forever()  # returns at once on a closed client
    chaos_report.add("misuse", 0, seed=SEED, operations=ops[0])


def test_close_while_reconnecting_and_blocked_in_subscribe(server, private_pem):
    """close() while the server refuses handshakes and a subscribe() waits for its ack:
    the waiter gets ClientClosedError at once and every thread is joined."""
    client = make_client(server, private_pem).start()
    try:
        server.wait_for_connections(1)  # registered server-side, so the drop reaches it
        server.refuse_next_handshakes(1_000_000, 503)
        server.drop_connections()
        wait_for(lambda: not client.connected, what="disconnected")
        got: queue.Queue[BaseException | None] = queue.Queue()

        def blocked() -> None:
            try:
                client.subscribe("ticker", timeout=10)
                got.put(None)
            except BaseException as exc:
                got.put(exc)

        t = threading.Thread(target=blocked, name="test-blocked-subscribe")
        t.start()
        wait_for(lambda: len(client.subscriptions()) == 1, what="pending handle")
        t0 = time.monotonic()
        client.close()
        assert isinstance(got.get(timeout=5), ks.ClientClosedError)
        assert time.monotonic() - t0 < 5
        t.join(5)
    finally:
        client.close()
        server.refuse_next_handshakes(0)
