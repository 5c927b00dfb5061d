"""Chaos: 100 random faults during a live order book stream, against FakeKalshiServer.

The schedule (fault kinds, delta counts, prices, market changes, garbage bytes) comes from
one ``random.Random(seed)``; only thread timing is not replayed. The seed is printed as
``CHAOS SEED=<n>`` and is part of every failure message; rerun one with
``KALSHI_SYNC_CHAOS_SEED=<n>`` (``KALSHI_SYNC_CHAOS_FAULTS`` sets the fault count).

The delivery ledger, worked out from client.py / sequence.py (one client, one order book
channel, every delta frame counted by the server as it is queued on a live connection):

* a ``skip_seq(n)`` frame is delivered; the client reports ONE gap with
  ``received - expected == n`` (those seq numbers were never sent);
* a ``duplicate_next`` frame reaches the client twice; the copy is dropped and counted
  in ``stats()["duplicates"]``;
* a ``reorder_next`` pair (k, k+1) arrives as k+1, k: k+1 is delivered with a gap of size 1
  (expected k), then k arrives with an older seq and is dropped (``duplicates`` again). The
  reordered frame is therefore *lost in a gap*, and must not be counted twice;
* connection faults happen with nothing in flight (the client has read every frame
  queued so far) and the server holds reconnects off (503) while it changes the books, so
  no frame is queued for a dead connection; the client must learn those changes from the
  fresh snapshots;
* terminal error frames (10, 17, 25) make the client resubscribe the channel; frames sent
  on the old sid until the server confirms are still delivered (never applied to a book
  that is waiting for its snapshot), frames on the new sid after it.

Hence, cumulatively:  delivered == sent - duplicates_injected - reorders,
Σ(gap.received - gap.expected) == Σ skipped + reorders,
stats()["duplicates"] == duplicates_injected + reorders,
i.e. delivered == sent - (frames provably lost in a gap, the reordered ones)
                       - (exact repeats), with every seq number on a sid accounted for once.
"""

from __future__ import annotations

import collections
import os
import queue
import random
import threading
import time
from typing import Any

import pytest
from _chaos_helpers import TappedServer, book_equals_server, make_client, wait_for

import kalshi_sync as ks

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

SEED = int(os.environ.get("KALSHI_SYNC_CHAOS_SEED", "20261127"))
FAULTS = int(os.environ.get("KALSHI_SYNC_CHAOS_FAULTS", "100"))

MARKETS = ("CHAOS-A", "CHAOS-B", "CHAOS-C", "CHAOS-D")
A, B, C, D = MARKETS
PRICES = [f"0.{p:02d}" for p in range(30, 70, 3)]
DELTAS = ["1", "2.5", "10", "-1", "-4", "3"]

CONNECTION_FAULTS = ("drop", "close1000", "close1001", "restart", "refuse")
STREAM_FAULTS = (
    "gap",
    "duplicate",
    "reorder",
    "error10",
    "error17",
    "error18",
    "error25",
    "garbage",
)
KINDS = CONNECTION_FAULTS + STREAM_FAULTS

JUNK: list[str | bytes] = [
    "not json",
    "[1, 2, 3]",
    '"a string"',
    "{}",
    '{"type": 5}',
    '{"type": "orderbook_delta", "sid": "x", "seq": 1, "msg": {}}',
    b"\xff\xfe\x00binary",
    "{" * 50,
    '{"type": "orderbook_delta", "sid": 1, "seq": 1, "msg": {"price_dollars": "abc"}}',
    '{"type": "orderbook_snapshot", "sid": 1, "seq": 2, "msg": {"market_ticker": 7}}',
    "",
]


class Ledger:
    """What the application saw, recorded by one ``"*"`` handler on the dispatch thread."""

    def __init__(self) -> None:
        self.generation = 0
        self.deltas = 0
        self.snapshots = 0
        self.seen: set[tuple[int, int | None, int | None]] = set()
        self.repeats: list[tuple[int, int | None, int | None]] = []
        self.gaps: list[Any] = []
        self.disconnects = 0
        self.errors: list[Any] = []
        self.lost: queue.Queue[Any] = queue.Queue()

    def __call__(self, msg: Any) -> None:
        kind = msg.type
        if kind == "connected":
            self.generation = msg.generation
        elif kind in ("orderbook_delta", "orderbook_snapshot"):
            key = (self.generation, msg.sid, msg.seq)
            if key in self.seen:
                self.repeats.append(key)
            self.seen.add(key)
            if kind == "orderbook_delta":
                self.deltas += 1
            else:
                self.snapshots += 1
        elif kind == "gap":
            self.gaps.append(msg)
        elif kind == "disconnected":
            self.disconnects += 1
            self.lost.put(msg)
        elif kind == "error":
            self.errors.append(msg)


class Scenario:
    def __init__(self, server: TappedServer, client: ks.KalshiClient, seed: int) -> None:
        self.server = server
        self.client = client
        self.rng = random.Random(seed)
        self.seed = seed
        self.ledger = Ledger()
        client.on("*", self.ledger)
        self.dups = 0
        self.reorders = 0
        self.skipped = 0
        self.junk = 0
        self.errors_sent = 0
        self.kinds: collections.Counter[str] = collections.Counter()
        self.book_a: Any = None
        self.book_b: Any = None
        self.ticker: Any = None
        self.trade: Any = None

    # -- the user's wishes --------------------------------------------------------------

    def subscribe(self) -> None:
        c = self.client
        self.book_a = c.subscribe("orderbook_delta", [A, B])
        self.book_b = c.subscribe("orderbook_delta", [B, C])
        self.ticker = c.subscribe("ticker", [A])
        self.trade = c.subscribe("trade")

    def book_markets(self) -> set[str]:
        return set(self.book_a.market_tickers) | set(self.book_b.market_tickers)

    def change_markets(self) -> None:
        """Not a fault: what a user does between faults (add/remove a market)."""
        handle = self.rng.choice([self.book_a, self.ticker])
        if D in handle.market_tickers:
            handle.remove_markets([D])
        else:
            handle.add_markets([D])

    # -- the stream ---------------------------------------------------------------------

    def publish(self, n: int) -> None:
        markets = sorted(self.book_markets())
        rng = self.rng
        for _ in range(n):
            self.server.apply_delta(
                rng.choice(markets),
                rng.choice(("yes", "no")),
                rng.choice(PRICES),
                rng.choice(DELTAS),
            )

    def frames_read(self) -> int:
        return int(self.client.stats()["by_type"].get("orderbook_delta", 0))

    def expected_delivered(self) -> int:
        return self.server.delta_frames - self.dups - self.reorders

    def quiesce(self) -> None:
        """Wait until the client has read every delta frame the server queued."""
        wait_for(
            lambda: self.frames_read() == self.server.delta_frames,
            what=lambda: (
                f"client to read {self.server.delta_frames} frames (read {self.frames_read()})"
            ),
        )

    # -- faults ---------------------------------------------------------------------------

    def connection_fault(self, kind: str) -> None:
        server, rng = self.server, self.rng
        self.quiesce()
        lost_before = self.ledger.disconnects
        server.refuse_next_handshakes(1_000_000, 503)  # hold reconnects off
        if kind in ("drop", "refuse"):
            server.drop_connections()
        elif kind == "close1000":
            server.close_connections(1000)
        elif kind == "close1001":
            server.close_connections(1001, "going away")
        else:
            server.restart(downtime=rng.uniform(0.02, 0.25))
        server.wait_for_connection_count(0, timeout=10)
        wait_for(lambda: self.ledger.disconnects > lost_before, what="a disconnected event")
        sent = server.delta_frames
        self.publish(rng.randint(0, 8))  # the market moves while we are away
        assert server.delta_frames == sent, "frames were queued with no live connection"
        refusals = rng.randint(1, 4) if kind == "refuse" else 0
        server.refuse_next_handshakes(refusals, 503)  # then success
        self.refusals = refusals

    def stream_fault(self, kind: str) -> None:
        server, rng = self.server, self.rng
        if kind == "gap":
            n = rng.randint(1, 5)
            server.skip_seq(n, channel="orderbook_delta")
            self.skipped += n
            self.publish(rng.randint(1, 8))
        elif kind == "duplicate":
            server.duplicate_next(channel="orderbook_delta")
            self.dups += 1
            self.publish(rng.randint(1, 8))
        elif kind == "reorder":
            server.reorder_next(channel="orderbook_delta")
            self.reorders += 1
            self.publish(rng.randint(2, 8))
        elif kind.startswith("error"):
            code = int(kind[len("error") :])
            self.commands_before = len(server.commands)
            server.send_error(code, f"chaos {code}", sid=self.book_a.sid)
            self.errors_sent += 1
            self.publish(rng.randint(0, 8))
        else:  # garbage burst, interleaved with live deltas
            for _ in range(rng.randint(1, 20)):
                if rng.random() < 0.3:
                    frame: str | bytes = rng.randbytes(rng.randint(1, 64))
                else:
                    frame = rng.choice(JUNK)
                server.send_raw(frame)
                self.junk += 1
                if rng.random() < 0.3:
                    self.publish(1)

    # -- checks ---------------------------------------------------------------------------

    def state(self) -> str:
        subs = self.server.subscriptions()
        books: dict[str, tuple[str, int | None] | None] = {}
        for t in MARKETS:
            try:
                b = self.client.orderbook(t)
                books[t] = (b.state, b.sid)
            except KeyError:
                books[t] = None
        handles = [(h.channel, h.market_tickers, h.state, h.sid) for h in self.handles()]
        return (
            f"connected={self.client.connected} conns={self.server.connection_count} "
            f"server subs={subs} handles={handles} books={books} "
            f"stats={self.client.stats()}"
        )

    def handles(self) -> list[Any]:
        return [self.book_a, self.book_b, self.ticker, self.trade]

    def recovered(self) -> bool:
        if not self.client.connected or self.server.connection_count != 1:
            return False
        subs = self.server.subscriptions()
        by_channel = {s["channel"]: s for s in subs}
        if len(subs) != 3 or set(by_channel) != {"orderbook_delta", "ticker", "trade"}:
            return False
        wanted = self.book_markets()
        if set(by_channel["orderbook_delta"]["tickers"]) != wanted:
            return False
        if set(by_channel["ticker"]["tickers"]) != set(self.ticker.market_tickers):
            return False
        if by_channel["trade"]["tickers"]:
            return False
        for h in self.handles():
            if h.state != "active" or h.sid != by_channel[h.channel]["sid"]:
                return False
        for t in MARKETS:
            if t in wanted:
                if not book_equals_server(self.client, self.server, t):
                    return False
            elif t in _book_tickers(self.client):
                return False
        return True

    def check(self, kind: str) -> None:
        # Order matters: first everything sent has been read and delivered (so every gap
        # and error frame has had its effect), then the client must converge.
        if kind.startswith("error"):
            wait_for(lambda: len(self.ledger.errors) == self.errors_sent, what="error event")
        self.quiesce()
        wait_for(
            lambda: self.ledger.deltas == self.expected_delivered(),
            what=lambda: f"delivered {self.ledger.deltas} == {self.expected_delivered()}",
        )
        wait_for(self.recovered, timeout=15, what=lambda: f"recovery: {self.state()}")
        assert self.ledger.deltas == self.expected_delivered()
        stats = self.client.stats()
        assert not self.ledger.repeats, f"delivered twice: {self.ledger.repeats}"
        assert stats["duplicates"] == self.dups + self.reorders, stats
        gap_total = sum(g.received - g.expected for g in self.ledger.gaps)
        assert gap_total == self.skipped + self.reorders, (
            [(g.sid, g.expected, g.received) for g in self.ledger.gaps[-4:]],
            self.client._seq,
        )
        assert len(self.ledger.gaps) <= self.kinds["gap"] + self.reorders
        if kind == "refuse":
            statuses = [h["status"] for h in self.server.handshakes]
            tail = statuses[-(self.refusals + 1) :]
            assert tail == [503] * self.refusals + [101], statuses[-10:]
        if kind in ("error10", "error17", "error25"):
            resubscribed = [
                c
                for c in self.server.commands[self.commands_before :]
                if c.get("cmd") == "subscribe"
                and "orderbook_delta" in c.get("params", {}).get("channels", ())
            ]
            assert resubscribed, f"no resubscribe after terminal error {kind}"
        for t in self.book_markets():
            assert self.client.orderbook(t).state == "live"

    def run(self, faults: int) -> None:
        rng = self.rng
        for i in range(faults):
            kind = rng.choice(KINDS)
            self.kinds[kind] += 1
            try:
                changed = rng.random() < 0.2
                if changed:
                    self.change_markets()
                self.publish(rng.randint(0, 12))
                if kind in CONNECTION_FAULTS:
                    self.connection_fault(kind)
                else:
                    self.stream_fault(kind)
                self.check(kind)
            except AssertionError as exc:
                raise AssertionError(
                    f"CHAOS SEED={self.seed} fault #{i} ({kind}) after "
                    f"{dict(self.kinds)}: {exc}\nlast frames queued: {list(self.server.wire)}"
                ) from exc


def _book_tickers(client: ks.KalshiClient) -> set[str]:
    out = set()
    for t in MARKETS:
        try:
            client.orderbook(t)
        except KeyError:
            continue
        out.add(t)
    return out


def test_hundred_random_faults_during_a_live_delta_stream(tapped_server, private_pem, chaos_report):
    """After each of 100 seeded faults, subscriptions, books and the delivery ledger are exact."""
    print(f"CHAOS SEED={SEED}")
    server = tapped_server
    for i, t in enumerate(MARKETS):
        server.set_book(t, yes=[("0.42", str(10 + i)), ("0.40", "5")], no=[("0.56", "17")])
    t0 = time.monotonic()
    with make_client(server, private_pem, stale_timeout=5.0) as client:
        scenario = Scenario(server, client, SEED)
        scenario.subscribe()
        scenario.check("start")
        scenario.run(FAULTS)
        stats = client.stats()
        ledger = scenario.ledger
    elapsed = time.monotonic() - t0
    summary = (
        f"chaos: 1 scenarios, {FAULTS} faults (seed {SEED}, {elapsed:.1f} s): "
        f"{dict(scenario.kinds)}; sent={server.delta_frames} delivered={ledger.deltas} "
        f"gaps={len(ledger.gaps)} duplicates={stats['duplicates']} "
        f"reconnects={stats['reconnects']} junk={scenario.junk}"
    )
    print(summary)
    chaos_report.add(
        "live stream",
        FAULTS,
        seed=SEED,
        sent=server.delta_frames,
        delivered=ledger.deltas,
        gaps=len(ledger.gaps),
        reconnects=stats["reconnects"],
        seconds=round(elapsed, 1),
    )
    assert threading.active_count() < 50
