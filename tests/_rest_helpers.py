"""Shared pieces of the REST trading tests: a fake clock, a stateful order book of record that
answers like Kalshi's order endpoints, and a signature check. Fixtures: ``_rest_fixtures``."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import responses
from cryptography.hazmat.primitives.asymmetric import ed25519

from kalshi_sync.environments import PROD

KEY_ID = "5a1d7c1e-0000-4000-8000-0123456789ab"
BASE = PROD.rest_url
TICKER = "KXHIGHNY-26JAN01-T60"
ORDERS_URL = f"{BASE}/portfolio/events/orders"
LIST_URL = f"{BASE}/portfolio/orders"
JSON = {"Content-Type": "application/json"}

Reply = tuple[int, dict[str, str], str]


class FakeTime:
    """A wall clock, a monotonic clock and a sleep that only advances them (and records)."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def body_of(call: Any) -> Any:
    """The JSON body a mocked call sent."""
    raw = call.request.body
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def query_of(call: Any) -> dict[str, str]:
    """The query parameters of a mocked call, one value each."""
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def signed_by(public_key: ed25519.Ed25519PublicKey, request: requests.PreparedRequest) -> bool:
    """True when the request's Ed25519 signature verifies over timestamp + METHOD + path."""
    headers = request.headers
    message = (
        f"{headers['KALSHI-ACCESS-TIMESTAMP']}{request.method}{urlsplit(str(request.url)).path}"
    )
    public_key.verify(base64.b64decode(headers["KALSHI-ACCESS-SIGNATURE"]), message.encode())
    return headers["KALSHI-ACCESS-KEY"] == KEY_ID


def wire_order(**fields: Any) -> dict[str, Any]:
    """An Order object as GET /portfolio/orders sends it, with overrides."""
    order: dict[str, Any] = {
        "order_id": "ord-1",
        "user_id": "user-1",
        "client_order_id": "coid-1",
        "ticker": TICKER,
        "outcome_side": "yes",
        "book_side": "bid",
        "side": "yes",
        "action": "buy",
        "type": "limit",
        "status": "resting",
        "yes_price_dollars": "0.4200",
        "no_price_dollars": "0.5800",
        "fill_count_fp": "0.00",
        "remaining_count_fp": "10.00",
        "initial_count_fp": "10.00",
        "taker_fees_dollars": "0.0000",
        "maker_fees_dollars": "0.0000",
        "taker_fill_cost_dollars": "0.0000",
        "maker_fill_cost_dollars": "0.0000",
        "created_time": "2026-01-01T00:00:00.123Z",
        "exchange_index": 0,
    }
    order.update(fields)
    return order


class Landed:
    """A scripted create step: the order is placed, then ``reply`` is what the client gets
    (an exception, or (status, text)); default: the answer is lost to a timeout."""

    def __init__(self, reply: Any = None) -> None:
        self.reply = reply if reply is not None else requests.exceptions.ReadTimeout("lost")


class OrderBookOfRecord:
    """What the exchange knows: every order placed, by client_order_id, like Kalshi's dedupe.

    Registered on a ``responses`` mock for ``POST /portfolio/events/orders`` and
    ``GET /portfolio/orders``. ``lose`` answers the next N creates with a timeout *after*
    storing the order (the order lands, its answer is lost). ``before`` scripts the next
    creates, one step each: an exception or (status, body) answers without placing anything;
    a :class:`Landed` places the order and answers with its reply.
    """

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.orders: list[dict[str, Any]] = []
        self.creates: list[dict[str, Any]] = []
        self.lose = 0
        self.before: list[Any] = []
        self.list_fails = False
        mock.add_callback(responses.POST, ORDERS_URL, callback=self._create)
        mock.add_callback(responses.GET, LIST_URL, callback=self._list)

    def _create(self, request: Any) -> Any:
        body = json.loads(request.body)
        self.creates.append(body)
        landed: Landed | None = None
        if self.before:
            step = self.before.pop(0)
            if isinstance(step, Exception):
                return step
            if isinstance(step, Landed):
                landed = step
            else:
                status, reply = step
                return status, JSON, json.dumps(reply)
        coid = body["client_order_id"]
        if any(order["client_order_id"] == coid for order in self.orders):
            error = {"error": {"code": "order_already_exists", "message": "order already exists"}}
            return 409, JSON, json.dumps(error)
        order_id = f"ord-{len(self.orders) + 1}"
        self.orders.append(
            wire_order(
                order_id=order_id,
                client_order_id=coid,
                ticker=body["ticker"],
                book_side=body["side"],
                yes_price_dollars=body["price"],
                remaining_count_fp=body["count"],
                initial_count_fp=body["count"],
            )
        )
        if landed is not None:
            if isinstance(landed.reply, Exception):
                return landed.reply
            status, text = landed.reply
            return status, JSON, text
        if self.lose:
            self.lose -= 1
            return requests.exceptions.ReadTimeout("the answer was lost")
        reply = {
            "order_id": order_id,
            "client_order_id": coid,
            "fill_count": "0.00",
            "remaining_count": body["count"],
            "ts_ms": 1767225600123,
        }
        return 201, JSON, json.dumps(reply)

    def _list(self, request: Any) -> Reply:
        if self.list_fails:
            return 503, JSON, '{"code": "service_unavailable", "message": "down"}'
        params = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        orders = [o for o in self.orders if o["ticker"] == params.get("ticker", o["ticker"])]
        return 200, JSON, json.dumps({"orders": list(reversed(orders)), "cursor": ""})
