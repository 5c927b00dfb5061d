"""Lifecycle events: typed, immutable objects delivered through ``client.on(type, fn)``.

They travel the same path as wire messages (same thread, same ordering) and share their
shape: ``.type``, ``.sid``, ``.seq`` (always None) and ``.raw`` (always None), so a ``"*"``
handler can treat both alike. Server ``error`` frames are delivered as
:class:`kalshi_sync.models.ServerError` under the type ``"error"``.
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = [
    "CallbackErrorEvent",
    "ConnectedEvent",
    "DisconnectedEvent",
    "Event",
    "GapEvent",
    "OverflowEvent",
    "RecoveredEvent",
    "RecoveryFailedEvent",
    "ResyncedEvent",
]


@attrs.frozen(kw_only=True)
class Event:
    """Base of lifecycle events."""

    type: str
    sid: int | None = None
    seq: None = None
    raw: None = None


@attrs.frozen(kw_only=True)
class ConnectedEvent(Event):
    """A connection is up (``reconnect``: not the first one). ``downtime``: seconds since the
    previous connection dropped -- the window private channels (fills, orders, positions)
    were blind. With recovery on (the default when a private channel is subscribed), the
    client reads that window back over REST and delivers what was missed; see
    :class:`RecoveredEvent`. With ``rest=False`` it is yours to reconcile."""

    type: str = "connected"
    generation: int = 0
    reconnect: bool = False
    downtime: float | None = None


@attrs.frozen(kw_only=True)
class DisconnectedEvent(Event):
    """A connection ended. ``will_reconnect`` is False when the client stopped for good
    (closed, or ``error`` is an :class:`~kalshi_sync.AuthenticationError`)."""

    type: str = "disconnected"
    generation: int = 0
    code: int | None = None
    reason: str | None = None
    error: BaseException | None = None
    will_reconnect: bool = True


@attrs.frozen(kw_only=True)
class GapEvent(Event):
    """Messages on ``sid`` were lost: ``expected`` was due, ``received`` arrived.
    ``market_tickers``: the books now resyncing (empty for channels without books)."""

    type: str = "gap"
    channel: str = ""
    expected: int = 0
    received: int = 0
    market_tickers: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class ResyncedEvent(Event):
    """The book of ``market_ticker`` is live again after a gap or a reconnect."""

    type: str = "resynced"
    market_ticker: str = ""


@attrs.frozen(kw_only=True)
class CallbackErrorEvent(Event):
    """A callback raised. Delivery went on; the exception is also logged."""

    type: str = "callback_error"
    callback: Any = None
    message: Any = None
    exception: BaseException | None = None


@attrs.frozen(kw_only=True)
class OverflowEvent(Event):
    """The delivery queue was full: the oldest data messages were dropped (books are not
    affected: they are updated before the queue). ``dropped``: total so far."""

    type: str = "overflow"
    dropped: int = 0
    max_queue: int = 0


@attrs.frozen(kw_only=True)
class RecoveredEvent(Event):
    """Private channels were read back over REST after a reconnect (or at start with
    ``recover_since``) and the missing messages were delivered, each with ``.recovered``.

    ``fills``, ``orders``, ``positions``: how many recovered ``fill``, ``user_order`` and
    ``market_position`` messages were delivered. ``blind_from`` / ``blind_until``: the window
    the connection was blind (Unix seconds; ``blind_from`` is None at start). ``duration``:
    seconds from the reconnect (or start) to the end of recovery; ``attempts``: how many REST
    attempts it took (see :class:`RecoveryFailedEvent`)."""

    type: str = "recovered"
    fills: int = 0
    orders: int = 0
    positions: int = 0
    blind_from: float | None = None
    blind_until: float | None = None
    duration: float = 0.0
    attempts: int = 1


@attrs.frozen(kw_only=True)
class RecoveryFailedEvent(Event):
    """A REST read of a recovery failed (``error``); it is retried in ``retry_in`` seconds
    (jittered exponential backoff). ``attempt``: which attempt failed, from 1. Meanwhile
    market data flows, live fills are delivered, and orders and positions stay
    ``reconciling``."""

    type: str = "recovery_failed"
    error: BaseException | None = None
    attempt: int = 1
    retry_in: float = 0.0
