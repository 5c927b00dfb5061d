"""Micro-benchmark of ``kalshi_sync.protocol.decode`` on representative frames.

Plain ``time.perf_counter_ns`` loops, best of 5 repetitions, reported in microseconds per frame
next to a bare ``orjson.loads`` of the same bytes (the floor decode cannot beat). Run it with
``python bench/bench_decode.py [--number N]``; numbers are only comparable on one machine.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import orjson

from kalshi_sync.protocol import decode

DELTA = (
    b'{"type":"orderbook_delta","sid":2,"seq":3,"msg":{"market_ticker":"FED-23DEC-T3.00",'
    b'"market_id":"9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1","price_dollars":"0.9600",'
    b'"delta_fp":"-54.00","side":"yes","ts":"2022-11-22T20:44:01Z","ts_ms":1669149841000}}'
)
TICKER = (
    b'{"type":"ticker","sid":11,"msg":{"market_id":"9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1",'
    b'"market_ticker":"FED-23DEC-T3.00","price_dollars":"0.4800","yes_bid_dollars":"0.4500",'
    b'"yes_ask_dollars":"0.5300","volume_fp":"33896.00","open_interest_fp":"20422.00",'
    b'"dollar_volume":16948,"dollar_open_interest":10211,"yes_bid_size_fp":"300.00",'
    b'"yes_ask_size_fp":"150.00","last_trade_size_fp":"25.00","ts":1669149841,'
    b'"ts_ms":1669149841000,"time":"2022-11-22T20:44:01Z"}}'
)
TRADE = (
    b'{"type":"trade","sid":11,"seq":2,"msg":{"trade_id":"d91bc706-ee49-470d-82d8-11418bda6fed",'
    b'"market_ticker":"HIGHNY-22DEC23-B53.5","yes_price_dollars":"0.3600",'
    b'"no_price_dollars":"0.6400","count_fp":"136.00","taker_side":"no",'
    b'"taker_outcome_side":"no","taker_book_side":"ask","is_block_trade":false,'
    b'"ts":1669149841,"ts_ms":1669149841000}}'
)


def _snapshot(levels: int) -> bytes:
    yes = [[f"{(i + 1) / 100:.4f}", f"{100 + i}.00"] for i in range(levels)]
    no = [[f"{(i + 1) / 100:.4f}", f"{200 + i}.00"] for i in range(levels)]
    return orjson.dumps(
        {
            "type": "orderbook_snapshot",
            "sid": 2,
            "seq": 2,
            "msg": {
                "market_ticker": "FED-23DEC-T3.00",
                "market_id": "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1",
                "yes_dollars_fp": yes,
                "no_dollars_fp": no,
            },
        }
    )


def best_us_per_call(
    fn: Callable[[bytes], Any], frame: bytes, number: int, repeat: int = 5
) -> float:
    """Best of ``repeat`` timings of ``number`` calls, in microseconds per call."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(number):
            fn(frame)
        elapsed = time.perf_counter_ns() - start
        best = min(best, elapsed / number / 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--number", type=int, default=100_000, help="calls per repetition")
    args = parser.parse_args()
    cases = [
        ("orderbook_delta", DELTA, args.number),
        ("orderbook_snapshot 50+50 levels", _snapshot(50), max(args.number // 20, 1)),
        ("ticker", TICKER, args.number),
        ("trade", TRADE, args.number),
    ]
    print(f"{'frame':34} {'decode us':>10} {'loads us':>10} {'frames/s':>12}")
    for name, frame, number in cases:
        decode(frame)  # fail loudly before timing if the frame does not decode
        total = best_us_per_call(decode, frame, number)
        floor = best_us_per_call(orjson.loads, frame, number)
        print(f"{name:34} {total:10.2f} {floor:10.2f} {1e6 / total:12,.0f}")


if __name__ == "__main__":
    main()
