"""``kalshi-sync`` (also ``python -m kalshi_sync``): demo, watch, record, replay.

Exit status: 0 on success, on ``--seconds`` expiry and on Ctrl-C (after a summary); 1 on
an error (one line on stderr); 2 on a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

from . import __version__
from ._channels import CHANNELS
from ._view import RateMeter, ViewState, plain_line, render
from .client import KalshiClient
from .errors import AuthenticationError, KalshiError
from .orderbook import Orderbook

__all__ = ["main"]

PROG = "kalshi-sync"
DEFAULT_CHANNELS = "orderbook_delta,ticker,trade"
_CLEAR = "\x1b[H\x1b[J"  # cursor home, clear to end of screen


class CliError(Exception):
    """An error shown as one line on stderr (exit 1)."""


# ---- the display loop ------------------------------------------------------------------


def _books(client: KalshiClient, tickers: Sequence[str]) -> dict[str, Orderbook | None]:
    books: dict[str, Orderbook | None] = {}
    for t in tickers:
        try:
            books[t] = client.orderbook(t)
        except KeyError:
            books[t] = None
    return books


class _Display:
    """Redraws the view in place on a terminal; prints a plain line a second otherwise."""

    def __init__(
        self,
        client: KalshiClient,
        view: ViewState,
        title: str,
        *,
        depth: int,
        out: IO[str],
        tickers: Sequence[str] | None = None,
    ) -> None:
        self.client, self.view, self.title, self.depth, self.out = client, view, title, depth, out
        self.tickers = tickers
        self.tty = out.isatty()
        self.started = time.monotonic()
        self.meter = RateMeter()
        self.meter.update(self.started, view.messages)

    def frame(self, *, final: bool = False) -> str:
        now = time.monotonic()
        tickers = self.tickers if self.tickers is not None else self.view.tickers()
        stats = self.client.stats()
        screen = self.view.screen(
            self.title,
            _books(self.client, tickers),
            elapsed=now - self.started,
            rate=self.meter.update(now, self.view.messages),
            tickers=tickers,
            latency=(stats["latency_ms_p50"], stats["latency_ms_p99"]),
        )
        if final or self.tty:
            return render(screen, depth=self.depth)
        return plain_line(screen) + "\n"

    def draw(self) -> None:
        text = self.frame()
        self.out.write(_CLEAR + text if self.tty else text)
        self.out.flush()

    def run(self, seconds: float | None, done: Callable[[], bool] | None = None) -> str:
        """Draw until ``seconds`` pass, ``done()``, the client stops for good, or Ctrl-C.
        Returns why: "seconds", "done", "finished" or "interrupted"."""
        interval = 0.25 if self.tty else 1.0
        deadline = None if seconds is None else self.started + seconds
        next_draw = self.started + interval
        try:
            while True:
                if done is not None and done():
                    return "done"
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    return "seconds"
                wake = next_draw if deadline is None else min(next_draw, deadline)
                if self.view.finished.wait(max(0.0, min(wake - now, 0.05 if done else 1.0))):
                    return "finished"
                if time.monotonic() >= next_draw:
                    self.draw()
                    next_draw += interval
        except KeyboardInterrupt:
            return "interrupted"

    def finish(self, reason: str, what: str) -> None:
        """The last frame (in full, also when piped) and a one-line summary."""
        elapsed = time.monotonic() - self.started
        text = self.frame(final=True)
        self.out.write((_CLEAR if self.tty else "\n") + text)
        n = self.view.messages
        why = {"seconds": "time is up", "interrupted": "interrupted", "done": "done"}.get(
            reason, "connection closed"
        )
        self.out.write(
            f"{PROG} {what}: {n:,} messages in {elapsed:.1f} s "
            f"({n / elapsed if elapsed > 0 else 0.0:,.1f} msg/s); stopped: {why}\n"
        )
        self.out.flush()


# ---- commands --------------------------------------------------------------------------


def _channels(text: str) -> list[str]:
    channels = [c.strip() for c in text.split(",") if c.strip()]
    if not channels:
        raise CliError("--channels needs at least one channel name")
    return channels


def _connect(args: argparse.Namespace, **kwargs: Any) -> tuple[KalshiClient, Any, list[str]]:
    """(client, simulated exchange or None, tickers) for watch/record/demo."""
    if args.simulate:
        from .testing.simulator import SimulatedExchange

        exchange = SimulatedExchange(args.tickers or None, seed=args.seed, rate=args.rate)
        exchange.start()
        try:
            return exchange.client(**kwargs), exchange, list(exchange.tickers)
        except BaseException:
            exchange.stop()
            raise
    if not args.tickers:
        raise CliError(f"{args.command} needs at least one TICKER (or --simulate)")
    if args.url:
        kwargs["url"] = args.url
    if args.env:
        kwargs["environment"] = args.env
    try:
        client = KalshiClient.from_env(**kwargs)
    except AuthenticationError as exc:
        if "not found" not in str(exc):
            raise
        raise CliError(
            f"{exc}; KALSHI_ENV=demo|prod (or --env) picks the exchange. "
            f"To try it without an account: {PROG} demo"
        ) from None
    return client, None, list(args.tickers)


def _markets_for(channel: str, tickers: list[str]) -> list[str] | None:
    """The market filter to subscribe ``channel`` with: the tickers shown, unless the channel
    takes no market filter (docs/protocol.md, 'Channels'). A channel this version does not
    know gets the tickers: the server says whether it wants them."""
    facts = CHANNELS.get(channel)
    return None if facts is not None and not facts.takes_markets else tickers


def _live(args: argparse.Namespace, what: str, title: str, **kwargs: Any) -> int:
    """Shared body of demo, watch and record: connect, subscribe, display, summarise."""
    channels = _channels(args.channels)
    view = ViewState()
    client, exchange, tickers = _connect(args, **kwargs)
    try:
        client.on("*", view.on_message)
        client.start(timeout=args.connect_timeout)
        view.set_state("live" if client.connected else "connecting")
        for channel in channels:
            markets = _markets_for(channel, tickers)
            client.subscribe(channel, markets, timeout=args.connect_timeout)
        display = _Display(client, view, title, depth=args.depth, out=sys.stdout, tickers=tickers)
        reason = display.run(args.seconds)
        display.finish(reason, what)
    finally:
        client.close()
        if exchange is not None:
            exchange.stop()
    if view.fatal is not None:
        raise CliError(str(view.fatal))
    if what == "record":
        print(f"recorded {client.stats()['messages']:,} frames to {args.out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    args.simulate, args.url, args.env = True, None, None
    return _live(args, "demo", f"{PROG} demo (simulated exchange, no account needed)")


def cmd_watch(args: argparse.Namespace) -> int:
    where = "simulated" if args.simulate else (args.env or os.environ.get("KALSHI_ENV") or "prod")
    return _live(args, "watch", f"{PROG} watch ({where})")


def cmd_record(args: argparse.Namespace) -> int:
    return _live(args, "record", f"{PROG} record -> {args.out}", record=args.out)


def cmd_replay(args: argparse.Namespace) -> int:
    if not os.path.isfile(args.file):
        raise CliError(f"no such recording: {args.file}")
    from .testing import generate_test_key

    # Replay never connects, so any key will do; a throwaway one keeps real keys out of it.
    client = KalshiClient("replay", generate_test_key()[0])
    view = ViewState()
    client.on("*", view.on_message)
    result: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            result.append(client.replay(args.file, speed=args.speed))
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=work, name="kalshi-replay", daemon=True)
    view.set_state("replaying")
    display = _Display(client, view, f"{PROG} replay {args.file}", depth=args.depth, out=sys.stdout)
    worker.start()
    try:
        reason = display.run(args.seconds, done=lambda: not worker.is_alive())
        if reason == "done":
            view.set_state("replayed")
    finally:
        client.close()  # ends a replay still running (Ctrl-C, --seconds)
        worker.join()
    if errors and not isinstance(errors[0], KalshiError | ValueError | OSError):
        raise errors[0]
    if errors:
        raise CliError(str(errors[0]))
    display.finish(reason, "replay")
    return 0


# ---- argument parsing ------------------------------------------------------------------


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _common(p: argparse.ArgumentParser, *, live: bool = True) -> None:
    p.add_argument(
        "--seconds", type=_positive, metavar="N", help="stop cleanly after N seconds (exit 0)"
    )
    p.add_argument("--depth", type=int, default=5, metavar="N", help="book levels a side shown")
    if live:
        p.add_argument(
            "--connect-timeout", type=_positive, default=15.0, metavar="S", help=argparse.SUPPRESS
        )


def _sim_options(p: argparse.ArgumentParser, *, hidden: bool = False) -> None:
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS if hidden else "simulator seed")
    p.add_argument(
        "--rate",
        type=_positive,
        default=20.0,
        help=argparse.SUPPRESS if hidden else "simulator actions per second (default 20)",
    )


def _remote(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--channels",
        default=DEFAULT_CHANNELS,
        help=f"comma-separated channels (default {DEFAULT_CHANNELS})",
    )
    p.add_argument("--env", choices=("demo", "prod"), help="Kalshi exchange (default $KALSHI_ENV)")
    p.add_argument(
        "--simulate",
        action="store_true",
        help="use the built-in simulated exchange instead of Kalshi (no credentials)",
    )
    p.add_argument("--url", help=argparse.SUPPRESS)  # a custom server (tests, proxies)
    _sim_options(p, hidden=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Live Kalshi order books in the terminal; record and replay raw frames.",
        epilog="Credentials for watch/record: KALSHI_API_KEY_ID, and KALSHI_PRIVATE_KEY_PATH "
        "or KALSHI_PRIVATE_KEY; KALSHI_ENV=demo|prod.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "demo",
        help="live book from a built-in simulated exchange (no account needed)",
        description="Start a simulated exchange on loopback and watch it live. "
        "No credentials needed.",
    )
    p.add_argument("tickers", nargs="*", metavar="TICKER", help="market names to simulate")
    p.add_argument("--channels", default=DEFAULT_CHANNELS, help=argparse.SUPPRESS)
    _common(p)
    _sim_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "watch",
        help="live book, ticker and trades from Kalshi",
        description="Watch markets on Kalshi demo or prod (credentials from the environment).",
    )
    p.add_argument("tickers", nargs="*", metavar="TICKER", help="market tickers")
    _remote(p)
    _common(p)
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser(
        "record",
        help="record raw frames to a JSONL file",
        description="Record every received frame, with its receive time, to OUT.jsonl "
        "(flushed per frame: nothing is lost on Ctrl-C).",
    )
    p.add_argument("out", metavar="OUT.jsonl", help="file to write (overwritten)")
    p.add_argument("tickers", nargs="*", metavar="TICKER", help="market tickers")
    _remote(p)
    _common(p)
    p.set_defaults(func=cmd_record)

    p = sub.add_parser(
        "replay",
        help="feed a recording through the client pipeline",
        description="Feed a recording through the same decode, book and dispatch pipeline "
        "as live frames, and show the resulting books.",
    )
    p.add_argument("file", metavar="FILE", help="a recording made by 'record'")
    p.add_argument(
        "--speed",
        type=_positive,
        metavar="X",
        help="1 = recorded pace, 2 = twice as fast (default: as fast as possible)",
    )
    _common(p, live=False)
    p.set_defaults(func=cmd_replay)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.depth < 1:
        parser.error("--depth must be at least 1")
    try:
        return int(args.func(args))
    except KeyboardInterrupt:  # before the display started: nothing to summarise
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 0
    except (CliError, KalshiError, OSError, ValueError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
