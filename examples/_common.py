"""Shared plumbing for the scripts in ``examples/``; not part of the kalshi_sync library.

Every example takes the same command line (``TICKER ...``, ``--simulate``, ``--seconds``),
connects either to the built-in simulator or to Kalshi demo, and shuts down the same way:
close the client, then stop the simulator. That code lives here so that each example file
shows only what it is about. The examples import it with ``from _common import ...``, which
works because a script's own folder is on ``sys.path``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import kalshi_sync as ks

if TYPE_CHECKING:
    from kalshi_sync.testing import SimulatedExchange


@dataclass
class Example:
    """A client that is not started yet, the tickers to subscribe to, and ``--seconds``."""

    client: ks.KalshiClient
    tickers: list[str]
    seconds: float | None  # None: run until Ctrl-C
    exchange: SimulatedExchange | None = None  # the simulator behind ``--simulate``

    def deadline(self) -> float | None:
        """The ``time.monotonic()`` at which ``--seconds`` runs out; None without it."""
        return None if self.seconds is None else time.monotonic() + self.seconds

    def close(self) -> None:
        """Close the client, then stop the simulator if there is one."""
        self.client.close()
        if self.exchange is not None:
            self.exchange.stop()

    @contextmanager
    def running(self) -> Iterator[ks.KalshiClient]:
        """Run the ``with`` body; Ctrl-C ends it quietly; then :meth:`close`, always."""
        try:
            yield self.client
        except KeyboardInterrupt:
            pass
        finally:
            self.close()


def connect(
    doc: str | None,
    argv: Sequence[str] | None = None,
    *,
    delivery: str = "thread",
    seconds_help: str = "stop after N seconds",
) -> Example:
    """Parse the common command line and make the client (for the simulator or Kalshi demo).

    ``doc`` is the example's module docstring; its first line is the ``--help`` text.
    Without ``--simulate`` and without tickers this is a usage error (exit 2), raised before
    any credentials are read.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("tickers", nargs="*", metavar="TICKER")
    parser.add_argument("--simulate", action="store_true", help="use the built-in simulator")
    parser.add_argument("--seconds", type=float, help=seconds_help)
    args = parser.parse_args(argv)

    if args.simulate:
        from kalshi_sync.testing import SimulatedExchange

        exchange = SimulatedExchange(args.tickers or None).start()
        client = exchange.client(delivery=delivery)
        return Example(client, list(exchange.tickers), args.seconds, exchange)
    if not args.tickers:
        parser.error("give at least one TICKER, or --simulate")
    client = ks.KalshiClient.from_env(environment="demo", delivery=delivery)
    return Example(client, args.tickers, args.seconds)
