"""Portfolio reads for RestClient: orders, fills, positions, balance, the historical cutoff.

List endpoints are **lazy** iterators: a page is fetched when the previous one is used up, so a
caller that stops early costs one request, and a server that repeats a cursor raises
ProtocolError instead of looping. With ``include_historical=True``, ``get_fills`` and
``get_orders`` also read the ``/historical/...`` endpoints, where Kalshi moves fills and closed
orders older than ``GET /historical/cutoff`` (docs/trading.md, "Historical cutoff"): live
results first, then historical ones, never the same fill or order twice.

Arguments are checked when the method is called, before the first request; the iterator does
the I/O. Reads retry on connection errors, 5xx and 429 (they are idempotent).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from ._http import Transport
from ._orders import unix_seconds
from ._rest_decoders import (
    parse_balance,
    parse_cutoff,
    parse_fill,
    parse_order,
    parse_position,
)
from .account import Balance, HistoricalCutoff, Order, Position
from .errors import ProtocolError
from .models import Fill

__all__ = ["PortfolioMixin", "path_segment"]

_T = TypeVar("_T")
_GET_ORDER_COST = 2  # Kalshi bills a single-order read at 2 tokens (default 10)
_PAGE = 1000  # Kalshi's maximum page size; fewer requests for the same data


def path_segment(value: object, what: str) -> str:
    """``value`` as one quoted URL path segment (ids and tickers must not inject a path)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return quote(value, safe="")


def _seconds(value: object, what: str) -> int | None:
    return None if value is None else unix_seconds(value, what)


def _subaccount(value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"subaccount must be an int >= 0, got {value!r}")
    return value


def _exchange_index(value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"exchange_index must be an int >= 0, got {value!r}")
    return value


def _limit(value: int | None) -> int:
    if value is None:
        return _PAGE
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise ValueError(f"limit (page size) must be an int from 1 to 1000, got {value!r}")
    return value


class PortfolioMixin:
    """The portfolio half of :class:`~kalshi_sync.RestClient` (see the module docstring)."""

    _http: Transport

    # -- paging -----------------------------------------------------------------------------

    def _pages(
        self,
        path: str,
        key: str,
        params: Mapping[str, Any],
        *,
        orders: bool = True,
    ) -> Iterator[list[Any]]:
        """Each page's ``key`` list, following ``cursor`` lazily until it is empty."""
        params = dict(params)
        start = params.get("cursor")
        seen: set[str] = set()
        count = 0
        while True:
            body = self._http.call("GET", path, params=params, orders=orders)
            page = body.get(key) or []  # null and absent both mean an empty page
            if not isinstance(page, list):
                raise ProtocolError(f"'{key}' is not a list", frame=str(body)[:200])
            count += len(page)
            yield page
            cursor = body.get("cursor") or ""
            if not cursor:
                return
            if not isinstance(cursor, str):
                raise ProtocolError("'cursor' is not a string", frame=str(body)[:200])
            if cursor in seen or cursor == start:
                raise ProtocolError(
                    f"GET {path}: the server repeated cursor {cursor[:40]!r} after "
                    f"{count} {key}; stopping instead of looping",
                    frame=cursor,
                )
            seen.add(cursor)
            params["cursor"] = cursor

    def _items(
        self,
        path: str,
        key: str,
        params: Mapping[str, Any],
        parse: Callable[[Any], _T],
    ) -> Iterator[_T]:
        for page in self._pages(path, key, params):
            for raw in page:
                yield parse(raw)

    # -- single reads -----------------------------------------------------------------------

    def get_order(self, order_id: str) -> Order:
        """``GET /portfolio/orders/{order_id}``. OrderNotFoundError for an unknown id."""
        path = f"/portfolio/orders/{path_segment(order_id, 'order_id')}"
        body = self._http.call("GET", path, cost=_GET_ORDER_COST, orders=True)
        if not isinstance(body.get("order"), dict):
            raise ProtocolError("order response has no 'order' object", frame=str(body)[:200])
        return parse_order(body["order"])

    def get_balance(
        self, *, subaccount: int | None = None, exchange_index: int | None = None
    ) -> Balance:
        """``GET /portfolio/balance``: Decimal dollars, with the per-shard breakdown."""
        params = {
            "subaccount": _subaccount(subaccount),
            "exchange_index": _exchange_index(exchange_index),
        }
        return parse_balance(
            self._http.call("GET", "/portfolio/balance", params=params, orders=True)
        )

    def get_historical_cutoff(self) -> HistoricalCutoff:
        """``GET /historical/cutoff``: where live data ends and ``/historical/...`` begins."""
        return parse_cutoff(self._http.call("GET", "/historical/cutoff", orders=True))

    # -- lists ------------------------------------------------------------------------------

    def get_orders(
        self,
        *,
        ticker: str | None = None,
        event_ticker: str | list[str] | None = None,
        status: str | None = None,
        min_ts: object = None,
        max_ts: object = None,
        subaccount: int | None = None,
        exchange_index: int | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        include_historical: bool = False,
        **filters: Any,
    ) -> Iterator[Order]:
        """``GET /portfolio/orders`` as a lazy iterator of :class:`~kalshi_sync.account.Order`.

        ``min_ts``/``max_ts`` are Unix seconds (int) or aware datetimes; ``status`` one of
        ``resting``, ``canceled``, ``executed``; ``limit`` the page size (default 1000); other
        keyword filters pass through as query parameters. ``include_historical=True`` also reads
        ``GET /historical/orders`` (orders closed before the cutoff; marked
        ``historical=True``), unless ``min_ts`` is past the cutoff or ``status`` is
        ``resting`` (resting orders are never historical).
        """
        if status is not None and status not in ("resting", "canceled", "executed"):
            raise ValueError(f"status must be resting, canceled or executed, got {status!r}")
        params: dict[str, Any] = {
            "ticker": ticker,
            "event_ticker": event_ticker,
            "status": status,
            "min_ts": _seconds(min_ts, "min_ts"),
            "max_ts": _seconds(max_ts, "max_ts"),
            "subaccount": _subaccount(subaccount),
            "exchange_index": _exchange_index(exchange_index),
            "limit": _limit(limit),
            "cursor": cursor,
            **filters,
        }
        if not include_historical:
            return self._items("/portfolio/orders", "orders", params, parse_order)
        if cursor is not None or event_ticker is not None or filters:
            raise ValueError(
                "include_historical=True cannot be combined with cursor, event_ticker or extra "
                "filters: GET /historical/orders does not take them"
            )
        return self._orders_with_history(params)

    def _orders_with_history(self, params: dict[str, Any]) -> Iterator[Order]:
        seen: set[str] = set()
        for order in self._items("/portfolio/orders", "orders", params, parse_order):
            seen.add(order.order_id)
            yield order
        if params["status"] == "resting":
            return
        cutoff = self.get_historical_cutoff().orders_updated
        # An order created after the cutoff was last updated after it too: nothing older.
        if cutoff is not None and params["min_ts"] is not None and params["min_ts"] >= cutoff:
            return
        historical = {k: params[k] for k in ("ticker", "min_ts", "max_ts", "subaccount", "limit")}
        for raw_order in self._items(
            "/historical/orders",
            "orders",
            historical,
            lambda raw: parse_order(raw, historical=True),
        ):
            if raw_order.order_id in seen:
                continue  # moved to history while we were paging: already delivered
            if params["status"] is not None and raw_order.status != params["status"]:
                continue
            if (
                params["exchange_index"] is not None
                and raw_order.exchange_index != params["exchange_index"]
            ):
                continue
            seen.add(raw_order.order_id)
            yield raw_order

    def get_fills(
        self,
        *,
        ticker: str | list[str] | None = None,
        order_id: str | None = None,
        min_ts: object = None,
        max_ts: object = None,
        subaccount: int | None = None,
        exchange_index: int | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        include_historical: bool = False,
        **filters: Any,
    ) -> Iterator[Fill]:
        """``GET /portfolio/fills`` as a lazy iterator of :class:`~kalshi_sync.models.Fill`.

        The same Fill class the WebSocket ``fill`` channel delivers, so live and recovered fills
        compare field by field (``trade_id``, ``order_id``, ``count``, ``yes_price``, ``ts``).
        ``ticker`` may be a list (up to 100). ``include_historical=True`` also reads
        ``GET /historical/fills`` for the part of the range older than the cutoff's
        ``trades_created_ts``, and skips the live endpoint when ``max_ts`` is before it.
        """
        params: dict[str, Any] = {
            "ticker": ticker,
            "order_id": order_id,
            "min_ts": _seconds(min_ts, "min_ts"),
            "max_ts": _seconds(max_ts, "max_ts"),
            "subaccount": _subaccount(subaccount),
            "exchange_index": _exchange_index(exchange_index),
            "limit": _limit(limit),
            "cursor": cursor,
            **filters,
        }
        if not include_historical:
            return self._items("/portfolio/fills", "fills", params, parse_fill)
        if cursor is not None or filters:
            raise ValueError(
                "include_historical=True cannot be combined with cursor or extra filters: "
                "GET /historical/fills does not take them"
            )
        return self._fills_with_history(params)

    def _fills_with_history(self, params: dict[str, Any]) -> Iterator[Fill]:
        cutoff = self.get_historical_cutoff().trades_created
        min_ts, max_ts = params["min_ts"], params["max_ts"]
        seen: set[str] = set()
        if cutoff is None or max_ts is None or max_ts >= cutoff:
            for fill in self._items("/portfolio/fills", "fills", params, parse_fill):
                if fill.trade_id is not None:
                    seen.add(fill.trade_id)
                yield fill
        if cutoff is not None and min_ts is not None and min_ts >= cutoff:
            return  # the whole range is newer than the cutoff: nothing is historical
        historical = {k: params[k] for k in ("ticker", "min_ts", "max_ts", "subaccount", "limit")}
        for fill in self._items("/historical/fills", "fills", historical, parse_fill):
            if fill.trade_id is not None and fill.trade_id in seen:
                continue
            # /historical/fills filters by neither order nor shard: do it here.
            if params["order_id"] is not None and fill.order_id != params["order_id"]:
                continue
            if (
                params["exchange_index"] is not None
                and fill.exchange_index != params["exchange_index"]
            ):
                continue
            yield fill

    def get_positions(
        self,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        count_filter: str | list[str] | None = None,
        subaccount: int | None = None,
        exchange_index: int | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        **filters: Any,
    ) -> Iterator[Position]:
        """``GET /portfolio/positions`` as a lazy iterator of market positions.

        ``subaccount`` defaults to 0 (the primary account) on Kalshi's side; ``count_filter``
        keeps positions with a non-zero ``position`` and/or ``total_traded``.
        """
        params: dict[str, Any] = {
            "ticker": ticker,
            "event_ticker": event_ticker,
            "count_filter": count_filter,
            "subaccount": _subaccount(subaccount),
            "exchange_index": _exchange_index(exchange_index),
            "limit": _limit(limit),
            "cursor": cursor,
            **filters,
        }
        return self._items("/portfolio/positions", "market_positions", params, parse_position)
