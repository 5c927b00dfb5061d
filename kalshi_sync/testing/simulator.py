"""A market simulator that drives :class:`FakeKalshiServer` with believable activity.

Each simulated market has a fair price that drifts in a random walk. Makers add and
cancel resting orders a few cents behind the opposite best; takers trade against the
best level, more often in the direction the fair price leans. Every change goes out
through the server as the real exchange would send it: ``orderbook_delta`` for each
level change, ``trade`` for each execution, ``ticker`` when the top of the book or the
last trade changes, and now and then a ``market_lifecycle_v2`` event (a close-date update,
or a market paused and later reactivated).

The book is the server's one book: the makers' contracts are "the market's" anonymous
liquidity, and takers trade through the server's matching engine, so a user's order resting
at the best price fills in its queue turn (and the user gets its ``fill``). The simulator
reads the book at every step instead of keeping a copy, so users' trades never make it
drift, and it never pulls or crosses users' orders.

Prices stay on the 0.01 grid strictly inside (0, 1) and the book never crosses: every yes
bid is below ``1 - best no bid``. With a ``seed`` the sequence of actions is deterministic
(timestamps come from ``clock``, and ids from the engine, so they are not)::

    with FakeKalshiServer() as server, MarketSimulator(server, seed=1) as sim:
        ...  # connect a client to server.url and subscribe to sim.tickers

:class:`SimulatedExchange` bundles a server (WebSocket and REST, ``rest=True``), a
throwaway key and a simulator: the offline demo, the examples' ``--simulate`` flag and bot
tests use it.

Threads: :meth:`MarketSimulator.start` runs :meth:`~MarketSimulator.step` on one daemon
thread named ``kalshi-sim``; :meth:`~MarketSimulator.stop` joins it. The simulator's state
belongs to whichever thread steps it: :meth:`~MarketSimulator.step` refuses to run while
the thread does, so no lock is needed.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._keys import generate_test_key
from ._simmarket import CENT, ONE, BookRead, SimMarket, ceiling_below, cents, ticker_msg
from .server import FakeKalshiServer

if TYPE_CHECKING:
    from ..client import KalshiClient
    from ..rest import RestClient

__all__ = ["DEFAULT_TICKERS", "MarketSimulator", "SimulatedExchange"]

DEFAULT_TICKERS: tuple[str, ...] = ("KXSIM-HIGHNY-T60", "KXSIM-BTC-B100K", "KXSIM-FED-CUT")
"""Tickers simulated when none are given (made up; no real market has them)."""

_MAX_LEVELS = 10  # per side; beyond this the farthest level is pulled
_MIN_LEVELS = 3  # per side; below this makers always add
# Relative weights of the actions in one step.
_ACTIONS = (("quote", 50), ("cancel", 26), ("trade", 14), ("drift", 9), ("lifecycle", 1))


class MarketSimulator:
    """Drives ``server`` with order book, trade, ticker and lifecycle traffic.

    ``tickers``: the markets (default :data:`DEFAULT_TICKERS`). ``seed``: makes the
    sequence of actions reproducible. ``rate``: steps per second while the thread runs
    (one step is one action and may publish several frames). ``clock``: epoch seconds for
    ``ts``/``ts_ms``. Books are set on the server by the constructor, so a client that
    subscribes before the first step already gets full snapshots.
    """

    def __init__(
        self,
        server: FakeKalshiServer,
        tickers: Sequence[str] | None = None,
        *,
        seed: int | None = None,
        rate: float = 20.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive (steps per second)")
        names = tuple(DEFAULT_TICKERS if tickers is None else tickers)
        if not names or len(set(names)) != len(names):
            raise ValueError("tickers must be a non-empty sequence of distinct tickers")
        self._server = server
        self._rng = random.Random(seed)
        self._rate = rate
        self._clock = clock
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.steps = 0
        """Steps taken so far."""
        self._markets: dict[str, SimMarket] = {}
        for ticker in names:
            m = SimMarket(ticker, self._rng.randrange(150, 850))
            m.close_ts = int(clock()) + 86_400
            f = m.fair // 10
            yes: dict[Decimal, int] = {}
            no: dict[Decimal, int] = {}
            for i in range(self._rng.randrange(5, 9)):
                yes[cents(f - 1 - i)] = self._size()
                no[cents(100 - f - 1 - i)] = self._size()
            m.last_price = cents(f)
            m.open_interest = self._rng.randrange(1_000, 50_000)
            self._markets[ticker] = m
            server.set_book(ticker, sorted(yes.items()), sorted(no.items()))

    @property
    def tickers(self) -> tuple[str, ...]:
        return tuple(self._markets)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def book(self, ticker: str) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        """The market's book as (yes, no) Decimal levels (no-leg prices): the server's one
        book, users' resting orders included."""
        if ticker not in self._markets:
            raise KeyError(ticker)
        return self._server.book(ticker)

    # ---- driving ------------------------------------------------------------------

    def start(self) -> MarketSimulator:
        """Step ``rate`` times a second on the ``kalshi-sim`` daemon thread; returns self."""
        if self._thread is not None:
            raise RuntimeError("the simulator was already started")
        self._thread = threading.Thread(target=self._run, name="kalshi-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop the thread and join it. Idempotent."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> MarketSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        interval = 1.0 / self._rate
        next_at = time.monotonic()
        while True:
            next_at += interval
            delay = next_at - time.monotonic()
            if delay < -1.0:  # fell far behind (a paused process): do not burst to catch up
                next_at = time.monotonic()
                delay = 0.0
            if self._stop.wait(max(0.0, delay)):
                return
            try:
                self._step()
            except Exception:  # a stopped server, say: stop quietly rather than spin
                if not self._stop.is_set():
                    raise
                return

    def step(self) -> str:
        """Take one action and publish what it changed; returns the action's name
        (``quote``, ``cancel``, ``trade``, ``drift``, ``lifecycle``, or ``idle`` for a
        paused market). Only while the thread is not running (tests drive the simulator
        this way, deterministically)."""
        if self.running:
            raise RuntimeError("step() while the simulator thread runs; stop() it first")
        return self._step()

    def _read(self, m: SimMarket) -> BookRead:
        return BookRead(*self._server.book(m.ticker), *self._server.liquidity(m.ticker))

    def _step(self) -> str:
        rng = self._rng
        self.steps += 1
        market = rng.choice(list(self._markets.values()))
        if market.paused:
            # A paused market is quiet; one in five visits reactivates it.
            if rng.random() < 0.2:
                market.paused = False
                self._lifecycle(market, "activated", {"is_deactivated": False})
            return "idle" if market.paused else "lifecycle"
        action = rng.choices([a for a, _ in _ACTIONS], weights=[w for _, w in _ACTIONS])[0]
        book = self._read(market)
        if action == "quote":
            self._quote(market, book)
        elif action == "cancel":
            self._cancel(market, book)
        elif action == "trade":
            self._trade(market, book)
        elif action == "drift":
            market.fair = min(950, max(50, market.fair + rng.randint(-15, 15)))
        else:
            self._random_lifecycle(market)
        if action != "trade" and self._read(market).top() != book.top():
            self._ticker(market)
        return action

    # ---- actions --------------------------------------------------------------------

    def _size(self) -> int:
        return self._rng.choice((1, 2, 5, 10, 10, 20, 25, 50, 100, 250))

    def _quote(self, m: SimMarket, book: BookRead) -> None:
        """A maker adds contracts a few cents behind fair, never crossing the book (users'
        orders included)."""
        rng = self._rng
        side = rng.choice(("yes", "no"))
        f = m.fair // 10
        if len(book.yes) < _MIN_LEVELS or len(book.no) < _MIN_LEVELS:
            side = "yes" if len(book.yes) < len(book.no) else "no"
        if side == "yes":
            ceiling = ceiling_below(book.best("no"))
            price = min(cents(f - rng.randint(1, 6)), ceiling)
        else:
            ceiling = ceiling_below(book.best("yes"))
            price = min(cents(100 - f - rng.randint(1, 6)), ceiling)
        price = max(CENT, price)
        if price > ceiling:  # the other side reaches 0.99: nowhere to quote
            return
        size = self._size()
        self._server.apply_delta(m.ticker, side, price, size)
        if len(set(book.side(side)) | {price}) > _MAX_LEVELS:
            own = dict(book.own(side))
            own[price] = own.get(price, Decimal(0)) + size
            far = min(own)
            self._server.apply_delta(m.ticker, side, far, -own[far])

    def _cancel(self, m: SimMarket, book: BookRead) -> None:
        """A maker pulls some or all of one of its levels, more likely one far from the top
        (users' orders are never touched)."""
        rng = self._rng
        side = rng.choice(("yes", "no"))
        own = book.own(side)
        if len(own) <= _MIN_LEVELS:
            return
        prices = sorted(own)  # farthest from the top first
        price = prices[min(int(rng.random() ** 2 * len(prices)), len(prices) - 1)]
        have = own[price]
        take = have if rng.random() < 0.5 else Decimal(rng.randint(1, max(1, int(have))))
        self._server.apply_delta(m.ticker, side, price, -min(take, have))

    def _trade(self, m: SimMarket, book: BookRead) -> None:
        """A taker hits the best level through the matching engine, leaning towards where
        the fair price is; users' orders at that level fill in their queue turn."""
        rng = self._rng
        by, _, ask, _ = book.top()
        if by is None or ask is None:
            return
        mid10 = (by + ask) * 500  # tenths of a cent, like ``fair``
        p_buy_yes = 0.5 + max(-0.35, min(0.35, float(m.fair - mid10) / 60))
        # Buying yes lifts the best no bid (the yes ask); buying no hits the best yes bid.
        if rng.random() < p_buy_yes:
            side, yes_price, have = "bid", ask, book.no[ONE - ask]
        else:
            side, yes_price, have = "ask", by, book.yes[by]
        size = min(have, Decimal(self._size()))
        if len(book.no if side == "bid" else book.yes) <= _MIN_LEVELS:
            # A thin side keeps its best level (one contract of it at least): the book a
            # demo or a GUI shows stays at least _MIN_LEVELS deep once built.
            size = min(size, have - 1)
            if size <= 0:
                return
        order = self._server.submit_order(
            m.ticker, side, yes_price, size, time_in_force="immediate_or_cancel"
        )
        if not order.fill_count:
            return
        m.record_trade(yes_price, order.fill_count)
        filled = int(order.fill_count)
        m.open_interest = max(0, m.open_interest + rng.choice((-filled, filled, filled)))
        self._ticker(m)

    def _ticker(self, m: SimMarket) -> None:
        msg = ticker_msg(m, self._read(m), self._clock())
        self._server.publish("ticker", "ticker", msg, market_ticker=m.ticker)

    def _random_lifecycle(self, m: SimMarket) -> None:
        if self._rng.random() < 0.7:
            m.close_ts += self._rng.choice((900, 3600, 86_400))
            self._lifecycle(m, "close_date_updated", {"close_ts": m.close_ts})
        else:
            m.paused = True
            self._lifecycle(m, "deactivated", {"is_deactivated": True})

    def _lifecycle(self, m: SimMarket, event_type: str, fields: dict[str, Any]) -> None:
        msg: dict[str, Any] = {"market_ticker": m.ticker, "event_type": event_type}
        msg.update(fields)
        self._server.publish("market_lifecycle_v2", "market_lifecycle_v2", msg)


class SimulatedExchange:
    """A :class:`FakeKalshiServer` with a throwaway key and a running
    :class:`MarketSimulator`: a complete offline exchange on loopback.

    ::

        with SimulatedExchange(seed=1) as exchange:
            client = exchange.client(delivery="poll")  # a KalshiClient for exchange.url
            client.start()
            client.subscribe("orderbook_delta", exchange.tickers)
            rest = exchange.rest_client()  # a RestClient for exchange.rest_url: trade
            rest.create_order(exchange.tickers[0], action="buy", side="yes", count=1,
                              price="0.50")

    Handshakes and REST requests are signature-checked against the throwaway key, exactly
    as with Kalshi. Orders placed over REST match against the simulated makers.
    """

    key_id = "simulated-exchange"

    def __init__(
        self,
        tickers: Sequence[str] | None = None,
        *,
        seed: int | None = None,
        rate: float = 20.0,
        ping_interval: float | None = 10.0,
    ) -> None:
        self._private_key, public_key = generate_test_key()
        self.server = FakeKalshiServer(
            public_key=public_key, key_id=self.key_id, ping_interval=ping_interval, rest=True
        )
        self.simulator = MarketSimulator(self.server, tickers, seed=seed, rate=rate)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def rest_url(self) -> str:
        """The REST base, ``http://127.0.0.1:PORT/trade-api/v2`` (once started)."""
        return self.server.rest_url

    @property
    def tickers(self) -> tuple[str, ...]:
        return self.simulator.tickers

    def client(self, **kwargs: Any) -> KalshiClient:
        """A new (not started) :class:`~kalshi_sync.KalshiClient` for this exchange;
        ``kwargs`` go to its constructor (``delivery``, ``record``, ...)."""
        from ..client import KalshiClient

        return KalshiClient(self.key_id, self._private_key, url=self.url, **kwargs)

    def rest_client(self, **kwargs: Any) -> RestClient:
        """A new :class:`~kalshi_sync.RestClient` for :attr:`rest_url` with the same key;
        ``kwargs`` go to its constructor. Call after :meth:`start`."""
        from ..rest import RestClient

        return RestClient(self.key_id, self._private_key, base_url=self.rest_url, **kwargs)

    def start(self) -> SimulatedExchange:
        self.server.start()
        try:
            self.simulator.start()
        except BaseException:
            self.server.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the simulator thread, then the server (joins both). Idempotent."""
        self.simulator.stop()
        self.server.stop()

    def __enter__(self) -> SimulatedExchange:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
