"""Private channels across reconnects: the component that recovers fills, orders and positions.

Kalshi's ``fill``, ``user_orders`` and ``market_positions`` channels have no ``seq`` and no
replay (docs/protocol.md, 'Private channels'): what happens while the connection is down is
never sent again. :class:`AccountSync` owns the sans-I/O pieces that make up for it -- the
:class:`~._fill_ledger.FillLedger`, the :class:`~._account_views.OrdersView` and
:class:`~._account_views.PositionsView`, the :class:`~._recovery_scheduler.RecoveryScheduler`
-- and one REST worker thread (``kalshi-sync-recovery``) that runs the reads
(docs/architecture.md, 'Fills and orders across reconnects').

Threads. Every hook (``on_connected``, ``on_disconnected``, ``on_private_message``,
``on_tick``) runs on the network thread, the one writer of the ledger and the views. REST
never runs there: it must keep reading frames and answering pings. The network thread hands a
read to the worker as an immutable :class:`_Job`; the worker puts a :class:`_Result` on a
queue, which the next ``on_tick`` drains and applies -- so deduplication and delivery order
have one writer. A failed read is retried with backoff by the scheduler while market data
flows on.

When a round runs. A round starts when a private channel's subscription comes up (a new sid
for it in the registry's routing snapshot, looked for on every tick and right after every
``subscribed`` reply): the first subscription makes the views "live" from a REST read;
after a reconnect, the resubscription does it again, and then the fills of the blind window
are read too (or, once at start, those since ``recover_since``).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs

from ._account_snapshots import AccountFilter, Positions, RestingOrders
from ._account_views import OrdersView, PositionsView, ReconcileToken
from ._fill_ledger import DEFAULT_MARGIN, FillLedger, FillQuery
from ._recovery_scheduler import RecoveryAttempt, RecoveryScheduler
from ._routing import RoutingSource, Target
from .account import Order, Position
from .errors import OrderNotFoundError, RateLimitError
from .models import Fill, MarketPosition, UserOrder

__all__ = ["PRIVATE_CHANNELS", "AccountSync", "Deliverable"]

log = logging.getLogger("kalshi_sync.account")

PRIVATE_CHANNELS: dict[str, str] = {
    "fill": "fill",
    "user_orders": "user_order",
    "market_positions": "market_position",
}
"""Private channel -> the message type it delivers (the channels kept across reconnects)."""

_CHANNEL_OF_TYPE = {mtype: channel for channel, mtype in PRIVATE_CHANNELS.items()}

Deliverable = tuple[Any, tuple[Target, ...]]
"""(message or event, the targets of its channel's subscription handles; () for events)."""


@attrs.frozen(kw_only=True)
class _Job:
    """One attempt's REST reads, immutable so the worker may hold it."""

    number: int  # the worker skips jobs older than the newest submitted
    attempt: RecoveryAttempt
    fills: FillQuery | None
    orders: ReconcileToken | None
    positions: ReconcileToken | None


@attrs.frozen(kw_only=True)
class _Result:
    job: _Job
    fills: list[Fill] = attrs.field(factory=list)
    resting: list[Order] = attrs.field(factory=list)
    closed: list[Order] = attrs.field(factory=list)
    positions: dict[int, list[Position]] = attrs.field(factory=dict)
    error: BaseException | None = None


class _Superseded(Exception):
    """A newer job was submitted while this one ran: stop reading, nothing to report."""


class _Worker:
    """The one REST thread: runs the newest submitted job, puts its result on ``results``."""

    def __init__(
        self,
        rest: Any,
        results: queue.SimpleQueue[_Result],
        on_result: Callable[[], object] | None,
        make_rest: Callable[[], Any] | None = None,
    ) -> None:
        self._rest = rest
        self._make_rest = make_rest  # built on the worker thread at the first read
        self.owned: Any = None  # the RestClient built here, closed by stop()
        self._results = results
        self._on_result = on_result
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._latest = 0  # number of the newest job submitted (an int store is atomic)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # guards starting/stopping the thread
        self._stopped = False

    def submit(self, job: _Job) -> None:
        with self._lock:
            if self._stopped:
                return
            self._latest = job.number
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="kalshi-sync-recovery", daemon=True
                )
                self._thread.start()
        self._jobs.put(job)

    def stop(self, timeout: float | None) -> bool:
        """Stop the thread (a read in flight finishes first). True when it has ended."""
        with self._lock:
            self._stopped = True
            self._latest = -1
            thread = self._thread
        self._jobs.put(None)
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        if thread.is_alive():
            return False
        if self.owned is not None:
            self.owned.close()
        return True

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if job.number != self._latest:
                continue  # a newer job is queued: this one's round is over
            try:
                result = self._read(job)
            except _Superseded:
                continue
            except Exception as exc:  # REST down, 5xx storm, a bug: retried with backoff
                result = _Result(job=job, error=exc)
            self._results.put(result)
            if self._on_result is not None:
                try:
                    self._on_result()
                except Exception:  # a wake-up failing (socket closed) loses nothing
                    log.exception("recovery wake-up failed")

    def _check(self, job: _Job) -> None:
        if job.number != self._latest:
            raise _Superseded

    def _read(self, job: _Job) -> _Result:
        rest = self._rest
        if rest is None and self._make_rest is not None:
            rest = self._rest = self.owned = self._make_rest()
        fills: list[Fill] = []
        if job.fills is not None:
            for fill in rest.get_fills(**job.fills.params()):  # pages lazily
                fills.append(fill)
                if len(fills) % 100 == 0:
                    self._check(job)
        self._check(job)
        resting: list[Order] = []
        closed: list[Order] = []
        if job.orders is not None:
            sub = job.orders.scope.subaccount
            resting = list(rest.get_orders(status="resting", subaccount=sub))
            for order_id in job.orders.vanished(resting):
                self._check(job)
                # Not found: reported as gone with its final state unknown.
                with contextlib.suppress(OrderNotFoundError):
                    closed.append(rest.get_order(order_id))
        self._check(job)
        positions: dict[int, list[Position]] = {}
        if job.positions is not None:
            for sub in sorted(job.positions.subaccounts):
                positions[sub] = list(rest.get_positions(subaccount=sub))
        return _Result(job=job, fills=fills, resting=resting, closed=closed, positions=positions)


class AccountSync:
    """Fills, orders and positions kept across reconnects (see the module docstring).

    ``rest``: a ``RestClient`` for recovery, or None (recovery off: views go live on
    subscription, nothing is read back). ``routing``: the registry (its published routing
    snapshot tells which private sids are up). ``scope_of(channel)``: the subscription's
    markets and subaccount. ``recover_since``: Unix seconds to read fills from at start.
    ``wall``/``monotonic``: clocks (``time.time``/``time.monotonic``). ``on_result``: called
    on the worker thread after it queued a result (to wake the network thread; the next
    ``on_tick`` applies it either way).
    """

    def __init__(
        self,
        rest: Any | None,
        routing: RoutingSource,
        scope_of: Callable[[str], AccountFilter],
        *,
        recover_since: float | None = None,
        margin: float = DEFAULT_MARGIN,
        scheduler: RecoveryScheduler | None = None,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        on_result: Callable[[], object] | None = None,
        make_rest: Callable[[], Any] | None = None,
    ) -> None:
        self.rest = rest
        self._routing = routing
        self._scope_of = scope_of
        self._recover_since = recover_since
        self._wall = wall
        self._monotonic = monotonic
        self.ledger = FillLedger(margin=margin)
        self.orders = OrdersView()
        self.positions = PositionsView()
        self.scheduler = scheduler or RecoveryScheduler()
        self._results: queue.SimpleQueue[_Result] = queue.SimpleQueue()
        enabled = rest is not None or make_rest is not None
        self._worker = _Worker(rest, self._results, on_result, make_rest) if enabled else None
        self._jobs = 0
        self._sids: frozenset[int] = frozenset()  # private sids seen up (this connection)
        self._blind_from: float | None = None  # wall clock: fills unread since then
        self._blind_until: float | None = None
        self._round_fills = False  # the running round reads fills

    # -- network thread ---------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """True when REST recovery is on."""
        return self._worker is not None

    def on_connected(self, now: float) -> None:
        """A connection is up (``now``: wall clock). Private sids are new from here on."""
        self._sids = frozenset()
        if self._blind_from is not None:
            self._blind_until = now

    def on_disconnected(self, now: float) -> None:
        """The connection dropped (``now``: wall clock): views stale, fills blind from now
        (if ``fill`` was subscribed at all)."""
        self._sids = frozenset()
        self.orders.mark_stale()
        self.positions.mark_stale()
        if self.ledger.origin_ms is not None and self._blind_from is None:
            self._blind_from = now

    def on_private_message(self, msg: Any) -> bool:
        """A live fill, user_order or market_position. True: deliver it; False: a fill
        delivered before (live or recovered)."""
        mtype = msg.type
        if mtype == "fill":
            return self.ledger.on_live(msg)
        if mtype == "user_order":
            self.orders.on_message(msg)
        elif mtype == "market_position":
            self.positions.on_message(msg)
        return True

    def on_tick(self, now: float | None = None) -> list[Deliverable]:
        """Apply finished REST reads, start due ones; returns what to deliver, in order.
        ``now``: the monotonic clock (read when None)."""
        mono = self._monotonic() if now is None else now
        out: list[Deliverable] = []
        while True:
            try:
                result = self._results.get_nowait()
            except queue.Empty:
                break
            out.extend(self._apply(result, mono))
        self._watch_sids(mono)
        attempt = self.scheduler.on_tick(mono)
        if attempt is not None:
            self._start(attempt)
        return out

    def close(self, timeout: float | None = 5.0) -> bool:
        """Stop the worker thread (any thread). True when it has ended."""
        return True if self._worker is None else self._worker.stop(timeout)

    @property
    def worker_thread(self) -> threading.Thread | None:
        return None if self._worker is None else self._worker.thread

    # -- any thread -------------------------------------------------------------------------

    def orders_snapshot(self) -> RestingOrders:
        return self.orders.snapshot()

    def positions_snapshot(self) -> Positions:
        return self.positions.snapshot()

    # -- internals (network thread) -----------------------------------------------------------

    def _private_sids(self) -> dict[int, str]:
        return {
            sid: route.channel
            for sid, route in self._routing.routing.routes.items()
            if route.channel in PRIVATE_CHANNELS
        }

    def _watch_sids(self, mono: float) -> None:
        sids = self._private_sids()
        if not sids or sids.keys() <= self._sids:
            self._sids = frozenset(sids)  # unsubscribed sids leave the set
            return
        self._sids = frozenset(sids)
        channels = set(sids.values())
        if "fill" in channels:
            self.ledger.on_subscribed(self._wall())
        if self._worker is None:
            if "user_orders" in channels:
                self.orders.mark_live()
            if "market_positions" in channels:
                self.positions.mark_live()
            self._blind_from = self._blind_until = None
            return
        self.scheduler.request(mono, blind_from=self._blind_from, blind_until=self._blind_until)

    def _channels_up(self) -> set[str]:
        return set(self._private_sids().values())

    def _start(self, attempt: RecoveryAttempt) -> None:
        assert self._worker is not None
        channels = self._channels_up()
        query: FillQuery | None = None
        if "fill" in channels and (self._blind_from is not None or self._recover_since):
            query = self.ledger.begin_recovery(
                self._wall(),
                scope=self._scope_of("fill"),
                blind_since=self._blind_from,
                recover_since=self._recover_since,
            )
        self._round_fills = query is not None
        orders = (
            self.orders.begin_reconcile(self._scope_of("user_orders"))
            if "user_orders" in channels
            else None
        )
        positions = (
            self.positions.begin_reconcile(self._scope_of("market_positions"))
            if "market_positions" in channels
            else None
        )
        self._jobs += 1
        job = _Job(
            number=self._jobs, attempt=attempt, fills=query, orders=orders, positions=positions
        )
        self._worker.submit(job)

    def _apply(self, result: _Result, mono: float) -> list[Deliverable]:
        job = result.job
        scheduler = self.scheduler
        if not scheduler.is_current(job.attempt):
            return []  # a reconnect since: the newer round covers this one's range
        if result.error is not None:
            if job.fills is not None:
                self.ledger.abandon_recovery(job.fills.generation)
            error = result.error
            retry_after = error.retry_after if isinstance(error, RateLimitError) else None
            log.warning("recovery attempt %d failed: %r", job.attempt.number, error)
            failed = scheduler.failed(job.attempt, mono, error, retry_after=retry_after)
            return [] if failed is None else [(failed, ())]
        fills: list[Fill] = []
        if job.fills is not None:
            generation = job.fills.generation
            self.ledger.on_recovered_page(generation, result.fills)
            fills = self.ledger.finish_recovery(generation) or []
            self._blind_from = self._blind_until = None
            self._recover_since = None
        orders: list[UserOrder] = []
        if job.orders is not None:
            orders = (
                self.orders.apply_rest_snapshot(job.orders, result.resting, result.closed) or []
            )
        positions: list[MarketPosition] = []
        if job.positions is not None:
            positions = self.positions.apply_rest_snapshot(job.positions, result.positions) or []
        done = scheduler.succeeded(
            job.attempt, mono, fills=len(fills), orders=len(orders), positions=len(positions)
        )
        out: list[Deliverable] = []
        for group in (fills, orders, positions):
            out.extend((msg, self._targets(msg.type)) for msg in group)
        if done is not None:
            out.append((done, ()))
        return out

    def _targets(self, mtype: str) -> tuple[Target, ...]:
        """The handles of the channel that delivers ``mtype``: a recovered message goes to
        the same callbacks a live one would."""
        channel = _CHANNEL_OF_TYPE.get(mtype)
        targets: list[Target] = []
        for route in self._routing.routing.routes.values():
            if route.channel == channel:
                targets.extend(route.targets)
        return tuple(targets)

    def __repr__(self) -> str:
        return (
            f"AccountSync(enabled={self.enabled}, {self.ledger!r}, {self.orders!r}, "
            f"{self.positions!r}, {self.scheduler!r})"
        )
