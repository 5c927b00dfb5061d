"""Micro-benchmark of the per-frame hot path: ``BookStore.apply_delta``, ``SeqTracker.check``
and ``BookStore.get()`` on a 100-level book. Single-threaded, no I/O; run it directly::

    python bench/bench_book.py [--n 200000]

Each figure is the best of 5 runs of a tight loop, divided by the number of calls
(``time.perf_counter_ns``), so it includes the loop overhead (~20-30 ns) and nothing else.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from decimal import Decimal

from kalshi_sync.models import OrderbookDelta, OrderbookSnapshot
from kalshi_sync.orderbook import BookStore, MutableOrderbook
from kalshi_sync.sequence import SeqTracker

TICKER = "KXHIGHNY-24JAN01-T60"
LEVELS = 100
REPEATS = 5


def best_of(run: Callable[[], int]) -> float:
    """Best per-call time in microseconds over REPEATS runs; ``run`` returns its call count."""
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter_ns()
        calls = run()
        elapsed = time.perf_counter_ns() - start
        best = min(best, elapsed / calls / 1000)
    return best


def snapshot(levels: int) -> OrderbookSnapshot:
    prices = [Decimal(i).scaleb(-2) for i in range(1, levels + 1)]
    return OrderbookSnapshot(
        type="orderbook_snapshot",
        sid=1,
        seq=1,
        market_ticker=TICKER,
        yes=tuple((p, Decimal("100.00")) for p in prices),
        no=tuple((p, Decimal("100.00")) for p in prices),
    )


def deltas(n: int) -> list[OrderbookDelta]:
    # Alternating +5/-5 over existing levels: the book keeps its 100 levels, and every call
    # takes the realistic path (lookup, Decimal add, store), half with a removal check.
    out = []
    for i in range(n):
        out.append(
            OrderbookDelta(
                type="orderbook_delta",
                sid=1,
                seq=i + 2,
                market_ticker=TICKER,
                price=Decimal(i % LEVELS + 1).scaleb(-2),
                delta=Decimal("5.00") if (i // LEVELS) % 2 == 0 else Decimal("-5.00"),
                side="yes" if i % 2 == 0 else "no",
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="calls per run")
    args = parser.parse_args()
    n: int = args.n

    msgs = deltas(n)
    snap = snapshot(LEVELS)

    store = BookStore()
    store.apply_snapshot(snap)

    def run_store_delta() -> int:
        apply = store.apply_delta
        for m in msgs:
            apply(m)
        return n

    book = MutableOrderbook(TICKER)
    book.apply_snapshot(snap)

    def run_book_delta() -> int:
        apply = book.apply_delta
        for m in msgs:
            apply(m)
        return n

    def run_seq() -> int:
        tracker = SeqTracker()
        check = tracker.check
        for seq in range(1, n + 1):
            check(1, seq)
        return n

    get_calls = max(1, n // 20)

    def run_get() -> int:
        get = store.get
        for _ in range(get_calls):
            get(TICKER)
        return get_calls

    def run_get_and_bests() -> int:
        get = store.get
        for _ in range(get_calls):
            b = get(TICKER)
            _ = (b.best_yes_bid, b.best_yes_ask)
        return get_calls

    def run_loop() -> int:
        for _ in msgs:
            pass
        return n

    print(f"python {platform.python_version()} ({sys.implementation.name}), {platform.machine()}")
    print(f"{'empty loop (overhead)':<44}{best_of(run_loop):8.3f} us/call")
    print(f"{'BookStore.apply_delta':<44}{best_of(run_store_delta):8.3f} us/call")
    print(f"{'MutableOrderbook.apply_delta (no lock)':<44}{best_of(run_book_delta):8.3f} us/call")
    print(f"{'SeqTracker.check (in order)':<44}{best_of(run_seq):8.3f} us/call")
    print(f"{'BookStore.get() 100+100 levels':<44}{best_of(run_get):8.3f} us/call")
    print(f"{'BookStore.get() + best_yes_bid/ask':<44}{best_of(run_get_and_bests):8.3f} us/call")


if __name__ == "__main__":
    main()
