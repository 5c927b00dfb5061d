"""The network-thread pipeline: decode → seq check → books → routing → delivery.

:class:`Pipeline` runs on the network thread (``kalshi-sync-ws``, in :mod:`.connection`):
:class:`.Connection` calls its ``on_*`` methods for every frame, connection change and
tick. It shares the registry, book store, seq tracker and delivery with the client and
sends commands through the client's ``send``. Only ``on_frame`` runs per frame: keep it
lean (no extra attribute hops or calls).

Every frame that carries both ``sid`` and ``seq`` advances that sid's sequence, control
replies included (docs/protocol.md, 'Control replies and seq'). A book message that cannot
be applied (:class:`~kalshi_sync.orderbook.UnappliableError`) is still delivered; its book
is repaired the way a seq gap repairs one: marked ``resyncing``, then ``get_snapshot``, then
a resubscribe if no snapshot comes within :data:`SNAPSHOT_TIMEOUT`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import protocol
from .dispatch import Delivery
from .errors import ProtocolError
from .events import ConnectedEvent, DisconnectedEvent, GapEvent, ResyncedEvent
from .models import Message, OrderbookSnapshot
from .orderbook import BookStore, UnappliableError
from .registry import Outgoing, Registry
from .sequence import SEQ_FIRST, SEQ_GAP, SEQ_OK, SeqTracker

if TYPE_CHECKING:
    from .connection import Connection, DisconnectInfo
    from .recording import Recorder
    from .subscriptions import Subscription

__all__ = ["SNAPSHOT_TIMEOUT", "Pipeline"]

log = logging.getLogger("kalshi_sync")

_CONTROL = protocol.CONTROL_TYPES
# A book that stays resyncing this long after get_snapshot is resubscribed instead.
SNAPSHOT_TIMEOUT = 5.0


class Pipeline:
    """Everything the network thread does for one client.

    ``conn`` is set by the client once the :class:`.Connection` exists (the connection is
    built with this pipeline's bound methods). ``closed`` tells whether the client was
    closed; ``ready`` and ``finished`` are the client's lifecycle events.
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
        self.fatal: BaseException | None = None
        self._resync_deadlines: dict[int, float] = {}  # network thread only
        self._down_since: float | None = None
        self._connected_before = False
        self.by_type: dict[str, int] = {}
        self.frames = 0
        self.decode_errors = 0
        self.partial_messages = 0  # decoded with a key field missing, and delivered
        self.unknown_sid = 0
        self.resyncs = 0
        self.offline = False  # replaying a recording: sids need no subscription

    # -- connection callbacks ---------------------------------------------------------------

    def on_connected(self, generation: int) -> None:
        self._seq.reset()
        self._books.mark_stale()
        self._resync_deadlines.clear()
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
        self._registry.disconnected()
        self._books.mark_stale()
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
        self._registry.disconnected()
        self._books.mark_stale()
        self._delivery.put_event(
            DisconnectedEvent(generation=self.conn.generation, error=exc, will_reconnect=False)
        )
        self._ready.set()
        self._finished.set()

    def on_tick(self, now: float) -> None:
        self._send(self._registry.expire(now))
        if self._resync_deadlines:
            for sid, deadline in list(self._resync_deadlines.items()):
                if deadline <= now:
                    del self._resync_deadlines[sid]
                    if any(
                        self._books.state(t) == "resyncing"
                        for t in self._books.tickers_for_sid(sid)
                    ):
                        log.warning("no snapshot for sid %d in time: resubscribing", sid)
                        self._send(self._registry.force_resubscribe(sid))

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
            handles: tuple[Subscription, ...] = ()
            if sid is not None:
                found = self._registry.by_sid.get(sid)
                if found is not None:
                    handles = found
                elif not self.offline:
                    self.unknown_sid += 1  # e.g. a frame right after unsubscribe
                    return
                seq = msg.seq
                if seq is not None:  # any type: a frame with sid and seq takes a number
                    result = self._seq.check(sid, seq)
                    if result != SEQ_OK and not self._seq_event(msg, sid, seq, result, handles):
                        return
            if mtype == "orderbook_delta":
                try:
                    self._books.apply_delta(msg)  # type: ignore[arg-type]
                except UnappliableError as exc:
                    self._unappliable(msg, sid, handles, exc)
            elif mtype == "orderbook_snapshot":
                self._on_snapshot(msg, handles)  # type: ignore[arg-type]
            self._delivery.put(msg, handles)
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

    def _seq_event(
        self, msg: Message, sid: int, seq: int, result: int, handles: tuple[Subscription, ...]
    ) -> bool:
        """Handle a non-OK seq check; False means: drop this frame."""
        if result == SEQ_FIRST:
            return True
        if result != SEQ_GAP:
            return False  # duplicate or older: already processed once
        expected = self._seq.gap_expected
        tickers: tuple[str, ...] = ()
        # The sid's channel: a control reply or a type this version does not know still
        # tells a gap on an order book subscription.
        channel = protocol.CHANNEL_OF_TYPE.get(msg.type) or (handles[0].channel if handles else "")
        if channel in ("orderbook_delta", ""):
            tickers = tuple(self._books.tickers_for_sid(sid))
        if channel == "orderbook_delta" or tickers:
            self._resync(sid, tickers)
        log.warning("seq gap on sid %d (%s): expected %d, got %d", sid, channel, expected, seq)
        self._delivery.put_event(
            GapEvent(
                sid=sid, channel=channel, expected=expected, received=seq, market_tickers=tickers
            )
        )
        return True

    def _resync(self, sid: int, tickers: tuple[str, ...]) -> None:
        """Repair the books of ``tickers`` on ``sid``: resyncing until their get_snapshot
        answer arrives, resubscribed if it does not arrive in time."""
        self._books.mark_resyncing(tickers)
        self.resyncs += 1
        self._resync_deadlines[sid] = time.monotonic() + SNAPSHOT_TIMEOUT
        self._send(self._registry.resync(sid, tickers))

    def _unappliable(
        self,
        msg: Message,
        sid: int | None,
        handles: tuple[Subscription, ...],
        exc: Exception,
    ) -> None:
        """A book message that cannot be applied without guessing: resync what it was for
        (its market, or every market of its sid it may have been for when it names none)."""
        ticker: str | None = getattr(msg, "market_ticker", None)
        if sid is None:
            log.warning("cannot apply %s without sid (%s); not resyncing", msg.type, exc)
            return
        books = self._books
        if ticker is not None:
            tickers: tuple[str, ...] = (ticker,)
        elif msg.type == "orderbook_delta":
            # A delta can only have corrupted a live book: the others ignore deltas until
            # their snapshot, so asking again for them would only repeat requests.
            tickers = tuple(t for t in books.tickers_for_sid(sid) if books.state(t) == "live")
        else:
            # A snapshot naming no market may have been any market's (a get_snapshot answer,
            # or the first snapshot of a market that has no book yet).
            wanted = set(books.tickers_for_sid(sid))
            for h in handles:
                wanted |= h._markets or frozenset()
            tickers = tuple(sorted(wanted))
        log.warning("cannot apply %s on sid %d (%s): resyncing %s", msg.type, sid, exc, tickers)
        if tickers:
            self._resync(sid, tickers)

    def _on_snapshot(self, msg: OrderbookSnapshot, handles: tuple[Subscription, ...]) -> None:
        books = self._books
        ticker = msg.market_ticker
        sid = msg.sid
        if (
            ticker is not None
            and not self.offline
            and not any(h._markets is None or ticker in h._markets for h in handles)
        ):
            # A snapshot already on the wire when the market was removed (unsubscribe,
            # remove_markets): building a book from it would leave a "live" book that no
            # delta will ever update again.
            return
        if ticker is None or not msg.applicable:
            self._unappliable(msg, sid, handles, UnappliableError(f"missing {msg.missing}"))
            return
        before = books.state(ticker)
        yes_price = self._registry.use_yes_price.get(sid, False) if sid is not None else False
        books.apply_snapshot(msg, use_yes_price=yes_price)
        if before is not None and before != "live":
            self._delivery.put_event(ResyncedEvent(sid=sid, market_ticker=ticker))

    def _on_control(self, msg: Message) -> None:
        sid = msg.sid
        seq = msg.seq
        if msg.type == "subscribed" and sid is not None:
            self._seq.forget(sid)  # a new sid starts its own sequence
        elif sid is not None and seq is not None:
            # ok / unsubscribed / a subscription's error take a seq number like data does,
            # so a gap can show first on one. The reply itself is never dropped.
            result = self._seq.note_control(sid, seq)
            if result == SEQ_GAP and msg.type != "unsubscribed":
                self._seq_event(msg, sid, seq, result, self._registry.by_sid.get(sid, ()))
        self._send(self._registry.on_reply(msg))
        if msg.type == "unsubscribed" and sid is not None:
            self._seq.forget(sid)
        elif msg.type == "error":
            if sid is not None and self._registry.resubscribing(sid):
                # A terminal error (10, 17, 25, unknown code): the server dropped the
                # subscription, and data may be lost (25). Its books must not read "live"
                # until the snapshots of the new subscription arrive.
                books = self._books
                tickers = [t for t in books.tickers_for_sid(sid) if books.state(t) != "resyncing"]
                if tickers:
                    books.mark_resyncing(tickers)
                    self.resyncs += 1
            self._delivery.put(msg, ())
