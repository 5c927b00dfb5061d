"""Decoders that write a model's slots directly: the table-driven :func:`_decoder` (its plan is
built from ``attrs.fields()`` at import time) and the order book decoders, including the
hand-written ``orderbook_delta`` fast path. Used by the per-type table in
:mod:`kalshi_sync._decoders`; the field getters are in :mod:`kalshi_sync._decode_fields`.
No I/O, no state, no threads.

Completeness is checked at import: a model field with neither a getter nor a constant
default, a getter for a field the model lacks, or a field added to ``OrderbookDelta`` that the
fast path does not set all fail the import with TypeError.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from kalshi_sync._decode_fields import (
    _CENTS,
    _absent,
    _Body,
    _dec,
    _Decoder,
    _envelope_int,
    _Field,
    _Getter,
    _ints,
    _Invalid,
    _Key,
    _key_str,
    _payload,
    _str,
    _strs,
    _to_decimal,
)
from kalshi_sync.models import Level, Message, OrderbookDelta, OrderbookSnapshot

# Construction bypasses the attrs-generated __init__: a frozen class's __init__ goes through
# object.__setattr__ per field, which measured at twice the cost of calling the slot
# descriptors directly (about 0.7 us saved per orderbook_delta). The plan is built from
# attrs.fields() at import time, so a field added to a model is either decoded or set to its
# default -- never left unset -- and a required field without a decoder fails the import.
_new = object.__new__
_Setter = Callable[[Any, Any], None]


def _slot_setter(cls: type, name: str) -> _Setter:
    for klass in cls.__mro__:
        slot = klass.__dict__.get(name)
        if slot is not None and hasattr(slot, "__set__"):
            return slot.__set__  # type: ignore[no-any-return]
    raise TypeError(f"{cls.__name__}.{name} is not a slot")  # models must stay slotted


# Prices come from a small grid (0.0001 to 0.9999 at most), and a book keys its levels by
# price: the same few price strings arrive again and again. Reusing one Decimal per string
# skips the parse (~0.4 us) and, because a Decimal caches its hash, the hash that every
# dict lookup in the book would otherwise compute afresh (~0.6 us). Decimals are immutable,
# so sharing them is safe; only finite values are kept, and the table is bounded (cleared
# when full) so odd input cannot grow it.
_PRICES: dict[str, Decimal] = {}
_PRICES_MAX = 4096


def _price(text: str) -> Decimal:
    """``Decimal(text)`` for a price string, from the table when it has been seen before.
    Raises InvalidOperation like ``Decimal()``; a non-finite value is returned, not kept."""
    price = _PRICES.get(text)
    if price is None:
        price = Decimal(text)
        if price.is_finite():
            if len(_PRICES) >= _PRICES_MAX:
                _PRICES.clear()
            _PRICES[text] = price
    return price


_ENVELOPE_ORDER = ("type", "sid", "seq", "sending_ts_ms", "raw", "missing")
_set_type, _set_sid, _set_seq, _set_sending_ts_ms, _set_raw, _set_missing = (
    _slot_setter(Message, name) for name in _ENVELOPE_ORDER
)

_Plan = tuple[
    tuple[tuple[_Setter, _Getter, str], ...],
    tuple[tuple[_Setter, _Getter], ...],
    tuple[tuple[_Setter, Any], ...],
]


def _plan(cls: type[Message], fields: Sequence[_Field], skip: frozenset[str]) -> _Plan:
    """(setter, getter, name) for every key field, (setter, getter) for the other decoded
    fields and (setter, default) for the rest, each in the model's field order."""
    getters = dict(fields)
    keys = {field[0] for field in fields if isinstance(field, _Key)}
    decoded_keys, decoded, defaults = [], [], []
    for field in attrs.fields(cls):
        if field.name in skip:
            continue
        setter = _slot_setter(cls, field.name)
        if field.name in keys:
            decoded_keys.append((setter, getters.pop(field.name), field.name))
        elif field.name in getters:
            decoded.append((setter, getters.pop(field.name)))
        elif field.default is attrs.NOTHING or isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            raise TypeError(f"{cls.__name__}.{field.name}: no decoder and no constant default")
        else:
            defaults.append((setter, field.default))
    if getters:
        raise TypeError(f"{cls.__name__} has no fields {sorted(getters)}")
    return tuple(decoded_keys), tuple(decoded), tuple(defaults)


_ENVELOPE_FIELDS = frozenset(_ENVELOPE_ORDER)


def _decoder(cls: type[Message], *fields: _Field, envelope_id: bool = False) -> _Decoder:
    """A table-driven decoder: each field is (attribute, getter over ``msg``); key fields
    (:class:`_Key`) that decode to None are listed in ``missing``."""
    keys, decoded, defaults = _plan(
        cls, fields, _ENVELOPE_FIELDS | ({"id"} if envelope_id else set())
    )
    set_id = _slot_setter(cls, "id") if envelope_id else None

    def decode_one(env: _Body, type_: str) -> Message:
        sid = _envelope_int(env, "sid")  # envelope first: its errors are the more telling
        seq = _envelope_int(env, "seq")
        body = _payload(env)
        sending_ts_ms = env.get("sending_ts_ms")  # inline _sending_ts_ms(): once per frame
        message = _new(cls)
        _set_type(message, type_)
        _set_sid(message, sid)
        _set_seq(message, seq)
        _set_sending_ts_ms(message, sending_ts_ms if type(sending_ts_ms) is int else None)
        _set_raw(message, env)
        if set_id is not None:
            set_id(message, _envelope_int(env, "id"))
        missing: tuple[str, ...] = ()
        for setter, get, name in keys:
            value = get(body)
            if value is None:
                missing += (name,)
            setter(message, value)
        _set_missing(message, missing)
        for setter, get in decoded:
            setter(message, get(body))
        for setter, default in defaults:
            setter(message, default)
        return message

    return decode_one


# --- orderbook -----------------------------------------------------------------------------


def _levels(levels: Any, key: str, price_exp: int) -> tuple[Level, ...] | None:
    """The levels of one side; None when a level lacks its price or count (the side cannot
    be applied: guessing the level would corrupt the book)."""
    if type(levels) is not list:
        raise _Invalid(f"field {key!r} must be a list of [price, count] levels")
    out: list[Level] = []
    append = out.append
    unusable = False
    for level in levels:
        if type(level) is not list or len(level) != 2:
            raise _Invalid(f"field {key!r}: each level must be a [price, count] pair")
        price, count = level
        if not price_exp and type(price) is str and type(count) is str:
            # Fast path for the current ["0.0800", "300.00"] form; snapshots can be 10k levels.
            try:
                p, c = _price(price), Decimal(count)
            except InvalidOperation:
                pass  # the general path below reports it
            else:
                if p.is_finite() and c.is_finite():
                    append((p, c))
                    continue
        p_or_none = None if price is None else _to_decimal(price, key, price_exp)
        c_or_none = None if count is None else _to_decimal(count, key, 0)
        if p_or_none is None or c_or_none is None:
            unusable = True  # keep going: a wrong type later in the side is still reported
            continue
        append((p_or_none, c_or_none))
    return None if unusable else tuple(out)


# Newest first: yes_dollars_fp (strings), legacy yes_dollars (dollar str, int count), yes (cents).
_SIDE_KEYS = {
    side: ((f"{side}_dollars_fp", 0), (f"{side}_dollars", 0), (side, _CENTS))
    for side in ("yes", "no")
}


def _side(body: _Body, side: str) -> tuple[Level, ...] | None:
    for key, price_exp in _SIDE_KEYS[side]:
        levels = body.get(key)
        if not _absent(levels):
            return _levels(levels, key, price_exp)
    return ()  # the server omits an empty side: an empty side, not a missing one


_orderbook_snapshot = _decoder(
    OrderbookSnapshot,
    _key_str("market_ticker"),
    ("market_id", _str("market_id")),
    _Key("yes", lambda body: _side(body, "yes")),
    _Key("no", lambda body: _side(body, "no")),
    envelope_id=True,  # set when the snapshot answers a get_snapshot command
)


_orderbook_delta_checked = _decoder(
    OrderbookDelta,
    _key_str("market_ticker"),
    _Key("price", _dec("price_dollars", "price", _CENTS)),
    _Key("delta", _dec("delta_fp", "delta", 0)),
    _key_str("side"),
    *_strs("market_id", "client_order_id", "ts"),
    *_ints("subaccount", "ts_ms"),
)


# The fast path below sets exactly these slots; the import fails if a field is added to
# OrderbookDelta without teaching the fast path about it.
_DELTA_FIELDS: tuple[str, ...] = (
    *("market_ticker", "price", "delta", "side"),
    *("market_id", "client_order_id", "subaccount", "ts", "ts_ms"),
)
if tuple(f.name for f in attrs.fields(OrderbookDelta)) != (*_ENVELOPE_ORDER, *_DELTA_FIELDS):
    raise TypeError("OrderbookDelta fields changed: update _decoders._orderbook_delta")
(
    _set_ticker,
    _set_price,
    _set_delta,
    _set_side,
    _set_market_id,
    _set_client_order_id,
    _set_subaccount,
    _set_ts,
    _set_ts_ms,
) = (_slot_setter(OrderbookDelta, name) for name in _DELTA_FIELDS)


def _orderbook_delta(env: _Body, type_: str) -> Message:
    """The hot path (100k frames/s). Handles the well-formed current frame with direct key
    access and ``type(x) is`` checks; anything unusual (legacy fields, missing sid, a missing
    or drifted field, garbage) falls through to the table-driven decoder, which gives the same
    result for valid frames and precise errors for invalid ones."""
    try:
        body = env["msg"]
        sid = env["sid"]
        seq = env["seq"]
        ticker = body["market_ticker"]
        side = body["side"]
        price_text = body["price_dollars"]
        delta_text = body["delta_fp"]
        if (
            type(sid) is int
            and type(seq) is int
            and type(ticker) is str
            and type(side) is str
            and type(price_text) is str
            and type(delta_text) is str
            and ticker
            and side
        ):
            price = _price(price_text)
            delta = Decimal(delta_text)
            get = body.get
            market_id = get("market_id")
            client_order_id = get("client_order_id")
            subaccount = get("subaccount")
            ts = get("ts")
            ts_ms = get("ts_ms")
            if (
                price.is_finite()
                and delta.is_finite()
                and (market_id is None or type(market_id) is str)
                and (client_order_id is None or type(client_order_id) is str)
                and (subaccount is None or type(subaccount) is int)
                and (ts is None or type(ts) is str)
                and (ts_ms is None or type(ts_ms) is int)
            ):
                sending_ts_ms = env.get("sending_ts_ms")
                message = _new(OrderbookDelta)
                _set_type(message, type_)
                _set_sid(message, sid)
                _set_seq(message, seq)
                _set_sending_ts_ms(message, sending_ts_ms if type(sending_ts_ms) is int else None)
                _set_raw(message, env)
                _set_missing(message, ())
                _set_ticker(message, ticker)
                _set_price(message, price)
                _set_delta(message, delta)
                _set_side(message, side)
                # "" means "none" for the optional strings, as in the checked decoder.
                _set_market_id(message, market_id or None)
                _set_client_order_id(message, client_order_id or None)
                _set_subaccount(message, subaccount)
                _set_ts(message, ts or None)
                _set_ts_ms(message, ts_ms)
                return message
    except (KeyError, TypeError, InvalidOperation):
        pass  # not the common shape: the checked decoder decides
    return _orderbook_delta_checked(env, type_)
