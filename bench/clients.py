"""One benchmark client per process: ``python bench/clients.py VARIANT --port P [...]``.

Variants (each imports only what it needs, so the peers run from their own venvs):

* ``raw``: websocket-client ``run_forever`` that only counts frames (the transport ceiling);
* ``raw_json``: the same plus ``json.loads`` of every frame;
* ``ks_thread`` / ``ks_inline`` / ``ks_poll``: kalshi_sync in its default configuration
  (typed messages, local book, a subscription callback receiving every delta) in each
  delivery mode;
* ``pykalshi``: pykalshi 2.0.0 ``Feed`` (pydantic models), ``_ws_url`` monkeypatched;
* ``kalshisdk``: kalshi-sdk ``KalshiWebSocket`` (async, iterator), on its own thread.

Every handler touches one field of the parsed message. Throughput is (N - 1) / (time of
the N-th delta - time of the first delta), measured inside the handler; CPU is
``getrusage(RUSAGE_SELF)`` over the same span. ``--latency`` reads the server's
``monotonic_ns`` stamp from ``client_order_id`` and records now - stamp per message.
``--tls CA`` connects over ``wss://`` and verifies the server against the CA file through each
client's normal TLS path: the peers and the ceiling use their default context, which reads
``SSL_CERT_FILE`` (set to the CA by ``bench/run.py``); kalshi_sync gets
``ssl_context=ssl.create_default_context(cafile=CA)``.
Prints one JSON object on the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

TICKER = "KXHIGHNY-24JAN01-T60"
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def switches() -> int:
    """Context switches of the process so far, voluntary (a thread blocked) and not."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_nvcsw + r.ru_nivcsw


class Probe:
    """Shared by all variants: counts deltas, timestamps, latency samples, RSS samples."""

    def __init__(self, n: int, latency: bool, window: float | None, rss_every: int) -> None:
        self.n = n
        self.count = 0
        self.counted = 0  # count when the measurement ended
        self.t0 = self.t1 = 0.0
        self.c0 = self.c1 = 0.0
        self.s0 = self.s1 = 0
        self.latency = latency
        self.lat: list[int] = []
        self.window = window
        self.rss_every = rss_every
        self.rss: list[tuple[int, int]] = []
        self.done = threading.Event()

    def hit(self, stamp: int = 0) -> None:
        """One delta reached the application (called from the handler)."""
        if self.latency:
            self.lat.append(time.monotonic_ns() - stamp)
        self.count = c = self.count + 1
        if c == 1:
            self.t0 = time.perf_counter()
            self.c0 = cpu_s()
            self.s0 = switches()
        elif (
            c >= self.n or (self.window and time.perf_counter() - self.t0 >= self.window)
        ) and not self.done.is_set():
            self.t1 = time.perf_counter()
            self.c1 = cpu_s()
            self.s1 = switches()
            self.counted = c
            self.done.set()
        if self.rss_every and c % self.rss_every == 0:
            self.rss.append((c, rss_bytes()))

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {"count": self.count, "complete": self.done.is_set()}
        if self.done.is_set() and self.t1 > self.t0:
            span = self.t1 - self.t0
            out["count"] = self.counted
            out["msgs_per_s"] = (self.counted - 1) / span
            out["cpu_us_per_msg"] = (self.c1 - self.c0) / max(1, self.counted - 1) * 1e6
            out["switches_per_msg"] = (self.s1 - self.s0) / max(1, self.counted - 1)
            out["seconds"] = span
        if self.latency and self.lat:
            lat = sorted(self.lat[len(self.lat) // 10 :])  # first 10% = warm-up

            def pct(p: float) -> float:
                return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] / 1000

            out["latency_us"] = {
                "p50": pct(50),
                "p90": pct(90),
                "p99": pct(99),
                "p99.9": pct(99.9),
                "max": lat[-1] / 1000,
                "samples": len(lat),
            }
        if self.rss:
            out["rss"] = self.rss
        return out


def busy_loop(stop: threading.Event) -> None:
    """A CPU-bound pure-Python 'strategy' thread (docs/transport.md, 'The GIL')."""
    x = 0
    while not stop.is_set():
        for i in range(1000):
            x += i * i


def subscribe_cmd() -> str:
    return json.dumps(
        {
            "id": 1,
            "cmd": "subscribe",
            "params": {"channels": ["orderbook_delta"], "market_tickers": [TICKER]},
        }
    )


# -- variants ---------------------------------------------------------------------------------


def run_raw(url: str, probe: Probe, parse: bool) -> Callable[[], dict[str, Any]]:
    import websocket

    hit = probe.hit
    latency = probe.latency
    loads = json.loads
    if parse:

        def on_message(_app: Any, data: str) -> None:
            d = loads(data)
            if d["type"] == "orderbook_delta":
                if latency:
                    hit(int(d["msg"]["client_order_id"]))
                else:
                    d["seq"]
                    hit()
    else:
        frames = [0]

        def on_message(_app: Any, data: str) -> None:
            frames[0] += 1
            if frames[0] > 2:  # "subscribed", then the snapshot
                hit()

    app = websocket.WebSocketApp(
        url, on_open=lambda a: a.send(subscribe_cmd()), on_message=on_message
    )
    t = threading.Thread(target=app.run_forever, kwargs={"skip_utf8_validation": True}, daemon=True)
    t.start()
    return lambda: (app.close(), {})[1]


def run_ks(url: str, probe: Probe, mode: str, ca: str | None) -> Callable[[], dict[str, Any]]:
    import ssl

    import kalshi_sync as ks
    from kalshi_sync.testing import generate_test_key

    pem, _ = generate_test_key()
    ctx = ssl.create_default_context(cafile=ca) if ca else None
    client = ks.KalshiClient("bench", pem, url=url, delivery=mode, ssl_context=ctx)
    hit = probe.hit
    latency = probe.latency

    def on_msg(msg: Any) -> None:
        if msg.type == "orderbook_delta":
            if latency:
                hit(int(msg.client_order_id))
            else:
                msg.price  # noqa: B018 - touch the typed object
                hit()

    client.start()
    client.subscribe("orderbook_delta", [TICKER], callback=on_msg)
    poller = None
    if mode == "poll":

        def poll_loop() -> None:
            while not probe.done.is_set() and not client.closed:
                client.poll(0.05)

        poller = threading.Thread(target=poll_loop, daemon=True)
        poller.start()

    def finish() -> dict[str, Any]:
        stats = client.stats()
        try:
            book = client.orderbook(TICKER)
            book_info = {
                "state": book.state,
                "seq": book.seq,
                "levels": len(book.yes_levels) + len(book.no_levels),
            }
        except KeyError:
            book_info = {}
        client.close()
        return {
            "gaps": stats["gaps"],
            "drops": stats["drops"],
            "book": book_info,
            "decode_errors": stats["decode_errors"],
        }

    return finish


def run_pykalshi(url: str, probe: Probe, keyfile: str) -> Callable[[], dict[str, Any]]:
    import logging

    from pykalshi import KalshiClient
    from pykalshi.feed import OrderbookDeltaMessage

    logging.getLogger("pykalshi").setLevel(logging.ERROR)
    base = url.replace("ws", "http", 1).replace("/trade-api/ws/v2", "/trade-api/v2")
    client = KalshiClient(api_key_id="bench", private_key_path=keyfile, api_base=base)
    feed = client.feed()
    feed._ws_url = url
    hit = probe.hit
    latency = probe.latency

    def on_book(msg: Any) -> None:
        if msg.__class__ is OrderbookDeltaMessage:
            if latency:
                hit(int(msg.client_order_id))
            else:
                msg.price_dollars  # noqa: B018
                hit()

    feed.on("orderbook_delta", on_book)
    feed.subscribe("orderbook_delta", market_tickers=[TICKER])
    feed.start()
    return lambda: (feed.stop(), {})[1]


def run_kalshisdk(url: str, probe: Probe, keyfile: str) -> Callable[[], dict[str, Any]]:
    import asyncio
    import logging

    from kalshi.auth import KalshiAuth
    from kalshi.config import KalshiConfig
    from kalshi.ws.client import KalshiWebSocket

    logging.getLogger("kalshi").setLevel(logging.ERROR)
    hit = probe.hit
    latency = probe.latency
    stop: dict[str, Any] = {}

    async def main() -> None:
        auth = KalshiAuth.from_key_path("bench", keyfile)
        config = KalshiConfig(ws_base_url=url)
        ws = KalshiWebSocket(auth=auth, config=config)
        stop["loop"] = asyncio.get_running_loop()
        stop["task"] = asyncio.current_task()
        async with ws.connect() as session:
            # maxsize: the default 1000-deep queue tears the session down in a burst
            # and ends the stream); a deep queue measures the decoder, not that policy.
            stream = await session.subscribe_orderbook_delta(tickers=[TICKER], maxsize=1 << 20)
            async for msg in stream:
                if msg.type == "orderbook_delta":
                    if latency:
                        hit(int(msg.msg.client_order_id))
                    else:
                        msg.msg.price  # noqa: B018
                        hit()
                if probe.done.is_set():
                    break

    def runner() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            stop["error"] = repr(exc)

    t = threading.Thread(target=runner, daemon=True)
    t.start()

    def finish() -> dict[str, Any]:
        t.join(5)
        return {"error": stop["error"]} if "error" in stop else {}

    return finish


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("variant")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--latency", action="store_true")
    ap.add_argument("--window", type=float, default=None, help="stop after this many s")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--rss-every", type=int, default=0)
    ap.add_argument("--busy", action="store_true", help="run a CPU-bound Python thread")
    ap.add_argument("--switch", type=float, default=None, help="sys.setswitchinterval")
    ap.add_argument("--keyfile", default="")
    ap.add_argument("--tls", default=None, metavar="CA", help="wss://, verified against CA")
    args = ap.parse_args()
    if args.switch:
        sys.setswitchinterval(args.switch)
    scheme = "wss" if args.tls else "ws"
    url = f"{scheme}://127.0.0.1:{args.port}/trade-api/ws/v2"
    probe = Probe(args.n, args.latency, args.window, args.rss_every)
    busy_stop = threading.Event()
    if args.busy:
        threading.Thread(target=busy_loop, args=(busy_stop,), daemon=True).start()
    rss_start = rss_bytes()
    v = args.variant
    if v in ("raw", "raw_json"):
        finish = run_raw(url, probe, parse=v == "raw_json")
    elif v.startswith("ks_"):
        finish = run_ks(url, probe, v[3:], args.tls)
    elif v == "pykalshi":
        finish = run_pykalshi(url, probe, args.keyfile)
    elif v == "kalshisdk":
        finish = run_kalshisdk(url, probe, args.keyfile)
    else:
        raise SystemExit(f"unknown variant {v}")
    probe.done.wait(args.timeout)
    busy_stop.set()
    out = {
        "variant": v,
        "tls": bool(args.tls),
        "n": args.n,
        "rss_start": rss_start,
        "rss_end": rss_bytes(),
    }
    out.update(probe.result())
    try:
        out.update(finish())
    except Exception as exc:
        out["finish_error"] = repr(exc)
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    os._exit(0)  # daemon threads of peers must not delay the next run


if __name__ == "__main__":
    main()
