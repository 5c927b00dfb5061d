"""Pieces of the market simulator: one market's statistics, a read of its book, messages.

The book is never mirrored: every step reads the server's one book (which also holds users'
orders) and the market's own anonymous liquidity, so users trading against the simulated
market can never make the simulator's picture drift. Prices are Decimal dollars on the
0.01 grid; counts are Decimal contracts (users may leave fractional remainders).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from ._books import format_count, format_price, market_id_for

__all__ = ["CENT", "ONE", "BookRead", "SimMarket", "ceiling_below", "cents", "ticker_msg"]

CENT = Decimal("0.01")
ONE = Decimal(1)
ZERO = Decimal(0)

Levels = dict[Decimal, Decimal]


def cents(c: int) -> Decimal:
    """Integer cents as Decimal dollars (``42`` -> ``0.42``)."""
    return Decimal(c) / 100


def ceiling_below(other_best: Decimal | None) -> Decimal:
    """The highest bid on the 0.01 grid that does not cross ``other_best`` (the best bid of
    the other leg, on its own scale): strictly below ``1 - other_best``."""
    if other_best is None:
        return Decimal("0.99")
    return (ONE - other_best).quantize(CENT, rounding=ROUND_CEILING) - CENT


@dataclass
class BookRead:
    """One market's book as read at the start of a step: every resting contract (``yes``,
    ``no``) and the simulator's own anonymous ones (``own_yes``, ``own_no``)."""

    yes: Levels
    no: Levels
    own_yes: Levels
    own_no: Levels

    def side(self, name: str) -> Levels:
        return self.yes if name == "yes" else self.no

    def own(self, name: str) -> Levels:
        return self.own_yes if name == "yes" else self.own_no

    def best(self, name: str) -> Decimal | None:
        levels = self.side(name)
        return max(levels) if levels else None

    def top(self) -> tuple[Decimal | None, Decimal, Decimal | None, Decimal]:
        """(best yes bid, its size, best yes ask, its size)."""
        by, bn = self.best("yes"), self.best("no")
        return (
            by,
            self.yes[by] if by is not None else ZERO,
            None if bn is None else ONE - bn,
            self.no[bn] if bn is not None else ZERO,
        )


class SimMarket:
    """One market's simulated state besides its book: fair value and trading statistics."""

    def __init__(self, ticker: str, fair: int) -> None:
        self.ticker = ticker
        self.market_id = market_id_for(ticker)
        self.fair = fair  # tenths of a cent, 50..950
        self.last_price: Decimal | None = None
        self.last_size = ZERO
        self.volume = ZERO
        self.open_interest = 0
        self.dollar_volume = 0
        self.paused = False
        self.close_ts = 0

    def record_trade(self, yes_price: Decimal, size: Decimal) -> None:
        self.last_price, self.last_size = yes_price, size
        self.volume += size
        self.dollar_volume += int((size * yes_price).to_integral_value(ROUND_FLOOR))


def ticker_msg(m: SimMarket, book: BookRead, now: float) -> dict[str, Any]:
    """The market's current ``ticker`` message (every field, as Kalshi sends it)."""
    by, by_size, ask, ask_size = book.top()
    return {
        "market_id": m.market_id,
        "market_ticker": m.ticker,
        "price_dollars": "" if m.last_price is None else format_price(m.last_price),
        "yes_bid_dollars": format_price(by if by is not None else ZERO),
        "yes_ask_dollars": format_price(ask if ask is not None else ONE),
        "volume_fp": format_count(m.volume),
        "open_interest_fp": format_count(Decimal(m.open_interest)),
        "dollar_volume": m.dollar_volume,
        "dollar_open_interest": m.open_interest // 2,
        "yes_bid_size_fp": format_count(by_size),
        "yes_ask_size_fp": format_count(ask_size),
        "last_trade_size_fp": format_count(m.last_size),
        "ts": int(now),
        "ts_ms": int(now * 1000),
    }
