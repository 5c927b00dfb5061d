"""Subscription handles: what ``subscribe()`` returns, their records, and the waiter a
blocked call uses.

A handle is a read-only view over its :class:`SubscriptionRecord`: what the user wants
(one channel, its markets, its callback) and what the server acknowledged (sid, state).
Only the :class:`~kalshi_sync.registry.Registry` writes a record, under its lock; the
handle and everything else only read it (docs/architecture.md, 'Who owns what'). A handle's
methods go through its :class:`SubscriptionOwner` (the client), which asks the registry for
the commands and sends them.

This module imports nothing that imports it back: the owner is a :class:`typing.Protocol`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable
from typing import Any, Literal, Protocol

from .errors import KalshiTimeoutError, SubscriptionError

__all__ = ["Subscription", "SubscriptionOwner", "SubscriptionRecord", "SubscriptionState"]

SubscriptionState = Literal["pending", "active", "failed", "closed"]

# Record keys: unique per process, so a key in a published Routing names one handle.
# next() on itertools.count is atomic under the GIL.
_keys = itertools.count(1)


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


class SubscriptionRecord:
    """The registry's record of one handle. Written only by the registry, under its lock;
    read by anyone (each field is one atomic attribute read)."""

    __slots__ = (
        "callback",
        "channel",
        "error",
        "key",
        "markets",
        "params",
        "sid",
        "state",
        "view",
        "waiters",
    )

    def __init__(
        self,
        channel: str,
        markets: frozenset[str] | None,
        params: dict[str, Any],
        callback: Callable[[Any], object] | None,
    ) -> None:
        self.key = next(_keys)
        self.channel = channel
        self.markets = markets  # None = every market
        self.params = params
        self.callback = callback
        self.state: SubscriptionState = "pending"
        self.error: SubscriptionError | None = None
        self.sid: int | None = None
        self.waiters: list[_Waiter] = []
        self.view: Subscription | None = None  # the handle, returned by subscriptions()


class SubscriptionOwner(Protocol):
    """What a handle needs of its owner (the client): the four operations it delegates."""

    def _change_markets(
        self, sub: Subscription, add: tuple[str, ...], remove: tuple[str, ...], timeout: float
    ) -> None: ...

    def _request_snapshot(self, sub: Subscription, tickers: tuple[str, ...] | None) -> None: ...

    def _unsubscribe(self, sub: Subscription, timeout: float) -> None: ...

    def _wait_active(self, sub: Subscription, timeout: float | None) -> None: ...


class Subscription:
    """Handle for one ``subscribe()`` call: one channel, its markets, its callback.

    ``sid`` is the live server id (it changes across reconnects); ``state`` is "pending",
    "active", "failed" or "closed". Thread safety: every method may be called from any
    thread; from inside a callback they never block.
    """

    __slots__ = ("_owner", "_record")

    def __init__(
        self,
        owner: SubscriptionOwner,
        channel: str,
        markets: frozenset[str] | None,
        params: dict[str, Any],
        callback: Callable[[Any], object] | None,
    ) -> None:
        self._owner = owner
        self._record = SubscriptionRecord(channel, markets, params, callback)
        self._record.view = self

    @property
    def channel(self) -> str:
        return self._record.channel

    @property
    def params(self) -> dict[str, Any]:
        """The subscribe parameters (a copy)."""
        return dict(self._record.params)

    @property
    def callback(self) -> Callable[[Any], object] | None:
        return self._record.callback

    @property
    def state(self) -> SubscriptionState:
        return self._record.state

    @property
    def error(self) -> SubscriptionError | None:
        return self._record.error

    @property
    def sid(self) -> int | None:
        return self._record.sid

    @property
    def key(self) -> int:
        """Unique id of this handle in the client's routing table."""
        return self._record.key

    @property
    def market_tickers(self) -> tuple[str, ...] | None:
        """Markets this handle asked for, sorted; None means every market."""
        markets = self._record.markets
        return None if markets is None else tuple(sorted(markets))

    def add_markets(self, market_tickers: Iterable[str], *, timeout: float = 10.0) -> None:
        """Add markets (``update_subscription`` add_markets); kept across reconnects."""
        self._owner._change_markets(self, _tickers(market_tickers), (), timeout)

    def remove_markets(self, market_tickers: Iterable[str], *, timeout: float = 10.0) -> None:
        """Remove markets (delete_markets); their books are dropped."""
        self._owner._change_markets(self, (), _tickers(market_tickers), timeout)

    def request_snapshot(self, market_tickers: Iterable[str] | None = None) -> None:
        """Ask for fresh ``orderbook_snapshot``s (get_snapshot) without touching the
        subscription; None = all of this handle's markets."""
        tickers = None if market_tickers is None else _tickers(market_tickers)
        self._owner._request_snapshot(self, tickers)

    def unsubscribe(self, *, timeout: float = 10.0) -> None:
        """Stop this subscription. Idempotent."""
        self._owner._unsubscribe(self, timeout)

    def wait(self, timeout: float | None = 10.0) -> Subscription:
        """Block until the server acknowledged; raise SubscriptionError if it refused."""
        self._owner._wait_active(self, timeout)
        return self

    def __repr__(self) -> str:
        record = self._record
        return (
            f"<Subscription {record.channel} markets={self.market_tickers} "
            f"sid={record.sid} state={record.state}>"
        )


def _tickers(values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, (str, bytes)):
        raise TypeError("market_tickers must be a list of tickers, not a single string")
    out = tuple(values)
    for t in out:
        if not isinstance(t, str) or not t:
            raise TypeError(f"market tickers must be non-empty strings, got {t!r}")
    return out
