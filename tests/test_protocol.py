"""The sans-I/O codec: control replies, errors, drift tolerance, encoders, property tests."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_sync import _decoders
from kalshi_sync.errors import ProtocolError
from kalshi_sync.models import (
    Message,
    Ok,
    OrderbookDelta,
    OrderbookSnapshot,
    ServerError,
    Subscribed,
    SubscriptionInfo,
    Ticker,
    Trade,
    UnknownMessage,
    Unsubscribed,
)
from kalshi_sync.protocol import (
    CHANNEL_OF_TYPE,
    CONTROL_TYPES,
    KNOWN_TYPES,
    SEQUENCED_TYPES,
    decode,
    encode_list_subscriptions,
    encode_subscribe,
    encode_unsubscribe,
    encode_update_subscription,
)

D = Decimal


def frame(**envelope: Any) -> bytes:
    return json.dumps(envelope).encode()


# --- control replies ---------------------------------------------------------------------------


def test_subscribed_with_sid_in_msg() -> None:
    """subscribed: the AsyncAPI placement (msg.sid, msg.channel) and the echoed id."""
    msg = decode('{"id": 1, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": 1}}')
    assert msg == Subscribed(type="subscribed", id=1, sid=1, channel="orderbook_delta")


def test_subscribed_with_top_level_sid() -> None:
    """subscribed: the cfbenchmarks page placement (top-level sid, no msg)."""
    msg = decode('{"id":1,"type":"subscribed","sid":1}')
    assert msg == Subscribed(type="subscribed", id=1, sid=1, channel="")


def test_subscribed_prefers_msg_sid() -> None:
    """subscribed: msg.sid wins when both placements are present."""
    msg = decode(frame(id=1, type="subscribed", sid=9, msg={"channel": "ticker", "sid": 2}))
    assert msg.sid == 2


def test_ok_with_tickers_under_msg() -> None:
    """ok after add_markets: market_tickers under msg (Feb 2026 and later)."""
    msg = decode(
        '{"id": 123, "sid": 456, "seq": 222, "type": "ok",'
        ' "msg": {"market_tickers": ["MARKET-1", "MARKET-2", "MARKET-3"]}}'
    )
    assert msg == Ok(
        type="ok", id=123, sid=456, seq=222, market_tickers=("MARKET-1", "MARKET-2", "MARKET-3")
    )
    assert msg.subscriptions is None


def test_ok_with_top_level_tickers() -> None:
    """ok after add_markets: market_tickers at the top level (until Feb 2026)."""
    msg = decode(frame(id=2, sid=1, seq=3, type="ok", market_tickers=["A", "B"]))
    assert isinstance(msg, Ok)
    assert msg.market_tickers == ("A", "B")


def test_ok_without_tickers_when_skip_ticker_ack() -> None:
    """ok with skip_ticker_ack: no lists at all -> None (not an empty tuple)."""
    msg = decode(frame(id=2, sid=1, seq=3, type="ok", msg={}))
    assert isinstance(msg, Ok)
    assert msg.market_tickers is None
    assert msg.market_ids is None


def test_ok_with_market_ids_and_index_ids() -> None:
    """ok carries market_ids (ticker channel) and index_ids (cfbenchmarks filters)."""
    msg = decode(frame(id=2, type="ok", msg={"market_ids": ["u1"], "index_ids": ["BRTI"]}))
    assert isinstance(msg, Ok)
    assert msg.market_ids == ("u1",)
    assert msg.index_ids == ("BRTI",)


def test_list_subscriptions_reply_in_msg_array() -> None:
    """list_subscriptions reply: type ok with the array in msg (current)."""
    msg = decode(
        '{"id": 3, "type": "ok", "msg": [{"channel": "orderbook_delta", "sid": 1},'
        ' {"channel": "ticker", "sid": 2}, {"channel": "fill", "sid": 3}]}'
    )
    assert isinstance(msg, Ok)
    assert msg.id == 3
    assert msg.subscriptions == (
        SubscriptionInfo(channel="orderbook_delta", sid=1),
        SubscriptionInfo(channel="ticker", sid=2),
        SubscriptionInfo(channel="fill", sid=3),
    )


@pytest.mark.parametrize("type_", ["ok", "list_subscriptions"])
def test_list_subscriptions_reply_in_top_level_subscriptions(type_: str) -> None:
    """list_subscriptions reply: top-level subscriptions (Jan 2026), either reply type."""
    msg = decode(frame(id=3, type=type_, subscriptions=[{"channel": "trade", "sid": 7}]))
    assert isinstance(msg, Ok)
    assert msg.type == "ok"
    assert msg.subscriptions == (SubscriptionInfo(channel="trade", sid=7),)


def test_list_subscriptions_empty() -> None:
    """An empty subscription list is () -- distinct from an update ok's None."""
    assert decode(frame(id=3, type="ok", msg=[])).subscriptions == ()  # type: ignore[attr-defined]
    empty_legacy = decode(frame(id=3, type="list_subscriptions"))
    assert empty_legacy.subscriptions == ()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "text",
    [
        '{"id": 124, "sid": 2, "seq": 7, "type": "unsubscribed"}',
        '{"id": 124, "sid": 2, "seq": 7, "type": "unsubscribed", "msg": {}}',
    ],
)
def test_unsubscribed_placements(text: str) -> None:
    """unsubscribed: sid/seq at the top level, with no msg or an empty one."""
    assert decode(text) == Unsubscribed(type="unsubscribed", id=124, sid=2, seq=7)


def test_error_reply() -> None:
    """error: code and message from msg, id echoed (docs/protocol.md, 'Error replies')."""
    msg = decode(
        '{"id": 123, "type": "error", "msg": {"code": 7, "msg": "Unknown subscription ID"}}'
    )
    assert msg == ServerError(type="error", id=123, code=7, message="Unknown subscription ID")


def test_error_reply_optional_fields() -> None:
    """error: market_ticker(s), market_id, sid and seq are carried when present."""
    msg = decode(
        frame(
            type="error",
            sid=4,
            seq=9,
            msg={
                "code": 25,
                "msg": "Subscription buffer overflow",
                "market_ticker": "A",
                "market_tickers": ["A", "B"],
                "market_id": "u",
            },
        )
    )
    assert isinstance(msg, ServerError)
    assert (msg.id, msg.sid, msg.seq, msg.code) == (None, 4, 9, 25)
    assert (msg.market_ticker, msg.market_tickers, msg.market_id) == ("A", ("A", "B"), "u")


def test_error_with_unknown_code_decodes() -> None:
    """error: a code Kalshi adds later still decodes (as a plain int)."""
    msg = decode(frame(type="error", msg={"code": 99, "msg": "new"}))
    assert isinstance(msg, ServerError)
    assert msg.code == 99


def test_get_snapshot_reply_carries_command_id() -> None:
    """A snapshot answering get_snapshot keeps the echoed command id."""
    msg = decode(frame(type="orderbook_snapshot", id=127, sid=1, seq=9, msg={"market_ticker": "A"}))
    assert isinstance(msg, OrderbookSnapshot)
    assert (msg.id, msg.yes, msg.no) == (127, (), ())


# --- drift tolerance ---------------------------------------------------------------------------


def test_unknown_type_becomes_unknown_message() -> None:
    """An unknown type decodes to UnknownMessage with type, sid, seq, msg and raw."""
    env = {"type": "brand_new", "sid": 5, "seq": 6, "msg": {"x": [1, 2]}, "extra": True}
    msg = decode(frame(**env))
    assert msg == UnknownMessage(type="brand_new", sid=5, seq=6, msg={"x": [1, 2]})
    assert msg.raw == env


@pytest.mark.parametrize("type_", ["ticker_v2", "multivariate_lookup", "quote_cancelled"])
def test_removed_types_decode_as_unknown(type_: str) -> None:
    """Types Kalshi removed are UnknownMessage, not errors."""
    assert type(decode(frame(type=type_, sid=1, msg={}))) is UnknownMessage


def test_unknown_fields_are_kept_in_raw() -> None:
    """Unknown fields (envelope and msg) survive in .raw, which is the whole envelope."""
    env = {
        "type": "ticker",
        "sid": 1,
        "future": {"a": 1},
        "msg": {"market_ticker": "A", "Clock": 123, "price_dollars": "0.5"},
    }
    msg = decode(frame(**env))
    assert msg.raw == env
    assert msg.raw["msg"]["Clock"] == 123


def test_empty_price_string_is_none() -> None:
    """A "" price (ticker before the first trade) decodes to None."""
    msg = decode(frame(type="ticker", sid=1, msg={"market_ticker": "A", "price_dollars": ""}))
    assert isinstance(msg, Ticker)
    assert msg.price is None


def test_empty_key_price_is_none_and_partial() -> None:
    """A "" in a key price (trade yes_price) decodes to None and marks the trade partial
    (was: a ProtocolError that dropped the trade)."""
    msg = decode(
        frame(type="trade", msg={"market_ticker": "A", "yes_price_dollars": "", "count_fp": "1"})
    )
    assert isinstance(msg, Trade)
    assert (msg.yes_price, msg.count) == (None, D(1))
    assert msg.missing == ("yes_price",)


def test_missing_optional_fields_are_none() -> None:
    """A minimal ticker decodes with every optional field None (``missing`` is ())."""
    msg = decode(frame(type="ticker", msg={"market_ticker": "A"}))
    assert isinstance(msg, Ticker)
    values = attrs.asdict(msg, recurse=False)
    assert {k for k, v in values.items() if v is not None} == {
        "type",
        "market_ticker",
        "raw",
        "missing",
    }
    assert msg.missing == ()


def test_current_field_wins_over_legacy() -> None:
    """When both forms are present the current *_dollars field is used."""
    msg = decode(
        frame(
            type="trade",
            msg={
                "market_ticker": "A",
                "yes_price_dollars": "0.3600",
                "yes_price": 99,
                "count_fp": "1.00",
                "count": 7,
            },
        )
    )
    assert isinstance(msg, Trade)
    assert (msg.yes_price, msg.count) == (D("0.36"), D(1))


def test_drifted_optional_scalar_is_none_and_kept_in_raw() -> None:
    """An optional scalar whose type drifted (ts as text) is None; the value stays in raw."""
    msg = decode(frame(type="ticker", msg={"market_ticker": "A", "ts": "2026-01-01T00:00:00Z"}))
    assert isinstance(msg, Ticker)
    assert msg.ts is None
    assert msg.raw["msg"]["ts"] == "2026-01-01T00:00:00Z"


def test_float_money_is_converted_via_repr() -> None:
    """A JSON float in a money field becomes Decimal(repr(x)): 0.1 -> Decimal("0.1")."""
    msg = decode(
        b'{"type":"fill","msg":{"market_ticker":"A","yes_price_dollars":0.1,'
        b'"count_fp":3.3,"fee_cost":0.07}}'
    )
    assert (msg.yes_price, msg.count, msg.fee_cost) == (D("0.1"), D("3.3"), D("0.07"))  # type: ignore[attr-defined]
    assert all(type(v) is Decimal for v in (msg.yes_price, msg.count, msg.fee_cost))  # type: ignore[attr-defined]


def test_delta_optional_fields() -> None:
    """orderbook_delta carries client_order_id and subaccount when our order caused it."""
    msg = decode(
        frame(
            type="orderbook_delta",
            sid=1,
            seq=2,
            msg={
                "market_ticker": "A",
                "price_dollars": "0.4200",
                "delta_fp": "3.00",
                "side": "no",
                "client_order_id": "c1",
                "subaccount": 0,
            },
        )
    )
    assert isinstance(msg, OrderbookDelta)
    assert (msg.client_order_id, msg.subaccount, msg.side) == ("c1", 0, "no")


def test_delta_without_sid_uses_checked_path() -> None:
    """A delta without sid/seq (not the hot shape) still decodes, with sid None."""
    msg = decode(
        frame(
            type="orderbook_delta",
            msg={"market_ticker": "A", "price_dollars": "0.42", "delta_fp": "-1", "side": "yes"},
        )
    )
    assert isinstance(msg, OrderbookDelta)
    assert (msg.sid, msg.seq, msg.price) == (None, None, D("0.42"))


def test_snapshot_fp_key_wins_over_legacy_keys() -> None:
    """Snapshot sides: yes_dollars_fp beats yes_dollars beats yes."""
    msg = decode(
        frame(
            type="orderbook_snapshot",
            msg={
                "market_ticker": "A",
                "yes_dollars_fp": [["0.1000", "1.00"]],
                "yes_dollars": [["0.2", 2]],
                "yes": [[30, 3]],
                "no": [[40, 4]],
            },
        )
    )
    assert isinstance(msg, OrderbookSnapshot)
    assert msg.yes == ((D("0.1"), D(1)),)
    assert msg.no == ((D("0.4"), D(4)),)


# --- ProtocolError cases -----------------------------------------------------------------------

DELTA_MSG = {"market_ticker": "A", "price_dollars": "0.5", "delta_fp": "1", "side": "yes"}

BAD_FRAMES = [
    pytest.param(b"{not json", id="invalid-json"),
    pytest.param(b"", id="empty"),
    pytest.param(b'{"type": "ok", "id": 1}\xff', id="invalid-utf8"),
    pytest.param(b'"\xed\xa0\x80"', id="utf8-surrogate"),
    pytest.param('{"type": "\ud800"}', id="str-lone-surrogate"),
    pytest.param(b"[1, 2]", id="top-level-array"),
    pytest.param(b'"ok"', id="top-level-string"),
    pytest.param(b"null", id="top-level-null"),
    pytest.param(b"1e999", id="infinite-number"),
    pytest.param(b"{}", id="missing-type"),
    pytest.param(b'{"type": 3}', id="int-type"),
    pytest.param(b'{"type": null}', id="null-type"),
    pytest.param(b'{"type": ["ok"]}', id="list-type"),
    pytest.param(frame(type="orderbook_delta", sid=True, seq=1, msg=DELTA_MSG), id="bool-sid"),
    pytest.param(frame(type="orderbook_delta", sid="1", seq=1, msg=DELTA_MSG), id="str-sid"),
    pytest.param(frame(type="orderbook_delta", sid=1, seq=1.0, msg=DELTA_MSG), id="float-seq"),
    pytest.param(frame(type="orderbook_delta", sid=1, seq=False, msg=DELTA_MSG), id="bool-seq"),
    pytest.param(frame(type="brand_new", sid=[1]), id="unknown-type-list-sid"),
    pytest.param(frame(type="orderbook_snapshot", id="x", msg={"market_ticker": "A"}), id="str-id"),
    pytest.param(frame(type="trade", msg=[1]), id="data-msg-array"),
    pytest.param(frame(type="orderbook_delta", sid=1, seq=1, msg="x"), id="delta-msg-string"),
    pytest.param(
        frame(type="orderbook_delta", sid=1, seq=1, msg={**DELTA_MSG, "market_ticker": 5}),
        id="delta-int-ticker",
    ),
    *(
        pytest.param(
            frame(type="orderbook_delta", sid=1, seq=1, msg={**DELTA_MSG, "price_dollars": bad}),
            id=f"delta-price-{name}",
        )
        for name, bad in [
            ("abc", "abc"),
            ("nan", "NaN"),
            ("snan", "sNaN"),
            ("infinity", "Infinity"),
            ("bool", True),
            ("list", ["0.5"]),
            ("object", {"v": "0.5"}),
        ]
    ),
    pytest.param(
        frame(type="orderbook_delta", sid=1, seq=1, msg={**DELTA_MSG, "delta_fp": "-inf"}),
        id="delta-count-inf",
    ),
    pytest.param(
        frame(
            type="orderbook_delta",
            msg={"market_ticker": "A", "side": "yes", "price": "x", "delta": 1},
        ),
        id="delta-legacy-price-garbage",
    ),
    pytest.param(
        frame(type="ticker", msg={"market_ticker": "A", "volume_fp": []}), id="ticker-list-volume"
    ),
    pytest.param(
        frame(type="rfq_created", msg={"id": "r", "mve_selected_legs": ["leg"]}), id="rfq-bad-legs"
    ),
    *(
        pytest.param(
            frame(type="orderbook_snapshot", msg={"market_ticker": "A", "yes_dollars_fp": bad}),
            id=f"snapshot-{name}",
        )
        for name, bad in [
            ("not-list", "x"),
            ("short-level", [["0.1"]]),
            ("long-level", [["0.1", "1", "2"]]),
            ("string-level", ["12"]),
            ("object-level", [{"p": "0.1", "c": "1"}]),
            ("bool-price", [[True, "1"]]),
            ("nan-count", [["0.1", "NaN"]]),
        ]
    ),
    pytest.param(
        frame(type="orderbook_snapshot", msg={"market_ticker": "A", "yes": [[8, "x"]]}),
        id="snapshot-legacy-garbage-count",
    ),
    pytest.param(frame(type="subscribed", id=1, msg={"channel": "ticker"}), id="subscribed-no-sid"),
    pytest.param(frame(type="subscribed", id=1, msg={"sid": "1"}), id="subscribed-str-sid"),
    pytest.param(frame(type="subscribed", id=1, msg=[1]), id="subscribed-msg-array"),
    pytest.param(frame(type="ok", id=1, msg=[{"channel": "x"}]), id="subs-row-no-sid"),
    pytest.param(frame(type="ok", id=1, msg=[{"sid": 1}]), id="subs-row-no-channel"),
    pytest.param(frame(type="ok", id=1, msg=["x"]), id="subs-row-not-object"),
    pytest.param(frame(type="ok", id=1, subscriptions="x"), id="subs-not-array"),
    pytest.param(frame(type="ok", id=1, msg={"market_tickers": "A"}), id="ok-tickers-bare-string"),
    pytest.param(frame(type="ok", id=1, market_tickers=[1]), id="ok-tickers-not-strings"),
    pytest.param(frame(type="ok", id=1, msg="done"), id="ok-msg-string"),
    pytest.param(frame(type="error", id=1, msg={"msg": "x"}), id="error-no-code"),
    pytest.param(frame(type="error", id=1, msg={"code": "7"}), id="error-str-code"),
    pytest.param(
        frame(type="error", id=1, msg={"code": 7, "market_tickers": "A"}), id="error-bad-tickers"
    ),
]


@pytest.mark.parametrize("data", BAD_FRAMES)
def test_bad_frame_raises_protocol_error(data: bytes | str) -> None:
    """Malformed frames raise ProtocolError (and only it), with a short frame excerpt."""
    with pytest.raises(ProtocolError) as info:
        decode(data)
    assert type(info.value) is ProtocolError
    assert info.value.frame is not None
    assert len(info.value.frame) <= 200


@pytest.mark.parametrize("data", [None, 42, 1.5, ["type"], {"type": "ok"}])
def test_non_text_argument_raises_protocol_error(data: Any) -> None:
    """A non-bytes/str argument is a ProtocolError too (never a TypeError)."""
    with pytest.raises(ProtocolError):
        decode(data)


def test_protocol_error_names_the_field() -> None:
    """The error message says which type and field failed."""
    with pytest.raises(ProtocolError, match=r"orderbook_delta: .*price_dollars"):
        decode(frame(type="orderbook_delta", sid=1, seq=1, msg={**DELTA_MSG, "price_dollars": "x"}))


# Frames that were ProtocolErrors until missing fields stopped costing the message: each now
# decodes, with the absent key fields None and named in ``missing``.
MISSING_FIELD_FRAMES = [
    pytest.param(
        frame(type="orderbook_delta", sid=1, seq=1),
        ("market_ticker", "price", "delta", "side"),
        id="data-missing-msg",
    ),
    pytest.param(
        frame(type="orderbook_delta", sid=1, seq=1, msg={**DELTA_MSG, "side": None}),
        ("side",),
        id="delta-missing-side",
    ),
    pytest.param(
        frame(
            type="orderbook_delta",
            sid=1,
            seq=1,
            msg={"market_ticker": "A", "side": "yes", "delta_fp": "1"},
        ),
        ("price",),
        id="delta-missing-price",
    ),
    pytest.param(
        frame(type="orderbook_delta", sid=1, seq=1, msg={**DELTA_MSG, "price_dollars": ""}),
        ("price",),
        id="delta-price-empty",
    ),
    pytest.param(
        frame(type="trade", msg={"market_ticker": "A", "count_fp": "1"}),
        ("yes_price",),
        id="trade-no-price",
    ),
    pytest.param(
        frame(type="fill", msg={"yes_price_dollars": "0.5", "count_fp": "1"}),
        ("market_ticker",),
        id="fill-no-ticker",
    ),
    pytest.param(
        frame(type="user_order", msg={"order_id": "o"}), ("ticker",), id="user-order-no-ticker"
    ),
    pytest.param(
        frame(type="market_position", msg={"market_ticker": "A"}),
        ("position",),
        id="position-no-position",
    ),
    pytest.param(frame(type="rfq_created", msg={"market_ticker": "A"}), ("id",), id="rfq-no-id"),
    pytest.param(
        frame(type="quote_accepted", msg={"quote_id": "q"}), ("rfq_id",), id="quote-no-rfq-id"
    ),
    pytest.param(
        frame(type="order_group_updates", msg={"event_type": "created"}),
        ("order_group_id",),
        id="og-no-id",
    ),
    pytest.param(
        frame(type="market_lifecycle_v2", msg={"market_ticker": "A"}),
        ("event_type",),
        id="lc-no-event-type",
    ),
    pytest.param(
        frame(type="event_lifecycle", msg={"title": "t"}), ("event_ticker",), id="event-no-ticker"
    ),
    pytest.param(
        frame(type="pyth_value", msg={"value_usd": "1"}),
        ("underlying_ticker",),
        id="pyth-no-ticker",
    ),
    pytest.param(frame(type="cfbenchmarks_value", msg={}), ("index_id",), id="cfb-no-index"),
    pytest.param(
        frame(
            type="market_lifecycle_v2",
            msg={"market_ticker": "A", "event_type": "created", "price_ranges": [{"start": "0"}]},
        ),
        (),  # the range keeps its start; end and step are None
        id="lc-price-range-incomplete",
    ),
    pytest.param(
        frame(type="orderbook_snapshot", msg={"market_ticker": "A", "yes_dollars_fp": [["", "1"]]}),
        ("yes",),
        id="snapshot-empty-price",
    ),
    pytest.param(
        frame(
            type="orderbook_snapshot", msg={"market_ticker": "A", "no_dollars_fp": [["0.1", None]]}
        ),
        ("no",),
        id="snapshot-null-count",
    ),
]


@pytest.mark.parametrize(("data", "missing"), MISSING_FIELD_FRAMES)
def test_frame_missing_a_key_field_decodes(data: bytes, missing: tuple[str, ...]) -> None:
    """A frame lacking key fields decodes to its class with those fields None and listed."""
    msg = decode(data)
    assert type(msg) is not UnknownMessage
    assert msg.missing == missing
    assert all(getattr(msg, name) is None for name in missing)


# --- encoders ----------------------------------------------------------------------------------


def test_encode_subscribe_exact() -> None:
    """subscribe: id, cmd, params with channels and market_tickers (docs/protocol.md,
    'subscribe')."""
    text = encode_subscribe(
        1, ["orderbook_delta", "ticker"], ["FED-23DEC-T3.00", "CORIVER-2024-T1030"]
    )
    assert isinstance(text, str)
    assert json.loads(text) == {
        "id": 1,
        "cmd": "subscribe",
        "params": {
            "channels": ["orderbook_delta", "ticker"],
            "market_tickers": ["FED-23DEC-T3.00", "CORIVER-2024-T1030"],
        },
    }


def test_encode_subscribe_pass_through_params_and_none_omitted() -> None:
    """subscribe: extra params pass through; None-valued params are left out."""
    text = encode_subscribe(
        7,
        ("orderbook_delta",),
        ("A",),
        use_yes_price=False,
        send_initial_snapshot=True,
        skip_ticker_ack=True,
        shard_factor=None,
        index_ids=("BRTI",),
    )
    assert json.loads(text) == {
        "id": 7,
        "cmd": "subscribe",
        "params": {
            "channels": ["orderbook_delta"],
            "market_tickers": ["A"],
            "use_yes_price": False,
            "send_initial_snapshot": True,
            "skip_ticker_ack": True,
            "index_ids": ["BRTI"],
        },
    }


def test_encode_subscribe_without_markets() -> None:
    """subscribe: no market filter -> no market_tickers key at all."""
    text = encode_subscribe(2, ["communications"], shard_factor=4, shard_key=1)
    assert json.loads(text) == {
        "id": 2,
        "cmd": "subscribe",
        "params": {"channels": ["communications"], "shard_factor": 4, "shard_key": 1},
    }


def test_encode_unsubscribe_exact() -> None:
    """unsubscribe: params.sids (docs/protocol.md, 'unsubscribe')."""
    assert json.loads(encode_unsubscribe(124, [1, 2])) == {
        "id": 124,
        "cmd": "unsubscribe",
        "params": {"sids": [1, 2]},
    }


def test_encode_update_subscription_exact() -> None:
    """update_subscription: sid as an int, action, market_tickers (docs/protocol.md,
    'update_subscription')."""
    text = encode_update_subscription(126, 456, "add_markets", ["NEW-MARKET-3"])
    assert json.loads(text) == {
        "id": 126,
        "cmd": "update_subscription",
        "params": {"sid": 456, "action": "add_markets", "market_tickers": ["NEW-MARKET-3"]},
    }


def test_encode_get_snapshot_uses_market_tickers() -> None:
    """get_snapshot: the list form market_tickers (the only form the server accepts)."""
    text = encode_update_subscription(127, 456, "get_snapshot", ["MARKET-1", "MARKET-2"])
    assert json.loads(text)["params"] == {
        "sid": 456,
        "action": "get_snapshot",
        "market_tickers": ["MARKET-1", "MARKET-2"],
    }


def test_encode_update_subscription_pass_through() -> None:
    """update_subscription: extra params (index_ids...) pass through, None omitted."""
    text = encode_update_subscription(
        9, 3, "subscribe_indices", index_ids=["BRTI"], send_initial_snapshot=None
    )
    assert json.loads(text)["params"] == {
        "sid": 3,
        "action": "subscribe_indices",
        "index_ids": ["BRTI"],
    }


def test_encode_list_subscriptions_exact() -> None:
    """list_subscriptions: just id and cmd (docs/protocol.md, 'list_subscriptions')."""
    assert json.loads(encode_list_subscriptions(3)) == {"id": 3, "cmd": "list_subscriptions"}


# Any-typed aliases: these calls break the signatures on purpose.
_sub: Any = encode_subscribe
_unsub: Any = encode_unsubscribe
_update: Any = encode_update_subscription
_list: Any = encode_list_subscriptions

ENCODER_MISUSE = [
    pytest.param(lambda: _sub(0, ["ticker"]), ValueError, id="cmd-id-zero"),
    pytest.param(lambda: _sub(-1, ["ticker"]), ValueError, id="cmd-id-negative"),
    pytest.param(lambda: _sub(True, ["ticker"]), TypeError, id="cmd-id-bool"),
    pytest.param(lambda: _sub("1", ["ticker"]), TypeError, id="cmd-id-str"),
    pytest.param(lambda: _sub(1, "ticker"), TypeError, id="channels-bare-str"),
    pytest.param(lambda: _sub(1, []), ValueError, id="channels-empty"),
    pytest.param(lambda: _sub(1, [3]), TypeError, id="channels-not-str"),
    pytest.param(lambda: _sub(1, [""]), TypeError, id="channels-empty-name"),
    pytest.param(lambda: _sub(1, {"ticker"}), TypeError, id="channels-set"),
    pytest.param(lambda: _sub(1, ["ticker"], "A"), TypeError, id="tickers-bare-str"),
    pytest.param(lambda: _sub(1, ["ticker"], []), ValueError, id="tickers-empty"),
    pytest.param(
        lambda: _sub(1, ["ticker"], ["A"], market_ticker="B"),
        ValueError,
        id="ticker-and-tickers",
    ),
    pytest.param(
        lambda: _sub(1, ["cfbenchmarks_value"], index_ids="BRTI"),
        TypeError,
        id="list-param-bare-str",
    ),
    pytest.param(lambda: _sub(1, ["ticker"], flag=object()), TypeError, id="param-unserialisable"),
    pytest.param(lambda: _unsub(1, 5), TypeError, id="sids-bare-int"),
    pytest.param(lambda: _unsub(1, []), ValueError, id="sids-empty"),
    pytest.param(lambda: _unsub(1, ["1"]), TypeError, id="sids-str"),
    pytest.param(lambda: _unsub(1, [0]), ValueError, id="sids-zero"),
    pytest.param(
        lambda: _update(1, "4", "add_markets", ["A"]),
        TypeError,
        id="sid-str",
    ),
    pytest.param(lambda: _update(1, 4, "", ["A"]), TypeError, id="action-empty"),
    pytest.param(lambda: _update(1, 4, "add_markets", "A"), TypeError, id="upd-bare-str"),
    pytest.param(
        lambda: _update(1, 4, "get_snapshot"),
        ValueError,
        id="snapshot-no-tickers",
    ),
    pytest.param(
        lambda: _update(1, 4, "get_snapshot", market_ticker="A"),
        ValueError,
        id="snapshot-single-ticker",
    ),
    pytest.param(
        lambda: _update(1, 4, "add_markets", ["A"], sids=[4]),
        ValueError,
        id="sid-and-sids",
    ),
    pytest.param(lambda: _list(0), ValueError, id="list-cmd-id-zero"),
]


@pytest.mark.parametrize(("call", "error"), ENCODER_MISUSE)
def test_encoder_misuse_raises(call: Any, error: type[Exception]) -> None:
    """Encoders reject misuse with TypeError/ValueError and a clear message."""
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error
    assert str(info.value)


# --- constants ---------------------------------------------------------------------------------


def test_channel_of_type_mapping() -> None:
    """CHANNEL_OF_TYPE maps singular/plural and multi-type channels correctly."""
    assert CHANNEL_OF_TYPE["user_order"] == "user_orders"
    assert CHANNEL_OF_TYPE["market_position"] == "market_positions"
    assert CHANNEL_OF_TYPE["orderbook_snapshot"] == "orderbook_delta"
    assert CHANNEL_OF_TYPE["orderbook_delta"] == "orderbook_delta"
    assert CHANNEL_OF_TYPE["event_lifecycle"] == "market_lifecycle_v2"
    assert CHANNEL_OF_TYPE["event_fee_update"] == "market_lifecycle_v2"
    assert CHANNEL_OF_TYPE["quote_executed"] == "communications"
    assert CHANNEL_OF_TYPE["pyth_value_underlying_list"] == "pyth_value"


def test_type_sets_are_consistent() -> None:
    """Every known data type has a channel; control and sequenced types are disjoint."""
    assert set(CHANNEL_OF_TYPE) == KNOWN_TYPES - CONTROL_TYPES
    assert set(CHANNEL_OF_TYPE) >= SEQUENCED_TYPES
    assert not SEQUENCED_TYPES & CONTROL_TYPES
    assert {"subscribed", "unsubscribed", "ok", "error"} <= CONTROL_TYPES
    unsequenced = {"ticker", "fill", "market_position", "user_order"}
    assert not unsequenced & SEQUENCED_TYPES
    assert {"orderbook_delta", "orderbook_snapshot", "trade", "rfq_created"} <= SEQUENCED_TYPES


# --- property tests ----------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
decimal_texts = st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str)
levels = st.lists(
    st.lists(decimal_texts | st.integers(0, 10**6) | json_scalars, min_size=0, max_size=3),
    max_size=4,
)

# Wire keys of every channel, current and legacy, so random payloads hit real decoder paths.
WIRE_KEYS = sorted(
    {
        "market_ticker",
        "market_id",
        "ticker",
        "side",
        "price",
        "price_dollars",
        "delta",
        "delta_fp",
        "client_order_id",
        "subaccount",
        "ts",
        "ts_ms",
        "time",
        "yes",
        "no",
        "yes_dollars",
        "no_dollars",
        "yes_dollars_fp",
        "no_dollars_fp",
        "yes_bid",
        "yes_ask",
        "yes_bid_dollars",
        "yes_ask_dollars",
        "no_bid",
        "no_bid_dollars",
        "volume",
        "volume_fp",
        "open_interest",
        "open_interest_fp",
        "dollar_volume",
        "yes_bid_size_fp",
        "trade_id",
        "yes_price",
        "yes_price_dollars",
        "no_price",
        "no_price_dollars",
        "count",
        "count_fp",
        "is_block_trade",
        "order_id",
        "fee_cost",
        "post_position",
        "post_position_fp",
        "is_taker",
        "position",
        "position_fp",
        "position_cost",
        "position_cost_dollars",
        "realized_pnl",
        "realized_pnl_dollars",
        "fees_paid",
        "fees_paid_dollars",
        "remaining_count_fp",
        "remaining_count",
        "taker_fees_dollars",
        "is_yes",
        "event_type",
        "order_group_id",
        "contracts_limit_fp",
        "contracts_limit",
        "open_ts",
        "is_deactivated",
        "settlement_value",
        "additional_metadata",
        "price_ranges",
        "floor_strike",
        "custom_strike",
        "event_ticker",
        "subtitle",
        "sub_title",
        "fee_multiplier_override",
        "id",
        "contracts",
        "contracts_fp",
        "target_cost",
        "target_cost_dollars",
        "mve_selected_legs",
        "quote_id",
        "rfq_id",
        "contracts_accepted_fp",
        "rfq_target_cost",
        "index_id",
        "value_usd",
        "avg_60s_data",
        "underlying_ticker",
        "index_ids",
        "underlying_tickers",
        "market_tickers",
        "market_ids",
        "channel",
        "sid",
        "code",
        "msg",
        "subscriptions",
        "start",
        "end",
        "step",
    }
)
field_values = json_values | decimal_texts | levels | st.just("") | st.lists(st.text(max_size=5))
payloads = json_values | st.dictionaries(
    st.sampled_from(WIRE_KEYS) | st.text(max_size=6), field_values, max_size=14
)
envelopes = st.fixed_dictionaries(
    {"type": st.sampled_from([*sorted(KNOWN_TYPES), "brand_new"]) | st.text(max_size=6)},
    optional={
        "sid": st.integers(0, 2**40) | json_scalars,
        "seq": st.integers(0, 2**40) | json_scalars,
        "id": st.integers(0, 2**40) | json_scalars,
        "msg": payloads,
        "market_tickers": field_values,
        "subscriptions": st.lists(
            st.fixed_dictionaries({}, optional={"channel": json_scalars, "sid": json_scalars})
        )
        | json_values,
    },
)


def assert_no_floats(value: Any, path: str = "msg") -> None:
    """Walk a decoded message (not raw / passed-through JSON) and fail on any float."""
    if attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            unknown_msg = field.name == "msg" and isinstance(value, UnknownMessage)
            if field.name == "raw" or field.hash is False or unknown_msg:
                continue  # the server's own JSON, kept as parsed
            assert_no_floats(getattr(value, field.name), f"{path}.{field.name}")
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            assert_no_floats(item, f"{path}[{i}]")
    else:
        assert not isinstance(value, float), path


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_decode_arbitrary_bytes_raises_only_protocol_error(data: bytes) -> None:
    """Property: arbitrary bytes either decode or raise ProtocolError, nothing else."""
    with contextlib.suppress(ProtocolError):
        decode(data)


@settings(max_examples=300)
@given(json_values)
def test_decode_arbitrary_json_raises_only_protocol_error(value: Any) -> None:
    """Property: any JSON value either decodes or raises ProtocolError, nothing else."""
    with contextlib.suppress(ProtocolError):
        decode(json.dumps(value))


@settings(max_examples=1500)
@given(envelopes)
def test_decode_random_envelopes_raises_only_protocol_error(env: dict[str, Any]) -> None:
    """Property: random envelopes/msg contents raise only ProtocolError; no float, raw kept."""
    try:
        msg = decode(json.dumps(env))  # json, not orjson: it can write ints beyond 64 bits
    except ProtocolError:
        return
    assert isinstance(msg, Message)
    assert msg.raw == orjson.loads(json.dumps(env))
    assert_no_floats(msg)


@given(
    price=decimal_texts,
    delta=decimal_texts,
    sid=st.integers(1, 2**31),
    seq=st.integers(1, 2**31),
    extra=st.fixed_dictionaries(
        {},
        optional={
            "market_id": st.text(max_size=5) | json_scalars,
            "client_order_id": st.text(max_size=5) | json_scalars,
            "subaccount": st.integers(0, 63) | json_scalars,
            "ts": st.text(max_size=5) | json_scalars,
            "ts_ms": st.integers(0, 2**45) | json_scalars,
        },
    ),
    envelope=st.fixed_dictionaries(
        {}, optional={"sending_ts_ms": st.integers(0, 2**45) | json_scalars}
    ),
)
def test_delta_fast_path_matches_checked_decoder(
    price: str,
    delta: str,
    sid: int,
    seq: int,
    extra: dict[str, Any],
    envelope: dict[str, Any],
) -> None:
    """Property: the hot-path delta decoder equals the table-driven one, exactly (also
    sending_ts_ms and missing, which equality does not compare)."""
    body = {"market_ticker": "T", "side": "yes", "price_dollars": price, "delta_fp": delta, **extra}
    env = {"type": "orderbook_delta", "sid": sid, "seq": seq, "msg": body, **envelope}
    text = json.dumps(env)
    fast = decode(text)
    checked = _decoders._orderbook_delta_checked(orjson.loads(text), "orderbook_delta")
    assert fast == checked
    assert attrs.asdict(fast) == attrs.asdict(checked)
    assert (fast.sending_ts_ms, fast.missing) == (checked.sending_ts_ms, checked.missing)
    assert isinstance(fast, OrderbookDelta)
    assert str(fast.price) == price  # exact: the wire text round-trips
    assert str(fast.delta) == delta


@given(
    prices=st.lists(st.tuples(decimal_texts, decimal_texts), max_size=20),
    legacy_cents=st.lists(st.tuples(st.integers(0, 10**4), st.integers(0, 10**7)), max_size=20),
)
def test_decimals_are_exact(
    prices: list[tuple[str, str]], legacy_cents: list[tuple[int, int]]
) -> None:
    """Property: every price/count is a Decimal equal to the wire value (cents scaled exactly)."""
    msg = decode(
        orjson.dumps(
            {
                "type": "orderbook_snapshot",
                "sid": 1,
                "seq": 1,
                "msg": {
                    "market_ticker": "T",
                    "yes_dollars_fp": [list(level) for level in prices],
                    "no": [list(level) for level in legacy_cents],
                },
            }
        )
    )
    assert isinstance(msg, OrderbookSnapshot)
    assert msg.yes is not None and msg.no is not None
    for (p, c), (want_p, want_c) in zip(msg.yes, prices, strict=True):
        assert isinstance(p, Decimal) and isinstance(c, Decimal)
        assert (str(p), str(c)) == (want_p, want_c)
    for (p, c), (cents, count) in zip(msg.no, legacy_cents, strict=True):
        assert isinstance(p, Decimal) and isinstance(c, Decimal)
        assert p * 100 == cents and c == count


@given(
    yes_price=st.decimals(-(10**12), 10**12, places=4).map(str),
    count=st.decimals(-(10**12), 10**12, places=2).map(str),
    legacy=st.booleans(),
)
def test_trade_decimals_are_exact(yes_price: str, count: str, legacy: bool) -> None:
    """Property: trade prices/counts are exact Decimals from current strings or legacy ints."""
    if legacy:
        cents, whole = int(D(yes_price).to_integral_value()), int(D(count).to_integral_value())
        body: dict[str, Any] = {"market_ticker": "T", "yes_price": cents, "count": whole}
        want = (D(cents) / 100, D(whole))
    else:
        body = {"market_ticker": "T", "yes_price_dollars": yes_price, "count_fp": count}
        want = (D(yes_price), D(count))
    msg = decode(orjson.dumps({"type": "trade", "sid": 1, "seq": 1, "msg": body}))
    assert isinstance(msg, Trade)
    assert type(msg.yes_price) is Decimal and type(msg.count) is Decimal
    assert (msg.yes_price, msg.count) == want


# The smallest valid msg of every known type: the base that drift is layered on below.
MINIMAL: dict[str, dict[str, Any]] = {
    "orderbook_delta": DELTA_MSG,
    "orderbook_snapshot": {"market_ticker": "T"},
    "ticker": {"market_ticker": "T"},
    "trade": {"market_ticker": "T", "yes_price_dollars": "0.5", "count_fp": "1"},
    "fill": {"market_ticker": "T", "yes_price": 50, "count": 1},
    "market_position": {"market_ticker": "T", "position_fp": "1"},
    "user_order": {"order_id": "o", "ticker": "T"},
    "order_group_updates": {"event_type": "created", "order_group_id": "g"},
    "market_lifecycle_v2": {"market_ticker": "T", "event_type": "created"},
    "multivariate_market_lifecycle": {"market_ticker": "T", "event_type": "settled"},
    "event_lifecycle": {"event_ticker": "E"},
    "event_fee_update": {"event_ticker": "E"},
    "rfq_created": {"id": "r"},
    "rfq_deleted": {"id": "r"},
    "quote_created": {"quote_id": "q", "rfq_id": "r"},
    "quote_accepted": {"quote_id": "q", "rfq_id": "r"},
    "quote_executed": {"quote_id": "q", "rfq_id": "r"},
    "cfbenchmarks_value": {"index_id": "BRTI"},
    "cfbenchmarks_value_5hz": {"index_id": "BRTI"},
    "cfbenchmarks_value_indexlist": {},
    "cfbenchmarks_value_5hz_indexlist": {},
    "pyth_value": {"underlying_ticker": "X"},
    "pyth_value_underlying_list": {},
    "subscribed": {"sid": 1},
    "unsubscribed": {},
    "ok": {},
    "list_subscriptions": {},
    "error": {"code": 1, "msg": "m"},
}


def test_minimal_payloads_cover_every_known_type() -> None:
    """Each known type has a minimal valid payload, and it decodes to a typed class."""
    assert set(MINIMAL) == KNOWN_TYPES
    for type_, body in MINIMAL.items():
        msg = decode(frame(type=type_, sid=1, seq=1, msg=body))
        assert type(msg) is not UnknownMessage, type_


@settings(max_examples=1500)
@given(
    type_=st.sampled_from(sorted(MINIMAL)),
    drift=st.dictionaries(st.sampled_from(WIRE_KEYS), field_values, max_size=6),
    keep_required=st.booleans(),
)
def test_decode_drifted_valid_frames_raises_only_protocol_error(
    type_: str, drift: dict[str, Any], keep_required: bool
) -> None:
    """Property: drifted valid frames raise only ProtocolError; no float, same class."""
    base = MINIMAL[type_]
    body = {**drift, **base} if keep_required else {**base, **drift}
    try:
        msg = decode(json.dumps({"type": type_, "sid": 3, "seq": 4, "msg": body}))
    except ProtocolError:
        return
    assert type(msg) is type(decode(frame(type=type_, sid=3, seq=4, msg=base)))
    assert_no_floats(msg)


def test_price_table_reuses_one_decimal_per_price_string() -> None:
    """A price string seen before decodes to the same (immutable) Decimal object, so the
    book's dict lookups reuse its cached hash; values are exact either way."""
    from kalshi_sync import _decode_slots

    a = decode(
        b'{"type":"orderbook_delta","sid":1,"seq":2,"msg":{"market_ticker":"T",'
        b'"price_dollars":"0.4321","delta_fp":"1.00","side":"yes"}}'
    )
    b = decode(
        b'{"type":"orderbook_delta","sid":1,"seq":3,"msg":{"market_ticker":"T",'
        b'"price_dollars":"0.4321","delta_fp":"2.00","side":"no"}}'
    )
    assert a.price == Decimal("0.4321")  # type: ignore[attr-defined]
    assert a.price is b.price  # type: ignore[attr-defined]
    assert _decode_slots._PRICES["0.4321"] is a.price  # type: ignore[attr-defined]


def test_price_table_keeps_no_non_finite_value_and_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """NaN/Infinity are returned (and refused by the decoders) but never kept, and a full
    table is cleared rather than grown: hostile input cannot make it large."""
    from kalshi_sync import _decode_slots

    monkeypatch.setattr(_decode_slots, "_PRICES", {})
    monkeypatch.setattr(_decode_slots, "_PRICES_MAX", 3)
    assert not _decode_slots._price("NaN").is_finite()
    assert "NaN" not in _decode_slots._PRICES
    for i in range(10):
        assert _decode_slots._price(f"0.{i:04d}") == Decimal(f"0.{i:04d}")
        assert len(_decode_slots._PRICES) <= 3
