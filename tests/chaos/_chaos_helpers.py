"""Helpers shared by the chaos scenarios (imported by conftest.py and the tests)."""

from __future__ import annotations

import collections
import os
from collections.abc import Iterable
from typing import Any

import _helpers
from _helpers import book_equals_server

import kalshi_sync as ks
from kalshi_sync.testing import FakeKalshiServer

__all__ = ["TappedServer", "book_equals_server", "env_seconds", "make_client", "wait_for"]


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


def env_seconds(name: str, default: float, long: float) -> float:
    """A phase duration: ``$name`` if set, ``long`` when KALSHI_SYNC_LONG=1, else default."""
    if os.environ.get(name):
        return float(os.environ[name])
    return long if os.environ.get("KALSHI_SYNC_LONG") == "1" else default


def make_client(server: FakeKalshiServer, pem: bytes, **kw: Any) -> ks.KalshiClient:
    """The shared test client, with a stale timeout that tolerates a loaded machine."""
    kw.setdefault("stale_timeout", 5.0)
    return _helpers.make_client(server, pem, **kw)


def wait_for(pred: Any, timeout: float = 10.0, what: Any = "condition") -> None:
    """The shared bounded wait, with the longer default chaos phases need."""
    _helpers.wait_for(pred, timeout, what)
