"""Tests for kalshi_sync._account_views and _account_snapshots: resting orders and positions
kept from live messages and reconciled from REST, as plain calls."""

from __future__ import annotations

import copy
import pickle
import random
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_sync._account_snapshots import (
    Positions,
    RestingOrders,
    position_from_rest,
    user_order_from_rest,
)
from kalshi_sync._account_views import OrdersView, PositionsView
from kalshi_sync._fill_ledger import AccountFilter
from kalshi_sync._rest_decoders import parse_order, parse_position
from kalshi_sync.account import Order, Position
from kalshi_sync.models import MarketPosition, Message, UserOrder

D = Decimal
TEN = D(10)
ZERO = D(0)


def uo(
    order_id: str | None,
    status: str | None = "resting",
    *,
    filled: Decimal | None = ZERO,
    remaining: Decimal | None = TEN,
    ts: int | None = None,
    ticker: str = "A",
    sub: int | None = 0,
    price: str = "0.40",
) -> UserOrder:
    return UserOrder(
        type="user_order",
        order_id=order_id,
        ticker=ticker,
        status=status,
        yes_price=D(price),
        fill_count=filled,
        remaining_count=remaining,
        initial_count=TEN,
        last_updated_ts_ms=ts,
        subaccount_number=sub,
    )


def ro(
    order_id: str,
    status: str = "resting",
    *,
    filled: Decimal = ZERO,
    remaining: Decimal = TEN,
    ts: int | None = None,
    ticker: str = "A",
    sub: int | None = 0,
    price: str = "0.40",
) -> Order:
    return Order(
        order_id=order_id,
        ticker=ticker,
        status=status,
        yes_price=D(price),
        fill_count=filled,
        remaining_count=remaining,
        initial_count=TEN,
        last_update_ts_ms=ts,
        subaccount_number=sub,
    )


def mp(
    ticker: str | None, position: str, *, sub: int | None = 0, cost: str = "1"
) -> MarketPosition:
    return MarketPosition(
        type="market_position",
        market_ticker=ticker,
        position=D(position),
        position_cost=D(cost),
        volume=D(3),
        subaccount=sub,
    )


def rp(ticker: str, position: str, *, cost: str = "1") -> Position:
    return Position(ticker=ticker, position=D(position), market_exposure=D(cost))


def state_of(msg: UserOrder) -> tuple[Any, ...]:
    return (msg.status, msg.fill_count, msg.remaining_count, msg.yes_price)


def reconciled(view: OrdersView, orders: list[Order], closed: list[Order] = ()) -> list[UserOrder]:  # type: ignore[assignment]
    token = view.begin_reconcile()
    out = view.apply_rest_snapshot(token, orders, closed)
    assert out is not None
    return out


# -- REST models as messages ----------------------------------------------------------------


def test_every_rest_order_field_maps_onto_user_order_by_name() -> None:
    """Order -> UserOrder keeps every shared field; only REST-only / WS-only names differ."""
    order_fields = set(attrs.fields_dict(Order))
    ws_fields = set(attrs.fields_dict(UserOrder)) - set(attrs.fields_dict(Message))
    renamed = {"last_update_time": "last_updated_time", "last_update_ts_ms": "last_updated_ts_ms"}
    rest_only = {"type", "action", "cancel_order_on_pause", "historical", "raw"}
    assert {renamed.get(n, n) for n in order_fields - rest_only} == ws_fields - {
        "is_yes",
        "recovered",
    }
    raw = {
        "order_id": "o1",
        "ticker": "A",
        "status": "resting",
        "yes_price_dollars": "0.4200",
        "fill_count_fp": "1.00",
        "remaining_count_fp": "9.00",
        "last_update_time": "2026-01-01T00:00:01.500Z",
        "subaccount_number": 2,
    }
    msg = user_order_from_rest(parse_order(raw))
    assert msg.type == "user_order" and msg.recovered and msg.missing == ()
    assert (msg.order_id, msg.ticker, msg.market_ticker, msg.status) == ("o1", "A", "A", "resting")
    assert (msg.yes_price, msg.fill_count, msg.remaining_count) == (D("0.42"), D(1), D(9))
    assert msg.last_updated_ts_ms == 1_767_225_601_500 and msg.subaccount_number == 2
    assert msg.raw == raw


def test_rest_position_maps_exposure_onto_position_cost() -> None:
    """REST market_exposure is the WebSocket position_cost; the subaccount is the queried one."""
    raw = {
        "ticker": "A",
        "position_fp": "-5.00",
        "market_exposure_dollars": "2.5000",
        "realized_pnl_dollars": "0.1000",
        "fees_paid_dollars": "0.0200",
        "total_traded_dollars": "9.0000",
    }
    msg = position_from_rest(parse_position(raw), 3)
    assert msg.recovered and msg.type == "market_position" and msg.missing == ()
    assert (msg.market_ticker, msg.position, msg.position_cost) == ("A", D(-5), D("2.5"))
    assert (msg.realized_pnl, msg.fees_paid, msg.subaccount) == (D("0.1"), D("0.02"), 3)
    assert (msg.volume, msg.position_fee_cost, msg.user_id) == (None, None, None)
    assert position_from_rest(Position(), 0).missing == ("market_ticker", "position")


# -- orders: live messages ------------------------------------------------------------------


def test_orders_view_starts_stale_and_empty() -> None:
    """Nothing is known before the first REST read: stale, empty."""
    view = OrdersView()
    snap = view.snapshot()
    assert isinstance(snap, RestingOrders) and len(snap) == 0
    assert (view.state, snap.state, snap.is_live) == ("stale", "stale", False)


def test_order_leaves_the_view_when_canceled_executed_or_empty() -> None:
    """Resting orders are kept by id; canceled, executed or nothing remaining removes them."""
    view = OrdersView()
    for i in range(5):
        view.on_message(uo(f"o{i}"))
    view.on_message(uo("o0", "canceled"))
    view.on_message(uo("o1", "executed", filled=TEN, remaining=ZERO))
    view.on_message(uo("o2", None, remaining=ZERO))
    view.on_message(uo("o3", None, remaining=D(4)))  # no status: still resting as far as known
    view.on_message(uo("o4", "unknown"))
    view.on_message(uo(None))  # no id: delivered elsewhere, not kept
    snap = view.snapshot()
    assert sorted(snap) == ["o3", "o4"]
    assert snap["o3"].remaining_count == D(4)
    assert (view.messages, view.unkeyed) == (11, 1)


def test_snapshot_is_an_immutable_copy() -> None:
    """A snapshot does not change with later messages and cannot be mutated; it pickles."""
    view = OrdersView()
    view.on_message(uo("o1"))
    snap = view.snapshot()
    view.on_message(uo("o1", "canceled"))
    view.on_message(uo("o2"))
    assert list(snap) == ["o1"] and sorted(view.snapshot()) == ["o2"]
    with pytest.raises(TypeError):
        snap.items_["x"] = uo("x")  # type: ignore[index]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snap.state = "live"  # type: ignore[misc]
    for clone in (pickle.loads(pickle.dumps(snap)), copy.deepcopy(snap)):
        assert clone == snap and type(clone) is RestingOrders


# -- orders: reconcile ----------------------------------------------------------------------


def test_reconcile_replaces_and_reports_what_changed_while_blind() -> None:
    """New, changed and gone orders come back as recovered messages; unchanged ones don't."""
    view = OrdersView()
    view.on_message(uo("same"))
    view.on_message(uo("changed"))
    view.on_message(uo("gone"))
    unchanged = view.snapshot()["same"]
    view.mark_stale()
    token = view.begin_reconcile()
    assert view.state == "reconciling" and token.resting == {"same", "changed", "gone"}
    rest = [ro("same"), ro("changed", filled=D(3), remaining=D(7)), ro("new")]
    assert token.vanished(rest) == ["gone"]
    out = view.apply_rest_snapshot(token, rest, [ro("gone", "canceled", remaining=ZERO)])
    assert out is not None and view.state == "live"
    assert {m.order_id: m.status for m in out} == {
        "changed": "resting",
        "new": "resting",
        "gone": "canceled",
    }
    assert all(m.recovered for m in out)
    snap = view.snapshot()
    assert sorted(snap) == ["changed", "new", "same"] and snap.is_live
    assert snap["same"] is unchanged  # the live message (richer than REST) is kept
    assert snap["changed"].fill_count == D(3)
    assert view.recovered == 3


def test_gone_order_without_its_final_state_says_nothing_rests() -> None:
    """A vanished order whose lookup failed: status None (missing), remaining_count 0."""
    view = OrdersView()
    view.on_message(uo("gone", price="0.33"))
    view.mark_stale()
    [msg] = reconciled(view, [])
    assert (msg.order_id, msg.status, msg.remaining_count) == ("gone", None, ZERO)
    assert msg.missing == ("status",) and msg.recovered and msg.yes_price == D("0.33")
    assert msg.fill_count is None and len(view.snapshot()) == 0


def test_lookup_that_finds_the_order_resting_keeps_it() -> None:
    """A vanished id whose get_order says resting (the list lagged) stays in the view."""
    view = OrdersView()
    view.on_message(uo("o1"))
    out = reconciled(view, [], [ro("o1", filled=D(2), remaining=D(8))])
    assert [m.remaining_count for m in out] == [D(8)]
    assert view.snapshot()["o1"].fill_count == D(2)


def test_closed_lookup_for_an_order_not_shown_says_nothing() -> None:
    """A lookup of an order the view does not show (closed) produces no message."""
    view = OrdersView()
    assert reconciled(view, [], [ro("o9", "canceled", remaining=ZERO)]) == []


def test_live_message_during_the_read_beats_older_rest_data() -> None:
    """An order updated live during the read keeps its live state when REST is not newer."""
    view = OrdersView()
    view.on_message(uo("o1"))
    view.mark_stale()
    token = view.begin_reconcile()
    live = uo("o1", filled=D(4), remaining=D(6), ts=2000)
    view.on_message(live)
    view.on_message(uo("new-live", ts=2100))  # created after the REST read
    view.on_message(uo("o2", "canceled"))  # canceled live; REST still lists it
    rest = [ro("o1", filled=D(2), remaining=D(8), ts=1500), ro("o2")]
    assert view.apply_rest_snapshot(token, rest) == []
    snap = view.snapshot()
    assert sorted(snap) == ["new-live", "o1"] and snap["o1"] is live


def test_provably_newer_rest_data_beats_a_live_message() -> None:
    """REST with a larger fill_count, or equal counts and a later update, wins and is reported."""
    view = OrdersView()
    view.mark_stale()
    token = view.begin_reconcile()
    view.on_message(uo("by-count", filled=D(1), remaining=D(9), ts=9000))
    view.on_message(uo("by-time", filled=D(1), remaining=D(9), ts=1000))
    view.on_message(uo("no-time", filled=D(1), remaining=D(9), price="0.40"))
    rest = [
        ro("by-count", filled=D(2), remaining=D(8), ts=5000),
        ro("by-time", filled=D(1), remaining=D(9), ts=2000, price="0.45"),  # amended
        ro("no-time", filled=D(1), remaining=D(9), price="0.45"),  # undecidable: live wins
    ]
    out = view.apply_rest_snapshot(token, rest) or []
    assert sorted(str(m.order_id) for m in out) == ["by-count", "by-time"]
    snap = view.snapshot()
    assert snap["by-count"].fill_count == D(2) and snap["by-time"].yes_price == D("0.45")
    assert snap["no-time"].yes_price == D("0.40")


def test_superseded_or_voided_token_changes_nothing() -> None:
    """A newer read, or a disconnect, voids a token: applying it returns None."""
    view = OrdersView()
    view.on_message(uo("o1"))
    first = view.begin_reconcile()
    second = view.begin_reconcile()
    assert view.superseded == 1
    assert view.apply_rest_snapshot(first, [ro("x")]) is None
    assert sorted(view.snapshot()) == ["o1"] and view.state == "reconciling"
    view.mark_stale()
    assert view.apply_rest_snapshot(second, [ro("x")]) is None and view.state == "stale"
    third = view.begin_reconcile()
    assert view.apply_rest_snapshot(third, [ro("x")]) is not None
    assert view.apply_rest_snapshot(third, [ro("y")]) is None  # a token applies once
    assert sorted(view.snapshot()) == ["x"]


def test_live_messages_before_a_disconnect_do_not_override_the_next_read() -> None:
    """The live log is per connection: after mark_stale, REST replaces what came before."""
    view = OrdersView()
    view.on_message(uo("o1", filled=ZERO))
    view.mark_stale()
    out = reconciled(view, [ro("o1", filled=D(5), remaining=D(5))])
    assert [m.fill_count for m in out] == [D(5)]


def test_reconcile_follows_the_subscription_scope() -> None:
    """REST orders outside the scope are ignored; view orders outside it leave silently."""
    view = OrdersView()
    view.on_message(uo("old-b", ticker="B"))
    view.on_message(uo("a1", ticker="A"))
    token = view.begin_reconcile(AccountFilter(market_tickers={"A"}, subaccount=0))
    rest = [ro("a1"), ro("b1", ticker="B"), ro("a2", sub=1), ro("a3")]
    out = view.apply_rest_snapshot(token, rest) or []
    assert [m.order_id for m in out] == ["a3"]
    assert sorted(view.snapshot()) == ["a1", "a3"]


def test_mark_live_without_rest() -> None:
    """With recovery off the view goes live from the stream alone; a pending token is void."""
    view = OrdersView()
    token = view.begin_reconcile()
    view.mark_live()
    assert view.state == "live" and view.apply_rest_snapshot(token, []) is None


# -- positions ------------------------------------------------------------------------------


def test_positions_keyed_by_market_and_subaccount() -> None:
    """Latest message per (market, subaccount); no subaccount is 0; no market is not kept."""
    view = PositionsView()
    view.on_message(mp("A", "1", sub=None))
    view.on_message(mp("A", "2", sub=0))
    view.on_message(mp("A", "7", sub=4))
    view.on_message(mp(None, "9"))
    snap = view.snapshot()
    assert isinstance(snap, Positions) and sorted(snap) == [("A", 0), ("A", 4)]
    assert snap.get_position("A") is not None and snap.get_position("A").position == D(2)  # type: ignore[union-attr]
    assert snap.get_position("A", 4).position == D(7)  # type: ignore[union-attr]
    assert snap.get_position("B") is None and view.unkeyed == 1


def test_positions_reconcile_per_subaccount() -> None:
    """Each read subaccount is replaced; changed, new and settled positions are reported."""
    view = PositionsView()
    view.on_message(mp("same", "1"))
    view.on_message(mp("changed", "1"))
    view.on_message(mp("settled", "1"))
    view.on_message(mp("other-sub", "1", sub=5))
    kept = view.snapshot().get_position("same")
    view.mark_stale()
    token = view.begin_reconcile()
    assert token.subaccounts == {0, 5}
    rest = {0: [rp("same", "1"), rp("changed", "3", cost="2"), rp("new", "-2")]}
    out = view.apply_rest_snapshot(token, rest) or []
    by_market = {str(m.market_ticker): m for m in out}
    assert sorted(by_market) == ["changed", "new", "settled"]
    assert by_market["changed"].position_cost == D(2) and by_market["new"].position == D(-2)
    assert by_market["settled"].position is None and by_market["settled"].missing == ("position",)
    assert all(m.recovered for m in out)
    snap = view.snapshot()
    assert sorted(snap) == [("changed", 0), ("new", 0), ("other-sub", 5), ("same", 0)]
    assert snap.get_position("same") is kept  # unchanged: the richer live message stays
    assert snap.is_live


def test_position_updated_live_during_the_read_keeps_the_live_state() -> None:
    """Positions have no time: a live message during the read beats the REST answer."""
    view = PositionsView()
    view.mark_stale()
    token = view.begin_reconcile(AccountFilter(subaccount=0))
    assert token.subaccounts == {0}
    view.on_message(mp("A", "4"))
    view.on_message(mp("B", "1"))  # opened after the read: REST does not list it
    assert view.apply_rest_snapshot(token, {0: [rp("A", "3")]}) == []
    snap = view.snapshot()
    assert snap.get_position("A").position == D(4) and ("B", 0) in snap  # type: ignore[union-attr]


def test_positions_token_superseded_and_scope() -> None:
    """Old tokens are refused; positions outside the scope (even live ones) are dropped
    without a message."""
    view = PositionsView()
    old = view.begin_reconcile()
    token = view.begin_reconcile(AccountFilter(market_tickers={"A"}))
    assert view.apply_rest_snapshot(old, {0: [rp("A", "1")]}) is None
    view.on_message(mp("B", "1"))
    out = view.apply_rest_snapshot(token, {0: [rp("A", "1"), rp("C", "1")]}) or []
    assert [m.market_ticker for m in out] == ["A"]
    assert sorted(view.snapshot()) == [("A", 0)]


# -- random sequences -----------------------------------------------------------------------


def _resting_state(msgs: dict[str, UserOrder]) -> dict[str, tuple[Any, ...]]:
    return {k: state_of(v) for k, v in msgs.items()}


def _apply_like_a_user(book: dict[str, UserOrder], msg: UserOrder) -> None:
    """What a bot keeping its own dict from delivered messages does."""
    assert msg.order_id is not None
    if msg.status in ("canceled", "executed") or msg.remaining_count == ZERO:
        book.pop(msg.order_id, None)
    else:
        book[msg.order_id] = msg


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["resting", "canceled", None]))))
def test_orders_view_matches_a_reference_dict(ops: list[tuple[int, str | None]]) -> None:
    """Under any live message sequence the view equals the latest-resting reference."""
    view, ref = OrdersView(), {}  # type: ignore[var-annotated]
    for i, status in ops:
        msg = uo(f"o{i}", status, remaining=D(i))
        view.on_message(msg)
        _apply_like_a_user(ref, msg)
        assert _resting_state(dict(view.snapshot())) == _resting_state(ref)


class _OrderExchange:
    """A model account: orders change, messages stream in order, connections drop."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ts = 1000
        self.orders: dict[str, Order] = {}  # every order, latest state
        self.in_flight: list[UserOrder] = []
        self.connected = True

    def change(self) -> None:
        self.ts += self.rng.randint(0, 3)  # equal times happen: fill_count decides
        resting = [o for o in self.orders.values() if o.status == "resting"]
        if not resting or self.rng.random() < 0.3:
            order = ro(f"o{len(self.orders)}", ts=self.ts, ticker=self.rng.choice("AB"))
        else:
            order = self.rng.choice(resting)
            kind = self.rng.random()
            if kind < 0.4:
                filled = (order.fill_count or ZERO) + 1
                left = TEN - filled
                status = "executed" if left == ZERO else "resting"
                order = attrs.evolve(order, fill_count=filled, remaining_count=left, status=status)
            elif kind < 0.7:
                order = attrs.evolve(order, status="canceled", remaining_count=ZERO)
            else:
                order = attrs.evolve(order, yes_price=order.yes_price + D("0.01"))  # type: ignore[operator]
            order = attrs.evolve(order, last_update_ts_ms=self.ts)
        self.orders[order.order_id] = order
        if self.connected:
            self.in_flight.append(attrs.evolve(user_order_from_rest(order), recovered=False))

    def resting(self) -> list[Order]:
        return [o for o in self.orders.values() if o.status == "resting"]


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 200))
def test_reconcile_under_random_interleavings(seed: int, steps: int) -> None:
    """Changes, drops, reads with live messages during them, superseded reads: what a user
    built from delivered messages always equals the view, and both equal the exchange once
    everything is delivered and a read completes."""
    rng = random.Random(seed)
    ex = _OrderExchange(rng)
    view, user = OrdersView(), {}  # type: ignore[var-annotated]
    read: tuple[Any, list[Order], list[Order]] | None = None
    token = None
    for _ in range(steps):
        op = rng.random()
        if op < 0.35:
            ex.change()
        elif op < 0.6 and ex.in_flight:
            msg = ex.in_flight.pop(0)
            view.on_message(msg)
            _apply_like_a_user(user, msg)
        elif op < 0.67 and ex.connected:
            ex.connected, ex.in_flight = False, []
            view.mark_stale()
            token = None  # void; a read still in flight is refused below
        elif op < 0.75 and not ex.connected:
            ex.connected = True
            token, read = view.begin_reconcile(), None
        elif op < 0.85 and token is not None and read is None:
            listed = ex.resting()
            gone = token.vanished(listed)
            lookups = [ex.orders[i] for i in gone if rng.random() < 0.7]
            read = (token, listed, lookups)
        elif op < 0.95 and read is not None:
            out = view.apply_rest_snapshot(*read)
            if read[0] is token:
                assert out is not None
                for msg in out:
                    assert msg.recovered
                    _apply_like_a_user(user, msg)
            else:
                assert out is None
            read, token = None, None
        elif token is not None and ex.connected:
            token = view.begin_reconcile()  # a retry supersedes the read in flight
        assert _resting_state(dict(view.snapshot())) == _resting_state(user)
    ex.connected = True
    while ex.in_flight:
        msg = ex.in_flight.pop(0)
        view.on_message(msg)
        _apply_like_a_user(user, msg)
    token = view.begin_reconcile()
    listed = ex.resting()
    lookups = [ex.orders[i] for i in token.vanished(listed)]
    for msg in view.apply_rest_snapshot(token, listed, lookups) or []:
        _apply_like_a_user(user, msg)
    expected = {o.order_id: state_of(user_order_from_rest(o)) for o in listed}
    assert _resting_state(dict(view.snapshot())) == expected == _resting_state(user)
    assert view.state == "live"
