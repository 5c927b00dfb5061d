"""Keep local order books and print the top of each once a second.

    python examples/local_orderbook.py --simulate --seconds 5
    python examples/local_orderbook.py KXHIGHNY-26JAN01-T60     # Kalshi demo

The client builds the books on its network thread from the snapshot and the deltas, so
no callback is needed to keep them: ``client.orderbook(ticker)`` returns an immutable copy
from any thread. Gaps in the stream are repaired by a fresh snapshot; the "gap" and
"resynced" events say when a book was not to be trusted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from decimal import Decimal

from _common import connect

import kalshi_sync as ks


def fmt(price: Decimal | None) -> str:
    return "  -  " if price is None else f"{price:.2f}"


def show(book: ks.Orderbook, depth: int = 3) -> str:
    bids = ", ".join(f"{p:.2f}x{c:,.0f}" for p, c in book.yes_levels[:depth])
    # No bids at no-leg price p are yes asks at 1 - p.
    asks = ", ".join(f"{1 - p:.2f}x{c:,.0f}" for p, c in book.no_levels[:depth])
    return (
        f"{book.market_ticker:<24} [{book.state}] bid {fmt(book.best_yes_bid)} "
        f"ask {fmt(book.best_yes_ask)} | bids {bids} | asks {asks}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    example = connect(__doc__, argv)  # the command line, the simulator or Kalshi demo
    client, tickers = example.client, example.tickers
    client.on("gap", lambda ev: print(f"gap on {ev.channel}: resyncing {ev.market_tickers}"))
    client.on("resynced", lambda ev: print(f"{ev.market_ticker}: book live again"))
    stop = threading.Event()
    deadline = example.deadline()
    with example.running():  # Ctrl-C stops quietly; closes everything after
        client.start()
        client.subscribe("orderbook_delta", tickers)
        while deadline is None or time.monotonic() < deadline:
            for ticker in tickers:
                try:
                    print(show(client.orderbook(ticker)), flush=True)
                except KeyError:
                    print(f"{ticker}: no snapshot yet", flush=True)
            wait = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
            stop.wait(max(0.0, wait))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
