"""Immutable copies of the account views, REST models read as WebSocket messages, and the
scope of a private subscription (:class:`AccountFilter`).

:class:`RestingOrders` (``client.orders()``) and :class:`Positions` (``client.positions()``)
are read-only mappings with the view's ``state`` at the time of the copy; immutable, safe to
share between threads, picklable. :func:`user_order_from_rest` and :func:`position_from_rest`
turn ``GET /portfolio/orders`` and ``GET /portfolio/positions`` results into the
``user_order`` / ``market_position`` messages they stand for, by the naming rule both sides
follow (docs/protocol.md, 'Fixed-point values'): same attribute names, except REST's
``last_update_*`` (WebSocket ``last_updated_*``) and ``market_exposure`` (WebSocket
``position_cost``). Pure: no I/O, no state.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

import attrs

from .account import Order, Position
from .models import MarketPosition, Message, UserOrder

__all__ = [
    "ACCOUNT_STATES",
    "AccountFilter",
    "PositionKey",
    "Positions",
    "RestingOrders",
    "position_from_rest",
    "user_order_from_rest",
]

ACCOUNT_STATES = frozenset({"live", "stale", "reconciling"})
"""``live``: in step with the stream. ``stale``: disconnected, the content is the last known.
``reconciling``: a REST read is in flight (also while it is retried after a failure)."""

PositionKey = tuple[str, int]
"""(market_ticker, subaccount) -- a message without a subaccount is subaccount 0."""


def _tickers(value: Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset((value,))  # a bare ticker, not its letters
    return frozenset(value)


@attrs.frozen(kw_only=True)
class AccountFilter:
    """What a private subscription covers: ``market_tickers`` (None = every market) and
    ``subaccount`` (None = every subaccount). Applied to what REST reads back, because REST
    may return more than the subscription would have delivered.

    A value the message does not carry (None) is admitted: a message about money is never
    dropped for a missing field, and REST was already asked for the same scope.
    """

    market_tickers: frozenset[str] | None = attrs.field(default=None, converter=_tickers)
    subaccount: int | None = None

    def admits(self, market_ticker: str | None, subaccount: int | None) -> bool:
        """True unless the market or subaccount is known and outside the filter."""
        if (
            self.market_tickers is not None
            and market_ticker is not None
            and market_ticker not in self.market_tickers
        ):
            return False
        return self.subaccount is None or subaccount is None or subaccount == self.subaccount


_K = TypeVar("_K")
_V = TypeVar("_V", UserOrder, MarketPosition)

# -- REST models as WebSocket messages (the naming rule: same names, two renames) ---------

_ORDER_RENAMES = {
    "last_updated_time": "last_update_time",
    "last_updated_ts_ms": "last_update_ts_ms",
}
_POSITION_RENAMES = {"market_ticker": "ticker", "position_cost": "market_exposure"}
_BASE = frozenset(field.name for field in attrs.fields(Message))


def _pairs(target: type, source: type, renames: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    have = attrs.fields_dict(source)
    return tuple(
        (field.name, renames.get(field.name, field.name))
        for field in attrs.fields(target)
        if field.name not in _BASE and renames.get(field.name, field.name) in have
    )


_ORDER_PAIRS = _pairs(UserOrder, Order, _ORDER_RENAMES)
_POSITION_PAIRS = _pairs(MarketPosition, Position, _POSITION_RENAMES)


def user_order_from_rest(order: Order) -> UserOrder:
    """The ``user_order`` message a REST order stands for, with ``recovered=True``: every
    field of the same name (``last_update_*`` -> ``last_updated_*``); ``is_yes``, which REST
    lacks, is None. ``raw`` is the REST object."""
    values = {name: getattr(order, source) for name, source in _ORDER_PAIRS}
    missing = tuple(name for name in ("order_id", "ticker") if values[name] is None)
    return UserOrder(type="user_order", raw=order.raw, missing=missing, recovered=True, **values)


def position_from_rest(position: Position, subaccount: int) -> MarketPosition:
    """The ``market_position`` message a REST position of ``subaccount`` stands for, with
    ``recovered=True``: ``ticker`` -> ``market_ticker``, ``market_exposure`` ->
    ``position_cost``; ``user_id``, ``volume`` and ``position_fee_cost``, which REST lacks,
    are None. ``raw`` is the REST object."""
    values = {name: getattr(position, source) for name, source in _POSITION_PAIRS}
    missing = tuple(name for name in ("market_ticker", "position") if values[name] is None)
    return MarketPosition(
        type="market_position",
        raw=position.raw,
        missing=missing,
        recovered=True,
        subaccount=subaccount,
        **values,
    )


def _freeze(value: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(value))


# -- immutable copies ---------------------------------------------------------------------


@attrs.frozen(kw_only=True, repr=False)
class _Snapshot(Mapping[_K, _V]):
    """A read-only mapping plus the view's ``state`` at the time of the copy."""

    items_: Mapping[_K, _V] = attrs.field(converter=_freeze, hash=False, alias="items")
    state: str = attrs.field(validator=attrs.validators.in_(ACCOUNT_STATES))

    def __getitem__(self, key: _K) -> _V:
        return self.items_[key]

    def __iter__(self) -> Iterator[_K]:
        return iter(self.items_)

    def __len__(self) -> int:
        return len(self.items_)

    @property
    def is_live(self) -> bool:
        """True when the view is in step with the stream (state == "live")."""
        return self.state == "live"

    def __reduce__(self) -> tuple[Any, ...]:
        # A mappingproxy cannot be pickled: rebuild from a plain dict.
        return (_restore, (type(self), dict(self.items_), self.state))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} entries, state={self.state!r})"


def _restore(cls: type[_Snapshot[Any, Any]], items: dict[Any, Any], state: str) -> Any:
    return cls(items=items, state=state)


@attrs.frozen(kw_only=True, repr=False)
class RestingOrders(_Snapshot[str, UserOrder]):
    """``client.orders()``: resting orders by ``order_id``, each its latest ``user_order``."""


@attrs.frozen(kw_only=True, repr=False)
class Positions(_Snapshot[PositionKey, MarketPosition]):
    """``client.positions()``: the latest ``market_position`` per (market_ticker, subaccount);
    a message without a subaccount counts as subaccount 0 (the primary account)."""

    def get_position(self, market_ticker: str, subaccount: int = 0) -> MarketPosition | None:
        """The position in one market of one subaccount, or None."""
        return self.items_.get((market_ticker, subaccount))
