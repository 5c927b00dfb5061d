"""examples/paper_market_maker.py against the simulated exchange, over real loopback sockets.

The bot runs on its own thread (its main loop, as in the script) against a
``SimulatedExchange``; the test is "the market": it reads the server's truth and trades
against the bot's quotes with ``submit_order``. Most tests freeze the simulated market (the
server serves the seeded book, the simulator never steps), so every price below follows from
the seed: the seeded book is two cents wide around a whole-cent mid ``m``, and the bot quotes
``m - 0.01`` / ``m + 0.01``, joining the best levels. Nothing waits by sleeping: the test
waits for the bot's REST requests, and messages on one connection keep their order, so a
create computed from a book that includes a delta was decided after everything sent before it.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from kalshi_sync.testing import FakeKalshiServer, SimulatedExchange

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
T = "KXSIM-MM-T50"
KEY = SimulatedExchange.key_id
CENT = Decimal("0.01")
ORDERS = "/portfolio/events/orders"
D = Decimal


@pytest.fixture(scope="module")
def mm() -> Iterator[ModuleType]:
    """The example, imported from its file (examples/ is not a package)."""
    name = "paper_market_maker"
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples/paper_market_maker.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve the module's annotations through it
    sys.path.insert(0, str(ROOT / "examples"))  # as when run as a script
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(ROOT / "examples"))
        sys.modules.pop(name, None)


@contextmanager
def frozen(seed: int = 3) -> Iterator[SimulatedExchange]:
    """A simulated exchange whose market stands still: the seeded book, no simulator steps."""
    exchange = SimulatedExchange([T], seed=seed)
    exchange.server.start()
    try:
        yield exchange
    finally:
        exchange.stop()


class BotThread:
    """The bot's main loop on a thread, with its own clients for ``exchange``."""

    def __init__(self, mm: ModuleType, exchange: SimulatedExchange, **settings: Any) -> None:
        self.client = exchange.client(delivery="poll")
        self.rest = exchange.rest_client()
        settings.setdefault("seconds", 60.0)  # a bound, never the way a test ends
        self.bot = mm.MarketMaker(self.client, self.rest, mm.Settings(T, **settings))
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="test-bot", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.bot.run(self.stop)
        except BaseException as exc:
            self.error = exc

    def finish(self, server: FakeKalshiServer | None = None, *, stop: bool = True) -> Any:
        """Stop the bot (or, with ``stop=False``, let it stop itself), join it, close its
        clients; ``server``: end a silence first so that the clients close cleanly."""
        if stop:
            self.stop.set()
        self._thread.join(30)
        assert not self._thread.is_alive(), "the bot did not stop"
        if server is not None:
            server.silence(False)
        self.client.close()
        self.rest.close()
        if self.error is not None:
            raise self.error
        return self.bot


def mid_of(server: FakeKalshiServer) -> tuple[Decimal, Decimal, Decimal]:
    """(best YES bid, best YES ask, mid) of the server's book."""
    yes, no = server.book(T)
    bid, ask = max(yes), 1 - max(no)
    return bid, ask, (bid + ask) / 2


def creates(server: FakeKalshiServer) -> list[dict[str, Any]]:
    """The bot's answered create requests: (side, YES price) and the body, oldest first."""
    return [
        r
        for r in server.rest_requests
        if r["method"] == "POST" and r["path"].endswith(ORDERS) and r["answered"]
    ]


def quoted(record: dict[str, Any]) -> tuple[str, Decimal]:
    return record["body"]["side"], Decimal(record["body"]["price"])


def wait_for_create(
    server: FakeKalshiServer, side: str, price: Decimal | None = None
) -> dict[str, Any]:
    def match(r: dict[str, Any]) -> bool:
        body = r["body"] or {}
        return body.get("side") == side and (price is None or Decimal(body["price"]) == price)

    return server.wait_for_request(method="POST", path=ORDERS, predicate=match, timeout=15)


def is_bid(record: dict[str, Any]) -> bool:
    return bool((record["body"] or {}).get("side") == "bid")


def resting(server: FakeKalshiServer) -> list[Any]:
    return [o for o in server.orders(KEY) if o.status == "resting"]


def sell_down_to(server: FakeKalshiServer, price: Decimal) -> None:
    """The market sells YES down to ``price``: every YES bid at or above it trades, so a bot
    bid resting there is filled whatever its place in the queue."""
    server.submit_order(T, "ask", price, 100_000, time_in_force="immediate_or_cancel")


def assert_matches_exchange(bot: Any, server: FakeKalshiServer) -> None:
    """The bot's books equal the server's for its account, and nothing of it rests."""
    fills = server.fills(KEY)
    assert set(bot.fills) == {f.trade_id for f in fills}
    assert len(bot.fills) == len(fills)
    assert bot.position == server.position(KEY, T).position == bot.exchange_position
    # The bot counts cash on the YES scale; the exchange holds $1 against each NO contract.
    no_held = max(D(0), -bot.position)
    assert server.balance(KEY) - D("1000") == bot.cash - no_held
    assert resting(server) == [] and bot.left_resting == []


def test_quotes_one_post_only_contract_each_side_around_the_mid(mm: ModuleType) -> None:
    """The bot quotes bid = mid - edge and ask = mid + edge on the cent grid, one contract
    each, post-only, each create with its own client_order_id of the run; stopping cancels
    both."""
    with frozen() as exchange:
        server = exchange.server
        best_bid, best_ask, mid = mid_of(server)
        runner = BotThread(mm, exchange)
        wait_for_create(server, "bid")
        wait_for_create(server, "ask")
        assert sorted((o.side, o.price, o.remaining_count) for o in resting(server)) == [
            ("ask", mid + CENT, D(1)),
            ("bid", mid - CENT, D(1)),
        ]
        bot = runner.finish()
        bodies = [r["body"] for r in creates(server)]
        assert [(b["side"], b["count"], b["post_only"]) for b in bodies] == [
            ("bid", "1.00", True),
            ("ask", "1.00", True),
        ]
        ids = [b["client_order_id"] for b in bodies]
        assert len(set(ids)) == 2 and all(i.startswith(bot.prefix + "-") for i in ids)
        assert best_ask - best_bid == 2 * CENT  # the seeded book, as the docstring says
        assert resting(server) == [] and bot.placed == 2 and bot.fills == {}
        assert bot.reason == "stopped"


def test_after_a_fill_position_fills_and_cash_equal_the_exchange(mm: ModuleType) -> None:
    """The market hits the bot's bid; the bot books the fill from the WebSocket, stops
    (max_fills=1), cancels its ask, and its fills, position and cash equal the server's."""
    with frozen() as exchange:
        server = exchange.server
        runner = BotThread(mm, exchange, max_fills=1)
        bid = Decimal(wait_for_create(server, "bid")["body"]["price"])
        wait_for_create(server, "ask")
        sell_down_to(server, bid)
        assert len(server.fills(KEY)) == 1
        bot = runner.finish(stop=False)
        assert bot.reason == "1 fill(s)" and bot.recovered == 0
        assert bot.position == 1 and bot.cash == -bid
        assert_matches_exchange(bot, server)


def test_a_fill_the_websocket_never_delivered_is_read_back_over_rest(mm: ModuleType) -> None:
    """With the WebSocket silent, the bid is filled unseen; on the way out the bot's cancel
    finds it gone, and the fill is booked from REST, once: the books still match."""
    with frozen() as exchange:
        server = exchange.server
        runner = BotThread(mm, exchange)
        bid = Decimal(wait_for_create(server, "bid")["body"]["price"])
        wait_for_create(server, "ask")
        server.silence(True)  # from now on nothing reaches the bot's WebSocket
        sell_down_to(server, bid)
        bot = runner.finish(server)
        assert bot.recovered == 1 and len(bot.fills) == 1 and bot.position == 1
        assert_matches_exchange(bot, server)


def test_max_position_stops_quoting_the_side_that_would_grow_it(mm: ModuleType) -> None:
    """At max_position=1, once its bid is filled the bot never bids again: when the market
    then moves and it requotes, it replaces only its ask."""
    with frozen() as exchange:
        server = exchange.server
        runner = BotThread(mm, exchange, max_position=D(1))
        bid = Decimal(wait_for_create(server, "bid")["body"]["price"])
        wait_for_create(server, "ask")
        sell_down_to(server, bid)
        # A NO bid that puts the best YES ask one cent above the new best bid: the old bid
        # price would now cross, so the bot requotes around the new mid.
        best_bid = max(server.book(T)[0])
        server.apply_delta(T, "no", 1 - (best_bid + CENT), 10)
        # The new mid is best_bid + 0.005: the ask goes a cent above it, rounded up.
        wait_for_create(server, "ask", best_bid + 2 * CENT)  # decided after the fill arrived
        bot = runner.finish()
        assert [quoted(r)[0] for r in creates(server)] == ["bid", "ask", "ask"]
        assert bot.position == 1 and max(f.post_position for f in server.fills(KEY)) == 1
        assert_matches_exchange(bot, server)


def test_requotes_only_when_the_mid_moves_by_the_threshold(mm: ModuleType) -> None:
    """A half-cent move of the mid does not requote: the ask the market lifted is put back
    at the same price. A two-cent move (the default threshold) cancels both quotes and
    places them around the new mid."""
    with frozen() as exchange:
        server = exchange.server
        _, _, mid = mid_of(server)
        runner = BotThread(mm, exchange)
        wait_for_create(server, "bid")
        ask = Decimal(wait_for_create(server, "ask")["body"]["price"])
        # The market lifts the best ask level, the bot's ask included: the market's best ask
        # is now a cent higher, the mid half a cent. The bot sees its ask executed (after
        # the fill: one connection keeps its order) and puts it back where it was.
        server.submit_order(T, "bid", ask, 100_000, time_in_force="immediate_or_cancel")
        server.wait_for_requests(3, method="POST", path=ORDERS)
        # Pull the market's three best NO bids: its best ask goes from mid + 0.02 to
        # mid + 0.05 over its best bid mid - 0.01, so the mid ends two cents up.
        anonymous_no = server.liquidity(T)[1]
        for price in sorted(anonymous_no, reverse=True)[:3]:
            server.apply_delta(T, "no", price, -anonymous_no[price])
        wait_for_create(server, "ask", mid + 3 * CENT)
        bot = runner.finish()
        assert [quoted(r) for r in creates(server)] == [
            ("bid", mid - CENT),
            ("ask", mid + CENT),
            ("ask", mid + CENT),  # no requote for the half-cent move
            ("bid", mid + CENT),
            ("ask", mid + 3 * CENT),
        ]
        cancels = [r for r in server.rest_requests if r["method"] == "DELETE"]
        assert len(cancels) == 4  # two for the requote, two on the way out
        assert bot.position == -1
        assert_matches_exchange(bot, server)


def _never_crossed_own_quotes(orders: list[Any]) -> None:
    """No bid of the account rested while an ask of it at or below its price did."""
    closed = {o.order_id: o.last_update_ts_ms for o in orders}
    for b in (o for o in orders if o.side == "bid"):
        for a in (o for o in orders if o.side == "ask" and o.price <= b.price):
            assert b.created_ts_ms >= closed[a.order_id] or a.created_ts_ms >= closed[b.order_id]


def test_against_the_running_simulator_the_books_match_the_exchange(mm: ModuleType) -> None:
    """With the simulator's makers and takers trading around it and the market hitting its
    bid, the bot is stopped mid-flight: its fills, position and cash equal the server's, it
    never crossed its own quotes, and its position never passed max_position."""
    with SimulatedExchange([T], seed=11, rate=50) as exchange:
        server = exchange.server
        runner = BotThread(mm, exchange, max_position=D(2))
        bids_placed = 1
        for _ in range(20):
            server.wait_for_requests(bids_placed, method="POST", path=ORDERS, predicate=is_bid)
            for order in [o for o in resting(server) if o.side == "bid"]:
                sell_down_to(server, order.price)
            if any(f.side == "bid" for f in server.fills(KEY)):
                break
            # Caught between a cancel and a create (or its bid was just taken by the
            # simulator's takers, then it is filled too): wait for its next bid.
            bids_placed = len([r for r in creates(server) if is_bid(r)]) + 1
        else:
            pytest.fail("the market never caught a resting bid of the bot")
        bot = runner.finish()  # fills may still be in flight: the bot reads them back
        exchange.simulator.stop()
        assert_matches_exchange(bot, server)
        fills = server.fills(KEY)
        assert all(abs(f.post_position) <= 2 for f in fills)
        _never_crossed_own_quotes(server.orders(KEY))
