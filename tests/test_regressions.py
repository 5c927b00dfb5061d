"""Regression tests for defects found by the chaos suite (tests/chaos/) and its review."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import pytest
from _helpers import book_equals_server, make_client, seed, wait_for

import kalshi_sync as ks
from kalshi_sync.sequence import SEQ_GAP, SeqTracker

pytestmark = pytest.mark.integration

T1, T2 = "REG-T1", "REG-T2"


def test_snapshot_arriving_after_unsubscribe_builds_no_book(server, private_pem):
    """A snapshot already on the wire when its market is unsubscribed leaves no orphan book.

    Was: the book was re-created "live" and never updated again (flaky
    test_unsubscribe_stops_delivery_and_frees_the_sid)."""
    seed(server, T1, T2)
    first = threading.Event()
    release = threading.Event()
    with make_client(server, private_pem, delivery="inline") as client:

        def hold_first_snapshot(msg: Any) -> None:
            # Inline: this blocks the network thread between the T1 and T2 snapshots.
            if msg.type == "orderbook_snapshot" and not first.is_set():
                first.set()
                release.wait(5)

        sub = client.subscribe("orderbook_delta", [T1, T2], callback=hold_first_snapshot)
        assert first.wait(5)
        done = threading.Event()

        def unsubscribe_then_signal() -> None:
            sub.unsubscribe(timeout=5)
            done.set()

        unsub = threading.Thread(target=unsubscribe_then_signal)
        unsub.start()
        wait_for(lambda: sub.state == "closed", what="handle closed")
        wait_for(lambda: T1 not in client._books, what="T1 book dropped")
        release.set()  # the T2 snapshot is processed now, after the unsubscribe
        assert done.wait(5)
        unsub.join(5)
        with pytest.raises(KeyError):
            client.orderbook(T2)
        with pytest.raises(KeyError):
            client.orderbook(T1)


@pytest.mark.parametrize("code", [10, 17, 25, 99])
def test_terminal_error_frame_resubscribes_and_never_shows_a_wrong_live_book(
    server, private_pem, code
):
    """A terminal error frame on a sid: its frames are not lost, its books leave "live"
    until the new subscription's snapshot, and the channel is subscribed again.

    Was: the sid was forgotten at once, so frames still arriving on it were dropped as
    unknown while the book kept reading "live" (and wrong), and the resubscribe was merged
    by a server that still had the sid (no snapshot)."""
    seed(server, T1)
    seen: queue.Queue[tuple[str, int | None, str]] = queue.Queue()  # (type, sid, state)
    with make_client(server, private_pem, delivery="inline") as client:

        def record(msg: Any) -> None:
            seen.put((msg.type, msg.sid, client.orderbook(T1).state))

        sub = client.subscribe("orderbook_delta", [T1], callback=record)
        errors: queue.Queue[Any] = queue.Queue()
        client.on("error", errors.put)
        resynced: queue.Queue[Any] = queue.Queue()
        client.on("resynced", resynced.put)
        old_sid = sub.sid
        commands = len(server.commands)
        server.send_error(code, "subscription broken", sid=old_sid)
        for i in range(5):
            server.apply_delta(T1, "yes", f"0.3{i}", "2")
        assert errors.get(timeout=5).code == code
        resynced.get(timeout=5)
        wait_for(lambda: book_equals_server(client, server, T1), what="book equals server")
        subscribes = [
            c for c in server.commands[commands:] if c.get("cmd") in ("subscribe", "unsubscribe")
        ]
        assert [c["cmd"] for c in subscribes] == ["unsubscribe", "subscribe"]
        assert sub.state == "active" and sub.sid != old_sid
        # Deltas still arriving on the broken sid are delivered but never meet a "live"
        # book; those on the new sid (after its snapshot) may.
        on_old = [s for kind, sid, s in seen.queue if kind == "orderbook_delta" and sid == old_sid]
        assert client.stats()["unknown_sid"] == 0
        assert all(state == "resyncing" for state in on_old), on_old


def test_subscribe_racing_close_raises_client_closed_error_at_once(server, private_pem):
    """subscribe() that passed its own closed-check just before close() raises
    ClientClosedError at once. Was: it registered on the closed client and blocked until
    its timeout, then raised KalshiTimeoutError."""
    client = make_client(server, private_pem).start()
    real_add = client._registry.add

    def close_first(sub: Any, waiter: Any) -> Any:
        client.close()  # close() wins the race right after subscribe()'s check
        return real_add(sub, waiter)

    client._registry.add = close_first  # type: ignore[method-assign]
    t0 = time.monotonic()
    with pytest.raises(ks.ClientClosedError):
        client.subscribe("ticker", timeout=5)
    assert time.monotonic() - t0 < 2


def test_list_subscriptions_while_disconnected_is_a_connection_error(server, private_pem):
    """list_subscriptions() while not connected raises a ConnectionError, not
    ClientClosedError (which means "use after close")."""
    client = make_client(server, private_pem)
    try:
        with pytest.raises(ConnectionError):
            client.list_subscriptions(timeout=1)
    finally:
        client.close()
    with pytest.raises(ks.ClientClosedError):
        client.list_subscriptions(timeout=1)


def test_close_again_joins_the_thread_a_callback_closed_from(server, private_pem):
    """close() from an inline callback cannot join the network thread it runs on; a later
    close() from another thread must. Was: the second close() returned at once."""
    seed(server, T1)
    client = make_client(server, private_pem, delivery="inline").start()
    closed = threading.Event()

    def closer(msg: Any) -> None:
        client.close()
        closed.set()

    client.subscribe("orderbook_delta", [T1], callback=closer)
    assert closed.wait(5)
    client.close()
    alive = [t.name for t in threading.enumerate() if t.name.startswith("kalshi-sync")]
    assert alive == []


def test_gap_after_a_control_reply_reports_the_first_missing_seq():
    """A gap after an ``ok`` that consumed seq 5 reports expected 6 (5 was not lost)."""
    tracker = SeqTracker()
    tracker.check(1, 4)
    tracker.note_control(1, 5)  # e.g. the ok of add_markets took seq 5
    assert tracker.check(1, 7) == SEQ_GAP  # seq 6 is missing
    assert tracker.gap_expected == 6
