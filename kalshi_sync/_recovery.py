"""Book and subscription recovery, as one sans-I/O state machine.

Every way a sid's data can go bad ends here (docs/architecture.md, 'Reconnect and
resync'; docs/protocol.md, 'Recovering from a gap' and 'Terminal errors'):

- a **seq gap** (:meth:`Recovery.on_gap`) and a **book message that cannot be applied**
  (:meth:`Recovery.on_unappliable`): the affected books go ``resyncing`` and a
  ``get_snapshot`` is asked for; if a book is still ``resyncing`` after
  :data:`SNAPSHOT_TIMEOUT` (:meth:`Recovery.on_tick`), or the server refuses the
  ``get_snapshot`` (:meth:`Recovery.on_error`), the channel is unsubscribed and subscribed
  afresh;
- a **terminal error** on a sid (:meth:`Recovery.on_error`: 10, 17, 25 or a code this
  version does not know): the server dropped the subscription, so it is resubscribed and
  its books read ``resyncing`` until the new snapshots arrive;
- a **reconnect** or a disconnect (:meth:`Recovery.on_connection_change`): every book is
  ``stale`` and every deadline void (the resubscribe brings fresh snapshots);
- a **snapshot applied** (:meth:`Recovery.on_snapshot`): a book that was not ``live``
  reports ``resynced``.

Each method takes plain values (the clock is passed in as ``now``) and returns a
:class:`Plan` -- commands, book marks and events -- for the pipeline to carry out. Recovery
reads the books through the small :class:`BookView` protocol and owns its deadlines; it
never sends, locks or sleeps. The per-frame hot path (an in-order delta that applies) never
calls into it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import NamedTuple, Protocol

import attrs

from ._channels import BOOK_CHANNELS, ends_subscription
from .events import Event, GapEvent, ResyncedEvent
from .models import ServerError

__all__ = [
    "NOTHING",
    "SNAPSHOT_TIMEOUT",
    "BookView",
    "GetSnapshot",
    "Plan",
    "Recovery",
    "Resubscribe",
]

log = logging.getLogger("kalshi_sync")

# A book that stays resyncing this long after get_snapshot is resubscribed instead.
SNAPSHOT_TIMEOUT = 5.0


class GetSnapshot(NamedTuple):
    """Ask for fresh snapshots of ``tickers`` on ``sid`` (update_subscription
    get_snapshot); report the command id back with :meth:`Recovery.snapshot_sent`."""

    sid: int
    tickers: tuple[str, ...]


class Resubscribe(NamedTuple):
    """Unsubscribe the channel of ``sid`` and subscribe it afresh."""

    sid: int


Command = GetSnapshot | Resubscribe


@attrs.frozen
class Plan:
    """What to do: ``commands`` to send, ``resyncing`` books to mark so, ``stale`` (mark
    every book stale), ``events`` to deliver, in that order."""

    commands: tuple[Command, ...] = ()
    resyncing: tuple[str, ...] = ()
    stale: bool = False
    events: tuple[Event, ...] = ()


NOTHING = Plan()


class BookView(Protocol):
    """What recovery reads of the books (:class:`~kalshi_sync.orderbook.BookStore`)."""

    def tickers_for_sid(self, sid: int) -> list[str]: ...

    def state(self, ticker: str) -> str | None: ...


class Recovery:
    """Recovery state of one client: get_snapshot deadlines per sid, the ids of the
    get_snapshot commands in flight, and the resync count. Network thread only."""

    def __init__(self, books: BookView) -> None:
        self._books = books
        self._deadlines: dict[int, float] = {}
        self._snapshot_ids: dict[int, int] = {}  # get_snapshot command id -> sid
        self.resyncs = 0  # resyncs started (stats()["resyncs"])

    @property
    def deadlines(self) -> dict[int, float]:
        """A copy of the get_snapshot deadlines by sid."""
        return dict(self._deadlines)

    # -- inputs ---------------------------------------------------------------------------

    def on_gap(self, sid: int, channel: str, expected: int, received: int, now: float) -> Plan:
        """A seq gap on ``sid``. ``channel``: the sid's channel, "" when unknown (a
        control reply, a type this version does not know): then its books, if any, are
        repaired too."""
        tickers: tuple[str, ...] = ()
        if channel in BOOK_CHANNELS or channel == "":
            tickers = tuple(self._books.tickers_for_sid(sid))
        plan = NOTHING
        if channel in BOOK_CHANNELS or tickers:
            plan = self._resync(sid, tickers, now)
        log.warning("seq gap on sid %d (%s): expected %d, got %d", sid, channel, expected, received)
        gap = GapEvent(
            sid=sid, channel=channel, expected=expected, received=received, market_tickers=tickers
        )
        return attrs.evolve(plan, events=(gap,))

    def on_unappliable(
        self,
        sid: int | None,
        msg_type: str,
        ticker: str | None,
        wanted: Iterable[str] | None,
        reason: object,
        now: float,
    ) -> Plan:
        """A book message that cannot be applied without guessing: resync what it was for
        -- its market, or every market of its sid it may have been for when it names none.
        ``wanted``: the markets the sid's handles ask for (None = unknown)."""
        if sid is None:
            log.warning("cannot apply %s without sid (%s); not resyncing", msg_type, reason)
            return NOTHING
        books = self._books
        if ticker is not None:
            tickers: tuple[str, ...] = (ticker,)
        elif msg_type == "orderbook_delta":
            # A delta can only have corrupted a live book: the others ignore deltas until
            # their snapshot, so asking again for them would only repeat requests.
            tickers = tuple(t for t in books.tickers_for_sid(sid) if books.state(t) == "live")
        else:
            # A snapshot naming no market may have been any market's (a get_snapshot answer,
            # or the first snapshot of a market that has no book yet).
            every = set(books.tickers_for_sid(sid))
            every |= set(wanted or ())
            tickers = tuple(sorted(every))
        log.warning("cannot apply %s on sid %d (%s): resyncing %s", msg_type, sid, reason, tickers)
        if not tickers:
            return NOTHING
        return self._resync(sid, tickers, now)

    def snapshot_sent(self, cmd_id: int, sid: int) -> None:
        """The get_snapshot asked for by a :class:`GetSnapshot` went out as ``cmd_id``."""
        self._snapshot_ids[cmd_id] = sid

    def on_error(self, msg: ServerError, *, answers_command: bool) -> Plan:
        """An ``error`` frame. ``answers_command``: it is the reply to one of the registry's
        commands (that error is the registry's, not a broken subscription)."""
        cmd_id = msg.id
        if cmd_id is not None and cmd_id in self._snapshot_ids:
            refused = self._snapshot_ids.pop(cmd_id)
            log.warning("get_snapshot refused on sid %d (%s): resubscribing", refused, msg.code)
            return Plan(commands=(Resubscribe(refused),))
        sid = msg.sid
        if answers_command or sid is None or not ends_subscription(msg.code):
            return NOTHING
        # The server dropped the subscription, and data may be lost (25). Its books must
        # not read "live" until the snapshots of the new subscription arrive.
        books = self._books
        tickers = tuple(t for t in books.tickers_for_sid(sid) if books.state(t) != "resyncing")
        if tickers:
            self.resyncs += 1
        return Plan(commands=(Resubscribe(sid),), resyncing=tickers)

    def on_snapshot(self, sid: int | None, ticker: str, before: str | None) -> Plan:
        """A snapshot was applied to ``ticker``'s book, which was in state ``before``."""
        if before is not None and before != "live":
            return Plan(events=(ResyncedEvent(sid=sid, market_ticker=ticker),))
        return NOTHING

    def on_connection_change(self) -> Plan:
        """Connected or disconnected: every book is stale, every deadline void."""
        self._deadlines.clear()
        self._snapshot_ids.clear()
        return Plan(stale=True)

    def on_tick(self, now: float) -> Plan:
        """Resubscribe the sids whose get_snapshot did not bring their books back in time."""
        if not self._deadlines:
            return NOTHING
        commands: list[Command] = []
        books = self._books
        for sid, deadline in list(self._deadlines.items()):
            if deadline <= now:
                del self._deadlines[sid]
                for cmd_id in [i for i, s in self._snapshot_ids.items() if s == sid]:
                    del self._snapshot_ids[cmd_id]
                if any(books.state(t) == "resyncing" for t in books.tickers_for_sid(sid)):
                    log.warning("no snapshot for sid %d in time: resubscribing", sid)
                    commands.append(Resubscribe(sid))
        return Plan(commands=tuple(commands)) if commands else NOTHING

    # -- internals ------------------------------------------------------------------------

    def _resync(self, sid: int, tickers: tuple[str, ...], now: float) -> Plan:
        """Repair the books of ``tickers`` on ``sid``: resyncing until their get_snapshot
        answer arrives, resubscribed if it does not arrive in time."""
        self.resyncs += 1
        self._deadlines[sid] = now + SNAPSHOT_TIMEOUT
        return Plan(commands=(GetSnapshot(sid, tickers),), resyncing=tickers)
