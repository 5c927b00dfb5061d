"""Helpers shared by the simulator, recording and CLI tests (not a test module)."""

from __future__ import annotations

import threading
from typing import Any

from kalshi_sync import KalshiClient
from kalshi_sync.testing import FakeKalshiServer

SENTINEL = "sentinel-trade"


def sync(
    client: KalshiClient, server: FakeKalshiServer, ticker: str, timeout: float = 10.0
) -> None:
    """Publish a marker trade and wait until the client delivered it: everything the server
    sent before it has then been processed (one connection keeps its order)."""
    seen = threading.Event()

    def on_trade(msg: Any) -> None:
        if msg.trade_id == SENTINEL:
            seen.set()

    client.on("trade", on_trade)
    server.publish(
        "trade",
        "trade",
        {
            "trade_id": SENTINEL,
            "market_ticker": ticker,
            "yes_price_dollars": "0.5000",
            "no_price_dollars": "0.5000",
            "count_fp": "1.00",
            "taker_outcome_side": "yes",
            "ts_ms": 0,
        },
        market_ticker=ticker,
    )
    assert seen.wait(timeout), "the client never delivered the marker trade"
    client.off("trade", on_trade)
