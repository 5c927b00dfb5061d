"""A legacy-style bot: one main loop that owns everything, polling the client for messages.

    python examples/legacy_bot.py --simulate --seconds 10
    python examples/legacy_bot.py KXHIGHNY-26JAN01-T60     # Kalshi demo

With ``delivery="poll"`` the client never runs your code on its own threads: callbacks run
inside ``client.poll()``, called from the bot's loop, so the bot's state needs no locks.
The strategy is a toy that only prints what it would do; place real orders with the REST
API (``ks.RestClient``) where it says so.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal

from _common import connect

import kalshi_sync as ks


class Bot:
    """Reacts to changes of the best bid/ask; all state lives on the main thread."""

    def __init__(self, client: ks.KalshiClient, max_spread: Decimal = Decimal("0.02")) -> None:
        self.client = client
        self.max_spread = max_spread
        self.top: dict[str, tuple[Decimal | None, Decimal | None]] = {}
        self.signals = 0

    def on_book(self, msg: ks.OrderbookSnapshot | ks.OrderbookDelta) -> None:
        if msg.market_ticker is None:  # a message missing its market: the client resyncs
            return
        book = self.client.orderbook(msg.market_ticker)  # already includes this message
        top = (book.best_yes_bid, book.best_yes_ask)
        if book.is_live and top != self.top.get(book.market_ticker):
            self.top[book.market_ticker] = top
            self.react(book)

    def on_trade(self, msg: ks.Trade) -> None:
        if msg.count is None or msg.yes_price is None:  # fields can be missing (msg.missing)
            return
        print(f"  trade {msg.market_ticker} {msg.count:,.0f} @ {msg.yes_price:.2f}")

    def react(self, book: ks.Orderbook) -> None:
        bid, ask = book.best_yes_bid, book.best_yes_ask
        if bid is None or ask is None:
            return
        spread = ask - bid
        mid = (bid + ask) / 2
        if spread <= self.max_spread:
            self.signals += 1
            # A real bot would place an order here, e.g. with ks.RestClient.
            print(f"{book.market_ticker}: tight {bid:.2f}/{ask:.2f} -> would quote around {mid}")
        else:
            print(f"{book.market_ticker}: wide {bid:.2f}/{ask:.2f} (spread {spread:.2f}), wait")


def main(argv: Sequence[str] | None = None) -> int:
    # The command line, the simulator or Kalshi demo; callbacks run only inside poll().
    example = connect(__doc__, argv, delivery="poll")
    client, tickers = example.client, example.tickers
    bot = Bot(client)
    client.on("orderbook_snapshot", bot.on_book)
    client.on("orderbook_delta", bot.on_book)
    client.on("trade", bot.on_trade)
    deadline = example.deadline()
    with example.running():  # Ctrl-C stops quietly; closes everything after
        client.start()
        client.subscribe("orderbook_delta", tickers)
        client.subscribe("trade", tickers)
        next_report = time.monotonic() + 5
        while deadline is None or time.monotonic() < deadline:
            client.poll(timeout=0.1)  # the callbacks above run here, on this thread
            # ... the rest of the bot's loop: risk checks, timers, order management ...
            if time.monotonic() >= next_report:
                stats = client.stats()
                print(f"[{stats['messages']} messages, {bot.signals} signals]")
                next_report += 5
    print(f"done: {bot.signals} signals")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
