"""Helpers shared by the chaos scenarios (imported by conftest.py and the tests)."""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

import kalshi_sync as ks
from kalshi_sync.testing import FakeKalshiServer


class TappedServer(FakeKalshiServer):
    """FakeKalshiServer that counts the ``orderbook_delta`` frames it queues for clients.

    ``_enqueue`` runs under the server's state lock with the exact wire frames (a duplicated
    frame appears twice, a reordered one when it is released), so ``delta_frames`` is the
    number of delta frames put on a live connection: the "sent" side of the ledger.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.delta_frames = 0
        # The last frames queued, (connection, type, sid, seq, ticker), for failure reports.
        self.wire: collections.deque[tuple[Any, ...]] = collections.deque(maxlen=40)

    def _enqueue(self, conn: Any, frames: Iterable[Any]) -> None:
        frames = list(frames)
        for frame in frames:
            if isinstance(frame, dict):
                if frame.get("type") == "orderbook_delta":
                    self.delta_frames += 1
                msg = frame.get("msg")
                ticker = msg.get("market_ticker") if isinstance(msg, dict) else None
                self.wire.append(
                    (conn.index, frame.get("type"), frame.get("sid"), frame.get("seq"), ticker)
                )
            else:
                self.wire.append((conn.index, "raw"))
        super()._enqueue(conn, frames)


def make_client(server: FakeKalshiServer, pem: bytes, **kw: Any) -> ks.KalshiClient:
    kw.setdefault("backoff_initial", 0.01)
    kw.setdefault("backoff_max", 0.05)
    kw.setdefault("stale_timeout", 5.0)
    return ks.KalshiClient("test-key", pem, url=server.url, **kw)


def wait_for(pred: Any, timeout: float = 10.0, what: Any = "condition") -> None:
    """Wait on a predicate (Event-based backoff, bounded); ``what`` may be a callable that
    describes the state for the failure message."""
    ev = threading.Event()
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout} s waiting for {detail}")
        ev.wait(0.005)


def book_equals_server(client: ks.KalshiClient, server: FakeKalshiServer, ticker: str) -> bool:
    try:
        book = client.orderbook(ticker)
    except KeyError:
        return False
    yes, no = server.book(ticker)
    return book.state == "live" and dict(book.yes) == yes and dict(book.no) == no


def env_seconds(name: str, default: float, long: float) -> float:
    """A phase duration: ``$name`` if set, ``long`` when KALSHI_SYNC_LONG=1, else default."""
    if os.environ.get(name):
        return float(os.environ[name])
    return long if os.environ.get("KALSHI_SYNC_LONG") == "1" else default
