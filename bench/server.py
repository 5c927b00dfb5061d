"""Loopback Kalshi-shaped server for the benchmarks: cheap to run, never the bottleneck.

The ``websockets`` asyncio server (compression off) does the upgrade and answers
``subscribe`` with ``subscribed`` (echoing ``id``, ``sid`` 1) followed by one
``orderbook_snapshot``; then it streams ``orderbook_delta`` frames for one market by writing
**pre-built WebSocket frames straight to the transport** (docs/transport.md, 'Measurements
behind the fast path'):

* ``--mode blast``: all ``--n`` frames are encoded before the first write and written in
  1 MiB slices (flow control: wait while the kernel-side write buffer holds > 8 MiB);
* ``--mode rate``: ``--rate`` frames/s, each stamped with ``time.monotonic_ns()`` (in the
  ``client_order_id`` string, so every client can read it from its typed message) just
  before its own write; the pacing sleeps and then spins the last ~120 us.

``--cert PEM`` (the server's certificate chain and key, e.g. made by ``bench/run.py`` with a
throwaway trustme CA) serves ``wss://`` instead: the same frames, encrypted by asyncio's TLS
transport on the server's own core. Signatures are not checked. Prints ``PORT <n>`` on stdout
once listening; serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import time

from websockets.asyncio.server import ServerConnection, serve

TICKER = "KXHIGHNY-24JAN01-T60"
MARKET_ID = "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1"
LEVELS = 99
STAMP_WIDTH = 20  # digits of monotonic_ns, zero-padded: the frame length never changes
_STAMP = b"@" * STAMP_WIDTH


def ws_frame(payload: bytes) -> bytes:
    """One unmasked server text frame (FIN, opcode 1)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


def delta_payload(i: int, seq: int, stamp: bool = False) -> bytes:
    """The i-th delta: cycles over 99 price levels on both sides, +5 then -5 contracts."""
    price = 1 + (i * 7) % LEVELS
    side = "yes" if i % 2 == 0 else "no"
    delta = "5.00" if (i // 2) % 2 == 0 else "-5.00"
    body = (
        f'{{"type":"orderbook_delta","sid":1,"seq":{seq},"msg":{{"market_ticker":"{TICKER}",'
        f'"market_id":"{MARKET_ID}","price_dollars":"0.{price:02d}00","delta_fp":"{delta}",'
        f'"side":"{side}","ts":"2026-01-08T01:57:02Z","ts_ms":{1767837422001 + i}'
    )
    if stamp:
        body += ',"client_order_id":"' + "@" * STAMP_WIDTH + '"'
    return (body + "}}").encode()


def snapshot_payload() -> bytes:
    levels = [[f"0.{p:02d}00", "1000.00"] for p in range(1, LEVELS + 1)]
    msg = {"market_ticker": TICKER, "market_id": MARKET_ID}
    msg["yes_dollars_fp"] = levels  # type: ignore[assignment]
    msg["no_dollars_fp"] = levels  # type: ignore[assignment]
    return json.dumps({"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": msg}).encode()


class Bench:
    def __init__(self, mode: str, n: int, rate: float) -> None:
        self.mode = mode
        self.n = n
        self.rate = rate
        # Blast: up to PREBUILT frames are encoded before the server listens, so a
        # throughput run replays bytes only; longer runs (the 1M-frame RSS run) encode
        # the rest in 20k-frame chunks while earlier ones are still in flight (~1.5 us a
        # frame on the other core, well ahead of any client).
        self.prebuilt = encode_range(0, min(n, PREBUILT)) if mode == "blast" else b""

    async def handler(self, ws: ServerConnection) -> None:
        streaming: asyncio.Task[None] | None = None
        try:
            async for raw in ws:
                try:
                    cmd = json.loads(raw)
                except ValueError:
                    continue
                cid = cmd.get("id")
                if cmd.get("cmd") == "subscribe" and streaming is None:
                    ack = {"id": cid, "type": "subscribed"}
                    ack["msg"] = {"channel": "orderbook_delta", "sid": 1}  # type: ignore[assignment]
                    await ws.send(json.dumps(ack))
                    await ws.send(snapshot_payload().decode())
                    streaming = asyncio.create_task(self.stream(ws))
                elif cid is not None:
                    await ws.send(json.dumps({"id": cid, "type": "ok", "msg": []}))
        except Exception:
            pass
        finally:
            if streaming is not None:
                streaming.cancel()

    async def stream(self, ws: ServerConnection) -> None:
        transport = ws.transport
        if self.mode == "blast":
            done = 0
            while done < self.n:
                if done == 0 and self.prebuilt:
                    blob = self.prebuilt
                else:
                    blob = encode_range(done, min(self.n, done + 20_000))
                done += blob.count(b'"type":"orderbook_delta"')
                view = memoryview(blob)
                step = 1 << 20
                for off in range(0, len(view), step):
                    while transport.get_write_buffer_size() > 8 << 20:
                        await asyncio.sleep(0.0005)
                    if transport.is_closing():
                        return
                    transport.write(view[off : off + step])
            return
        # Paced: payloads prepared up front as (head, mid, tail) around seq and the stamp.
        ring = []
        for i in range(1000):
            head, rest = delta_payload(i, 0, stamp=True).split(b'"seq":0', 1)
            mid, tail = rest.split(_STAMP, 1)
            ring.append((head + b'"seq":', mid, tail))
        interval = 1e9 / self.rate
        mono = time.monotonic_ns
        start = mono() + 1_000_000
        for i in range(self.n):
            due = start + int(i * interval)
            while True:
                left = due - mono()
                if left <= 0:
                    break
                if left > 400_000:
                    await asyncio.sleep((left - 300_000) / 1e9)
                elif left > 150_000:
                    time.sleep((left - 120_000) / 1e9)
            if transport.is_closing():
                return
            head, mid, tail = ring[i % 1000]
            stamp = str(mono()).zfill(STAMP_WIDTH).encode()
            transport.write(ws_frame(head + str(i + 2).encode() + mid + stamp + tail))


PREBUILT = 200_000


def encode_range(lo: int, hi: int) -> bytes:
    return b"".join(ws_frame(delta_payload(i, i + 2)) for i in range(lo, hi))


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("blast", "rate"), default="blast")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--rate", type=float, default=5000.0)
    ap.add_argument("--cert", default=None, help="certificate chain + key (PEM): serve wss://")
    args = ap.parse_args()
    bench = Bench(args.mode, args.n, args.rate)
    tls = None
    if args.cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.cert)
    async with serve(
        bench.handler,
        "127.0.0.1",
        0,
        compression=None,
        max_size=None,
        ping_interval=None,
        ssl=tls,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        sys.stdout.write(f"PORT {port}\n")
        sys.stdout.flush()
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
