"""Routing table and the three delivery modes (dispatch thread, inline, poll).

The network thread hands each message over with :meth:`Delivery.put` together with the
targets of its sid (each handle's key, markets filter and callback, from the registry's
published routing snapshot); which callbacks run is decided at delivery time, on the
delivering thread, from immutable tables (no lock on the read path): a handle closed since
the message was queued is skipped. Callbacks always
get one argument, run one at a time in arrival order, and their exceptions are caught,
logged and turned into ``callback_error`` events: delivery never stops.

Delivery also measures how long messages took from Kalshi's network layer to our callbacks:
for each message that carries ``sending_ts_ms``, ``now - sending_ts_ms`` (wall clock, ms) is
written into a fixed ring of the most recent :data:`LATENCY_WINDOW` samples at the moment
its callbacks are about to run. Percentiles are computed only when asked
(:meth:`Delivery.latency`), so the per-message cost is one clock read and one list store.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from ._router import Callback, Router
from ._routing import RoutingSource, Target
from .events import CallbackErrorEvent, Event, OverflowEvent

__all__ = [
    "DELIVERY_MODES",
    "LATENCY_WINDOW",
    "MONEY_TYPES",
    "Callback",
    "Delivery",
    "DeliveryMode",
    "Router",
    "in_callback",
]

log = logging.getLogger("kalshi_sync.dispatch")

DeliveryMode = Literal["thread", "inline", "poll"]
"""Who runs the callbacks: the dispatch thread, the network thread, or ``poll()``."""
DELIVERY_MODES: tuple[DeliveryMode, ...] = ("thread", "inline", "poll")
LATENCY_WINDOW = 4096
"""How many recent latency samples the percentiles in ``stats()`` are computed from."""
_LATENCY_MASK = LATENCY_WINDOW - 1  # a power of two: the ring index is one AND
HOLD_MAX = 64
"""With a held bell (:meth:`Delivery.hold_bell`), ring after this many messages at the latest."""
MONEY_TYPES = frozenset({"fill", "user_order", "market_position", "order_group_updates"})
"""Messages about money: an overflow never drops them (they are rare, and a fill has no
replay), like lifecycle events."""

_local = threading.local()


def in_callback() -> bool:
    """True while the current thread is running one of our callbacks."""
    return getattr(_local, "depth", 0) > 0


class Delivery:
    """Runs callbacks for messages handed over by the network thread.

    ``thread``: a bounded queue drained by the ``kalshi-sync-dispatch`` thread; on overflow
    the oldest data message is dropped (lifecycle events and :data:`MONEY_TYPES` never
    are), counted, and an
    ``overflow`` event is delivered once per episode. ``inline``: callbacks run on the
    calling (network) thread. ``poll``: the queue is drained by :meth:`poll` on the
    application's thread. ``clock`` (wall-clock seconds, like ``time.time``) is read once
    per message that carries ``sending_ts_ms`` (see :meth:`latency`).
    """

    def __init__(
        self,
        router: Router,
        *,
        mode: DeliveryMode = "thread",
        max_queue: int = 100_000,
        on_callback_error: Callable[[CallbackErrorEvent], object] | None = None,
        clock: Callable[[], float] = time.time,
        routing: RoutingSource | None = None,
    ) -> None:
        # routing: whose published Routing tells which handles are still live (the
        # registry); None = every target handed over is live.
        if mode not in DELIVERY_MODES:
            raise ValueError(f"delivery must be one of {DELIVERY_MODES}, got {mode!r}")
        if not isinstance(max_queue, int) or max_queue < 1:
            raise ValueError(f"max_queue must be a positive int, got {max_queue!r}")
        self.mode = mode
        self.max_queue = max_queue
        self._router = router
        self._hook = on_callback_error
        self._routing = routing
        # Items are (message, targets, is_event). deque appends/pops are atomic, so the
        # single producer and the single consumer need no lock.
        self._queue: deque[tuple[Any, tuple[Target, ...], bool]] = deque()
        # Events popped by an overflow are kept here and delivered first: they are rare
        # and carry state changes the application must see.
        self._rescued: deque[tuple[Any, tuple[Target, ...], bool]] = deque()
        self._wake = threading.Event()  # poll mode: poll(timeout) waits on it
        # Thread mode: the dispatch thread sleeps on a bare lock ("bell") instead of an
        # Event. Event.set/wait run a Condition in Python (~5 us a hand-off and the
        # consumer's wake-up path); a lock release/acquire is one C call. Protocol: the
        # consumer sets _sleeping, re-checks the queue, then blocks on the bell; a
        # producer appends first and rings only if _sleeping -- no wake-up can be lost.
        self._bell = threading.Lock()
        self._bell.acquire()
        self._sleeping = False
        # Held bell (hold_bell()): a put() to a sleeping consumer does not ring at once; the
        # producer rings in idle() just before it blocks, or after HOLD_MAX messages. The
        # consumer then wakes while the producer is releasing the GIL instead of waking,
        # finding the GIL taken and sleeping again until the producer blocks: one wake-up
        # per hand-off instead of two (docs/transport.md, 'CPU per message').
        self._hold = False
        self._held = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._overflowing = False
        self._discard_data = False  # set by stop(drain=False); the consumer skips data
        # poll(): one thread delivers at a time (callbacks stay in order, one at a time),
        # but no lock is held while callbacks run. _poll_cond guards _poll_owner (the
        # thread delivering, or None) and _poll_depth (its nested poll() calls); another
        # thread waits on it until the owner is done. A callback that calls poll() again
        # on the owner's thread (a GUI dialog's nested event loop) delivers the next
        # messages in order instead of deadlocking (docs/architecture.md, 'Lock table').
        self._poll_cond = threading.Condition(threading.Lock())
        self._poll_owner: int | None = None
        self._poll_depth = 0
        self.dropped = 0
        self.delivered = 0
        self.callback_errors = 0
        self.overflows = 0
        self._clock = clock
        # Latency ring: written only by the delivering thread (one at a time); latency()
        # copies it from any thread -- a sample being replaced meanwhile is harmless.
        self._latency: list[float] = [0.0] * LATENCY_WINDOW
        self._latency_taken = 0  # samples ever taken; the ring holds the last WINDOW

    # -- producer side (network thread) ---------------------------------------------------

    def put(self, msg: Any, targets: tuple[Target, ...] = ()) -> None:
        if self.mode == "inline":
            self._deliver_marked(msg, targets)
            return
        queue = self._queue
        if len(queue) >= self.max_queue:
            self._overflow()
        queue.append((msg, targets, False))
        if self._sleeping:
            if self._hold:
                self._held = held = self._held + 1
                if held < HOLD_MAX:
                    return
            self._ring()
        elif self.mode == "poll" and not self._wake.is_set():
            self._wake.set()

    def hold_bell(self) -> None:
        """The producer promises to call :meth:`idle` before it blocks: from now on a put()
        to a sleeping dispatch thread defers the wake-up to then (or to HOLD_MAX messages)."""
        self._hold = True

    def idle(self) -> None:
        """The producer is about to block: ring the bell if a put() held it."""
        if self._held:
            self._held = 0
            if self._sleeping:
                self._ring()

    def _ring(self) -> None:
        self._sleeping = False
        self._held = 0
        try:  # noqa: SIM105 - suppress() would cost a context manager per ring
            self._bell.release()
        except RuntimeError:  # already rung (two producers raced): one ring is enough
            pass

    def _wakeup(self) -> None:
        self._ring()
        self._wake.set()

    def put_event(self, event: Event) -> None:
        if self.mode == "inline" and threading.current_thread() is not self._thread:
            self._deliver_marked(event, ())
            return
        self._queue.append((event, (), True))
        self._wakeup()

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until everything queued so far has been delivered (thread mode), or deliver
        it on this thread (poll mode). True when done in time."""
        if self.mode == "inline":
            return True
        if self.mode == "poll":
            self._drain_owned(None)
            return True
        if self._thread is None or not self._thread.is_alive():
            return not self._queue and not self._rescued
        marker = _Flush()
        self._queue.append((marker, (), True))
        self._wakeup()
        return marker.done.wait(timeout)

    def _overflow(self) -> None:
        queue = self._queue
        while len(queue) >= self.max_queue:
            try:
                item = queue.popleft()
            except IndexError:  # the consumer drained it meanwhile
                return
            if item[2] or item[0].type in MONEY_TYPES:
                self._rescued.append(item)  # kept, in order, ahead of the queue
                continue
            self.dropped += 1
            if not self._overflowing:
                self._overflowing = True
                self.overflows += 1
                self._rescued.append(
                    (OverflowEvent(dropped=self.dropped, max_queue=self.max_queue), (), True)
                )
                log.warning(
                    "delivery queue full (%d): dropping the oldest messages; callbacks "
                    "are slower than the feed",
                    self.max_queue,
                )

    @property
    def depth(self) -> int:
        return len(self._queue) + len(self._rescued)

    def latency(self) -> tuple[int | None, int | None, int]:
        """``(p50, p99, samples)``: percentiles (nearest rank, whole ms) of
        ``now - sending_ts_ms`` over the last :data:`LATENCY_WINDOW` messages that carried
        it, measured as their callbacks were about to run; ``(None, None, 0)`` before the
        first. Both clocks are wall clocks, so a skewed local clock shifts (and can negate)
        the figures."""
        taken = self._latency_taken
        n = min(taken, LATENCY_WINDOW)
        if n == 0:
            return None, None, 0
        ordered = sorted(self._latency[:n])

        def rank(p: float) -> int:
            return round(ordered[max(0, math.ceil(p * n) - 1)])

        return rank(0.50), rank(0.99), n

    # -- consumer side -----------------------------------------------------------------

    def start(self) -> None:
        if self.mode != "thread" or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="kalshi-sync-dispatch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 5.0, *, drain: bool = True) -> bool:
        """Stop the dispatch thread after it delivered what is queued (``drain``)."""
        if not drain:
            # Data is dropped, lifecycle events are not: the last "disconnected" (with an
            # AuthenticationError, say) is exactly what the application must still see.
            # The consumer skips the data itself: rebuilding the deque here would race it.
            self._discard_data = True
            thread = self._thread
            if thread is None or not thread.is_alive():
                kept = [item for item in self._queue if item[2]]
                self._queue.clear()
                self._queue.extend(kept)
        self._stop.set()
        self._wakeup()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def _run(self) -> None:
        bell = self._bell
        queue = self._queue
        rescued = self._rescued
        stop = self._stop
        while True:
            self._drain(None)
            if stop.is_set() and not queue and not rescued:
                return
            self._sleeping = True
            # Re-check after announcing the sleep: a put() before it did not ring.
            if queue or rescued or stop.is_set():
                self._sleeping = False
                continue
            bell.acquire(True, 0.5)
            self._sleeping = False

    def poll(self, timeout: float = 0.0, max_messages: int | None = None) -> int:
        """Deliver queued messages on the calling thread; returns how many ran.

        Waits up to ``timeout`` seconds for the first message when none is queued.
        """
        if self.mode != "poll":
            raise RuntimeError(f"poll() needs delivery='poll' (this client uses {self.mode!r})")
        if not self._queue and not self._rescued and timeout > 0:
            deadline = time.monotonic() + timeout
            while not self._queue and not self._rescued:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return 0
                self._wake.clear()
                if self._queue or self._rescued:
                    break
                self._wake.wait(remaining)
        return self._drain_owned(max_messages)

    def _drain_owned(self, limit: int | None) -> int:
        """Drain as the one delivering thread, holding no lock while callbacks run."""
        me = threading.get_ident()
        cond = self._poll_cond
        with cond:
            while self._poll_owner is not None and self._poll_owner != me:
                cond.wait()
            self._poll_owner = me
            self._poll_depth += 1
        try:
            return self._drain(limit)
        finally:
            with cond:
                self._poll_depth -= 1
                if self._poll_depth == 0:
                    self._poll_owner = None
                    cond.notify_all()

    def _drain(self, limit: int | None) -> int:
        # The whole drain counts as "in a callback" (in_callback()): between callbacks only
        # this loop runs, and marking once per drain instead of once per callback saves two
        # thread-local updates per message.
        _local.depth = getattr(_local, "depth", 0) + 1
        try:
            return self._drain_marked(limit)
        finally:
            _local.depth -= 1

    def _drain_marked(self, limit: int | None) -> int:
        queue = self._queue
        rescued = self._rescued
        deliver = self._deliver
        n = 0
        while limit is None or n < limit:
            if rescued:
                msg, targets, is_event = rescued.popleft()
            elif queue:  # checked first: a raised IndexError per wake-up costs more
                try:
                    msg, targets, is_event = queue.popleft()
                except IndexError:  # an overflow on the producer side emptied it
                    break
            else:
                break
            if self._discard_data and not is_event:
                continue
            deliver(msg, targets)
            n += 1
        if not queue:
            self._overflowing = False
        return n

    def _deliver_marked(self, msg: Any, targets: tuple[Target, ...]) -> None:
        """:meth:`_deliver` outside a drain (inline mode), marked as in a callback."""
        _local.depth = getattr(_local, "depth", 0) + 1
        try:
            self._deliver(msg, targets)
        finally:
            _local.depth -= 1

    def _deliver(self, msg: Any, targets: tuple[Target, ...]) -> None:
        """Run the callbacks for one message; the caller has marked the thread as in a
        callback (:func:`in_callback`)."""
        if type(msg) is _Flush:
            msg.done.set()
            return
        self.delivered += 1
        sent = getattr(msg, "sending_ts_ms", None)
        if sent is not None:
            taken = self._latency_taken
            self._latency[taken & _LATENCY_MASK] = self._clock() * 1000.0 - sent
            self._latency_taken = taken + 1
        if targets:
            # Handles share a channel's sid: each gets only the markets it asked for, and
            # nothing once it is closed (the live keys are read now, not when queued).
            routing = self._routing
            live = routing.routing.live if routing is not None else None
            ticker = getattr(msg, "market_ticker", None)
            for key, markets, cb in targets:
                if (
                    cb is not None
                    and (live is None or key in live)
                    and (markets is None or ticker is None or ticker in markets)
                ):
                    self._invoke(cb, msg)
        router = self._router
        for cb in router.for_type(msg.type):
            self._invoke(cb, msg)
        for cb in router.for_type("*"):
            self._invoke(cb, msg)

    def _invoke(self, cb: Callback, msg: Any) -> None:
        try:
            cb(msg)
        except Exception as exc:
            self._callback_failed(cb, msg, exc)

    def _callback_failed(self, cb: Callback, msg: Any, exc: Exception) -> None:
        self.callback_errors += 1
        log.error("exception in callback %r for %r", cb, msg, exc_info=exc)
        if isinstance(msg, CallbackErrorEvent):
            return  # a failing callback_error handler must not recurse
        event = CallbackErrorEvent(callback=cb, message=msg, exception=exc)
        if self._hook is not None:
            try:
                self._hook(event)
            except Exception:
                log.exception("on_callback_error hook failed")
        for handler in (*self._router.for_type("callback_error"), *self._router.for_type("*")):
            try:
                handler(event)
            except Exception:
                log.exception("callback_error handler %r failed", handler)


class _Flush:
    """Queue marker for :meth:`Delivery.flush`: delivered means everything before it was."""

    __slots__ = ("done", "type")

    def __init__(self) -> None:
        self.type = ""
        self.done = threading.Event()
