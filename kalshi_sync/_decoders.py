"""Per-type decoders behind :func:`kalshi_sync.protocol.decode`, one callable per wire ``type``:
the field getters (Decimals with the legacy-unit fallback, typed scalars, string lists), the
import-time plans that fill a model's slots directly (:func:`_decoder`, :func:`_plan`,
:func:`_slot_setter`), the hand-written ``orderbook_delta`` fast path, the control-reply
decoders and the ``_DECODERS`` table mapping each ``type`` to its decoder. A decoder takes the
parsed envelope and its ``type``, returns a model and raises :class:`_Invalid` on a field that
fails validation; framing, the ProtocolError contract and the encoders stay in
:mod:`kalshi_sync.protocol`. No I/O, no state, no threads.

Missing is not invalid: a field that is absent, ``null`` or ``""`` decodes to None, and a
message is never refused for it. Each type names its key fields (:class:`_Key`, e.g. a
fill's market, price and count); the decoder records the ones that came out None in the
message's ``missing`` slot, in field order, so the pipeline can count partial messages with
one attribute test. A key field of the wrong JSON type is still :class:`_Invalid`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import attrs

from kalshi_sync.models import (
    CfbenchmarksIndexList,
    CfbenchmarksValue,
    EventFeeUpdate,
    EventLifecycle,
    Fill,
    Level,
    MarketLifecycle,
    MarketPosition,
    Message,
    MultivariateMarketLifecycle,
    MveLeg,
    Ok,
    OrderbookDelta,
    OrderbookSnapshot,
    OrderGroupUpdate,
    PriceRange,
    PythUnderlyingList,
    PythValue,
    QuoteAccepted,
    QuoteCreated,
    QuoteExecuted,
    RfqCreated,
    RfqDeleted,
    ServerError,
    Subscribed,
    SubscriptionInfo,
    Ticker,
    Trade,
    UnknownMessage,
    Unsubscribed,
    UserOrder,
)

_Body = dict[str, Any]
_Getter = Callable[[_Body], Any]
_Field = tuple[str, _Getter]
_Decoder = Callable[[_Body, str], Message]

# Decimal exponents of the legacy integer units (docs/protocol.md, 'Fixed-point values').
_CENTS = -2
_CENTI_CENTS = -4


class _Invalid(Exception):
    """A field failed validation. decode() re-raises it as ProtocolError carrying the frame."""


def _kind(value: Any) -> str:
    return type(value).__name__


# --- field conversion ----------------------------------------------------------------------


def _to_decimal(value: Any, key: str, exp: int) -> Decimal | None:
    """``value`` (decimal string or JSON number) as a Decimal times 10**exp; ``""`` -> None."""
    kind = type(value)
    if kind is str:
        if not value:
            return None  # the wire sends "" for "no value yet" (ticker price before a trade)
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise _Invalid(f"field {key!r} is not a decimal string: {value[:40]!r}") from None
    elif kind is int:
        number = Decimal(value)
    elif kind is float:
        # Drift: a JSON float where a string or int is expected. repr() is the shortest text
        # that round-trips, so 0.1 becomes Decimal("0.1") and not the binary expansion.
        number = Decimal(repr(value))
    else:
        raise _Invalid(f"field {key!r} must be a decimal string or a number, got {_kind(value)}")
    if not number.is_finite():
        raise _Invalid(f"field {key!r} is not a finite number: {value!r}")
    # scaleb shifts the exponent only: exact, no context rounding.
    return number.scaleb(exp) if exp else number


def _dec(key: str, legacy: str | None = None, exp: int = 0) -> _Getter:
    """Getter for a Decimal from ``key``, or when absent from the ``legacy`` field in 10**exp.
    Absent, null and ``""`` are None; any other non-number is :class:`_Invalid` (a guessed
    number is worse than none)."""

    def get(body: _Body) -> Decimal | None:
        number: Decimal | None
        value = body.get(key)
        if type(value) is str and value:
            # Inline fast path for the current form; _to_decimal handles the rest and errors.
            try:
                fast: Decimal | None = Decimal(value)
            except InvalidOperation:
                fast = None
            ok = fast is not None and fast.is_finite()
            number = fast if ok else _to_decimal(value, key, 0)
        elif value is not None:
            number = _to_decimal(value, key, 0)
        elif legacy is not None and body.get(legacy) is not None:
            number = _to_decimal(body[legacy], legacy, exp)
        else:
            number = None
        return number

    return get


def _typed(kind: type, what: str) -> Callable[..., _Getter]:
    def factory(key: str, *, strict: bool = False) -> _Getter:
        def get(body: _Body) -> Any:
            value = body.get(key)
            if type(value) is kind:
                return value
            if strict and value is not None:
                raise _Invalid(f"field {key!r} must be {what}, got {_kind(value)}")
            return None  # optional and drifted: the value stays in .raw

        return get

    return factory


def _str(key: str, *, strict: bool = False) -> _Getter:
    """Getter for a string; ``""`` is None like an absent key. ``strict``: another JSON type
    is :class:`_Invalid` (key fields), else None with the value left in ``.raw``."""

    def get(body: _Body) -> str | None:
        value = body.get(key)
        if type(value) is str:
            return value or None
        if strict and value is not None:
            raise _Invalid(f"field {key!r} must be a string, got {_kind(value)}")
        return None

    return get


_int = _typed(int, "an integer")
_bool = _typed(bool, "a boolean")
_obj = _typed(dict, "an object")


def _absent(value: Any) -> bool:
    """Missing in the wire's sense: absent, null or ``""`` (never an error)."""
    return value is None or value == ""


def _str_tuple(body: _Body, key: str) -> tuple[str, ...] | None:
    value = body.get(key)
    if _absent(value):
        return None
    if type(value) is list and all(type(item) is str for item in value):
        return tuple(value)
    raise _Invalid(f"field {key!r} must be a list of strings")


def _str_tuple_getter(key: str) -> _Getter:
    return lambda body: _str_tuple(body, key) or ()


def _strs(*keys: str) -> tuple[_Field, ...]:
    return tuple((key, _str(key)) for key in keys)


def _ints(*keys: str) -> tuple[_Field, ...]:
    return tuple((key, _int(key)) for key in keys)


def _dollars(name: str, legacy_exp: int = _CENTS) -> _Field:
    """``name`` from ``name_dollars``, else the legacy integer ``name`` in 10**legacy_exp $."""
    return name, _dec(f"{name}_dollars", name, legacy_exp)


def _contracts(name: str) -> _Field:
    """``name`` from ``name_fp``, else the legacy integer ``name`` (whole contracts)."""
    return name, _dec(f"{name}_fp", name, 0)


class _Key(NamedTuple):
    """A key field: decoded like any other, and named in ``missing`` when it comes out None."""

    name: str
    get: _Getter


def _key(field: _Field) -> _Key:
    return _Key(*field)


def _key_str(name: str, key: str | None = None) -> _Key:
    """A string key field, strict about its JSON type."""
    return _Key(name, _str(key or name, strict=True))


def _plain_dec(name: str) -> _Field:
    """A Decimal field with no unit suffix (``fee_cost``, ``settlement_value``...): same unit
    whether the wire sends a string or a number."""
    return name, _dec(name)


def _envelope_int(env: _Body, key: str) -> int | None:
    value = env.get(key)
    if value is None or type(value) is int:
        return value
    raise _Invalid(f"envelope {key!r} must be an integer, got {_kind(value)}")


def _sending_ts_ms(env: _Body) -> int | None:
    """The envelope's ``sending_ts_ms``: informational, so a drifted type is None (the value
    stays in ``.raw``) rather than the loss of the whole frame."""
    value = env.get("sending_ts_ms")
    return value if type(value) is int else None


def _payload(env: _Body) -> _Body:
    """``msg`` as an object; absent or null is ``{}`` (every field missing, the message still
    decodes and says so in ``missing``); any other JSON type is :class:`_Invalid`."""
    body = env.get("msg")
    if type(body) is dict:
        return body
    if body is None:
        return {}
    raise _Invalid(f"'msg' must be an object, got {_kind(body)}")


_optional_payload = _payload  # control replies: ``msg`` may be absent or ``{}`` too


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
                p, c = Decimal(price), Decimal(count)
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
            price = Decimal(price_text)
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


# --- nested structures ---------------------------------------------------------------------


def _price_ranges(body: _Body) -> tuple[PriceRange, ...] | None:
    ranges = body.get("price_ranges")
    if _absent(ranges):
        return None
    if type(ranges) is not list or not all(type(item) is dict for item in ranges):
        raise _Invalid("field 'price_ranges' must be a list of objects")
    get_start, get_end, get_step = (_dec(k) for k in ("start", "end", "step"))
    return tuple(PriceRange(start=get_start(r), end=get_end(r), step=get_step(r)) for r in ranges)


_LEG_FIELDS: tuple[_Field, ...] = (
    *_strs("event_ticker", "market_ticker", "side"),
    ("yes_settlement_value", _dec("yes_settlement_value_dollars")),
)


def _mve_legs(body: _Body) -> tuple[MveLeg, ...] | None:
    legs = body.get("mve_selected_legs")
    if _absent(legs):
        return None
    if type(legs) is not list or not all(type(item) is dict for item in legs):
        raise _Invalid("field 'mve_selected_legs' must be a list of objects")
    return tuple(MveLeg(**{name: get(leg) for name, get in _LEG_FIELDS}) for leg in legs)


# --- control replies -----------------------------------------------------------------------


def _int_in(body: _Body, env: _Body, key: str) -> int | None:
    """``msg.key``, else top-level ``key``: the server has used both placements."""
    return _envelope_int(body, key) if body.get(key) is not None else _envelope_int(env, key)


def _subscribed(env: _Body, type_: str) -> Message:
    body = _optional_payload(env)
    sid = _int_in(body, env, "sid")
    if sid is None:
        raise _Invalid("required field 'sid' is missing (looked in msg and the envelope)")
    channel = body.get("channel", env.get("channel"))
    return Subscribed(
        type=type_,
        sid=sid,
        seq=_envelope_int(env, "seq"),
        sending_ts_ms=_sending_ts_ms(env),
        raw=env,
        id=_envelope_int(env, "id"),
        channel=channel if type(channel) is str else "",
    )


def _unsubscribed(env: _Body, type_: str) -> Message:
    body = _optional_payload(env)
    return Unsubscribed(
        type=type_,
        sid=_int_in(body, env, "sid"),
        seq=_envelope_int(env, "seq"),
        sending_ts_ms=_sending_ts_ms(env),
        raw=env,
        id=_envelope_int(env, "id"),
    )


def _subscription_rows(rows: Any) -> tuple[SubscriptionInfo, ...]:
    if type(rows) is not list:
        raise _Invalid("the subscription list must be an array")
    out = []
    for row in rows:
        if type(row) is not dict or type(row.get("channel")) is not str:
            raise _Invalid("each subscription must be an object with a string 'channel'")
        sid = row.get("sid")
        if type(sid) is not int:
            raise _Invalid(f"subscription 'sid' must be an integer, got {_kind(sid)}")
        out.append(SubscriptionInfo(channel=row["channel"], sid=sid))
    return tuple(out)


def _ok(env: _Body, type_: str) -> Message:
    body = env.get("msg")
    subscriptions = None
    if type(body) is list:  # list_subscriptions reply, current form
        subscriptions = _subscription_rows(body)
        body = {}
    elif body is None:
        body = {}
    elif type(body) is not dict:
        raise _Invalid(f"'msg' must be an object or an array, got {_kind(body)}")
    if subscriptions is None:
        for container in (env, body):  # legacy key "subscriptions" (Jan 2026)
            if container.get("subscriptions") is not None:
                subscriptions = _subscription_rows(container["subscriptions"])
                break
        else:
            if type_ == "list_subscriptions":
                subscriptions = ()

    def either(key: str) -> tuple[str, ...] | None:
        # Under msg since Feb 2026, top level before (docs/protocol.md, 'update_subscription').
        found = _str_tuple(body, key)
        return found if found is not None else _str_tuple(env, key)

    return Ok(
        type="ok",
        sid=_envelope_int(env, "sid"),
        seq=_envelope_int(env, "seq"),
        sending_ts_ms=_sending_ts_ms(env),
        raw=env,
        id=_envelope_int(env, "id"),
        market_tickers=either("market_tickers"),
        market_ids=either("market_ids"),
        subscriptions=subscriptions,
        index_ids=either("index_ids"),
        underlying_tickers=either("underlying_tickers"),
    )


def _error(env: _Body, type_: str) -> Message:
    body = _optional_payload(env)
    code = _int_in(body, env, "code")
    if code is None:
        raise _Invalid("required field 'code' is missing")
    message = body.get("msg")
    return ServerError(
        type=type_,
        sid=_envelope_int(env, "sid"),
        seq=_envelope_int(env, "seq"),
        sending_ts_ms=_sending_ts_ms(env),
        raw=env,
        id=_envelope_int(env, "id"),
        code=code,
        message=message if type(message) is str else "",
        market_ticker=_str("market_ticker")(body),
        market_tickers=_str_tuple(body, "market_tickers"),
        market_id=_str("market_id")(body),
    )


def _unknown(env: _Body, type_: str) -> Message:
    return UnknownMessage(
        type=type_,
        sid=_envelope_int(env, "sid"),
        seq=_envelope_int(env, "seq"),
        sending_ts_ms=_sending_ts_ms(env),
        raw=env,
        msg=env.get("msg"),
    )


# --- data messages -------------------------------------------------------------------------

_LIFECYCLE_FIELDS: tuple[_Field, ...] = (
    _key_str("market_ticker"),
    _key_str("event_type"),
    *_ints("exchange_index", "open_ts", "close_ts", "determination_ts", "settled_ts"),
    ("is_deactivated", _bool("is_deactivated")),
    *_strs("result", "price_level_structure", "strike_type", "yes_sub_title"),
    *map(_plain_dec, ("settlement_value", "floor_strike", "cap_strike")),
    ("additional_metadata", _obj("additional_metadata")),
    ("custom_strike", _obj("custom_strike")),
    ("price_ranges", _price_ranges),
)

_RFQ_FIELDS: tuple[_Field, ...] = (
    _key_str("id"),
    *_strs("creator_id", "market_ticker", "event_ticker", "mve_collection_ticker"),
    _contracts("contracts"),
    _dollars("target_cost", _CENTI_CENTS),
    ("mve_selected_legs", _mve_legs),
)

_QUOTE_FIELDS: tuple[_Field, ...] = (
    _key_str("quote_id"),
    _key_str("rfq_id"),
    *_strs("quote_creator_id", "rfq_creator_id", "market_ticker", "event_ticker"),
    ("subaccount", _int("subaccount")),
)


def _first_str(*keys: str) -> _Getter:
    """The first of ``keys`` that holds a non-empty string: for fields the server renamed."""

    def get(body: _Body) -> str | None:
        for key in keys:
            value = body.get(key)
            if type(value) is str and value:
                return value
        return None

    return get


_DECODERS: dict[str, _Decoder] = {
    "orderbook_delta": _orderbook_delta,
    "orderbook_snapshot": _orderbook_snapshot,
    "ticker": _decoder(
        Ticker,
        _key_str("market_ticker"),
        *_strs("market_id", "time"),
        *map(_dollars, ("price", "yes_bid", "yes_ask", "no_bid")),
        *map(_contracts, ("volume", "open_interest")),
        *map(_contracts, ("yes_bid_size", "yes_ask_size", "last_trade_size")),
        *_ints("dollar_volume", "dollar_open_interest", "ts", "ts_ms"),
    ),
    "trade": _decoder(
        Trade,
        _key_str("market_ticker"),
        _key(_dollars("yes_price")),
        _key(_contracts("count")),
        _dollars("no_price"),
        *_strs("trade_id", "taker_side", "taker_outcome_side", "taker_book_side"),
        ("is_block_trade", _bool("is_block_trade")),
        *_ints("ts", "ts_ms"),
    ),
    "fill": _decoder(
        Fill,
        _key_str("market_ticker"),
        _key(_dollars("yes_price")),
        _key(_contracts("count")),
        _dollars("no_price"),
        *_strs("trade_id", "order_id", "client_order_id", "side", "action", "purchased_side"),
        *_strs("outcome_side", "book_side"),
        ("is_taker", _bool("is_taker")),
        _plain_dec("fee_cost"),
        _contracts("post_position"),
        *_ints("exchange_index", "subaccount", "ts", "ts_ms"),
    ),
    "market_position": _decoder(
        MarketPosition,
        _key_str("market_ticker"),
        _key(_contracts("position")),
        ("user_id", _str("user_id")),
        # Legacy money fields here were centi-cents (1/10,000 USD), not cents
        # (docs/protocol.md, 'Fixed-point values').
        *(_dollars(n, _CENTI_CENTS) for n in ("position_cost", "realized_pnl", "fees_paid")),
        _dollars("position_fee_cost", _CENTI_CENTS),
        _contracts("volume"),
        ("subaccount", _int("subaccount")),
    ),
    "user_order": _decoder(
        UserOrder,
        _key_str("order_id"),
        _key_str("ticker"),
        *_strs("user_id", "client_order_id", "order_group_id", "status", "side"),
        *_strs("outcome_side", "book_side", "self_trade_prevention_type", "last_update_reason"),
        *_strs("created_time", "last_updated_time", "expiration_time"),
        ("is_yes", _bool("is_yes")),
        *_ints("exchange_index", "subaccount_number"),
        *_ints("created_ts_ms", "last_updated_ts_ms", "expiration_ts_ms"),
        *map(_dollars, ("yes_price", "no_price")),
        *map(_contracts, ("fill_count", "remaining_count", "initial_count")),
        # Legacy cost/fee integers assumed cents, as on the REST order object (unverified).
        *map(_dollars, ("taker_fill_cost", "maker_fill_cost", "taker_fees", "maker_fees")),
    ),
    "order_group_updates": _decoder(
        OrderGroupUpdate,
        _key_str("event_type"),
        _key_str("order_group_id"),
        _contracts("contracts_limit"),
        ("ts_ms", _int("ts_ms")),
    ),
    "market_lifecycle_v2": _decoder(MarketLifecycle, *_LIFECYCLE_FIELDS),
    "multivariate_market_lifecycle": _decoder(MultivariateMarketLifecycle, *_LIFECYCLE_FIELDS),
    "event_lifecycle": _decoder(
        EventLifecycle,
        _key_str("event_ticker"),
        ("subtitle", _first_str("subtitle", "sub_title")),  # renamed Jan 2026
        *_strs("title", "collateral_return_type", "series_ticker", "strike_period"),
        *_ints("strike_date", "exchange_index"),
    ),
    "event_fee_update": _decoder(
        EventFeeUpdate,
        _key_str("event_ticker"),
        ("fee_type_override", _str("fee_type_override")),
        _plain_dec("fee_multiplier_override"),
    ),
    "rfq_created": _decoder(RfqCreated, *_RFQ_FIELDS, ("created_ts", _str("created_ts"))),
    "rfq_deleted": _decoder(RfqDeleted, *_RFQ_FIELDS, ("deleted_ts", _str("deleted_ts"))),
    "quote_created": _decoder(
        QuoteCreated,
        *_QUOTE_FIELDS,
        *map(_dollars, ("yes_bid", "no_bid")),
        *map(_contracts, ("yes_contracts_offered", "no_contracts_offered")),
        _dollars("rfq_target_cost", _CENTI_CENTS),  # legacy unit assumed as target_cost's
        ("created_ts", _str("created_ts")),
    ),
    "quote_accepted": _decoder(
        QuoteAccepted,
        *_QUOTE_FIELDS,
        *map(_dollars, ("yes_bid", "no_bid")),
        ("accepted_side", _str("accepted_side")),
        _contracts("contracts_accepted"),
    ),
    "quote_executed": _decoder(
        QuoteExecuted, *_QUOTE_FIELDS, *_strs("order_id", "client_order_id", "executed_ts")
    ),
    "subscribed": _subscribed,
    "unsubscribed": _unsubscribed,
    "ok": _ok,
    "list_subscriptions": _ok,
    "error": _error,
}

_CFB_FIELDS: tuple[_Field, ...] = (
    _key_str("index_id"),
    _plain_dec("value_usd"),
    *_ints("source_ts_ms", "received_at"),
    ("data", _str("data")),
    *((key, _obj(key)) for key in ("avg_60s_data", "last_60s_windowed_average_15min")),
)
for _feed in ("cfbenchmarks_value", "cfbenchmarks_value_5hz"):
    _DECODERS[_feed] = _decoder(CfbenchmarksValue, *_CFB_FIELDS)
    _DECODERS[f"{_feed}_indexlist"] = _decoder(
        CfbenchmarksIndexList, ("index_ids", _str_tuple_getter("index_ids")), envelope_id=True
    )
_DECODERS["pyth_value"] = _decoder(
    PythValue,
    _key_str("underlying_ticker"),
    _plain_dec("value_usd"),
    *_ints("source_ts_ms", "received_at"),
)
_DECODERS["pyth_value_underlying_list"] = _decoder(
    PythUnderlyingList,
    ("underlying_tickers", _str_tuple_getter("underlying_tickers")),
    envelope_id=True,
)
