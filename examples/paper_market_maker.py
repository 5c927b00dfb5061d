"""A paper market maker: quotes a bid and an ask around the mid of a live order book.

    python examples/paper_market_maker.py --simulate --seconds 10
    python examples/paper_market_maker.py KXHIGHNY-26JAN01-T60 --seconds 60   # Kalshi demo

A legacy-style bot that owns its main loop: the WebSocket client runs with
``delivery="poll"``, so ``fill``, ``user_order`` and connection callbacks run inside
``client.poll()`` on this thread and the bot's state needs no locks; orders go through a
``RestClient`` (Kalshi's V2 order endpoints). Each turn of the loop it reads the local book
(``client.orderbook(t)``), takes its own orders out of it, and keeps one post-only quote a
side, ``--edge`` away from the mid of what is left. It cancels and requotes only when that
mid has moved by ``--requote`` or more, and stops quoting the side that would take its
position beyond ``--max-position``.

Money is Decimal throughout. Every order carries a deterministic ``client_order_id``
(``pmm-<run>-<n>``), so on the way out (``--seconds``, Ctrl-C or an error) the bot can find
and cancel every order of this run, even one whose create answer was lost. It then reads
its fills back over REST (deduplicated by ``trade_id`` with the ones the WebSocket
delivered) and prints a summary: fills, position, cash.

``--simulate`` trades against ``SimulatedExchange`` (a simulated market with a matching
engine on loopback, no account needed). Otherwise it trades on Kalshi **demo** with
credentials from the environment (see the README's "Credentials"); production needs both
``--env prod`` and ``--i-know``.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import TYPE_CHECKING

import kalshi_sync as ks
from kalshi_sync.auth import credentials_from_env

if TYPE_CHECKING:
    from kalshi_sync.testing import SimulatedExchange

ZERO = Decimal(0)
ONE = Decimal(1)
CENT = Decimal("0.01")  # the price grid the bot quotes on
LOOKBACK_S = 600  # REST reads start this long before the run: our clock may be ahead
STATUS_EVERY_S = 5.0
RETRY_AFTER_S = 1.0  # a side whose create was refused waits this long before the next one


def decimal_arg(text: str) -> Decimal:
    """argparse type: a decimal number read from its text, never through a float."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a decimal number: {text!r}") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """What the bot quotes and when it stops; checked on construction (ValueError)."""

    ticker: str
    size: Decimal = Decimal(1)  # contracts quoted on each side
    edge: Decimal = Decimal("0.01")  # distance from the mid, dollars
    requote: Decimal = Decimal("0.02")  # mid move that triggers cancel + requote
    max_position: Decimal = Decimal(5)  # |position| never grows beyond this
    seconds: float | None = None  # None: until Ctrl-C (or ``stop``)
    max_fills: int | None = None  # stop once this many fills are booked

    def __post_init__(self) -> None:
        if self.size <= 0 or self.size % CENT:
            raise ValueError(f"--size must be a positive multiple of 0.01, got {self.size}")
        if not ZERO < self.edge < Decimal("0.5"):
            raise ValueError(f"--edge must be between 0 and 0.5 dollars, got {self.edge}")
        if self.requote <= 0:
            raise ValueError(f"--requote must be positive, got {self.requote}")
        if self.max_position < 0:
            raise ValueError(f"--max-position must be >= 0, got {self.max_position}")
        if self.max_fills is not None and self.max_fills < 1:
            raise ValueError(f"--max-fills must be >= 1, got {self.max_fills}")


@dataclass
class Quote:
    """One order this run placed. ``remaining`` rests on the book while ``open``;
    ``reported_fill`` is how much the exchange says filled, ``booked_fill`` how much of it
    the bot has booked from fill messages (the two differ while a fill is in flight)."""

    order_id: str
    client_order_id: str | None
    side: str | None  # V2 book side: "bid" buys YES, "ask" sells YES (None: unknown)
    price: Decimal  # YES price
    count: Decimal
    remaining: Decimal
    reported_fill: Decimal = ZERO
    booked_fill: Decimal = ZERO
    open: bool = True


def book_side(msg: ks.Fill | ks.UserOrder | ks.Order) -> str | None:
    """A fill's or order's V2 book side, from whichever field the message carries."""
    if msg.book_side in ("bid", "ask"):
        return msg.book_side
    if msg.outcome_side in ("yes", "no"):
        return "bid" if msg.outcome_side == "yes" else "ask"
    return None


@dataclass
class MarketMaker:
    """The bot. Every method runs on the thread that calls :meth:`run`."""

    client: ks.KalshiClient
    rest: ks.RestClient
    settings: Settings
    prefix: str = field(default_factory=lambda: f"pmm-{uuid.uuid4().hex[:8]}")
    orders: dict[str, Quote] = field(default_factory=dict)  # order_id -> every order we placed
    fills: dict[str, ks.Fill] = field(default_factory=dict)  # trade_id -> fill
    recovered: int = 0  # fills first seen over REST rather than on the WebSocket
    start_position: Decimal = ZERO
    position: Decimal = ZERO
    cash: Decimal = ZERO  # YES-scale: + sales, - purchases, - fees
    fees: Decimal = ZERO
    placed: int = 0
    bought: int = 0  # fills that bought YES (the others sold YES)
    reason: str = "not started"
    exchange_position: Decimal | None = None  # read over REST on the way out
    left_resting: list[str] = field(default_factory=list)
    _seq: int = 0
    _started_s: int = 0
    _quoted_mid: Decimal | None = None  # the mid the current quotes were set around
    _last_mid: Decimal | None = None
    _retry_at: dict[str, float] = field(default_factory=dict)
    _blind: bool = False  # a reconnect happened: fills may have been missed
    _incomplete: set[str] = field(default_factory=set)  # fills missing count/price/side
    # The orders that still matter to quoting: resting, or with fills not booked yet. The
    # loop looks only at these, so a long run's thousands of old orders cost nothing.
    _active: dict[str, Quote] = field(default_factory=dict)

    # ---- running ---------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Quote until ``--seconds``, ``max_fills``, ``stop`` or Ctrl-C; then cancel every
        order of this run and reconcile fills over REST (also when an error ends it)."""
        s = self.settings
        deadline = None if s.seconds is None else time.monotonic() + s.seconds
        self._started_s = int(time.time())
        self.client.on("fill", self.on_fill)
        self.client.on("user_order", self.on_user_order)
        self.client.on("connected", self.on_connected)
        self.reason = "error"
        try:
            self.client.start()
            self.client.subscribe("orderbook_delta", [s.ticker])
            for channel in ("fill", "user_orders"):
                self.client.subscribe(channel, [s.ticker])
            # Subscribed first: a fill from now on arrives live or is in this read.
            self.start_position = self._exchange_position()
            self.position = self.start_position
            next_status = time.monotonic() + STATUS_EVERY_S
            while True:
                if stop is not None and stop.is_set():
                    self.reason = "stopped"
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    self.reason = "time is up"
                    break
                if s.max_fills is not None and len(self.fills) >= s.max_fills:
                    self.reason = f"{len(self.fills)} fill(s)"
                    break
                self.client.poll(timeout=0.1)  # the callbacks run here, on this thread
                if self._blind:
                    self._blind = False
                    self.reconcile()
                self.requote()
                if time.monotonic() >= next_status:
                    print(self.status(), flush=True)
                    next_status += STATUS_EVERY_S
        except KeyboardInterrupt:
            self.reason = "interrupted"
        finally:
            self.shutdown()

    # ---- callbacks (inside poll) -------------------------------------------------------

    def on_connected(self, event: ks.ConnectedEvent) -> None:
        if event.reconnect:  # private channels were blind meanwhile: read them back
            self._blind = True

    def on_fill(self, msg: ks.Fill) -> None:
        quote = self.orders.get(msg.order_id) if msg.order_id else None
        if quote is None and not (msg.client_order_id or "").startswith(self.prefix):
            return  # another order of the account, not this bot's
        self._book(msg, quote, recovered=False)

    def on_user_order(self, msg: ks.UserOrder) -> None:
        if msg.order_id is None:
            return
        quote = self.orders.get(msg.order_id)
        if quote is None:
            if not (msg.client_order_id or "").startswith(self.prefix):
                return
            # Ours, but its create answer was lost (OrderStateUnknownError): adopt it.
            quote = self._adopt(msg.order_id, msg.client_order_id, book_side(msg), msg.yes_price)
            quote.open = msg.status == "resting"
        self._update(quote, msg.status, msg.fill_count, msg.remaining_count)

    # ---- bookkeeping -------------------------------------------------------------------

    def _adopt(
        self, order_id: str, coid: str | None, side: str | None, price: Decimal | None
    ) -> Quote:
        quote = Quote(order_id, coid, side, price or ZERO, ZERO, ZERO, open=False)
        self._track(quote)
        return quote

    def _track(self, quote: Quote) -> None:
        """(Re)file an order after any change: :attr:`_active` while it still matters."""
        self.orders[quote.order_id] = quote
        if quote.open or quote.booked_fill < quote.reported_fill:
            self._active[quote.order_id] = quote
        else:
            self._active.pop(quote.order_id, None)

    def _update(
        self,
        quote: Quote,
        status: str | None,
        fill_count: Decimal | None,
        remaining: Decimal | None,
    ) -> None:
        """Apply an order's state as the exchange reports it (user_order or REST)."""
        if fill_count is not None:
            quote.reported_fill = max(quote.reported_fill, fill_count)
        if status in ("canceled", "executed"):
            quote.open, quote.remaining = False, ZERO
        elif status == "resting" and remaining is not None and quote.open:
            quote.remaining = remaining  # never reopens an order we saw close
        self._track(quote)

    def _book(self, fill: ks.Fill, quote: Quote | None, *, recovered: bool) -> None:
        """Book one fill once: position, cash, fees (deduplicated by ``trade_id``)."""
        key = fill.trade_id or f"no-trade-id:{fill.order_id}:{fill.ts_ms}:{fill.count}"
        if key in self.fills and key not in self._incomplete:
            return
        side = (quote.side if quote is not None else None) or book_side(fill)
        if fill.count is None or fill.yes_price is None or side is None:
            # Kept (a fill is never dropped) and completed from REST on the way out.
            print(f"warning: fill {key} is missing {fill.missing or 'fields'}", file=sys.stderr)
            self.fills[key] = fill
            self._incomplete.add(key)
            return
        self._incomplete.discard(key)
        self.fills[key] = fill
        if recovered:
            self.recovered += 1
        if quote is None and fill.order_id:
            quote = self._adopt(fill.order_id, fill.client_order_id, side, fill.yes_price)
        if quote is not None:
            quote.booked_fill += fill.count
            self._track(quote)
        fee = fill.fee_cost or ZERO
        signed = fill.count if side == "bid" else -fill.count
        self.position += signed
        self.cash -= signed * fill.yes_price + fee
        self.fees += fee
        if side == "bid":
            self.bought += 1
        verb = "bought" if side == "bid" else "sold"
        how = " (read back over REST)" if recovered else ""
        print(
            f"fill: {verb} {fill.count} @ {fill.yes_price:.2f}, position {self.position:+}{how}",
            flush=True,
        )

    def _open_quote(self, side: str) -> Quote | None:
        return next((q for q in self._active.values() if q.open and q.side == side), None)

    def room(self, side: str) -> Decimal:
        """Contracts a new or resting ``side`` quote may add to the position without
        passing ``max_position``, counting fills the exchange reported but the bot has not
        booked yet (a fill message can trail the order update)."""
        pending = sum(
            (
                max(ZERO, q.reported_fill - q.booked_fill)
                for q in self._active.values()
                if q.side == side
            ),
            ZERO,
        )
        limit = self.settings.max_position
        return limit - self.position - pending if side == "bid" else limit + self.position - pending

    # ---- quoting -----------------------------------------------------------------------

    def market(self) -> tuple[Decimal, Decimal] | None:
        """(best bid, best ask) of the live book without our own resting orders; None when
        the book is not live or one side is empty. The local book can run a little ahead of
        or behind our records of our orders; a level never drops below zero here."""
        try:
            book = self.client.orderbook(self.settings.ticker)
        except KeyError:
            return None  # no snapshot yet
        if not book.is_live:
            return None
        yes, no = dict(book.yes), dict(book.no)  # no side: NO bids at NO prices
        for q in self._active.values():
            if q.open:
                levels, price = (yes, q.price) if q.side == "bid" else (no, ONE - q.price)
                levels[price] = levels.get(price, ZERO) - q.remaining
        bids = [p for p, size in yes.items() if size > 0]
        no_bids = [p for p, size in no.items() if size > 0]
        if not bids or not no_bids:
            return None
        return max(bids), ONE - max(no_bids)

    def targets(self, mid: Decimal) -> tuple[Decimal, Decimal]:
        """(bid, ask) ``edge`` around ``mid`` on the cent grid; bid < ask always."""
        edge = self.settings.edge
        bid = (mid - edge).quantize(CENT, rounding=ROUND_FLOOR)
        ask = (mid + edge).quantize(CENT, rounding=ROUND_CEILING)
        return bid, ask

    def requote(self) -> None:
        top = self.market()
        if top is None:  # blind or one-sided: quote nothing
            self._quoted_mid = None
            for side in ("bid", "ask"):
                self._pull(side)
            return
        best_bid, best_ask = top
        mid = (best_bid + best_ask) / 2
        self._last_mid = mid
        if self._quoted_mid is not None:
            bid, ask = self.targets(self._quoted_mid)
            moved = abs(mid - self._quoted_mid) >= self.settings.requote
            if moved or bid >= best_ask or ask <= best_bid:
                self._quoted_mid = None
        if self._quoted_mid is None:
            self._quoted_mid = mid
        bid, ask = self.targets(self._quoted_mid)
        prices = {"bid": bid, "ask": ask}
        # Cancel every stale quote before placing any: a new bid must never meet our own
        # old ask (or the reverse).
        wants = {side: min(self.settings.size, self.room(side)) for side in prices}
        for side, price in prices.items():
            quote = self._open_quote(side)
            if quote is not None and (quote.price != price or quote.remaining > wants[side]):
                self._cancel(quote)
        for side, price in prices.items():
            usable = ZERO < price < ONE
            if usable and wants[side] > 0 and self._open_quote(side) is None:
                self._place(side, price, wants[side])

    def _pull(self, side: str) -> None:
        quote = self._open_quote(side)
        if quote is not None:
            self._cancel(quote)

    def _place(self, side: str, price: Decimal, count: Decimal) -> None:
        if time.monotonic() < self._retry_at.get(side, 0.0):
            return
        self._seq += 1
        coid = f"{self.prefix}-{self._seq}"
        action = "buy" if side == "bid" else "sell"  # buy or sell YES
        try:
            ack = self.rest.create_order(
                self.settings.ticker,
                action=action,
                side="yes",
                count=count,
                price=price,
                post_only=True,  # a maker: never take liquidity
                client_order_id=coid,
            )
        except ks.OrderStateUnknownError as exc:
            # It may rest: its user_order (found by the prefix) or the exit sweep finds it.
            print(f"warning: {exc}", file=sys.stderr)
            self._retry_at[side] = time.monotonic() + 5 * RETRY_AFTER_S
            return
        except ks.OrderRejectedError as exc:  # e.g. trading paused, not enough cash
            print(f"warning: {action} refused: {exc}", file=sys.stderr)
            self._retry_at[side] = time.monotonic() + RETRY_AFTER_S
            return
        self.placed += 1
        remaining = ack.remaining_count or ZERO
        quote = Quote(ack.order_id, coid, side, price, count, remaining)
        quote.reported_fill = ack.fill_count or ZERO
        quote.open = remaining > 0
        # A user_order may have announced it already (adopted): keep what it said.
        known = self.orders.get(ack.order_id)
        if known is not None:
            quote.reported_fill = max(quote.reported_fill, known.reported_fill)
            quote.booked_fill = known.booked_fill
        self._track(quote)
        if not quote.open:  # post-only would have crossed: the book moved under us
            self._retry_at[side] = time.monotonic() + RETRY_AFTER_S

    def _cancel(self, quote: Quote) -> None:
        try:
            ack = self.rest.cancel_order(quote.order_id, market_ticker=self.settings.ticker)
        except ks.OrderNotFoundError:
            # Not resting any more: filled or cancelled by the exchange. Ask how it ended
            # so that its fills count against max_position before the side is requoted.
            order = self.rest.get_order(quote.order_id)
            self._update(quote, order.status, order.fill_count, order.remaining_count)
            return
        quote.open, quote.remaining = False, ZERO
        if ack.reduced_by is not None:
            quote.reported_fill = max(quote.reported_fill, quote.count - ack.reduced_by)
        self._track(quote)

    # ---- reconciling and stopping ------------------------------------------------------

    def _exchange_position(self) -> Decimal:
        for p in self.rest.get_positions(ticker=self.settings.ticker):
            if p.ticker == self.settings.ticker and p.position is not None:
                return p.position
        return ZERO

    def reconcile(self) -> None:
        """Read this run's orders and fills back over REST: learn orders whose create
        answer was lost, close the ones that ended unseen, book fills not seen live."""
        since = self._started_s - LOOKBACK_S
        for order in self.rest.get_orders(ticker=self.settings.ticker, min_ts=since):
            quote = self.orders.get(order.order_id)
            if quote is None:
                if not (order.client_order_id or "").startswith(self.prefix):
                    continue
                quote = self._adopt(
                    order.order_id, order.client_order_id, book_side(order), order.yes_price
                )
                if order.status == "resting":
                    quote.open = True
            self._update(quote, order.status, order.fill_count, order.remaining_count)
        for fill in self.rest.get_fills(ticker=self.settings.ticker, min_ts=since):
            quote = self.orders.get(fill.order_id) if fill.order_id else None
            if quote is not None:
                self._book(fill, quote, recovered=True)

    def shutdown(self) -> None:
        """Cancel every order of this run, then reconcile its fills over REST. Errors are
        reported, not raised: the summary says what is still resting."""
        if self._seq == 0:
            return  # no create was ever sent: nothing of ours can rest
        try:
            if not self.client.closed:
                self.client.poll(timeout=0.0)  # what already arrived, before deciding
            self._cancel_open()  # the orders we know of first: they are the risk
            self.reconcile()  # finds orders whose create answer was lost
            self._cancel_open()
            self.reconcile()  # nothing of ours rests now: these fills are final
            self.exchange_position = self._exchange_position()
        except ks.KalshiError as exc:
            print(f"error while stopping: {exc}", file=sys.stderr)
        finally:
            self.left_resting = [q.order_id for q in self.orders.values() if q.open]

    def _cancel_open(self) -> None:
        for quote in [q for q in self._active.values() if q.open]:
            try:
                self._cancel(quote)
            except ks.KalshiError as exc:  # keep going: cancel as many as possible
                print(f"error: cancel {quote.order_id}: {exc}", file=sys.stderr)

    # ---- reporting ---------------------------------------------------------------------

    def status(self) -> str:
        def show(side: str) -> str:
            q = self._open_quote(side)
            return f"{side} {q.price:.2f} x {q.remaining}" if q else f"{side} -"

        mid = "-" if self._last_mid is None else f"{self._last_mid:.3f}"
        return (
            f"[{self.settings.ticker} mid {mid}  {show('bid')}  {show('ask')}  "
            f"position {self.position:+}  fills {len(self.fills)}]"
        )

    def summary(self) -> str:
        bought = self.bought
        traded = self.position - self.start_position
        pnl = (
            ""
            if self._last_mid is None
            else f", P&L at mid {self.cash + traded * self._last_mid:+.4f}"
        )
        exchange = (
            "" if self.exchange_position is None else f" (exchange: {self.exchange_position:+})"
        )
        recovered = f", {self.recovered} read back over REST" if self.recovered else ""
        return (
            f"done: {self.settings.ticker}: {len(self.fills)} fills "
            f"({bought} bought, {len(self.fills) - bought} sold{recovered}), "
            f"position {self.position:+}{exchange}, cash {self.cash:+.4f}, "
            f"fees {self.fees:.4f}{pnl}; {self.placed} orders placed, "
            f"{len(self.left_resting)} left resting; stopped: {self.reason}"
        )


# ---- command line ----------------------------------------------------------------------


@dataclass
class Venue:
    """Where the bot trades: the two clients, and the simulator behind ``--simulate``."""

    client: ks.KalshiClient
    rest: ks.RestClient
    exchange: SimulatedExchange | None = None

    def close(self) -> None:
        self.client.close()
        self.rest.close()
        if self.exchange is not None:
            self.exchange.stop()


def parse(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Settings]:
    """The command line; a usage error (prod without --i-know included) exits 2 here,
    before any credentials are read."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("ticker", nargs="?", metavar="TICKER", help="the market to quote")
    parser.add_argument("--simulate", action="store_true", help="use the built-in simulator")
    parser.add_argument("--seconds", type=float, help="stop after N seconds")
    parser.add_argument("--env", choices=("demo", "prod"), help="Kalshi environment (demo)")
    parser.add_argument("--i-know", action="store_true", help="allow --env prod: real money")
    parser.add_argument("--size", type=decimal_arg, default=Settings.size, help="contracts a side")
    parser.add_argument("--edge", type=decimal_arg, default=Settings.edge, help="$ from the mid")
    parser.add_argument(
        "--requote", type=decimal_arg, default=Settings.requote, help="mid move that requotes"
    )
    parser.add_argument(
        "--max-position", type=decimal_arg, default=Settings.max_position, help="contracts"
    )
    parser.add_argument("--max-fills", type=int, help="stop after N fills")
    parser.add_argument("--seed", type=int, help="the simulator's seed (with --simulate)")
    args = parser.parse_args(argv)
    if args.simulate and args.env is not None:
        parser.error("--simulate trades on the simulator: leave out --env")
    if args.env == "prod" and not args.i_know:
        parser.error(
            "refusing to trade on Kalshi prod (real money) with a paper bot; "
            "pass --env prod --i-know if you really mean it"
        )
    ticker = args.ticker
    if args.simulate and not ticker:
        from kalshi_sync.testing.simulator import DEFAULT_TICKERS

        ticker = DEFAULT_TICKERS[0]
    if not ticker:
        parser.error("give a TICKER to quote, or --simulate")
    try:
        settings = Settings(
            ticker,
            size=args.size,
            edge=args.edge,
            requote=args.requote,
            max_position=args.max_position,
            seconds=args.seconds,
            max_fills=args.max_fills,
        )
    except ValueError as exc:
        parser.error(str(exc))
    return args, settings


def open_venue(args: argparse.Namespace, ticker: str) -> Venue:
    """The simulator (``--simulate``), or Kalshi with credentials from the environment."""
    if args.simulate:
        from kalshi_sync.testing import SimulatedExchange

        exchange = SimulatedExchange([ticker], seed=args.seed).start()
        client = exchange.client(delivery="poll")
        return Venue(client, exchange.rest_client(), exchange)
    env = args.env or "demo"
    key_id, key, from_environ = credentials_from_env()
    if os.environ.get("KALSHI_ENV") and from_environ != env:
        print(f"note: KALSHI_ENV={from_environ} is ignored: trading on {env}", file=sys.stderr)
    client = ks.KalshiClient(key_id, key, environment=env, delivery="poll")
    return Venue(client, ks.RestClient(key_id, key, environment=env))


def main(argv: Sequence[str] | None = None) -> int:
    args, settings = parse(argv)
    try:
        venue = open_venue(args, settings.ticker)
    except (ks.KalshiError, ValueError) as exc:  # missing or unreadable credentials
        print(f"paper_market_maker: {exc}", file=sys.stderr)
        return 1
    bot = MarketMaker(venue.client, venue.rest, settings)
    print(f"quoting {settings.ticker}: {settings.size} a side, edge {settings.edge}", flush=True)
    try:
        bot.run()  # cancels this run's orders on the way out, whatever ends it
    except ks.KalshiError as exc:
        print(f"paper_market_maker: {exc}", file=sys.stderr)
        return 1
    finally:
        print(bot.summary(), flush=True)
        venue.close()
    if bot.left_resting:
        print(f"paper_market_maker: still resting: {bot.left_resting}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
