"""Tests for kalshi_sync.orderbook: Orderbook, MutableOrderbook and BookStore."""

from __future__ import annotations

import copy
import pickle
import sys
import threading
from collections.abc import Iterable
from decimal import Decimal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_sync.models import OrderbookDelta, OrderbookSnapshot
from kalshi_sync.orderbook import BookStore, MutableOrderbook, Orderbook

D = Decimal
T = "KXHIGHNY-24JAN01-T60"

Pairs = Iterable[tuple[Decimal, Decimal]]


def snap(
    yes: Pairs = (),
    no: Pairs = (),
    *,
    ticker: str = T,
    sid: int | None = 1,
    seq: int | None = 1,
) -> OrderbookSnapshot:
    return OrderbookSnapshot(
        type="orderbook_snapshot",
        sid=sid,
        seq=seq,
        market_ticker=ticker,
        yes=tuple(yes),
        no=tuple(no),
    )


def delta(
    price: str | Decimal,
    amount: str | Decimal,
    side: str = "yes",
    *,
    ticker: str = T,
    sid: int | None = 1,
    seq: int | None = 2,
) -> OrderbookDelta:
    return OrderbookDelta(
        type="orderbook_delta",
        sid=sid,
        seq=seq,
        market_ticker=ticker,
        price=D(price),
        delta=D(amount),
        side=side,
    )


def lv(*pairs: tuple[str, str]) -> list[tuple[Decimal, Decimal]]:
    return [(D(p), D(c)) for p, c in pairs]


# The documented example book (docs/protocol.md, 'Order book channel'), in both conventions.
YES = lv(("0.0800", "300.00"), ("0.2200", "333.00"))
NO_LEG = lv(("0.5400", "20.00"), ("0.5600", "146.00"))
NO_YES_SCALE = lv(("0.4600", "20.00"), ("0.4400", "146.00"))


# --- Orderbook: best bid/ask, spread, levels, depth ---------------------------------------


def test_bests_default_convention() -> None:
    """Default (no-leg) pricing: yes ask = 1 - max(no), no ask = 1 - max(yes)."""
    book = Orderbook.from_levels(T, YES, NO_LEG)
    assert book.best_yes_bid == D("0.22")
    assert book.best_no_bid == D("0.56")
    assert book.best_yes_ask == D("0.44")
    assert book.best_no_ask == D("0.78")
    assert book.spread == D("0.22")


def test_bests_use_yes_price_convention() -> None:
    """use_yes_price: the no side is on the yes scale, yes ask = min(no), no bid = 1 - min(no)."""
    book = Orderbook.from_levels(T, YES, NO_YES_SCALE, use_yes_price=True)
    assert book.best_yes_bid == D("0.22")
    assert book.best_yes_ask == D("0.44")
    assert book.best_no_bid == D("0.56")
    assert book.best_no_ask == D("0.78")
    assert book.spread == D("0.22")


@pytest.mark.parametrize("use_yes_price", [False, True])
def test_bests_agree_across_conventions(use_yes_price: bool) -> None:
    """The same market gives the same four bests whichever convention it was sent in."""
    book = Orderbook.from_levels(
        T, YES, NO_YES_SCALE if use_yes_price else NO_LEG, use_yes_price=use_yes_price
    )
    assert (book.best_yes_bid, book.best_yes_ask, book.best_no_bid, book.best_no_ask) == (
        D("0.22"),
        D("0.44"),
        D("0.56"),
        D("0.78"),
    )


@pytest.mark.parametrize("use_yes_price", [False, True])
def test_empty_book_has_no_bests(use_yes_price: bool) -> None:
    """An empty book answers None for every best, the spread and 0 for depth."""
    book = Orderbook.from_levels(T, use_yes_price=use_yes_price)
    assert book.best_yes_bid is None
    assert book.best_yes_ask is None
    assert book.best_no_bid is None
    assert book.best_no_ask is None
    assert book.spread is None
    assert book.depth("yes") == 0
    assert book.yes_levels == () and book.no_levels == ()


def test_one_sided_book() -> None:
    """With only a yes side, yes bid and no ask exist; yes ask, no bid and spread are None."""
    book = Orderbook.from_levels(T, YES)
    assert book.best_yes_bid == D("0.22")
    assert book.best_no_ask == D("0.78")
    assert book.best_yes_ask is None
    assert book.best_no_bid is None
    assert book.spread is None


def test_levels_sorted_best_first_default() -> None:
    """yes_levels and no_levels (no-leg prices) are sorted highest price first."""
    book = Orderbook.from_levels(T, YES, NO_LEG)
    assert book.yes_levels == (YES[1], YES[0])
    assert book.no_levels == (NO_LEG[1], NO_LEG[0])


def test_no_levels_sorted_best_first_yes_scale() -> None:
    """With use_yes_price the best no bid is the lowest yes-scale price, listed first."""
    book = Orderbook.from_levels(T, YES, NO_YES_SCALE, use_yes_price=True)
    assert book.no_levels == (NO_YES_SCALE[1], NO_YES_SCALE[0])


def test_depth() -> None:
    """depth() sums the best N levels of a side; None means all, N past the end is all."""
    book = Orderbook.from_levels(T, YES, NO_LEG)
    assert book.depth("yes") == D("633.00")
    assert book.depth("yes", 1) == D("333.00")
    assert book.depth("yes", 0) == 0
    assert book.depth("yes", 10) == D("633.00")
    assert book.depth("no", 1) == D("146.00")


def test_depth_rejects_bad_arguments() -> None:
    """depth() rejects an unknown side and a negative level count."""
    book = Orderbook.from_levels(T, YES)
    with pytest.raises(ValueError, match="side"):
        book.depth("maybe")
    with pytest.raises(ValueError, match="levels"):
        book.depth("yes", -1)


def test_from_levels_drops_empty_levels_and_last_wins() -> None:
    """from_levels drops count <= 0 levels and keeps the last pair for a repeated price."""
    book = Orderbook.from_levels(
        T,
        lv(("0.10", "5"), ("0.20", "0"), ("0.30", "-1"), ("0.10", "7")),
        lv(("0.40", "3"), ("0.40", "0")),
    )
    assert dict(book.yes) == {D("0.10"): D("7")}
    assert dict(book.no) == {}


def test_state_and_is_live() -> None:
    """is_live follows state, and an unknown state is rejected."""
    assert Orderbook.from_levels(T).is_live
    assert not Orderbook.from_levels(T, state="stale").is_live
    assert not Orderbook.from_levels(T, state="resyncing").is_live
    with pytest.raises(ValueError):
        Orderbook.from_levels(T, state="broken")


def test_repr_is_short_and_readable() -> None:
    """repr shows ticker, state, best bid/ask and level counts, not the levels."""
    yes = [(D(i) / 100, D(1)) for i in range(1, 60)]
    text = repr(Orderbook.from_levels(T, yes, NO_LEG, state="stale"))
    assert T in text and "'stale'" in text
    assert "yes_bid=0.59" in text and "yes_ask=0.44" in text
    assert "yes:59/no:2" in text
    assert "0.01" not in text


# --- Orderbook: immutability --------------------------------------------------------------


def test_returned_mappings_are_read_only() -> None:
    """book.yes / book.no reject assignment and deletion with TypeError."""
    book = Orderbook.from_levels(T, YES, NO_LEG)
    with pytest.raises(TypeError):
        book.yes[D("0.5")] = D(1)  # type: ignore[index]
    with pytest.raises(TypeError):
        del book.no[D("0.54")]  # type: ignore[attr-defined]


def test_fields_are_frozen() -> None:
    """Orderbook fields cannot be reassigned."""
    book = Orderbook.from_levels(T, YES)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        book.state = "stale"  # type: ignore[misc]


def test_constructor_copies_the_callers_mapping() -> None:
    """Mutating the dict passed to Orderbook() later does not change the book."""
    levels = {D("0.30"): D("10")}
    book = Orderbook(market_ticker=T, yes=levels)
    levels[D("0.99")] = D("1")
    assert dict(book.yes) == {D("0.30"): D("10")}
    assert book.best_yes_bid == D("0.30")


def test_equality_and_hash() -> None:
    """Books with the same content compare equal and can be hashed."""
    a = Orderbook.from_levels(T, YES, NO_LEG, seq=4)
    b = Orderbook(market_ticker=T, yes=dict(YES), no=dict(NO_LEG), seq=4)
    assert a == b
    assert hash(a) == hash(b)
    assert a != Orderbook.from_levels(T, YES, seq=4)


def test_pickle_and_deepcopy_round_trip() -> None:
    """A book survives pickle and deepcopy with equal content and read-only mappings."""
    book = Orderbook.from_levels(T, YES, NO_YES_SCALE, use_yes_price=True, seq=3, sid=2)
    for clone in (pickle.loads(pickle.dumps(book)), copy.deepcopy(book)):
        assert clone == book
        assert clone.best_yes_ask == D("0.44")
        with pytest.raises(TypeError):
            clone.yes[D("0.1")] = D(1)  # type: ignore[index]


# --- MutableOrderbook ---------------------------------------------------------------------


def test_snapshot_replaces_both_sides_and_absent_side_is_empty() -> None:
    """A snapshot replaces both sides; a side absent from it becomes empty."""
    book = MutableOrderbook(T)
    book.apply_snapshot(snap(YES, NO_LEG))
    book.apply_snapshot(snap(lv(("0.50", "1")), seq=9, sid=3))
    frozen = book.freeze()
    assert dict(frozen.yes) == {D("0.50"): D("1")}
    assert dict(frozen.no) == {}
    assert (frozen.seq, frozen.sid) == (9, 3)


def test_snapshot_rejects_other_market() -> None:
    """A snapshot for another ticker raises instead of corrupting the book."""
    with pytest.raises(ValueError, match="OTHER"):
        MutableOrderbook(T).apply_snapshot(snap(YES, ticker="OTHER"))


def test_delta_adds_and_creates_levels() -> None:
    """A positive delta adds to a level or creates it; seq follows the delta."""
    book = MutableOrderbook(T)
    book.apply_snapshot(snap(YES, NO_LEG))
    assert book.apply_delta(delta("0.2200", "7.00", seq=2))
    assert book.apply_delta(delta("0.3000", "1.50", "no", seq=3))
    frozen = book.freeze()
    assert frozen.yes[D("0.22")] == D("340.00")
    assert frozen.no[D("0.30")] == D("1.50")
    assert frozen.seq == 3


@pytest.mark.parametrize("amount", ["-333.00", "-400.00"])
def test_delta_removes_level_at_or_below_zero(amount: str) -> None:
    """A level whose count reaches <= 0 is removed."""
    book = MutableOrderbook(T)
    book.apply_snapshot(snap(YES))
    assert book.apply_delta(delta("0.2200", amount))
    assert D("0.22") not in book.freeze().yes
    assert book.freeze().best_yes_bid == D("0.08")


def test_underflow_is_counted() -> None:
    """Removing more than a level holds (a missed message) is counted in underflows."""
    book = MutableOrderbook(T)
    book.apply_snapshot(snap(YES))
    book.apply_delta(delta("0.2200", "-333.00"))
    assert book.underflows == 0
    book.apply_delta(delta("0.0800", "-301.00"))
    assert book.underflows == 1


@pytest.mark.parametrize("amount", ["-5.00", "0"])
def test_non_positive_delta_on_missing_level_is_noop(amount: str) -> None:
    """A non-positive delta at a missing price creates no level and changes nothing."""
    book = MutableOrderbook(T)
    book.apply_snapshot(snap(YES, NO_LEG))
    before = book.freeze()
    assert book.apply_delta(delta("0.5000", amount, "no", seq=1))
    after = book.freeze()
    assert (after.yes, after.no) == (before.yes, before.no)


def test_delta_rejects_unknown_side() -> None:
    """A side other than yes/no raises ValueError."""
    book = MutableOrderbook(T)
    book.apply_snapshot(snap(YES))
    with pytest.raises(ValueError, match="side"):
        book.apply_delta(delta("0.22", "1", "maybe"))


@pytest.mark.parametrize("mark", ["mark_stale", "mark_resyncing"])
def test_deltas_ignored_until_snapshot(mark: str) -> None:
    """While stale/resyncing deltas return False and change nothing; a snapshot goes live."""
    book = MutableOrderbook(T)
    book.apply_snapshot(snap(YES, seq=1))
    getattr(book, mark)()
    assert book.state == mark.removeprefix("mark_")
    assert not book.apply_delta(delta("0.2200", "-333.00", seq=2))
    frozen = book.freeze()
    assert frozen.yes[D("0.22")] == D("333.00")
    assert frozen.seq == 1
    assert not frozen.is_live
    book.apply_snapshot(snap(lv(("0.10", "1")), seq=7))
    assert book.state == "live"
    assert book.apply_delta(delta("0.1000", "1", seq=8))
    assert book.freeze().yes == {D("0.10"): D("2")}


def test_freeze_is_a_snapshot_in_time() -> None:
    """A frozen copy does not change when the mutable book changes afterwards."""
    book = MutableOrderbook(T)
    book.apply_snapshot(snap(YES))
    frozen = book.freeze()
    book.apply_delta(delta("0.2200", "-333.00"))
    assert frozen.yes[D("0.22")] == D("333.00")


def test_snapshot_sets_the_pricing_convention() -> None:
    """apply_snapshot(use_yes_price=...) sets the convention; None keeps the current one."""
    book = MutableOrderbook(T, use_yes_price=True)
    book.apply_snapshot(snap(YES, NO_YES_SCALE))
    assert book.freeze().best_yes_ask == D("0.44")
    book.apply_snapshot(snap(YES, NO_LEG), use_yes_price=False)
    assert book.freeze().best_yes_ask == D("0.44")
    assert not book.freeze().use_yes_price


# --- BookStore ----------------------------------------------------------------------------


def test_store_snapshot_creates_book_with_sid() -> None:
    """apply_snapshot creates the market's book and records the sid and convention."""
    store = BookStore()
    store.apply_snapshot(snap(YES, NO_YES_SCALE, sid=5, seq=2), use_yes_price=True)
    book = store.get(T)
    assert (book.sid, book.seq, book.use_yes_price, book.state) == (5, 2, True, "live")
    assert book.best_yes_ask == D("0.44")
    assert T in store and len(store) == 1
    assert store.tickers() == [T]
    assert store.tickers_for_sid(5) == [T]
    assert store.tickers_for_sid(6) == []


def test_store_delta_unknown_market_returns_false() -> None:
    """apply_delta on a market without a book returns False and creates nothing."""
    store = BookStore()
    assert not store.apply_delta(delta("0.22", "1"))
    assert len(store) == 0


def test_store_delta_from_other_sid_is_ignored() -> None:
    """A late delta from an older subscription does not touch a book rebuilt on a new sid."""
    store = BookStore()
    store.apply_snapshot(snap(YES, sid=2, seq=1))
    assert not store.apply_delta(delta("0.2200", "-333.00", sid=1, seq=50))
    assert store.apply_delta(delta("0.2200", "1.00", sid=2, seq=2))
    assert store.get(T).yes[D("0.22")] == D("334.00")


def test_store_mark_stale_all_and_some() -> None:
    """mark_stale(None) marks every book, mark_stale(list) only those; unknown are ignored."""
    store = BookStore()
    for t in ("A", "B", "C"):
        store.apply_snapshot(snap(YES, ticker=t))
    store.mark_stale(["A", "ZZZ"])
    assert [store.state(t) for t in ("A", "B", "C")] == ["stale", "live", "live"]
    store.mark_stale()
    assert [store.state(t) for t in ("A", "B", "C")] == ["stale"] * 3
    assert store.state("ZZZ") is None


def test_store_resync_cycle() -> None:
    """stale -> resyncing ignores deltas; the next snapshot makes the book live again."""
    store = BookStore()
    store.apply_snapshot(snap(YES, ticker="A"))
    store.mark_stale("A")
    store.mark_resyncing(["A"])
    assert store.state("A") == "resyncing"
    assert not store.apply_delta(delta("0.22", "1", ticker="A"))
    store.apply_snapshot(snap(NO_LEG[:0], NO_LEG, ticker="A", seq=10))
    book = store.get("A")
    assert book.state == "live" and dict(book.yes) == {} and book.best_no_bid == D("0.56")
    assert store.apply_delta(delta("0.56", "-146.00", "no", ticker="A", seq=11))


def test_store_remove() -> None:
    """remove() forgets the given markets and ignores unknown ones."""
    store = BookStore()
    store.apply_snapshot(snap(YES, ticker="A"))
    store.apply_snapshot(snap(YES, ticker="B"))
    store.remove(["A", "nope"])
    store.remove("B")
    assert store.tickers() == []
    assert "A" not in store


def test_store_get_unknown_raises_helpful_keyerror() -> None:
    """get() of an unknown market raises KeyError naming the ticker and what to do."""
    with pytest.raises(KeyError) as info:
        BookStore().get("NOPE-1")
    message = str(info.value)
    assert "NOPE-1" in message and "orderbook_delta" in message


def test_store_get_returns_independent_immutable_copy() -> None:
    """get() returns a copy: later deltas do not change it and its mappings are read-only."""
    store = BookStore()
    store.apply_snapshot(snap(YES))
    first = store.get(T)
    store.apply_delta(delta("0.2200", "5.00"))
    assert first.yes[D("0.22")] == D("333.00")
    assert store.get(T).yes[D("0.22")] == D("338.00")
    with pytest.raises(TypeError):
        first.yes[D("0.22")] = D(0)  # type: ignore[index]


def test_store_concurrent_get_sees_consistent_copies() -> None:
    """get() from another thread during writes always returns one consistent, frozen state."""
    store = BookStore()
    prices = [D(i) / 100 for i in range(1, 101)]
    store.apply_snapshot(snap([(p, D(1)) for p in prices], sid=1, seq=0))
    n_deltas = 20_000

    def expected_count(price_index: int, seq: int) -> Decimal:
        # Delta k (seq k) adds 1 at prices[k % 100]; seq alone determines the whole book.
        hits = seq // 100 + (1 if 0 < price_index <= seq % 100 else 0)
        return D(1 + hits)

    samples: list[Orderbook] = []
    reads = 0
    errors: list[str] = []
    done = threading.Event()

    def reader() -> None:
        nonlocal reads
        while not done.is_set() or reads < 50:
            book = store.get(T)
            reads += 1
            # Every delta adds one contract: the total must match the seq of the same copy.
            if book.seq is None or book.depth("yes") != 100 + book.seq or len(book.yes) != 100:
                errors.append(f"inconsistent copy: seq {book.seq}, total {book.depth('yes')}")
            if reads % 16 == 0 and len(samples) < 200:
                samples.append(book)

    # Switch threads every microsecond instead of every 5 ms so the reader really does
    # interleave with apply_delta; restored afterwards.
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    thread = threading.Thread(target=reader, name="test-reader")
    thread.start()
    try:
        for k in range(1, n_deltas + 1):
            store.apply_delta(delta(prices[k % 100], "1", sid=1, seq=k))
    finally:
        done.set()
        thread.join(timeout=30)
        sys.setswitchinterval(old_interval)
    assert not thread.is_alive()
    assert errors == []
    assert reads >= 50 and samples
    # Copies taken earlier are still exactly their own state, and still read-only.
    for book in samples:
        assert book.seq is not None
        for i in (0, 1, 57):
            assert book.yes[prices[i]] == expected_count(i, book.seq)
        with pytest.raises(TypeError):
            book.yes[prices[0]] = D(0)  # type: ignore[index]


# --- Property test against a plain reference model ----------------------------------------


class RefBook:
    """The obvious dict-of-dicts book, written for clarity rather than speed."""

    def __init__(self, use_yes_price: bool) -> None:
        self.use_yes_price = use_yes_price
        self.sides: dict[str, dict[Decimal, Decimal]] = {"yes": {}, "no": {}}
        self.state = "live"

    def snapshot(self, yes: Pairs, no: Pairs) -> None:
        self.sides = {"yes": {}, "no": {}}
        for side, pairs in (("yes", yes), ("no", no)):
            for price, count in pairs:
                self.sides[side][price] = count
            self.sides[side] = {p: c for p, c in self.sides[side].items() if c > 0}
        self.state = "live"

    def delta(self, side: str, price: Decimal, amount: Decimal) -> bool:
        if self.state != "live":
            return False
        new = self.sides[side].get(price, D(0)) + amount
        if new > 0:
            self.sides[side][price] = new
        elif price in self.sides[side]:
            del self.sides[side][price]
        return True

    def bests(self) -> tuple[Decimal | None, Decimal | None, Decimal | None, Decimal | None]:
        yes, no = self.sides["yes"], self.sides["no"]
        yes_bid = max(yes) if yes else None
        no_bid: Decimal | None = None
        if no:
            no_bid = D(1) - min(no) if self.use_yes_price else max(no)
        yes_ask = None if no_bid is None else D(1) - no_bid
        no_ask = None if yes_bid is None else D(1) - yes_bid
        return yes_bid, yes_ask, no_bid, no_ask


prices_st = st.integers(min_value=1, max_value=9999).map(lambda n: D(n).scaleb(-4))
counts_st = st.integers(min_value=0, max_value=100_000).map(lambda n: D(n).scaleb(-2))
deltas_st = st.integers(min_value=-100_000, max_value=100_000).map(lambda n: D(n).scaleb(-2))


@st.composite
def book_ops(draw: st.DrawFn) -> tuple[bool, list[tuple[object, ...]]]:
    use_yes_price = draw(st.booleans())
    # A small price pool per example so deltas keep hitting existing levels.
    pool = draw(st.lists(prices_st, min_size=1, max_size=12, unique=True))
    pool_price = st.sampled_from(pool)
    level = st.tuples(pool_price, counts_st)
    op = st.one_of(
        st.tuples(st.just("snapshot"), st.lists(level, max_size=8), st.lists(level, max_size=8)),
        st.tuples(st.just("delta"), st.sampled_from(["yes", "no"]), pool_price, deltas_st),
        st.tuples(st.just("delta"), st.sampled_from(["yes", "no"]), pool_price, deltas_st),
        st.tuples(st.just("delta"), st.sampled_from(["yes", "no"]), pool_price, deltas_st),
        st.tuples(st.just("stale")),
        st.tuples(st.just("resyncing")),
    )
    return use_yes_price, draw(st.lists(op, max_size=60))


@settings(max_examples=300, deadline=None)
@given(book_ops())
def test_mutable_book_matches_reference(case: tuple[bool, list[tuple[object, ...]]]) -> None:
    """Any snapshot/delta/stale sequence leaves levels, state and bests equal to the reference."""
    use_yes_price, ops = case
    book = MutableOrderbook(T, use_yes_price=use_yes_price)
    store = BookStore()
    ref = RefBook(use_yes_price)
    for seq, op in enumerate(ops, start=1):
        kind = op[0]
        if kind == "snapshot":
            yes, no = op[1], op[2]
            assert isinstance(yes, list) and isinstance(no, list)
            snapshot = snap(yes, no, seq=seq)
            book.apply_snapshot(snapshot)
            store.apply_snapshot(snapshot, use_yes_price=use_yes_price)
            ref.snapshot(yes, no)
        elif kind == "delta":
            side, price, amount = op[1], op[2], op[3]
            assert isinstance(side, str)
            assert isinstance(price, Decimal) and isinstance(amount, Decimal)
            message = delta(price, amount, side, seq=seq)
            expected = ref.delta(side, price, amount)
            assert book.apply_delta(message) is expected
            if T in store:
                assert store.apply_delta(message) is expected
        elif kind == "stale":
            book.mark_stale()
            store.mark_stale()
            ref.state = "stale"
        else:
            book.mark_resyncing()
            store.mark_resyncing([T])
            ref.state = "resyncing"

        frozen = book.freeze()
        assert dict(frozen.yes) == ref.sides["yes"]
        assert dict(frozen.no) == ref.sides["no"]
        assert frozen.state == ref.state
        assert all(count > 0 for count in (*frozen.yes.values(), *frozen.no.values()))
        got = (frozen.best_yes_bid, frozen.best_yes_ask, frozen.best_no_bid, frozen.best_no_ask)
        assert got == ref.bests()
        bid, ask = got[0], got[1]
        assert frozen.spread == (None if bid is None or ask is None else ask - bid)
        assert frozen.depth("yes") == sum(ref.sides["yes"].values(), D(0))
        if T in store:
            assert store.get(T) == frozen
