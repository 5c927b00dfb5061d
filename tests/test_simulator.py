"""MarketSimulator: deterministic, believable, uncrossed market activity on FakeKalshiServer."""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from _sim_helpers import sync

from kalshi_sync import KalshiClient, MarketLifecycle, Ticker, Trade
from kalshi_sync.testing import FakeKalshiServer, MarketSimulator, SimulatedExchange

CENT = Decimal("0.01")


def _run(seed: int, steps: int) -> tuple[list[str], dict[str, Any]]:
    server = FakeKalshiServer()  # never started: books and publication work without clients
    sim = MarketSimulator(server, seed=seed)
    actions = [sim.step() for _ in range(steps)]
    return actions, {t: server.book(t) for t in sim.tickers}


def test_same_seed_same_actions_and_books() -> None:
    """A seed fixes the whole sequence of actions and the resulting books."""
    assert _run(42, 500) == _run(42, 500)


def test_different_seeds_differ() -> None:
    """Different seeds give different markets."""
    assert _run(1, 200)[1] != _run(2, 200)[1]


def test_books_stay_on_grid_uncrossed_and_match_the_server() -> None:
    """After every step: prices on the 0.01 grid in (0, 1), positive sizes, yes bids below
    1 - best no bid, and the simulator's book equals the server's truth."""
    server = FakeKalshiServer()
    sim = MarketSimulator(server, seed=7)
    for _ in range(3000):
        sim.step()
        for t in sim.tickers:
            yes, no = server.book(t)
            assert (yes, no) == sim.book(t)
            assert yes and no, "both sides keep liquidity"
            for price, size in [*yes.items(), *no.items()]:
                assert 0 < price < 1 and price % CENT == 0 and size > 0
            assert max(yes) < 1 - max(no), f"{t} crossed: {max(yes)} vs no {max(no)}"


def test_every_kind_of_action_happens() -> None:
    """Quotes, cancels, trades, drift and lifecycle events all occur, quotes most often."""
    server = FakeKalshiServer()
    sim = MarketSimulator(server, seed=3)
    counts = Counter(sim.step() for _ in range(3000))
    assert {"quote", "cancel", "trade", "drift", "lifecycle"} <= set(counts)
    assert counts["quote"] > counts["trade"] > counts["lifecycle"]


def test_constructor_checks_arguments() -> None:
    """Bad rates and ticker lists are refused up front."""
    server = FakeKalshiServer()
    with pytest.raises(ValueError):
        MarketSimulator(server, rate=0)
    with pytest.raises(ValueError):
        MarketSimulator(server, tickers=[])
    with pytest.raises(ValueError):
        MarketSimulator(server, tickers=["A", "A"])


@pytest.mark.integration
def test_client_sees_typed_traffic_and_the_same_book(
    server: FakeKalshiServer, private_pem: bytes
) -> None:
    """A client receives current-wire deltas, tickers, trades and lifecycle events that
    decode to typed messages consistent with the book, and its book equals the server's."""
    sim = MarketSimulator(server, ["SIM-A", "SIM-B"], seed=11)
    got: list[Any] = []
    client = KalshiClient("key", private_pem, url=server.url)
    client.on("*", got.append)
    with client:
        client.subscribe("orderbook_delta", sim.tickers)
        client.subscribe("ticker", sim.tickers)
        client.subscribe("trade", sim.tickers)
        client.subscribe("market_lifecycle_v2")
        for _ in range(1500):
            sim.step()
        sync(client, server, "SIM-A")
        books = {t: client.orderbook(t) for t in sim.tickers}
    types = Counter(m.type for m in got)
    assert types["orderbook_snapshot"] == 2 and types["orderbook_delta"] > 100
    assert types["ticker"] > 10 and types["trade"] > 10 and types["market_lifecycle_v2"] >= 1
    assert types.get("unknown", 0) == 0
    for t, book in books.items():
        yes, no = server.book(t)
        assert dict(book.yes) == yes and dict(book.no) == no and book.state == "live"
        last = [m for m in got if isinstance(m, Ticker) and m.market_ticker == t][-1]
        assert (last.yes_bid, last.yes_ask) == (book.best_yes_bid, book.best_yes_ask)
        assert book.best_yes_bid is not None
        assert last.yes_bid_size == book.yes[book.best_yes_bid]
    for trade in (m for m in got if isinstance(m, Trade) and m.trade_id != "sentinel-trade"):
        assert trade.yes_price is not None and trade.no_price is not None
        assert trade.yes_price + trade.no_price == 1
        assert (
            trade.count is not None
            and trade.count > 0
            and trade.taker_outcome_side in ("yes", "no")
        )
    events = {m.event_type for m in got if isinstance(m, MarketLifecycle)}
    assert events <= {"close_date_updated", "deactivated", "activated"}


def test_thread_runs_named_and_is_joined() -> None:
    """start() runs steps on a 'kalshi-sim' thread; step() is refused meanwhile; stop()
    joins it."""
    server = FakeKalshiServer()
    sim = MarketSimulator(server, seed=1, rate=1000)
    stepped = threading.Event()
    original = sim._step

    def counting() -> str:
        stepped.set()
        return original()

    sim._step = counting  # type: ignore[method-assign]
    with sim:
        assert stepped.wait(5)
        assert any(t.name == "kalshi-sim" for t in threading.enumerate())
        with pytest.raises(RuntimeError):
            sim.step()
    assert not sim.running
    assert not any(t.name == "kalshi-sim" for t in threading.enumerate())


@pytest.mark.integration
def test_simulated_exchange_serves_a_signed_client() -> None:
    """SimulatedExchange starts a signature-checking server and the simulator; its client()
    connects and gets live books; stop() joins everything."""
    with SimulatedExchange(["X1"], seed=5, rate=200) as exchange:
        client = exchange.client()
        snap = threading.Event()
        client.on("orderbook_snapshot", lambda _m: snap.set())
        with client:
            client.subscribe("orderbook_delta", exchange.tickers)
            assert snap.wait(5)
            book = client.orderbook("X1")
            assert book.best_yes_bid is not None and book.best_yes_ask is not None
            assert book.best_yes_bid < book.best_yes_ask
        assert exchange.server.handshakes[0]["status"] == 101
    assert not exchange.simulator.running
