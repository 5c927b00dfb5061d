"""Decoders for the trading and portfolio REST answers: JSON objects -> :mod:`kalshi_sync.account`.

Rules, as for the WebSocket decoders: a field that is missing, null or ``""`` decodes to None
(a fill, order or position is never dropped for a missing field); a field of the wrong JSON
type (a count that is a list, a flag that is a string) is a ``ProtocolError``, because guessing
about money is worse than stopping. Money and counts become ``Decimal`` from strings or JSON
numbers (the transport parses JSON numbers as Decimal, never float). No I/O, no state.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from .account import (
    Balance,
    CancelAck,
    ExchangeIndexStatus,
    ExchangeStatus,
    HistoricalCutoff,
    Order,
    OrderAck,
    Position,
    ShardBalance,
)
from .errors import ProtocolError
from .models import Fill

__all__ = [
    "error_fields",
    "parse_balance",
    "parse_cancel_ack",
    "parse_cutoff",
    "parse_exchange_status",
    "parse_fill",
    "parse_order",
    "parse_order_ack",
    "parse_position",
    "rfc3339_ms",
]

_Body = Mapping[str, Any]
_CENTS = Decimal(100)
# RFC 3339 with any fraction length (Kalshi trims trailing zeros) and Z or an offset.
_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|z|[+-]\d\d:?\d\d)?"
)
# The Fill model is shared with the WebSocket side and may grow fields; only the ones it
# declares are passed, so a REST fill always constructs.
_FILL_FIELDS = frozenset(field.name for field in attrs.fields(Fill))
_FILL_KEYS = ("market_ticker", "yes_price", "count")


def _dump(value: object) -> str:
    return json.dumps(value, default=str)[:200]


def _present(body: _Body, key: str) -> Any:
    value = body.get(key)
    return None if value is None or value == "" else value


def _decimal(body: _Body, *keys: str) -> Decimal | None:
    """The first of ``keys`` that is present, as a Decimal; None when none is."""
    for key in keys:
        value = _present(body, key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
            raise ProtocolError(f"'{key}' is not a number: {_dump(value)}", frame=_dump(body))
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ProtocolError(
                f"'{key}' is not a number: {value!r:.60}", frame=_dump(body)
            ) from None
        if not number.is_finite():
            raise ProtocolError(f"'{key}' is not finite: {value!r}", frame=_dump(body))
        return number
    return None


def _text(body: _Body, key: str) -> str | None:
    value = _present(body, key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"'{key}' is not a string: {_dump(value)}", frame=_dump(body))
    return value


def _int(body: _Body, key: str) -> int | None:
    value = _present(body, key)
    if value is None:
        return None
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)  # a JSON number like 1.0, parsed as Decimal
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"'{key}' is not an integer: {_dump(value)}", frame=_dump(body))
    return value


def _bool(body: _Body, key: str) -> bool | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ProtocolError(f"'{key}' is not a boolean: {_dump(value)}", frame=_dump(body))
    return value


def _object(value: object, what: str) -> _Body:
    if not isinstance(value, Mapping):
        raise ProtocolError(f"{what} is not a JSON object: {_dump(value)}")
    return value


def rfc3339_ms(text: str | None) -> int | None:
    """Unix milliseconds of an RFC 3339 timestamp, or None when absent or unparseable."""
    if not text:
        return None
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    tz = _dt.timezone.utc
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        tz = _dt.timezone(sign * _dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        stamp = _dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=tz
        )
    except ValueError:
        return None
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    return int(stamp.timestamp()) * 1000 + millis


def parse_order_ack(body: _Body) -> OrderAck:
    """A create / amend / decrease answer (also one ``batched`` item)."""
    order_id = _text(body, "order_id")
    if order_id is None:
        raise ProtocolError("order answer has no 'order_id'", frame=_dump(body))
    return OrderAck(
        order_id=order_id,
        client_order_id=_text(body, "client_order_id"),
        fill_count=_decimal(body, "fill_count", "fill_count_fp"),
        remaining_count=_decimal(body, "remaining_count", "remaining_count_fp"),
        average_fill_price=_decimal(body, "average_fill_price", "average_fill_price_dollars"),
        average_fee_paid=_decimal(body, "average_fee_paid", "average_fee_paid_dollars"),
        ts_ms=_int(body, "ts_ms"),
        raw=dict(body),
    )


def ack_from_order(order: Order) -> OrderAck:
    """An OrderAck rebuilt from an order found by its client_order_id (a lost create answer)."""
    return OrderAck(
        order_id=order.order_id,
        client_order_id=order.client_order_id,
        fill_count=order.fill_count,
        remaining_count=order.remaining_count,
        ts_ms=order.created_ts_ms,
        from_lookup=True,
        raw=order.raw,
    )


def parse_cancel_ack(body: _Body) -> CancelAck:
    """A cancel answer (also one ``batched`` cancel item)."""
    order_id = _text(body, "order_id")
    if order_id is None:
        raise ProtocolError("cancel answer has no 'order_id'", frame=_dump(body))
    return CancelAck(
        order_id=order_id,
        client_order_id=_text(body, "client_order_id"),
        reduced_by=_decimal(body, "reduced_by", "reduced_by_fp"),
        ts_ms=_int(body, "ts_ms"),
        raw=dict(body),
    )


def parse_order(raw: object, *, historical: bool = False) -> Order:
    """One Order object; ``historical`` marks one read from ``/historical/orders``."""
    body = _object(raw, "order")
    order_id = _text(body, "order_id")
    if order_id is None:
        # An order without its id cannot be cancelled or matched to fills: a broken answer.
        raise ProtocolError("order has no 'order_id'", frame=_dump(body))
    created = _text(body, "created_time")
    updated = _text(body, "last_update_time")
    expires = _text(body, "expiration_time")
    return Order(
        order_id=order_id,
        ticker=_text(body, "ticker"),
        client_order_id=_text(body, "client_order_id"),
        user_id=_text(body, "user_id"),
        status=_text(body, "status"),
        type=_text(body, "type"),
        outcome_side=_text(body, "outcome_side"),
        book_side=_text(body, "book_side"),
        side=_text(body, "side"),
        action=_text(body, "action"),
        yes_price=_decimal(body, "yes_price_dollars"),
        no_price=_decimal(body, "no_price_dollars"),
        fill_count=_decimal(body, "fill_count_fp", "fill_count"),
        remaining_count=_decimal(body, "remaining_count_fp", "remaining_count"),
        initial_count=_decimal(body, "initial_count_fp", "initial_count"),
        taker_fill_cost=_decimal(body, "taker_fill_cost_dollars"),
        maker_fill_cost=_decimal(body, "maker_fill_cost_dollars"),
        taker_fees=_decimal(body, "taker_fees_dollars"),
        maker_fees=_decimal(body, "maker_fees_dollars"),
        self_trade_prevention_type=_text(body, "self_trade_prevention_type"),
        last_update_reason=_text(body, "last_update_reason"),
        order_group_id=_text(body, "order_group_id"),
        cancel_order_on_pause=_bool(body, "cancel_order_on_pause"),
        subaccount_number=_int(body, "subaccount_number"),
        exchange_index=_int(body, "exchange_index"),
        created_time=created,
        created_ts_ms=rfc3339_ms(created),
        last_update_time=updated,
        last_update_ts_ms=rfc3339_ms(updated),
        expiration_time=expires,
        expiration_ts_ms=rfc3339_ms(expires),
        historical=historical,
        raw=dict(body),
    )


def parse_fill(raw: object) -> Fill:
    """One REST fill as the WebSocket's :class:`~kalshi_sync.models.Fill`.

    ``trade_id`` is the REST ``trade_id`` (Kalshi documents it as the same value as
    ``fill_id``), else ``fill_id``; ``ts`` is Unix seconds and ``ts_ms`` comes from
    ``created_time`` (else ``ts``), so fills from both sources compare on the same fields.
    A fill without its market, price or count is still returned, naming them in ``missing``.
    """
    body = _object(raw, "fill")
    created = _text(body, "created_time")
    ts = _int(body, "ts")
    ts_ms = rfc3339_ms(created)
    if ts_ms is None and ts is not None:
        ts_ms = ts * 1000
    values: dict[str, Any] = {
        "type": "fill",
        "market_ticker": _text(body, "market_ticker") or _text(body, "ticker"),
        "yes_price": _decimal(body, "yes_price_dollars", "yes_price_fixed", "price_dollars"),
        "no_price": _decimal(body, "no_price_dollars", "no_price_fixed"),
        "count": _decimal(body, "count_fp", "count"),
        "trade_id": _text(body, "trade_id") or _text(body, "fill_id"),
        "fill_id": _text(body, "fill_id"),
        "order_id": _text(body, "order_id"),
        "client_order_id": _text(body, "client_order_id"),
        "exchange_index": _int(body, "exchange_index"),
        "is_taker": _bool(body, "is_taker"),
        "side": _text(body, "side"),
        "action": _text(body, "action"),
        "purchased_side": _text(body, "purchased_side"),
        "outcome_side": _text(body, "outcome_side"),
        "book_side": _text(body, "book_side"),
        "fee_cost": _decimal(body, "fee_cost", "fee_cost_dollars"),
        "subaccount": _int(body, "subaccount_number"),
        "created_time": created,
        "ts": ts,
        "ts_ms": ts_ms,
        "raw": dict(body),
    }
    # The fields a fill normally carries, named when absent, as the WebSocket decoder does.
    values["missing"] = tuple(key for key in _FILL_KEYS if values[key] is None)
    return Fill(**{key: value for key, value in values.items() if key in _FILL_FIELDS})


def parse_position(raw: object) -> Position:
    """One ``market_positions`` entry."""
    body = _object(raw, "market position")
    return Position(
        ticker=_text(body, "ticker") or _text(body, "market_ticker"),
        position=_decimal(body, "position_fp", "position"),
        exchange_index=_int(body, "exchange_index"),
        total_traded=_decimal(body, "total_traded_dollars"),
        market_exposure=_decimal(body, "market_exposure_dollars"),
        realized_pnl=_decimal(body, "realized_pnl_dollars"),
        fees_paid=_decimal(body, "fees_paid_dollars"),
        last_updated_ts=_text(body, "last_updated_ts"),
        raw=dict(body),
    )


def _cents_or_dollars(body: _Body, dollars_key: str, cents_key: str) -> Decimal | None:
    dollars = _decimal(body, dollars_key)
    if dollars is not None:
        return dollars
    cents = _decimal(body, cents_key)
    return None if cents is None else cents / _CENTS


def parse_balance(body: _Body) -> Balance:
    """``GET /portfolio/balance``: cents converted to dollars; per-shard breakdown kept.

    A breakdown entry's ``balance`` is a dollar string on the current wire; a JSON integer
    there is read as cents, the unit of every integer money field of the older wire.
    """
    shards: list[ShardBalance] = []
    breakdown = body.get("balance_breakdown")
    breakdown = [] if breakdown is None else breakdown
    if not isinstance(breakdown, list):
        raise ProtocolError("'balance_breakdown' is not a list", frame=_dump(body))
    for raw in breakdown:
        entry = _object(raw, "balance_breakdown entry")
        value = entry.get("balance")
        amount = _decimal(entry, "balance")
        if amount is not None and isinstance(value, int):
            amount = amount / _CENTS
        shards.append(ShardBalance(exchange_index=_int(entry, "exchange_index"), balance=amount))
    return Balance(
        balance=_cents_or_dollars(body, "balance_dollars", "balance"),
        portfolio_value=_cents_or_dollars(body, "portfolio_value_dollars", "portfolio_value"),
        updated_ts=_int(body, "updated_ts"),
        shards=tuple(shards),
        raw=dict(body),
    )


def parse_exchange_status(body: _Body) -> ExchangeStatus:
    """``GET /exchange/status`` with one entry per ``exchange_index_statuses`` element."""
    raw_indexes = body.get("exchange_index_statuses")
    raw_indexes = [] if raw_indexes is None else raw_indexes
    if not isinstance(raw_indexes, list):
        raise ProtocolError("'exchange_index_statuses' is not a list", frame=_dump(body))
    indexes = []
    for raw in raw_indexes:
        entry = _object(raw, "exchange_index_statuses entry")
        indexes.append(
            ExchangeIndexStatus(
                exchange_index=_int(entry, "exchange_index"),
                description=_text(entry, "description"),
                exchange_active=_bool(entry, "exchange_active"),
                trading_active=_bool(entry, "trading_active"),
                intra_exchange_transfers_active=_bool(entry, "intra_exchange_transfers_active"),
            )
        )
    return ExchangeStatus(
        exchange_active=_bool(body, "exchange_active"),
        trading_active=_bool(body, "trading_active"),
        intra_exchange_transfers_active=_bool(body, "intra_exchange_transfers_active"),
        exchange_estimated_resume_time=_text(body, "exchange_estimated_resume_time"),
        indexes=tuple(indexes),
        raw=dict(body),
    )


def parse_cutoff(body: _Body) -> HistoricalCutoff:
    """``GET /historical/cutoff``."""
    trades = _text(body, "trades_created_ts")
    orders = _text(body, "orders_updated_ts")
    markets = _text(body, "market_settled_ts")

    def seconds(text: str | None) -> int | None:
        millis = rfc3339_ms(text)
        return None if millis is None else millis // 1000

    return HistoricalCutoff(
        trades_created_ts=trades,
        orders_updated_ts=orders,
        market_settled_ts=markets,
        trades_created=seconds(trades),
        orders_updated=seconds(orders),
        market_settled=seconds(markets),
        raw=dict(body),
    )


def error_fields(text: str) -> tuple[str | None, str | None]:
    """(code, message) of an error body in any of Kalshi's shapes, else (None, None).

    Documented: ``{"code", "message"}``; seen on the wire: the same nested under ``"error"``;
    and a 429's ``{"error": "too many requests"}``.
    """
    try:
        body = json.loads(text, parse_float=Decimal)
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    nested = body.get("error")
    if isinstance(nested, dict):
        body = nested
    elif isinstance(nested, str) and "message" not in body:
        return None, nested
    code = body.get("code")
    message = body.get("message")
    return (
        str(code) if code is not None and code != "" else None,
        str(message) if message is not None and message != "" else None,
    )
