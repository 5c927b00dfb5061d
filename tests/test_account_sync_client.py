"""KalshiClient keeps fills, orders and positions across reconnects, end to end: a real
client against FakeKalshiServer(rest=True) (WebSocket and REST, one matching engine). Fills
made while the client is down come back exactly once with ``.recovered``; a live fill
during the REST read is delivered once; a reconnect during recovery loses nothing; a 5xx
storm gives recovery_failed events then success; ``rest=False`` turns it off;
``orders()``/``positions()`` equal the exchange once live; stats count it."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from _fake_rest_helpers import T1
from _helpers import wait_for

import kalshi_sync as ks
from kalshi_sync.testing import FakeKalshiServer

pytest_plugins = ["_fake_rest_fixtures"]
pytestmark = pytest.mark.integration
D = Decimal
KEY = "sync-client-1"
PRIVATE = ("fill", "user_orders", "market_positions")


class Bot:
    """A client subscribed to the private channels of T1, recording what it is given."""

    def __init__(self, server: FakeKalshiServer, pem: bytes, **kw: Any) -> None:
        self.server = server
        self.rest = ks.RestClient(KEY, pem, base_url=server.rest_url, max_retries=0)
        kw.setdefault("rest", self.rest)
        self.client = ks.KalshiClient(
            KEY,
            pem,
            url=server.url,
            backoff_initial=0.01,
            backoff_max=0.05,
            # The fake never pings here: a short stale_timeout would race the retry rounds.
            stale_timeout=60.0,
            **kw,
        )
        self.fills: list[ks.Fill] = []
        self.messages: queue.Queue[Any] = queue.Queue()
        self.events: queue.Queue[Any] = queue.Queue()
        self.lock = threading.Lock()
        for name in ("recovered", "recovery_failed", "connected", "disconnected"):
            self.client.on(name, self.events.put)

    def on_message(self, msg: Any) -> None:
        if msg.type == "fill":
            with self.lock:
                self.fills.append(msg)
        self.messages.put(msg)

    def start(self, channels: tuple[str, ...] = PRIVATE) -> None:
        self.client.start()
        for channel in channels:
            self.client.subscribe(channel, [T1], callback=self.on_message)

    def event(self, kind: str, timeout: float = 10.0) -> Any:
        """The next event of type ``kind`` (others of the time are skipped)."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind} event within {timeout} s")
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if ev.type == kind:
                return ev

    @contextlib.contextmanager
    def blind(self) -> Iterator[None]:
        """The client is disconnected (handshakes refused) for the body of the block."""
        self.server.refuse_next_handshakes(10**6)
        self.server.drop_connections()
        self.event("disconnected")
        try:
            yield
        finally:
            self.server.refuse_next_handshakes(0)

    def close(self) -> None:
        self.client.close()
        self.rest.close()

    def fill_ids(self) -> list[str]:
        with self.lock:
            ids = [f.trade_id for f in self.fills]
        assert None not in ids, "a fill was delivered without its trade_id"
        return [i for i in ids if i is not None]


@pytest.fixture
def bot(rest_server: FakeKalshiServer, private_pem: bytes) -> Iterator[Bot]:
    b = Bot(rest_server, private_pem)
    try:
        yield b
    finally:
        b.close()


def cross(server: FakeKalshiServer, count: int) -> None:
    """'The market' sells into the user's resting bid at 0.40."""
    server.submit_order(T1, "ask", "0.40", count, time_in_force="immediate_or_cancel")


def server_fill_ids(server: FakeKalshiServer) -> list[str]:
    return [f.fill_id for f in server.fills(KEY)]


def test_a_fill_made_while_disconnected_is_delivered_once_after_reconnect(
    rest_server: FakeKalshiServer, bot: Bot
) -> None:
    """The market crosses the user's resting bid while the client is down: after the
    reconnect the fill comes through the fill callback once, with .recovered, and the
    recovered event counts it; the views equal the exchange."""
    bot.rest.create_order(T1, action="buy", side="yes", count=10, price="0.40")
    bot.start()
    assert bot.event("recovered").fills == 0  # the first subscription: views read
    cross(rest_server, 1)
    wait_for(lambda: len(bot.fill_ids()) == 1, 5, "the live fill")
    assert bot.fills[0].recovered is False
    with bot.blind():
        cross(rest_server, 2)
    event = bot.event("recovered")
    assert event.fills == 1 and event.blind_from is not None
    assert bot.fill_ids() == server_fill_ids(rest_server)
    assert [f.recovered for f in bot.fills] == [False, True]
    assert bot.fills[1].count == D(2)
    orders = bot.client.orders()
    assert orders.is_live
    [order] = orders.values()
    assert order.remaining_count == D(7)
    position = bot.client.positions().get_position(T1)
    assert position is not None and position.position == D(3)
    stats = bot.client.stats()
    assert stats["fills_recovered"] == 1
    assert stats["fills_deduplicated"] >= 0


def test_a_live_fill_during_the_rest_read_is_delivered_once(
    rest_server: FakeKalshiServer, bot: Bot
) -> None:
    """The fills read is held by the exchange while a new fill arrives live: it is
    delivered live and not again by recovery (counted as deduplicated)."""
    bot.rest.create_order(T1, action="buy", side="yes", count=10, price="0.40")
    bot.start()
    bot.event("recovered")
    cross(rest_server, 1)
    wait_for(lambda: len(bot.fill_ids()) == 1, 5, "the live fill")
    rest_server.delay_next_requests(1, 1.0, method="GET", path="/portfolio/fills")
    with bot.blind():
        cross(rest_server, 2)
    rest_server.wait_for_request(method="GET", path="/portfolio/fills", answered=False)
    cross(rest_server, 3)  # live, while the read waits
    event = bot.event("recovered")
    assert sorted(bot.fill_ids()) == sorted(server_fill_ids(rest_server))
    assert len(bot.fill_ids()) == 3
    assert event.fills == 1
    assert bot.client.stats()["fills_deduplicated"] >= 1


def test_a_reconnect_during_recovery_loses_nothing(rest_server: FakeKalshiServer, bot: Bot) -> None:
    """The connection drops again while the first recovery's read is held: the newer
    recovery covers both windows, every fill is delivered exactly once."""
    bot.rest.create_order(T1, action="buy", side="yes", count=10, price="0.40")
    bot.start()
    bot.event("recovered")
    rest_server.delay_next_requests(1, 1.0, method="GET", path="/portfolio/fills")
    with bot.blind():
        cross(rest_server, 1)
    rest_server.wait_for_request(method="GET", path="/portfolio/fills", answered=False)
    with bot.blind():
        cross(rest_server, 2)
    bot.event("recovered")
    wait_for(lambda: len(bot.fill_ids()) == 2, 5, "both fills")
    assert sorted(bot.fill_ids()) == sorted(server_fill_ids(rest_server))
    assert all(f.recovered for f in bot.fills)


def test_a_5xx_storm_gives_recovery_failed_events_then_success(
    rest_server: FakeKalshiServer, bot: Bot
) -> None:
    """REST answers 503 four times: four recovery_failed events while the orders view stays
    reconciling and market data keeps flowing; then the fill and the recovered event."""
    bot.rest.create_order(T1, action="buy", side="yes", count=10, price="0.40")
    ticks: queue.Queue[Any] = queue.Queue()
    bot.client.on("ticker", ticks.put)
    bot.start()
    bot.client.subscribe("ticker", [T1])
    bot.event("recovered")
    rest_server.fail_next_requests(4, 503, method="GET", path="/portfolio/fills")
    with bot.blind():
        cross(rest_server, 2)
    for attempt in range(1, 5):
        failed = bot.event("recovery_failed")
        assert failed.attempt == attempt and failed.retry_in > 0
    assert bot.client.orders().state in ("reconciling", "live")
    rest_server.publish("ticker", "ticker", {"market_ticker": T1}, market_ticker=T1)
    assert ticks.get(timeout=5).type == "ticker"  # market data is not blocked
    event = bot.event("recovered")
    assert event.fills == 1 and event.attempts == 5
    assert bot.fill_ids() == server_fill_ids(rest_server)
    assert bot.client.orders().is_live


def test_rest_false_turns_recovery_off(rest_server: FakeKalshiServer, private_pem: bytes) -> None:
    """rest=False: no REST request is made, a fill missed while down stays missed, the
    connected event still reports the downtime and the views follow the stream."""
    bot = Bot(rest_server, private_pem, rest=False)
    try:
        bot.rest.create_order(T1, action="buy", side="yes", count=10, price="0.40")
        before = len(rest_server.rest_requests)
        bot.start()
        with bot.blind():
            cross(rest_server, 2)
        connected = bot.event("connected")
        while not connected.reconnect:
            connected = bot.event("connected")
        assert connected.downtime is not None and connected.downtime > 0
        wait_for(lambda: bot.client.orders().is_live, 5, "orders live")
        cross(rest_server, 1)
        wait_for(lambda: len(bot.fill_ids()) == 1, 5, "the live fill")
        assert bot.fills[0].count == D(1)
        assert len(rest_server.rest_requests) == before
        assert bot.events.qsize() == 0 or all(
            e.type not in ("recovered", "recovery_failed") for e in list(bot.events.queue)
        )
    finally:
        bot.close()


def test_recover_since_at_start_delivers_earlier_fills(
    rest_server: FakeKalshiServer, private_pem: bytes
) -> None:
    """recover_since= at start: fills made before the client existed, from that time on,
    are delivered recovered, once."""
    since = time.time() - 60
    rest = ks.RestClient(KEY, private_pem, base_url=rest_server.rest_url)
    rest.create_order(T1, action="buy", side="yes", count=10, price="0.40")
    cross(rest_server, 3)
    rest.close()
    bot = Bot(rest_server, private_pem, recover_since=since)
    try:
        bot.start(("fill",))
        assert bot.event("recovered").fills == 1
        assert bot.fill_ids() == server_fill_ids(rest_server)
        assert bot.fills[0].recovered
    finally:
        bot.close()


def test_fills_outside_the_subscribed_markets_are_not_recovered(
    rest_server: FakeKalshiServer, bot: Bot
) -> None:
    """A fill in a market the fill subscription does not cover, made while blind, is not
    delivered by recovery; the subscribed market's fill is."""
    other = "KXFAKE-26JAN01-T60"
    with contextlib.suppress(Exception):
        rest_server.add_market(other)
    bot.rest.create_order(T1, action="buy", side="yes", count=10, price="0.40")
    bot.rest.create_order(other, action="buy", side="yes", count=10, price="0.40")
    bot.start()
    bot.event("recovered")
    with bot.blind():
        cross(rest_server, 1)
        rest_server.submit_order(other, "ask", "0.40", 1, time_in_force="immediate_or_cancel")
    bot.event("recovered")
    assert [f.market_ticker for f in bot.fills] == [T1]
