"""Input checks of the fake exchange's matching engine (400 ``invalid_parameters``).

Prices are YES prices strictly inside (0, 1) on a $0.0001 grid; counts are positive on a
0.01-contract grid (docs/trading.md, "Common rules"). A refusal is an
:class:`~kalshi_sync.testing._orders.EngineError` and happens before anything changes.
"""

from __future__ import annotations

from decimal import Decimal

from ._orders import ONE, STP_TYPES, TIME_IN_FORCE, ZERO, EngineError, Side

__all__ = ["check_count", "check_create", "check_price"]

_PRICE_TICK = Decimal("0.0001")
_COUNT_TICK = Decimal("0.01")


def _bad(message: str) -> EngineError:
    return EngineError(400, "invalid_parameters", message)


def check_price(price: Decimal) -> None:
    if not price.is_finite() or not ZERO < price < ONE or price % _PRICE_TICK:
        raise _bad(f"price must be inside (0, 1) on a 0.0001 grid, got {price}")


def check_count(count: Decimal, name: str, *, allow_zero: bool = False) -> None:
    low_ok = count >= 0 if allow_zero else count > 0
    if not count.is_finite() or not low_ok or count % _COUNT_TICK:
        raise _bad(f"{name} must be a positive multiple of 0.01, got {count}")


def check_create(
    side: str,
    price: Decimal,
    count: Decimal,
    time_in_force: str,
    stp: str,
    post_only: bool,
    reduce_only: bool,
    expiration_time: int | None,
    now_ms: int,
) -> Side:
    """Validate a create; returns ``side`` typed as a V2 book side."""
    if side not in ("bid", "ask"):
        raise _bad(f"side must be 'bid' or 'ask', got {side!r}")
    check_price(price)
    check_count(count, "count")
    if time_in_force not in TIME_IN_FORCE:
        raise _bad(f"unknown time_in_force {time_in_force!r}")
    if stp not in STP_TYPES:
        raise _bad(f"unknown self_trade_prevention_type {stp!r}")
    if reduce_only and time_in_force != "immediate_or_cancel":
        raise _bad("reduce_only needs time_in_force immediate_or_cancel")
    if post_only and time_in_force != "good_till_canceled":
        raise _bad("post_only needs time_in_force good_till_canceled")
    if expiration_time is not None:
        if time_in_force != "good_till_canceled":
            raise _bad("expiration_time needs time_in_force good_till_canceled")
        if expiration_time * 1000 <= now_ms:
            raise _bad("expiration_time is in the past")
    return "bid" if side == "bid" else "ask"
