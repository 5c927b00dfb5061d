"""Kept views of the account: resting orders and positions, live from the WebSocket and
reconciled from REST after every reconnect.

:class:`OrdersView` holds the latest ``user_order`` message of every resting order, keyed by
``order_id``; :class:`PositionsView` the latest ``market_position`` message per (market,
subaccount). Like books they have a ``state`` (:data:`ACCOUNT_STATES`): "live", "stale"
(disconnected: the content is the last known) or "reconciling" (a REST read is in flight),
and hand out immutable copies (:class:`RestingOrders`, :class:`Positions`) to any thread.
Thread-safety as :class:`~kalshi_sync.orderbook.BookStore`: one writer calls the mutating
methods, any thread calls ``snapshot()`` and ``state``; one lock, held only to mutate or copy.
No I/O: the caller reads REST and hands the results over with the token it was given
(docs/architecture.md, 'Fills and orders across reconnects').

**Live messages during a REST read.** They are applied at once, and the view remembers, per
order or position, the latest live message since the connection came up. When the REST
snapshot is applied, such a key keeps its live state: the stream is ordered, so anything
newer than that message arrives after it, while REST may answer from before it. An order is
taken from REST instead only when REST is provably newer: a larger ``fill_count`` (it never
decreases), else a later last-update time, and never over a live canceled/executed message.
Every other key is replaced from REST, and a key whose state changed while blind (new,
changed, or gone) is returned as a message with ``recovered=True``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from ._account_snapshots import (
    ACCOUNT_STATES,
    AccountFilter,
    PositionKey,
    Positions,
    RestingOrders,
    position_from_rest,
    user_order_from_rest,
)
from .account import Order, Position
from .models import MarketPosition, UserOrder

__all__ = ["ACCOUNT_STATES", "OrdersView", "PositionsView", "ReconcileToken"]

_TERMINAL = frozenset({"canceled", "executed"})
_ZERO = Decimal(0)


def _changed(old: Any, new: Any, fields: tuple[str, ...]) -> bool:
    """True when a field both messages carry differs (a field one lacks is not a change)."""
    for name in fields:
        a, b = getattr(old, name), getattr(new, name)
        if a is not None and b is not None and a != b:
            return True
    return False


_ORDER_STATE = (
    "status",
    "yes_price",
    "no_price",
    "fill_count",
    "remaining_count",
    "initial_count",
    "taker_fill_cost",
    "maker_fill_cost",
    "taker_fees",
    "maker_fees",
    "order_group_id",
    "expiration_ts_ms",
)
_POSITION_STATE = ("position", "position_cost", "realized_pnl", "fees_paid")


def _rest_newer(rest: UserOrder, live: UserOrder) -> bool:
    """True when the REST order is provably newer than the live message (module docstring)."""
    if live.status in _TERMINAL:
        return False  # final: nothing comes after a cancel or the last fill
    ours, theirs = rest.fill_count, live.fill_count
    if ours is not None and theirs is not None and ours != theirs:
        return ours > theirs  # equal counts say nothing: fall through to the times
    a, b = rest.last_updated_ts_ms, live.last_updated_ts_ms
    return a is not None and b is not None and a > b


def _resting(msg: UserOrder) -> bool:
    """Still resting as far as the message says: not canceled/executed, nothing left to fill
    not stated. A message without a status (or ``unknown``) keeps its order in the view."""
    return msg.status not in _TERMINAL and msg.remaining_count != _ZERO


def _gone(last: UserOrder) -> UserOrder:
    """An order that left the resting set while blind, final state unread: its identity from
    the last message, ``status`` None (named in ``missing``), ``remaining_count`` 0 -- the one
    thing known: nothing of it rests -- and the other counts None."""
    keep = (
        "order_id", "ticker", "user_id", "client_order_id", "order_group_id", "exchange_index",
        "side", "is_yes", "outcome_side", "book_side", "yes_price", "no_price", "initial_count",
        "self_trade_prevention_type", "created_time", "created_ts_ms", "subaccount_number",
    )  # fmt: skip
    values = {name: getattr(last, name) for name in keep}
    return UserOrder(
        type="user_order", missing=("status",), recovered=True, remaining_count=_ZERO, **values
    )


# -- the views ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ReconcileToken:
    """One REST read of a view, from :meth:`OrdersView.begin_reconcile` or
    :meth:`PositionsView.begin_reconcile`; immutable, so the worker doing the read may hold
    it. ``scope``: the subscription's markets and subaccount (REST results outside it are
    ignored). ``resting``: order ids resting when the read began -- those missing from the
    REST answer left the resting set while blind; read their final state with ``get_order``
    (:meth:`vanished`). ``subaccounts``: the subaccounts whose positions to read."""

    generation: int
    scope: AccountFilter
    resting: frozenset[str] = frozenset()
    subaccounts: frozenset[int] = frozenset()

    def vanished(self, orders: Iterable[Order]) -> list[str]:
        """The ids in ``resting`` that the REST answer ``orders`` no longer lists, sorted."""
        return sorted(self.resting - {order.order_id for order in orders})


class _View:
    """State, lock, tokens and the live-message log shared by both views."""

    def __init__(self) -> None:
        # Guards every attribute below. Held only to mutate or copy, never while user code
        # or REST runs.
        self._lock = threading.Lock()
        self._state = "stale"  # nothing known before the first REST read
        self._generation = 0
        self._pending: ReconcileToken | None = None
        self.messages = 0
        self.recovered = 0
        self.superseded = 0
        self.unkeyed = 0  # live messages without the key field: delivered, not kept

    @property
    def state(self) -> str:
        """ "live" | "stale" | "reconciling" (see :data:`ACCOUNT_STATES`)."""
        return self._state

    def mark_stale(self) -> None:
        """The connection dropped: keep the content, stop trusting it. A REST read in flight
        is void (its token is refused); the next reconnect begins a new one."""
        with self._lock:
            self._state = "stale"
            self._pending = None
            self._live_since_up().clear()

    def mark_live(self) -> None:
        """In step with the stream without a REST read (recovery turned off)."""
        with self._lock:
            self._state = "live"
            self._pending = None

    def _begin(self, scope: AccountFilter | None, **known: Any) -> ReconcileToken:
        # Caller holds the lock.
        if self._pending is not None:
            self.superseded += 1
        self._generation += 1
        self._state = "reconciling"
        self._pending = ReconcileToken(
            generation=self._generation, scope=scope or AccountFilter(), **known
        )
        return self._pending

    def _accept(self, token: ReconcileToken) -> bool:
        # Caller holds the lock. Only the newest token of the current connection applies.
        if token is not self._pending:
            return False
        self._pending = None
        self._state = "live"
        return True

    def _live_since_up(self) -> dict[Any, Any]:
        raise NotImplementedError


class OrdersView(_View):
    """Resting orders, from ``user_order`` messages and ``GET /portfolio/orders``.

    A message keeps its order in the view unless it says the order left the resting state
    (status canceled/executed, or nothing remaining); a message without ``order_id`` is
    counted in ``unkeyed`` and not kept.
    """

    def __init__(self) -> None:
        super().__init__()
        self._orders: dict[str, UserOrder] = {}
        self._touched: dict[str, UserOrder] = {}  # latest live message since the connection

    def _live_since_up(self) -> dict[Any, Any]:
        return self._touched

    def on_message(self, msg: UserOrder) -> None:
        """Apply one live ``user_order`` message (network thread)."""
        order_id = msg.order_id
        with self._lock:
            self.messages += 1
            if order_id is None:
                self.unkeyed += 1
                return
            self._touched[order_id] = msg
            if _resting(msg):
                self._orders[order_id] = msg
            else:
                self._orders.pop(order_id, None)

    def begin_reconcile(self, scope: AccountFilter | None = None) -> ReconcileToken:
        """A REST read starts (superseding one in flight): state "reconciling"."""
        with self._lock:
            return self._begin(scope, resting=frozenset(self._orders))

    def apply_rest_snapshot(
        self, token: ReconcileToken, orders: Iterable[Order], closed: Iterable[Order] = ()
    ) -> list[UserOrder] | None:
        """Replace the view from ``orders`` (``get_orders(status="resting")``) and go live.

        ``closed``: the final state of orders in :meth:`ReconcileToken.vanished`, where it
        could be read (``get_order``). Returns the ``user_order`` messages, ``recovered=True``,
        of every order that changed while blind: new, changed, or gone -- a gone order without
        a ``closed`` entry is reported with ``status`` None (final state unknown) and
        ``remaining_count`` 0. None,
        changing nothing, when ``token`` is not the current read (superseded, or the
        connection dropped since).
        """
        scope = token.scope
        rest = {
            o.order_id: user_order_from_rest(o)
            for o in orders
            if scope.admits(o.ticker, o.subaccount_number)
        }
        final = {o.order_id: user_order_from_rest(o) for o in closed}
        out: list[UserOrder] = []
        read = {**final, **rest}  # an order listed as resting wins over a lookup
        with self._lock:
            if not self._accept(token):
                return None
            current, touched = self._orders, self._touched
            for order_id, order in read.items():
                live = touched.get(order_id)
                if live is not None and not _rest_newer(order, live):
                    continue  # the stream has the latest word
                before = current.get(order_id)
                if before is None and not _resting(order):
                    continue  # closed, and not shown as resting: nothing to say
                if before is None or live is not None or _changed(before, order, _ORDER_STATE):
                    out.append(order)
                    if _resting(order):
                        current[order_id] = order
                    else:
                        del current[order_id]
            for order_id, before in list(current.items()):
                if not scope.admits(before.ticker, before.subaccount_number):
                    del current[order_id]  # no longer subscribed: leaves without a word
                elif order_id not in read and order_id not in touched:
                    del current[order_id]
                    out.append(_gone(before))  # left the resting set while blind
            touched.clear()
            self.recovered += len(out)
        return out

    def snapshot(self) -> RestingOrders:
        """An immutable copy, safe to hand to any thread."""
        with self._lock:
            items, state = dict(self._orders), self._state
        return RestingOrders(items=items, state=state)

    def __repr__(self) -> str:
        return f"OrdersView({len(self._orders)} resting, state={self._state!r})"


def _position_key(market_ticker: str, subaccount: int | None) -> PositionKey:
    return (market_ticker, 0 if subaccount is None else subaccount)


class PositionsView(_View):
    """Positions per (market, subaccount), from ``market_position`` messages and
    ``GET /portfolio/positions``. A message without a subaccount is subaccount 0; one
    without ``market_ticker`` is counted in ``unkeyed`` and not kept."""

    def __init__(self) -> None:
        super().__init__()
        self._positions: dict[PositionKey, MarketPosition] = {}
        self._touched: dict[PositionKey, MarketPosition] = {}

    def _live_since_up(self) -> dict[Any, Any]:
        return self._touched

    def on_message(self, msg: MarketPosition) -> None:
        """Apply one live ``market_position`` message (network thread)."""
        with self._lock:
            self.messages += 1
            if msg.market_ticker is None:
                self.unkeyed += 1
                return
            key = _position_key(msg.market_ticker, msg.subaccount)
            self._touched[key] = msg
            self._positions[key] = msg

    def begin_reconcile(self, scope: AccountFilter | None = None) -> ReconcileToken:
        """A REST read starts (superseding one in flight): state "reconciling". The token's
        ``subaccounts`` are the ones to read: the scope's, else 0 and every one seen."""
        with self._lock:
            if scope is not None and scope.subaccount is not None:
                subs = frozenset((scope.subaccount,))
            else:
                subs = frozenset({0} | {sub for _, sub in self._positions})
            return self._begin(scope, subaccounts=subs)

    def apply_rest_snapshot(
        self, token: ReconcileToken, positions: Mapping[int, Iterable[Position]]
    ) -> list[MarketPosition] | None:
        """Replace the positions of each subaccount in ``positions`` (subaccount ->
        ``get_positions(subaccount=...)``) and go live; other subaccounts are kept as they
        are. Returns the ``market_position`` messages, ``recovered=True``, of every position
        that changed while blind; one REST no longer lists (settled) is removed and reported
        with every value None. None, changing nothing, when ``token`` is not the current
        read."""
        scope = token.scope
        rest: dict[PositionKey, MarketPosition] = {}
        for sub, listed in positions.items():
            for p in listed:
                if p.ticker is not None and scope.admits(p.ticker, sub):
                    rest[_position_key(p.ticker, sub)] = position_from_rest(p, sub)
        out: list[MarketPosition] = []
        with self._lock:
            if not self._accept(token):
                return None
            current, touched = self._positions, self._touched
            for key, position in rest.items():
                before = current.get(key)
                if key in touched:
                    continue  # positions carry no time: the live message wins
                if before is None or _changed(before, position, _POSITION_STATE):
                    current[key] = position
                    out.append(position)
            for key, before in list(current.items()):
                if not scope.admits(*key):
                    del current[key]  # no longer subscribed: leaves without a word
                elif key[1] in positions and key not in rest and key not in touched:
                    del current[key]  # settled (or closed and no longer listed)
                    out.append(
                        MarketPosition(
                            type="market_position",
                            market_ticker=key[0],
                            subaccount=before.subaccount,
                            user_id=before.user_id,
                            missing=("position",),
                            recovered=True,
                        )
                    )
            touched.clear()
            self.recovered += len(out)
        return out

    def snapshot(self) -> Positions:
        """An immutable copy, safe to hand to any thread."""
        with self._lock:
            items, state = dict(self._positions), self._state
        return Positions(items=items, state=state)

    def __repr__(self) -> str:
        return f"PositionsView({len(self._positions)} positions, state={self._state!r})"
