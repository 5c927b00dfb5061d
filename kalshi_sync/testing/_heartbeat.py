"""Kalshi-style heartbeats for FakeKalshiServer: ``heartbeat`` pings and pong timeouts.

Runs on its own thread (``kalshi-fake-pinger``). Each connection gets a ping frame with
payload ``b"heartbeat"`` every ``interval`` seconds, as Kalshi sends every 10 s; with a
``pong_timeout`` a connection whose pong is late is dropped abruptly. A heartbeat is not
re-sent while the previous one is unanswered (websockets refuses two pending pings with
the same payload), so a client that never pongs sees one ping, then the drop.
"""

from __future__ import annotations

import threading
import time

from websockets.exceptions import ConcurrencyError, ConnectionClosed

from ._state import Conn, ServerState, logger

__all__ = ["run_heartbeats"]


def run_heartbeats(
    state: ServerState, interval: float, pong_timeout: float | None, stopping: threading.Event
) -> None:
    """Loop until ``stopping`` is set; sleeps on ``state._wake`` between deadlines."""
    while not stopping.is_set():
        now = time.monotonic()
        wake_at = now + 1.0
        to_ping: list[Conn] = []
        to_drop: list[Conn] = []
        with state._lock:
            for conn in state._conns.values():
                if conn.pong_deadline is not None:
                    if conn.pong_waiter is not None and conn.pong_waiter.is_set():
                        conn.pong_deadline = None
                    elif now >= conn.pong_deadline:
                        conn.pong_deadline = None
                        to_drop.append(conn)
                        continue
                    else:
                        wake_at = min(wake_at, conn.pong_deadline)
                if state._silent or not state._pinging:
                    continue
                if now >= conn.next_ping:
                    to_ping.append(conn)
                    conn.next_ping = now + interval
                wake_at = min(wake_at, conn.next_ping)
        for conn in to_drop:
            logger.debug("fake server: no pong from connection %d, dropping", conn.index)
            conn.abort()
        for conn in to_ping:
            try:
                waiter = conn.ws.ping(b"heartbeat")
            except ConcurrencyError:
                continue  # the previous heartbeat is still unanswered: don't stack them
            except (ConnectionClosed, OSError, RuntimeError):
                continue
            if pong_timeout is not None:
                with state._lock:
                    conn.pong_waiter = waiter
                    conn.pong_deadline = time.monotonic() + pong_timeout
                    wake_at = min(wake_at, conn.pong_deadline)
        state._wake.wait(max(0.0, wake_at - time.monotonic()))
        state._wake.clear()
