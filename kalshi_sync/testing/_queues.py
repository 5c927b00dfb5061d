"""Order queues of the fake exchange: who rests where, in what order (sans-I/O).

:class:`BookQueues` is the half of the matching engine that knows no matching rules: per
market and leg, each price level is a FIFO list of resting order ids, and every change of
resting quantity goes through :meth:`BookQueues._change`, which updates the aggregate
:class:`~kalshi_sync.testing._books.BookStore` (what WebSocket snapshots are built from) and
records a :class:`~kalshi_sync.testing._orders.BookChange` event (what ``orderbook_delta``
frames are built from). That single path is what keeps the levels, the snapshots and the
deltas equal. It also holds the liquidity a test scripts (``set_book``/``apply_delta``):
anonymous resting orders that never match on arrival.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal

from ._books import BookStore, Level, to_decimal
from ._orders import (
    ONE,
    ZERO,
    BookChange,
    EngineError,
    Event,
    Leg,
    OrderState,
    Outcome,
    Side,
    Status,
    evolve,
)

__all__ = ["Action", "BookQueues"]


def other_leg(leg: Leg) -> Leg:
    return "no" if leg == "yes" else "yes"


class Action:
    """Scratch state of one engine call: the events so far and the taker's totals."""

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms
        self.events: list[Event] = []
        self.fill_count = ZERO
        self.total_cost = ZERO
        self.total_fees = ZERO

    def outcome(self, order: OrderState | None, reduced_by: Decimal = ZERO) -> Outcome:
        return Outcome(
            order,
            tuple(self.events),
            self.fill_count,
            self.total_cost,
            self.total_fees,
            reduced_by,
        )


class BookQueues:
    """Resting orders per level, the aggregate book, and scripted liquidity."""

    def __init__(self, books: BookStore | None, new_id: Callable[[], str] | None) -> None:
        self.books = books if books is not None else BookStore()
        self._new_id = new_id if new_id is not None else lambda: str(uuid.uuid4())
        self._orders: dict[str, OrderState] = {}  # named owners' orders, and resting ones
        # (ticker, leg) -> leg price -> order ids, oldest first (the queue)
        self._queues: dict[tuple[str, Leg], dict[Decimal, list[str]]] = {}
        self._tickers: dict[str, None] = {}  # every market seen, in first-seen order

    # ---- reads ----------------------------------------------------------------------

    def order(self, order_id: str) -> OrderState | None:
        return self._orders.get(order_id)

    def orders(self, owner: str | None = None) -> list[OrderState]:
        """Orders in placement order; ``owner`` None means every named owner's."""
        return [
            o
            for o in self._orders.values()
            if o.owner is not None and (owner is None or o.owner == owner)
        ]

    def resting(self, ticker: str, leg: Leg) -> list[OrderState]:
        """Resting orders on one leg in priority order (best price, then oldest)."""
        levels = self._queues.get((ticker, leg), {})
        return [self._orders[i] for p in sorted(levels, reverse=True) for i in levels[p]]

    def tickers(self) -> list[str]:
        """Every market that had a book or an order, in first-seen order."""
        return list(self._tickers)

    # ---- expiry ------------------------------------------------------------------------

    def next_expiry_ms(self) -> int | None:
        """When the earliest resting order expires (epoch ms), None if none will."""
        times = [
            o.expiration_time * 1000
            for o in self._orders.values()
            if o.status == "resting" and o.expiration_time is not None
        ]
        return min(times, default=None)

    def expire(self, now_ms: int) -> Outcome:
        """Cancel resting orders whose ``expiration_time`` has come (``ExpiryCancel``)."""
        act = Action(now_ms)
        self._expire(act)
        return act.outcome(None)

    def _expire(self, act: Action) -> None:
        for order in list(self._orders.values()):
            if (
                order.status == "resting"
                and order.expiration_time is not None
                and order.expiration_time * 1000 <= act.now_ms
            ):
                self._close(order, act, "canceled", "ExpiryCancel")

    # ---- scripted liquidity -----------------------------------------------------------

    def set_book(self, ticker: str, yes: Iterable[Level] = (), no: Iterable[Level] = ()) -> None:
        """Replace the anonymous liquidity of a market (named owners' orders stay); the
        BookStore becomes the sum of what rests. Emits nothing (like the plain fake)."""
        self._tickers[ticker] = None
        for side in ("yes", "no"):
            levels = self._queues.get((ticker, side), {})
            for price in list(levels):
                for oid in list(levels[price]):
                    if self._orders[oid].owner is None:
                        self._dequeue(self._orders.pop(oid))
        sides: tuple[tuple[Leg, Iterable[Level]], ...] = (("yes", yes), ("no", no))
        for leg, given in sides:
            for p, c in given:
                price, count = to_decimal(p), to_decimal(c)
                if count > 0:
                    self._enqueue(self._anonymous(ticker, leg, price, count, 0))
        self.books.set_book(ticker, *self._aggregate(ticker))

    def add_liquidity(self, ticker: str, leg: Leg, price: Decimal, delta: Decimal) -> Decimal:
        """Add (delta > 0) or pull (delta < 0, newest first) anonymous contracts at a level,
        without matching; returns the delta to publish. A pull never touches named owners'
        orders: where they rest it is capped at the anonymous quantity (and the capped delta
        is returned); elsewhere the delta is returned as given, and the level floors at 0
        exactly as a client applying it does."""
        self._tickers[ticker] = None
        queue = self._queues.get((ticker, leg), {}).get(price, [])
        if delta > 0:
            tail = self._orders[queue[-1]] if queue else None
            if tail is not None and tail.owner is None:
                # Anonymous contracts at the back of the queue are one block: growing it
                # is the same as queueing a new order behind it, and keeps queues short.
                grown = tail.remaining_count + delta
                self._orders[tail.order_id] = evolve(tail, remaining_count=grown)
            else:
                self._enqueue(self._anonymous(ticker, leg, price, delta, 0))
            self.books.apply_delta(ticker, leg, price, delta)
            return delta
        named = any(self._orders[i].owner is not None for i in queue)
        left = -delta
        for oid in reversed(list(queue)):
            order = self._orders[oid]
            if order.owner is not None or left <= 0:
                continue
            take = min(left, order.remaining_count)
            left -= take
            if take == order.remaining_count:
                self._dequeue(self._orders.pop(oid))
            else:
                self._orders[oid] = evolve(order, remaining_count=order.remaining_count - take)
        published = -(-delta - left) if named else delta
        if published:
            self.books.apply_delta(ticker, leg, price, published)
        return published

    def _anonymous(
        self, ticker: str, leg: Leg, price: Decimal, count: Decimal, now_ms: int
    ) -> OrderState:
        side: Side = "bid" if leg == "yes" else "ask"
        return OrderState(
            order_id=self._new_id(),
            owner=None,
            subaccount=0,
            client_order_id=None,
            ticker=ticker,
            side=side,
            price=price if leg == "yes" else ONE - price,
            time_in_force="good_till_canceled",
            self_trade_prevention_type="taker_at_cross",
            initial_count=count,
            remaining_count=count,
            created_ts_ms=now_ms,
            last_update_ts_ms=now_ms,
        )

    def _crossing(self, order: OrderState) -> list[str]:
        """Resting order ids the order would meet, in priority order."""
        levels = self._queues.get((order.ticker, other_leg(order.leg)), {})
        floor = ONE - order.leg_price
        return [i for p in sorted(levels, reverse=True) if p >= floor for i in levels[p]]

    # ---- order and book bookkeeping ---------------------------------------------------

    def _resting_of(self, owner: str | None, order_id: str) -> OrderState:
        order = self._orders.get(order_id)
        if order is None or order.owner != owner or order.status != "resting":
            raise EngineError(404, "not_found", f"no resting order {order_id!r}")
        return order

    def _update(self, order: OrderState, act: Action, reason: str | None) -> OrderState:
        order = evolve(order, last_update_ts_ms=act.now_ms, last_update_reason=reason)
        self._orders[order.order_id] = order
        if order.owner is not None:
            act.events.append(order)
        return order

    def _shrink(self, order: OrderState, new: Decimal, reason: str, act: Action) -> OrderState:
        self._change(order, new - order.remaining_count, act)
        return self._update(evolve(order, remaining_count=new), act, reason)

    def _close(
        self,
        order: OrderState,
        act: Action,
        status: Status,
        reason: str | None,
        *,
        dequeue: bool | None = None,
        change: bool = True,
    ) -> OrderState:
        """End an order: off the book (if it rests there), remaining 0, final version."""
        queued = self._queued(order) if dequeue is None else dequeue
        if queued:
            self._dequeue(order)
            if change and order.remaining_count:
                self._change(order, -order.remaining_count, act)
        final = evolve(order, status=status, remaining_count=ZERO)
        if order.owner is None:
            self._orders.pop(order.order_id, None)  # "the market" keeps no history
            return final
        return self._update(final, act, reason)

    def _queued(self, order: OrderState) -> bool:
        queue = self._queues.get((order.ticker, order.leg), {}).get(order.leg_price, [])
        return order.order_id in queue

    def _enqueue(self, order: OrderState) -> None:
        self._tickers[order.ticker] = None
        self._orders[order.order_id] = order
        levels = self._queues.setdefault((order.ticker, order.leg), {})
        levels.setdefault(order.leg_price, []).append(order.order_id)

    def _dequeue(self, order: OrderState) -> None:
        levels = self._queues.get((order.ticker, order.leg), {})
        queue = levels.get(order.leg_price, [])
        if order.order_id in queue:
            queue.remove(order.order_id)
            if not queue:
                del levels[order.leg_price]

    def _change(self, order: OrderState, delta: Decimal, act: Action) -> None:
        self.books.apply_delta(order.ticker, order.leg, order.leg_price, delta)
        act.events.append(
            BookChange(
                order.ticker,
                order.leg,
                order.leg_price,
                delta,
                order.owner,
                order.subaccount,
                order.client_order_id,
                act.now_ms,
            )
        )

    def _aggregate(self, ticker: str) -> tuple[list[Level], list[Level]]:
        sides: list[list[Level]] = []
        for leg in ("yes", "no"):
            levels = self._queues.get((ticker, leg), {})
            sides.append(
                [
                    (p, sum((self._orders[i].remaining_count for i in q), ZERO))
                    for p, q in levels.items()
                ]
            )
        return sides[0], sides[1]
