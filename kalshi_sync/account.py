"""Typed, immutable results of the trading and portfolio REST endpoints.

Same naming rule as the WebSocket messages in :mod:`kalshi_sync.models`: wire names with the
unit suffix dropped -- ``X_dollars`` -> ``X`` (Decimal dollars), ``X_fp`` -> ``X`` (Decimal
contracts). Money and counts are ``Decimal``, never float. Every field the exchange may leave
out is optional and reads as None, so a response about money is never dropped for a missing
field; the decoded JSON object is kept in ``.raw`` (not compared, not shown). Fills over REST
are the same :class:`~kalshi_sync.models.Fill` the WebSocket delivers.

Decoding lives in :mod:`kalshi_sync._rest_decoders`; this module only declares the shapes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from .errors import KalshiError

__all__ = [
    "Balance",
    "BatchCancelResult",
    "BatchOrderResult",
    "CancelAck",
    "ExchangeIndexStatus",
    "ExchangeStatus",
    "HistoricalCutoff",
    "Order",
    "OrderAck",
    "Position",
    "ShardBalance",
]


@attrs.frozen(kw_only=True)
class OrderAck:
    """The exchange's answer to a create, amend or decrease.

    ``fill_count`` is what filled during the request, ``remaining_count`` what rests after it;
    ``average_fill_price`` is the YES price of those fills (None when nothing filled).
    ``from_lookup`` is True when the create's own answer was lost and this ack was rebuilt from
    the order found by its ``client_order_id`` (then ``fill_count``/``remaining_count`` are the
    order's totals at the time of the lookup).
    """

    order_id: str
    client_order_id: str | None = None
    fill_count: Decimal | None = None
    remaining_count: Decimal | None = None
    average_fill_price: Decimal | None = None
    average_fee_paid: Decimal | None = None
    ts_ms: int | None = None
    from_lookup: bool = False
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class CancelAck:
    """A cancel's answer: ``reduced_by`` contracts stopped resting."""

    order_id: str
    client_order_id: str | None = None
    reduced_by: Decimal | None = None
    ts_ms: int | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class BatchOrderResult:
    """One item of :meth:`~kalshi_sync.RestClient.batch_create_orders`, in request order.

    Exactly one of ``ack`` and ``error`` is set: a batch is not all-or-nothing, and an item
    Kalshi refused keeps its error here instead of raising for the whole batch.
    """

    index: int
    client_order_id: str
    ack: OrderAck | None = None
    error: KalshiError | None = attrs.field(default=None, eq=False)

    @property
    def ok(self) -> bool:
        """True when the order was placed."""
        return self.ack is not None


@attrs.frozen(kw_only=True)
class BatchCancelResult:
    """One item of :meth:`~kalshi_sync.RestClient.batch_cancel_orders`, in request order."""

    index: int
    order_id: str
    ack: CancelAck | None = None
    error: KalshiError | None = attrs.field(default=None, eq=False)

    @property
    def ok(self) -> bool:
        """True when the order was cancelled."""
        return self.ack is not None


@attrs.frozen(kw_only=True)
class Order:
    """One order as ``GET /portfolio/orders`` reports it.

    ``outcome_side`` is the outcome the order is long (``"yes"`` for buy-YES and sell-NO);
    ``book_side`` the same bit on the YES book (``"bid"`` = yes). ``yes_price``/``no_price`` are
    the order's price on each leg. Times are RFC 3339 strings as sent, plus ``*_ts_ms`` (Unix
    milliseconds) when they parse.
    """

    order_id: str
    ticker: str | None = None
    client_order_id: str | None = None
    user_id: str | None = None
    status: str | None = None
    type: str | None = None
    outcome_side: str | None = None
    book_side: str | None = None
    side: str | None = None
    action: str | None = None
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
    order_group_id: str | None = None
    cancel_order_on_pause: bool | None = None
    subaccount_number: int | None = None
    exchange_index: int | None = None
    created_time: str | None = None
    created_ts_ms: int | None = None
    last_update_time: str | None = None
    last_update_ts_ms: int | None = None
    expiration_time: str | None = None
    expiration_ts_ms: int | None = None
    historical: bool = False
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class Position:
    """Your position in one market (``GET /portfolio/positions``, ``market_positions``).

    ``position`` is signed: positive = YES contracts, negative = NO. ``market_exposure`` is the
    cost of the position in dollars (the WebSocket ``market_position`` calls it
    ``position_cost``).
    """

    ticker: str | None = None
    position: Decimal | None = None
    exchange_index: int | None = None
    total_traded: Decimal | None = None
    market_exposure: Decimal | None = None
    realized_pnl: Decimal | None = None
    fees_paid: Decimal | None = None
    last_updated_ts: str | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class ShardBalance:
    """Available balance on one exchange shard, in dollars."""

    exchange_index: int | None = None
    balance: Decimal | None = None


@attrs.frozen(kw_only=True)
class Balance:
    """``GET /portfolio/balance``: available cash and portfolio value, in Decimal dollars.

    The wire gives ``balance`` and ``portfolio_value`` in integer cents; they are converted.
    ``shards`` is the per-shard breakdown (empty when the exchange omits it).
    """

    balance: Decimal | None = None
    portfolio_value: Decimal | None = None
    updated_ts: int | None = None
    shards: tuple[ShardBalance, ...] = ()
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class ExchangeIndexStatus:
    """The state of one exchange shard (``exchange_index_statuses[]``)."""

    exchange_index: int | None = None
    description: str | None = None
    exchange_active: bool | None = None
    trading_active: bool | None = None
    intra_exchange_transfers_active: bool | None = None


@attrs.frozen(kw_only=True)
class ExchangeStatus:
    """``GET /exchange/status``.

    The top-level flags describe exchange index 0 only; ``indexes`` has one entry per shard
    in the order sent (empty when the exchange gives no breakdown). :meth:`index` looks one up.
    """

    exchange_active: bool | None = None
    trading_active: bool | None = None
    intra_exchange_transfers_active: bool | None = None
    exchange_estimated_resume_time: str | None = None
    indexes: tuple[ExchangeIndexStatus, ...] = ()
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    def index(self, exchange_index: int) -> ExchangeIndexStatus | None:
        """The status of shard ``exchange_index``, or None when it is not listed."""
        for entry in self.indexes:
            if entry.exchange_index == exchange_index:
                return entry
        return None


@attrs.frozen(kw_only=True)
class HistoricalCutoff:
    """``GET /historical/cutoff``: RFC 3339 strings as sent, and Unix seconds when they parse.

    Fills before ``trades_created`` and closed orders last updated before ``orders_updated`` are
    served only by the ``/historical/...`` endpoints.
    """

    trades_created_ts: str | None = None
    orders_updated_ts: str | None = None
    market_settled_ts: str | None = None
    trades_created: int | None = None
    orders_updated: int | None = None
    market_settled: int | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
