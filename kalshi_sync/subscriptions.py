"""Subscription handles: what ``subscribe()`` returns, and the waiter a blocked call uses.

A handle records what the user wants (one channel, its markets, its callback); the
:class:`~.registry.Registry` turns that into commands and keeps the server in sync. Every
method of a handle goes through its client, which queues the commands the registry
computes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .errors import ClientClosedError, KalshiTimeoutError, SubscriptionError
from .models import Message

if TYPE_CHECKING:
    from .client import KalshiClient

__all__ = ["Subscription"]


class _Waiter:
    """A user call blocked on an outcome (ack, reply, error)."""

    __slots__ = ("error", "event", "kind", "markets", "result")

    def __init__(self, kind: str, markets: frozenset[str] = frozenset()) -> None:
        self.kind = kind
        self.markets = markets
        self.event = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def done(self, result: Any = None) -> None:
        self.result = result
        self.event.set()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.event.set()

    def wait(self, timeout: float | None, what: str) -> Any:
        if not self.event.wait(timeout):
            raise KalshiTimeoutError(f"{what}: no answer from the server in {timeout} s")
        if self.error is not None:
            raise self.error
        return self.result


class Subscription:
    """Handle for one ``subscribe()`` call: one channel, its markets, its callback.

    ``sid`` is the live server id (it changes across reconnects); ``state`` is "pending",
    "active", "failed" or "closed". Thread safety: every method may be called from any
    thread; from inside a callback they never block.
    """

    def __init__(
        self,
        client: KalshiClient,
        channel: str,
        markets: frozenset[str] | None,
        params: dict[str, Any],
        callback: Callable[[Any], object] | None,
    ) -> None:
        self._client = client
        self.channel = channel
        self._markets = markets
        self.params = params
        self.callback = callback
        self.state = "pending"
        self.error: SubscriptionError | None = None
        self._sid: int | None = None
        self._waiters: list[_Waiter] = []

    @property
    def sid(self) -> int | None:
        return self._sid

    @property
    def market_tickers(self) -> tuple[str, ...] | None:
        """Markets this handle asked for, sorted; None means every market."""
        markets = self._markets
        return None if markets is None else tuple(sorted(markets))

    def _callback_for(self, msg: Message) -> Callable[[Any], object] | None:
        # Handles share a channel's sid: only pass on the markets this handle asked for.
        cb = self.callback
        if cb is None or self.state == "closed":
            return None
        markets = self._markets
        if markets is not None:
            ticker = getattr(msg, "market_ticker", None)
            if ticker is not None and ticker not in markets:
                return None
        return cb

    def add_markets(self, market_tickers: Iterable[str], *, timeout: float = 10.0) -> None:
        """Add markets (``update_subscription`` add_markets); kept across reconnects."""
        self._client._change_markets(self, _tickers(market_tickers), (), timeout)

    def remove_markets(self, market_tickers: Iterable[str], *, timeout: float = 10.0) -> None:
        """Remove markets (delete_markets); their books are dropped."""
        self._client._change_markets(self, (), _tickers(market_tickers), timeout)

    def request_snapshot(self, market_tickers: Iterable[str] | None = None) -> None:
        """Ask for fresh ``orderbook_snapshot``s (get_snapshot) without touching the
        subscription; None = all of this handle's markets."""
        tickers = None if market_tickers is None else _tickers(market_tickers)
        self._client._request_snapshot(self, tickers)

    def unsubscribe(self, *, timeout: float = 10.0) -> None:
        """Stop this subscription. Idempotent."""
        self._client._unsubscribe(self, timeout)

    def wait(self, timeout: float | None = 10.0) -> Subscription:
        """Block until the server acknowledged; raise SubscriptionError if it refused."""
        waiter = _Waiter("subscribe")
        with self._client._registry.lock:
            if self.state == "active":
                return self
            if self.state == "failed" and self.error is not None:
                raise self.error
            if self.state == "closed":
                raise ClientClosedError("subscription was closed")
            self._waiters.append(waiter)
        waiter.wait(timeout, f"subscribe to {self.channel}")
        return self

    def __repr__(self) -> str:
        return (
            f"<Subscription {self.channel} markets={self.market_tickers} "
            f"sid={self._sid} state={self.state}>"
        )


def _tickers(values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, (str, bytes)):
        raise TypeError("market_tickers must be a list of tickers, not a single string")
    out = tuple(values)
    for t in out:
        if not isinstance(t, str) or not t:
            raise TypeError(f"market tickers must be non-empty strings, got {t!r}")
    return out
