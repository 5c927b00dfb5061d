"""Plain-call unit tests of the sans-I/O Recovery: inputs in, Plans (commands, book marks,
events) out. The clock is a number passed in; the books are a dict. No sockets, no threads.
"""

from __future__ import annotations

import threading

import orjson
import pytest

from kalshi_sync._recovery import (
    NOTHING,
    SNAPSHOT_TIMEOUT,
    GetSnapshot,
    Plan,
    Recovery,
    Resubscribe,
)
from kalshi_sync.dispatch import Delivery, Router
from kalshi_sync.events import GapEvent, ResyncedEvent
from kalshi_sync.models import ServerError, Subscribed
from kalshi_sync.orderbook import BookStore
from kalshi_sync.pipeline import Pipeline
from kalshi_sync.registry import Registry
from kalshi_sync.sequence import SeqTracker
from kalshi_sync.subscriptions import Subscription

T1, T2, T3 = "KXA-T1", "KXB-T2", "KXC-T3"


class Books:
    """A BookView over a dict: sid -> {ticker: state}."""

    def __init__(self, by_sid: dict[int, dict[str, str]]) -> None:
        self.by_sid = by_sid

    def tickers_for_sid(self, sid: int) -> list[str]:
        return sorted(self.by_sid.get(sid, {}))

    def state(self, ticker: str) -> str | None:
        for books in self.by_sid.values():
            if ticker in books:
                return books[ticker]
        return None

    def apply(self, plan: Plan) -> None:
        """Carry out the plan's book marks, as the pipeline does."""
        for books in self.by_sid.values():
            for t in books:
                if plan.stale:
                    books[t] = "stale"
                if t in plan.resyncing:
                    books[t] = "resyncing"


def error(code: int, *, sid: int | None = None, cmd_id: int | None = None) -> ServerError:
    return ServerError(type="error", id=cmd_id, sid=sid, code=code, message="x")


def test_gap_on_a_book_sid_resyncs_its_books_and_reports_the_gap() -> None:
    """A gap on an orderbook sid: its books resyncing, one get_snapshot, a gap event."""
    rec = Recovery(Books({3: {T1: "live", T2: "live"}, 4: {T3: "live"}}))
    plan = rec.on_gap(3, "orderbook_delta", 5, 8, now=100.0)
    assert plan.commands == (GetSnapshot(3, (T1, T2)),)
    assert plan.resyncing == (T1, T2)
    assert plan.events == (
        GapEvent(sid=3, channel="orderbook_delta", expected=5, received=8, market_tickers=(T1, T2)),
    )
    assert rec.resyncs == 1
    assert rec.deadlines == {3: 100.0 + SNAPSHOT_TIMEOUT}


def test_gap_on_a_channel_without_books_only_reports_it() -> None:
    """A gap on a ticker sid: no command, no book mark, only the gap event."""
    rec = Recovery(Books({3: {T1: "live"}}))
    plan = rec.on_gap(7, "ticker", 2, 4, now=0.0)
    assert (plan.commands, plan.resyncing, rec.resyncs, rec.deadlines) == ((), (), 0, {})
    assert [e.type for e in plan.events] == ["gap"]


def test_gap_on_an_unknown_channel_repairs_the_sids_books_if_any() -> None:
    """A gap seen first on a control reply (channel unknown) still resyncs the sid's books."""
    rec = Recovery(Books({3: {T1: "live"}}))
    assert rec.on_gap(3, "", 2, 4, now=0.0).commands == (GetSnapshot(3, (T1,)),)
    assert rec.on_gap(9, "", 2, 4, now=0.0).commands == ()


def test_deadline_resubscribes_only_if_a_book_is_still_resyncing() -> None:
    """on_tick after SNAPSHOT_TIMEOUT: resubscribe when a book is still resyncing; a sid
    whose snapshot came in time sends nothing; before the deadline nothing happens."""
    books = Books({3: {T1: "live"}, 4: {T2: "live"}})
    rec = Recovery(books)
    books.apply(rec.on_gap(3, "orderbook_delta", 1, 3, now=10.0))
    books.apply(rec.on_gap(4, "orderbook_delta", 1, 3, now=10.0))
    assert rec.on_tick(10.0 + SNAPSHOT_TIMEOUT - 0.01) is NOTHING
    books.by_sid[4][T2] = "live"  # its snapshot arrived
    assert rec.on_tick(10.0 + SNAPSHOT_TIMEOUT).commands == (Resubscribe(3),)
    assert rec.deadlines == {}
    assert rec.on_tick(100.0) is NOTHING


def test_refused_get_snapshot_resubscribes_its_sid() -> None:
    """An error answering a get_snapshot (known by its id) resubscribes that sid at once,
    even when the error names no sid."""
    rec = Recovery(Books({3: {T1: "live"}}))
    rec.on_gap(3, "orderbook_delta", 1, 3, now=0.0)
    rec.snapshot_sent(41, 3)
    assert rec.on_error(error(11, cmd_id=41), answers_command=False).commands == (Resubscribe(3),)
    # The same id again is no longer ours.
    assert rec.on_error(error(11, cmd_id=41), answers_command=False) is NOTHING


@pytest.mark.parametrize("code", [10, 17, 25, 99])
def test_terminal_error_resubscribes_and_marks_live_books_resyncing(code: int) -> None:
    """A terminal (or unknown) error code on a sid: resubscribe; its books not already
    resyncing go resyncing, counted as one resync."""
    rec = Recovery(Books({3: {T1: "live", T2: "resyncing"}}))
    plan = rec.on_error(error(code, sid=3), answers_command=False)
    assert plan.commands == (Resubscribe(3),)
    assert plan.resyncing == (T1,)
    assert rec.resyncs == 1


@pytest.mark.parametrize(
    ("err", "answers"),
    [
        (error(18, sid=3), False),  # command timeout: not terminal
        (error(10, sid=3, cmd_id=5), True),  # the answer to one of our commands
        (error(10), False),  # no sid: nothing to resubscribe
    ],
)
def test_errors_that_do_not_end_a_subscription_change_nothing(
    err: ServerError, answers: bool
) -> None:
    """A user-error code, an error answering a command, or one without a sid: no plan."""
    rec = Recovery(Books({3: {T1: "live"}}))
    assert rec.on_error(err, answers_command=answers) is NOTHING


def test_unappliable_delta_with_a_market_resyncs_that_market() -> None:
    """A delta that cannot be applied resyncs its own market."""
    rec = Recovery(Books({3: {T1: "live", T2: "live"}}))
    plan = rec.on_unappliable(3, "orderbook_delta", T2, None, "bad", now=0.0)
    assert (plan.commands, plan.resyncing) == ((GetSnapshot(3, (T2,)),), (T2,))


def test_unappliable_delta_without_a_market_resyncs_only_live_books() -> None:
    """A market-less delta can only have corrupted a live book: only those resync."""
    rec = Recovery(Books({3: {T1: "live", T2: "resyncing"}}))
    plan = rec.on_unappliable(3, "orderbook_delta", None, None, "bad", now=0.0)
    assert plan.commands == (GetSnapshot(3, (T1,)),)
    quiet = Recovery(Books({3: {T2: "resyncing"}}))
    assert quiet.on_unappliable(3, "orderbook_delta", None, None, "x", now=0.0) is NOTHING


def test_unappliable_snapshot_without_a_market_resyncs_every_wanted_market() -> None:
    """A market-less snapshot may have been for any market of its sid, book or not yet."""
    rec = Recovery(Books({3: {T1: "live"}}))
    plan = rec.on_unappliable(3, "orderbook_snapshot", None, {T3, T1}, "x", now=0.0)
    assert plan.commands == (GetSnapshot(3, (T1, T3)),)


def test_unappliable_without_sid_is_not_resynced() -> None:
    """Without a sid there is nothing to ask a snapshot of."""
    rec = Recovery(Books({3: {T1: "live"}}))
    assert rec.on_unappliable(None, "orderbook_delta", T1, None, "x", now=0.0) is NOTHING
    assert rec.resyncs == 0


def test_snapshot_reports_resynced_only_for_a_book_that_was_not_live() -> None:
    """resynced after a stale or resyncing book's snapshot; not for a new or live book."""
    rec = Recovery(Books({}))
    assert rec.on_snapshot(3, T1, "resyncing").events == (ResyncedEvent(sid=3, market_ticker=T1),)
    assert rec.on_snapshot(3, T1, "stale").events == (ResyncedEvent(sid=3, market_ticker=T1),)
    assert rec.on_snapshot(3, T1, None) is NOTHING
    assert rec.on_snapshot(3, T1, "live") is NOTHING


def test_connection_change_marks_books_stale_and_voids_deadlines() -> None:
    """A reconnect (or disconnect) marks every book stale; pending deadlines and refusal
    tracking are void (the resubscribe brings fresh snapshots)."""
    rec = Recovery(Books({3: {T1: "live"}}))
    rec.on_gap(3, "orderbook_delta", 1, 3, now=0.0)
    rec.snapshot_sent(7, 3)
    assert rec.on_connection_change() == Plan(stale=True)
    assert rec.deadlines == {}
    assert rec.on_tick(1000.0) is NOTHING
    assert rec.on_error(error(11, cmd_id=7), answers_command=False) is NOTHING


class _Untouchable:
    """Stands in for Recovery: any use of it fails the test."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the hot path called recovery.{name}")


def test_in_order_deltas_never_reach_recovery() -> None:
    """Pipeline: a subscribed book's snapshot and in-order deltas that apply are routed and
    delivered without one call into recovery (the per-frame path stays lean); a gap then
    does reach it."""

    class Owner:  # the handle's methods are not used here
        pass

    reg = Registry()
    got: list[str] = []
    d = Delivery(Router(), mode="inline", routing=reg)
    sub = Subscription(
        Owner(),  # type: ignore[arg-type]
        "orderbook_delta",
        frozenset({T1}),
        {"use_yes_price": False},
        lambda m: got.append(m.type),
    )
    reg.connected(1)
    reg.add(sub, None)
    reg.on_reply(Subscribed(type="subscribed", id=1, sid=2, channel="orderbook_delta"))
    books = BookStore()
    p = Pipeline(
        reg,
        books,
        SeqTracker(),
        d,
        lambda out: None,
        closed=lambda: False,
        ready=threading.Event(),
        finished=threading.Event(),
    )
    snap = {
        "market_ticker": T1,
        "yes_dollars_fp": [["0.4000", "10.00"]],
        "no_dollars_fp": [["0.5000", "10.00"]],
    }
    p.on_frame(orjson.dumps({"type": "orderbook_snapshot", "sid": 2, "seq": 1, "msg": snap}))
    real = p.recovery
    p.recovery = _Untouchable()  # type: ignore[assignment]
    for seq in range(2, 12):
        delta = {"market_ticker": T1, "price_dollars": "0.4000", "delta_fp": "1.00", "side": "yes"}
        p.on_frame(orjson.dumps({"type": "orderbook_delta", "sid": 2, "seq": seq, "msg": delta}))
    assert got == ["orderbook_snapshot"] + ["orderbook_delta"] * 10
    assert books.get(T1).yes_levels[0][1] == 20
    p.recovery = real
    delta = {"market_ticker": T1, "price_dollars": "0.4000", "delta_fp": "1.00", "side": "yes"}
    p.on_frame(orjson.dumps({"type": "orderbook_delta", "sid": 2, "seq": 20, "msg": delta}))
    assert books.state(T1) == "resyncing"
    assert real.resyncs == 1
