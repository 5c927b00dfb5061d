"""The fake exchange's matching engine: a sans-I/O object, plain calls in, events out.

Books are Kalshi's: YES bids and NO bids per market, each level a FIFO queue of resting
orders. A V2 order is on the YES book (``bid`` = buy YES at ``price``, ``ask`` = sell YES =
a NO bid at ``1 - price``); it crosses the other leg's levels ``r`` with ``r + own leg price
>= 1``, best level first, oldest order first, and every execution happens at the **resting**
order's price. The aggregate levels live in a :class:`~kalshi_sync.testing._books.BookStore`
that the WebSocket side serves snapshots from, so there is one book, not two.

Rules (docs/trading.md, "Orders (V2, /portfolio/events/orders)" and "The fake exchange"):

* ``good_till_canceled`` rests what does not fill; ``immediate_or_cancel`` cancels it;
  ``fill_or_kill`` executes completely or is refused (409
  ``fill_or_kill_insufficient_resting_volume``, as Kalshi's production API answers) and
  leaves no trace.
* ``post_only`` that would cross is stored cancelled (``PostOnlyCrossCancel``), nothing
  filled. ``reduce_only`` (IOC only) caps the fill at the position it reduces; what the
  cap cuts off is cancelled (``ReduceOnlyCancel``).
* Self-trade prevention, when a taker meets a resting order of the same owner (any
  subaccount): ``taker_at_cross`` stops there and cancels the taker's remainder
  (``SelfTradeCancel``; fills before that stand); ``maker`` cancels the resting order
  (``SelfTradeCancel``) and keeps matching. Anonymous orders never self-trade.
* Amend: a price change or a larger remainder re-enters the order at the back of the queue
  (and it may cross and fill, as a taker); a smaller remainder keeps its place.
  Decrease keeps the place; reducing to 0 cancels (``Decrease``).
* ``expiration_time`` (GTC only, Unix seconds) cancels at that time (``ExpiryCancel``)
  when the engine is ticked: :meth:`MatchingEngine.expire` (the server ticks before every
  request and when the next expiry is due). Actions do not tick by themselves, so that a
  refused action changes nothing at all.

Liquidity scripted with :meth:`MatchingEngine.set_book` / :meth:`add_liquidity` rests as
anonymous orders and never matches on arrival (a scripted book may even be crossed, as
the plain WebSocket fake always allowed); only submitted orders match.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from ._books import BookStore
from ._ledger import DEFAULT_BALANCE, Ledger
from ._orders import (
    ZERO,
    EngineError,
    FeeSchedule,
    Fill,
    OrderState,
    Outcome,
    Trade,
    evolve,
    leg_price,
)
from ._queues import Action, BookQueues
from ._validate import check_count, check_create, check_price

__all__ = ["MatchingEngine"]


class MatchingEngine(BookQueues):
    """Orders, books, fills and accounts of a fake exchange. Not thread-safe: the server
    calls it under its own lock. Every mutating call takes ``now_ms`` (epoch ms) and
    returns an :class:`Outcome`; refusals raise :class:`EngineError` and change nothing."""

    def __init__(
        self,
        books: BookStore | None = None,
        *,
        fees: FeeSchedule | None = None,
        default_balance: Decimal = DEFAULT_BALANCE,
        new_id: Callable[[], str] | None = None,
    ) -> None:
        super().__init__(books, new_id)
        self.fees = fees if fees is not None else FeeSchedule()
        self.ledger = Ledger(default_balance)
        self._client_ids: dict[str, set[str]] = {}  # owner -> every client_order_id used
        self._fills: list[Fill] = []

    def fills(self, owner: str | None = None) -> list[Fill]:
        """Fills in execution order (``owner`` None: every account's)."""
        return [f for f in self._fills if owner is None or f.owner == owner]

    def find_client_order(self, owner: str, client_order_id: str) -> OrderState | None:
        """The owner's order placed (or amended) with this client id, if any."""
        for o in self._orders.values():
            if o.owner == owner and o.client_order_id == client_order_id:
                return o
        return None

    # ---- actions --------------------------------------------------------------------

    def create(
        self,
        owner: str | None,
        *,
        ticker: str,
        side: str,
        price: Decimal,
        count: Decimal,
        time_in_force: str,
        now_ms: int,
        self_trade_prevention_type: str = "taker_at_cross",
        client_order_id: str | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        expiration_time: int | None = None,
        order_group_id: str | None = None,
        cancel_order_on_pause: bool = False,
        subaccount: int = 0,
    ) -> Outcome:
        """Place an order (see the module docstring for the rules)."""
        act = self._begin(now_ms)
        book_side = check_create(
            side,
            price,
            count,
            time_in_force,
            self_trade_prevention_type,
            post_only,
            reduce_only,
            expiration_time,
            now_ms,
        )
        if (
            owner is not None
            and client_order_id is not None
            and client_order_id in self._client_ids.get(owner, set())
        ):
            raise EngineError(
                409, "order_already_exists", "an order with this client_order_id exists"
            )
        order = OrderState(
            order_id=self._new_id(),
            owner=owner,
            subaccount=subaccount,
            client_order_id=client_order_id,
            ticker=ticker,
            side=book_side,
            price=price,
            time_in_force=time_in_force,
            self_trade_prevention_type=self_trade_prevention_type,
            initial_count=count,
            remaining_count=count,
            created_ts_ms=now_ms,
            last_update_ts_ms=now_ms,
            post_only=post_only,
            reduce_only=reduce_only,
            expiration_time=expiration_time,
            order_group_id=order_group_id,
            cancel_order_on_pause=cancel_order_on_pause,
        )
        cap = count
        if reduce_only:
            cap = min(count, self._reducible(order))
        if time_in_force == "fill_or_kill" and self._fillable(order, count) < count:
            raise EngineError(
                409,
                "fill_or_kill_insufficient_resting_volume",
                "fill or kill insufficient resting volume",
            )
        if owner is not None and client_order_id is not None:
            self._client_ids.setdefault(owner, set()).add(client_order_id)
        self._orders[order.order_id] = order
        self._tickers[ticker] = None
        final = self._take(order, act, cap, entering=True)
        return act.outcome(final)

    def cancel(self, owner: str | None, order_id: str, *, now_ms: int) -> Outcome:
        """Cancel a resting order of ``owner``; 404 ``not_found`` otherwise."""
        act = self._begin(now_ms)
        order = self._resting_of(owner, order_id)
        reduced = order.remaining_count
        final = self._close(order, act, "canceled", None)
        return act.outcome(final, reduced)

    def cancel_all(
        self,
        owner: str | None,
        *,
        now_ms: int,
        subaccount: int | None = None,
        ticker: str | None = None,
    ) -> Outcome:
        """Cancel every resting order of ``owner`` (optionally one subaccount / market)."""
        act = self._begin(now_ms)
        for order in list(self._orders.values()):
            if (
                order.status == "resting"
                and order.owner == owner
                and (subaccount is None or order.subaccount == subaccount)
                and (ticker is None or order.ticker == ticker)
            ):
                self._close(order, act, "canceled", None)
        return act.outcome(None)

    def decrease(
        self,
        owner: str | None,
        order_id: str,
        *,
        now_ms: int,
        reduce_by: Decimal | None = None,
        reduce_to: Decimal | None = None,
    ) -> Outcome:
        """Take contracts off a resting order, keeping its place; to 0 cancels it."""
        act = self._begin(now_ms)
        if (reduce_by is None) == (reduce_to is None):
            raise EngineError(400, "invalid_parameters", "give exactly one of reduce_by, reduce_to")
        order = self._resting_of(owner, order_id)
        if reduce_by is not None:
            check_count(reduce_by, "reduce_by")
            new = max(ZERO, order.remaining_count - reduce_by)
        else:
            assert reduce_to is not None
            check_count(reduce_to, "reduce_to", allow_zero=True)
            if reduce_to > order.remaining_count:
                raise EngineError(
                    400, "invalid_parameters", "reduce_to is above the remaining count"
                )
            new = reduce_to
        cut = order.remaining_count - new
        if new == 0:
            final = self._close(order, act, "canceled", "Decrease")
        else:
            final = self._shrink(order, new, "Decrease", act) if cut else order
        return act.outcome(final, cut)

    def amend(
        self,
        owner: str | None,
        order_id: str,
        *,
        price: Decimal,
        count: Decimal,
        now_ms: int,
        ticker: str | None = None,
        side: str | None = None,
        updated_client_order_id: str | None = None,
        expiration_time: int | None = None,
    ) -> Outcome:
        """Set a resting order's price and total count (filled + wanted remainder).

        ``expiration_time`` None keeps it, 0 removes it."""
        act = self._begin(now_ms)
        order = self._resting_of(owner, order_id)
        if (ticker is not None and ticker != order.ticker) or (
            side is not None and side != order.side
        ):
            raise EngineError(400, "invalid_parameters", "ticker and side must match the order")
        check_price(price)
        check_count(count, "count")
        remaining = count - order.fill_count
        if remaining <= 0:
            raise EngineError(400, "invalid_parameters", "count must exceed the filled count")
        expiry = order.expiration_time
        if expiration_time is not None:
            if expiration_time != 0 and expiration_time * 1000 <= now_ms:
                raise EngineError(400, "invalid_parameters", "expiration_time is in the past")
            expiry = expiration_time or None
        client_id = order.client_order_id
        if updated_client_order_id is not None and updated_client_order_id != client_id:
            if owner is not None and updated_client_order_id in self._client_ids.get(owner, ()):
                raise EngineError(
                    409, "order_already_exists", "an order with this client_order_id exists"
                )
            if owner is not None:
                self._client_ids.setdefault(owner, set()).add(updated_client_order_id)
            client_id = updated_client_order_id
        order = evolve(order, client_order_id=client_id, expiration_time=expiry)
        self._orders[order.order_id] = order
        if price == order.price and remaining <= order.remaining_count:
            if remaining < order.remaining_count:
                final = self._shrink(order, remaining, "Amend", act)
            else:
                final = self._update(order, act, "Amend")
            return act.outcome(final)
        # Re-enter at the back of the queue at the new price; it may cross and fill.
        self._dequeue(order)
        self._change(order, -order.remaining_count, act)
        moved = evolve(order, price=price, remaining_count=remaining)
        self._orders[order.order_id] = moved
        final = self._take(moved, act, remaining, entering=False)
        return act.outcome(final)

    # ---- matching -------------------------------------------------------------------

    def _begin(self, now_ms: int) -> Action:
        return Action(now_ms)

    def _self_trade(self, taker: OrderState, maker: OrderState) -> bool:
        return taker.owner is not None and taker.owner == maker.owner

    def _fillable(self, order: OrderState, want: Decimal) -> Decimal:
        """How much would fill now (FOK pre-check), STP included, without changing state."""
        got = ZERO
        for oid in self._crossing(order):
            maker = self._orders[oid]
            if self._self_trade(order, maker):
                if order.self_trade_prevention_type == "taker_at_cross":
                    break
                continue
            got += maker.remaining_count
            if got >= want:
                break
        return got

    def _reducible(self, order: OrderState) -> Decimal:
        if order.owner is None:
            return ZERO
        position = self.ledger.position(order.owner, order.subaccount, order.ticker).position
        return max(ZERO, -position if order.side == "bid" else position)

    def _take(self, order: OrderState, act: Action, cap: Decimal, *, entering: bool) -> OrderState:
        """Match ``order`` (not yet in a queue) for up to ``cap``, then rest or close it."""
        if order.post_only and self._crossing(order):
            return self._close(order, act, "canceled", "PostOnlyCrossCancel")
        filled = ZERO
        stopped = False
        for oid in self._crossing(order):
            if filled >= cap:
                break
            maker = self._orders[oid]
            if self._self_trade(order, maker):
                if order.self_trade_prevention_type == "taker_at_cross":
                    stopped = True
                    break
                self._close(maker, act, "canceled", "SelfTradeCancel")
                continue
            qty = min(cap - filled, maker.remaining_count)
            order = self._execute(order, maker, qty, act)
            filled += qty
        # An amended order that did not trade reports the amend; placement has no reason.
        traded = "Trade" if filled else (None if entering else "Amend")
        if stopped:
            return self._close(order, act, "canceled", "SelfTradeCancel")
        if order.remaining_count == 0:
            return self._close(order, act, "executed", traded)
        if order.time_in_force == "good_till_canceled":
            self._enqueue(order)
            self._change(order, order.remaining_count, act)
            return self._update(order, act, traded)
        capped = order.reduce_only and filled >= cap
        return self._close(order, act, "canceled", "ReduceOnlyCancel" if capped else traded)

    def _execute(
        self, taker: OrderState, maker: OrderState, qty: Decimal, act: Action
    ) -> OrderState:
        yes_price = maker.price  # the resting order's price, on the YES scale
        trade_id = self._new_id()
        ts = act.now_ms
        maker_fee = self.fees.fee(qty, yes_price, is_taker=False)
        taker_fee = self.fees.fee(qty, yes_price, is_taker=True)
        left = maker.remaining_count - qty
        maker = evolve(
            maker,
            fill_count=maker.fill_count + qty,
            remaining_count=left,
            maker_fill_cost=maker.maker_fill_cost + leg_price(maker.side, yes_price) * qty,
            maker_fees=maker.maker_fees + maker_fee,
        )
        self._orders[maker.order_id] = maker
        self._change(maker, -qty, act)
        act.events.append(Trade(trade_id, taker.ticker, yes_price, qty, taker.side, ts))
        self._book_fill(maker, trade_id, yes_price, qty, maker_fee, False, act)
        if left == 0:
            self._close(maker, act, "executed", "Trade", dequeue=True, change=False)
        else:
            self._update(maker, act, "Trade")
        taker = evolve(
            taker,
            fill_count=taker.fill_count + qty,
            remaining_count=taker.remaining_count - qty,
            taker_fill_cost=taker.taker_fill_cost + leg_price(taker.side, yes_price) * qty,
            taker_fees=taker.taker_fees + taker_fee,
        )
        self._orders[taker.order_id] = taker
        self._book_fill(taker, trade_id, yes_price, qty, taker_fee, True, act)
        act.fill_count += qty
        act.total_cost += yes_price * qty
        act.total_fees += taker_fee
        return taker

    def _book_fill(
        self,
        order: OrderState,
        trade_id: str,
        yes_price: Decimal,
        qty: Decimal,
        fee: Decimal,
        is_taker: bool,
        act: Action,
    ) -> None:
        if order.owner is None:
            return
        position = self.ledger.apply_fill(
            order.owner,
            order.subaccount,
            order.ticker,
            order.leg,
            leg_price(order.side, yes_price),
            qty,
            fee,
            act.now_ms,
        )
        fill = Fill(
            trade_id,
            order.order_id,
            order.client_order_id,
            order.owner,
            order.subaccount,
            order.ticker,
            order.side,
            yes_price,
            qty,
            is_taker,
            fee,
            position.position,
            act.now_ms,
        )
        self._fills.append(fill)
        act.events += [fill, position]
