"""Stream the ticker (best bid/ask, last price, volume) of a few markets.

    python examples/stream_ticker.py --simulate --seconds 5     # offline, no account
    python examples/stream_ticker.py KXHIGHNY-26JAN01-T60       # Kalshi demo (credentials
                                                                # from the environment)

Callbacks run on the client's dispatch thread (the default delivery), one at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from decimal import Decimal

from _common import connect

import kalshi_sync as ks


def fmt(price: Decimal | None) -> str:
    return "  -  " if price is None else f"{price:.2f}"


def on_ticker(msg: ks.Ticker) -> None:
    print(
        f"{msg.market_ticker or '?':<24} bid {fmt(msg.yes_bid)}  ask {fmt(msg.yes_ask)}  "
        f"last {fmt(msg.price)}  volume {msg.volume or 0:,.0f}",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    example = connect(__doc__, argv)  # the command line, the simulator or Kalshi demo
    with example.running() as client:  # Ctrl-C stops quietly; closes everything after
        client.start()
        client.subscribe("ticker", example.tickers, callback=on_ticker)
        if example.seconds is None:
            client.run_forever()  # until Ctrl-C
        else:
            threading.Event().wait(example.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
