"""A Tkinter order book viewer: callbacks run on the Tk thread via ``poll`` delivery.

    python examples/tk_orderbook.py --simulate            # offline, no account
    python examples/tk_orderbook.py KXHIGHNY-26JAN01-T60  # Kalshi demo

Tk widgets may only be touched from the thread running the Tk main loop. With
``delivery="poll"`` the client queues messages and a Tk ``after`` timer drains them with
``client.poll()``: every callback runs on the Tk thread and may update widgets directly.
"""

from __future__ import annotations

import signal
import time
import tkinter as tk
from collections.abc import Sequence
from decimal import Decimal
from tkinter import ttk

from _common import connect

import kalshi_sync as ks

POLL_MS = 50  # how often the Tk loop drains the client's queue
MAX_PER_POLL = 5_000  # keep the window responsive under a burst


def fmt(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.2f}"


class Viewer:
    """The window: a market picker, status line, bids and asks tables, recent trades.

    The widgets are attributes (``status``, ``best``, ``bids``, ``asks``, ``trades``) so
    that tests can read what is on screen.
    """

    def __init__(self, root: tk.Tk, client: ks.KalshiClient, tickers: Sequence[str]) -> None:
        self.root, self.client, self.tickers = root, client, list(tickers)
        self.state = "connecting"
        self.messages = 0
        self._rate_mark = (time.monotonic(), 0)
        self._rate = 0.0
        self._dirty = True
        self._after: str | None = None
        self.closed = False

        root.title("kalshi_sync order book")
        bar = ttk.Frame(root, padding=6)
        bar.pack(fill="x")
        ttk.Label(bar, text="Market:").pack(side="left")
        self.market = ttk.Combobox(bar, values=self.tickers, state="readonly", width=28)
        self.market.set(self.tickers[0])
        self.market.bind("<<ComboboxSelected>>", lambda _e: self._mark())
        self.market.pack(side="left", padx=6)
        self.status = ttk.Label(bar, text="connecting", width=40)
        self.status.pack(side="left", padx=6)
        self.best = ttk.Label(root, text="bid - / ask -", font=("TkDefaultFont", 14, "bold"))
        self.best.pack(fill="x", padx=8)

        books = ttk.Frame(root, padding=6)
        books.pack(fill="both", expand=True)
        self.bids = self._table(books, "YES bids", ("price", "size"))
        self.asks = self._table(books, "YES asks", ("price", "size"))
        self.trades = self._table(root, "Last trades", ("time", "market", "size", "price"), 6)

        client.on("connected", self._on_connected)
        client.on("disconnected", self._on_disconnected)
        client.on("orderbook_snapshot", self._on_book)
        client.on("orderbook_delta", self._on_book)
        client.on("trade", self._on_trade)
        client.on("*", self._count)

    @staticmethod
    def _table(
        parent: tk.Misc, title: str, columns: tuple[str, ...], rows: int = 10
    ) -> ttk.Treeview:
        frame = ttk.LabelFrame(parent, text=title, padding=4)
        frame.pack(side="left", fill="both", expand=True, padx=4, pady=4)
        tree = ttk.Treeview(frame, columns=columns, show="headings", height=rows)
        for col in columns:
            tree.heading(col, text=col)
            tree.column(col, width=90 if col != "market" else 170, anchor="e")
        tree.pack(fill="both", expand=True)
        return tree

    # -- callbacks: they run inside client.poll(), on the Tk thread ------------------------

    def _count(self, msg: object) -> None:
        if not isinstance(msg, ks.Event):
            self.messages += 1

    def _on_connected(self, _event: ks.ConnectedEvent) -> None:
        self.state = "live"
        self._mark()

    def _on_disconnected(self, event: ks.DisconnectedEvent) -> None:
        self.state = "reconnecting" if event.will_reconnect else "closed"
        self._mark()

    def _on_book(self, msg: ks.OrderbookSnapshot | ks.OrderbookDelta) -> None:
        if msg.market_ticker == self.market.get():
            self._mark()

    def _on_trade(self, msg: ks.Trade) -> None:
        when = time.strftime("%H:%M:%S", time.localtime((msg.ts_ms or 0) / 1000))
        count = "-" if msg.count is None else f"{msg.count:,.0f}"  # fields can be missing
        row = (when, msg.market_ticker or "?", count, fmt(msg.yes_price))
        self.trades.insert("", 0, values=row)
        for extra in self.trades.get_children()[6:]:
            self.trades.delete(extra)

    def _mark(self) -> None:
        self._dirty = True

    # -- the Tk loop ------------------------------------------------------------------------

    def start(self) -> None:
        """Connect, subscribe, and start the ``after`` loop (call before mainloop)."""
        self.client.start()
        self.client.subscribe("orderbook_delta", self.tickers)
        self.client.subscribe("trade", self.tickers)
        self._after = self.root.after(POLL_MS, self._tick)

    def _tick(self) -> None:
        self.client.poll(max_messages=MAX_PER_POLL)
        now = time.monotonic()
        t0, n0 = self._rate_mark
        if now - t0 >= 1.0:
            self._rate = (self.messages - n0) / (now - t0)
            self._rate_mark = (now, self.messages)
            self._dirty = True
        if self._dirty:
            self.refresh()
        self._after = self.root.after(POLL_MS, self._tick)

    def refresh(self) -> None:
        """Redraw the selected market's book and the status line."""
        self._dirty = False
        ticker = self.market.get()
        try:
            book: ks.Orderbook | None = self.client.orderbook(ticker)
        except KeyError:
            book = None
        bids = list(book.yes_levels[:10]) if book is not None else []
        asks = [(1 - p, c) for p, c in book.no_levels[:10]] if book is not None else []
        for tree, levels in ((self.bids, bids), (self.asks, asks)):
            tree.delete(*tree.get_children())
            for price, size in levels:
                tree.insert("", "end", values=(fmt(price), f"{size:,.0f}"))
        book_state = book.state if book is not None else "no book"
        self.status.configure(text=f"{self.state} | book {book_state} | {self._rate:,.0f} msg/s")
        if book is not None:
            self.best.configure(
                text=f"{ticker}   bid {fmt(book.best_yes_bid)} / ask {fmt(book.best_yes_ask)}"
            )

    def close(self) -> None:
        """Stop the loop, close the client, destroy the window. Idempotent."""
        if self.closed:
            return
        self.closed = True
        if self._after is not None:
            self.root.after_cancel(self._after)
        self.client.close()
        self.root.destroy()


def main(argv: Sequence[str] | None = None) -> int:
    # The command line, the simulator or Kalshi demo; callbacks run only inside poll().
    example = connect(
        __doc__, argv, delivery="poll", seconds_help="close the window after N seconds"
    )
    try:
        root = tk.Tk()
        viewer = Viewer(root, example.client, example.tickers)
        root.protocol("WM_DELETE_WINDOW", viewer.close)
        # Tk swallows KeyboardInterrupt in callbacks: turn Ctrl-C into a clean close.
        signal.signal(signal.SIGINT, lambda *_: root.after_idle(viewer.close))
        viewer.start()
        if example.seconds is not None:
            root.after(int(example.seconds * 1000), viewer.close)
        root.mainloop()
    finally:
        example.close()  # the client, then the simulator
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
