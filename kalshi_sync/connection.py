"""The network thread: one connection that survives drops, reconnects with backoff, clean stops.

It owns one named daemon thread, ``kalshi-sync-ws``, that runs every socket operation of
the client: connect, TLS, the HTTP upgrade, reads (websocket-client answers Kalshi's
``heartbeat`` pings there) and -- unlike a plain ``WebSocketApp`` -- every *send* on the
fast path. Commands from other threads go into an outbox and a wake-up socket tells the
network thread to write them, so one ``SSLSocket`` is never used by two threads at once
(docs/transport.md, 'One SSLSocket, one thread'). The same wake-up makes ``close()``
prompt from any thread, and the read loop itself watches for a silent server and for a
machine that slept (:mod:`._ws_liveness`), so no watchdog thread exists on the fast path.

The frames themselves are carried by :mod:`._transport`, the only module that imports
``websocket``: the fast path (our read loop over websocket-client's low-level
``WebSocket``) or the library path (``WebSocketApp.run_forever``), chosen by
``transport=`` and by the probe of the library's internals at import
(docs/transport.md, 'Two read paths').

The handshake sends ``User-Agent: kalshi-sync/<version>``, the caller's extra headers and
the freshly signed ``KALSHI-ACCESS-*`` headers, and no ``Origin`` (docs/protocol.md,
'Handshake headers': a browser header a bot has no reason to send, and one prod has been
reported to answer with 403).

The loop is ours, not websocket-client's ``reconnect=`` (fixed, uninterruptible sleep): a
fresh connection and freshly signed headers per attempt, jittered exponential backoff that
resets after a healthy connection, and waits on an ``Event`` that ``close()`` sets.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Literal
from urllib.parse import urlsplit

from . import _transport_probe
from ._transport import FastSession, Outcome, Send
from ._transport_library import LibrarySession
from ._ws_liveness import Liveness, default_suspend_clock
from ._ws_refusal import refusal_error
from .environments import check_extra_headers, user_agent
from .errors import KalshiConnectionError

__all__ = ["Connection", "DisconnectInfo"]

log = logging.getLogger("kalshi_sync.connection")


class DisconnectInfo:
    """Why a connection ended (passed to ``on_disconnected``)."""

    __slots__ = ("code", "error", "generation", "reason")

    def __init__(
        self,
        generation: int,
        code: int | None = None,
        reason: str | None = None,
        error: BaseException | None = None,
    ) -> None:
        self.generation = generation
        self.code = code
        self.reason = reason
        self.error = error

    def __repr__(self) -> str:
        return (
            f"DisconnectInfo(generation={self.generation}, code={self.code}, "
            f"reason={self.reason!r}, error={self.error!r})"
        )


class Connection:
    """One logical connection to Kalshi that survives drops by reconnecting.

    Callbacks (all on the network thread, never while a lock of ours is held):
      - ``on_connected(generation)``: the upgrade succeeded; send resubscriptions with
        :meth:`send` (they go out before any other queued command of that generation).
      - ``on_frame(data)``: one text/binary message, as bytes (UTF-8 is not validated
        here: the JSON parser validates it).
      - ``on_disconnected(info)``: the connection of ``info.generation`` ended.
      - ``on_tick(now)``: about every 0.25 s while connected (deadlines, housekeeping);
        ``now`` is the ``monotonic`` clock.
      - ``on_fatal(exc)``: the loop stopped for good (authentication refused, or a crash);
        no ``on_disconnected`` follows for that attempt.
      - ``on_idle()``: the fast path is about to wait for the network (called only on
        ``transport="fast"``; docs/transport.md, 'CPU per message').
    ``headers`` returns the signed ``KALSHI-ACCESS-*`` headers, called once per attempt;
    ``extra_headers`` are added to every handshake (ValueError at construction for a
    signed, handshake-owned or malformed header; see
    :func:`~kalshi_sync.environments.check_extra_headers`).

    ``transport``: "auto" (the fast read path when the probe of websocket-client's
    internals passed at import, else the library's own read loop with one logged warning),
    "fast" (ValueError if the probe failed) or "library" (websocket-client's
    ``run_forever``, public API only); see docs/transport.md, 'Two read paths'.
    ``monotonic`` and ``suspend_clock`` are the liveness clocks (injectable for tests):
    silence is measured on ``monotonic``; ``suspend_clock`` keeps counting while the
    machine sleeps (default: ``CLOCK_BOOTTIME``, else the wall clock), and a jump of it
    against ``monotonic`` ends the connection at once (docs/transport.md, 'Liveness and
    suspend').
    Thread safety: ``send`` and ``close`` may be called from any thread.
    """

    def __init__(
        self,
        url: str,
        headers: Callable[[], dict[str, str]],
        *,
        on_connected: Callable[[int], None],
        on_frame: Callable[[bytes], None],
        on_disconnected: Callable[[DisconnectInfo], None],
        on_tick: Callable[[float], None],
        on_fatal: Callable[[BaseException], None],
        on_idle: Callable[[], None] = lambda: None,
        ssl_context: ssl.SSLContext | None = None,
        reconnect: bool = True,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        stale_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        healthy_after: float = 10.0,
        extra_headers: Mapping[str, str] | None = None,
        transport: Literal["auto", "fast", "library"] = "auto",
        monotonic: Callable[[], float] = time.monotonic,
        suspend_clock: Callable[[], float] | None = None,
    ) -> None:
        extra = check_extra_headers(extra_headers)
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"not a WebSocket URL: {url!r}")
        self.transport = _transport_probe.resolve_transport(transport)
        self.url = url
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "wss" else 80)
        self._secure = parts.scheme == "wss"
        self._headers = headers
        # Unsigned handshake headers, fixed for the connection's life; a User-Agent among
        # the caller's extra headers replaces ours.
        base: dict[str, str] = {}
        if all(name.lower() != "user-agent" for name, _ in extra):
            base["User-Agent"] = user_agent()
        base.update(extra)
        self._base_headers = base
        self._on_connected = on_connected
        self._on_frame = on_frame
        self._on_disconnected = on_disconnected
        self._on_tick = on_tick
        self._on_fatal = on_fatal
        self._on_idle = on_idle
        self._ssl_context = ssl_context
        self.reconnect = reconnect
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stale_timeout = stale_timeout
        self.connect_timeout = connect_timeout
        self.healthy_after = healthy_after
        self._monotonic = monotonic
        self._liveness = Liveness(stale_timeout, suspend_clock or default_suspend_clock())

        self._stop = threading.Event()
        # guards: _sock_in_progress, _session, _net_send across threads (outbox appends
        # are atomic and need no lock)
        self._lock = threading.Lock()
        self._sock_in_progress: socket.socket | None = None
        self._session: FastSession | LibrarySession | None = None
        self._net_send: Send | None = None  # the open session's direct write
        self._outbox: deque[tuple[int, str]] = deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread: threading.Thread | None = None
        self.generation = 0
        self.connected = False
        self.attempts = 0
        self.reconnects = 0

    @property
    def last_heard(self) -> float:
        """Monotonic time a frame (data or ping) was last read, to within one tick (0.0
        before the first connection)."""
        return self._liveness.last_heard

    # -- public, any thread -------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("connection already started")
        self._thread = threading.Thread(target=self._run, name="kalshi-sync-ws", daemon=True)
        self._thread.start()

    def send(self, text: str, generation: int) -> None:
        """Queue ``text`` for the connection of ``generation``; dropped if that one is gone.

        Commands are bound to a generation because a reconnect resends the desired state
        itself: a command built for a dead connection must not reach the new one.
        """
        if threading.current_thread() is self._thread:
            net = self._net_send
            if net is not None and generation == self.generation:
                net(text)
            return
        self._outbox.append((generation, text))
        self._wake()

    def close(self, timeout: float | None = 5.0) -> bool:
        """Stop for good. Returns True when the network thread has ended (or never ran)."""
        self.request_stop()
        thread = self._thread
        if thread is None:
            self._close_wake()
            return True
        if thread is threading.current_thread():
            return False  # called from a callback: _run() closes up when it unwinds
        thread.join(timeout)
        if thread.is_alive():
            return False
        self._close_wake()
        return True

    def request_stop(self) -> None:
        """Ask the connection to stop, without waiting: the read loop wakes at once, sends
        Close(1000) and returns on its own thread; a connect or handshake in flight is
        interrupted. :meth:`close` is this plus the join."""
        self._stop.set()
        self._wake()
        with self._lock:
            in_progress = self._sock_in_progress
            session = self._session
            if in_progress is not None:
                # Interrupts a connect/TLS/upgrade in flight; the reader owns the close().
                with contextlib.suppress(OSError):
                    in_progress.shutdown(socket.SHUT_RDWR)
        if isinstance(session, LibrarySession):
            session.interrupt()

    def _close_wake(self) -> None:
        self._wake_r.close()
        self._wake_w.close()

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    # -- network thread -------------------------------------------------------------------

    def _wake(self) -> None:
        """Tell the network thread the outbox has work (or close() was called)."""
        if self.transport == "library":
            session = self._session
            if isinstance(session, LibrarySession):
                session.wake()  # written from this thread: see LibrarySession
            return
        with contextlib.suppress(OSError):  # full (already woken) or closed
            self._wake_w.send(b"\0")

    def _flush_outbox(self, send: Send) -> None:
        outbox = self._outbox
        gen = self.generation
        while outbox:
            try:
                g, text = outbox.popleft()
            except IndexError:  # emptied by a new attempt meanwhile
                return
            if g == gen:
                send(text)

    def _tick(self, now: float) -> None:
        try:
            self._on_tick(now)
        except Exception:
            log.exception("on_tick handler failed")

    def _run(self) -> None:
        delay = self.backoff_initial
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                outcome = self._attempt()
                if outcome == "fatal" or self._stop.is_set() or not self.reconnect:
                    break
                # Reset only after a connection that lasted: a server that accepts and
                # drops at once must still see growing delays, not a reconnect storm.
                if outcome == "opened" and time.monotonic() - started >= self.healthy_after:
                    delay = self.backoff_initial
                # "Equal jitter": at least half the delay, so a fleet spreads out but a
                # single client still backs off.
                wait = delay / 2 + random.uniform(0, delay / 2)
                if self._stop.wait(wait):
                    break
                delay = min(delay * 2, self.backoff_max)
                self.reconnects += 1
        except BaseException as exc:  # never die silently: report and stop
            log.exception("network thread crashed")
            self._safe_fatal(exc)
        finally:
            self.connected = False
            if self._stop.is_set():
                self._close_wake()  # idempotent; close() may do it too after the join

    def _safe_fatal(self, exc: BaseException) -> None:
        try:
            self._on_fatal(exc)
        except Exception:
            log.exception("on_fatal handler failed")

    def _open_socket(self) -> socket.socket | None:
        """TCP connect and TLS handshake, interruptible by close()."""
        raw = socket.socket(socket.AF_INET6 if ":" in self._host else socket.AF_INET)
        with self._lock:
            if self._stop.is_set():
                raw.close()
                return None
            self._sock_in_progress = raw
        try:
            raw.settimeout(self.connect_timeout)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            addr = socket.getaddrinfo(self._host, self._port, raw.family, socket.SOCK_STREAM)
            raw.connect(addr[0][4])
            if not self._secure:
                return raw
            ctx = self._ssl_context or ssl.create_default_context()
            # The SSLSocket takes over raw's file descriptor: from here on it is the one
            # to close (and the one close() must shut down to interrupt the handshake).
            with self._lock:
                # Under the lock so close() cannot shut the fd down mid-wrap: when
                # wrap_socket raises after taking the fd over, CPython leaves the fd to the
                # garbage collector. The wrap itself does no I/O.
                if self._stop.is_set():
                    raise OSError("client closing")
                raw = ctx.wrap_socket(
                    raw, server_hostname=self._host, do_handshake_on_connect=False
                )
                self._sock_in_progress = raw
            raw.do_handshake()
            return raw
        except BaseException:
            raw.close()
            with self._lock:
                self._sock_in_progress = None
            raise

    def _attempt(self) -> str:
        """One connection: returns "fatal", "opened" (the upgrade succeeded) or "failed"."""
        gen = self._begin_attempt()
        try:
            sock = self._open_socket()
        except OSError as exc:
            log.info("connect to %s failed: %s", self.url, exc)
            self._disconnected(DisconnectInfo(gen, error=KalshiConnectionError(str(exc))))
            return "failed"
        if sock is None:
            return "failed"
        session = self._make_session(sock, gen)
        try:
            if isinstance(session, FastSession):
                if session.open():
                    while session.step():
                        pass
                outcome = session.outcome
            else:
                outcome = session.run()
        finally:
            self._end_session(sock)
        return self._conclude(gen, outcome)

    # The steps of _attempt, separately callable so that a test can drive one connection
    # over a socketpair from its own thread (tests/test_connection_unit.py).

    def _begin_attempt(self) -> int:
        self.attempts += 1
        self.generation += 1
        self._outbox.clear()
        return self.generation

    def _make_session(self, sock: socket.socket, gen: int) -> FastSession | LibrarySession:
        """The session that carries connection ``gen`` over the connected ``sock``."""
        header = {**self._base_headers, **self._headers()}
        opened = functools.partial(self._opened, sock, gen)
        session: FastSession | LibrarySession
        if self.transport == "fast":
            session = FastSession(
                sock,
                self.url,
                header,
                on_open=opened,
                on_frame=self._on_frame,
                on_wake=self._flush_outbox,
                on_tick=self._tick,
                on_idle=self._on_idle,
                stop=self._stop,
                wake=self._wake_r,
                liveness=self._liveness,
                monotonic=self._monotonic,
            )
        else:
            session = LibrarySession(
                sock,
                self.url,
                header,
                on_open=opened,
                on_frame=self._on_frame,
                flush=self._flush_outbox,
                on_tick=self._tick,
                liveness=self._liveness,
                monotonic=self._monotonic,
                masked_check=_transport_probe.PROBE.masked_check,
            )
        self._liveness.stale_timeout = self.stale_timeout
        with self._lock:
            self._session = session
        return session

    def _opened(self, sock: socket.socket, gen: int, send: Send) -> bool:
        """The upgrade succeeded (network thread); False when the client is closing."""
        if self._stop.is_set():
            return False
        # Handshake done: reads may block only inside a frame, bounded by stale_timeout.
        sock.settimeout(self.stale_timeout)
        with self._lock:
            self._sock_in_progress = None
            self._net_send = send
        self.connected = True
        log.info("connected to %s (connection %d, %s read path)", self.url, gen, self.transport)
        self._on_connected(gen)
        return True

    def _end_session(self, sock: socket.socket) -> None:
        with self._lock:
            self._session = None
            self._net_send = None
            self._sock_in_progress = None
        self.connected = False
        with contextlib.suppress(OSError):
            sock.close()

    def _conclude(self, gen: int, outcome: Outcome) -> str:
        """Report how connection ``gen`` ended; returns what _attempt returns."""
        if outcome.refused is not None and outcome.refused[0] in (401, 403):
            status, body = outcome.refused
            fatal = refusal_error(status, body)
            log.error("%s", fatal)  # the message holds no key material (tests/test_security)
            # The owner reports the final disconnect itself.
            self._safe_fatal(fatal)
            return "fatal"
        if outcome.opened:
            if not self._stop.is_set():
                log.info(
                    "connection %d to %s ended: code=%s reason=%r error=%r",
                    gen,
                    self.url,
                    outcome.code,
                    outcome.reason,
                    outcome.error,
                )
            self._disconnected(DisconnectInfo(gen, outcome.code, outcome.reason, outcome.error))
            return "opened"
        if not self._stop.is_set():
            log.info("handshake with %s failed: %r", self.url, outcome.error)
        self._disconnected(DisconnectInfo(gen, error=outcome.error))
        return "failed"

    def _disconnected(self, info: DisconnectInfo) -> None:
        try:
            self._on_disconnected(info)
        except Exception:
            log.exception("on_disconnected handler failed")
