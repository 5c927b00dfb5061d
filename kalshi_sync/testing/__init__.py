"""Test helpers for code that uses kalshi_sync: a scriptable fake Kalshi exchange.

``FakeKalshiServer`` is a real WebSocket server on 127.0.0.1 (a free port) that speaks
Kalshi's Trade API v2 protocol: signed handshakes, subscribe/unsubscribe/update/list
commands, per-sid seq, order book snapshots and deltas, ``heartbeat`` pings. Tests script
it from their own thread: publish messages, skip or repeat seq numbers, send garbage,
drop or close connections, refuse handshakes, go silent, restart on the same port::

    from kalshi_sync.testing import FakeKalshiServer, generate_test_key

    pem, public_key = generate_test_key()
    with FakeKalshiServer(public_key=public_key, key_id="test-key") as server:
        server.set_book("T1", yes=[("0.42", "13")], no=[("0.56", "17")])
        ...  # connect a client to server.url
        server.apply_delta("T1", "yes", "0.42", "-3")  # publishes an orderbook_delta

With ``rest=True`` the same server also serves Kalshi's REST API on loopback
(``server.rest_url``): V2 orders matched by a price-time-priority engine on that one book,
fills, positions, balance, markets, exchange status, with signatures checked and REST
faults scriptable. A crossing order sends the owner's connections ``fill``, ``user_order``
and ``market_position`` and everyone the ``orderbook_delta`` and ``trade``::

    with FakeKalshiServer(public_key=public_key, rest=True) as server:
        server.set_book("T1", no=[("0.56", "17")])
        rest = RestClient("test-key", pem, base_url=server.rest_url)
        rest.create_order("T1", action="buy", side="yes", count=5, price="0.44")  # fills
        server.submit_order("T1", "ask", "0.45", 3)  # "the market" trades too
        server.drop_next_responses()  # the next create lands but its answer is lost

``MatchingEngine`` is the engine alone, sans I/O (plain calls in, events out).

``tls_context_pair()`` (needs the ``trustme`` test extra) gives a server/client
``ssl.SSLContext`` pair so the same server can run ``wss://localhost`` with verification.
"""

from __future__ import annotations

from ._keys import PublicKey, check_auth, generate_test_key, tls_context_pair
from ._matching import MatchingEngine
from ._orders import EngineError, FeeSchedule, OrderState, PositionState
from .server import FakeKalshiServer
from .simulator import MarketSimulator, SimulatedExchange

__all__ = [
    "EngineError",
    "FakeKalshiServer",
    "FeeSchedule",
    "MarketSimulator",
    "MatchingEngine",
    "OrderState",
    "PositionState",
    "PublicKey",
    "SimulatedExchange",
    "check_auth",
    "generate_test_key",
    "tls_context_pair",
]
