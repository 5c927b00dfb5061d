"""Order book truth for :class:`~kalshi_sync.testing.FakeKalshiServer` (pure, no I/O).

Books are kept in Kalshi's wire convention: the ``yes`` side holds YES bids at yes prices,
the ``no`` side holds NO bids at *no-leg* prices. Translation to the yes scale for
subscriptions made with ``use_yes_price`` happens only when formatting frames, so one
book serves every subscriber whatever flag they used.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

__all__ = [
    "BookStore",
    "Level",
    "NumberLike",
    "delta_msg",
    "format_count",
    "format_price",
    "market_id_for",
    "to_decimal",
]

NumberLike = str | Decimal | int
Level = tuple[NumberLike, NumberLike]

_ONE = Decimal(1)
# A fixed namespace so a ticker maps to the same market_id in every run and every server.
_MARKET_NS = uuid.UUID("6c0a3f4e-3f5e-4c38-9d4c-6b616c736869")


def to_decimal(value: NumberLike) -> Decimal:
    """Convert a price or count to Decimal; floats are refused so tests stay exact."""
    if isinstance(value, bool | float):
        raise TypeError(f"use str, Decimal or int for prices and counts, not {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str):
        return Decimal(value)
    raise TypeError(f"use str, Decimal or int for prices and counts, not {value!r}")


def format_price(price: Decimal) -> str:
    """Dollar price as the wire's 4-decimal string (``"0.4200"``)."""
    return f"{price:.4f}"


def format_count(count: Decimal) -> str:
    """Contract count as the wire's signed 2-decimal string (``"13.00"``, ``"-3.00"``)."""
    return f"{count:.2f}"


def market_id_for(ticker: str) -> str:
    """A stable, fake market UUID for a ticker (the real exchange assigns one per market)."""
    return str(uuid.uuid5(_MARKET_NS, ticker))


def _side_levels(levels: dict[Decimal, Decimal], flip: bool) -> list[list[str]]:
    """Levels as ``[[price, count], ...]`` ascending by (reported) price."""
    pairs = [((_ONE - p) if flip else p, c) for p, c in levels.items()]
    pairs.sort(key=lambda pc: pc[0])
    return [[format_price(p), format_count(c)] for p, c in pairs]


class BookStore:
    """Per-market books. Not thread-safe: the server calls it under its own lock."""

    def __init__(self) -> None:
        # ticker -> (yes levels, no levels), both price -> resting contracts.
        self._books: dict[str, tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]] = {}

    def _get(self, ticker: str) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        book = self._books.get(ticker)
        if book is None:
            book = ({}, {})
            self._books[ticker] = book
        return book

    def set_book(self, ticker: str, yes: Iterable[Level], no: Iterable[Level]) -> None:
        """Replace both sides; levels with a count <= 0 are left out."""
        sides: list[dict[Decimal, Decimal]] = []
        for levels in (yes, no):
            side: dict[Decimal, Decimal] = {}
            for price, count in levels:
                p, c = to_decimal(price), to_decimal(count)
                if c > 0:
                    side[p] = c
            sides.append(side)
        self._books[ticker] = (sides[0], sides[1])

    def copy(self, ticker: str) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        """Copies of (yes, no); empty dicts for a market never set."""
        yes, no = self._books.get(ticker, ({}, {}))
        return dict(yes), dict(no)

    def apply_delta(self, ticker: str, side: str, price: Decimal, delta: Decimal) -> None:
        """``level += delta``; a level at or below zero is removed (the client rule too)."""
        if side not in ("yes", "no"):
            raise ValueError(f"side must be 'yes' or 'no', not {side!r}")
        levels = self._get(ticker)[0 if side == "yes" else 1]
        new = levels.get(price, Decimal(0)) + delta
        if new > 0:
            levels[price] = new
        else:
            levels.pop(price, None)

    def snapshot_msg(self, ticker: str, *, use_yes_price: bool) -> dict[str, Any]:
        """The ``msg`` of an ``orderbook_snapshot``; an empty side's key is absent."""
        yes, no = self._books.get(ticker, ({}, {}))
        msg: dict[str, Any] = {"market_ticker": ticker, "market_id": market_id_for(ticker)}
        if yes:
            msg["yes_dollars_fp"] = _side_levels(yes, flip=False)
        if no:
            msg["no_dollars_fp"] = _side_levels(no, flip=use_yes_price)
        return msg


def delta_msg(
    ticker: str,
    side: str,
    price: Decimal,
    delta: Decimal,
    *,
    use_yes_price: bool,
    ts_ms: int,
    client_order_id: str | None,
) -> dict[str, Any]:
    """The ``msg`` of an ``orderbook_delta`` as one subscriber should see it."""
    reported = (_ONE - price) if (use_yes_price and side == "no") else price
    msg: dict[str, Any] = {
        "market_ticker": ticker,
        "market_id": market_id_for(ticker),
        "price_dollars": format_price(reported),
        "delta_fp": format_count(delta),
        "side": side,
        "ts_ms": ts_ms,
    }
    if client_order_id is not None:
        msg["client_order_id"] = client_order_id
    return msg
