"""Chaos: a slow consumer in each delivery mode.

For a load phase the callbacks are slower than the stream (2 ms a message against a few
thousand deltas a second), then they become fast again and the test checks what is left.
The phase lasts ``KALSHI_SYNC_SLOW_CONSUMER_SECONDS`` if set, else 30 s with
``KALSHI_SYNC_LONG=1``, else 5 s (the CI default: three modes must fit the CI budget).

Expected, per mode (the README's threading contract, 'Threads and callbacks'):
* ``thread`` / ``poll``: the network thread keeps reading (the server's 2 s pong timeout is
  never hit), the bounded queue overflows, drops are counted and an ``overflow`` event is
  delivered; queue depth never exceeds ``max_queue`` (plus the rescued lifecycle events).
* ``inline``: callbacks run on the network thread, so a slow one slows reading itself and
  TCP pushes back on the server: nothing is dropped and there is no overflow, memory is
  bounded by the socket buffers. Pongs are delayed too, by design, so this server runs
  without a pong timeout; the connection must still survive (no stale-timeout reconnect).
In every mode the books equal the server's at the end, and every data frame the client
read was either delivered once or counted as dropped.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from typing import Any

import pytest
from _chaos_helpers import book_equals_server, env_seconds, make_client, wait_for

from kalshi_sync.testing import FakeKalshiServer

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

SECONDS = env_seconds("KALSHI_SYNC_SLOW_CONSUMER_SECONDS", 5.0, 30.0)
MAX_QUEUE = 500
T1, T2 = "SLOW-1", "SLOW-2"


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import resource

    return pages * resource.getpagesize() / 2**20


@pytest.mark.parametrize("mode", ["thread", "inline", "poll"])
def test_slow_consumer_keeps_connection_books_and_memory(key_pair, private_pem, mode, chaos_report):
    """Callbacks slower than the stream: connection kept, memory bounded, overflow
    reported (queued modes), books correct, every frame delivered once or counted dropped."""
    srv = FakeKalshiServer(
        public_key=key_pair[1],
        ping_interval=0.2,
        pong_timeout=None if mode == "inline" else 2.0,
    ).start()
    for t in (T1, T2):
        srv.set_book(t, yes=[("0.42", "13")], no=[("0.56", "17")])
    slow = threading.Event()
    slow.set()
    delivered = [0]
    overflow: queue.Queue[Any] = queue.Queue()
    lost: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()
    pause = threading.Event()  # fixed pacing of the publisher, never set

    def on_book(msg: Any) -> None:
        delivered[0] += 1
        if slow.is_set():
            pause.wait(0.002)

    def publish() -> None:
        rng = random.Random(7)
        while not stop.is_set():
            for _ in range(30):
                srv.apply_delta(
                    rng.choice((T1, T2)),
                    rng.choice(("yes", "no")),
                    f"0.{rng.randint(30, 69)}",
                    rng.choice(("1", "2", "-1", "5")),
                )
            pause.wait(0.01)

    client = make_client(srv, private_pem, delivery=mode, max_queue=MAX_QUEUE)
    publisher = threading.Thread(target=publish, name="test-publisher")
    try:
        client.on("overflow", overflow.put)
        client.on("disconnected", lost.put)
        client.start()
        client.subscribe("orderbook_delta", [T1, T2], callback=on_book)
        rss0 = _rss_mb()
        pongs0 = srv.pongs_received
        publisher.start()
        depth_max = 0
        rss_max = rss0
        t_end = time.monotonic() + SECONDS
        while time.monotonic() < t_end:  # the load phase (fixed duration)
            if mode == "poll":
                client.poll(timeout=0.02, max_messages=10)
            else:
                pause.wait(0.05)
            depth_max = max(depth_max, client.stats()["queue_depth"])
            rss_max = max(rss_max, _rss_mb())
        stop.set()
        publisher.join(30)
        assert not publisher.is_alive()
        slow.clear()  # the consumer catches up

        def caught_up() -> bool:
            if mode == "poll":
                client.poll(timeout=0.01)
            s = client.stats()
            read = s["by_type"].get("orderbook_delta", 0) + s["by_type"].get(
                "orderbook_snapshot", 0
            )
            return s["queue_depth"] == 0 and delivered[0] + s["drops"] == read

        wait_for(caught_up, timeout=60, what=lambda: f"consumer to catch up {client.stats()}")
        wait_for(
            lambda: book_equals_server(client, srv, T1) and book_equals_server(client, srv, T2),
            timeout=30,
            what="books equal the server's",
        )
        final = client.stats()
        assert lost.empty(), list(lost.queue)
        assert len(srv.handshakes) == 1 and client.connected
        assert depth_max <= MAX_QUEUE + 10, depth_max
        # Bounded: the queue holds at most max_queue messages (measured growth < 1 MB).
        assert rss_max - rss0 < 20, (rss0, rss_max)
        if mode == "inline":
            assert final["drops"] == 0 and overflow.empty()
        else:
            assert final["drops"] > 0 and final["overflows"] >= 1
            assert overflow.get(timeout=5).dropped > 0
            assert srv.pongs_received > pongs0 + SECONDS  # pongs kept flowing
        chaos_report.add(
            f"slow consumer ({mode}, {SECONDS:g} s)",
            0,
            frames=final["messages"],
            delivered=delivered[0],
            drops=final["drops"],
            depth_max=depth_max,
            rss_growth_mb=round(rss_max - rss0, 1),
        )
    finally:
        stop.set()
        slow.clear()
        if publisher.is_alive():
            publisher.join(30)
        client.close()
        srv.stop()
