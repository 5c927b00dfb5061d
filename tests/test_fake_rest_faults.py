"""Scripted REST faults of FakeKalshiServer over real HTTP: 5xx, 429 with Retry-After, a
create that lands but loses its answer (the retry must not place a second order), slow
answers that hold up no one else, and the request record."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests
from _fake_rest_helpers import KEY_ID, T1, Api, order_body

import kalshi_sync as ks
from kalshi_sync.testing import FakeKalshiServer

pytest_plugins = ["_fake_rest_fixtures"]  # fixtures: rsa_pair, rest_server, api
pytestmark = pytest.mark.integration


def test_next_requests_fail_with_5xx_then_recover(rest_server: FakeKalshiServer, api: Api) -> None:
    """fail_next_requests(2, 503) on one path: two 503s there, others untouched, then 200."""
    rest_server.fail_next_requests(2, 503, method="GET", path="/portfolio/balance")
    first = api.call("GET", "/portfolio/balance")
    assert first.status_code == 503 and first.json()["code"] == "service_unavailable"
    assert api.call("GET", "/exchange/status").status_code == 200
    assert api.call("GET", "/portfolio/balance").status_code == 503
    assert api.call("GET", "/portfolio/balance").status_code == 200


def test_a_failed_create_places_nothing(rest_server: FakeKalshiServer, api: Api) -> None:
    """A scripted 500 answers before the create is handled: no order exists."""
    rest_server.fail_next_requests(1, method="POST", path="/portfolio/events/orders")
    resp = api.call("POST", "/portfolio/events/orders", order_body(client_order_id="f1"))
    assert resp.status_code == 500 and resp.json()["code"] == "internal_server_error"
    assert rest_server.orders(KEY_ID) == []


def test_rate_limit_answers_429_with_retry_after(rest_server: FakeKalshiServer, api: Api) -> None:
    """429 carries Kalshi's body and the scripted Retry-After (or none)."""
    rest_server.rate_limit_next_requests(1, retry_after=2)
    rest_server.rate_limit_next_requests(1, retry_after=None)
    first, second = api.call("GET", "/portfolio/fills"), api.call("GET", "/portfolio/fills")
    assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
    assert first.json() == {"error": "too many requests"}
    assert second.status_code == 429 and "Retry-After" not in second.headers
    assert api.call("GET", "/portfolio/fills").status_code == 200


def test_create_lands_but_the_answer_is_lost(rest_server: FakeKalshiServer, api: Api) -> None:
    """A dropped answer is a connection error although the order rests; the retry with the
    same client_order_id is 409 and no second order exists."""
    rest_server.drop_next_responses()
    body = order_body(price="0.40", client_order_id="lost-1")
    with pytest.raises(requests.ConnectionError):
        api.call("POST", "/portfolio/events/orders", body)
    record = rest_server.wait_for_request(method="POST", path="/portfolio/events/orders")
    assert (record["status"], record["fault"]) == (None, "drop")
    retry = api.call("POST", "/portfolio/events/orders", body)
    assert retry.status_code == 409 and retry.json()["code"] == "order_already_exists"
    orders = rest_server.orders(KEY_ID)
    assert [(o.client_order_id, o.status) for o in orders] == [("lost-1", "resting")]


def test_rest_client_retry_after_a_lost_create_places_one_order(
    rest_server: FakeKalshiServer, rsa_pair: tuple[Any, Any], private_pem: bytes
) -> None:
    """kalshi_sync's RestClient through a lost answer: one order on the server, and the
    call returns that order."""
    rest_server.drop_next_responses()
    with ks.RestClient("trader-2", private_pem, base_url=rest_server.rest_url) as rest:
        ack = rest.create_order(T1, action="buy", side="yes", count=2, price="0.41")
    orders = rest_server.orders("trader-2")
    assert len(orders) == 1 and orders[0].order_id == ack.order_id
    creates = rest_server.wait_for_requests(2, method="POST", path="/portfolio/events/orders")
    assert creates[0]["body"]["client_order_id"] == creates[1]["body"]["client_order_id"]


def test_slow_answer_holds_up_no_other_request(rest_server: FakeKalshiServer, api: Api) -> None:
    """A delayed request waits; a request on another connection is answered meanwhile."""
    rest_server.delay_next_requests(1, 0.5, path="/portfolio/balance")
    done: dict[str, float] = {}

    def slow() -> None:
        other = Api.__new__(Api)
        other.__dict__.update(api.__dict__, session=requests.Session())
        started = time.monotonic()
        assert other.call("GET", "/portfolio/balance").status_code == 200
        done["elapsed"] = time.monotonic() - started
        other.close()

    thread = threading.Thread(target=slow)
    thread.start()
    pending = rest_server.wait_for_request(path="/portfolio/balance", answered=False)
    assert pending["answered"] is False
    assert api.call("GET", "/exchange/status").status_code == 200
    assert rest_server.rest_requests[0]["answered"] is False  # still delayed
    thread.join(5)
    assert done["elapsed"] >= 0.5
    assert rest_server.wait_for_request(path="/portfolio/balance")["fault"] == "delay"


def test_stop_cuts_a_delay_short(rsa_pair: tuple[Any, Any]) -> None:
    """stop() does not wait out a long scripted delay: the client sees the connection end."""
    server = FakeKalshiServer(public_key=rsa_pair[1], rest=True, ping_interval=None).start()
    api = Api(server, rsa_pair[0])
    server.delay_next_requests(1, 60.0)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            api.call("GET", "/portfolio/balance")
        except requests.RequestException as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    server.wait_for_request(answered=False)
    started = time.monotonic()
    server.stop()
    thread.join(5)
    assert not thread.is_alive() and len(errors) == 1
    assert time.monotonic() - started < 5
    api.close()


def test_requests_are_recorded_with_method_path_query_body_headers(
    rest_server: FakeKalshiServer, api: Api
) -> None:
    """The record has the parts a test asserts on; path patterns match relative paths."""
    api.create(price="0.33", client_order_id="rec-1")
    api.call("GET", "/portfolio/orders", status="resting", limit="5")
    create = rest_server.wait_for_request(method="POST", path="/portfolio/events/orders")
    assert create["body"]["client_order_id"] == "rec-1" and create["status"] == 201
    assert create["headers"]["KALSHI-ACCESS-KEY"] == KEY_ID
    listing = rest_server.wait_for_request(path="/portfolio/orders*")
    assert listing["query"] == {"status": "resting", "limit": "5"}
    assert listing["path"] == "/trade-api/v2/portfolio/orders"


def test_restart_keeps_the_rest_port_and_the_orders(
    rest_server: FakeKalshiServer, api: Api
) -> None:
    """restart() drops REST connections too and listens again on the same URL; state stays."""
    url = rest_server.rest_url
    oid = api.create(price="0.35")["order_id"]
    rest_server.restart()
    assert rest_server.rest_url == url
    assert api.ok("GET", f"/portfolio/orders/{oid}")["order"]["status"] == "resting"
