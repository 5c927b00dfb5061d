"""Rule-by-rule tests of the fake exchange's matching engine, with plain calls (no I/O)."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest

from kalshi_sync.testing._books import BookStore
from kalshi_sync.testing._matching import MatchingEngine
from kalshi_sync.testing._orders import EngineError, FeeSchedule, Outcome

D = Decimal
T = "KXTEST-26JAN01-T50"
NOW = 1_780_000_000_000  # ms


def engine(**kwargs: Any) -> MatchingEngine:
    counter = itertools.count(1)
    return MatchingEngine(new_id=lambda: f"id-{next(counter)}", **kwargs)


def place(
    e: MatchingEngine,
    owner: str | None,
    side: str,
    price: str,
    count: str,
    tif: str = "good_till_canceled",
    **kwargs: Any,
) -> Outcome:
    kwargs.setdefault("now_ms", NOW)
    return e.create(
        owner,
        ticker=T,
        side=side,
        price=D(price),
        count=D(count),
        time_in_force=tif,
        **kwargs,
    )


def fills_of(out: Outcome) -> list[tuple[str, str, str, bool]]:
    """(owner, yes price, count, is_taker) per fill, in order."""
    return [(f.owner, str(f.yes_price), str(f.count), f.is_taker) for f in out.fills]


# ---- crossing, priority, partials ----------------------------------------------------


def test_bid_crosses_no_bids_best_first_at_the_resting_price() -> None:
    """A YES bid takes NO bids best (highest) first, each at its own price (1 - no price)."""
    e = engine()
    e.set_book(T, yes=[("0.40", "10")], no=[("0.55", "5"), ("0.50", "7")])
    out = place(e, "alice", "bid", "0.50", "8")
    assert [(str(t.yes_price), str(t.count)) for t in out.trades] == [("0.45", "5"), ("0.50", "3")]
    assert out.order is not None and out.order.status == "executed"
    assert out.fill_count == 8 and out.average_fill_price == D("0.468750")
    assert e.books.copy(T) == ({D("0.40"): D(10)}, {D("0.50"): D(4)})


def test_ask_sells_yes_into_yes_bids_and_rests_on_the_no_leg() -> None:
    """An ask at p meets YES bids >= p at their price; the rest is a NO bid at 1 - p."""
    e = engine()
    e.set_book(T, yes=[("0.45", "3"), ("0.30", "9")])
    out = place(e, "alice", "ask", "0.40", "5")
    assert [(str(t.yes_price), str(t.count), t.taker_side) for t in out.trades] == [
        ("0.45", "3", "ask")
    ]
    assert out.order is not None and out.order.status == "resting"
    assert out.order.remaining_count == 2 and out.order.last_update_reason == "Trade"
    assert e.books.copy(T) == ({D("0.30"): D(9)}, {D("0.60"): D(2)})


def test_price_then_time_priority_between_named_makers() -> None:
    """The better price fills first; at one price the older order fills first."""
    e = engine()
    first = place(e, "m1", "bid", "0.40", "2").order
    second = place(e, "m2", "bid", "0.40", "2").order
    better = place(e, "m3", "bid", "0.41", "1").order
    assert first and second and better
    out = place(e, "taker", "ask", "0.40", "4", "immediate_or_cancel")
    assert [f.order_id for f in out.fills if not f.is_taker] == [
        better.order_id,
        first.order_id,
        second.order_id,
    ]
    assert e.order(second.order_id).remaining_count == 1  # type: ignore[union-attr]


def test_partial_fill_leaves_the_maker_resting_with_counts() -> None:
    """A maker filled in part keeps resting: fill and remaining counts, reason Trade."""
    e = engine()
    maker = place(e, "m", "bid", "0.40", "10").order
    assert maker
    out = place(e, "t", "ask", "0.40", "4", "immediate_or_cancel")
    updated = e.order(maker.order_id)
    assert updated is not None and updated.status == "resting"
    assert (updated.fill_count, updated.remaining_count) == (D(4), D(6))
    assert updated.last_update_reason == "Trade" and updated.maker_fill_cost == D("1.60")
    assert [c.delta for c in out.book_changes] == [D(-4)]


def test_fills_and_positions_for_both_sides() -> None:
    """Each execution gives a fill to both accounts with signed post positions."""
    e = engine()
    place(e, "maker", "bid", "0.60", "5")
    out = place(e, "taker", "ask", "0.60", "5", "immediate_or_cancel")
    assert fills_of(out) == [("maker", "0.60", "5", False), ("taker", "0.60", "5", True)]
    assert [f.post_position for f in out.fills] == [D(5), D(-5)]
    assert e.ledger.position("taker", 0, T).position == D(-5)
    assert out.fills[0].trade_id == out.fills[1].trade_id == out.trades[0].trade_id


# ---- time in force -----------------------------------------------------------------


def test_ioc_cancels_the_unfilled_remainder() -> None:
    """IOC fills what it can; the rest is cancelled and remaining_count is 0."""
    e = engine()
    e.set_book(T, no=[("0.50", "3")])
    out = place(e, "a", "bid", "0.50", "5", "immediate_or_cancel")
    assert out.order is not None and out.order.status == "canceled"
    assert (out.order.fill_count, out.order.remaining_count) == (D(3), D(0))
    assert e.books.copy(T) == ({}, {})


def test_fok_that_cannot_fill_is_refused_and_leaves_no_trace() -> None:
    """FOK short of volume: 409 fill_or_kill_insufficient_resting_volume, nothing changes."""
    e = engine()
    e.set_book(T, no=[("0.50", "3")])
    with pytest.raises(EngineError) as info:
        place(e, "a", "bid", "0.50", "4", "fill_or_kill", client_order_id="c1")
    assert (info.value.status, info.value.code) == (409, "fill_or_kill_insufficient_resting_volume")
    assert e.books.copy(T) == ({}, {D("0.50"): D(3)}) and e.orders("a") == []
    out = place(e, "a", "bid", "0.50", "3", "fill_or_kill", client_order_id="c1")
    assert out.order is not None and out.order.status == "executed"


def test_post_only_that_would_cross_is_cancelled_without_filling() -> None:
    """post_only crossing: stored cancelled with PostOnlyCrossCancel; the book is untouched."""
    e = engine()
    e.set_book(T, no=[("0.50", "3")])
    out = place(e, "a", "bid", "0.55", "2", post_only=True)
    assert out.order is not None and out.order.status == "canceled"
    assert out.order.last_update_reason == "PostOnlyCrossCancel" and out.fills == []
    assert e.books.copy(T) == ({}, {D("0.50"): D(3)})
    rests = place(e, "a", "bid", "0.45", "2", post_only=True)
    assert rests.order is not None and rests.order.status == "resting"


def test_expiring_gtc_is_cancelled_when_ticked() -> None:
    """expiration_time (s) cancels a resting GTC with ExpiryCancel once expire() passes it."""
    e = engine()
    expiry_s = NOW // 1000 + 60
    order = place(e, "a", "bid", "0.30", "2", expiration_time=expiry_s).order
    assert order and e.next_expiry_ms() == expiry_s * 1000
    assert e.expire(expiry_s * 1000 - 1).events == ()
    out = e.expire(expiry_s * 1000)
    assert [(u.status, u.last_update_reason) for u in out.order_updates] == [
        ("canceled", "ExpiryCancel")
    ]
    assert e.books.copy(T) == ({}, {}) and e.next_expiry_ms() is None


def test_reduce_only_caps_at_the_position() -> None:
    """reduce_only fills at most the position it reduces; with none it is cancelled."""
    e = engine()
    e.set_book(T, yes=[("0.50", "10")], no=[("0.40", "10")])
    empty = place(e, "a", "ask", "0.50", "3", "immediate_or_cancel", reduce_only=True)
    assert empty.order and empty.order.last_update_reason == "ReduceOnlyCancel"
    assert empty.fills == []
    place(e, "a", "bid", "0.60", "2", "immediate_or_cancel")  # long 2 YES
    out = place(e, "a", "ask", "0.50", "5", "immediate_or_cancel", reduce_only=True)
    assert out.order and out.order.fill_count == 2
    assert out.order.last_update_reason == "ReduceOnlyCancel"
    assert e.ledger.position("a", 0, T).position == 0


# ---- self-trade prevention -----------------------------------------------------------


def test_stp_taker_at_cross_stops_at_own_order_and_keeps_earlier_fills() -> None:
    """taker_at_cross: fills before the own order stand, the rest is cancelled, own rests."""
    e = engine()
    place(e, "other", "bid", "0.45", "2")
    own = place(e, "a", "bid", "0.44", "5").order
    place(e, "other", "bid", "0.43", "5")
    out = place(e, "a", "ask", "0.40", "6", self_trade_prevention_type="taker_at_cross")
    assert out.order and out.order.status == "canceled"
    assert out.order.last_update_reason == "SelfTradeCancel" and out.fill_count == 2
    assert own and e.order(own.order_id).status == "resting"  # type: ignore[union-attr]
    assert e.books.copy(T)[0] == {D("0.44"): D(5), D("0.43"): D(5)}


def test_stp_maker_cancels_own_resting_order_and_keeps_matching() -> None:
    """maker: the own resting order is cancelled (SelfTradeCancel); matching goes on."""
    e = engine()
    own = place(e, "a", "bid", "0.45", "5").order
    place(e, "other", "bid", "0.44", "5")
    out = place(e, "a", "ask", "0.40", "3", self_trade_prevention_type="maker")
    assert own
    cancelled = e.order(own.order_id)
    assert cancelled and (cancelled.status, cancelled.last_update_reason) == (
        "canceled",
        "SelfTradeCancel",
    )
    assert out.order and out.order.status == "executed"
    assert [str(t.yes_price) for t in out.trades] == ["0.44"]
    assert e.books.copy(T)[0] == {D("0.44"): D(2)}


def test_fok_counts_only_liquidity_that_stp_lets_it_take() -> None:
    """A FOK that would hit its own order first (taker_at_cross) is short of volume."""
    e = engine()
    place(e, "a", "bid", "0.45", "5")
    place(e, "other", "bid", "0.44", "5")
    with pytest.raises(EngineError):
        place(e, "a", "ask", "0.40", "3", "fill_or_kill")
    out = place(e, "a", "ask", "0.40", "3", "fill_or_kill", self_trade_prevention_type="maker")
    assert out.fill_count == 3


def test_anonymous_liquidity_never_self_trades() -> None:
    """Orders of "the market" (owner None) trade with each other."""
    e = engine()
    e.set_book(T, yes=[("0.50", "4")])
    out = place(e, None, "ask", "0.50", "4", "immediate_or_cancel")
    assert out.fill_count == 4 and len(out.trades) == 1 and out.fills == []


# ---- amend, decrease, cancel -----------------------------------------------------------


def _queue(e: MatchingEngine) -> list[str]:
    return [o.order_id for o in e.resting(T, "yes")]


def test_amend_decrease_keeps_priority_increase_and_price_change_lose_it() -> None:
    """Smaller remainder keeps the place; larger remainder or new price goes to the back."""
    e = engine()
    a = place(e, "a", "bid", "0.40", "5").order
    b = place(e, "b", "bid", "0.40", "5").order
    assert a and b
    out = e.amend("a", a.order_id, price=D("0.40"), count=D(3), now_ms=NOW)
    assert out.order and out.order.last_update_reason == "Amend"
    assert _queue(e) == [a.order_id, b.order_id] and e.books.copy(T)[0] == {D("0.40"): D(8)}
    e.amend("a", a.order_id, price=D("0.40"), count=D(4), now_ms=NOW)
    assert _queue(e) == [b.order_id, a.order_id]
    e.amend("b", b.order_id, price=D("0.41"), count=D(5), now_ms=NOW)
    e.amend("b", b.order_id, price=D("0.40"), count=D(5), now_ms=NOW)
    assert _queue(e) == [a.order_id, b.order_id]


def test_amend_count_is_total_including_filled() -> None:
    """Amend count = filled + wanted remainder; a count not above the filled part is 400."""
    e = engine()
    a = place(e, "a", "bid", "0.40", "5").order
    assert a
    place(e, "t", "ask", "0.40", "2", "immediate_or_cancel")
    out = e.amend("a", a.order_id, price=D("0.40"), count=D(4), now_ms=NOW)
    assert out.order and (out.order.fill_count, out.order.remaining_count) == (D(2), D(2))
    with pytest.raises(EngineError) as info:
        e.amend("a", a.order_id, price=D("0.40"), count=D(2), now_ms=NOW)
    assert info.value.status == 400


def test_amend_into_the_book_fills_as_taker() -> None:
    """An amended price that crosses trades at once (is_taker) and rests the remainder."""
    e = engine()
    e.set_book(T, no=[("0.55", "2")])
    a = place(e, "a", "bid", "0.40", "5").order
    assert a
    out = e.amend("a", a.order_id, price=D("0.45"), count=D(5), now_ms=NOW)
    assert fills_of(out) == [("a", "0.45", "2", True)] and out.fill_count == 2
    assert out.order and out.order.remaining_count == 3
    assert e.books.copy(T) == ({D("0.45"): D(3)}, {})


def test_decrease_by_and_to_keep_priority_and_zero_cancels() -> None:
    """reduce_by / reduce_to shrink in place (Decrease); reaching 0 cancels."""
    e = engine()
    a = place(e, "a", "bid", "0.40", "5").order
    b = place(e, "b", "bid", "0.40", "5").order
    assert a and b
    out = e.decrease("a", a.order_id, reduce_by=D(2), now_ms=NOW)
    assert out.reduced_by == 2 and out.order and out.order.remaining_count == 3
    e.decrease("a", a.order_id, reduce_to=D(1), now_ms=NOW)
    assert _queue(e) == [a.order_id, b.order_id]
    done = e.decrease("a", a.order_id, reduce_by=D(5), now_ms=NOW)
    assert done.order and (done.order.status, done.order.last_update_reason) == (
        "canceled",
        "Decrease",
    )
    with pytest.raises(EngineError):
        e.decrease("b", b.order_id, reduce_to=D(6), now_ms=NOW)
    with pytest.raises(EngineError):
        e.decrease("b", b.order_id, now_ms=NOW)


def test_cancel_reports_reduced_by_then_404_and_only_for_the_owner() -> None:
    """Cancel returns the resting count; again, or by another owner, is 404 not_found."""
    e = engine()
    a = place(e, "a", "bid", "0.40", "5").order
    assert a
    with pytest.raises(EngineError) as info:
        e.cancel("b", a.order_id, now_ms=NOW)
    assert (info.value.status, info.value.code) == (404, "not_found")
    out = e.cancel("a", a.order_id, now_ms=NOW)
    assert out.reduced_by == 5 and out.order and out.order.status == "canceled"
    assert [c.delta for c in out.book_changes] == [D(-5)]
    with pytest.raises(EngineError):
        e.cancel("a", a.order_id, now_ms=NOW)


def test_cancel_all_cancels_only_that_owners_resting_orders() -> None:
    """cancel_all takes every resting order of the owner (filter by subaccount) and no other."""
    e = engine()
    place(e, "a", "bid", "0.40", "5")
    place(e, "a", "bid", "0.30", "5", subaccount=2)
    place(e, "b", "bid", "0.20", "5")
    out = e.cancel_all("a", now_ms=NOW, subaccount=2)
    assert [u.price for u in out.order_updates] == [D("0.30")]
    e.cancel_all("a", now_ms=NOW)
    assert e.books.copy(T)[0] == {D("0.20"): D(5)}


def test_client_order_ids_are_unique_per_owner_forever() -> None:
    """A reused client_order_id is 409 order_already_exists, even after a cancel."""
    e = engine()
    a = place(e, "a", "bid", "0.40", "5", client_order_id="x").order
    assert a
    e.cancel("a", a.order_id, now_ms=NOW)
    with pytest.raises(EngineError) as info:
        place(e, "a", "bid", "0.40", "5", client_order_id="x")
    assert (info.value.status, info.value.code) == (409, "order_already_exists")
    assert place(e, "b", "bid", "0.40", "5", client_order_id="x").order is not None
    assert e.find_client_order("a", "x") == e.order(a.order_id)


@pytest.mark.parametrize(
    ("side", "price", "count", "tif", "extra"),
    [
        ("bid", "0", "1", "good_till_canceled", {}),
        ("bid", "1", "1", "good_till_canceled", {}),
        ("bid", "0.00005", "1", "good_till_canceled", {}),
        ("bid", "0.5", "0", "good_till_canceled", {}),
        ("bid", "0.5", "0.001", "good_till_canceled", {}),
        ("buy", "0.5", "1", "good_till_canceled", {}),
        ("bid", "0.5", "1", "day", {}),
        ("bid", "0.5", "1", "good_till_canceled", {"reduce_only": True}),
        ("bid", "0.5", "1", "immediate_or_cancel", {"expiration_time": NOW // 1000 + 9}),
        ("bid", "0.5", "1", "good_till_canceled", {"expiration_time": NOW // 1000}),
        ("bid", "0.5", "1", "good_till_canceled", {"self_trade_prevention_type": "none"}),
        ("bid", "0.5", "1", "immediate_or_cancel", {"post_only": True}),
    ],
)
def test_bad_input_is_400_and_changes_nothing(
    side: str, price: str, count: str, tif: str, extra: dict[str, Any]
) -> None:
    """Out-of-range or inconsistent orders are 400 invalid_parameters before any change."""
    e = engine()
    e.set_book(T, yes=[("0.40", "1")], no=[("0.40", "1")])
    with pytest.raises(EngineError) as info:
        place(e, "a", side, price, count, tif, **extra)
    assert (info.value.status, info.value.code) == (400, "invalid_parameters")
    assert e.orders() == [] and e.books.copy(T) == ({D("0.40"): D(1)}, {D("0.40"): D(1)})


# ---- money ---------------------------------------------------------------------------


def test_fee_formula_rounds_up_to_a_hundredth_of_a_cent() -> None:
    """Taker fee = ceil(0.07 x C x P x (1 - P)) to $0.0001 (0.52 x 1 -> 0.0175)."""
    fees = FeeSchedule()
    assert fees.fee(D(1), D("0.52"), is_taker=True) == D("0.0175")
    assert fees.fee(D(100), D("0.50"), is_taker=True) == D("1.75")
    assert fees.fee(D(100), D("0.50"), is_taker=False) == 0


def test_positions_net_and_balances_are_exact() -> None:
    """Buy 10 YES at 0.40, sell 4 at 0.55: position 6, realized 0.60, balance exact."""
    e = engine(fees=FeeSchedule(taker_rate=D(0)))
    e.set_book(T, no=[("0.60", "10")], yes=[("0.55", "4")])
    place(e, "a", "bid", "0.40", "10", "immediate_or_cancel")
    place(e, "a", "ask", "0.55", "4", "immediate_or_cancel")
    pos = e.ledger.position("a", 0, T)
    assert (pos.position, pos.position_cost, pos.realized_pnl) == (D(6), D("2.40"), D("0.60"))
    assert (pos.volume, pos.total_traded) == (D(14), D("5.80"))
    # 1000 - 4.00 paid + 4 x (1 - 0.45) received for the closed pairs
    assert e.ledger.balance("a") == D("998.20")


def test_balance_identity_with_fees() -> None:
    """balance = start - cost of what is held - fees + realized P&L, after a flip."""
    e = engine()
    e.set_book(T, no=[("0.63", "7")], yes=[("0.52", "20")])
    place(e, "a", "bid", "0.37", "7", "immediate_or_cancel")
    place(e, "a", "ask", "0.52", "12", "immediate_or_cancel")  # closes 7, opens 5 NO
    pos = e.ledger.position("a", 0, T)
    assert pos.position == D(-5) and pos.position_cost == D("2.40")
    expected = D("1000.00") - pos.position_cost - pos.fees_paid + pos.realized_pnl
    assert e.ledger.balance("a") == expected


# ---- scripted liquidity and the one book ---------------------------------------------------


def test_set_book_replaces_market_liquidity_but_keeps_named_orders() -> None:
    """set_book swaps the anonymous levels; a user's resting order stays in the aggregate."""
    e = engine()
    e.set_book(T, yes=[("0.40", "10")])
    place(e, "a", "bid", "0.40", "2")
    e.set_book(T, yes=[("0.30", "1")])
    assert e.books.copy(T)[0] == {D("0.40"): D(2), D("0.30"): D(1)}


def test_pulling_liquidity_never_removes_a_users_order() -> None:
    """A negative scripted delta is capped at the anonymous quantity where users rest."""
    e = engine()
    e.set_book(T, yes=[("0.40", "3")])
    place(e, "a", "bid", "0.40", "2")
    assert e.add_liquidity(T, "yes", D("0.40"), D(-10)) == D(-3)
    assert e.books.copy(T)[0] == {D("0.40"): D(2)}
    # Where no user rests, the delta is published as given and the level floors at 0.
    assert e.add_liquidity(T, "yes", D("0.20"), D(-4)) == D(-4)


def test_book_changes_replayed_reproduce_the_book() -> None:
    """Applying every emitted BookChange to an empty BookStore gives the engine's book."""
    e = engine()
    replay = BookStore()
    e.set_book(T, yes=[("0.40", "5")], no=[("0.50", "5")])
    replay.set_book(T, [("0.40", "5")], [("0.50", "5")])
    outs = [
        place(e, "a", "bid", "0.45", "7"),
        place(e, "b", "ask", "0.44", "3"),
        place(e, "b", "ask", "0.35", "9", "immediate_or_cancel"),
    ]
    for out in outs:
        for c in out.book_changes:
            replay.apply_delta(c.ticker, c.leg, c.price, c.delta)
    assert replay.copy(T) == e.books.copy(T)
