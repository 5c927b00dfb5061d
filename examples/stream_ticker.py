"""Stream the ticker (best bid/ask, last price, volume) of a few markets.

    python examples/stream_ticker.py --simulate --seconds 5     # offline, no account
    python examples/stream_ticker.py KXHIGHNY-26JAN01-T60       # Kalshi demo (credentials
                                                                # from the environment)

Callbacks run on the client's dispatch thread (the default delivery), one at a time.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Sequence
from decimal import Decimal

import kalshi_sync as ks


def fmt(price: Decimal | None) -> str:
    return "  -  " if price is None else f"{price:.2f}"


def on_ticker(msg: ks.Ticker) -> None:
    print(
        f"{msg.market_ticker:<24} bid {fmt(msg.yes_bid)}  ask {fmt(msg.yes_ask)}  "
        f"last {fmt(msg.price)}  volume {msg.volume or 0:,.0f}",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tickers", nargs="*", metavar="TICKER")
    parser.add_argument("--simulate", action="store_true", help="use the built-in simulator")
    parser.add_argument("--seconds", type=float, help="stop after N seconds")
    args = parser.parse_args(argv)

    exchange = None
    if args.simulate:
        from kalshi_sync.testing import SimulatedExchange

        exchange = SimulatedExchange(args.tickers or None).start()
        client, tickers = exchange.client(), list(exchange.tickers)
    elif args.tickers:
        client, tickers = ks.KalshiClient.from_env(environment="demo"), args.tickers
    else:
        parser.error("give at least one TICKER, or --simulate")
    try:
        client.start()
        client.subscribe("ticker", tickers, callback=on_ticker)
        if args.seconds is None:
            client.run_forever()  # until Ctrl-C
        else:
            threading.Event().wait(args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
        if exchange is not None:
            exchange.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
