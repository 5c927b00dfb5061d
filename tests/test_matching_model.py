"""The matching engine against a small independent reference model, on random order flows.

The reference keeps one flat list of resting orders and, for every incoming order, sorts
the crossing ones by (best price, oldest): slow and obviously right. Hypothesis drives both
with the same creates, cancels, amends and decreases from two accounts and "the market";
after every step the resting orders, the fills, the positions, the balances and the book
must be equal, and replaying the engine's book changes must give its book.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any, Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_sync.testing._books import BookStore
from kalshi_sync.testing._matching import MatchingEngine
from kalshi_sync.testing._orders import EngineError

D = Decimal
T = "KXMODEL-26JAN01"
START = D("1000.00")
OWNERS = ("A", "B", None)


@dataclass
class Ref:
    oid: str
    owner: str | None
    leg: str  # "yes" / "no"
    price: Decimal  # on its own leg
    remaining: Decimal
    filled: Decimal
    seq: int
    stp: str
    post_only: bool


def taker_fee(count: Decimal, yes_price: Decimal) -> Decimal:
    return (D("0.07") * count * yes_price * (1 - yes_price)).quantize(
        D("0.0001"), rounding=ROUND_CEILING
    )


class Reference:
    def __init__(self) -> None:
        self.book: list[Ref] = []
        self.seq = itertools.count()
        self.fills: list[tuple[str | None, str, Decimal, Decimal, bool]] = []  # owner, order, ...
        self.position = {"A": D(0), "B": D(0)}
        self.balance = {"A": START, "B": START}

    def _buy(self, owner: str | None, leg: str, leg_px: Decimal, n: Decimal, fee: Decimal) -> None:
        if owner is None:
            return
        signed = n if leg == "yes" else -n
        pos = self.position[owner]
        closed = min(n, abs(pos)) if pos * signed < 0 else D(0)
        self.balance[owner] += closed - leg_px * n - fee
        self.position[owner] = pos + signed

    def _crossing(self, order: Ref) -> list[Ref]:
        opp = [o for o in self.book if o.leg != order.leg and o.price + order.price >= 1]
        return sorted(opp, key=lambda o: (-o.price, o.seq))

    def _same(self, a: Ref, b: Ref) -> bool:
        return a.owner is not None and a.owner == b.owner

    def _match(self, order: Ref, cap: Decimal) -> bool:
        """Fill ``order`` up to cap; True when STP stopped it."""
        for maker in self._crossing(order):
            if order.filled >= cap:
                break
            if self._same(order, maker):
                if order.stp == "taker_at_cross":
                    return True
                self.book.remove(maker)
                continue
            n = min(cap - order.filled, maker.remaining)
            yes = maker.price if maker.leg == "yes" else 1 - maker.price
            self.fills.append((maker.owner, maker.oid, yes, n, False))
            self.fills.append((order.owner, order.oid, yes, n, True))
            self._buy(maker.owner, maker.leg, maker.price, n, D(0))
            taker_px = yes if order.leg == "yes" else 1 - yes  # the maker's price, not ours
            self._buy(order.owner, order.leg, taker_px, n, taker_fee(n, yes))
            maker.remaining -= n
            maker.filled += n
            order.filled += n
            order.remaining -= n
            if maker.remaining == 0:
                self.book.remove(maker)
        return False

    def create(self, oid: str, owner: str | None, side: str, yes: Decimal, n: Decimal,
               tif: str, stp: str, post_only: bool) -> str:  # fmt: skip
        leg = "yes" if side == "bid" else "no"
        order = Ref(oid, owner, leg, yes if leg == "yes" else 1 - yes, n, D(0), 0, stp, post_only)
        if tif == "fill_or_kill":
            available = D(0)
            for maker in self._crossing(order):
                if self._same(order, maker):
                    if stp == "taker_at_cross":
                        break
                    continue
                available += maker.remaining
            if available < n:
                return "killed"
        if post_only and self._crossing(order):
            return "canceled"
        return self._finish(order, tif)

    def _finish(self, order: Ref, tif: str) -> str:
        if self._match(order, order.filled + order.remaining):
            return "canceled"
        if order.remaining == 0:
            return "executed"
        if tif != "good_till_canceled":
            return "canceled"
        order.seq = next(self.seq)
        self.book.append(order)
        return "resting"

    def find(self, oid: str) -> Ref | None:
        return next((o for o in self.book if o.oid == oid), None)

    def cancel(self, oid: str) -> bool:
        order = self.find(oid)
        if order is not None:
            self.book.remove(order)
        return order is not None

    def decrease(self, oid: str, by: Decimal) -> bool:
        order = self.find(oid)
        if order is None:
            return False
        order.remaining = max(D(0), order.remaining - by)
        if order.remaining == 0:
            self.book.remove(order)
        return True

    def amend(self, oid: str, yes: Decimal, remaining: Decimal) -> bool:
        order = self.find(oid)
        if order is None:
            return False
        leg_px = yes if order.leg == "yes" else 1 - yes
        if leg_px == order.price and remaining <= order.remaining:
            order.remaining = remaining
            return True
        self.book.remove(order)
        order.price, order.remaining = leg_px, remaining
        if order.post_only and self._crossing(order):
            return True
        self._finish(order, "good_till_canceled")
        return True

    def levels(self) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        sides: dict[str, dict[Decimal, Decimal]] = {"yes": {}, "no": {}}
        for o in self.book:
            sides[o.leg][o.price] = sides[o.leg].get(o.price, D(0)) + o.remaining
        return sides["yes"], sides["no"]


prices = st.sampled_from([D("0.40"), D("0.45"), D("0.50"), D("0.55"), D("0.60")])
counts = st.sampled_from([D("0.5"), D(1), D(2), D(3), D(5)])
creates = st.tuples(
    st.just("create"),
    st.sampled_from(OWNERS),
    st.sampled_from(["bid", "ask"]),
    prices,
    counts,
    st.sampled_from(["good_till_canceled"] * 3 + ["immediate_or_cancel", "fill_or_kill"]),
    st.sampled_from(["taker_at_cross", "maker"]),
    st.booleans(),
)
picks = st.integers(min_value=0, max_value=30)
cancels = st.tuples(st.just("cancel"), picks)
amends = st.tuples(st.just("amend"), picks, prices, counts)
decreases = st.tuples(st.just("decrease"), picks, counts)
flows = st.lists(st.one_of(creates, creates, cancels, amends, decreases), max_size=40)


def _resting(e: MatchingEngine) -> list[tuple[str, Decimal, Decimal]]:
    legs: tuple[Literal["yes"], Literal["no"]] = ("yes", "no")
    return [(o.order_id, o.leg_price, o.remaining_count) for leg in legs for o in e.resting(T, leg)]


def _ref_resting(ref: Reference) -> list[tuple[str, Decimal, Decimal]]:
    out = []
    for leg in ("yes", "no"):
        side = sorted((o for o in ref.book if o.leg == leg), key=lambda o: (-o.price, o.seq))
        out += [(o.oid, o.price, o.remaining) for o in side]
    return out


def _step(e: MatchingEngine, ref: Reference, op: tuple[Any, ...], ids: list[str]) -> list[Any]:
    """Apply one op to both; returns the engine's outcomes' book changes."""
    kind = op[0]
    if kind == "create":
        _, owner, side, yes, n, tif, stp, post_only = op
        post_only = post_only and tif == "good_till_canceled"
        try:
            out = e.create(
                owner,
                ticker=T,
                side=side,
                price=yes,
                count=n,
                time_in_force=tif,
                self_trade_prevention_type=stp,
                post_only=post_only,
                now_ms=1,
            )
        except EngineError as exc:
            assert exc.code == "fill_or_kill_insufficient_resting_volume"
            oid = f"killed-{len(ids)}"
            assert ref.create(oid, owner, side, yes, n, tif, stp, post_only) == "killed"
            return []
        assert out.order is not None
        status = ref.create(out.order.order_id, owner, side, yes, n, tif, stp, post_only)
        assert status == out.order.status
        if owner is not None:
            ids.append(out.order.order_id)
        return out.book_changes
    if not ids:
        return []
    oid = ids[op[1] % len(ids)]
    owner = e.order(oid).owner  # type: ignore[union-attr]
    try:
        if kind == "cancel":
            out = e.cancel(owner, oid, now_ms=1)
            ok = ref.cancel(oid)
        elif kind == "decrease":
            out = e.decrease(owner, oid, reduce_by=op[2], now_ms=1)
            ok = ref.decrease(oid, op[2])
        else:
            filled = e.order(oid).fill_count  # type: ignore[union-attr]
            out = e.amend(owner, oid, price=op[2], count=filled + op[3], now_ms=1)
            ok = ref.amend(oid, op[2], op[3])
    except EngineError as exc:
        assert exc.status == 404 and ref.find(oid) is None
        return []
    assert ok
    return out.book_changes


@settings(max_examples=150, deadline=None)
@given(flows)
def test_engine_equals_reference_model(ops: list[tuple[Any, ...]]) -> None:
    """Random flows: resting orders, fills, positions, balances and book equal the model's."""
    counter = itertools.count(1)
    e = MatchingEngine(new_id=lambda: f"o{next(counter)}")
    ref = Reference()
    replay = BookStore()
    ids: list[str] = []
    for op in ops:
        for change in _step(e, ref, op, ids):
            replay.apply_delta(change.ticker, change.leg, change.price, change.delta)
        assert _resting(e) == _ref_resting(ref)
        assert e.books.copy(T) == ref.levels() == replay.copy(T)
    named = [(o, p, n, t) for who, o, p, n, t in ref.fills if who is not None]
    assert [(f.order_id, f.yes_price, f.count, f.is_taker) for f in e.fills()] == named
    for owner in ("A", "B"):
        pos = e.ledger.position(owner, 0, T)
        assert pos.position == ref.position[owner]
        assert e.ledger.balance(owner) == ref.balance[owner]
        assert e.ledger.balance(owner) == START - pos.position_cost - pos.fees_paid + (
            pos.realized_pnl
        )
