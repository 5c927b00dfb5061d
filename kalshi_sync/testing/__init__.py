"""Test helpers for code that uses kalshi_sync: a scriptable fake Kalshi WebSocket server.

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

``tls_context_pair()`` (needs the ``trustme`` test extra) gives a server/client
``ssl.SSLContext`` pair so the same server can run ``wss://localhost`` with verification.
"""

from __future__ import annotations

from ._keys import PublicKey, check_auth, generate_test_key, tls_context_pair
from .server import FakeKalshiServer
from .simulator import MarketSimulator, SimulatedExchange

__all__ = [
    "FakeKalshiServer",
    "MarketSimulator",
    "PublicKey",
    "SimulatedExchange",
    "check_auth",
    "generate_test_key",
    "tls_context_pair",
]
