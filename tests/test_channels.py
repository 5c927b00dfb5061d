"""The channel table against Kalshi's documented facts, and everything derived from it."""

from __future__ import annotations

import attrs
import pytest

from kalshi_sync import _channels, errors, protocol
from kalshi_sync._channels import (
    ACCOUNT_CHANNELS,
    BOOK_CHANNELS,
    CHANNEL_OF_TYPE,
    CHANNELS,
    KNOWN_ERROR_CODES,
    MARKET_CHANNELS,
    PRIVATE_CHANNELS,
    RECONCILED_CHANNELS,
    SEQUENCED_TYPES,
    TERMINAL_ERROR_CODES,
    ChannelFacts,
    channel_of_type,
    ends_subscription,
)
from kalshi_sync.errors import ErrorCode

# docs/protocol.md, 'Channels', transcribed row by row (name: types, market filter,
# sequenced, private). Written out here rather than read from the table in the code so a
# wrong edit to either side fails.
DOCUMENTED: dict[str, tuple[tuple[str, ...], str, bool, bool]] = {
    "orderbook_delta": (("orderbook_snapshot", "orderbook_delta"), "required", True, True),
    "ticker": (("ticker",), "optional", False, False),
    "trade": (("trade",), "optional", True, False),
    "fill": (("fill",), "optional", False, True),
    "market_positions": (("market_position",), "optional", False, True),
    "user_orders": (("user_order",), "optional", False, True),
    "order_group_updates": (("order_group_updates",), "none", True, True),
    "market_lifecycle_v2": (
        ("market_lifecycle_v2", "event_lifecycle", "event_fee_update"),
        "none",
        True,
        False,
    ),
    "multivariate_market_lifecycle": (
        ("multivariate_market_lifecycle", "event_lifecycle"),
        "none",
        True,
        False,
    ),
    "communications": (
        ("rfq_created", "rfq_deleted", "quote_created", "quote_accepted", "quote_executed"),
        "none",
        True,
        True,
    ),
    "cfbenchmarks_value": (
        ("cfbenchmarks_value", "cfbenchmarks_value_indexlist"),
        "none",
        True,
        True,
    ),
    "cfbenchmarks_value_5hz": (
        ("cfbenchmarks_value_5hz", "cfbenchmarks_value_5hz_indexlist"),
        "none",
        True,
        True,
    ),
    "pyth_value": (("pyth_value", "pyth_value_underlying_list"), "none", True, True),
}


def test_table_matches_the_documented_channels() -> None:
    """Every documented channel is in the table with its types, filter, seq and privacy."""
    assert list(CHANNELS) == list(DOCUMENTED)
    for name, (types, markets, sequenced, private) in DOCUMENTED.items():
        facts = CHANNELS[name]
        assert facts.name == name
        assert facts.types == types, name
        assert facts.markets == markets, name
        assert facts.sequenced is sequenced, name
        assert facts.private is private, name


def test_only_the_order_book_channel_feeds_books() -> None:
    """Books are maintained from orderbook_delta alone (docs/protocol.md, 'Order book
    channel')."""
    assert {"orderbook_delta"} == BOOK_CHANNELS


def test_account_channels_are_the_unreplayed_own_activity() -> None:
    """fill, user_orders, market_positions and order_group_updates report the account's own
    activity; the three that carry money are unsequenced (docs/protocol.md, 'Private
    channels')."""
    assert {"fill", "user_orders", "market_positions", "order_group_updates"} == ACCOUNT_CHANNELS
    assert ACCOUNT_CHANNELS <= PRIVATE_CHANNELS
    for name in ("fill", "user_orders", "market_positions"):
        assert not CHANNELS[name].sequenced
    assert {"fill", "user_orders", "market_positions"} == RECONCILED_CHANNELS


def test_market_channels_are_those_taking_market_tickers() -> None:
    """MARKET_CHANNELS is exactly the channels whose market filter is required or optional."""
    assert {
        "orderbook_delta",
        "ticker",
        "trade",
        "fill",
        "market_positions",
        "user_orders",
    } == MARKET_CHANNELS
    assert all(CHANNELS[n].takes_markets for n in MARKET_CHANNELS)
    assert not any(f.takes_markets for n, f in CHANNELS.items() if n not in MARKET_CHANNELS)


def test_sequenced_types_follow_the_channels() -> None:
    """A type is sequenced exactly when its channel is (docs/protocol.md, 'Which messages are
    sequenced')."""
    expected = {t for _, (types, _, seq, _) in DOCUMENTED.items() if seq for t in types}
    assert expected == SEQUENCED_TYPES
    assert {"ticker", "fill", "market_position", "user_order"}.isdisjoint(SEQUENCED_TYPES)


def test_channel_of_type_covers_every_data_type_once() -> None:
    """Every data type maps to a channel listing it; a type on two channels maps to the
    first; control replies and unknown types map to None."""
    for name, facts in CHANNELS.items():
        for msg_type in facts.types:
            owner = channel_of_type(msg_type)
            assert owner is not None
            assert msg_type in CHANNELS[owner].types
            assert list(CHANNELS).index(owner) <= list(CHANNELS).index(name)
    assert channel_of_type("event_lifecycle") == "market_lifecycle_v2"
    assert channel_of_type("market_position") == "market_positions"
    for control in ("subscribed", "unsubscribed", "ok", "error", "list_subscriptions"):
        assert channel_of_type(control) is None
    assert channel_of_type("ticker_v2") is None  # removed channel (2026-02-12)


def test_every_channel_type_has_a_typed_decoder() -> None:
    """The codec decodes every type the table lists, and knows no data type the table
    lacks."""
    assert set(CHANNEL_OF_TYPE) == protocol.KNOWN_TYPES - protocol.CONTROL_TYPES


def test_protocol_and_errors_reexport_the_table() -> None:
    """protocol's and errors' constants are the table's objects, not copies that can drift."""
    assert protocol.SEQUENCED_TYPES is SEQUENCED_TYPES
    assert protocol.CHANNEL_OF_TYPE is CHANNEL_OF_TYPE
    assert errors.TERMINAL_ERROR_CODES is TERMINAL_ERROR_CODES


def test_terminal_codes_and_unknown_codes_end_a_subscription() -> None:
    """10, 17 and 25 end a subscription, as does an undocumented code; user errors do not
    (docs/protocol.md, 'Terminal errors')."""
    assert {10, 17, 25} == TERMINAL_ERROR_CODES
    assert {int(c) for c in ErrorCode} == KNOWN_ERROR_CODES
    for code in KNOWN_ERROR_CODES:
        assert ends_subscription(code) is (code in TERMINAL_ERROR_CODES)
    assert ends_subscription(29)
    assert ends_subscription(0)
    assert ends_subscription(-1)


def test_table_is_immutable() -> None:
    """The table, its rows and the derived mapping cannot be changed at run time."""
    with pytest.raises(TypeError):
        CHANNELS["ticker"] = CHANNELS["trade"]  # type: ignore[index]
    with pytest.raises(TypeError):
        CHANNEL_OF_TYPE["ticker"] = "trade"  # type: ignore[index]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        CHANNELS["ticker"].sequenced = True  # type: ignore[misc]
    assert isinstance(CHANNELS["ticker"], ChannelFacts)
    assert set(_channels.__all__) <= set(dir(_channels))
