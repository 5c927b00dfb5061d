"""Per-type decoders behind :func:`kalshi_sync.protocol.decode`: the ``_DECODERS`` table mapping
each wire ``type`` to one callable, and the control-reply decoders. A decoder takes the parsed
envelope and its ``type``, returns a model and raises :class:`_Invalid` on a field that fails
validation; framing, the ProtocolError contract and the encoders stay in
:mod:`kalshi_sync.protocol`. The field getters live in :mod:`kalshi_sync._decode_fields`, the
slot-writing decoder builder and the order book fast path in :mod:`kalshi_sync._decode_slots`.
No I/O, no state, no threads.

Missing is not invalid: a field that is absent, ``null`` or ``""`` decodes to None, and a
message is never refused for it. Each type names its key fields (:class:`_Key`, e.g. a
fill's market, price and count); the decoder records the ones that came out None in the
message's ``missing`` slot, in field order, so the pipeline can count partial messages with
one attribute test. A key field of the wrong JSON type is still :class:`_Invalid`. The
import fails if a data type of the channel table (:mod:`kalshi_sync._channels`) has no
decoder here.
"""

from __future__ import annotations

from typing import Any

from kalshi_sync._channels import CHANNEL_OF_TYPE
from kalshi_sync._decode_fields import (
    _CENTI_CENTS,
    _Body,
    _bool,
    _contracts,
    _Decoder,
    _dollars,
    _envelope_int,
    _Field,
    _first_str,
    _int,
    _ints,
    _Invalid,
    _key,
    _key_str,
    _kind,
    _mve_legs,
    _obj,
    _optional_payload,
    _plain_dec,
    _price_ranges,
    _sending_ts_ms,
    _str,
    _str_tuple,
    _str_tuple_getter,
    _strs,
)
from kalshi_sync._decode_slots import (
    _decoder,
    _orderbook_delta,
    _orderbook_delta_checked,
    _orderbook_snapshot,
)
from kalshi_sync.models import (
    CfbenchmarksIndexList,
    CfbenchmarksValue,
    EventFeeUpdate,
    EventLifecycle,
    Fill,
    MarketLifecycle,
    MarketPosition,
    Message,
    MultivariateMarketLifecycle,
    Ok,
    OrderGroupUpdate,
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

# Re-exported for kalshi_sync.protocol (decode's error contract) and the tests.
__all__ = ["_DECODERS", "_Invalid", "_kind", "_orderbook_delta_checked", "_unknown"]


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


# Every data type the channel table lists decodes to a typed class: a channel row added
# without its decoder fails the import, not a user's first frame of it.
_undecoded = set(CHANNEL_OF_TYPE) - set(_DECODERS)
if _undecoded:
    raise TypeError(f"no decoder for channel message types {sorted(_undecoded)}")
