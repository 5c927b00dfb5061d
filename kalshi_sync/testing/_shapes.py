"""JSON shapes of the fake exchange's records: REST bodies and WebSocket ``msg`` objects.

REST shapes follow docs/trading.md, "Portfolio reads"; WebSocket shapes follow
docs/protocol.md, "Private channels" (``fill``, ``user_orders``, ``market_positions``) and
"Trade channel" (current field names: ``*_dollars`` money strings, ``*_fp`` count strings,
``ts_ms`` milliseconds).
Prices are 4-decimal strings; costs, fees and averages use 6 decimals when 4 would lose
digits (never rounding: the engine's amounts have at most 6). Pure functions.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from ._books import format_count, format_price
from ._orders import Fill, OrderState, PositionState, Trade

__all__ = [
    "money",
    "rest_fill",
    "rest_order",
    "rest_position",
    "rfc3339",
    "user_id_for",
    "ws_fill",
    "ws_position",
    "ws_trade",
    "ws_user_order",
]

_USER_NS = uuid.UUID("0b7e4c1e-8f55-4d0a-a2c6-6b616c736875")


def user_id_for(owner: str) -> str:
    """A stable fake user UUID for an API key id (Kalshi reports a user id, not the key)."""
    return str(uuid.uuid5(_USER_NS, owner))


def money(value: Decimal, places: int = 4) -> str:
    """Dollars with at least ``places`` decimals, 6 when needed to stay exact."""
    exponent = value.normalize().as_tuple().exponent
    needed = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return f"{value:.{max(places, min(needed, 6))}f}"


def rfc3339(ts_ms: int) -> str:
    """Epoch milliseconds as RFC 3339 UTC with millisecond precision."""
    moment = datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z"


def _order_common(o: OrderState, exchange_index: int) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "order_id": o.order_id,
        "user_id": user_id_for(o.owner or ""),
        "ticker": o.ticker,
        "exchange_index": exchange_index,
        "status": o.status,
        "outcome_side": o.outcome_side,
        "book_side": o.side,
        "yes_price_dollars": format_price(o.price),
        "no_price_dollars": format_price(o.no_price),
        "fill_count_fp": format_count(o.fill_count),
        "remaining_count_fp": format_count(o.remaining_count),
        "initial_count_fp": format_count(o.initial_count),
        "taker_fill_cost_dollars": money(o.taker_fill_cost, 6),
        "maker_fill_cost_dollars": money(o.maker_fill_cost, 6),
        "taker_fees_dollars": money(o.taker_fees, 6),
        "maker_fees_dollars": money(o.maker_fees, 6),
        "self_trade_prevention_type": o.self_trade_prevention_type,
        "subaccount_number": o.subaccount,
    }
    if o.client_order_id is not None:
        msg["client_order_id"] = o.client_order_id
    if o.order_group_id is not None:
        msg["order_group_id"] = o.order_group_id
    if o.last_update_reason is not None:
        msg["last_update_reason"] = o.last_update_reason
    return msg


def rest_order(o: OrderState, exchange_index: int) -> dict[str, Any]:
    """The REST ``Order`` object (``GET /portfolio/orders[/{id}]``)."""
    msg = _order_common(o, exchange_index)
    msg.update(
        type="limit",
        side=o.outcome_side,  # deprecated; the leg the order buys
        action="buy",  # deprecated; a V2 order always buys its own leg
        created_time=rfc3339(o.created_ts_ms),
        last_update_time=rfc3339(o.last_update_ts_ms),
        cancel_order_on_pause=o.cancel_order_on_pause,
    )
    if o.expiration_time is not None:
        msg["expiration_time"] = rfc3339(o.expiration_time * 1000)
    return msg


def ws_user_order(o: OrderState, exchange_index: int) -> dict[str, Any]:
    """The ``msg`` of a ``user_order`` message (the market field is ``ticker``)."""
    msg = _order_common(o, exchange_index)
    msg.update(
        side=o.outcome_side,
        is_yes=o.outcome_side == "yes",
        created_time=rfc3339(o.created_ts_ms),
        created_ts_ms=o.created_ts_ms,
        last_updated_ts_ms=o.last_update_ts_ms,
    )
    if o.expiration_time is not None:
        msg["expiration_time"] = rfc3339(o.expiration_time * 1000)
        msg["expiration_ts_ms"] = o.expiration_time * 1000
    return msg


def rest_fill(f: Fill, exchange_index: int) -> dict[str, Any]:
    """The REST ``Fill`` object (``GET /portfolio/fills``); ``ts`` in seconds."""
    return {
        "fill_id": f.fill_id,
        "trade_id": f.trade_id,
        "order_id": f.order_id,
        "ticker": f.ticker,
        "market_ticker": f.ticker,
        "exchange_index": exchange_index,
        "outcome_side": f.outcome_side,
        "book_side": f.side,
        "count_fp": format_count(f.count),
        "yes_price_dollars": format_price(f.yes_price),
        "no_price_dollars": format_price(f.no_price),
        "is_taker": f.is_taker,
        "fee_cost": money(f.fee_cost, 6),
        "created_time": rfc3339(f.ts_ms),
        "ts": f.ts_ms // 1000,
        "subaccount_number": f.subaccount,
        "side": f.outcome_side,
        "action": "buy",
    }


def ws_fill(f: Fill, exchange_index: int) -> dict[str, Any]:
    """The ``msg`` of a ``fill`` message."""
    msg: dict[str, Any] = {
        "trade_id": f.trade_id,
        "order_id": f.order_id,
        "market_ticker": f.ticker,
        "exchange_index": exchange_index,
        "is_taker": f.is_taker,
        "side": f.outcome_side,
        "action": "buy",
        "purchased_side": f.outcome_side,
        "outcome_side": f.outcome_side,
        "book_side": f.side,
        "yes_price_dollars": format_price(f.yes_price),
        "count_fp": format_count(f.count),
        "fee_cost": money(f.fee_cost, 6),
        "post_position_fp": format_count(f.post_position),
        "subaccount": f.subaccount,
        "ts": f.ts_ms // 1000,
        "ts_ms": f.ts_ms,
    }
    if f.client_order_id is not None:
        msg["client_order_id"] = f.client_order_id
    return msg


def ws_position(p: PositionState) -> dict[str, Any]:
    """The ``msg`` of a ``market_position`` message (cost named ``position_cost``)."""
    return {
        "user_id": user_id_for(p.owner),
        "market_ticker": p.ticker,
        "position_fp": format_count(p.position),
        "position_cost_dollars": money(p.position_cost),
        "realized_pnl_dollars": money(p.realized_pnl),
        "fees_paid_dollars": money(p.fees_paid),
        "position_fee_cost_dollars": money(p.position_fee_cost),
        "volume_fp": format_count(p.volume),
        "subaccount": p.subaccount,
    }


def rest_position(p: PositionState, exchange_index: int) -> dict[str, Any]:
    """The REST ``MarketPosition`` (cost named ``market_exposure``)."""
    return {
        "ticker": p.ticker,
        "exchange_index": exchange_index,
        "position_fp": format_count(p.position),
        "total_traded_dollars": money(p.total_traded),
        "market_exposure_dollars": money(p.position_cost),
        "realized_pnl_dollars": money(p.realized_pnl),
        "fees_paid_dollars": money(p.fees_paid),
        "last_updated_ts": rfc3339(p.last_updated_ts_ms),
    }


def ws_trade(t: Trade) -> dict[str, Any]:
    """The ``msg`` of a public ``trade`` message."""
    return {
        "trade_id": t.trade_id,
        "market_ticker": t.ticker,
        "yes_price_dollars": format_price(t.yes_price),
        "no_price_dollars": format_price(t.no_price),
        "count_fp": format_count(t.count),
        "taker_side": t.taker_outcome_side,  # deprecated
        "taker_outcome_side": t.taker_outcome_side,
        "taker_book_side": t.taker_side,
        "is_block_trade": False,
        "ts": t.ts_ms // 1000,
        "ts_ms": t.ts_ms,
    }
