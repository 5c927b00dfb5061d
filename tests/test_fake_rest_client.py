"""kalshi_sync's RestClient against FakeKalshiServer(rest=True): every trading and
portfolio call over real HTTP, so the client and the fake agree on the wire."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from _fake_rest_helpers import T1

import kalshi_sync as ks
from kalshi_sync.testing import FakeKalshiServer

pytest_plugins = ["_fake_rest_fixtures"]  # fixtures: rsa_pair, rest_server, api
pytestmark = pytest.mark.integration
D = Decimal
KEY = "client-1"


@pytest.fixture
def rest(rest_server: FakeKalshiServer, private_pem: bytes) -> Iterator[ks.RestClient]:
    with ks.RestClient(KEY, private_pem, base_url=rest_server.rest_url) as client:
        yield client


def test_buy_no_goes_out_as_ask_and_fills(
    rest_server: FakeKalshiServer, rest: ks.RestClient
) -> None:
    """Buying NO at 0.40 is an ask at 0.60 that takes a YES bid at 0.60; the fill, the
    position (-NO) and the order read back agree."""
    rest_server.set_book(T1, yes=[("0.60", "10")])
    ack = rest.create_order(
        T1, action="buy", side="no", count=3, price="0.40", time_in_force="immediate_or_cancel"
    )
    assert ack.fill_count == 3 and ack.remaining_count == 0
    order = rest.get_order(ack.order_id)
    assert order.status == "executed" and order.fill_count == 3
    fills = list(rest.get_fills(ticker=T1))
    assert [(f.yes_price, f.count, f.outcome_side) for f in fills] == [(D("0.60"), D(3), "no")]
    positions = {p.ticker: p for p in rest.get_positions()}
    assert positions[T1].position == -3


def test_resting_order_lifecycle_with_the_client(
    rest_server: FakeKalshiServer, rest: ks.RestClient
) -> None:
    """create, amend, decrease, cancel, and get_orders' status filter through RestClient."""
    ack = rest.create_order(T1, action="buy", side="yes", count=5, price="0.30")
    amended = rest.amend_order(
        ack.order_id, ticker=T1, action="buy", side="yes", price="0.31", count=6
    )
    assert amended.remaining_count == 6
    decreased = rest.decrease_order(ack.order_id, reduce_by=2)
    assert decreased.remaining_count == 4
    assert [o.order_id for o in rest.get_orders(status="resting")] == [ack.order_id]
    cancelled = rest.cancel_order(ack.order_id, market_ticker=T1)
    assert cancelled.reduced_by == 4
    with pytest.raises(ks.OrderNotFoundError):
        rest.cancel_order(ack.order_id, market_ticker=T1)
    assert rest_server.book(T1) == ({}, {})


def test_batches_and_cancel_all_with_the_client(
    rest_server: FakeKalshiServer, rest: ks.RestClient
) -> None:
    """batch_create_orders, batch_cancel_orders and cancel_all_orders round trip."""
    items = [
        {"ticker": T1, "action": "buy", "side": "yes", "count": 1, "price": f"0.2{i}"}
        for i in range(3)
    ]
    results = rest.batch_create_orders(items)
    ids = [r.ack.order_id for r in results if r.ack is not None]
    assert len(ids) == 3
    cancelled = rest.batch_cancel_orders([(ids[0], T1)])
    assert cancelled[0].error is None
    rest.cancel_all_orders()
    assert [o.status for o in rest_server.orders(KEY)] == ["canceled"] * 3


def test_balance_status_and_fills_paging_with_the_client(
    rest_server: FakeKalshiServer, rest: ks.RestClient
) -> None:
    """get_balance is exact; get_exchange_status reports shards; get_fills follows cursors."""
    rest_server.set_book(T1, no=[("0.50", "10")])
    for _ in range(3):
        rest.create_order(T1, action="buy", side="yes", count=1, price="0.50")
    assert len(list(rest.get_fills(limit=1))) == 3
    fees = sum((f.fee_cost or D(0) for f in rest.get_fills()), D(0))
    assert rest.get_balance().balance == D("1000") - D("1.50") - fees
    rest_server.add_market("KXSHARD-1", exchange_index=2)
    rest_server.set_exchange_status(exchange_index=2, trading_active=False)
    status = rest.get_exchange_status()
    shard = status.index(2)
    assert status.trading_active and shard is not None and shard.trading_active is False
