"""Typed, immutable messages: one attrs class per wire ``type``.

Decoding lives in :mod:`kalshi_sync.protocol`; this module only declares the shapes.
Naming rule (docs/protocol.md, 'Fixed-point values'): wire field names with the unit suffix
dropped and the value normalised -- ``X_dollars`` -> ``X`` (Decimal dollars), ``X_fp`` ->
``X`` (Decimal contracts), other names unchanged. Legacy integer fields (cents, whole
contracts, centi-cents) decode into the same attributes in the same units, so callers never
see which generation of the wire format a frame came from. Every message keeps the decoded
JSON envelope in ``.raw`` so unknown fields are never lost. Nested JSON objects that are
passed through as mappings are excluded from hashing (``hash=False``) so every message stays
hashable.

No message is dropped for a missing field: every data field is optional (None when the frame
left it out, sent ``""`` or ``null``). A message that lacks a field it normally carries (a
fill without its price, a delta without its side) says so in ``.missing`` (the attribute
names, in field order) and ``.partial``; the raw frame is still in ``.raw``. All classes are
constructible by keyword with any subset of their fields (``Fill(type="fill", ...)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

__all__ = [
    "LAST_UPDATE_REASONS",
    "OBSCURED_IDS",
    "CfbenchmarksIndexList",
    "CfbenchmarksValue",
    "EventFeeUpdate",
    "EventLifecycle",
    "Fill",
    "Level",
    "MarketLifecycle",
    "MarketPosition",
    "Message",
    "MultivariateMarketLifecycle",
    "MveLeg",
    "Ok",
    "OrderGroupUpdate",
    "OrderbookDelta",
    "OrderbookSnapshot",
    "PriceRange",
    "PythUnderlyingList",
    "PythValue",
    "QuoteAccepted",
    "QuoteCreated",
    "QuoteExecuted",
    "RfqCreated",
    "RfqDeleted",
    "ServerError",
    "Subscribed",
    "SubscriptionInfo",
    "Ticker",
    "Trade",
    "UnknownMessage",
    "Unsubscribed",
    "UserOrder",
    "is_obscured_id",
]

Level = tuple[Decimal, Decimal]
"""One order-book level: (price in dollars, resting contracts)."""

LAST_UPDATE_REASONS: frozenset[str] = frozenset(
    {
        "Decrease",
        "Amend",
        "MarginCancel",
        "SelfTradeCancel",
        "ExpiryCancel",
        "CloseCancel",
        "HaltCancel",
        "Trade",
        "PostOnlyCrossCancel",
        "ReduceOnlyCancel",
        "SettlementBoundsCancel",
    }
)
"""The ``user_order.last_update_reason`` values Kalshi documents (docs/protocol.md,
'user_orders'). The set is open: a value not listed here is decoded unchanged."""

OBSCURED_IDS: frozenset[str] = frozenset(
    {"0", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}
)
"""Placeholders the ``communications`` channel sends instead of another user's id: ``"0"``
and the SHA-256 of the empty string (docs/protocol.md, 'Communications channel')."""


def is_obscured_id(value: str | None) -> bool:
    """True when a communications creator id identifies nobody: one of :data:`OBSCURED_IDS`,
    or absent/empty (the early-2026 form of an obscured ``creator_id``)."""
    return value is None or value in OBSCURED_IDS


def _mapping_field() -> Any:
    # A passed-through JSON object: compared, but not hashed (dicts are unhashable).
    return attrs.field(default=None, hash=False)


@attrs.frozen(kw_only=True)
class Message:
    """Base of every server message. ``sid``/``seq`` are None when the frame has none.

    ``sending_ts_ms``: when Kalshi queued the frame at its network layer (Unix ms, the
    envelope's ``sending_ts_ms``), on data and control frames alike; None when absent. For a
    snapshot it is the only server clock. ``missing``: the fields this message normally
    carries that the frame left out or sent empty (see the module docstring); ``()`` for a
    complete message. Neither takes part in equality.
    """

    type: str
    sid: int | None = None
    seq: int | None = None
    sending_ts_ms: int | None = attrs.field(default=None, eq=False)
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    missing: tuple[str, ...] = attrs.field(default=(), repr=False, eq=False)

    @property
    def partial(self) -> bool:
        """True when a field this message normally carries is missing (see ``missing``)."""
        return bool(self.missing)


# --- orderbook_delta channel -------------------------------------------------------------


@attrs.frozen(kw_only=True)
class OrderbookSnapshot(Message):
    """Full book of one market (``orderbook_snapshot``). ``id`` is set on a get_snapshot reply.

    ``yes``/``no`` are bid levels (price dollars, contracts); an absent side is ``()`` (the
    server leaves an empty side out, so a snapshot with neither side is an empty book). A
    side with a level whose price or count is missing is None: such a snapshot is delivered
    but never applied (see :attr:`applicable`), and the book is resynced instead.
    """

    market_ticker: str | None = None
    market_id: str | None = None
    yes: tuple[Level, ...] | None = ()
    no: tuple[Level, ...] | None = ()
    id: int | None = None

    @property
    def applicable(self) -> bool:
        """True when the snapshot names its market and both sides could be read."""
        return self.market_ticker is not None and self.yes is not None and self.no is not None


@attrs.frozen(kw_only=True)
class OrderbookDelta(Message):
    """One level change (``orderbook_delta``): ``delta`` contracts added (+) or removed (-).

    A delta without its market, price, side or delta (or with a side other than "yes"/"no")
    cannot be applied: it is delivered, and its book is resynced from a fresh snapshot.
    """

    market_ticker: str | None = None
    price: Decimal | None = None
    delta: Decimal | None = None
    side: str | None = None
    market_id: str | None = None
    client_order_id: str | None = None
    subaccount: int | None = None
    ts: str | None = None
    ts_ms: int | None = None


# --- control replies -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Subscribed(Message):
    """Ack of a ``subscribe`` command: the new ``sid`` for ``channel``."""

    id: int | None = None
    channel: str = ""


@attrs.frozen(kw_only=True)
class Unsubscribed(Message):
    """Ack of an ``unsubscribe`` command for ``sid``."""

    id: int | None = None


@attrs.frozen(kw_only=True)
class SubscriptionInfo:
    """One row of a ``list_subscriptions`` reply."""

    channel: str
    sid: int


@attrs.frozen(kw_only=True)
class Ok(Message):
    """``ok`` reply. ``market_tickers``: the full list after add/delete_markets (None when
    the server left it out); ``subscriptions``: set when this answers list_subscriptions.

    ``index_ids`` / ``underlying_tickers`` answer the reference-price filter actions. A legacy
    ``list_subscriptions``-typed reply is decoded with ``type == "ok"`` too (see ``raw``).
    """

    id: int | None = None
    market_tickers: tuple[str, ...] | None = None
    market_ids: tuple[str, ...] | None = None
    subscriptions: tuple[SubscriptionInfo, ...] | None = None
    index_ids: tuple[str, ...] | None = None
    underlying_tickers: tuple[str, ...] | None = None


@attrs.frozen(kw_only=True)
class ServerError(Message):
    """``error`` frame: ``code`` (see :class:`kalshi_sync.ErrorCode`) and ``message``."""

    id: int | None = None
    code: int = 0
    message: str = ""
    market_ticker: str | None = None
    market_tickers: tuple[str, ...] | None = None
    market_id: str | None = None


@attrs.frozen(kw_only=True)
class UnknownMessage(Message):
    """A frame whose ``type`` this version does not know. Nothing is dropped: see ``raw``."""

    msg: Any = None


# --- market data ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Ticker(Message):
    """``ticker``: last price, best bid/ask (dollars) and sizes/volume (contracts).

    ``price`` is None before the first trade (the wire sends ``""``). ``dollar_volume`` and
    ``dollar_open_interest`` are whole dollars (ints) on the wire and stay ints.
    """

    market_ticker: str | None = None
    market_id: str | None = None
    price: Decimal | None = None
    yes_bid: Decimal | None = None
    yes_ask: Decimal | None = None
    no_bid: Decimal | None = None
    volume: Decimal | None = None
    open_interest: Decimal | None = None
    dollar_volume: int | None = None
    dollar_open_interest: int | None = None
    yes_bid_size: Decimal | None = None
    yes_ask_size: Decimal | None = None
    last_trade_size: Decimal | None = None
    ts: int | None = None
    ts_ms: int | None = None
    time: str | None = None


@attrs.frozen(kw_only=True)
class Trade(Message):
    """``trade``: a public execution. ``yes_price + no_price == 1``."""

    market_ticker: str | None = None
    yes_price: Decimal | None = None
    count: Decimal | None = None
    no_price: Decimal | None = None
    trade_id: str | None = None
    taker_side: str | None = None
    taker_outcome_side: str | None = None
    taker_book_side: str | None = None
    is_block_trade: bool | None = None
    ts: int | None = None
    ts_ms: int | None = None


@attrs.frozen(kw_only=True)
class Fill(Message):
    """``fill``: one of your orders traded. ``post_position`` is the signed net position after.

    Every field may be None: a fill is never dropped for a missing field (see ``missing``).
    """

    market_ticker: str | None = None
    yes_price: Decimal | None = None
    count: Decimal | None = None
    no_price: Decimal | None = None
    trade_id: str | None = None
    order_id: str | None = None
    client_order_id: str | None = None
    exchange_index: int | None = None
    is_taker: bool | None = None
    side: str | None = None
    action: str | None = None
    purchased_side: str | None = None
    outcome_side: str | None = None
    book_side: str | None = None
    fee_cost: Decimal | None = None
    post_position: Decimal | None = None
    subaccount: int | None = None
    ts: int | None = None
    ts_ms: int | None = None
    recovered: bool = attrs.field(default=False, eq=False)
    """True when the client read this message back over REST after a reconnect instead of
    receiving it live (docs/architecture.md, 'Fills and orders across reconnects'). How it
    arrived, not what it says: not compared."""


@attrs.frozen(kw_only=True)
class MarketPosition(Message):
    """``market_position``: your position in one market; money fields in dollars. Every
    field may be None (see ``missing``)."""

    market_ticker: str | None = None
    position: Decimal | None = None
    user_id: str | None = None
    position_cost: Decimal | None = None
    realized_pnl: Decimal | None = None
    fees_paid: Decimal | None = None
    position_fee_cost: Decimal | None = None
    volume: Decimal | None = None
    subaccount: int | None = None
    recovered: bool = attrs.field(default=False, eq=False)
    """True when the client read this message back over REST after a reconnect instead of
    receiving it live (docs/architecture.md, 'Fills and orders across reconnects'). How it
    arrived, not what it says: not compared."""


@attrs.frozen(kw_only=True)
class UserOrder(Message):
    """``user_order``: one of your orders changed. The wire names the market ``ticker``;
    ``market_ticker`` is an alias so routing can read it uniformly. Every field may be None
    (see ``missing``).

    ``last_update_reason`` is an open set of strings: the values Kalshi documents are in
    :data:`LAST_UPDATE_REASONS`, and any other value is passed through unchanged.
    """

    order_id: str | None = None
    ticker: str | None = None
    user_id: str | None = None
    client_order_id: str | None = None
    order_group_id: str | None = None
    exchange_index: int | None = None
    status: str | None = None
    side: str | None = None
    is_yes: bool | None = None
    outcome_side: str | None = None
    book_side: str | None = None
    yes_price: Decimal | None = None
    no_price: Decimal | None = None
    fill_count: Decimal | None = None
    remaining_count: Decimal | None = None
    initial_count: Decimal | None = None
    taker_fill_cost: Decimal | None = None
    maker_fill_cost: Decimal | None = None
    taker_fees: Decimal | None = None
    maker_fees: Decimal | None = None
    self_trade_prevention_type: str | None = None
    last_update_reason: str | None = None
    created_time: str | None = None
    created_ts_ms: int | None = None
    last_updated_time: str | None = None
    last_updated_ts_ms: int | None = None
    expiration_time: str | None = None
    expiration_ts_ms: int | None = None
    subaccount_number: int | None = None
    recovered: bool = attrs.field(default=False, eq=False)
    """True when the client read this message back over REST after a reconnect instead of
    receiving it live (docs/architecture.md, 'Fills and orders across reconnects'). How it
    arrived, not what it says: not compared."""

    @property
    def market_ticker(self) -> str | None:
        """Same as ``ticker``."""
        return self.ticker


@attrs.frozen(kw_only=True)
class OrderGroupUpdate(Message):
    """``order_group_updates``: ``event_type`` created/triggered/reset/deleted/limit_updated."""

    event_type: str | None = None
    order_group_id: str | None = None
    contracts_limit: Decimal | None = None
    ts_ms: int | None = None


# --- lifecycle -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PriceRange:
    """One band of a market's tick grid: prices ``start``..``end`` in steps of ``step``."""

    start: Decimal | None = None
    end: Decimal | None = None
    step: Decimal | None = None


@attrs.frozen(kw_only=True)
class _MarketLifecycleBase(Message):
    """Fields shared by the two market lifecycle channels; ``event_type`` picks the subset."""

    market_ticker: str | None = None
    event_type: str | None = None
    exchange_index: int | None = None
    open_ts: int | None = None
    close_ts: int | None = None
    is_deactivated: bool | None = None
    result: str | None = None
    determination_ts: int | None = None
    settlement_value: Decimal | None = None
    settled_ts: int | None = None
    additional_metadata: Mapping[str, Any] | None = _mapping_field()
    price_level_structure: str | None = None
    price_ranges: tuple[PriceRange, ...] | None = None
    strike_type: str | None = None
    floor_strike: Decimal | None = None
    cap_strike: Decimal | None = None
    custom_strike: Mapping[str, Any] | None = _mapping_field()
    yes_sub_title: str | None = None


@attrs.frozen(kw_only=True)
class MarketLifecycle(_MarketLifecycleBase):
    """``market_lifecycle_v2``: a (non-combo) market was created, paused, settled, ..."""


@attrs.frozen(kw_only=True)
class MultivariateMarketLifecycle(_MarketLifecycleBase):
    """``multivariate_market_lifecycle``: the same events for combo (``KXMVE*``) markets."""


@attrs.frozen(kw_only=True)
class EventLifecycle(Message):
    """``event_lifecycle``: an event was created. ``subtitle`` also reads legacy ``sub_title``."""

    event_ticker: str | None = None
    title: str | None = None
    subtitle: str | None = None
    collateral_return_type: str | None = None
    series_ticker: str | None = None
    strike_date: int | None = None
    strike_period: str | None = None
    exchange_index: int | None = None


@attrs.frozen(kw_only=True)
class EventFeeUpdate(Message):
    """``event_fee_update``: fee override set on an event (both None when cleared)."""

    event_ticker: str | None = None
    fee_type_override: str | None = None
    fee_multiplier_override: Decimal | None = None


# --- communications (RFQs and quotes) -----------------------------------------------------


@attrs.frozen(kw_only=True)
class MveLeg:
    """One leg of a combo (MVE) RFQ."""

    event_ticker: str | None = None
    market_ticker: str | None = None
    side: str | None = None
    yes_settlement_value: Decimal | None = None


@attrs.frozen(kw_only=True)
class _RfqMessage(Message):
    """Fields shared by ``rfq_created`` and ``rfq_deleted``. ``id`` is the RFQ id (the wire's
    ``msg.id``, a string), not a command id."""

    id: str | None = None
    creator_id: str | None = None
    market_ticker: str | None = None
    event_ticker: str | None = None
    contracts: Decimal | None = None
    target_cost: Decimal | None = None
    mve_collection_ticker: str | None = None
    mve_selected_legs: tuple[MveLeg, ...] | None = None

    @property
    def creator_obscured(self) -> bool:
        """True when ``creator_id`` hides the creator (see :func:`is_obscured_id`)."""
        return is_obscured_id(self.creator_id)


@attrs.frozen(kw_only=True)
class RfqCreated(_RfqMessage):
    """``rfq_created``: a request for quote (all users see it unless ``user_filter``)."""

    created_ts: str | None = None


@attrs.frozen(kw_only=True)
class RfqDeleted(_RfqMessage):
    """``rfq_deleted``."""

    deleted_ts: str | None = None


@attrs.frozen(kw_only=True)
class _QuoteMessage(Message):
    """Fields shared by the quote messages (sent to the quote and RFQ creators only)."""

    quote_id: str | None = None
    rfq_id: str | None = None
    quote_creator_id: str | None = None
    rfq_creator_id: str | None = None
    market_ticker: str | None = None
    event_ticker: str | None = None
    subaccount: int | None = None

    @property
    def quote_creator_obscured(self) -> bool:
        """True when ``quote_creator_id`` hides the quoter (see :func:`is_obscured_id`)."""
        return is_obscured_id(self.quote_creator_id)

    @property
    def rfq_creator_obscured(self) -> bool:
        """True when ``rfq_creator_id`` hides the RFQ's creator or is absent (see
        :func:`is_obscured_id`)."""
        return is_obscured_id(self.rfq_creator_id)


@attrs.frozen(kw_only=True)
class _PricedQuote(_QuoteMessage):
    yes_bid: Decimal | None = None
    no_bid: Decimal | None = None


@attrs.frozen(kw_only=True)
class QuoteCreated(_PricedQuote):
    """``quote_created``: a quote on an RFQ."""

    yes_contracts_offered: Decimal | None = None
    no_contracts_offered: Decimal | None = None
    rfq_target_cost: Decimal | None = None
    created_ts: str | None = None


@attrs.frozen(kw_only=True)
class QuoteAccepted(_PricedQuote):
    """``quote_accepted``: the RFQ creator accepted ``contracts_accepted`` on ``accepted_side``."""

    accepted_side: str | None = None
    contracts_accepted: Decimal | None = None


@attrs.frozen(kw_only=True)
class QuoteExecuted(_QuoteMessage):
    """``quote_executed``: sent to both parties with their own ``order_id``; join with fills."""

    order_id: str | None = None
    client_order_id: str | None = None
    executed_ts: str | None = None


# --- reference prices ----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CfbenchmarksValue(Message):
    """``cfbenchmarks_value`` and ``cfbenchmarks_value_5hz`` (see ``type``): one index tick.

    ``value_usd`` is set on the 5 Hz feed; the 1 Hz feed carries its value in ``avg_60s_data``.
    ``data`` is CF Benchmarks' own JSON, kept as the string the server sent.
    """

    index_id: str | None = None
    value_usd: Decimal | None = None
    source_ts_ms: int | None = None
    received_at: int | None = None
    data: str | None = None
    avg_60s_data: Mapping[str, Any] | None = _mapping_field()
    last_60s_windowed_average_15min: Mapping[str, Any] | None = _mapping_field()


@attrs.frozen(kw_only=True)
class CfbenchmarksIndexList(Message):
    """Reply to the ``indexlist`` action (``cfbenchmarks_value[_5hz]_indexlist``)."""

    id: int | None = None
    index_ids: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class PythValue(Message):
    """``pyth_value``: one Pyth reference price."""

    underlying_ticker: str | None = None
    value_usd: Decimal | None = None
    source_ts_ms: int | None = None
    received_at: int | None = None


@attrs.frozen(kw_only=True)
class PythUnderlyingList(Message):
    """Reply to the ``underlying_list`` action (``pyth_value_underlying_list``)."""

    id: int | None = None
    underlying_tickers: tuple[str, ...] = ()
