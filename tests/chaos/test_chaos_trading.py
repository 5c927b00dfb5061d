"""Chaos: a trading bot on FakeKalshiServer(rest=True) while random faults hit.

The bot places and cancels resting bids over REST (every create carries a client_order_id)
and "the market" sells into them, while a seeded schedule of faults hits: connections
dropped right after a fill, fills made while the client cannot connect, server restarts,
refused handshakes, REST 5xx storms and 429s on the recovery reads, lost create responses.
The ledger after every fault: the fills delivered (live + recovered) are the exchange's
fills for the account, each exactly once; ``client.orders()`` and ``client.positions()``
equal the exchange once live. At the end no thread of ours is left. The seed is printed as
``CHAOS SEED=<n>`` (``KALSHI_SYNC_CHAOS_SEED`` picks another; ``KALSHI_SYNC_TRADING_FAULTS``
the number of faults).
"""

from __future__ import annotations

import collections
import os
import random
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from _chaos_helpers import wait_for

import kalshi_sync as ks
from kalshi_sync.testing import FakeKalshiServer

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

SEED = int(os.environ.get("KALSHI_SYNC_CHAOS_SEED", "20261201"))
FAULTS = int(os.environ.get("KALSHI_SYNC_TRADING_FAULTS", "30"))
KEY = "chaos-trader"
TICKER = "KXCHAOS-26DEC01-T50"
FAULT_KINDS = (
    "drop_after_fill",
    "fill_while_down",
    "restart",
    "refused_handshakes",
    "rest_5xx",
    "rest_429",
    "lost_create",
)


class Ledger:
    """What the client delivered: fills by trade_id (repeats recorded) and events."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fills: dict[str, ks.Fill] = {}
        self.repeats: list[str] = []
        self.recovered = 0
        self.live = 0
        self.events: collections.Counter[str] = collections.Counter()

    def on_fill(self, msg: ks.Fill) -> None:
        with self.lock:
            assert msg.trade_id is not None
            if msg.trade_id in self.fills:
                self.repeats.append(msg.trade_id)
            self.fills[msg.trade_id] = msg
            if msg.recovered:
                self.recovered += 1
            else:
                self.live += 1

    def on_event(self, event: Any) -> None:
        with self.lock:
            self.events[event.type] += 1

    def fill_ids(self) -> set[str]:
        with self.lock:
            return set(self.fills)


class Scenario:
    def __init__(self, server: FakeKalshiServer, pem: bytes, seed: int) -> None:
        self.server = server
        self.rng = random.Random(seed)
        self.bot_rest = ks.RestClient(
            KEY, pem, base_url=server.rest_url, max_retries=2, backoff=0.01, max_backoff=0.05
        )
        self.recovery_rest = ks.RestClient(KEY, pem, base_url=server.rest_url, max_retries=0)
        self.client = ks.KalshiClient(
            KEY,
            pem,
            url=server.url,
            rest=self.recovery_rest,
            backoff_initial=0.01,
            backoff_max=0.05,
            stale_timeout=5.0,
        )
        self.ledger = Ledger()
        self.kinds: collections.Counter[str] = collections.Counter()
        self.orders_placed = 0
        self.lost_creates = 0
        self.cancels = 0
        self._coid = 0

    # -- the bot --------------------------------------------------------------------------

    def place(self) -> None:
        self._coid += 1
        price = Decimal(self.rng.randrange(30, 46)) / 100
        try:
            self.bot_rest.create_order(
                TICKER,
                action="buy",
                side="yes",
                count=self.rng.randrange(1, 6),
                price=price,
                client_order_id=f"chaos-{SEED}-{self._coid}",
            )
            self.orders_placed += 1
        except (ks.OrderStateUnknownError, ks.KalshiConnectionError):
            self.lost_creates += 1  # placed or not: the exchange's word is the ledger's

    def cancel_one(self) -> None:
        resting = [o for o in self.server.orders(KEY) if o.status == "resting"]
        if resting:
            order = self.rng.choice(resting)
            try:
                self.bot_rest.cancel_order(order.order_id, market_ticker=TICKER)
                self.cancels += 1
            except ks.OrderNotFoundError:
                pass

    def cross(self) -> None:
        """'The market' sells into the bot's bids."""
        self.server.submit_order(
            TICKER, "ask", "0.30", self.rng.randrange(1, 4), time_in_force="immediate_or_cancel"
        )

    # -- faults ---------------------------------------------------------------------------

    def blind(self, during: Any) -> None:
        """Make the client unable to connect, run ``during``, let it back."""
        self.server.refuse_next_handshakes(10**6)
        self.server.drop_connections()
        wait_for(lambda: not self.client.connected, what="the client to see the drop")
        try:
            during()
        finally:
            self.server.refuse_next_handshakes(0)

    def fault(self, kind: str) -> None:
        server = self.server
        if kind == "drop_after_fill":
            self.cross()
            server.drop_connections()
        elif kind == "fill_while_down":

            def cross_some() -> None:
                for _ in range(self.rng.randrange(1, 4)):
                    self.cross()

            self.blind(cross_some)
        elif kind == "restart":
            self.cross()
            server.restart()
            self.cross()
        elif kind == "refused_handshakes":
            server.refuse_next_handshakes(self.rng.randrange(1, 4))
            server.drop_connections()
            self.cross()
        elif kind == "rest_5xx":
            status = self.rng.choice((500, 502, 503))
            n = self.rng.randrange(1, 4)
            server.fail_next_requests(n, status, method="GET", path="/portfolio/*")
            self.blind(self.cross)
        elif kind == "rest_429":
            server.rate_limit_next_requests(1, retry_after=0.2, method="GET", path="/portfolio/*")
            self.blind(self.cross)
        elif kind == "lost_create":
            server.drop_next_responses(1)
            self.place()
            self.cross()
        self.kinds[kind] += 1

    # -- the ledger -----------------------------------------------------------------------

    def server_fills(self) -> set[str]:
        return {f.trade_id for f in self.server.fills(KEY)}

    def resting(self) -> dict[str, Decimal]:
        return {
            o.order_id: o.remaining_count for o in self.server.orders(KEY) if o.status == "resting"
        }

    def positions(self) -> dict[str, Decimal]:
        return {p.ticker: p.position for p in self.server.positions(KEY) if p.position}

    def in_step(self) -> bool:
        orders, positions = self.client.orders(), self.client.positions()
        if not (orders.is_live and positions.is_live and self.client.connected):
            return False
        mine = {oid: o.remaining_count for oid, o in orders.items()}
        held = {key[0]: p.position for key, p in positions.items() if p.position}
        return (
            self.ledger.fill_ids() == self.server_fills()
            and mine == self.resting()
            and held == self.positions()
        )

    def describe(self) -> str:
        return (
            f"delivered={sorted(self.ledger.fill_ids())} server={sorted(self.server_fills())} "
            f"orders={dict(self.client.orders().items())} resting={self.resting()} "
            f"positions={dict(self.client.positions().items())} server={self.positions()} "
            f"stats={self.client.stats()} events={dict(self.ledger.events)}"
        )

    def check(self, label: str) -> None:
        wait_for(self.in_step, 20, lambda: f"{label}: {self.describe()}")
        assert not self.ledger.repeats, f"{label}: delivered twice: {self.ledger.repeats}"

    def run(self, faults: int) -> None:
        client = self.client
        client.on("recovered", self.ledger.on_event)
        client.on("recovery_failed", self.ledger.on_event)
        client.start()
        client.subscribe("fill", callback=self.ledger.on_fill)
        client.subscribe("user_orders")
        client.subscribe("market_positions")
        for _ in range(3):
            self.place()
        self.check("start")
        for n in range(faults):
            for _ in range(self.rng.randrange(0, 3)):
                self.place()
            if self.rng.random() < 0.3:
                self.cancel_one()
            self.fault(self.rng.choice(FAULT_KINDS))
            self.check(f"fault {n + 1}")

    def close(self) -> None:
        self.client.close()
        self.bot_rest.close()
        self.recovery_rest.close()


def test_trading_bot_under_random_faults_keeps_an_exact_ledger(
    key_pair: tuple[bytes, Any], chaos_report: Any
) -> None:
    """After each seeded fault: fills delivered (live + recovered) == the exchange's fills
    for the account, each once; orders() and positions() equal the exchange once live; no
    thread left at the end."""
    print(f"CHAOS SEED={SEED}")
    before = set(threading.enumerate())
    server = FakeKalshiServer(public_key=key_pair[1], rest=True, ping_interval=0.5)
    server.start()
    t0 = time.monotonic()
    try:
        server.set_book(TICKER)
        scenario = Scenario(server, key_pair[0], SEED)
        try:
            scenario.run(FAULTS)
            stats = scenario.client.stats()
        finally:
            scenario.close()
    finally:
        server.stop()
    elapsed = time.monotonic() - t0
    ledger = scenario.ledger
    summary = (
        f"chaos: 1 scenarios, {FAULTS} faults (seed {SEED}, {elapsed:.1f} s): "
        f"{dict(scenario.kinds)}; fills={len(ledger.fills)} live={ledger.live} "
        f"recovered={ledger.recovered} deduplicated={stats['fills_deduplicated']} "
        f"orders={scenario.orders_placed} lost_creates={scenario.lost_creates} "
        f"cancels={scenario.cancels} recovery_failed={ledger.events['recovery_failed']} "
        f"reconnects={stats['reconnects']}"
    )
    print(summary)
    chaos_report.add(
        "trading",
        FAULTS,
        seed=SEED,
        fills=len(ledger.fills),
        recovered=ledger.recovered,
        seconds=round(elapsed, 1),
    )
    assert ledger.recovered > 0 and ledger.live > 0
    assert len(ledger.fills) == ledger.live + ledger.recovered
    wait_for(
        lambda: (
            not [t for t in set(threading.enumerate()) - before if t.name.startswith("kalshi-sync")]
        ),
        10,
        lambda: f"threads left: {set(threading.enumerate()) - before}",
    )
