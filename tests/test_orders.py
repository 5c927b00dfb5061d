"""Order requests, sans-I/O: validation before anything is sent, and the V2 wire conversion."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st

from kalshi_sync import OrderRequest, RestClient
from kalshi_sync._orders import (
    cancel_item,
    count_text,
    from_wire_side,
    price_text,
    to_count,
    to_price,
    to_wire_side,
)

pytest_plugins = ["_rest_fixtures"]  # fixtures: mock, rest, make_client, fake_time

D = Decimal
TICKER = "KXHIGHNY-26JAN01-T60"


def order(**overrides: Any) -> OrderRequest:
    fields: dict[str, Any] = {
        "ticker": TICKER,
        "action": "buy",
        "side": "yes",
        "count": "10",
        "price": "0.42",
    }
    fields.update(overrides)
    return OrderRequest(**fields)


# -- side mapping ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "side", "price", "book_side", "yes_price"),
    [
        ("buy", "yes", "0.42", "bid", "0.42"),
        ("sell", "yes", "0.42", "ask", "0.42"),
        ("buy", "no", "0.40", "ask", "0.60"),
        ("sell", "no", "0.40", "bid", "0.60"),
    ],
)
def test_side_table(action: str, side: str, price: str, book_side: str, yes_price: str) -> None:
    """buy/sell x yes/no maps to the YES-book side and YES price of docs/trading.md."""
    assert to_wire_side(action, side, D(price)) == (book_side, D(yes_price))


def test_buying_no_at_40_is_an_ask_at_60_on_the_wire() -> None:
    """The request body of 'buy NO at 0.40' says side ask, price 0.6000."""
    body = order(side="no", price="0.40").to_wire()
    assert (body["side"], body["price"]) == ("ask", "0.6000")


@given(
    action=st.sampled_from(["buy", "sell"]),
    side=st.sampled_from(["yes", "no"]),
    ticks=st.integers(min_value=1, max_value=9999),
)
def test_wire_conversion_round_trip(action: str, side: str, ticks: int) -> None:
    """to_wire_side then from_wire_side gives back action and price, for every grid price;
    the YES-book side is bid exactly when the order is long YES (buy YES or sell NO)."""
    price = D(ticks) / 10000
    book_side, yes_price = to_wire_side(action, side, price)
    assert 0 < yes_price < 1 and yes_price % D("0.0001") == 0
    assert from_wire_side(book_side, yes_price, side) == (action, price)
    long_yes = (action, side) in (("buy", "yes"), ("sell", "no"))
    assert (book_side == "bid") is long_yes
    # What goes over the wire parses back to the same YES price.
    request = OrderRequest(ticker=TICKER, action=action, side=side, count=1, price=price)
    assert D(request.to_wire()["price"]) == yes_price


# -- prices and counts ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [0.42, True, None, [1]])
def test_price_of_wrong_type(value: Any) -> None:
    """A float (inexact), bool or non-number price is a TypeError."""
    with pytest.raises(TypeError, match="price"):
        to_price(value)


def test_float_price_error_suggests_a_string() -> None:
    """The float refusal shows how to write the price exactly."""
    with pytest.raises(TypeError, match=r"price='0\.42'"):
        to_price(0.42)


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.1", "0", 0, 1])
def test_price_outside_the_open_unit_interval(value: Any) -> None:
    """Prices must be strictly between 0 and 1 dollars."""
    with pytest.raises(ValueError, match="between 0 and 1"):
        to_price(value)


@pytest.mark.parametrize("value", ["0.00005", "0.12345", D("0.99999")])
def test_price_finer_than_the_grid(value: Any) -> None:
    """A price finer than $0.0001 is refused."""
    with pytest.raises(ValueError, match=r"\$0.0001"):
        to_price(value)


@pytest.mark.parametrize("value", ["abc", "NaN", "Infinity", ""])
def test_price_that_is_not_a_number(value: str) -> None:
    """Text that is not a finite number is a ValueError."""
    with pytest.raises(ValueError):
        to_price(value)


def test_prices_accept_str_int_free_decimal_forms() -> None:
    """'0.42', ' 0.4200 ' and Decimal('0.42') are the same exact price."""
    assert to_price("0.42") == to_price(" 0.4200 ") == to_price(D("0.42")) == D("0.42")
    assert price_text(D("0.6")) == "0.6000" and price_text(D("0.0001")) == "0.0001"


@pytest.mark.parametrize("value", [0, "0", -1, "-2.5"])
def test_count_must_be_positive(value: Any) -> None:
    """A count that is not positive is a ValueError."""
    with pytest.raises(ValueError, match="positive"):
        to_count(value)


def test_count_grid_and_types() -> None:
    """Counts: 0.01 steps (fractional contracts), floats refused, 2-decimal wire text."""
    assert to_count("2.5") == D("2.5") and count_text(D("2.5")) == "2.50"
    assert count_text(to_count(10)) == "10.00"
    with pytest.raises(ValueError, match=r"0\.01"):
        to_count("0.001")
    with pytest.raises(TypeError):
        to_count(1.0)
    assert to_count("0", allow_zero=True) == 0


# -- the request ----------------------------------------------------------------------------


def test_minimal_request_body() -> None:
    """A plain buy sends exactly the required V2 fields, with the default STP."""
    request = order(client_order_id="my-id-1")
    assert request.to_wire() == {
        "ticker": TICKER,
        "client_order_id": "my-id-1",
        "side": "bid",
        "count": "10.00",
        "price": "0.4200",
        "time_in_force": "good_till_canceled",
        "self_trade_prevention_type": "taker_at_cross",
    }


def test_optional_fields_are_sent_when_set() -> None:
    """post_only, expiration_time, order group, subaccount, STP and pause-cancel go out."""
    expires = dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
    body = order(
        post_only=True,
        expiration_time=expires,
        order_group_id="grp-1",
        subaccount=3,
        self_trade_prevention_type="maker",
        cancel_order_on_pause=True,
    ).to_wire()
    assert body["post_only"] is True
    assert body["expiration_time"] == int(expires.timestamp())
    assert (body["order_group_id"], body["subaccount"]) == ("grp-1", 3)
    assert body["self_trade_prevention_type"] == "maker"
    assert body["cancel_order_on_pause"] is True
    ioc = order(time_in_force="immediate_or_cancel", reduce_only=True).to_wire()
    assert ioc["reduce_only"] is True and ioc["time_in_force"] == "immediate_or_cancel"


def test_generated_client_order_id_is_a_uuid4_and_stays_with_the_request() -> None:
    """A request without an id gets a fresh uuid4, the same on every to_wire()."""
    first, second = order(), order()
    assert uuid.UUID(first.client_order_id).version == 4
    assert first.client_order_id != second.client_order_id
    assert first.to_wire()["client_order_id"] == first.to_wire()["client_order_id"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"time_in_force": "gtc"}, "time_in_force"),
        ({"time_in_force": "good_till_cancelled"}, "time_in_force"),
        ({"action": "short"}, "action"),
        ({"side": "YES"}, "side"),
        ({"self_trade_prevention_type": "cancel_both"}, "self_trade_prevention_type"),
        ({"reduce_only": True}, "immediate_or_cancel"),
        ({"reduce_only": True, "time_in_force": "fill_or_kill"}, "immediate_or_cancel"),
        ({"expiration_time": 1767312000, "time_in_force": "immediate_or_cancel"}, "good_till"),
        ({"post_only": True, "time_in_force": "immediate_or_cancel"}, "post_only"),
        ({"post_only": True, "time_in_force": "fill_or_kill"}, "post_only"),
        ({"expiration_time": dt.datetime(2026, 1, 2)}, "timezone"),
        ({"expiration_time": -5}, "expiration_time"),
        ({"client_order_id": "has space"}, "client_order_id"),
        ({"client_order_id": "x" * 65}, "client_order_id"),
        ({"subaccount": 64}, "subaccount"),
        ({"ticker": ""}, "ticker"),
        ({"order_group_id": ""}, "order_group_id"),
    ],
)
def test_invalid_requests(overrides: dict[str, Any], message: str) -> None:
    """Every combination Kalshi refuses on its face is a ValueError naming the field."""
    with pytest.raises(ValueError, match=message):
        order(**overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"post_only": 1},
        {"reduce_only": "yes"},
        {"expiration_time": 1767312000.5},
        {"count": 10.0},
        {"price": 0.42},
    ],
)
def test_wrongly_typed_requests(overrides: dict[str, Any]) -> None:
    """Flags must be bools, times ints or datetimes, money and counts never floats."""
    with pytest.raises(TypeError):
        order(**overrides)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"price": 0.42},
        {"price": "1.00"},
        {"count": 0},
        {"time_in_force": "day"},
        {"reduce_only": True},
        {"expiration_time": 1767312000, "time_in_force": "fill_or_kill"},
    ],
)
def test_create_order_sends_nothing_for_bad_input(
    kwargs: dict[str, Any], mock: responses.RequestsMock, rest: RestClient
) -> None:
    """create_order raises before any HTTP request for invalid input."""
    fields: dict[str, Any] = {"action": "buy", "side": "yes", "count": 1, "price": "0.5"}
    fields.update(kwargs)
    with pytest.raises((TypeError, ValueError)):
        rest.create_order(TICKER, **fields)
    assert len(mock.calls) == 0


def test_batch_with_one_bad_item_sends_nothing(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """A batch is validated whole before the request: one bad item, no request."""
    good = {"ticker": TICKER, "action": "buy", "side": "yes", "count": 1, "price": "0.5"}
    with pytest.raises(ValueError, match="price"):
        rest.batch_create_orders([good, {**good, "price": "2"}])
    with pytest.raises(ValueError, match="share a client_order_id"):
        rest.batch_create_orders(
            [{**good, "client_order_id": "a"}, {**good, "client_order_id": "a"}]
        )
    with pytest.raises(ValueError, match="at least one"):
        rest.batch_create_orders([])
    assert len(mock.calls) == 0


def test_amend_and_decrease_validate_before_sending(
    mock: responses.RequestsMock, rest: RestClient
) -> None:
    """amend/decrease/cancel refuse bad arguments without a request."""
    with pytest.raises(TypeError):
        rest.amend_order(
            "o1",
            ticker=TICKER,
            action="buy",
            side="yes",
            price=0.5,  # type: ignore[arg-type]  # the float is the misuse under test
            count=1,
        )
    with pytest.raises(ValueError, match="exactly one"):
        rest.decrease_order("o1")
    with pytest.raises(ValueError, match="exactly one"):
        rest.decrease_order("o1", reduce_by=1, reduce_to=2)
    with pytest.raises(ValueError, match="order_id"):
        rest.cancel_order("")
    with pytest.raises(ValueError, match="subaccount"):
        rest.cancel_order("o1", subaccount=-1)
    assert len(mock.calls) == 0


# -- cancel items ---------------------------------------------------------------------------


def test_cancel_item_shapes() -> None:
    """An id, an (id, ticker) pair or a mapping make the batch-cancel entry."""
    assert cancel_item("o1", None) == {"order_id": "o1"}
    assert cancel_item(("o1", TICKER), 2) == {
        "order_id": "o1",
        "market_ticker": TICKER,
        "subaccount": 2,
    }
    assert cancel_item({"order_id": "o1", "subaccount": 0}, 5) == {
        "order_id": "o1",
        "subaccount": 0,
    }
    with pytest.raises(ValueError, match="unknown"):
        cancel_item({"order_id": "o1", "side": "bid"}, None)
    with pytest.raises(TypeError):
        cancel_item(7, None)
