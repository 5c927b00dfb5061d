"""Kalshi's WebSocket channels as one frozen table: the single source of channel facts.

Every rule that depends on *which* channel a subscription or a message belongs to derives
from :data:`CHANNELS` (docs/protocol.md, 'Channels'): the codec's type sets
(:mod:`kalshi_sync.protocol`), the registry's market-filter rules, the pipeline's "does this
sid feed books" test, the CLI's choice of filter, and which error codes end a subscription
(:mod:`kalshi_sync.errors`). A new channel is one row here.

The API other modules use (all immutable, built at import time)::

    CHANNELS: Mapping[str, ChannelFacts]   subscribe name -> facts, in the docs' table order
    channel_of_type(msg_type) -> str | None  the channel that carries a data message type
    CHANNEL_OF_TYPE: Mapping[str, str]     the same as a mapping (every data type)
    SEQUENCED_TYPES: frozenset[str]        data types that carry a per-sid seq
    MARKET_CHANNELS: frozenset[str]        channels that take market_tickers (add/delete)
    BOOK_CHANNELS: frozenset[str]          channels whose messages maintain order books
    PRIVATE_CHANNELS: frozenset[str]       channels that need permission for the key
    ACCOUNT_CHANNELS: frozenset[str]       channels reporting the account's own activity
    RECONCILED_CHANNELS: frozenset[str]    account channels without seq: read back over REST
    TERMINAL_ERROR_CODES: frozenset[int]   error codes after which the sid is gone
    ends_subscription(code) -> bool        terminal, or a code this version does not know

A message type carried by two channels (``event_lifecycle`` on both lifecycle channels) maps
to the first channel listing it; route by sid when the sid is known. Control replies
(``subscribed``, ``ok``, ``error``...) belong to no channel and are not in this table.
This module does no I/O, holds no state and imports nothing from the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

import attrs

__all__ = [
    "ACCOUNT_CHANNELS",
    "BOOK_CHANNELS",
    "CHANNELS",
    "CHANNEL_OF_TYPE",
    "KNOWN_ERROR_CODES",
    "MARKET_CHANNELS",
    "PRIVATE_CHANNELS",
    "RECONCILED_CHANNELS",
    "SEQUENCED_TYPES",
    "TERMINAL_ERROR_CODES",
    "ChannelFacts",
    "MarketFilter",
    "channel_of_type",
    "ends_subscription",
]

MarketFilter = Literal["required", "optional", "none"]
"""How a channel takes ``market_tickers``: it must have at least one, it may have some
(none means every market, or all of your own activity), or it ignores them."""


@attrs.frozen
class ChannelFacts:
    """What Kalshi documents about one channel (docs/protocol.md, 'Channels').

    ``types``: the data message types it sends. ``markets``: see :data:`MarketFilter`.
    ``sequenced``: its messages carry a per-sid ``seq`` (docs/protocol.md, 'Which messages
    are sequenced'), so a gap is detectable. ``books``: its messages maintain order books.
    ``private``: the key needs permission for it (error 9 otherwise). ``account``: it
    reports the account's own activity, which is not replayed after a reconnect and must be
    reconciled over REST (docs/protocol.md, 'Private channels').
    """

    name: str
    types: tuple[str, ...]
    markets: MarketFilter
    sequenced: bool
    books: bool = False
    private: bool = False
    account: bool = False

    @property
    def takes_markets(self) -> bool:
        """The channel accepts ``market_tickers`` (and ``add_markets``/``delete_markets``)."""
        return self.markets != "none"


def _table(*rows: ChannelFacts) -> Mapping[str, ChannelFacts]:
    return MappingProxyType({row.name: row for row in rows})


CHANNELS: Mapping[str, ChannelFacts] = _table(
    ChannelFacts(
        "orderbook_delta",
        ("orderbook_snapshot", "orderbook_delta"),
        markets="required",
        sequenced=True,
        books=True,
        private=True,
    ),
    ChannelFacts("ticker", ("ticker",), markets="optional", sequenced=False),
    ChannelFacts("trade", ("trade",), markets="optional", sequenced=True),
    ChannelFacts(
        "fill", ("fill",), markets="optional", sequenced=False, private=True, account=True
    ),
    ChannelFacts(
        "market_positions",
        ("market_position",),
        markets="optional",
        sequenced=False,
        private=True,
        account=True,
    ),
    ChannelFacts(
        "user_orders",
        ("user_order",),
        markets="optional",
        sequenced=False,
        private=True,
        account=True,
    ),
    ChannelFacts(
        "order_group_updates",
        ("order_group_updates",),
        markets="none",
        sequenced=True,
        private=True,
        account=True,
    ),
    ChannelFacts(
        "market_lifecycle_v2",
        ("market_lifecycle_v2", "event_lifecycle", "event_fee_update"),
        markets="none",
        sequenced=True,
    ),
    ChannelFacts(
        "multivariate_market_lifecycle",
        ("multivariate_market_lifecycle", "event_lifecycle"),
        markets="none",
        sequenced=True,
    ),
    ChannelFacts(
        "communications",
        ("rfq_created", "rfq_deleted", "quote_created", "quote_accepted", "quote_executed"),
        markets="none",
        sequenced=True,
        private=True,
    ),
    ChannelFacts(
        "cfbenchmarks_value",
        ("cfbenchmarks_value", "cfbenchmarks_value_indexlist"),
        markets="none",
        sequenced=True,
        private=True,
    ),
    ChannelFacts(
        "cfbenchmarks_value_5hz",
        ("cfbenchmarks_value_5hz", "cfbenchmarks_value_5hz_indexlist"),
        markets="none",
        sequenced=True,
        private=True,
    ),
    ChannelFacts(
        "pyth_value",
        ("pyth_value", "pyth_value_underlying_list"),
        markets="none",
        sequenced=True,
        private=True,
    ),
)


def _channel_of_type() -> Mapping[str, str]:
    out: dict[str, str] = {}
    for facts in CHANNELS.values():
        for msg_type in facts.types:
            out.setdefault(msg_type, facts.name)  # first channel listing it wins
    return MappingProxyType(out)


CHANNEL_OF_TYPE: Mapping[str, str] = _channel_of_type()
SEQUENCED_TYPES: frozenset[str] = frozenset(
    t for facts in CHANNELS.values() if facts.sequenced for t in facts.types
)
MARKET_CHANNELS: frozenset[str] = frozenset(n for n, f in CHANNELS.items() if f.takes_markets)
BOOK_CHANNELS: frozenset[str] = frozenset(n for n, f in CHANNELS.items() if f.books)
PRIVATE_CHANNELS: frozenset[str] = frozenset(n for n, f in CHANNELS.items() if f.private)
ACCOUNT_CHANNELS: frozenset[str] = frozenset(n for n, f in CHANNELS.items() if f.account)
# Account channels with no seq (fill, user_orders, market_positions): a lost message leaves
# no trace and nothing is replayed, so after a reconnect their state is read back over REST
# (docs/protocol.md, 'Private channels').
RECONCILED_CHANNELS: frozenset[str] = frozenset(
    n for n, f in CHANNELS.items() if f.account and not f.sequenced
)

# Error codes after which the server has dropped the subscription and the client must
# subscribe again (docs/protocol.md, 'Terminal errors'): 10 channel error, 25 buffer
# overflow, and 17 (internal error) while it existed.
TERMINAL_ERROR_CODES: frozenset[int] = frozenset({10, 17, 25})
# Every code Kalshi has documented (docs/protocol.md, 'Error codes'), retired ones included.
# kalshi_sync.errors.ErrorCode has exactly these members (a test pins it).
KNOWN_ERROR_CODES: frozenset[int] = frozenset(range(1, 29))

_channel_get = CHANNEL_OF_TYPE.get


def channel_of_type(msg_type: str) -> str | None:
    """The channel that carries data messages of ``msg_type``; None for control replies and
    types this version does not know."""
    return _channel_get(msg_type)


def ends_subscription(code: int) -> bool:
    """An ``error`` naming a live sid with this code means the server dropped it: a terminal
    code, or one this version does not know (rebuilding a subscription for nothing is safer
    than trusting one the server may have dropped)."""
    return code in TERMINAL_ERROR_CODES or code not in KNOWN_ERROR_CODES
