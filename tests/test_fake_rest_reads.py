"""FakeKalshiServer(rest=True) read endpoints over real HTTP: cursor paging, filters,
historical cutoffs, markets and order books, exchange status, expiry on the server clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from _fake_rest_helpers import KEY_ID, T1, Api, ws_connect, ws_read, ws_subscribe

import kalshi_sync as ks
from kalshi_sync.testing import FakeKalshiServer

pytest_plugins = ["_fake_rest_fixtures"]  # fixtures: rsa_pair, rest_server, api
pytestmark = pytest.mark.integration
D = Decimal
T2 = "KXFAKE-26JAN01-T60"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(float(int(time.time())))


@pytest.fixture
def timed(rsa_pair: tuple[Any, Any], clock: Clock) -> Iterator[tuple[FakeKalshiServer, Api]]:
    """A server on a clock the test moves (signature timestamps stay within the skew)."""
    server = FakeKalshiServer(
        public_key=rsa_pair[1], rest=True, ping_interval=None, clock=clock, max_clock_skew=1e9
    ).start()
    api = Api(server, rsa_pair[0])
    yield server, api
    api.close()
    server.stop()


def follow(api: Api, path: str, key: str, **params: Any) -> list[list[Any]]:
    """Every page of a listing, following the cursor."""
    pages: list[list[Any]] = []
    while True:
        body = api.ok("GET", path, **params)
        pages.append(body[key])
        if not body["cursor"]:
            return pages
        params["cursor"] = body["cursor"]


def test_orders_page_newest_first_with_stable_cursors(api: Api) -> None:
    """limit=2 over 5 orders: pages of 2, 2, 1, newest first, an order added between pages
    does not shift them, and the last cursor is empty."""
    ids = [api.create(price=f"0.3{i}")["order_id"] for i in range(5)]
    first = api.ok("GET", "/portfolio/orders", limit="2")
    assert [o["order_id"] for o in first["orders"]] == ids[:2:-1][:2]
    api.create(price="0.20")  # newer than every page already being read
    rest = follow(api, "/portfolio/orders", "orders", limit="2", cursor=first["cursor"])
    assert [[o["order_id"] for o in p] for p in rest] == [[ids[2], ids[1]], [ids[0]]]


def test_orders_filter_by_status_and_ticker(api: Api) -> None:
    """status and ticker narrow the listing; an unknown status is 400."""
    keep = api.create(price="0.30")["order_id"]
    gone = api.create(price="0.31", ticker=T2)["order_id"]
    api.ok("DELETE", f"/portfolio/events/orders/{gone}")
    resting = api.ok("GET", "/portfolio/orders", status="resting")["orders"]
    assert [o["order_id"] for o in resting] == [keep]
    assert [o["order_id"] for o in api.ok("GET", "/portfolio/orders", ticker=T2)["orders"]] == [
        gone
    ]
    assert api.call("GET", "/portfolio/orders", status="open").status_code == 400


def test_limits_and_cursors_are_checked(api: Api) -> None:
    """limit outside 1..1000 and a cursor the server never issued are 400."""
    assert api.call("GET", "/portfolio/fills", limit="1001").status_code == 400
    assert api.call("GET", "/portfolio/fills", limit="0").status_code == 400
    assert api.call("GET", "/portfolio/fills", cursor="garbage").status_code == 400


def test_fills_filters_and_historical_cutoff(
    timed: tuple[FakeKalshiServer, Api], clock: Clock
) -> None:
    """min_ts/max_ts (s, inclusive) and ticker filter fills; fills older than the cutoff
    move to /historical/fills."""
    server, api = timed
    start = int(clock.now)
    server.set_book(T1, no=[("0.50", "10")])
    server.set_book(T2, no=[("0.50", "10")])
    api.create(price="0.50", time_in_force="immediate_or_cancel")
    clock.now = start + 100
    api.create(price="0.50", time_in_force="immediate_or_cancel", ticker=T2)
    recent = api.ok("GET", "/portfolio/fills", min_ts=str(start + 100))["fills"]
    assert [f["ticker"] for f in recent] == [T2] and recent[0]["ts"] == start + 100
    assert len(api.ok("GET", "/portfolio/fills", max_ts=str(start))["fills"]) == 1
    assert [f["ticker"] for f in api.ok("GET", "/portfolio/fills", ticker=T1)["fills"]] == [T1]
    server.set_historical_cutoff(trades_created_ts=start + 50)
    assert [f["ticker"] for f in api.ok("GET", "/portfolio/fills")["fills"]] == [T2]
    assert [f["ticker"] for f in api.ok("GET", "/historical/fills")["fills"]] == [T1]
    cutoff = api.ok("GET", "/historical/cutoff")
    assert set(cutoff) == {"market_settled_ts", "trades_created_ts", "orders_updated_ts"}


def test_closed_orders_move_to_history_resting_ones_never(
    timed: tuple[FakeKalshiServer, Api], clock: Clock
) -> None:
    """After the orders cutoff, a cancelled order is only historical; a resting one stays."""
    server, api = timed
    resting = api.create(price="0.30")["order_id"]
    closed = api.create(price="0.31")["order_id"]
    api.ok("DELETE", f"/portfolio/events/orders/{closed}")
    server.set_historical_cutoff(orders_updated_ts=clock.now + 1)
    assert [o["order_id"] for o in api.ok("GET", "/portfolio/orders")["orders"]] == [resting]
    assert [o["order_id"] for o in api.ok("GET", "/historical/orders")["orders"]] == [closed]


def test_positions_with_event_totals_and_count_filter(
    rest_server: FakeKalshiServer, api: Api
) -> None:
    """Positions per market (subaccount 0 by default), event totals, count_filter."""
    rest_server.set_book(T1, no=[("0.60", "5")], yes=[("0.40", "5")])
    rest_server.set_book(T2, no=[("0.60", "5")])
    api.create(price="0.40", count="3", time_in_force="immediate_or_cancel")
    api.create(side="ask", price="0.40", count="3", time_in_force="immediate_or_cancel")
    api.create(price="0.40", count="2", time_in_force="immediate_or_cancel", ticker=T2)
    body = api.ok("GET", "/portfolio/positions")
    assert [(p["ticker"], p["position_fp"]) for p in body["market_positions"]] == [
        (T1, "0.00"),
        (T2, "2.00"),
    ]
    assert body["event_positions"][0]["event_ticker"] == "KXFAKE-26JAN01"
    held = api.ok("GET", "/portfolio/positions", count_filter="position")["market_positions"]
    assert [p["ticker"] for p in held] == [T2]
    assert api.ok("GET", "/portfolio/positions", subaccount="3")["market_positions"] == []


def test_balance_shape_and_set_balance(rest_server: FakeKalshiServer, api: Api) -> None:
    """Balance in cents (truncated) and dollars; set_balance changes it."""
    rest_server.set_balance(KEY_ID, "12.3456")
    body = api.ok("GET", "/portfolio/balance")
    assert (body["balance"], body["balance_dollars"]) == (1234, "12.3456")
    assert body["balance_breakdown"] == [{"exchange_index": 0, "balance": "12.3456"}]
    assert isinstance(body["updated_ts"], int) and body["portfolio_value"] == 0


def test_markets_market_and_orderbook(rest_server: FakeKalshiServer, api: Api) -> None:
    """Markets list (paged), one market with its top of book, the book with depth."""
    rest_server.set_book(T1, yes=[("0.40", "5"), ("0.38", "2")], no=[("0.55", "7")])
    rest_server.add_market(T2, exchange_index=2, title="Sixty")
    pages = follow(api, "/markets", "markets", limit="1")
    assert [[m["ticker"] for m in p] for p in pages] == [[T2], [T1]]
    market = api.ok("GET", f"/markets/{T1}")["market"]
    assert (market["yes_bid_dollars"], market["yes_ask_dollars"]) == ("0.4000", "0.4500")
    assert api.ok("GET", f"/markets/{T2}")["market"]["title"] == "Sixty"
    assert api.call("GET", "/markets/KXNOPE").status_code == 404
    book = api.ok("GET", f"/markets/{T1}/orderbook", depth="1")["orderbook_fp"]
    assert book == {"yes_dollars": [["0.4000", "5.00"]], "no_dollars": [["0.5500", "7.00"]]}


def test_kalshi_sync_rest_client_reads_the_fake(
    rest_server: FakeKalshiServer, private_pem: bytes
) -> None:
    """The project's RestClient reads the order book the fake serves."""
    rest_server.set_book(T1, yes=[("0.40", "5")], no=[("0.55", "7")])
    with ks.RestClient(KEY_ID, private_pem, base_url=rest_server.rest_url) as rest:
        book = rest.get_orderbook(T1)
    assert dict(book.yes) == {D("0.40"): D(5)} and dict(book.no) == {D("0.55"): D(7)}


def test_expiring_order_is_cancelled_on_the_server_clock(
    timed: tuple[FakeKalshiServer, Api], clock: Clock, rsa_pair: tuple[Any, Any]
) -> None:
    """An expiring GTC is cancelled once the clock passes it: the REST read and the
    user_order message both say ExpiryCancel."""
    server, api = timed
    ws = ws_connect(server, rsa_pair[0])
    try:
        ws_subscribe(ws, ["user_orders"], [])
        oid = api.create(price="0.30", expiration_time=int(clock.now) + 60)["order_id"]
        assert ws_read(ws, 1)[0]["msg"]["status"] == "resting"
        clock.now += 61
        server.tick()
        update = ws_read(ws, 1)[0]["msg"]
        assert (update["order_id"], update["last_update_reason"]) == (oid, "ExpiryCancel")
        order = api.ok("GET", f"/portfolio/orders/{oid}")["order"]
        assert (order["status"], order["last_update_reason"]) == ("canceled", "ExpiryCancel")
    finally:
        ws.close()
