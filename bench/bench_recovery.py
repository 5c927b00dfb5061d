"""Benchmark of fill recovery: 1,000 fills missed while disconnected, read back over 10 REST
pages of 100 from FakeKalshiServer(rest=True), deduplicated and delivered. Run it directly::

    python bench/bench_recovery.py [--fills 1000] [--page 100] [--runs 5]

Each run: a fresh KalshiClient subscribed to ``fill``, its connection cut and handshakes
refused while "the market" makes ``--fills`` one-contract fills against the user's resting
bid, then let back in. The figure is the time from the ``connected`` event of the reconnect
to the ``recovered`` event (both taken in the callbacks, monotonic clock): the round's start
on the next network-thread tick, the paged REST reads on the worker thread, the hand-off
back to the network thread and the delivery of every recovered fill. Loopback, no TLS.
"""

from __future__ import annotations

import argparse
import platform
import queue
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import kalshi_sync as ks
from kalshi_sync.testing import FakeKalshiServer

KEY = "bench-recovery"


class PagedRest(ks.RestClient):
    """A RestClient whose fills pages hold ``page`` fills (the default page is 1,000)."""

    page = 100

    def get_fills(self, **kwargs: Any) -> Iterator[ks.Fill]:
        kwargs.setdefault("limit", self.page)
        return super().get_fills(**kwargs)


def one_run(server: FakeKalshiServer, pem: bytes, ticker: str, fills: int, page: int) -> float:
    rest = PagedRest(KEY, pem, base_url=server.rest_url, max_retries=0)
    rest.page = page
    client = ks.KalshiClient(
        KEY, pem, url=server.url, rest=rest, backoff_initial=0.01, backoff_max=0.05
    )
    events: queue.Queue[tuple[str, float, Any]] = queue.Queue()
    for kind in ("connected", "disconnected", "recovered", "recovery_failed"):
        client.on(kind, lambda ev: events.put((ev.type, time.monotonic(), ev)))
    got = 0
    lock = threading.Lock()

    def on_fill(msg: ks.Fill) -> None:
        nonlocal got
        with lock:
            got += 1

    def wait(kind: str) -> tuple[float, Any]:
        while True:
            name, at, ev = events.get(timeout=30)
            if name == "recovery_failed":
                raise RuntimeError(f"recovery failed: {ev}")
            if name == kind:
                return at, ev

    try:
        server.set_book(ticker)
        client.start()
        client.subscribe("fill", [ticker], callback=on_fill)
        wait("recovered")  # the first subscription's round (nothing to read back)
        rest.create_order(ticker, action="buy", side="yes", count=fills, price="0.40")
        server.refuse_next_handshakes(10**6)
        server.drop_connections()
        wait("disconnected")
        for _ in range(fills):
            server.submit_order(ticker, "ask", "0.40", 1, time_in_force="immediate_or_cancel")
        server.refuse_next_handshakes(0)
        while True:
            up, ev = wait("connected")
            if ev.reconnect:
                break
        done, recovered = wait("recovered")
        if recovered.fills != fills or got != fills:
            raise RuntimeError(f"recovered {recovered.fills}, delivered {got}, wanted {fills}")
        return done - up
    finally:
        client.close()
        rest.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fills", type=int, default=1000)
    parser.add_argument("--page", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    times: list[float] = []
    with FakeKalshiServer(public_key=key.public_key(), rest=True, ping_interval=None) as server:
        for run in range(args.runs):
            times.append(one_run(server, pem, f"KXBENCH-26DEC01-R{run}", args.fills, args.page))
    pages = -(-args.fills // args.page)
    print(
        f"python {platform.python_version()} on {platform.machine()}: recovery of "
        f"{args.fills} missed fills over {pages} REST pages, {args.runs} runs: "
        f"median {statistics.median(times) * 1000:.0f} ms, "
        f"range {min(times) * 1000:.0f}-{max(times) * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
