"""The sans-I/O recovery core fed by the real RestClient against FakeKalshiServer(rest=True):
the queries it builds are ones RestClient and the exchange accept, and what comes back
recovers exactly what was missed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import attrs
import pytest
from _fake_rest_helpers import T1

import kalshi_sync as ks
from kalshi_sync._account_snapshots import user_order_from_rest
from kalshi_sync._account_views import OrdersView, PositionsView
from kalshi_sync._fill_ledger import AccountFilter, FillLedger
from kalshi_sync.testing import FakeKalshiServer

pytest_plugins = ["_fake_rest_fixtures"]  # fixtures: rsa_pair, rest_server, api
pytestmark = pytest.mark.integration
D = Decimal
KEY = "recovery-1"


@pytest.fixture
def rest(rest_server: FakeKalshiServer, private_pem: bytes) -> Iterator[ks.RestClient]:
    with ks.RestClient(KEY, private_pem, base_url=rest_server.rest_url) as client:
        yield client


def take(rest: ks.RestClient, count: int) -> None:
    rest.create_order(
        T1, action="buy", side="yes", count=count, price="0.60", time_in_force="fill_or_kill"
    )


def test_fill_recovery_reads_exactly_the_missed_fills(
    rest_server: FakeKalshiServer, rest: ks.RestClient
) -> None:
    """Fills 1-3 delivered live, 4-6 missed: the ledger's query, run by RestClient, brings
    back 4-6 once each, oldest first, recovered; a late live copy is a duplicate."""
    ledger = FillLedger(margin=5)
    ledger.on_subscribed(time.time() - 1)
    rest_server.set_book(T1, no=[("0.40", "100")])
    for n in range(1, 7):
        take(rest, n)
    fills = sorted(rest.get_fills(ticker=T1), key=lambda f: f.count or 0)
    assert [f.count for f in fills] == [D(n) for n in range(1, 7)]
    for live in fills[:3]:
        assert ledger.on_live(live)
    query = ledger.begin_recovery(time.time(), scope=AccountFilter(market_tickers={T1}))
    assert query is not None
    page = list(rest.get_fills(**query.params()))  # one iterator: RestClient pages lazily
    assert ledger.on_recovered_page(query.generation, page)
    out = ledger.finish_recovery(query.generation)
    assert out is not None
    assert [f.trade_id for f in out] == [f.trade_id for f in fills[3:]]
    assert all(f.recovered for f in out)
    assert ledger.on_live(attrs.evolve(fills[4], recovered=False)) is False


def test_orders_and_positions_reconciled_from_the_exchange(
    rest_server: FakeKalshiServer, rest: ks.RestClient
) -> None:
    """Orders amended, canceled and placed while blind, and a position taken, come back as
    recovered messages; afterwards the views equal the exchange."""
    keep = rest.create_order(T1, action="buy", side="yes", count=5, price="0.30")
    amend = rest.create_order(T1, action="buy", side="yes", count=5, price="0.31")
    cancel = rest.create_order(T1, action="buy", side="yes", count=5, price="0.32")
    orders, positions = OrdersView(), PositionsView()
    for order in rest.get_orders(status="resting"):  # what the stream had shown
        orders.on_message(attrs.evolve(user_order_from_rest(order), recovered=False))
    orders.mark_stale()
    positions.mark_stale()
    # Blind: changes the stream never delivered.
    rest.amend_order(amend.order_id, ticker=T1, action="buy", side="yes", price="0.33", count=5)
    rest.cancel_order(cancel.order_id, market_ticker=T1)
    new = rest.create_order(T1, action="buy", side="yes", count=2, price="0.20")
    rest_server.set_book(T1, no=[("0.40", "10")])
    take(rest, 3)

    token = orders.begin_reconcile()
    resting = list(rest.get_orders(status="resting"))
    closed = [rest.get_order(order_id) for order_id in token.vanished(resting)]
    out = orders.apply_rest_snapshot(token, resting, closed)
    assert out is not None
    by_id = {str(m.order_id): m for m in out}
    assert sorted(by_id) == sorted([amend.order_id, cancel.order_id, new.order_id])
    assert by_id[amend.order_id].yes_price == D("0.33")
    assert by_id[cancel.order_id].status == "canceled"
    assert by_id[new.order_id].status == "resting"
    snap = orders.snapshot()
    assert snap.is_live and sorted(snap) == sorted(o.order_id for o in resting)
    assert keep.order_id in snap

    ptoken = positions.begin_reconcile()
    read = {sub: list(rest.get_positions(subaccount=sub)) for sub in ptoken.subaccounts}
    recovered = positions.apply_rest_snapshot(ptoken, read)
    assert recovered is not None
    [position] = recovered
    assert (position.market_ticker, position.position, position.recovered) == (T1, D(3), True)
    assert positions.snapshot().get_position(T1) == position
