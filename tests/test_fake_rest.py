"""FakeKalshiServer(rest=True) over real HTTP: signatures, every endpoint's round trip, and
the WebSocket messages a matched order causes. Requests are made with plain ``requests``."""

from __future__ import annotations

import json
import queue
from decimal import Decimal
from typing import Any

import pytest
from _fake_rest_helpers import (
    KEY_ID,
    T1,
    Api,
    load,
    order_body,
    ws_connect,
    ws_read,
    ws_subscribe,
)

import kalshi_sync as ks
from kalshi_sync.testing import FakeKalshiServer, generate_test_key

pytest_plugins = ["_fake_rest_fixtures"]  # fixtures: rsa_pair, rest_server, api
pytestmark = pytest.mark.integration
D = Decimal


# ---- signatures -------------------------------------------------------------------------


def test_unsigned_and_badly_signed_requests_are_401(api: Api) -> None:
    """Missing headers, a signature over another method, and a wrong key are all 401."""
    resp = api.session.get(api.base + "/portfolio/balance", timeout=5)
    assert resp.status_code == 401 and resp.json()["code"] == "authentication_error"
    wrong_method = api.call("POST", "/portfolio/events/orders", {}, signed_as="GET")
    assert wrong_method.status_code == 401
    other = Api.__new__(Api)
    other.__dict__.update(api.__dict__, key=load(generate_test_key()[0]))
    assert other.call("GET", "/portfolio/balance").status_code == 401
    assert api.call("GET", "/portfolio/balance").status_code == 200


def test_ed25519_keys_are_verified() -> None:
    """A server holding an Ed25519 public key accepts that key's signatures only."""
    pem, public = generate_test_key(kind="ed25519")
    with FakeKalshiServer(public_key=public, rest=True, ping_interval=None) as server:
        good = Api(server, load(pem))
        assert good.call("GET", "/exchange/status").status_code == 200
        bad = Api(server, load(generate_test_key(kind="ed25519")[0]))
        assert bad.call("GET", "/exchange/status").status_code == 401
        good.close()
        bad.close()


def test_revoked_key_gets_401_on_rest_too(rest_server: FakeKalshiServer, api: Api) -> None:
    """set_auth_failure(True) refuses REST requests as it refuses handshakes."""
    rest_server.set_auth_failure(True)
    assert api.call("GET", "/portfolio/balance").status_code == 401


# ---- orders ------------------------------------------------------------------------------


def test_create_resting_order_and_read_it_back(api: Api) -> None:
    """201 ack with counts as fp strings; GET /portfolio/orders/{id} shows it resting."""
    ack = api.create(side="bid", price="0.4200", count="3", client_order_id="c-1")
    assert ack["client_order_id"] == "c-1" and isinstance(ack["ts_ms"], int)
    assert (ack["fill_count"], ack["remaining_count"]) == ("0.00", "3.00")
    assert "average_fill_price" not in ack
    order = api.ok("GET", f"/portfolio/orders/{ack['order_id']}")["order"]
    assert order["status"] == "resting" and order["book_side"] == "bid"
    assert (order["yes_price_dollars"], order["no_price_dollars"]) == ("0.4200", "0.5800")
    assert order["remaining_count_fp"] == "3.00" and order["type"] == "limit"
    assert api.call("GET", "/portfolio/orders/nope").status_code == 404


def test_crossing_order_fills_and_updates_the_portfolio(
    rest_server: FakeKalshiServer, api: Api
) -> None:
    """A crossing bid fills at the resting price: fills, positions and balance agree."""
    rest_server.set_book(T1, no=[("0.55", "2"), ("0.50", "5")])
    ack = api.create(side="bid", price="0.50", count="4", time_in_force="immediate_or_cancel")
    assert (ack["fill_count"], ack["remaining_count"]) == ("4.00", "0.00")
    assert ack["average_fill_price"] == "0.475000"
    fills = api.ok("GET", "/portfolio/fills")["fills"]
    assert [(f["yes_price_dollars"], f["count_fp"], f["is_taker"]) for f in fills] == [
        ("0.5000", "2.00", True),
        ("0.4500", "2.00", True),
    ]  # newest first
    assert fills[0]["fill_id"] == fills[0]["trade_id"] and fills[0]["book_side"] == "bid"
    pos = api.ok("GET", "/portfolio/positions")["market_positions"]
    assert [(p["ticker"], p["position_fp"], p["market_exposure_dollars"]) for p in pos] == [
        (T1, "4.00", "1.9000")
    ]
    fee = sum(D(f["fee_cost"]) for f in fills)
    balance = api.ok("GET", "/portfolio/balance")
    assert D(balance["balance_dollars"]) == D("1000") - D("1.90") - fee
    assert balance["balance"] == int((D("1000") - D("1.90") - fee) * 100)
    assert rest_server.book(T1) == ({}, {D("0.50"): D(3)})


def test_cancel_amend_decrease_round_trips(api: Api) -> None:
    """Amend, decrease and cancel a resting order; a second cancel is 404."""
    oid = api.create(side="ask", price="0.60", count="5")["order_id"]
    change = {"ticker": T1, "side": "ask", "price": "0.6100", "count": "6"}
    amended = api.ok("POST", f"/portfolio/events/orders/{oid}/amend", change)
    assert amended["remaining_count"] == "6.00" and amended["fill_count"] == "0.00"
    dec = api.ok("POST", f"/portfolio/events/orders/{oid}/decrease", {"reduce_by": "2"})
    assert dec["remaining_count"] == "4.00"
    cancelled = api.ok("DELETE", f"/portfolio/events/orders/{oid}", market_ticker=T1)
    assert cancelled["reduced_by"] == "4.00"
    again = api.call("DELETE", f"/portfolio/events/orders/{oid}")
    assert again.status_code == 404 and again.json()["code"] == "not_found"
    order = api.ok("GET", f"/portfolio/orders/{oid}")["order"]
    assert (order["status"], order["yes_price_dollars"]) == ("canceled", "0.6100")


def test_cancel_with_wrong_market_ticker_is_404(api: Api) -> None:
    """market_ticker routes a cancel: naming another market finds nothing."""
    oid = api.create(side="bid", price="0.30", count="1")["order_id"]
    resp = api.call("DELETE", f"/portfolio/events/orders/{oid}", market_ticker="KXOTHER-1")
    assert resp.status_code == 404


def test_batch_create_batch_cancel_and_cancel_all(api: Api) -> None:
    """Batches answer per item (a duplicate id is that item's error); cancel-all is 204."""
    items = [("0.30", "b1"), ("0.31", "b1"), ("0.32", "b2")]
    body = {"orders": [order_body(price=p, client_order_id=c) for p, c in items]}
    answers = api.ok("POST", "/portfolio/events/orders/batched", body)["orders"]
    assert "order_id" in answers[0] and answers[1]["error"]["code"] == "order_already_exists"
    assert answers[1]["client_order_id"] == "b1" and "ts_ms" not in answers[1]
    cancel = {"orders": [{"order_id": answers[0]["order_id"]}, {"order_id": "missing"}]}
    result = api.ok("DELETE", "/portfolio/events/orders/batched", cancel)["orders"]
    assert result[0]["reduced_by"] == "1.00" and result[1]["error"]["code"] == "not_found"
    resp = api.call("DELETE", "/portfolio/events/orders")
    assert resp.status_code == 204 and resp.content == b""
    resting = api.ok("GET", "/portfolio/orders", status="resting")["orders"]
    assert resting == []


def test_duplicate_client_order_id_is_409(api: Api) -> None:
    """A second create with the same client_order_id is 409 order_already_exists."""
    api.create(side="bid", price="0.30", count="1", client_order_id="dup")
    body = order_body(price="0.30", client_order_id="dup")
    resp = api.call("POST", "/portfolio/events/orders", body)
    assert resp.status_code == 409 and resp.json()["code"] == "order_already_exists"


@pytest.mark.parametrize(
    "change",
    [{"price": 0.5}, {"count": 2}, {"price": "1.00"}, {"side": "buy"}, {"ticker": None}],
)
def test_bad_create_bodies_are_400(api: Api, change: dict[str, Any]) -> None:
    """Numeric money, out-of-range prices, unknown sides, missing fields: 400 with a code."""
    resp = api.call("POST", "/portfolio/events/orders", order_body(**change))
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_parameters"


def test_fill_or_kill_short_of_volume_is_409(rest_server: FakeKalshiServer, api: Api) -> None:
    """FOK that cannot fill: 409 fill_or_kill_insufficient_resting_volume, no order."""
    rest_server.set_book(T1, no=[("0.50", "1")])
    body = order_body(count="2", time_in_force="fill_or_kill")
    resp = api.call("POST", "/portfolio/events/orders", body)
    assert resp.status_code == 409
    assert resp.json()["code"] == "fill_or_kill_insufficient_resting_volume"
    assert rest_server.orders(KEY_ID) == []


def test_legacy_order_mutations_are_gone(api: Api) -> None:
    """POST /portfolio/orders and DELETE /portfolio/orders/{id} answer 410."""
    resp = api.call("POST", "/portfolio/orders", {"ticker": T1})
    assert resp.status_code == 410 and resp.json()["code"] == "deprecated_v1_order_endpoint"
    assert api.call("DELETE", "/portfolio/orders/x").status_code == 410


def test_trading_paused_refuses_creates(rest_server: FakeKalshiServer, api: Api) -> None:
    """A shard whose trading is inactive answers creates with 409 trading_is_paused."""
    rest_server.add_market(T1, exchange_index=2)
    rest_server.set_exchange_status(exchange_index=2, trading_active=False)
    resp = api.call("POST", "/portfolio/events/orders", order_body())
    assert resp.status_code == 409 and resp.json()["code"] == "trading_is_paused"
    status = api.ok("GET", "/exchange/status")
    assert status["trading_active"] is True  # index 0 only
    shards = {s["exchange_index"]: s["trading_active"] for s in status["exchange_index_statuses"]}
    assert shards == {0: True, 2: False}


# ---- the WebSocket side of a match -------------------------------------------------------


def test_a_match_sends_private_messages_to_the_owner_only(
    rest_server: FakeKalshiServer, api: Api, rsa_pair: tuple[Any, Any]
) -> None:
    """Owner gets fill, user_order and market_position; everyone gets the delta and trade."""
    rest_server.set_book(T1, no=[("0.55", "3")])
    mine = ws_connect(rest_server, rsa_pair[0], KEY_ID)
    theirs = ws_connect(rest_server, rsa_pair[0], "someone-else")
    try:
        channels = ["orderbook_delta", "trade", "fill", "user_orders", "market_positions"]
        ws_subscribe(mine, channels, [T1])
        ws_subscribe(theirs, ["orderbook_delta", "trade", "fill"], [T1])
        api.create(side="bid", price="0.45", count="2", client_order_id="ws-1")
        frames = {f["type"]: f for f in ws_read(mine, 5)}
        assert set(frames) == {"orderbook_delta", "trade", "fill", "user_order", "market_position"}
        assert all(isinstance(f["sending_ts_ms"], int) for f in frames.values())
        delta, fill = frames["orderbook_delta"]["msg"], frames["fill"]["msg"]
        assert (delta["side"], delta["price_dollars"], delta["delta_fp"]) == (
            "no",
            "0.5500",
            "-2.00",
        )
        assert fill["client_order_id"] == "ws-1" and fill["yes_price_dollars"] == "0.4500"
        assert fill["count_fp"] == "2.00" and fill["book_side"] == "bid"
        assert fill["trade_id"] == frames["trade"]["msg"]["trade_id"]
        assert fill["post_position_fp"] == "2.00" and fill["is_taker"] is True
        order = frames["user_order"]["msg"]
        assert (order["status"], order["ticker"]) == ("executed", T1)
        assert order["last_update_reason"] == "Trade"
        position = frames["market_position"]["msg"]
        assert (position["position_fp"], position["position_cost_dollars"]) == ("2.00", "0.9000")
        public = ws_read(theirs, 2)
        assert sorted(f["type"] for f in public) == ["orderbook_delta", "trade"]
        assert all("client_order_id" not in f["msg"] for f in public)
        # Frames go out in order: a leaked fill would arrive before this command's reply.
        theirs.send(json.dumps({"id": 9, "cmd": "list_subscriptions"}))
        assert json.loads(theirs.recv())["id"] == 9
    finally:
        mine.close()
        theirs.close()


def test_resting_order_is_in_the_snapshot(
    rest_server: FakeKalshiServer, api: Api, rsa_pair: tuple[Any, Any]
) -> None:
    """An order placed over REST rests in the one book that WebSocket snapshots show."""
    api.create(side="ask", price="0.70", count="3")
    ws = ws_connect(rest_server, rsa_pair[0])
    try:
        _, snapshot = ws_subscribe(ws, ["orderbook_delta"], [T1])
        assert snapshot["msg"]["no_dollars_fp"] == [["0.3000", "3.00"]]
    finally:
        ws.close()


def test_self_cross_and_post_only_cross_are_201_with_nothing_filled(api: Api) -> None:
    """STP taker_at_cross and a crossing post_only both answer 201 with 0 filled and 0
    remaining; the orders read back cancelled with Kalshi's reasons, the resting one stays."""
    resting = api.create(side="ask", price="0.50", count="2")["order_id"]
    stp = api.create(side="bid", price="0.50", count="1")
    assert (stp["fill_count"], stp["remaining_count"]) == ("0.00", "0.00")
    post = api.create(side="bid", price="0.55", count="1", post_only=True)
    assert (post["fill_count"], post["remaining_count"]) == ("0.00", "0.00")
    reasons = {
        oid: api.ok("GET", f"/portfolio/orders/{oid}")["order"]
        for oid in (stp["order_id"], post["order_id"], resting)
    }
    assert reasons[stp["order_id"]]["last_update_reason"] == "SelfTradeCancel"
    assert reasons[post["order_id"]]["last_update_reason"] == "PostOnlyCrossCancel"
    assert reasons[resting]["status"] == "resting"


def test_the_market_hitting_a_resting_order_tells_its_owner(
    rest_server: FakeKalshiServer, api: Api, rsa_pair: tuple[Any, Any]
) -> None:
    """submit_order by "the market" fills the user's resting order: the owner gets a maker
    fill, a user_order with reason Trade, a position, and its client_order_id on the delta."""
    oid = api.create(side="bid", price="0.40", count="5", client_order_id="rest-1")["order_id"]
    ws = ws_connect(rest_server, rsa_pair[0])
    try:
        ws_subscribe(ws, ["orderbook_delta", "fill", "user_orders", "market_positions"], [T1])
        rest_server.submit_order(T1, "ask", "0.40", 2, time_in_force="immediate_or_cancel")
        frames = {f["type"]: f["msg"] for f in ws_read(ws, 4)}
        assert frames["orderbook_delta"]["client_order_id"] == "rest-1"
        assert frames["fill"]["is_taker"] is False and frames["fill"]["order_id"] == oid
        assert frames["fill"]["post_position_fp"] == "2.00"
        assert frames["user_order"]["remaining_count_fp"] == "3.00"
        assert frames["user_order"]["last_update_reason"] == "Trade"
        assert frames["market_position"]["position_fp"] == "2.00"
    finally:
        ws.close()
    fills = api.ok("GET", "/portfolio/fills", order_id=oid)["fills"]
    assert [(f["is_taker"], f["count_fp"]) for f in fills] == [(False, "2.00")]


def test_kalshi_client_decodes_the_private_messages(
    rest_server: FakeKalshiServer, api: Api, private_pem: bytes
) -> None:
    """kalshi_sync's KalshiClient receives the fake's fill, user_order and market_position
    as typed messages with nothing missing and the values sent."""
    rest_server.set_book(T1, no=[("0.55", "3")])
    got: queue.Queue[Any] = queue.Queue()
    client = ks.KalshiClient(KEY_ID, private_pem, url=rest_server.url)
    with client:
        for channel in ("fill", "user_orders", "market_positions"):
            client.subscribe(channel, [T1], callback=got.put)
        api.create(side="bid", price="0.45", count="2", client_order_id="typed-1")
        messages = {type(m).__name__: m for m in (got.get(timeout=5) for _ in range(3))}
    fill = messages["Fill"]
    assert (fill.yes_price, fill.count, fill.post_position) == (D("0.45"), D(2), D(2))
    assert fill.client_order_id == "typed-1" and fill.sending_ts_ms is not None
    assert all(not m.missing for m in messages.values()), {
        k: m.missing for k, m in messages.items()
    }
