"""The terminal view of ``kalshi-sync``: what it collects, and how a frame is drawn.

:class:`ViewState` gathers what the view shows (recent trades, last tickers, lifecycle
events, connection state, message count) from a client's ``"*"`` handler, on whatever
thread delivers callbacks; a field a message lacks (None) is shown as ``?`` or ``-``.
:class:`Screen` is an immutable copy of it plus the books and the latency percentiles;
:func:`render` (a full frame) and :func:`plain_line` (one summary line) are pure functions
of a Screen, so they are tested without a terminal.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

import attrs

from ._channels import ACCOUNT_CHANNELS, CHANNELS, MARKET_CHANNELS
from .events import ConnectedEvent, DisconnectedEvent, Event
from .models import MarketLifecycle, Message, Ticker, Trade
from .orderbook import Orderbook

__all__ = ["RateMeter", "Screen", "ViewState", "plain_line", "render"]

_ONE = Decimal(1)
# Types whose market the view lists: public market data (order book, ticker, trade), not the
# account's own fills and orders, which may name markets nobody is watching.
_MARKET_DATA_TYPES = frozenset(
    t for name in MARKET_CHANNELS - ACCOUNT_CHANNELS for t in CHANNELS[name].types
)


@attrs.frozen(kw_only=True)
class Screen:
    """Everything one frame shows."""

    title: str
    state: str
    elapsed: float
    rate: float
    messages: int
    tickers: tuple[str, ...]
    books: Mapping[str, Orderbook | None]
    last: Mapping[str, Ticker]
    trades: tuple[Trade, ...]
    lifecycle: tuple[MarketLifecycle, ...]
    reconnects: int = 0
    gaps: int = 0
    latency: tuple[int | None, int | None] | None = None
    """(p50, p99) server-queue-to-callback latency in ms (``stats()``), None when unknown."""


class ViewState:
    """Collects the view's data from every message and event (attach with
    ``client.on("*", view.on_message)``). Thread-safe: callbacks write, the display reads."""

    def __init__(self, tickers: Iterable[str] = (), *, max_trades: int = 8) -> None:
        self._lock = threading.Lock()  # guards every attribute below
        self._tickers: list[str] = list(dict.fromkeys(tickers))
        self._trades: deque[Trade] = deque(maxlen=max_trades)
        self._lifecycle: deque[MarketLifecycle] = deque(maxlen=3)
        self._last: dict[str, Ticker] = {}
        self._state = "connecting"
        self._messages = 0
        self._reconnects = 0
        self._gaps = 0
        self.fatal: BaseException | None = None
        """The error that ended the session for good (auth revoked, ...), if any."""
        self.finished = threading.Event()
        """Set when the client stopped for good (``fatal`` says why, when it was an error)."""

    @property
    def messages(self) -> int:
        return self._messages

    def on_message(self, msg: Message | Event) -> None:
        if isinstance(msg, Event):
            self._on_event(msg)
            return
        ticker = getattr(msg, "market_ticker", None)
        with self._lock:
            self._messages += 1
            if (
                isinstance(ticker, str)
                and ticker
                and ticker not in self._tickers
                and msg.type in _MARKET_DATA_TYPES
            ):
                self._tickers.append(ticker)
            if isinstance(msg, Trade):
                self._trades.appendleft(msg)
            elif isinstance(msg, Ticker):
                if msg.market_ticker is not None:  # a ticker naming no market shows nowhere
                    self._last[msg.market_ticker] = msg
            elif isinstance(msg, MarketLifecycle):
                self._lifecycle.appendleft(msg)

    def _on_event(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, ConnectedEvent):
                self._state = "live"
                self._reconnects += event.reconnect
            elif isinstance(event, DisconnectedEvent):
                self._state = "reconnecting" if event.will_reconnect else "closed"
                if not event.will_reconnect:
                    if event.error is not None:
                        self.fatal = event.error
                    self.finished.set()
            elif event.type == "gap":
                self._gaps += 1

    def set_state(self, state: str) -> None:
        with self._lock:
            self._state = state

    def screen(
        self,
        title: str,
        books: Mapping[str, Orderbook | None],
        *,
        elapsed: float,
        rate: float,
        tickers: Sequence[str] | None = None,
        latency: tuple[int | None, int | None] | None = None,
    ) -> Screen:
        with self._lock:
            return Screen(
                title=title,
                state=self._state,
                elapsed=elapsed,
                rate=rate,
                messages=self._messages,
                tickers=tuple(self._tickers if tickers is None else tickers),
                books=dict(books),
                last=dict(self._last),
                trades=tuple(self._trades),
                lifecycle=tuple(self._lifecycle),
                reconnects=self._reconnects,
                gaps=self._gaps,
                latency=latency,
            )

    def tickers(self) -> list[str]:
        with self._lock:
            return list(self._tickers)


class RateMeter:
    """Messages per second over a sliding window of about ``window`` seconds."""

    def __init__(self, window: float = 2.0) -> None:
        self._window = window
        self._samples: deque[tuple[float, int]] = deque()

    def update(self, now: float, count: int) -> float:
        samples = self._samples
        samples.append((now, count))
        while len(samples) > 2 and now - samples[1][0] >= self._window:
            samples.popleft()
        t0, c0 = samples[0]
        return (count - c0) / (now - t0) if now > t0 else 0.0


def _p(price: Decimal | None) -> str:
    return "  -  " if price is None else f"{price:.2f}"


def _n(count: Decimal | None) -> str:
    return "-" if count is None else f"{count:,.0f}" if count == count.to_integral() else f"{count}"


def _ask_levels(book: Orderbook) -> list[tuple[Decimal, Decimal]]:
    """Yes asks (price, size), best first, from the no side's bids."""
    if book.use_yes_price:
        return list(book.no_levels)
    return [(_ONE - p, c) for p, c in book.no_levels]


def _latency(screen: Screen) -> str:
    """The latency part of the status line (``latency p50 12 ms p99 40 ms``), or "" when no
    message carried ``sending_ts_ms`` yet."""
    if screen.latency is None or screen.latency[0] is None:
        return ""
    p50, p99 = screen.latency
    return f"latency p50 {p50} ms p99 {p99} ms"


def _clock(ts_ms: int | None) -> str:
    if ts_ms is None:
        return "--:--:--"
    return time.strftime("%H:%M:%S", time.gmtime(ts_ms / 1000))


def _market_lines(
    ticker: str, book: Orderbook | None, last: Ticker | None, depth: int
) -> list[str]:
    if book is None:
        return [f"{ticker}  (no book yet)"]
    bid, ask = book.best_yes_bid, book.best_yes_ask
    bid_size = book.yes.get(bid) if bid is not None else None
    asks = _ask_levels(book)
    ask_size = asks[0][1] if asks else None
    head = (
        f"{ticker}  [{book.state}]  bid {_p(bid)} x {_n(bid_size)}  "
        f"ask {_p(ask)} x {_n(ask_size)}  spread {_p(book.spread)}"
    )
    if last is not None:
        head += f"  last {_p(last.price)}  vol {_n(last.volume)}"
    lines = [head, f"  {'YES BID':>9} {'SIZE':>10}  |  {'YES ASK':>9} {'SIZE':>10}"]
    bids = list(book.yes_levels)
    for i in range(depth):
        left = f"{_p(bids[i][0]):>9} {_n(bids[i][1]):>10}" if i < len(bids) else " " * 20
        right = f"{_p(asks[i][0]):>9} {_n(asks[i][1]):>10}" if i < len(asks) else ""
        if i >= len(bids) and i >= len(asks):
            break
        lines.append(f"  {left}  |  {right}".rstrip())
    return lines


def render(screen: Screen, *, depth: int = 5) -> str:
    """A full frame: header, each market's top ``depth`` levels a side, recent trades."""
    out = [
        f"{screen.title}  |  {screen.state}  |  {screen.rate:,.1f} msg/s  |  "
        f"{screen.messages:,} messages  |  {screen.elapsed:,.1f} s"
        + (f"  |  {screen.reconnects} reconnects" if screen.reconnects else "")
        + (f"  |  {screen.gaps} gaps" if screen.gaps else "")
        + (f"  |  {_latency(screen)}" if _latency(screen) else ""),
        "",
    ]
    for ticker in screen.tickers:
        out += _market_lines(ticker, screen.books.get(ticker), screen.last.get(ticker), depth)
        out.append("")
    out.append("Last trades:" if screen.trades else "Last trades: none yet")
    for t in screen.trades:
        side = t.taker_outcome_side or t.taker_side or "?"
        out.append(
            f"  {_clock(t.ts_ms)}  {t.market_ticker or '?'}  {_n(t.count)} @ {_p(t.yes_price)}"
            f"  (taker bought {side})"
        )
    for ev in screen.lifecycle:
        out.append(f"Lifecycle: {ev.market_ticker or '?'} {ev.event_type or '?'}")
    return "\n".join(out) + "\n"


def plain_line(screen: Screen) -> str:
    """One line for a pipe or a log: state, rate and each market's best bid/ask."""
    parts = [f"[{screen.elapsed:6.1f}s] {screen.state} {screen.rate:,.0f} msg/s"]
    if _latency(screen):
        parts.append(_latency(screen))
    for ticker in screen.tickers:
        book = screen.books.get(ticker)
        if book is None:
            parts.append(f"{ticker} no book")
        else:
            parts.append(f"{ticker} bid {_p(book.best_yes_bid)} ask {_p(book.best_yes_ask)}")
    if screen.trades:
        t = screen.trades[0]
        parts.append(f"last trade {t.market_ticker or '?'} {_n(t.count)} @ {_p(t.yes_price)}")
    return " | ".join(parts)
