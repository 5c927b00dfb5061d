"""Shared state of a FakeKalshiServer: connections, frame queues and observation.

:class:`ServerState` is the half of :class:`~kalshi_sync.testing.FakeKalshiServer` that
knows nothing about listening sockets or handshakes: it owns the books, the per-connection
:class:`~kalshi_sync.testing._session.Session` objects, the outbound queues, the recorded
commands and handshakes, and the ``wait_*`` helpers.

Locks (never held while calling user code or writing to a socket):

* ``_lock`` (with the ``_cond`` condition) guards all protocol state: books, sessions,
  connections, faults, recorded commands and handshakes, switches.
* ``Conn.send_lock`` serialises writes to one connection. Frames are *queued* on the
  connection's outbox under ``_lock`` (which makes seq order = wire order across
  threads) and written under ``send_lock`` after ``_lock`` is released, so a client that
  stops reading stalls only writes to itself. Order: ``send_lock`` may take
  ``_counter_lock``; nothing takes ``send_lock`` while holding ``_lock``.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection

from ._books import BookStore
from ._session import Fault, Session
from ._wire import Frame, parse_command, to_json

__all__ = ["Conn", "ServerState", "logger"]

logger = logging.getLogger("kalshi_sync.testing")


class Conn:
    """Server-side bookkeeping for one live WebSocket connection."""

    def __init__(
        self,
        index: int,
        ws: ServerConnection,
        session: Session,
        now: float,
        owner: str | None = None,
    ) -> None:
        self.index = index
        self.ws = ws
        self.session = session
        self.owner = owner  # the handshake's API key id: whose private messages it gets
        self.outbox: deque[str | bytes] = deque()
        self.send_lock = threading.Lock()  # guards: writes to ws, in outbox order
        self.next_ping = now  # monotonic time of the next heartbeat
        self.pong_waiter: threading.Event | None = None
        self.pong_deadline: float | None = None

    def abort(self) -> None:
        """Abrupt TCP close: FIN without a close frame (nor a TLS close_notify)."""
        # socket.socket.shutdown on an SSLSocket bypasses the TLS layer on purpose;
        # OSError means the socket is already closed.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self.ws.socket, socket.SHUT_RDWR)


class ServerState:
    """Connections, queues, recorded traffic and waits (see the module docstring)."""

    def __init__(self, *, control_consumes_seq: bool, ping_interval: float | None) -> None:
        self._control_consumes_seq = control_consumes_seq
        self._ping_interval = ping_interval
        self._lock = threading.Lock()  # guards every attribute below up to _counter_lock
        self._cond = threading.Condition(self._lock)
        self._books = BookStore()
        self._conns: dict[int, Conn] = {}
        self._next_index = 0
        self._pending_faults: list[Fault] = []
        self._commands: list[dict[str, Any]] = []
        self._handshakes: list[dict[str, Any]] = []
        self._refuse_remaining = 0
        self._refuse_status = 503
        self._auth_failure = False
        self._silent = False
        self._pinging = True
        self._pongs = 0

        self._closers: list[threading.Thread] = []  # clean-close threads, for stop() to join

        self._counter_lock = threading.Lock()  # guards: _frames_sent
        self._frames_sent = 0
        self._wake = threading.Event()  # nudges the heartbeat thread (new connection, switch)

    # ---- connections and frames -------------------------------------------------------

    def _register(self, ws: ServerConnection) -> Conn:
        with self._cond:
            session = Session(
                self._books,
                control_consumes_seq=self._control_consumes_seq,
                pending_faults=self._pending_faults,
            )
            first_ping = time.monotonic() + (self._ping_interval or 0.0)
            request = ws.request
            owner = request.headers.get("KALSHI-ACCESS-KEY") if request is not None else None
            conn = Conn(self._next_index, ws, session, first_ping, owner)
            self._next_index += 1
            self._conns[conn.index] = conn
            self._cond.notify_all()
        self._wake.set()
        return conn

    def _unregister(self, conn: Conn) -> None:
        with self._cond:
            self._conns.pop(conn.index, None)
            self._cond.notify_all()

    def _count_pong(self) -> None:
        with self._cond:
            self._pongs += 1
            self._cond.notify_all()

    def _serve_connection(self, ws: ServerConnection) -> None:
        """Body of a websockets handler thread: read commands until the peer goes away."""
        conn = self._register(ws)
        try:
            while True:
                try:
                    data = ws.recv()
                except ConnectionClosed:
                    break
                try:
                    self._on_client_frame(conn, data)
                except Exception:  # the server must survive any client input
                    logger.debug("fake server: error handling a client frame", exc_info=True)
        except Exception:
            logger.debug("fake server: connection handler failed", exc_info=True)
        finally:
            self._unregister(conn)

    def _on_client_frame(self, conn: Conn, data: str | bytes) -> None:
        cmd = parse_command(data)
        with self._cond:
            record: dict[str, Any] = copy.deepcopy(cmd) if cmd is not None else {}
            if cmd is None:
                record["_invalid"] = data
            record["_connection"] = conn.index
            self._commands.append(record)
            self._cond.notify_all()
            if self._silent:
                return  # a wedged server reads but never answers
            self._enqueue(conn, conn.session.handle_command(cmd))
        self._flush(conn)

    def _enqueue(self, conn: Conn, frames: Iterable[Frame | str | bytes]) -> None:
        """Queue frames (caller holds ``_lock``): queue order is wire order."""
        for frame in frames:
            if isinstance(frame, str | bytes):
                conn.outbox.append(frame)
            else:
                conn.outbox.append(to_json(frame))

    def _flush(self, conn: Conn) -> None:
        """Write whatever is queued for ``conn`` (caller must not hold ``_lock``)."""
        with conn.send_lock:
            while True:
                try:
                    item = conn.outbox.popleft()
                except IndexError:
                    return
                try:
                    conn.ws.send(item)
                except (ConnectionClosed, OSError, RuntimeError):
                    conn.outbox.clear()  # the client is gone; nothing more will arrive
                    return
                with self._counter_lock:
                    self._frames_sent += 1

    def _broadcast(
        self,
        build: Callable[[Conn], list[Frame | str | bytes]],
        prepare: Callable[[], None] | None = None,
    ) -> int:
        """Run ``prepare`` and queue ``build(conn)`` for every live connection in one
        critical section, then write; returns the number of frames queued."""
        with self._lock:
            if prepare is not None:
                prepare()
            if self._silent:
                return 0
            conns = list(self._conns.values())
            count = 0
            for conn in conns:
                frames = build(conn)
                count += len(frames)
                self._enqueue(conn, frames)
        for conn in conns:
            self._flush(conn)
        return count

    # ---- observation ----------------------------------------------------------------

    @property
    def commands(self) -> list[dict[str, Any]]:
        """Every client frame so far, oldest first: the decoded command plus
        ``_connection`` (connection index); undecodable frames as ``{"_invalid": data}``."""
        with self._lock:
            return copy.deepcopy(self._commands)

    @property
    def handshakes(self) -> list[dict[str, Any]]:
        """Every upgrade request: ``time``, ``path``, ``headers``, ``status``, ``reason``."""
        with self._lock:
            return copy.deepcopy(self._handshakes)

    @property
    def connection_count(self) -> int:
        """Live WebSocket connections (registered once their handler runs)."""
        with self._lock:
            return len(self._conns)

    @property
    def frames_sent(self) -> int:
        """Text/binary frames written to clients (not pings or close frames)."""
        with self._counter_lock:
            return self._frames_sent

    @property
    def pongs_received(self) -> int:
        """Pong frames received from clients (answers to heartbeats, or unsolicited)."""
        with self._lock:
            return self._pongs

    def subscriptions(self) -> list[dict[str, Any]]:
        """Live subscriptions: connection, channel, sid, tickers, params, seq."""
        with self._lock:
            return [
                {
                    "connection": conn.index,
                    "channel": sub.channel,
                    "sid": sub.sid,
                    "tickers": list(sub.tickers),
                    "params": copy.deepcopy(sub.params),
                    "seq": sub.seq,
                }
                for conn in self._conns.values()
                for sub in conn.session.subscriptions
            ]

    def _wait(self, ready: Callable[[], Any], timeout: float, what: str) -> Any:
        """Wait under ``_cond`` until ``ready()`` is truthy (it must not call user code)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = ready()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"FakeKalshiServer: timed out waiting for {what}")
                self._cond.wait(remaining)

    def wait_for_connections(self, n: int = 1, timeout: float = 5.0) -> None:
        """Wait until at least ``n`` connections are live."""
        self._wait(lambda: len(self._conns) >= n, timeout, f"{n} connection(s)")

    def wait_for_connection_count(self, n: int, timeout: float = 5.0) -> None:
        """Wait until exactly ``n`` connections are live (e.g. 0 after a drop)."""
        self._wait(lambda: len(self._conns) == n, timeout, f"exactly {n} connection(s)")

    def wait_for_pongs(self, n: int, timeout: float = 5.0) -> None:
        """Wait until ``pongs_received >= n``."""
        self._wait(lambda: self._pongs >= n, timeout, f"{n} pong(s)")

    def wait_for_subscription(
        self, channel: str, tickers: Iterable[str] | None = None, timeout: float = 5.0
    ) -> int:
        """The sid of a live subscription on ``channel`` covering ``tickers`` (newest
        connection first), once one exists."""
        wanted = set(tickers) if tickers is not None else set()

        def find() -> int | None:
            for conn in sorted(self._conns.values(), key=lambda c: -c.index):
                for sub in conn.session.subscriptions:
                    if sub.channel == channel and all(sub.covers(t) for t in wanted):
                        return sub.sid
            return None

        sid: int = self._wait(find, timeout, f"a {channel} subscription")
        return sid

    def wait_for_command(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        """The first recorded command (oldest first, including earlier ones) for which
        ``predicate`` is true. The predicate runs without the server's lock held."""
        deadline = time.monotonic() + timeout
        checked = 0
        while True:
            with self._cond:
                while len(self._commands) == checked:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError("FakeKalshiServer: timed out waiting for a command")
                    self._cond.wait(remaining)
                batch = copy.deepcopy(self._commands[checked:])
            checked += len(batch)
            for record in batch:
                try:
                    if predicate(record):
                        return record
                except (KeyError, IndexError, TypeError, AttributeError):
                    continue  # e.g. c["cmd"] on an undecodable frame's record
