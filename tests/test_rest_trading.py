"""Order entry over mocked HTTP (``responses``): the V2 wire, error mapping, retries and the
never-twice / never-lost guarantees."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import requests
import responses
from _rest_helpers import (
    BASE,
    JSON,
    KEY_ID,
    ORDERS_URL,
    TICKER,
    FakeTime,
    Landed,
    OrderBookOfRecord,
    body_of,
    query_of,
    signed_by,
)
from cryptography.hazmat.primitives.asymmetric import ed25519

from kalshi_sync import (
    AuthenticationError,
    DuplicateOrderError,
    ExchangeUnavailableError,
    HTTPStatusError,
    KalshiConnectionError,
    KalshiTimeoutError,
    OrderNotFoundError,
    OrderRejectedError,
    OrderStateUnknownError,
    RateLimitError,
    RestClient,
)

pytest_plugins = ["_rest_fixtures"]  # fixtures: mock, rest, make_client, fake_time, trade_key

D = Decimal
BUY_YES: dict[str, Any] = {"action": "buy", "side": "yes", "count": 10, "price": "0.42"}
ACK = {
    "order_id": "ord-9",
    "client_order_id": "c-9",
    "fill_count": "4.00",
    "remaining_count": "6.00",
    "average_fill_price": "0.4100",
    "average_fee_paid": "0.0070",
    "ts_ms": 1767225600123,
}


def posts(mock: responses.RequestsMock) -> list[Any]:
    return [c for c in mock.calls if c.request.method == "POST"]


def gets(mock: responses.RequestsMock) -> list[Any]:
    return [c for c in mock.calls if c.request.method == "GET"]


# -- create: the wire -----------------------------------------------------------------------


def test_create_order_wire_and_ack(
    mock: responses.RequestsMock, rest: RestClient, trade_key: ed25519.Ed25519PrivateKey
) -> None:
    """A signed POST to the V2 path with the yes-book body; the 201 becomes an OrderAck."""

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        assert signed_by(trade_key.public_key(), request)
        return 201, JSON, json.dumps(ACK)

    mock.add_callback(responses.POST, ORDERS_URL, callback=answer)
    ack = rest.create_order(TICKER, action="buy", side="no", count="10", price="0.40")
    sent = body_of(mock.calls[0])
    assert sent["side"] == "ask" and sent["price"] == "0.6000" and sent["count"] == "10.00"
    assert sent["time_in_force"] == "good_till_canceled"
    assert sent["self_trade_prevention_type"] == "taker_at_cross"
    assert uuid.UUID(sent["client_order_id"]).version == 4
    assert mock.calls[0].request.headers["Content-Type"] == "application/json"
    assert (ack.order_id, ack.client_order_id, ack.ts_ms) == ("ord-9", "c-9", 1767225600123)
    assert (ack.fill_count, ack.remaining_count) == (D("4.00"), D("6.00"))
    assert (ack.average_fill_price, ack.average_fee_paid) == (D("0.41"), D("0.007"))
    assert ack.from_lookup is False


def test_each_create_gets_its_own_client_order_id(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """Two calls without an id send two different ids; an explicit id is sent as given."""
    book = OrderBookOfRecord(mock)
    rest.create_order(TICKER, **BUY_YES)
    rest.create_order(TICKER, **BUY_YES)
    rest.create_order(TICKER, **BUY_YES, client_order_id="mine-1")
    ids = [c["client_order_id"] for c in book.creates]
    assert len(set(ids)) == 3 and ids[2] == "mine-1"


def test_ack_without_optional_fields(mock: responses.RequestsMock, rest: RestClient) -> None:
    """A 201 with only the required fields: the optional ones are None, not an error."""
    minimal = {"order_id": "o", "fill_count": "0.00", "remaining_count": "1.00", "ts_ms": 5}
    mock.add(responses.POST, ORDERS_URL, json=minimal, status=201)
    ack = rest.create_order(TICKER, **BUY_YES)
    assert ack.average_fill_price is None and ack.client_order_id is None


# -- create: never twice, never lost ----------------------------------------------------------


def test_lost_answer_then_409_reports_exactly_one_order(
    mock: responses.RequestsMock, rest: RestClient, fake_time: FakeTime
) -> None:
    """The create lands but its answer is lost; the retry (same id) gets 409; the client
    looks the order up and reports that one order."""
    book = OrderBookOfRecord(mock)
    book.lose = 1
    ack = rest.create_order(TICKER, **BUY_YES)
    assert len(book.orders) == 1  # exactly one order on the exchange
    assert len(book.creates) == 2
    assert book.creates[0]["client_order_id"] == book.creates[1]["client_order_id"]
    assert book.creates[0] == book.creates[1]  # the very same body
    assert ack.from_lookup is True
    assert ack.order_id == book.orders[0]["order_id"]
    assert ack.client_order_id == book.creates[0]["client_order_id"]
    assert ack.remaining_count == D("10.00")
    assert len(fake_time.sleeps) == 1  # one backoff before the retry
    lookup = gets(mock)[0]
    assert query_of(lookup)["ticker"] == TICKER
    assert int(query_of(lookup)["min_ts"]) <= int(fake_time.now)


def test_timeout_before_landing_then_success(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """A create that timed out without landing is sent again with the same id and placed once."""
    book = OrderBookOfRecord(mock)
    book.before = [requests.exceptions.ReadTimeout("slow")]
    ack = rest.create_order(TICKER, **BUY_YES)
    assert len(book.orders) == 1 and ack.from_lookup is False
    assert book.creates[0]["client_order_id"] == book.creates[1]["client_order_id"]
    assert gets(mock) == []  # answered: no lookup needed


def test_409_on_the_first_attempt_is_a_reused_id(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """A duplicate on the first attempt means the caller reused the id: DuplicateOrderError
    naming it, no retry, no lookup."""
    book = OrderBookOfRecord(mock)
    rest.create_order(TICKER, **BUY_YES, client_order_id="reused")
    with pytest.raises(DuplicateOrderError) as info:
        rest.create_order(TICKER, **BUY_YES, client_order_id="reused")
    assert info.value.client_order_id == "reused"
    assert info.value.code == "order_already_exists" and info.value.status_code == 409
    assert "reused" in str(info.value)
    assert isinstance(info.value, OrderRejectedError)
    assert len(book.creates) == 2 and len(book.orders) == 1 and gets(mock) == []


def test_409_after_a_429_is_a_reused_id(mock: responses.RequestsMock, rest: RestClient) -> None:
    """A 429 means nothing was done, so a 409 after it is still the caller's duplicate."""
    book = OrderBookOfRecord(mock)
    rest.create_order(TICKER, **BUY_YES, client_order_id="dup")
    book.before = [(429, {"error": "too many requests"})]
    with pytest.raises(DuplicateOrderError):
        rest.create_order(TICKER, **BUY_YES, client_order_id="dup")
    assert gets(mock) == []


def test_409_on_retry_but_order_not_found(mock: responses.RequestsMock, rest: RestClient) -> None:
    """A retry answered 409 whose order cannot be read back raises DuplicateOrderError naming
    the id (never a generic error that invites placing it again)."""
    book = OrderBookOfRecord(mock)
    duplicate = {"code": "order_already_exists", "message": "exists"}
    book.before = [requests.exceptions.ReadTimeout("lost"), (409, duplicate)]
    with pytest.raises(DuplicateOrderError, match="could not be read back") as info:
        rest.create_order(TICKER, **BUY_YES, client_order_id="c-lost")
    assert info.value.client_order_id == "c-lost"
    assert len(gets(mock)) == 1


def test_refusal_after_a_lost_answer_checks_for_the_first_order(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """After a lost answer, a refusal (trading paused) does not hide the order that landed."""
    book = OrderBookOfRecord(mock)
    book.lose = 1
    ack = rest.create_order(TICKER, **BUY_YES)  # lands, answer lost, retry answered by dedupe
    assert ack.from_lookup
    book.lose = 0
    book.before = [
        requests.exceptions.ConnectionError("reset"),
        (409, {"code": "trading_is_paused", "message": "paused"}),
    ]
    with pytest.raises(OrderRejectedError) as info:
        rest.create_order(TICKER, **BUY_YES)  # never landed: the refusal stands
    assert info.value.code == "trading_is_paused"
    assert not isinstance(info.value, DuplicateOrderError)


def test_retries_exhausted_order_found(mock: responses.RequestsMock, rest: RestClient) -> None:
    """The first attempt lands, every answer is lost: after the retries the order is found
    and reported once."""
    book = OrderBookOfRecord(mock)
    timeout = requests.exceptions.ReadTimeout("lost")
    book.before = [Landed(), timeout, timeout, timeout]
    ack = rest.create_order(TICKER, **BUY_YES)
    assert ack.from_lookup and len(book.orders) == 1
    assert len(book.creates) == 4  # 1 + max_retries


def test_retries_exhausted_order_not_found_is_unknown(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """All attempts time out and the lookup finds nothing: OrderStateUnknownError naming the id."""
    book = OrderBookOfRecord(mock)
    book.before = [requests.exceptions.ReadTimeout("lost")] * 4
    with pytest.raises(OrderStateUnknownError) as info:
        rest.create_order(TICKER, **BUY_YES, client_order_id="c-unknown")
    assert info.value.client_order_id == "c-unknown"
    assert "same client_order_id" in str(info.value)
    assert isinstance(info.value.__cause__, KalshiTimeoutError)
    assert len(book.creates) == 4


def test_lookup_failure_is_unknown(mock: responses.RequestsMock, rest: RestClient) -> None:
    """If the lookup itself fails, the order's state is reported unknown, not 'not placed'."""
    book = OrderBookOfRecord(mock)
    book.before = [requests.exceptions.ReadTimeout("lost")] * 4
    book.list_fails = True
    with pytest.raises(OrderStateUnknownError, match="lookup"):
        rest.create_order(TICKER, **BUY_YES)


def test_unreadable_2xx_is_resolved_by_lookup(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """A 201 whose body cannot be read: the order was accepted; it is found, not placed again."""
    book = OrderBookOfRecord(mock)
    book.before = [Landed((201, "<html>ok</html>"))]
    ack = rest.create_order(TICKER, **BUY_YES, client_order_id="c-x")
    assert ack.order_id == book.orders[0]["order_id"] and ack.from_lookup
    assert len(book.creates) == 1 and len(book.orders) == 1


def test_connect_timeout_never_sent_is_not_unknown(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """Connections that were never made cannot have placed anything: the timeout is raised
    as is after the retries, with no lookup."""
    mock.add(responses.POST, ORDERS_URL, body=requests.exceptions.ConnectTimeout("no route"))
    with pytest.raises(KalshiTimeoutError):
        rest.create_order(TICKER, **BUY_YES)
    assert len(posts(mock)) == 4 and gets(mock) == []


def test_refused_connection_is_not_an_unknown_order(
    trade_key: ed25519.Ed25519PrivateKey, fake_time: FakeTime
) -> None:
    """Against a real closed loopback port nothing can have been placed: after the retries
    the connection error is raised as is (not OrderStateUnknownError), with no lookup."""
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    rest = RestClient(
        KEY_ID,
        trade_key,
        base_url=f"http://127.0.0.1:{port}/trade-api/v2",
        sleep=fake_time.sleep,
        monotonic=fake_time.monotonic,
        timeout=2.0,
    )
    with rest, pytest.raises(KalshiConnectionError) as info:
        rest.create_order(TICKER, **BUY_YES)
    assert not isinstance(info.value, OrderStateUnknownError)
    assert len(fake_time.sleeps) == 3  # retried max_retries times, then raised


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried_with_the_same_id(
    status: int, mock: responses.RequestsMock, rest: RestClient, fake_time: FakeTime
) -> None:
    """A 5xx is retried (same body); backoff doubles."""
    book = OrderBookOfRecord(mock)
    down = {"code": "internal_server_error", "message": "boom"}
    book.before = [(status, down), (status, down)]
    ack = rest.create_order(TICKER, **BUY_YES)
    assert not ack.from_lookup and len(book.orders) == 1
    assert len({c["client_order_id"] for c in book.creates}) == 1 and len(book.creates) == 3
    assert fake_time.sleeps == [0.25, 0.5]


def test_429_honours_retry_after(
    mock: responses.RequestsMock, rest: RestClient, fake_time: FakeTime
) -> None:
    """A 429 with Retry-After waits that long, then retries."""
    ok = json.dumps({**ACK, "client_order_id": None})
    replies = iter([(429, {"Retry-After": "2"}, '{"error": "too many requests"}'), (201, JSON, ok)])
    mock.add_callback(responses.POST, ORDERS_URL, callback=lambda request: next(replies))
    rest.create_order(TICKER, **BUY_YES)
    assert fake_time.sleeps == [2.0]


def test_429_with_a_long_retry_after_is_raised(
    mock: responses.RequestsMock, make_client: Callable[..., RestClient], fake_time: FakeTime
) -> None:
    """A Retry-After above max_retry_after is not waited out: RateLimitError with the wait."""
    rest = make_client(max_retry_after=5.0)
    mock.add(
        responses.POST,
        ORDERS_URL,
        status=429,
        headers={"Retry-After": "60"},
        json={"error": "too many requests"},
    )
    with pytest.raises(RateLimitError) as info:
        rest.create_order(TICKER, **BUY_YES)
    assert info.value.retry_after == 60.0 and fake_time.sleeps == []
    assert len(posts(mock)) == 1


def test_429_without_retry_after_backs_off(
    mock: responses.RequestsMock, rest: RestClient, fake_time: FakeTime
) -> None:
    """Kalshi's 429 carries no Retry-After today: exponential backoff, then RateLimitError."""
    mock.add(responses.POST, ORDERS_URL, status=429, json={"error": "too many requests"})
    with pytest.raises(RateLimitError) as info:
        rest.create_order(TICKER, **BUY_YES)
    assert info.value.retry_after is None
    assert fake_time.sleeps == [0.25, 0.5, 1.0] and gets(mock) == []


def test_retry_after_as_http_date(
    mock: responses.RequestsMock, rest: RestClient, fake_time: FakeTime
) -> None:
    """Retry-After may be an HTTP-date: the wait is the time until then."""
    import email.utils

    when = email.utils.formatdate(fake_time.now + 3, usegmt=True)
    replies = iter([(429, {"Retry-After": when}, "{}"), (201, JSON, json.dumps(ACK))])
    mock.add_callback(responses.POST, ORDERS_URL, callback=lambda request: next(replies))
    rest.create_order(TICKER, **BUY_YES)
    assert fake_time.sleeps == [3.0]


@pytest.mark.parametrize(
    "body",
    [
        {"code": "insufficient_balance", "message": "not enough money"},
        {"error": {"code": "insufficient_balance", "message": "not enough money"}},
    ],
)
def test_400_is_an_order_rejection_with_kalshis_code(
    body: dict[str, Any], mock: responses.RequestsMock, rest: RestClient
) -> None:
    """A 400 (flat or nested error body) is OrderRejectedError with code and message; no retry."""
    mock.add(responses.POST, ORDERS_URL, status=400, json=body)
    with pytest.raises(OrderRejectedError) as info:
        rest.create_order(TICKER, **BUY_YES)
    assert info.value.code == "insufficient_balance"
    assert info.value.message == "not enough money"
    assert info.value.status_code == 400 and isinstance(info.value, HTTPStatusError)
    assert len(mock.calls) == 1


def test_rejection_without_a_json_body(mock: responses.RequestsMock, rest: RestClient) -> None:
    """A 400 whose body is not JSON still raises OrderRejectedError, code None."""
    mock.add(responses.POST, ORDERS_URL, status=400, body="bad request")
    with pytest.raises(OrderRejectedError) as info:
        rest.create_order(TICKER, **BUY_YES)
    assert info.value.code is None and "bad request" in str(info.value)


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_on_create_is_not_retried(
    status: int, mock: responses.RequestsMock, rest: RestClient
) -> None:
    """401/403 raise AuthenticationError at once."""
    mock.add(responses.POST, ORDERS_URL, status=status, json={"code": "unauthorized"})
    with pytest.raises(AuthenticationError):
        rest.create_order(TICKER, **BUY_YES)
    assert len(mock.calls) == 1


def test_auth_failure_after_a_lost_answer_is_unknown(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """A 401 after an attempt that may have landed: the order's state is unknown."""
    book = OrderBookOfRecord(mock)
    book.before = [requests.exceptions.ReadTimeout("lost"), (401, {"code": "unauthorized"})]
    with pytest.raises(OrderStateUnknownError):
        rest.create_order(TICKER, **BUY_YES)


def test_create_redirect_is_not_followed(mock: responses.RequestsMock, rest: RestClient) -> None:
    """A 3xx on create is an HTTPStatusError; the signed request is not re-sent elsewhere."""
    mock.add(responses.POST, ORDERS_URL, status=307, headers={"Location": "https://x.example/"})
    with pytest.raises(HTTPStatusError) as info:
        rest.create_order(TICKER, **BUY_YES)
    assert info.value.status_code == 307 and len(mock.calls) == 1


def test_max_retries_zero(
    mock: responses.RequestsMock, make_client: Callable[..., RestClient]
) -> None:
    """max_retries=0 sends once; a 5xx may have been placed, so with nothing found the
    order's state is unknown."""
    rest = make_client(max_retries=0)
    OrderBookOfRecord(mock).before = [(503, {"code": "service_unavailable"})]
    with pytest.raises(OrderStateUnknownError):
        rest.create_order(TICKER, **BUY_YES)
    assert len(posts(mock)) == 1


# -- cancel ---------------------------------------------------------------------------------


def test_cancel_order_wire_and_ack(mock: responses.RequestsMock, rest: RestClient) -> None:
    """DELETE /portfolio/events/orders/{id}?market_ticker=&subaccount= -> CancelAck."""
    answer = {"order_id": "o/1", "client_order_id": "c", "reduced_by": "6.00", "ts_ms": 9}
    mock.add(responses.DELETE, f"{ORDERS_URL}/o%2F1", json=answer)
    ack = rest.cancel_order("o/1", market_ticker=TICKER, subaccount=2)
    assert query_of(mock.calls[0]) == {"market_ticker": TICKER, "subaccount": "2"}
    assert (ack.order_id, ack.reduced_by, ack.ts_ms) == ("o/1", D("6"), 9)


def test_cancel_of_a_gone_order(mock: responses.RequestsMock, rest: RestClient) -> None:
    """404 on cancel: OrderNotFoundError, after_retry False, not retried."""
    mock.add(responses.DELETE, f"{ORDERS_URL}/o1", status=404, json={"code": "not_found"})
    with pytest.raises(OrderNotFoundError) as info:
        rest.cancel_order("o1")
    assert info.value.after_retry is False and info.value.code == "not_found"
    assert len(mock.calls) == 1


def test_cancel_retried_after_lost_answer_then_404(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """A cancel whose answer was lost is retried; the 404 that follows says after_retry=True
    (the first attempt is what cancelled it)."""
    replies: list[Any] = [
        requests.exceptions.ReadTimeout("lost"),
        (404, JSON, '{"code": "not_found", "message": "order not found"}'),
    ]
    mock.add_callback(responses.DELETE, f"{ORDERS_URL}/o1", callback=lambda r: replies.pop(0))
    with pytest.raises(OrderNotFoundError) as info:
        rest.cancel_order("o1", market_ticker=TICKER)
    assert info.value.after_retry is True and len(mock.calls) == 2


def test_cancel_retried_on_503(mock: responses.RequestsMock, rest: RestClient) -> None:
    """Cancels are idempotent: a 503 is retried and the second answer returned."""
    replies: list[Any] = [
        (503, JSON, "{}"),
        (200, JSON, '{"order_id": "o1", "reduced_by": "1.00", "ts_ms": 1}'),
    ]
    mock.add_callback(responses.DELETE, f"{ORDERS_URL}/o1", callback=lambda r: replies.pop(0))
    assert rest.cancel_order("o1").reduced_by == D(1)


def test_cancel_all(mock: responses.RequestsMock, rest: RestClient) -> None:
    """DELETE /portfolio/events/orders answers 204: None; subaccount passed; 5xx retried."""
    replies: list[Any] = [(500, JSON, "{}"), (204, {}, "")]
    mock.add_callback(responses.DELETE, ORDERS_URL, callback=lambda r: replies.pop(0))
    assert rest.cancel_all_orders(subaccount=1) is None  # type: ignore[func-returns-value]
    assert query_of(mock.calls[1]) == {"subaccount": "1"}


# -- amend / decrease -----------------------------------------------------------------------


def test_amend_order_wire(mock: responses.RequestsMock, rest: RestClient) -> None:
    """Amend sends the yes-book side and price, the total count and the ids; 200 -> OrderAck."""
    answer = {"order_id": "o1", "client_order_id": "new", "remaining_count": "3.00", "ts_ms": 7}
    mock.add(responses.POST, f"{ORDERS_URL}/o1/amend", json=answer)
    ack = rest.amend_order(
        "o1",
        ticker=TICKER,
        action="sell",
        side="no",
        price="0.35",
        count=8,
        client_order_id="old",
        updated_client_order_id="new",
        expiration_time=0,
        subaccount=0,
    )
    assert body_of(mock.calls[0]) == {
        "ticker": TICKER,
        "side": "bid",
        "price": "0.6500",
        "count": "8.00",
        "client_order_id": "old",
        "updated_client_order_id": "new",
        "expiration_time": 0,
    }
    assert query_of(mock.calls[0]) == {"subaccount": "0"}
    assert ack.remaining_count == D(3) and ack.fill_count is None


def test_amend_of_a_gone_order(mock: responses.RequestsMock, rest: RestClient) -> None:
    """404 on amend: OrderNotFoundError."""
    mock.add(responses.POST, f"{ORDERS_URL}/o1/amend", status=404, json={"code": "not_found"})
    with pytest.raises(OrderNotFoundError):
        rest.amend_order("o1", ticker=TICKER, action="buy", side="yes", price="0.5", count=1)


def test_decrease_reduce_to_is_retried(mock: responses.RequestsMock, rest: RestClient) -> None:
    """reduce_to is idempotent: a lost answer is retried."""
    replies: list[Any] = [
        requests.exceptions.ReadTimeout("lost"),
        (200, JSON, '{"order_id": "o1", "remaining_count": "2.00", "ts_ms": 3}'),
    ]
    mock.add_callback(
        responses.POST, f"{ORDERS_URL}/o1/decrease", callback=lambda r: replies.pop(0)
    )
    ack = rest.decrease_order("o1", reduce_to=2, market_ticker=TICKER)
    assert ack.remaining_count == D(2)
    assert body_of(mock.calls[1]) == {"reduce_to": "2.00", "market_ticker": TICKER}


def test_decrease_reduce_by_is_not_retried_when_it_may_have_landed(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """reduce_by twice would remove twice: a lost answer or a 5xx is raised, not retried."""
    mock.add(responses.POST, f"{ORDERS_URL}/o1/decrease", status=502, body="bad gateway")
    with pytest.raises(ExchangeUnavailableError):
        rest.decrease_order("o1", reduce_by="1.5")
    assert len(mock.calls) == 1
    assert body_of(mock.calls[0]) == {"reduce_by": "1.50"}


def test_decrease_reduce_by_is_retried_after_429(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """A 429 did nothing, so even reduce_by is retried after it."""
    replies: list[Any] = [
        (429, JSON, '{"error": "too many requests"}'),
        (200, JSON, '{"order_id": "o1", "remaining_count": "0.00", "ts_ms": 3}'),
    ]
    mock.add_callback(
        responses.POST, f"{ORDERS_URL}/o1/decrease", callback=lambda r: replies.pop(0)
    )
    assert rest.decrease_order("o1", reduce_by=1).remaining_count == 0


# -- batches --------------------------------------------------------------------------------


def test_batch_create_per_item_results(mock: responses.RequestsMock, rest: RestClient) -> None:
    """One result per item in order; a refused item keeps its error, the others their acks."""

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        items = json.loads(request.body)["orders"]
        out = [
            {
                "order_id": "o1",
                "client_order_id": items[0]["client_order_id"],
                "fill_count": "0.00",
                "remaining_count": "1.00",
                "ts_ms": 1,
            },
            {
                "client_order_id": items[1]["client_order_id"],
                "error": {"code": "insufficient_balance", "message": "no money"},
            },
        ]
        return 201, JSON, json.dumps({"orders": out})

    mock.add_callback(responses.POST, f"{ORDERS_URL}/batched", callback=answer)
    results = rest.batch_create_orders(
        [
            {"ticker": TICKER, **BUY_YES},
            {"ticker": TICKER, "action": "sell", "side": "no", "count": 2, "price": "0.3"},
        ]
    )
    sent = body_of(mock.calls[0])["orders"]
    assert [(s["side"], s["price"]) for s in sent] == [("bid", "0.4200"), ("bid", "0.7000")]
    assert [r.index for r in results] == [0, 1]
    assert results[0].ok and results[0].ack is not None and results[0].ack.order_id == "o1"
    assert not results[1].ok and isinstance(results[1].error, OrderRejectedError)
    assert results[1].error.code == "insufficient_balance"
    assert results[1].client_order_id == sent[1]["client_order_id"]


def test_batch_create_lost_answer_is_resolved_per_item(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """A batch whose answer was lost is retried whole; items that had landed come back as
    duplicates and are looked up; each order exists once."""
    placed: dict[str, dict[str, Any]] = {}
    state = {"calls": 0}

    def answer(request: Any) -> Any:
        state["calls"] += 1
        out = []
        for item in json.loads(request.body)["orders"]:
            coid = item["client_order_id"]
            if coid in placed:
                out.append(
                    {
                        "client_order_id": coid,
                        "error": {"code": "order_already_exists", "message": "dup"},
                    }
                )
                continue
            placed[coid] = {
                "order_id": f"o{len(placed)}",
                "client_order_id": coid,
                "ticker": item["ticker"],
                "remaining_count_fp": item["count"],
            }
            out.append(
                {
                    "order_id": placed[coid]["order_id"],
                    "client_order_id": coid,
                    "fill_count": "0.00",
                    "remaining_count": item["count"],
                    "ts_ms": 1,
                }
            )
        if state["calls"] == 1:
            return requests.exceptions.ReadTimeout("lost")
        return 201, JSON, json.dumps({"orders": out})

    mock.add_callback(responses.POST, f"{ORDERS_URL}/batched", callback=answer)
    mock.add_callback(
        responses.GET,
        f"{BASE}/portfolio/orders",
        callback=lambda r: (200, JSON, json.dumps({"orders": list(placed.values()), "cursor": ""})),
    )
    results = rest.batch_create_orders(
        [{"ticker": TICKER, **BUY_YES}, {"ticker": TICKER, **BUY_YES}]
    )
    assert len(placed) == 2 and state["calls"] == 2
    assert all(r.ok and r.ack is not None and r.ack.from_lookup for r in results)
    assert sorted(r.ack.order_id for r in results if r.ack) == ["o0", "o1"]


def test_batch_cancel_per_item_results(mock: responses.RequestsMock, rest: RestClient) -> None:
    """DELETE with a JSON body; a gone order is that item's OrderNotFoundError."""
    answer = {
        "orders": [
            {"order_id": "a", "reduced_by": "5.00", "ts_ms": 1},
            {"order_id": "b", "reduced_by": "0.00", "error": {"code": "not_found", "message": "x"}},
        ]
    }
    mock.add(responses.DELETE, f"{ORDERS_URL}/batched", json=answer)
    results = rest.batch_cancel_orders(["a", ("b", TICKER)], subaccount=0)
    assert body_of(mock.calls[0]) == {
        "orders": [
            {"order_id": "a", "subaccount": 0},
            {"order_id": "b", "market_ticker": TICKER, "subaccount": 0},
        ]
    }
    assert results[0].ok and results[0].ack is not None and results[0].ack.reduced_by == 5
    assert isinstance(results[1].error, OrderNotFoundError) and not results[1].ok


def test_batch_cancel_missing_entry_is_kept_as_an_error(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """An item the answer does not mention is reported, not silently dropped."""
    mock.add(responses.DELETE, f"{ORDERS_URL}/batched", json={"orders": []})
    results = rest.batch_cancel_orders(["a"])
    assert len(results) == 1 and results[0].error is not None and not results[0].ok
