"""The network thread: websocket-client, reconnects with backoff, liveness, clean stops.

This is the only module that imports ``websocket``. It owns one named daemon thread,
``kalshi-sync-ws``, that runs every socket operation of the client: connect, TLS, the HTTP
upgrade, reads (websocket-client answers Kalshi's ``heartbeat`` pings there) and -- unlike a
plain ``WebSocketApp`` -- every *send*. Commands from other threads go into an outbox and a
wake-up socket tells the network thread to write them, so one ``SSLSocket`` is never used
by two threads at once (docs/transport.md, 'Thread safety of send': OpenSSL objects are
not thread-safe). The same
wake-up makes ``close()`` prompt from any thread, and the read loop itself watches for a
silent server (no frame and no ping for ``stale_timeout``), so no watchdog thread exists.
Reads go through :class:`~kalshi_sync._bufsock.BufferedSocket`, whose buffer the loop
takes plain data frames from directly. Both that fast path and the library's own frame
reader refuse a *masked* server frame (RFC 6455 §5.1), which websocket-client alone would
unmask and deliver: the connection fails with close code 1002 and is reconnected.

The handshake sends ``User-Agent: kalshi-sync/<version>``, the caller's extra headers and
the freshly signed ``KALSHI-ACCESS-*`` headers, and no ``Origin`` (docs/protocol.md,
'Handshake headers': a browser header a bot has no reason to send, and one prod has been
reported to answer with 403).

The loop is ours, not websocket-client's ``reconnect=`` (fixed, uninterruptible sleep): a
fresh ``WebSocketApp`` and freshly signed headers per attempt, jittered exponential backoff
that resets after a healthy connection, and waits on an ``Event`` that ``close()`` sets.
"""

from __future__ import annotations

import contextlib
import logging
import random
import selectors
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import websocket
from websocket._abnf import frame_buffer
from websocket._dispatcher import Dispatcher, DispatcherBase, SSLDispatcher, WrappedDispatcher

from ._bufsock import BufferedSocket, MaskedFrameError
from .environments import check_extra_headers, user_agent
from .errors import AuthenticationError, KalshiConnectionError

__all__ = ["Connection", "DisconnectInfo"]

log = logging.getLogger("kalshi_sync.connection")

# How often the read loop wakes up with nothing to read, to check liveness and deadlines.
_TICK = 0.25
# A burst can keep the buffer non-empty for a long time; look at the clock every N frames.
_TICK_EVERY_FRAMES = 2048


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


class _StaleConnection(websocket.WebSocketTimeoutException):
    """No frame and no ping for stale_timeout: the socket is a zombie."""


class _ServerFrameBuffer(frame_buffer):
    """websocket-client's frame reader, refusing masked frames.

    The library unmasks a masked frame and delivers it; a client must instead fail the
    connection (RFC 6455 §5.1). Checked on the header, before the payload is read, so
    nothing of the frame reaches a callback -- control frames and fragments included.
    """

    def recv_header(self) -> None:
        super().recv_header()
        if self.has_mask():
            raise MaskedFrameError


def _refuse_masked_frames(ws: websocket.WebSocket) -> None:
    """Swap ``ws``'s frame reader for :class:`_ServerFrameBuffer`.

    Called from ``on_open``, which websocket-client runs after the upgrade and before any
    read loop starts, so every reader -- ours or the library's own -- gets the check. No
    frame has been read by then (the upgrade answer is read line by line from the socket,
    not through the frame buffer), so nothing is lost by replacing it.
    """
    old = ws.frame_buffer
    if not isinstance(old, _ServerFrameBuffer):
        ws.frame_buffer = _ServerFrameBuffer(old.recv, old.skip_utf8_validation)


class _Dispatcher(Dispatcher):
    """Read loop for one connection: frames, the outbox, stop requests and liveness.

    A ``Dispatcher`` subclass only so that ``create_dispatcher`` keeps its declared type.
    """

    def __init__(self, app: Any, conn: Connection) -> None:
        super().__init__(app, _TICK)
        self.conn = conn

    def read(
        self, sock: Any, read_callback: Callable[[], bool], check_callback: Callable[[], Any]
    ) -> None:
        app = self.app
        conn = self.conn
        ws = app.sock
        if ws is None or ws.sock is None:
            return
        bsock: Any = ws.sock  # our BufferedSocket, passed in as the prepared socket
        buffered = bsock.buffered
        pop = bsock.pop_data_frame
        on_frame = conn._on_frame
        cont = ws.cont_frame  # a fragmented message in progress: the library reassembles
        sel = selectors.DefaultSelector()
        sel.register(bsock.fileno(), selectors.EVENT_READ, False)
        sel.register(conn._wake_r, selectors.EVENT_READ, True)
        frames = 0
        seen = -1
        last_alive = conn.last_heard = time.monotonic()  # the upgrade answer counts
        next_tick = last_alive + _TICK
        try:
            while app.keep_running:
                if buffered():
                    # Plain data frames are parsed from our buffer and handed over
                    # directly; everything else goes through websocket-client.
                    data = pop() if cont.recving_frames is None else None
                    if data is not None:
                        try:
                            on_frame(data)
                        except Exception:  # as websocket-client's _callback does
                            log.exception("on_frame handler failed")
                    elif not read_callback():
                        return
                    frames += 1
                    if frames % _TICK_EVERY_FRAMES:
                        continue
                else:
                    for key, _ in sel.select(_TICK):
                        if key.data:
                            conn._drain_wake()
                            conn._flush_outbox(app)
                        else:
                            if not read_callback():
                                return
                            frames += 1
                if conn._stop.is_set():
                    # read() sees keep_running False, tears down (Close 1000) and returns.
                    app.keep_running = False
                    read_callback()
                    return
                now = time.monotonic()
                if now >= next_tick:
                    next_tick = now + _TICK
                    if frames != seen:
                        seen = frames
                        # Per tick, not per frame: liveness and stats need no finer clock.
                        last_alive = conn.last_heard = now
                    elif now - last_alive > conn.stale_timeout:
                        raise _StaleConnection(f"no frame and no ping for {conn.stale_timeout:g} s")
                    conn._tick(now)
        except MaskedFrameError:
            # Fail the connection (RFC 6455 §7.1.7): close 1002 without waiting for the
            # peer's close -- more frames from a broken server are not worth reading.
            with contextlib.suppress(Exception):
                ws.close(status=websocket.STATUS_PROTOCOL_ERROR, timeout=0)
            raise
        finally:
            sel.close()


class _App(websocket.WebSocketApp):
    def __init__(self, conn: Connection, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._conn = conn

    def create_dispatcher(
        self,
        ping_timeout: float | None,
        dispatcher: DispatcherBase | None = None,
        is_ssl: bool = False,
        handleDisconnect: Callable[..., Any] | None = None,
    ) -> Dispatcher | SSLDispatcher | WrappedDispatcher:
        return _Dispatcher(self, self._conn)


class Connection:
    """One logical connection to Kalshi that survives drops by reconnecting.

    Callbacks (all on the network thread, never while a lock of ours is held):
      - ``on_connected(generation)``: the upgrade succeeded; send resubscriptions with
        :meth:`send` (they go out before any other queued command of that generation).
      - ``on_frame(data)``: one text/binary frame, as bytes (UTF-8 is not validated here:
        the JSON parser validates it).
      - ``on_disconnected(info)``: the connection of ``info.generation`` ended.
      - ``on_tick(now)``: about every 0.25 s while connected (deadlines, housekeeping).
      - ``on_fatal(exc)``: the loop stopped for good (authentication refused, or a crash);
        no ``on_disconnected`` follows for that attempt.
    ``headers`` returns the signed ``KALSHI-ACCESS-*`` headers, called once per attempt;
    ``extra_headers`` are added to every handshake (ValueError at construction for a
    signed, handshake-owned or malformed header; see
    :func:`~kalshi_sync.environments.check_extra_headers`).
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
        ssl_context: ssl.SSLContext | None = None,
        reconnect: bool = True,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        stale_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        healthy_after: float = 10.0,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        extra = check_extra_headers(extra_headers)
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"not a WebSocket URL: {url!r}")
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
        self._ssl_context = ssl_context
        self.reconnect = reconnect
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stale_timeout = stale_timeout
        self.connect_timeout = connect_timeout
        self.healthy_after = healthy_after

        self._stop = threading.Event()
        # guards: _sock_in_progress, _app, _outbox swaps across threads (appends are atomic)
        self._lock = threading.Lock()
        self._sock_in_progress: socket.socket | None = None
        self._app: _App | None = None
        self._outbox: deque[tuple[int, str]] = deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread: threading.Thread | None = None
        self.generation = 0
        self.connected = False
        self.attempts = 0
        self.reconnects = 0
        # monotonic time a frame (data or ping) was last read, to within one tick
        self.last_heard = 0.0

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
            app = self._app
            if app is not None and generation == self.generation:
                self._send_now(app, text)
            return
        self._outbox.append((generation, text))
        self._wake()

    def close(self, timeout: float | None = 5.0) -> bool:
        """Stop for good. Returns True when the network thread has ended (or never ran)."""
        self._stop.set()
        self._wake()
        with self._lock:
            in_progress = self._sock_in_progress
            if in_progress is not None:
                # Interrupts a connect/TLS/upgrade in flight; the reader owns the close().
                with contextlib.suppress(OSError):
                    in_progress.shutdown(socket.SHUT_RDWR)
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

    def _close_wake(self) -> None:
        self._wake_r.close()
        self._wake_w.close()

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    # -- network thread -------------------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full (already woken) or closed
            self._wake_w.send(b"\0")

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass

    def _flush_outbox(self, app: websocket.WebSocketApp) -> None:
        outbox = self._outbox
        gen = self.generation
        while outbox:
            g, text = outbox.popleft()
            if g == gen:
                self._send_now(app, text)

    def _send_now(self, app: websocket.WebSocketApp, text: str) -> None:
        try:
            app.send(text)
        except Exception as exc:  # the read side sees the broken socket and reconnects
            log.debug("send failed: %r", exc)

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
        self.attempts += 1
        self.generation += 1
        gen = self.generation
        self._outbox.clear()
        try:
            sock = self._open_socket()
        except OSError as exc:
            log.info("connect to %s failed: %s", self.url, exc)
            self._disconnected(DisconnectInfo(gen, error=KalshiConnectionError(str(exc))))
            return "failed"
        if sock is None:
            return "failed"
        state: dict[str, Any] = {"opened": False, "error": None, "code": None, "reason": None}

        def on_open(app: _App) -> None:
            if app.sock is not None:
                _refuse_masked_frames(app.sock)
            if self._stop.is_set():
                app.keep_running = False
                return
            state["opened"] = True
            # Handshake done: reads may block only inside a frame, bounded by stale_timeout.
            sock.settimeout(self.stale_timeout)
            with self._lock:
                self._sock_in_progress = None
                self._app = app
            self.connected = True
            self._on_connected(gen)

        def on_error(app: _App, exc: BaseException) -> None:
            state["error"] = exc

        def on_close(app: _App, code: int | None, reason: str | None) -> None:
            state["code"], state["reason"] = code, reason

        app = _App(
            self,
            self.url,
            header={**self._base_headers, **self._headers()},
            on_open=on_open,
            on_message=lambda _app, data: self._on_frame(data),
            on_error=on_error,
            on_close=on_close,
            socket=BufferedSocket(sock),
        )
        try:
            # suppress_origin: websocket-client would send "Origin: http(s)://host".
            app.run_forever(skip_utf8_validation=True, suppress_origin=True)
        finally:
            with self._lock:
                self._app = None
                self._sock_in_progress = None
            self.connected = False
            with contextlib.suppress(OSError):
                sock.close()
        error = state["error"]
        status = getattr(error, "status_code", None)
        if isinstance(error, websocket.WebSocketBadStatusException) and status in (401, 403):
            fatal = AuthenticationError(
                _refusal_message(status, getattr(error, "resp_body", None)), status_code=status
            )
            self._safe_fatal(fatal)  # the owner reports the final disconnect itself
            return "fatal"
        if state["opened"]:
            if isinstance(error, websocket.WebSocketConnectionClosedException) and getattr(
                error, "status_code", None
            ):
                error = None  # a close frame: code/reason tell the story
            self._disconnected(DisconnectInfo(gen, state["code"], state["reason"], error))
            return "opened"
        if not self._stop.is_set():
            log.info("handshake with %s failed: %r", self.url, error)
        self._disconnected(DisconnectInfo(gen, error=error))
        return "failed"

    def _disconnected(self, info: DisconnectInfo) -> None:
        try:
            self._on_disconnected(info)
        except Exception:
            log.exception("on_disconnected handler failed")


# How much of a refusal's body an error message shows: enough for a CDN's "Request
# blocked" line or Kalshi's JSON error, not a whole HTML page.
_BODY_SHOWN = 200


def _printable_body(body: object) -> str:
    """The response body as one printable line, truncated (for an error message)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = " ".join(str(body or "").split())  # newlines and runs of spaces -> one space
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    if len(text) > _BODY_SHOWN:
        text = text[:_BODY_SHOWN] + "..."
    return repr(text) if text else "(empty body)"


def _refusal_message(status: int, body: object) -> str:
    """The AuthenticationError text for a 401 or 403 handshake answer."""
    shown = _printable_body(body)
    if status == 401:
        return (
            f"Kalshi refused the handshake with HTTP 401 (authentication failed): {shown}. "
            "Check the API key id, the private key, the environment (demo and prod keys "
            "differ) and that the clock is in sync (signatures carry a timestamp)."
        )
    # A 403 is not necessarily about the key: CloudFront in front of prod answers 403
    # for blocked IPs and regions, and has been reported to for some handshakes
    # (docs/protocol.md, 'Handshake headers').
    return (
        f"The WebSocket handshake was refused with HTTP 403 Forbidden: {shown}. This may "
        "not be your key: a 403 also comes from a block in front of the exchange (your IP "
        "address or region refused by its CDN or firewall) or from a key that lacks the "
        "permission needed. If REST calls with the same key work, suspect a block; "
        "otherwise check the API key id, the private key and the environment."
    )
