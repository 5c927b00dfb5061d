"""Messages about money survive a full delivery queue: the overflow drops the oldest market
data but keeps fills, user orders, positions and order group updates, in order."""

from __future__ import annotations

from typing import Any

import pytest

from kalshi_sync.dispatch import MONEY_TYPES, Delivery, Router
from kalshi_sync.models import Fill, Ticker


@pytest.mark.parametrize("mode", ["thread", "poll"])
def test_a_fill_survives_an_overflow(mode: Any) -> None:
    """max_queue=3, a fill queued first then 10 tickers: the tickers are dropped oldest
    first, the fill is delivered (first, as it was oldest) and not counted as dropped."""
    router = Router()
    seen: list[Any] = []
    router.on("*", seen.append)
    d = Delivery(router, mode=mode, max_queue=3)
    fill = Fill(type="fill", trade_id="t-1")
    d.put(fill)
    for n in range(10):
        d.put(Ticker(type="ticker", market_ticker=f"M{n}"))
    assert d.dropped == 7
    if mode == "thread":
        d.start()
        assert d.flush(5)
        assert d.stop(5)
    else:
        d.poll()
    assert seen[0] is fill
    data = [m for m in seen if m.type == "ticker"]
    assert [m.market_ticker for m in data] == ["M7", "M8", "M9"]
    assert [m for m in seen if m.type == "fill"] == [fill]


def test_money_types_are_the_private_messages() -> None:
    """The exempt types are exactly the account's messages."""
    assert {"fill", "user_order", "market_position", "order_group_updates"} == MONEY_TYPES
