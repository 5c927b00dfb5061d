"""Portfolio reads and exchange status over mocked HTTP: models, lazy pagination, the
historical fallback, per-shard status."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
import responses
from _rest_helpers import BASE, JSON, TICKER, query_of, wire_order

from kalshi_sync import (
    Fill,
    Order,
    OrderNotFoundError,
    Position,
    ProtocolError,
    RestClient,
)

pytest_plugins = ["_rest_fixtures"]  # fixtures: mock, rest, make_client, fake_time

D = Decimal
FILLS = f"{BASE}/portfolio/fills"
ORDERS = f"{BASE}/portfolio/orders"
HIST_FILLS = f"{BASE}/historical/fills"
HIST_ORDERS = f"{BASE}/historical/orders"
CUTOFF = f"{BASE}/historical/cutoff"
CUTOFF_BODY = {
    "market_settled_ts": "2025-10-01T00:00:00Z",
    "trades_created_ts": "2025-10-01T00:00:00Z",  # 1759276800
    "orders_updated_ts": "2025-10-01T00:00:00Z",
}
CUT = 1759276800


def wire_fill(**fields: Any) -> dict[str, Any]:
    fill: dict[str, Any] = {
        "fill_id": "f1",
        "trade_id": "f1",
        "order_id": "ord-1",
        "ticker": TICKER,
        "market_ticker": TICKER,
        "exchange_index": 0,
        "outcome_side": "no",
        "book_side": "ask",
        "side": "no",
        "action": "buy",
        "count_fp": "3.00",
        "yes_price_dollars": "0.6000",
        "no_price_dollars": "0.4000",
        "is_taker": True,
        "fee_cost": "0.0210",
        "created_time": "2026-01-01T00:00:01.5Z",
        "ts": 1767225601,
        "subaccount_number": 0,
    }
    fill.update(fields)
    return fill


def pages(mock: responses.RequestsMock, url: str, key: str, *batches: list[Any]) -> None:
    """Register ``batches`` as consecutive pages of ``url`` linked by cursors c1, c2, ..."""
    for n, batch in enumerate(batches, start=1):
        cursor = f"c{n}" if n < len(batches) else ""
        mock.add(responses.GET, url, json={key: batch, "cursor": cursor})


# -- orders ---------------------------------------------------------------------------------


def test_get_order(mock: responses.RequestsMock, rest: RestClient) -> None:
    """GET /portfolio/orders/{id} -> Order with Decimal money and counts, times in ms too."""
    mock.add(
        responses.GET, f"{ORDERS}/ord-1", json={"order": wire_order(last_update_reason="Amend")}
    )
    order = rest.get_order("ord-1")
    assert isinstance(order, Order)
    assert (order.order_id, order.ticker, order.status) == ("ord-1", TICKER, "resting")
    assert (order.yes_price, order.no_price) == (D("0.42"), D("0.58"))
    assert (order.remaining_count, order.fill_count) == (D(10), D(0))
    assert all(type(v) is Decimal for v in (order.yes_price, order.initial_count, order.maker_fees))
    assert order.created_ts_ms == 1767225600123 and order.last_update_reason == "Amend"
    assert order.historical is False and order.raw["user_id"] == "user-1"


def test_get_order_not_found(mock: responses.RequestsMock, rest: RestClient) -> None:
    """A 404 is OrderNotFoundError with Kalshi's code."""
    mock.add(
        responses.GET, f"{ORDERS}/nope", status=404, json={"code": "not_found", "message": "no"}
    )
    with pytest.raises(OrderNotFoundError) as info:
        rest.get_order("nope")
    assert info.value.code == "not_found" and info.value.message == "no"


def test_get_orders_is_lazy(mock: responses.RequestsMock, rest: RestClient) -> None:
    """Nothing is fetched until iteration; page two only once page one is used up."""
    pages(
        mock,
        ORDERS,
        "orders",
        [wire_order(order_id="a"), wire_order(order_id="b")],
        [wire_order(order_id="c")],
    )
    orders = rest.get_orders(ticker=TICKER, status="resting")
    assert len(mock.calls) == 0
    assert next(orders).order_id == "a"
    assert len(mock.calls) == 1
    assert next(orders).order_id == "b"
    assert len(mock.calls) == 1
    assert [o.order_id for o in orders] == ["c"]
    assert len(mock.calls) == 2
    assert query_of(mock.calls[0]) == {"ticker": TICKER, "status": "resting", "limit": "1000"}
    assert query_of(mock.calls[1])["cursor"] == "c1"


def test_get_orders_filters(mock: responses.RequestsMock, rest: RestClient) -> None:
    """Datetimes become Unix seconds; lists are comma-joined; None dropped; extras pass."""
    mock.add(responses.GET, ORDERS, json={"orders": [], "cursor": ""})
    since = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    list(
        rest.get_orders(
            event_ticker=["E1", "E2"],
            min_ts=since,
            max_ts=1767312000,
            subaccount=0,
            exchange_index=2,
            limit=5,
            extra="x",
        )
    )
    assert query_of(mock.calls[0]) == {
        "event_ticker": "E1,E2",
        "min_ts": "1767225600",
        "max_ts": "1767312000",
        "subaccount": "0",
        "exchange_index": "2",
        "limit": "5",
        "extra": "x",
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": "open"},
        {"limit": 0},
        {"limit": 1001},
        {"min_ts": 1.5},
        {"subaccount": -1},
        {"min_ts": dt.datetime(2026, 1, 1)},
    ],
)
def test_get_orders_bad_arguments_raise_before_iterating(
    kwargs: dict[str, Any], mock: responses.RequestsMock, rest: RestClient
) -> None:
    """Bad filters raise at the call, not at the first next(), and send nothing."""
    with pytest.raises((TypeError, ValueError)):
        rest.get_orders(**kwargs)
    assert len(mock.calls) == 0


def test_repeated_cursor_stops(mock: responses.RequestsMock, rest: RestClient) -> None:
    """The repeated-cursor guard covers the portfolio lists too."""
    for cursor in ("c1", "c2", "c1"):
        mock.add(responses.GET, FILLS, json={"fills": [wire_fill()], "cursor": cursor})
    with pytest.raises(ProtocolError, match="repeated cursor 'c1'"):
        list(rest.get_fills())
    assert len(mock.calls) == 3


def test_orders_with_history(mock: responses.RequestsMock, rest: RestClient) -> None:
    """include_historical: live orders, then /historical/orders ones (marked), deduplicated."""
    pages(mock, ORDERS, "orders", [wire_order(order_id="live"), wire_order(order_id="moved")])
    mock.add(responses.GET, CUTOFF, json=CUTOFF_BODY)
    pages(
        mock,
        HIST_ORDERS,
        "orders",
        [
            wire_order(order_id="moved", status="executed"),
            wire_order(order_id="old", status="canceled"),
        ],
    )
    got = list(rest.get_orders(ticker=TICKER, include_historical=True))
    assert [(o.order_id, o.historical) for o in got] == [
        ("live", False),
        ("moved", False),
        ("old", True),
    ]
    hist = [c for c in mock.calls if (c.request.url or "").startswith(HIST_ORDERS)]
    assert query_of(hist[0]) == {"ticker": TICKER, "limit": "1000"}


def test_resting_orders_never_read_history(mock: responses.RequestsMock, rest: RestClient) -> None:
    """status='resting' with include_historical skips the historical endpoints."""
    pages(mock, ORDERS, "orders", [wire_order()])
    assert len(list(rest.get_orders(status="resting", include_historical=True))) == 1
    assert len(mock.calls) == 1


def test_orders_history_skipped_when_range_is_after_cutoff(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """A min_ts at or after the cutoff cannot reach archived orders."""
    pages(mock, ORDERS, "orders", [])
    mock.add(responses.GET, CUTOFF, json=CUTOFF_BODY)
    assert list(rest.get_orders(min_ts=CUT, include_historical=True)) == []
    assert [(c.request.url or "").split("?")[0] for c in mock.calls] == [ORDERS, CUTOFF]


def test_history_refuses_filters_it_cannot_apply(rest: RestClient) -> None:
    """cursor/event_ticker/extra filters with include_historical are ValueErrors."""
    with pytest.raises(ValueError, match="historical"):
        rest.get_orders(event_ticker="E", include_historical=True)
    with pytest.raises(ValueError, match="historical"):
        rest.get_fills(cursor="c", include_historical=True)


# -- fills ----------------------------------------------------------------------------------


def test_get_fills_are_websocket_fills(mock: responses.RequestsMock, rest: RestClient) -> None:
    """REST fills are kalshi_sync.Fill, the WebSocket class, field by field."""
    pages(mock, FILLS, "fills", [wire_fill()])
    (fill,) = list(rest.get_fills(ticker=[TICKER, "OTHER"], order_id="ord-1"))
    assert type(fill) is Fill and fill.type == "fill"
    assert (fill.market_ticker, fill.trade_id, fill.order_id) == (TICKER, "f1", "ord-1")
    assert (fill.yes_price, fill.no_price, fill.count) == (D("0.6"), D("0.4"), D(3))
    assert (fill.outcome_side, fill.book_side, fill.is_taker) == ("no", "ask", True)
    assert fill.fee_cost == D("0.021") and fill.subaccount == 0
    assert (fill.ts, fill.ts_ms) == (1767225601, 1767225601500)
    assert query_of(mock.calls[0])["ticker"] == f"{TICKER},OTHER"
    assert fill.missing == () and not fill.partial


def test_fill_with_missing_fields_is_kept(mock: responses.RequestsMock, rest: RestClient) -> None:
    """A fill missing price, count and times still arrives, with those fields None."""
    pages(mock, FILLS, "fills", [{"fill_id": "f9", "order_id": "o", "yes_price_dollars": ""}])
    (fill,) = list(rest.get_fills())
    assert fill.trade_id == "f9" and fill.order_id == "o"
    assert fill.yes_price is None and fill.count is None and fill.ts_ms is None
    assert fill.missing == ("market_ticker", "yes_price", "count") and fill.partial


def test_fill_with_a_wrong_type_is_a_protocol_error(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """A count that is not a number stops the iteration loudly instead of guessing."""
    pages(mock, FILLS, "fills", [wire_fill(count_fp=["3"])])
    with pytest.raises(ProtocolError, match="count_fp"):
        list(rest.get_fills())


def test_fills_with_history(mock: responses.RequestsMock, rest: RestClient) -> None:
    """Live fills, then historical ones older than the cutoff, never the same trade twice;
    order_id is applied to the historical ones here (that endpoint has no such filter)."""
    pages(mock, FILLS, "fills", [wire_fill(trade_id="t3", fill_id="t3")])
    mock.add(responses.GET, CUTOFF, json=CUTOFF_BODY)
    pages(
        mock,
        HIST_FILLS,
        "fills",
        [
            wire_fill(trade_id="t3", fill_id="t3"),
            wire_fill(trade_id="t1", fill_id="t1"),
            wire_fill(trade_id="t0", fill_id="t0", order_id="someone-else"),
        ],
    )
    got = list(rest.get_fills(order_id="ord-1", min_ts=CUT - 100, include_historical=True))
    assert [f.trade_id for f in got] == ["t3", "t1"]
    hist = next(c for c in mock.calls if (c.request.url or "").startswith(HIST_FILLS))
    assert query_of(hist) == {"min_ts": str(CUT - 100), "limit": "1000"}


def test_fills_before_the_cutoff_skip_the_live_endpoint(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """max_ts before the cutoff: only /historical/fills is read."""
    mock.add(responses.GET, CUTOFF, json=CUTOFF_BODY)
    pages(mock, HIST_FILLS, "fills", [wire_fill()])
    assert len(list(rest.get_fills(max_ts=CUT - 1, include_historical=True))) == 1
    assert not any((c.request.url or "").startswith(FILLS) for c in mock.calls)


def test_fills_after_the_cutoff_skip_history(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """min_ts at or after the cutoff: only the live endpoint is read."""
    mock.add(responses.GET, CUTOFF, json=CUTOFF_BODY)
    pages(mock, FILLS, "fills", [wire_fill()])
    assert len(list(rest.get_fills(min_ts=CUT, include_historical=True))) == 1
    assert not any((c.request.url or "").startswith(HIST_FILLS) for c in mock.calls)


def test_historical_cutoff(mock: responses.RequestsMock, rest: RestClient) -> None:
    """The cutoff's RFC 3339 strings are kept and converted to Unix seconds."""
    mock.add(
        responses.GET,
        CUTOFF,
        json={**CUTOFF_BODY, "orders_updated_ts": "2025-10-01T02:00:00+02:00"},
    )
    cutoff = rest.get_historical_cutoff()
    assert cutoff.trades_created == CUT and cutoff.orders_updated == CUT
    assert cutoff.trades_created_ts == "2025-10-01T00:00:00Z"


# -- positions and balance ------------------------------------------------------------------


def test_get_positions(mock: responses.RequestsMock, rest: RestClient) -> None:
    """market_positions become Position objects across pages; the no side is negative."""
    first = {
        "ticker": TICKER,
        "exchange_index": 0,
        "position_fp": "-5.00",
        "total_traded_dollars": "2.0000",
        "market_exposure_dollars": "2.0000",
        "realized_pnl_dollars": "0.1000",
        "fees_paid_dollars": "0.0300",
        "last_updated_ts": "2026-01-01T00:00:00Z",
    }
    mock.add(
        responses.GET,
        f"{BASE}/portfolio/positions",
        json={
            "market_positions": [first],
            "event_positions": [{"event_ticker": "E"}],
            "cursor": "p2",
        },
    )
    mock.add(
        responses.GET,
        f"{BASE}/portfolio/positions",
        json={"market_positions": [{"ticker": "B"}], "event_positions": []},
    )
    got = list(rest.get_positions(count_filter=["position", "total_traded"], subaccount=0))
    assert [type(p) for p in got] == [Position, Position]
    assert got[0].position == D(-5) and got[0].market_exposure == D(2)
    assert got[0].realized_pnl == D("0.1") and got[0].fees_paid == D("0.03")
    assert got[1].ticker == "B" and got[1].position is None
    assert query_of(mock.calls[0])["count_filter"] == "position,total_traded"


def test_get_balance(mock: responses.RequestsMock, rest: RestClient) -> None:
    """Cents become Decimal dollars; the per-shard breakdown is kept."""
    mock.add(
        responses.GET,
        f"{BASE}/portfolio/balance",
        json={
            "balance": 12345,
            "balance_dollars": "123.4500",
            "portfolio_value": 5000,
            "updated_ts": 1767225600,
            "balance_breakdown": [
                {"exchange_index": 0, "balance": "100.0000"},
                {"exchange_index": 2, "balance": 2345},
            ],
        },
    )
    balance = rest.get_balance(subaccount=0, exchange_index=None)
    assert balance.balance == D("123.45") and balance.portfolio_value == D(50)
    assert [(s.exchange_index, s.balance) for s in balance.shards] == [(0, D(100)), (2, D("23.45"))]
    assert query_of(mock.calls[0]) == {"subaccount": "0"}


def test_balance_from_cents_only(mock: responses.RequestsMock, rest: RestClient) -> None:
    """Without balance_dollars, the integer cents are converted exactly."""
    mock.add(responses.GET, f"{BASE}/portfolio/balance", json={"balance": 7, "updated_ts": 1})
    balance = rest.get_balance()
    assert balance.balance == D("0.07") and balance.portfolio_value is None and balance.shards == ()


# -- exchange status ------------------------------------------------------------------------


def test_exchange_status_per_shard(mock: responses.RequestsMock, rest: RestClient) -> None:
    """One entry per exchange_index_statuses element; shard 2 halted while index 0 trades."""
    body = {
        "exchange_active": True,
        "trading_active": True,
        "intra_exchange_transfers_active": True,
        "exchange_estimated_resume_time": None,
        "exchange_index_statuses": [
            {
                "exchange_index": i,
                "description": f"shard {i}",
                "exchange_active": True,
                "trading_active": i != 2,
                "intra_exchange_transfers_active": True,
            }
            for i in range(4)
        ],
    }
    mock.add(responses.GET, f"{BASE}/exchange/status", json=body)
    status = rest.get_exchange_status()
    assert status.exchange_active and status.trading_active
    assert [s.exchange_index for s in status.indexes] == [0, 1, 2, 3]
    shard = status.index(2)
    assert shard is not None and shard.trading_active is False and shard.description == "shard 2"
    assert status.index(9) is None and status.exchange_estimated_resume_time is None


def test_exchange_status_without_breakdown(mock: responses.RequestsMock, rest: RestClient) -> None:
    """No exchange_index_statuses: an empty tuple, top-level flags as sent."""
    mock.add(
        responses.GET,
        f"{BASE}/exchange/status",
        body=json.dumps({"exchange_active": False, "trading_active": False}),
        headers=JSON,
    )
    status = rest.get_exchange_status()
    assert status.indexes == () and status.exchange_active is False


def test_exchange_status_bad_shape(mock: responses.RequestsMock, rest: RestClient) -> None:
    """A non-list breakdown or a non-bool flag is a ProtocolError."""
    mock.add(responses.GET, f"{BASE}/exchange/status", json={"exchange_index_statuses": {}})
    with pytest.raises(ProtocolError):
        rest.get_exchange_status()
    mock.replace(responses.GET, f"{BASE}/exchange/status", json={"trading_active": "yes"})
    with pytest.raises(ProtocolError, match="trading_active"):
        rest.get_exchange_status()
