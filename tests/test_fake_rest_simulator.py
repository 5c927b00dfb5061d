"""The simulator on the matching engine: users' orders rest in the simulated book, get
filled by simulated takers, are never pulled by simulated makers, and SimulatedExchange
serves REST trading with the same key."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kalshi_sync.testing import FakeKalshiServer, MarketSimulator, SimulatedExchange

D = Decimal
USER = "bot-1"


def test_user_order_at_the_best_bid_is_filled_by_simulated_takers() -> None:
    """A user's YES bid joining the best level gets hit: fills for the user, a position,
    and the book stays uncrossed and equal to what the simulator reads."""
    server = FakeKalshiServer()
    sim = MarketSimulator(server, ["SIM-U"], seed=21)
    best_yes = max(server.book("SIM-U")[0])
    order = server.submit_order("SIM-U", "bid", best_yes, 40, owner=USER)
    assert order.status == "resting"
    for _ in range(3000):
        sim.step()
        yes, no = server.book("SIM-U")
        assert max(yes) < 1 - max(no)
        if server.fills(USER):
            break
    fills = server.fills(USER)
    assert fills and all(f.yes_price == best_yes and not f.is_taker for f in fills)
    filled = sum((f.count for f in fills), D(0))
    assert server.position(USER, "SIM-U").position == filled
    assert sim.book("SIM-U") == server.book("SIM-U")


def test_simulated_makers_never_pull_a_users_order() -> None:
    """Thousands of steps never cancel or shrink a user's order: it only ever loses
    contracts to fills, and what rests of it is in the user's liquidity."""
    server = FakeKalshiServer()
    sim = MarketSimulator(server, ["SIM-V"], seed=4)
    far = min(server.book("SIM-V")[1])  # the farthest NO bid
    order = server.submit_order("SIM-V", "ask", 1 - far, 7, owner=USER)
    for _ in range(2000):
        sim.step()
        now = server.order(order.order_id)
        assert now is not None and now.status != "canceled"
        filled = sum((f.count for f in server.fills(USER)), D(0))
        assert now.fill_count == filled and now.remaining_count + filled == 7
        resting = server.liquidity("SIM-V", owner=USER)[1]
        assert resting == ({far: now.remaining_count} if now.remaining_count else {})


@pytest.mark.integration
def test_simulated_exchange_trades_over_rest() -> None:
    """SimulatedExchange.rest_client() places an order that matches the simulated book."""
    with SimulatedExchange(["SIM-R"], seed=9, rate=50) as exchange:
        with exchange.rest_client() as rest:
            # 0.99 crosses whatever the best ask is while the simulator keeps moving.
            ack = rest.create_order(
                "SIM-R",
                action="buy",
                side="yes",
                count=1,
                price="0.99",
                time_in_force="immediate_or_cancel",
            )
        assert ack.fill_count == 1
        fills = exchange.server.fills(exchange.key_id)
        assert len(fills) == 1 and fills[0].order_id == ack.order_id
