"""The network-thread pipeline: decode → seq check → books → routing → delivery.

:class:`Pipeline` runs on the network thread (``kalshi-sync-ws``, in :mod:`.connection`):
:class:`.Connection` calls its ``on_*`` methods for every frame, connection change and
tick. It reads the registry's published routing snapshot (never the registry's state),
updates the book store and the seq tracker, hands messages to delivery, and sends commands
through the client's ``send``. Only ``on_frame`` runs per frame: keep it lean (no extra
attribute hops or calls); an in-order delta that applies never leaves it.

Every frame that carries both ``sid`` and ``seq`` advances that sid's sequence, control
replies included (docs/protocol.md, 'Control replies and seq'). Whatever goes wrong with a
sid's data -- a seq gap, a book message that cannot be applied
(:class:`~kalshi_sync.orderbook.UnappliableError`), a terminal error, a reconnect -- is
decided by :class:`~._recovery.Recovery`; this module carries out its :class:`~._recovery.Plan`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import protocol
from ._recovery import SNAPSHOT_TIMEOUT, GetSnapshot, Plan, Recovery
from ._routing import Route
from .dispatch import Delivery
from .errors import ProtocolError
from .events import ConnectedEvent, DisconnectedEvent, Event
from .models import Message, OrderbookSnapshot, ServerError
from .orderbook import BookStore, UnappliableError
from .registry import Outgoing, Registry
from .sequence import SEQ_FIRST, SEQ_GAP, SEQ_OK, SeqTracker

if TYPE_CHECKING:
    from ._account_sync import AccountSync
    from .connection import Connection, DisconnectInfo
    from .recording import Recorder

__all__ = ["SNAPSHOT_TIMEOUT", "Pipeline"]

log = logging.getLogger("kalshi_sync")

_CONTROL = protocol.CONTROL_TYPES
_NO_TARGETS: tuple[()] = ()
# Private messages the account side keeps (fills deduplicated, orders and positions views).
_PRIVATE = frozenset({"fill", "user_order", "market_position"})


class Pipeline:
    """Everything the network thread does for one client.

    ``conn`` is set by the client once the :class:`.Connection` exists (the connection is
    built with this pipeline's bound methods). ``closed`` tells whether the client was
    closed; ``ready`` and ``finished`` are the client's lifecycle events. ``clock`` is the
    monotonic clock recovery deadlines are measured on.
    """

    conn: Connection

    def __init__(
        self,
        registry: Registry,
        books: BookStore,
        seq: SeqTracker,
        delivery: Delivery,
        send: Callable[[list[Outgoing]], None],
        *,
        closed: Callable[[], bool],
        ready: threading.Event,
        finished: threading.Event,
        recorder: Recorder | None = None,
        clock: Callable[[], float] = time.monotonic,
        account: AccountSync | None = None,
    ) -> None:
        self._registry = registry
        self._books = books
        self._seq = seq
        self._delivery = delivery
        self._send = send
        self._closed = closed
        self._ready = ready
        self._finished = finished
        self._recorder = recorder
        self._clock = clock
        # Fills, orders and positions across reconnects (docs/architecture.md, 'Fills and
        # orders across reconnects'): its hooks run here, on the network thread.
        self._account = account
        self.recovery = Recovery(books)  # network thread only
        self.fatal: BaseException | None = None
        self._down_since: float | None = None
        self._connected_before = False
        self.by_type: dict[str, int] = {}
        self.frames = 0
        self.decode_errors = 0
        self.partial_messages = 0  # decoded with a key field missing, and delivered
        self.unknown_sid = 0
        self.offline = False  # replaying a recording: sids need no subscription

    @property
    def resyncs(self) -> int:
        return self.recovery.resyncs

    # -- connection callbacks ---------------------------------------------------------------

    def on_connected(self, generation: int) -> None:
        self._seq.reset()
        if self._account is not None:
            self._account.on_connected(time.time())
        self._act(self.recovery.on_connection_change())
        self._send(self._registry.connected(generation))
        down = self._down_since
        self._down_since = None
        # Not generation > 1: failed attempts (503, refused) also take a generation.
        reconnect = self._connected_before
        self._connected_before = True
        self._delivery.put_event(
            ConnectedEvent(
                generation=generation,
                reconnect=reconnect,
                downtime=None if down is None else time.monotonic() - down,
            )
        )
        self._ready.set()

    def on_disconnected(self, info: DisconnectInfo) -> None:
        if self._account is not None:
            self._account.on_disconnected(time.time())
        self._registry.disconnected()
        self._act(self.recovery.on_connection_change())
        self._seq.reset()
        if self._down_since is None:
            self._down_since = time.monotonic()
        closing = self._closed() or self.fatal is not None
        self._delivery.put_event(
            DisconnectedEvent(
                generation=info.generation,
                code=info.code,
                reason=info.reason,
                error=info.error,
                will_reconnect=not closing and self.conn.reconnect,
            )
        )
        if not self.conn.reconnect and not closing:
            self._finished.set()

    def on_fatal(self, exc: BaseException) -> None:
        # Recorded before the event so that anything woken by it sees the cause.
        self.fatal = exc
        if self._account is not None:
            self._account.on_disconnected(time.time())
        self._registry.disconnected()
        self._act(self.recovery.on_connection_change())
        self._delivery.put_event(
            DisconnectedEvent(generation=self.conn.generation, error=exc, will_reconnect=False)
        )
        self._ready.set()
        self._finished.set()

    def on_tick(self, now: float) -> None:
        self._send(self._registry.expire(now))
        self._act(self.recovery.on_tick(self._clock()))
        if self._account is not None:
            self._account_tick()

    def _account_tick(self) -> None:
        """Recovered fills, orders and positions (REST results handed back by the worker
        thread), oldest first, through the same callbacks as live ones; due reads start."""
        assert self._account is not None
        delivery = self._delivery
        for item, targets in self._account.on_tick(self._clock()):
            if isinstance(item, Event):
                delivery.put_event(item)
            else:
                delivery.put(item, targets)

    # -- frames -----------------------------------------------------------------------------

    def on_frame(self, data: bytes) -> None:
        self.frames += 1
        try:
            msg = protocol.decode(data)
        except ProtocolError as exc:
            self.decode_errors += 1
            log.warning("dropping a frame that does not decode: %s", exc)
            return
        except Exception:  # a decoder bug must not kill the network thread
            self.decode_errors += 1
            log.exception("decoder failed on a frame")
            return
        mtype = msg.type
        by_type = self.by_type
        by_type[mtype] = by_type.get(mtype, 0) + 1
        if msg.missing:
            self.partial_messages += 1
        try:
            if mtype in _CONTROL:
                self._on_control(msg)
                return
            sid = msg.sid
            route: Route | None = None
            if sid is not None:
                route = self._registry.routing.routes.get(sid)
                if route is None and not self.offline:
                    self.unknown_sid += 1  # e.g. a frame right after unsubscribe
                    return
                seq = msg.seq
                if seq is not None:  # any type: a frame with sid and seq takes a number
                    result = self._seq.check(sid, seq)
                    if result != SEQ_OK and not self._seq_event(msg, sid, seq, result, route):
                        return
            if mtype == "orderbook_delta":
                try:
                    self._books.apply_delta(msg)  # type: ignore[arg-type]
                except UnappliableError as exc:
                    self._unappliable(msg, sid, route, exc)
            elif mtype == "orderbook_snapshot":
                self._on_snapshot(msg, route)  # type: ignore[arg-type]
            elif (
                mtype in _PRIVATE
                and self._account is not None
                and not self._account.on_private_message(msg)
            ):
                return  # a fill already delivered (live, or recovered over REST)
            self._delivery.put(msg, route.targets if route is not None else _NO_TARGETS)
        except Exception:  # the network thread never dies from one message
            log.exception("failed to process %r", msg)

    def on_frame_recorded(self, data: bytes) -> None:
        recorder = self._recorder
        if recorder is not None:
            try:
                recorder.write(data, time.time_ns())
            except Exception:  # a full disk must not stop the feed
                log.exception("recording failed")
        self.on_frame(data)

    # -- recovery ---------------------------------------------------------------------------

    def _act(self, plan: Plan) -> None:
        """Carry out a recovery plan: book marks, then commands, then events."""
        books = self._books
        if plan.stale:
            books.mark_stale()
        if plan.resyncing:
            books.mark_resyncing(plan.resyncing)
        registry = self._registry
        for cmd in plan.commands:
            if type(cmd) is GetSnapshot:
                out, cmd_id = registry.get_snapshot(cmd.sid, cmd.tickers)
                if cmd_id is not None:
                    self.recovery.snapshot_sent(cmd_id, cmd.sid)
                self._send(out)
            else:
                self._send(registry.force_resubscribe(cmd.sid))
        for event in plan.events:
            self._delivery.put_event(event)

    def _seq_event(
        self, msg: Message, sid: int, seq: int, result: int, route: Route | None
    ) -> bool:
        """Handle a non-OK seq check; False means: drop this frame."""
        if result == SEQ_FIRST:
            return True
        if result != SEQ_GAP:
            return False  # duplicate or older: already processed once
        # The sid's channel: a control reply or a type this version does not know still
        # tells a gap on an order book subscription.
        channel = protocol.CHANNEL_OF_TYPE.get(msg.type) or (route.channel if route else "")
        expected = self._seq.gap_expected
        self._act(self.recovery.on_gap(sid, channel, expected, seq, self._clock()))
        return True

    def _unappliable(
        self, msg: Message, sid: int | None, route: Route | None, exc: Exception
    ) -> None:
        ticker: str | None = getattr(msg, "market_ticker", None)
        wanted = route.markets if route is not None else None
        self._act(self.recovery.on_unappliable(sid, msg.type, ticker, wanted, exc, self._clock()))

    def _on_snapshot(self, msg: OrderbookSnapshot, route: Route | None) -> None:
        books = self._books
        ticker = msg.market_ticker
        sid = msg.sid
        if ticker is not None and not self.offline and not (route and route.covers(ticker)):
            # A snapshot already on the wire when the market was removed (unsubscribe,
            # remove_markets): building a book from it would leave a "live" book that no
            # delta will ever update again.
            return
        if ticker is None or not msg.applicable:
            self._unappliable(msg, sid, route, UnappliableError(f"missing {msg.missing}"))
            return
        before = books.state(ticker)
        books.apply_snapshot(msg, use_yes_price=route.use_yes_price if route else False)
        if before != "live":
            self._act(self.recovery.on_snapshot(sid, ticker, before))

    def _on_control(self, msg: Message) -> None:
        sid = msg.sid
        seq = msg.seq
        registry = self._registry
        if msg.type == "subscribed" and sid is not None:
            self._seq.forget(sid)  # a new sid starts its own sequence
        elif sid is not None and seq is not None:
            # ok / unsubscribed / a subscription's error take a seq number like data does,
            # so a gap can show first on one. The reply itself is never dropped.
            result = self._seq.note_control(sid, seq)
            if result == SEQ_GAP and msg.type != "unsubscribed":
                self._seq_event(msg, sid, seq, result, registry.routing.routes.get(sid))
        cmd_id = msg.id if isinstance(msg, ServerError) else None
        answers = cmd_id is not None and registry.is_pending(cmd_id)
        self._send(registry.on_reply(msg))
        if msg.type == "subscribed" and self._account is not None:
            self._account_tick()  # a private channel may be up: its round starts now
        if msg.type == "unsubscribed" and sid is not None:
            self._seq.forget(sid)
        elif isinstance(msg, ServerError):
            self._act(self.recovery.on_error(msg, answers_command=answers))
            self._delivery.put(msg, ())
