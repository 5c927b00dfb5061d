"""Helpers shared by the integration tests: a fast-reconnecting client, seeded books,
bounded waits without fixed sleeps, and book comparison against the server's truth."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import kalshi_sync as ks
from kalshi_sync.testing import FakeKalshiServer


def make_client(
    server: FakeKalshiServer, pem: Any, *, key_id: str = "test-key", **kw: Any
) -> ks.KalshiClient:
    """A client for ``server`` that reconnects within milliseconds."""
    kw.setdefault("backoff_initial", 0.01)
    kw.setdefault("backoff_max", 0.05)
    return ks.KalshiClient(key_id, pem, url=server.url, **kw)


def seed(server: FakeKalshiServer, *tickers: str) -> None:
    """Give each market a small two-sided book on the server."""
    for t in tickers:
        server.set_book(t, yes=[("0.42", "13"), ("0.40", "5")], no=[("0.56", "17")])


def wait_for(pred: Any, timeout: float = 5.0, what: Any = "condition") -> None:
    """Wait on a predicate with an Event-based backoff, bounded by ``timeout``. ``what`` may
    be a callable that describes the state for the failure message."""
    ev = threading.Event()
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout} s waiting for {detail}")
        ev.wait(0.005)


def book_equals_server(client: ks.KalshiClient, server: FakeKalshiServer, ticker: str) -> bool:
    """The client's book is live and level-for-level equal to the server's."""
    try:
        book = client.orderbook(ticker)
    except KeyError:
        return False
    yes, no = server.book(ticker)
    return book.state == "live" and dict(book.yes) == yes and dict(book.no) == no


def events(client: ks.KalshiClient, kind: str) -> queue.Queue[Any]:
    """A queue that receives every ``kind`` event or message the client delivers."""
    q: queue.Queue[Any] = queue.Queue()
    client.on(kind, q.put)
    return q
