"""A market simulator that drives :class:`FakeKalshiServer` with believable activity.

Each simulated market has a fair price that drifts in a random walk. Makers add and
cancel resting orders a few cents behind the opposite best; takers trade against the
best level, more often in the direction the fair price leans. Every change goes out
through the server as the real exchange would send it: ``orderbook_delta`` for each
level change, ``trade`` for each execution, ``ticker`` when the top of the book or the
last trade changes, and now and then a ``market_lifecycle_v2`` event (a close-date update,
or a market paused and later reactivated).

Prices stay on the 0.01 grid strictly inside (0, 1) and the book never crosses: every yes
bid is below ``1 - best no bid``. With a ``seed`` the sequence of actions is deterministic
(timestamps come from ``clock``, so they are not)::

    with FakeKalshiServer() as server, MarketSimulator(server, seed=1) as sim:
        ...  # connect a client to server.url and subscribe to sim.tickers

:class:`SimulatedExchange` bundles a server, a throwaway key and a simulator: the offline
demo, the examples' ``--simulate`` flag and bot tests use it.

Threads: :meth:`MarketSimulator.start` runs :meth:`~MarketSimulator.step` on one daemon
thread named ``kalshi-sim``; :meth:`~MarketSimulator.stop` joins it. The simulator's state
belongs to whichever thread steps it: :meth:`~MarketSimulator.step` refuses to run while
the thread does, so no lock is needed.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._books import market_id_for
from ._keys import generate_test_key
from .server import FakeKalshiServer

if TYPE_CHECKING:
    from ..client import KalshiClient

__all__ = ["DEFAULT_TICKERS", "MarketSimulator", "SimulatedExchange"]

DEFAULT_TICKERS: tuple[str, ...] = ("KXSIM-HIGHNY-T60", "KXSIM-BTC-B100K", "KXSIM-FED-CUT")
"""Tickers simulated when none are given (made up; no real market has them)."""

_MAX_LEVELS = 10  # per side; beyond this the farthest level is pulled
_MIN_LEVELS = 3  # per side; below this makers always add
# Relative weights of the actions in one step.
_ACTIONS = (("quote", 50), ("cancel", 26), ("trade", 14), ("drift", 9), ("lifecycle", 1))


def _cents(c: int) -> str:
    """Integer cents as the wire's 4-decimal dollar string (``42`` -> ``"0.4200"``)."""
    return f"{c // 100}.{c % 100:02d}00"


def _count(n: int) -> str:
    """Integer contracts as the wire's 2-decimal count string (``-3`` -> ``"-3.00"``)."""
    return f"{n}.00"


class _Market:
    """One market's state, in integer cents and whole contracts (exact, cheap)."""

    def __init__(self, ticker: str, fair: int) -> None:
        self.ticker = ticker
        self.market_id = market_id_for(ticker)
        self.fair = fair  # tenths of a cent, 50..950
        self.yes: dict[int, int] = {}  # yes bids: yes price (cents) -> contracts
        self.no: dict[int, int] = {}  # no bids: no-leg price (cents) -> contracts
        self.last_price: int | None = None
        self.last_size = 0
        self.volume = 0
        self.open_interest = 0
        self.dollar_volume = 0
        self.paused = False
        self.close_ts = 0

    def best_yes(self) -> int | None:
        return max(self.yes) if self.yes else None

    def best_no(self) -> int | None:
        return max(self.no) if self.no else None

    def top(self) -> tuple[int | None, int, int | None, int]:
        """(best yes bid, its size, best yes ask, its size)."""
        by, bn = self.best_yes(), self.best_no()
        return (
            by,
            self.yes[by] if by is not None else 0,
            None if bn is None else 100 - bn,
            self.no[bn] if bn is not None else 0,
        )


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
        self._markets: dict[str, _Market] = {}
        for ticker in names:
            m = _Market(ticker, self._rng.randrange(150, 850))
            m.close_ts = int(clock()) + 86_400
            f = m.fair // 10
            for i in range(self._rng.randrange(5, 9)):
                m.yes[f - 1 - i] = self._size()
                m.no[100 - f - 1 - i] = self._size()
            m.last_price = f
            m.open_interest = self._rng.randrange(1_000, 50_000)
            self._markets[ticker] = m
            server.set_book(ticker, _levels(m.yes), _levels(m.no))

    @property
    def tickers(self) -> tuple[str, ...]:
        return tuple(self._markets)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def book(self, ticker: str) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        """The simulator's view of a book as (yes, no) Decimal levels (no-leg prices)."""
        m = self._markets[ticker]
        return _decimal_levels(m.yes), _decimal_levels(m.no)

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
        before = market.top()
        if action == "quote":
            self._quote(market)
        elif action == "cancel":
            self._cancel(market)
        elif action == "trade":
            self._trade(market)
        elif action == "drift":
            market.fair = min(950, max(50, market.fair + rng.randint(-15, 15)))
        else:
            self._random_lifecycle(market)
        if action != "trade" and market.top() != before:
            self._ticker(market)
        return action

    # ---- actions --------------------------------------------------------------------

    def _size(self) -> int:
        return self._rng.choice((1, 2, 5, 10, 10, 20, 25, 50, 100, 250))

    def _quote(self, m: _Market) -> None:
        """A maker adds contracts a few cents behind fair, never crossing the book."""
        rng = self._rng
        side = rng.choice(("yes", "no"))
        f = m.fair // 10
        if len(m.yes) < _MIN_LEVELS or len(m.no) < _MIN_LEVELS:
            side = "yes" if len(m.yes) < len(m.no) else "no"
        if side == "yes":
            bn = m.best_no()
            ceiling = 99 if bn is None else 99 - bn  # highest yes bid that does not cross
            price = min(f - rng.randint(1, 6), ceiling)
        else:
            by = m.best_yes()
            ceiling = 99 if by is None else 99 - by
            price = min(100 - f - rng.randint(1, 6), ceiling)
        price = max(1, price)
        levels = m.yes if side == "yes" else m.no
        if price > ceiling:  # the other side reaches 0.99: nowhere to quote
            return
        size = self._size()
        levels[price] = levels.get(price, 0) + size
        self._server.apply_delta(m.ticker, side, _cents(price), _count(size))
        if len(levels) > _MAX_LEVELS:
            far = min(levels)
            self._server.apply_delta(m.ticker, side, _cents(far), _count(-levels.pop(far)))

    def _cancel(self, m: _Market) -> None:
        """A maker pulls some or all of a level, more likely one far from the top."""
        rng = self._rng
        side = rng.choice(("yes", "no"))
        levels = m.yes if side == "yes" else m.no
        if len(levels) <= _MIN_LEVELS:
            return
        prices = sorted(levels)  # farthest from the top first
        price = prices[min(int(rng.random() ** 2 * len(prices)), len(prices) - 1)]
        have = levels[price]
        take = have if rng.random() < 0.5 else rng.randint(1, have)
        if take >= have:
            del levels[price]
        else:
            levels[price] = have - take
        self._server.apply_delta(m.ticker, side, _cents(price), _count(-take))

    def _trade(self, m: _Market) -> None:
        """A taker hits the best level, leaning towards where the fair price is."""
        rng = self._rng
        by, _, ask, _ = m.top()
        if by is None or ask is None:
            return
        mid10 = (by + ask) * 5
        p_buy_yes = 0.5 + max(-0.35, min(0.35, (m.fair - mid10) / 60))
        buy_yes = rng.random() < p_buy_yes
        # Buying yes lifts the best no bid (the yes ask); buying no hits the best yes bid.
        side, levels = ("no", m.no) if buy_yes else ("yes", m.yes)
        level = max(levels)
        have = levels[level]
        size = min(have, self._size())
        yes_price = 100 - level if buy_yes else level
        if size >= have:
            del levels[level]
        else:
            levels[level] = have - size
        now = self._clock()
        taker = "yes" if buy_yes else "no"
        self._server.publish(
            "trade",
            "trade",
            {
                "trade_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "market_ticker": m.ticker,
                "yes_price_dollars": _cents(yes_price),
                "no_price_dollars": _cents(100 - yes_price),
                "count_fp": _count(size),
                "taker_side": taker,
                "taker_outcome_side": taker,
                "taker_book_side": "bid" if buy_yes else "ask",
                "is_block_trade": False,
                "ts": int(now),
                "ts_ms": int(now * 1000),
            },
            market_ticker=m.ticker,
        )
        self._server.apply_delta(m.ticker, side, _cents(level), _count(-size))
        m.last_price, m.last_size = yes_price, size
        m.volume += size
        m.dollar_volume += size * yes_price // 100
        m.open_interest = max(0, m.open_interest + rng.choice((-size, size, size)))
        self._ticker(m)

    def _ticker(self, m: _Market) -> None:
        """Publish the market's current ``ticker`` (every field, as Kalshi sends it)."""
        by, by_size, ask, ask_size = m.top()
        now = self._clock()
        self._server.publish(
            "ticker",
            "ticker",
            {
                "market_id": m.market_id,
                "market_ticker": m.ticker,
                "price_dollars": "" if m.last_price is None else _cents(m.last_price),
                "yes_bid_dollars": _cents(by if by is not None else 0),
                "yes_ask_dollars": _cents(ask if ask is not None else 100),
                "volume_fp": _count(m.volume),
                "open_interest_fp": _count(m.open_interest),
                "dollar_volume": m.dollar_volume,
                "dollar_open_interest": m.open_interest // 2,
                "yes_bid_size_fp": _count(by_size),
                "yes_ask_size_fp": _count(ask_size),
                "last_trade_size_fp": _count(m.last_size),
                "ts": int(now),
                "ts_ms": int(now * 1000),
            },
            market_ticker=m.ticker,
        )

    def _random_lifecycle(self, m: _Market) -> None:
        if self._rng.random() < 0.7:
            m.close_ts += self._rng.choice((900, 3600, 86_400))
            self._lifecycle(m, "close_date_updated", {"close_ts": m.close_ts})
        else:
            m.paused = True
            self._lifecycle(m, "deactivated", {"is_deactivated": True})

    def _lifecycle(self, m: _Market, event_type: str, fields: dict[str, Any]) -> None:
        msg: dict[str, Any] = {"market_ticker": m.ticker, "event_type": event_type}
        msg.update(fields)
        self._server.publish("market_lifecycle_v2", "market_lifecycle_v2", msg)


def _levels(levels: dict[int, int]) -> list[tuple[str, str]]:
    return [(_cents(p), _count(c)) for p, c in sorted(levels.items())]


def _decimal_levels(levels: dict[int, int]) -> dict[Decimal, Decimal]:
    return {Decimal(_cents(p)): Decimal(_count(c)) for p, c in levels.items()}


class SimulatedExchange:
    """A :class:`FakeKalshiServer` with a throwaway key and a running
    :class:`MarketSimulator`: a complete offline exchange on loopback.

    ::

        with SimulatedExchange(seed=1) as exchange:
            client = exchange.client(delivery="poll")  # a KalshiClient for exchange.url
            client.start()
            client.subscribe("orderbook_delta", exchange.tickers)

    Handshakes are signature-checked against the throwaway key, exactly as with Kalshi.
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
            public_key=public_key, key_id=self.key_id, ping_interval=ping_interval
        )
        self.simulator = MarketSimulator(self.server, tickers, seed=seed, rate=rate)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def tickers(self) -> tuple[str, ...]:
        return self.simulator.tickers

    def client(self, **kwargs: Any) -> KalshiClient:
        """A new (not started) :class:`~kalshi_sync.KalshiClient` for this exchange;
        ``kwargs`` go to its constructor (``delivery``, ``record``, ...)."""
        from ..client import KalshiClient

        return KalshiClient(self.key_id, self._private_key, url=self.url, **kwargs)

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
