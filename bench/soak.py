"""Soak run: a KalshiClient against FakeKalshiServer for minutes, faults every few seconds.

Not part of CI. Run::

    python bench/soak.py --minutes 4 --rate 8000 --fault-every 3 --seed 1

A publisher thread streams order book deltas on 4 markets at ``--rate`` frames/s; every
``--fault-every`` seconds a random fault hits (TCP drop, clean close 1000/1001, restart with
downtime, 503 refusals then success, seq gap, duplicate, reorder, error 25/10/18, garbage
burst). Every ``--report-every`` seconds one line: elapsed, RSS, threads, open fds, frames
sent by the server / read by the client / delivered to the callback, duplicates dropped,
gaps, reconnects. The server runs in the same process (figures include it; thread and fd
counts are split into client and total where possible).

Ledger (exact, see tests/chaos/test_chaos_stream.py): every delta frame the client *read* is
either delivered once or dropped as a duplicate/stale repeat, so
``delivered == read - duplicates`` must hold at every quiet point. ``sent - read`` is
what was queued on connections that died before the client read it (in flight at a drop;
no gap event can exist for those, the fresh snapshot after reconnect covers them). At the
end the stream stops and every book must equal the server's and read "live".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import threading
import time
from typing import Any

import kalshi_sync as ks
from kalshi_sync.testing import FakeKalshiServer, generate_test_key

MARKETS = ["SOAK-A", "SOAK-B", "SOAK-C", "SOAK-D"]


class TappedServer(FakeKalshiServer):
    """Counts orderbook_delta frames queued for clients (the "sent" side)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.delta_frames = 0

    def _enqueue(self, conn: Any, frames: Any) -> None:
        frames = list(frames)
        for f in frames:
            if isinstance(f, dict) and f.get("type") == "orderbook_delta":
                self.delta_frames += 1
        super()._enqueue(conn, frames)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--rate", type=int, default=8000, help="target delta frames per second")
    ap.add_argument("--fault-every", type=float, default=3.0)
    ap.add_argument("--report-every", type=float, default=15.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="also write the samples to this file")
    args = ap.parse_args(argv)

    rng = random.Random(args.seed)
    pem, public_key = generate_test_key()
    srv = TappedServer(public_key=public_key, ping_interval=1.0).start()
    for i, t in enumerate(MARKETS):
        srv.set_book(t, yes=[("0.42", str(10 + i))], no=[("0.56", "17")])
    delivered = [0]

    def on_delta(msg: Any) -> None:
        delivered[0] += 1

    client = ks.KalshiClient(
        "soak",
        pem,
        url=srv.url,
        backoff_initial=0.01,
        backoff_max=0.2,
        stale_timeout=5.0,
        max_queue=200_000,
    )
    client.on("orderbook_delta", on_delta)
    gaps = [0]
    client.on("gap", lambda e: gaps.__setitem__(0, gaps[0] + 1))
    client.start()
    client.subscribe("orderbook_delta", MARKETS[:3])
    client.subscribe("orderbook_delta", MARKETS[1:])
    client.subscribe("ticker")

    stop = threading.Event()
    pace = threading.Event()

    def publish() -> None:
        r = random.Random(args.seed + 1)
        batch = max(1, args.rate // 100)
        next_t = time.monotonic()
        while not stop.is_set():
            for _ in range(batch):
                srv.apply_delta(
                    r.choice(MARKETS),
                    r.choice(("yes", "no")),
                    f"0.{r.randint(30, 69)}",
                    r.choice(("1", "2", "-1", "-3", "5")),
                )
            next_t += 0.01
            delay = next_t - time.monotonic()
            if delay > 0:
                pace.wait(delay)
            else:
                next_t = time.monotonic()

    publisher = threading.Thread(target=publish, name="soak-publisher", daemon=True)
    publisher.start()
    t0 = time.monotonic()
    end = t0 + args.minutes * 60
    next_fault = t0 + args.fault_every
    next_report = t0
    faults: dict[str, int] = {}
    samples: list[dict[str, Any]] = []
    header = (
        f"{'t_s':>6} {'rss_mb':>7} {'thr':>4} {'ksthr':>5} {'fds':>4} {'sent':>9} "
        f"{'read':>9} {'deliv':>9} {'dups':>5} {'d+dups-read':>11} {'gaps':>5} "
        f"{'reconn':>6} {'queue':>6}"
    )
    print(header, flush=True)

    def sample() -> dict[str, Any]:
        st = client.stats()
        read = st["by_type"].get("orderbook_delta", 0)
        row = {
            "t": round(time.monotonic() - t0, 1),
            "rss_mb": round(rss_mb(), 1),
            "threads": threading.active_count(),
            "client_threads": sum(t.name.startswith("kalshi-sync") for t in threading.enumerate()),
            "fds": fds(),
            "sent": srv.delta_frames,
            "read": read,
            "delivered": delivered[0],
            "duplicates": st["duplicates"],
            "gaps": gaps[0],
            "reconnects": st["reconnects"],
            "queue": st["queue_depth"],
        }
        row["balance"] = row["delivered"] + row["duplicates"] - row["read"]
        samples.append(row)
        print(
            f"{row['t']:>6} {row['rss_mb']:>7} {row['threads']:>4} "
            f"{row['client_threads']:>5} {row['fds']:>4} {row['sent']:>9} {row['read']:>9} "
            f"{row['delivered']:>9} {row['duplicates']:>5} {row['balance']:>11} "
            f"{row['gaps']:>5} {row['reconnects']:>6} {row['queue']:>6}",
            flush=True,
        )
        return row

    kinds = [
        "drop",
        "close1000",
        "close1001",
        "restart",
        "refuse",
        "gap",
        "duplicate",
        "reorder",
        "error25",
        "error10",
        "error18",
        "garbage",
    ]
    pause = threading.Event()
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_report:
            sample()
            next_report = now + args.report_every
        if now >= next_fault:
            kind = rng.choice(kinds)
            faults[kind] = faults.get(kind, 0) + 1
            try:
                if kind == "drop":
                    srv.drop_connections()
                elif kind == "close1000":
                    srv.close_connections(1000)
                elif kind == "close1001":
                    srv.close_connections(1001, "going away")
                elif kind == "restart":
                    srv.restart(downtime=rng.uniform(0.05, 0.5))
                elif kind == "refuse":
                    srv.refuse_next_handshakes(rng.randint(1, 4), 503)
                    srv.drop_connections()
                elif kind == "gap":
                    srv.skip_seq(rng.randint(1, 5), channel="orderbook_delta")
                elif kind == "duplicate":
                    srv.duplicate_next(channel="orderbook_delta")
                elif kind == "reorder":
                    srv.reorder_next(channel="orderbook_delta")
                elif kind.startswith("error"):
                    subs = [s for s in srv.subscriptions() if s["channel"] == "orderbook_delta"]
                    if subs:
                        srv.send_error(int(kind[5:]), "soak", sid=subs[0]["sid"])
                else:
                    for _ in range(rng.randint(1, 50)):
                        srv.send_raw(rng.randbytes(rng.randint(1, 100)))
            except Exception as exc:  # a fault that could not be applied is reported
                print(f"fault {kind} failed: {exc!r}", file=sys.stderr)
            next_fault = now + args.fault_every
        pause.wait(0.05)

    stop.set()
    publisher.join(30)
    # Quiet point: let reconnects and resyncs settle, then compare books and ledger.
    deadline = time.monotonic() + 60
    ok = False
    while time.monotonic() < deadline:
        books_ok = True
        for t in MARKETS:
            try:
                b = client.orderbook(t)
            except KeyError:
                books_ok = False
                break
            yes, no = srv.book(t)
            if b.state != "live" or dict(b.yes) != yes or dict(b.no) != no:
                books_ok = False
                break
        st = client.stats()
        if books_ok and st["queue_depth"] == 0 and client.connected:
            ok = True
            break
        pause.wait(0.05)
    final = sample()
    client.close()
    srv.stop()
    total_faults = sum(faults.values())
    print(
        f"\nsoak: {final['t']:.0f} s, {final['sent']:,} delta frames sent, "
        f"{final['read']:,} read, {final['delivered']:,} delivered, "
        f"{final['duplicates']} duplicate/stale drops, {final['gaps']} gaps, "
        f"{final['reconnects']} reconnects, {total_faults} faults {faults}"
    )
    print(
        f"ledger delivered + duplicates - read = {final['balance']} (must be 0); "
        f"lost in flight at drops = {final['sent'] - final['read']:,}; "
        f"books equal server and live at the end: {ok}"
    )
    first, last = samples[0], samples[-1]
    print(
        f"RSS {first['rss_mb']} -> {last['rss_mb']} MB (max {max(s['rss_mb'] for s in samples)}), "
        f"threads {first['threads']} -> {last['threads']}, fds {first['fds']} -> {last['fds']}"
    )
    after = [t.name for t in threading.enumerate() if t.name.startswith("kalshi-sync")]
    print(f"kalshi-sync threads after close: {after}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"samples": samples, "faults": faults, "books_ok": ok}, f, indent=1)
    return 0 if ok and final["balance"] == 0 and not after else 1


if __name__ == "__main__":
    sys.exit(main())
