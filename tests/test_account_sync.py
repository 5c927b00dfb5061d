"""AccountSync (fills, orders and positions across reconnects) driven by plain calls on the
test thread, with its real REST worker thread and a real RestClient against
FakeKalshiServer(rest=True): rounds on subscription and reconnect, recovered fills exactly
once, failures retried with backoff, a reconnect during a read, recovery off."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import attrs
import pytest
from _fake_rest_helpers import T1

import kalshi_sync as ks
from kalshi_sync._account_snapshots import AccountFilter
from kalshi_sync._account_sync import AccountSync
from kalshi_sync._recovery_scheduler import RecoveryScheduler
from kalshi_sync._routing import Route, Routing, Target
from kalshi_sync.models import Fill
from kalshi_sync.testing import FakeKalshiServer

pytest_plugins = ["_fake_rest_fixtures"]
pytestmark = pytest.mark.integration
D = Decimal
KEY = "account-sync-1"
PRIVATE = ("fill", "user_orders", "market_positions")


class Routes:
    """A routing source like the registry's: one sid per private channel, renumbered on
    every "resubscribe" as a reconnect does."""

    def __init__(self) -> None:
        self.routing = Routing()
        self.next_sid = 1

    def subscribe(self, channels: tuple[str, ...] = PRIVATE) -> None:
        routes = {}
        for channel in channels:
            target = Target(key=self.next_sid, markets=None, callback=None)
            routes[self.next_sid] = Route(channel, False, (target,), None)
            self.next_sid += 1
        self.routing = Routing(routes=routes, live=frozenset(routes))

    def drop(self) -> None:
        self.routing = Routing()


class Harness:
    """An AccountSync whose worker wakes the test thread; ``run`` ticks until an event."""

    def __init__(self, rest: ks.RestClient | None, **kw: Any) -> None:
        self.routes = Routes()
        self.woken = threading.Event()
        kw.setdefault("scheduler", RecoveryScheduler(base_delay=0.05, max_delay=0.2))
        self.sync = AccountSync(
            rest,
            self.routes,
            lambda channel: AccountFilter(),
            on_result=self.woken.set,
            margin=5,
            **kw,
        )
        self.delivered: list[Any] = []

    def connect(self, channels: tuple[str, ...] = PRIVATE) -> None:
        self.sync.on_connected(_now())
        self.routes.subscribe(channels)

    def disconnect(self) -> None:
        self.sync.on_disconnected(_now())
        self.routes.drop()

    def run(self, until: str = "recovered", timeout: float = 10.0) -> list[Any]:
        """Tick until an event of type ``until`` is delivered; returns everything delivered."""
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        while True:
            got = [item for item, _targets in self.sync.on_tick()]
            out.extend(got)
            self.delivered.extend(got)
            if any(getattr(m, "type", None) == until for m in got):
                return out
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {until} event within {timeout} s; got {out}")
            # Backoff timers are the scheduler's: wake at the due time or on a result.
            due = self.sync.scheduler.next_wakeup()
            wait = remaining if due is None else max(0.0, min(remaining, due - time.monotonic()))
            self.woken.wait(wait)
            self.woken.clear()


def _now() -> float:
    return time.time()


@pytest.fixture
def rest(rest_server: FakeKalshiServer, private_pem: bytes) -> Iterator[ks.RestClient]:
    with ks.RestClient(KEY, private_pem, base_url=rest_server.rest_url, max_retries=0) as c:
        yield c


@pytest.fixture
def harness(rest: ks.RestClient) -> Iterator[Harness]:
    h = Harness(rest)
    yield h
    assert h.sync.close(5)


def rest_fills(server: FakeKalshiServer) -> list[Any]:
    return list(server.fills(KEY))


def cross(server: FakeKalshiServer, count: int) -> None:
    """'The market' sells into the user's resting bid at 0.40."""
    server.submit_order(T1, "ask", "0.40", count, time_in_force="immediate_or_cancel")


def test_first_subscription_makes_the_views_live_from_rest_without_reading_fills(
    rest_server: FakeKalshiServer, rest: ks.RestClient, harness: Harness
) -> None:
    """A private subscription's first sid starts a round: orders and positions are read and
    go live equal to the exchange; fills are not read back (nothing was missed)."""
    order = rest.create_order(T1, action="buy", side="yes", count=5, price="0.40")
    assert harness.sync.orders_snapshot().state == "stale"
    harness.connect()
    out = harness.run()
    event = out[-1]
    assert isinstance(event, ks.RecoveredEvent) and event.fills == 0 and event.orders == 1
    orders = harness.sync.orders_snapshot()
    assert orders.is_live and list(orders) == [order.order_id]
    assert harness.sync.positions_snapshot().is_live
    assert not [r for r in rest_server.rest_requests if r["path"].endswith("/portfolio/fills")]


def test_fills_made_while_blind_are_recovered_once_oldest_first(
    rest_server: FakeKalshiServer, rest: ks.RestClient, harness: Harness
) -> None:
    """Fills of the blind window come back recovered, oldest first; a live copy arriving
    afterwards is not delivered again; the views show the new position."""
    rest.create_order(T1, action="buy", side="yes", count=10, price="0.40")
    harness.connect()
    harness.run()
    cross(rest_server, 1)
    [live] = rest.get_fills(ticker=T1)
    assert harness.sync.on_private_message(live) is True  # delivered live before the drop
    harness.disconnect()
    assert harness.sync.orders_snapshot().state == "stale"
    cross(rest_server, 2)
    cross(rest_server, 3)
    harness.connect()
    out = harness.run()
    fills = [m for m in out if getattr(m, "type", None) == "fill"]
    assert [f.count for f in fills] == [D(2), D(3)]
    assert all(f.recovered for f in fills)
    event = out[-1]
    assert isinstance(event, ks.RecoveredEvent)
    assert (event.fills, event.blind_from is not None, event.attempts) == (2, True, 1)
    assert harness.sync.on_private_message(attrs.evolve(fills[0], recovered=False)) is False
    assert harness.sync.ledger.deduplicated >= 1 and harness.sync.ledger.recovered == 2
    position = harness.sync.positions_snapshot().get_position(T1)
    assert position is not None and position.position == D(6)
    [order] = harness.sync.orders_snapshot().values()
    assert order.remaining_count == D(4)


def test_a_5xx_storm_is_retried_with_backoff_then_recovers(
    rest_server: FakeKalshiServer, rest: ks.RestClient, harness: Harness
) -> None:
    """Three 500s on the fills read: three recovery_failed events with growing attempt
    numbers, the views reconciling meanwhile, then the fills and the recovered event."""
    rest.create_order(T1, action="buy", side="yes", count=10, price="0.40")
    harness.connect()
    harness.run()
    harness.disconnect()
    cross(rest_server, 4)
    rest_server.fail_next_requests(3, 500, method="GET", path="/portfolio/fills")
    harness.connect()
    failures: list[ks.RecoveryFailedEvent] = []
    for _ in range(3):
        [failed] = harness.run(until="recovery_failed")
        assert isinstance(failed, ks.RecoveryFailedEvent)
        failures.append(failed)
        assert harness.sync.orders_snapshot().state == "reconciling"
    assert [f.attempt for f in failures] == [1, 2, 3]
    assert all(isinstance(f.error, ks.HTTPStatusError) for f in failures)
    out = harness.run()
    assert [m.count for m in out if getattr(m, "type", None) == "fill"] == [D(4)]
    event = out[-1]
    assert isinstance(event, ks.RecoveredEvent) and event.attempts == 4
    assert harness.sync.orders_snapshot().is_live


def test_a_reconnect_during_the_read_supersedes_it_and_loses_nothing(
    rest_server: FakeKalshiServer, rest: ks.RestClient, harness: Harness
) -> None:
    """The fills read of round 1 is held by the exchange; the connection drops and comes
    back; round 2's read covers both blind windows, round 1's late answer is refused, and
    every missed fill is delivered exactly once."""
    rest.create_order(T1, action="buy", side="yes", count=10, price="0.40")
    harness.connect()
    harness.run()
    harness.disconnect()
    cross(rest_server, 1)
    rest_server.delay_next_requests(1, 0.5, method="GET", path="/portfolio/fills")
    harness.connect()
    harness.sync.on_tick()  # round 1 starts: its read is delayed
    rest_server.wait_for_request(method="GET", path="/portfolio/fills", answered=False)
    harness.disconnect()
    cross(rest_server, 2)
    harness.connect()
    out = harness.run()
    fills = [m for m in out if getattr(m, "type", None) == "fill"]
    assert sorted(f.count for f in fills) == [D(1), D(2)]
    assert harness.sync.scheduler.round == 3
    assert {f.trade_id for f in fills} == {f.trade_id for f in rest.get_fills()} - {None}


def test_recovery_off_views_go_live_on_subscription_and_nothing_is_read(
    rest_server: FakeKalshiServer,
) -> None:
    """rest=None: no worker thread, no REST request; the views follow the stream, stale while
    disconnected and live again on the resubscription; live fills are still deduplicated."""
    h = Harness(None)
    h.connect()
    assert h.sync.on_tick() == []
    assert h.sync.orders_snapshot().is_live and h.sync.positions_snapshot().is_live
    h.disconnect()
    assert h.sync.orders_snapshot().state == "stale"
    h.connect()
    h.sync.on_tick()
    assert h.sync.orders_snapshot().is_live
    assert h.sync.worker_thread is None and rest_server.rest_requests == []
    fill = Fill(type="fill", trade_id="t-1", market_ticker=T1)
    assert h.sync.on_private_message(fill) and not h.sync.on_private_message(fill)
    assert h.sync.close()


def test_close_ends_the_worker_thread(harness: Harness) -> None:
    """The REST worker exists once a round ran and ends on close()."""
    harness.connect()
    harness.run()
    thread = harness.sync.worker_thread
    assert thread is not None and thread.is_alive()
    assert harness.sync.close(5)
    assert not thread.is_alive()
