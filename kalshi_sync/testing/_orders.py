"""Records of the fake exchange's matching engine: orders, fills, trades, book changes.

Pure data (frozen dataclasses) and the two rules every part of the engine shares: the fee
formula and the mapping between the V2 ``side`` (``bid``/``ask`` on the YES book) and the
leg an order rests on. Kalshi's book is bids on both legs: a V2 ``bid`` at YES price ``p``
is a YES bid at ``p``; an ``ask`` at ``p`` (sell YES) is a NO bid at ``1 - p``. See
docs/trading.md, "Buy or sell, YES or NO, on the V2 wire".

Money and counts are :class:`~decimal.Decimal` throughout; nothing here is a float.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from typing import Literal, TypeAlias

__all__ = [
    "ANONYMOUS",
    "STP_TYPES",
    "TIME_IN_FORCE",
    "BookChange",
    "EngineError",
    "Event",
    "FeeSchedule",
    "Fill",
    "OrderState",
    "Outcome",
    "PositionState",
    "Side",
    "Status",
    "Trade",
    "evolve",
    "leg_of",
    "leg_price",
]

Side = Literal["bid", "ask"]
Leg = Literal["yes", "no"]
Status = Literal["resting", "canceled", "executed"]

ONE = Decimal(1)
ZERO = Decimal(0)

ANONYMOUS: None = None
"""The owner of "the market": liquidity from ``set_book``/``apply_delta`` and orders a test
submits for nobody in particular. Anonymous orders keep no fills, positions or history, and
self-trade prevention never applies between them (they stand for many different traders)."""

TIME_IN_FORCE = ("good_till_canceled", "immediate_or_cancel", "fill_or_kill")
STP_TYPES = ("taker_at_cross", "maker")

_AVG_QUANTUM = Decimal("0.000001")  # averages are reported with the wire's 6 decimals


def evolve(order: OrderState, **changes: object) -> OrderState:
    """A copy of ``order`` with ``changes`` (field names of OrderState only).

    The engine makes a new version on every change, scripted liquidity thousands of times
    a second; ``dataclasses.replace`` re-runs ``__init__`` through introspection and was
    90% of that cost. Copying the instance dict is equivalent for this plain dataclass."""
    unknown = changes.keys() - order.__dict__.keys()
    if unknown:
        raise TypeError(f"OrderState has no field(s) {sorted(unknown)}")
    new = object.__new__(OrderState)
    new.__dict__.update(order.__dict__, **changes)
    return new


def leg_of(side: Side) -> Leg:
    """The leg an order of this V2 side rests on: bid -> YES bids, ask -> NO bids."""
    return "yes" if side == "bid" else "no"


def leg_price(side: Side, yes_price: Decimal) -> Decimal:
    """The price on the order's own leg (what its owner pays per contract)."""
    return yes_price if side == "bid" else ONE - yes_price


class EngineError(Exception):
    """A refused action: ``status`` is the HTTP status, ``code`` Kalshi's error code."""

    def __init__(self, status: int, code: str, message: str, details: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


@dataclass(frozen=True)
class FeeSchedule:
    """Per-fill fees: ``ceil(rate x count x P x (1 - P))`` to ``quantum``, P the YES price.

    Kalshi's published trading-fee formula is ``0.07 x C x P x (1 - P)`` rounded up; a real
    demo fill of one contract at 0.52 was charged 0.017500, i.e. rounded up to $0.0001, which
    is the default ``quantum``. Makers pay ``maker_rate`` (0 by default; some series charge
    makers 0.0175). The fake rounds each fill separately.
    """

    taker_rate: Decimal = Decimal("0.07")
    maker_rate: Decimal = ZERO
    quantum: Decimal = Decimal("0.0001")

    def fee(self, count: Decimal, yes_price: Decimal, *, is_taker: bool) -> Decimal:
        rate = self.taker_rate if is_taker else self.maker_rate
        raw = rate * count * yes_price * (ONE - yes_price)
        return raw.quantize(self.quantum, rounding=ROUND_CEILING)


@dataclass(frozen=True)
class OrderState:
    """One version of an order. The engine replaces it on every change and emits the new
    version as an event (the ``user_order`` message); ``last_update_reason`` uses Kalshi's
    enum (``Trade``, ``Amend``, ``Decrease``, ``SelfTradeCancel``, ``PostOnlyCrossCancel``,
    ``ExpiryCancel``, ``ReduceOnlyCancel``) or None (placed, or cancelled by its owner)."""

    order_id: str
    owner: str | None
    subaccount: int
    client_order_id: str | None
    ticker: str
    side: Side
    price: Decimal  # YES price
    time_in_force: str
    self_trade_prevention_type: str
    initial_count: Decimal
    created_ts_ms: int
    status: Status = "resting"
    fill_count: Decimal = ZERO
    remaining_count: Decimal = ZERO
    post_only: bool = False
    reduce_only: bool = False
    expiration_time: int | None = None  # Unix seconds
    order_group_id: str | None = None
    cancel_order_on_pause: bool = False
    taker_fill_cost: Decimal = ZERO
    maker_fill_cost: Decimal = ZERO
    taker_fees: Decimal = ZERO
    maker_fees: Decimal = ZERO
    last_update_ts_ms: int = 0
    last_update_reason: str | None = None

    @property
    def leg(self) -> Leg:
        return leg_of(self.side)

    @property
    def leg_price(self) -> Decimal:
        return leg_price(self.side, self.price)

    @property
    def outcome_side(self) -> Leg:
        return self.leg

    @property
    def no_price(self) -> Decimal:
        return ONE - self.price


@dataclass(frozen=True)
class Fill:
    """One side of one execution, for a named account. ``trade_id`` equals the public
    trade's id and is also the fill's ``fill_id`` (an account is on one side of a trade)."""

    trade_id: str
    order_id: str
    client_order_id: str | None
    owner: str
    subaccount: int
    ticker: str
    side: Side  # the order's V2 side
    yes_price: Decimal
    count: Decimal
    is_taker: bool
    fee_cost: Decimal
    post_position: Decimal
    ts_ms: int

    @property
    def fill_id(self) -> str:
        return self.trade_id

    @property
    def outcome_side(self) -> Leg:
        return leg_of(self.side)

    @property
    def no_price(self) -> Decimal:
        return ONE - self.yes_price


@dataclass(frozen=True)
class Trade:
    """A public execution: ``taker_side`` is the taker's V2 side."""

    trade_id: str
    ticker: str
    yes_price: Decimal
    count: Decimal
    taker_side: Side
    ts_ms: int

    @property
    def taker_outcome_side(self) -> Leg:
        return leg_of(self.taker_side)

    @property
    def no_price(self) -> Decimal:
        return ONE - self.yes_price


@dataclass(frozen=True)
class BookChange:
    """A change of resting contracts at one level: ``leg`` "yes"/"no", ``price`` on that
    leg (the ``orderbook_delta`` convention), and whose order caused it."""

    ticker: str
    leg: Leg
    price: Decimal
    delta: Decimal
    owner: str | None
    subaccount: int
    client_order_id: str | None
    ts_ms: int


@dataclass(frozen=True)
class PositionState:
    """An account's position in one market. ``position`` is signed (+ YES, - NO);
    ``position_cost`` is the cost of the contracts held (FIFO lots), ``position_fee_cost``
    the fees paid since the position was last flat; ``realized_pnl`` excludes fees."""

    owner: str
    subaccount: int
    ticker: str
    position: Decimal = ZERO
    position_cost: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO
    position_fee_cost: Decimal = ZERO
    volume: Decimal = ZERO
    total_traded: Decimal = ZERO
    last_updated_ts_ms: int = 0


Event: TypeAlias = OrderState | Fill | Trade | BookChange | PositionState


@dataclass(frozen=True)
class Outcome:
    """What one engine action did: the acted-on order's final version (None for actions
    on many orders), and every event in the order it happened. ``fill_count``,
    ``total_cost`` (YES price x count) and ``total_fees`` cover only this action's
    executions of that order (what the REST acknowledgement reports)."""

    order: OrderState | None
    events: tuple[Event, ...] = ()
    fill_count: Decimal = ZERO
    total_cost: Decimal = ZERO
    total_fees: Decimal = ZERO
    reduced_by: Decimal = ZERO  # contracts taken off the book by a cancel or decrease

    @property
    def average_fill_price(self) -> Decimal | None:
        """Volume-weighted YES price of this action's fills (6 decimals), None if none."""
        if not self.fill_count:
            return None
        return (self.total_cost / self.fill_count).quantize(_AVG_QUANTUM, ROUND_HALF_EVEN)

    @property
    def average_fee_paid(self) -> Decimal | None:
        """Fee per contract of this action's fills (6 decimals), None if none."""
        if not self.fill_count:
            return None
        return (self.total_fees / self.fill_count).quantize(_AVG_QUANTUM, ROUND_HALF_EVEN)

    @property
    def fills(self) -> list[Fill]:
        return [e for e in self.events if isinstance(e, Fill)]

    @property
    def trades(self) -> list[Trade]:
        return [e for e in self.events if isinstance(e, Trade)]

    @property
    def book_changes(self) -> list[BookChange]:
        return [e for e in self.events if isinstance(e, BookChange)]

    @property
    def order_updates(self) -> list[OrderState]:
        return [e for e in self.events if isinstance(e, OrderState)]

    @property
    def position_updates(self) -> list[PositionState]:
        return [e for e in self.events if isinstance(e, PositionState)]
