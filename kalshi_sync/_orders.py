"""Order requests, sans-I/O: validation and the conversion to Kalshi's V2 order wire.

A trader thinks in *buy* or *sell*, *YES* or *NO*, at a price on that leg. The V2 order
endpoints quote everything on the YES book: ``side`` is ``bid`` (buy YES) or ``ask`` (sell YES)
and ``price`` is the YES price, so buying NO at 0.40 is ``ask`` at 0.60 (docs/trading.md,
"Buy or sell, YES or NO, on the V2 wire"). :func:`to_wire_side` does that mapping and
:func:`from_wire_side` undoes it.

Every check that can be made before sending is made here, so bad input is a ``TypeError`` or
``ValueError`` and nothing reaches the network: floats for money or counts (a float cannot hold
0.1 exactly), prices outside (0, 1) or finer than $0.0001, counts that are not positive or finer
than 0.01, unknown enum values, and the combinations Kalshi refuses (``reduce_only`` without
immediate-or-cancel, ``expiration_time`` without good-till-canceled). No I/O, no state.
"""

from __future__ import annotations

import datetime as _dt
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

__all__ = [
    "ACTIONS",
    "SELF_TRADE_PREVENTION_TYPES",
    "SIDES",
    "TIME_IN_FORCE",
    "OrderRequest",
    "cancel_item",
    "check_client_order_id",
    "check_subaccount",
    "check_ticker",
    "count_text",
    "from_wire_side",
    "new_client_order_id",
    "price_text",
    "to_count",
    "to_price",
    "to_wire_side",
    "unix_seconds",
]

ACTIONS = ("buy", "sell")
SIDES = ("yes", "no")
TIME_IN_FORCE = ("good_till_canceled", "immediate_or_cancel", "fill_or_kill")
# taker_at_cross first: the default, the value in Kalshi's own request example.
SELF_TRADE_PREVENTION_TYPES = ("taker_at_cross", "maker")

_ONE = Decimal(1)
_PRICE_STEP = Decimal("0.0001")  # the finest price Kalshi accepts in a request (4 dp)
_COUNT_STEP = Decimal("0.01")  # the finest count (fractional contracts, 2 dp)
# Kalshi's client_order_id rule: at most 64 of these characters (UUIDs fit).
_CLIENT_ORDER_ID = re.compile(r"[A-Za-z0-9_:+=/\-]{1,64}")


def _decimal(value: object, what: str) -> Decimal:
    if isinstance(value, float):
        raise TypeError(
            f"{what} must be a str, int or Decimal, not a float ({value!r} is not exact in "
            f"binary): write {what}={str(value)!r}"
        )
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise TypeError(f"{what} must be a str, int or Decimal, got {type(value).__name__}")
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise ValueError(f"{what} is not a number: {value!r:.40}") from None
    if not number.is_finite():
        raise ValueError(f"{what} must be finite, got {value!r}")
    return number


def to_price(value: object, what: str = "price") -> Decimal:
    """``value`` as a dollar price strictly between 0 and 1 on the $0.0001 grid."""
    price = _decimal(value, what)
    if not 0 < price < _ONE:
        raise ValueError(f"{what} must be between 0 and 1 dollars (exclusive), got {value!r}")
    if price % _PRICE_STEP:
        raise ValueError(f"{what} {value!r} is finer than $0.0001, the smallest price step")
    return price


def to_count(value: object, what: str = "count", *, allow_zero: bool = False) -> Decimal:
    """``value`` as a positive contract count (``allow_zero``: >= 0) on the 0.01 grid."""
    count = _decimal(value, what)
    if count < 0 or (count == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "positive"
        raise ValueError(f"{what} must be {bound}, got {value!r}")
    if count % _COUNT_STEP:
        raise ValueError(f"{what} {value!r} is finer than 0.01 contracts, the smallest step")
    return count


def price_text(price: Decimal) -> str:
    """A price as the 4-decimal dollar string the V2 wire takes (``"0.6000"``)."""
    return format(price.quantize(_PRICE_STEP), "f")


def count_text(count: Decimal) -> str:
    """A count as the 2-decimal fixed-point string the V2 wire takes (``"10.00"``)."""
    return format(count.quantize(_COUNT_STEP), "f")


def to_wire_side(action: str, side: str, price: Decimal) -> tuple[str, Decimal]:
    """(V2 book side, YES price) for ``action`` on ``side`` at ``price`` on that leg.

    Buying YES is a bid and selling YES an ask at the same price; buying NO is selling YES
    (an ask) and selling NO is buying YES (a bid), at the complementary YES price ``1 - price``.
    """
    _choice(action, ACTIONS, "action")
    _choice(side, SIDES, "side")
    if side == "yes":
        return ("bid" if action == "buy" else "ask"), price
    return ("ask" if action == "buy" else "bid"), _ONE - price


def from_wire_side(book_side: str, yes_price: Decimal, side: str) -> tuple[str, Decimal]:
    """(action, price on ``side``'s leg) for a V2 ``book_side`` at ``yes_price``.

    The inverse of :func:`to_wire_side` for a caller who names the leg they trade.
    """
    _choice(book_side, ("bid", "ask"), "book_side")
    _choice(side, SIDES, "side")
    if side == "yes":
        return ("buy" if book_side == "bid" else "sell"), yes_price
    return ("buy" if book_side == "ask" else "sell"), _ONE - yes_price


def new_client_order_id() -> str:
    """A fresh idempotency key for one order: a random UUID."""
    return str(uuid.uuid4())


def unix_seconds(value: object, what: str = "expiration_time") -> int:
    """An int Unix time in seconds, or a timezone-aware datetime, as int seconds."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"{what} must be timezone-aware (e.g. tzinfo=datetime.timezone.utc)")
        return int(value.timestamp())
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be int Unix seconds or an aware datetime, got {value!r}")
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value}")
    return value


def _choice(value: object, allowed: tuple[str, ...], what: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def check_ticker(value: object, what: str = "ticker") -> str:
    """``value`` if it is a non-empty string (a ticker or an order id), else ValueError."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value


def check_client_order_id(value: object, what: str = "client_order_id") -> str:
    """``value`` if it is a valid client order id (Kalshi: <= 64 of ``[A-Za-z0-9_:+=/-]``)."""
    if not isinstance(value, str) or not _CLIENT_ORDER_ID.fullmatch(value):
        raise ValueError(
            f"{what} must be 1-64 characters of letters, digits and _ : + = / -, got {value!r:.80}"
        )
    return value


def _client_order_id(value: object) -> str:
    return new_client_order_id() if value is None else check_client_order_id(value)


def check_subaccount(value: object) -> int | None:
    """``value`` if it is None or a subaccount number (0 = primary, up to 63)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 63:
        raise ValueError(f"subaccount must be an int from 0 (primary) to 63, got {value!r}")
    return value


def _optional_expiration(value: object) -> int | None:
    return None if value is None else unix_seconds(value)


def _optional_group(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"order_group_id must be a non-empty string, got {value!r}")
    return value


def _action(value: object) -> str:
    return _choice(value, ACTIONS, "action")


def _side(value: object) -> str:
    return _choice(value, SIDES, "side")


def _time_in_force(value: object) -> str:
    return _choice(value, TIME_IN_FORCE, "time_in_force")


def _self_trade_prevention(value: object) -> str:
    return _choice(value, SELF_TRADE_PREVENTION_TYPES, "self_trade_prevention_type")


def _flag(what: str) -> Any:
    def convert(value: object) -> bool:
        if not isinstance(value, bool):
            raise TypeError(f"{what} must be True or False, got {value!r}")
        return value

    return attrs.field(default=False, converter=convert)


@attrs.frozen(kw_only=True)
class OrderRequest:
    """One validated limit order, as the trader states it.

    ``price`` is in dollars on the leg named by ``side`` (buy NO at ``"0.40"``); ``count`` in
    contracts. Both accept ``str``, ``int`` or ``Decimal`` and refuse ``float``. A
    ``client_order_id`` is generated (uuid4) when not given and stays with this request: send the
    same request twice and Kalshi refuses the second as a duplicate, which is the point.
    Construction raises ``TypeError``/``ValueError`` for anything Kalshi would refuse on its face.
    """

    ticker: str = attrs.field(converter=check_ticker)
    action: str = attrs.field(converter=_action)
    side: str = attrs.field(converter=_side)
    count: Decimal = attrs.field(converter=to_count)
    price: Decimal = attrs.field(converter=to_price)
    time_in_force: str = attrs.field(default="good_till_canceled", converter=_time_in_force)
    client_order_id: str = attrs.field(default=None, converter=_client_order_id)
    post_only: bool = _flag("post_only")
    reduce_only: bool = _flag("reduce_only")
    cancel_order_on_pause: bool = _flag("cancel_order_on_pause")
    expiration_time: int | None = attrs.field(default=None, converter=_optional_expiration)
    order_group_id: str | None = attrs.field(default=None, converter=_optional_group)
    subaccount: int | None = attrs.field(default=None, converter=check_subaccount)
    self_trade_prevention_type: str = attrs.field(
        default="taker_at_cross", converter=_self_trade_prevention
    )

    def __attrs_post_init__(self) -> None:
        tif = self.time_in_force
        if self.reduce_only and tif != "immediate_or_cancel":
            raise ValueError(
                "reduce_only orders must be immediate_or_cancel (Kalshi rejects any other "
                f"time_in_force), got {tif}"
            )
        if self.expiration_time is not None and tif != "good_till_canceled":
            raise ValueError(
                "expiration_time needs time_in_force='good_till_canceled' (an expiring GTC "
                f"order), got {tif}"
            )
        if self.post_only and tif != "good_till_canceled":
            # A post-only order must rest to do anything; IOC/FOK never rest, so the pair could
            # only ever be cancelled. Our rule: refuse it rather than send an order that cannot
            # trade.
            raise ValueError(f"post_only orders must rest (good_till_canceled), got {tif}")

    @property
    def book_side(self) -> str:
        """``"bid"`` or ``"ask"`` on the YES book, as sent."""
        return to_wire_side(self.action, self.side, self.price)[0]

    @property
    def yes_price(self) -> Decimal:
        """The YES price sent on the wire (``1 - price`` for a NO order)."""
        return to_wire_side(self.action, self.side, self.price)[1]

    def to_wire(self) -> dict[str, Any]:
        """The ``POST /portfolio/events/orders`` body (also one batch item)."""
        book_side, yes_price = to_wire_side(self.action, self.side, self.price)
        body: dict[str, Any] = {
            "ticker": self.ticker,
            "client_order_id": self.client_order_id,
            "side": book_side,
            "count": count_text(self.count),
            "price": price_text(yes_price),
            "time_in_force": self.time_in_force,
            "self_trade_prevention_type": self.self_trade_prevention_type,
        }
        # Optional fields are sent only when set, so the wire shows exactly what was asked.
        if self.post_only:
            body["post_only"] = True
        if self.reduce_only:
            body["reduce_only"] = True
        if self.cancel_order_on_pause:
            body["cancel_order_on_pause"] = True
        if self.expiration_time is not None:
            body["expiration_time"] = self.expiration_time
        if self.order_group_id is not None:
            body["order_group_id"] = self.order_group_id
        if self.subaccount is not None:
            body["subaccount"] = self.subaccount
        return body

    @classmethod
    def coerce(cls, item: OrderRequest | Mapping[str, Any]) -> OrderRequest:
        """``item`` itself, or an OrderRequest built from a mapping of its fields."""
        if isinstance(item, OrderRequest):
            return item
        if isinstance(item, Mapping):
            return cls(**item)
        raise TypeError(f"a batch item must be an OrderRequest or a mapping, got {item!r:.60}")


def cancel_item(item: object, subaccount: int | None) -> dict[str, Any]:
    """One ``DELETE /portfolio/events/orders/batched`` entry from an order id, an
    ``(order_id, market_ticker)`` pair or a mapping with those keys (and ``subaccount``)."""
    market_ticker: object = None
    sub: object = subaccount
    if isinstance(item, str):
        order_id: object = item
    elif isinstance(item, tuple) and len(item) == 2:
        order_id, market_ticker = item
    elif isinstance(item, Mapping):
        unknown = set(item) - {"order_id", "market_ticker", "subaccount"}
        if unknown:
            raise ValueError(f"unknown cancel fields {sorted(unknown)}")
        order_id = item.get("order_id")
        market_ticker = item.get("market_ticker")
        sub = item.get("subaccount", subaccount)
    else:
        raise TypeError(
            f"a cancel item is an order id, (order_id, market_ticker) or a mapping: {item!r:.60}"
        )
    entry: dict[str, Any] = {"order_id": check_ticker(order_id, "order_id")}
    if market_ticker is not None:
        entry["market_ticker"] = check_ticker(market_ticker, "market_ticker")
    checked = check_subaccount(sub)
    if checked is not None:
        entry["subaccount"] = checked
    return entry
