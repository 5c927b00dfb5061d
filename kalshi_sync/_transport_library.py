"""The library read path: websocket-client's own ``WebSocketApp.run_forever``, public API only.

The fallback for when the probe of the internals the fast path relies on fails at import
(:mod:`._transport_probe`), or when asked for with ``transport="library"``; slower, and
correct (docs/transport.md, 'The library path'). It does not import ``websocket``: the
names come from :mod:`._ws`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from ._bufsock import MaskedFrameError
from ._transport import TICK, Outcome, Send
from ._ws import STATUS_PROTOCOL_ERROR, ConnectionClosedError, WebSocketApp, refuse_masked_frames
from ._ws_liveness import Liveness, StaleConnectionError

__all__ = ["IDLE_PING", "PING_PATIENCE", "LibrarySession"]

log = logging.getLogger("kalshi_sync.transport")

# The network thread runs only when a frame arrives, so once its tick is this overdue the
# watchdog pings the server; the pong brings the thread round to run the tick (command,
# snapshot and recovery deadlines) about as often as on the fast path. Pongs do not count
# as liveness. An unanswered ping is repeated only after PING_PATIENCE.
IDLE_PING = TICK
PING_PATIENCE = 1.0


class LibrarySession:
    """One connection on websocket-client's own ``run_forever`` read loop, public API only.

    :meth:`run` blocks the network thread for the connection's life. The library reads
    every frame and calls back on that thread; it offers no hook while nothing arrives, so
    a watchdog thread (``kalshi-sync-ws-watch``, one per connection) checks liveness twice
    a tick, ends a dead connection by shutting the socket down (the reader wakes and tears
    down), and pings the server once the network thread's tick is :data:`IDLE_PING`
    overdue, so that the pong brings that thread round to run ``on_tick``.

    Sends (docs/transport.md, 'The library path'): the network thread writes directly;
    another thread's command is appended to the outbox and :meth:`wake` writes the outbox
    from the calling thread under ``send_lock`` (which keeps the queue's order) and
    websocket-client's own send lock (which keeps frames whole). Commands queued before the
    upgrade wait in the outbox and go out after ``on_open``'s resubscriptions. Over
    ``wss://`` such a write can overlap a read of the network thread on one TLS connection,
    which OpenSSL does not support: the price of this path. The fast path never does it.
    """

    def __init__(
        self,
        sock: socket.socket,
        url: str,
        header: dict[str, str],
        *,
        on_open: Callable[[Send], bool],
        on_frame: Callable[[bytes], None],
        flush: Callable[[Send], None],
        on_tick: Callable[[float], None],
        liveness: Liveness,
        monotonic: Callable[[], float] = time.monotonic,
        masked_check: bool = True,
    ) -> None:
        self.sock = sock
        self._masked_check = masked_check  # False when the probe found the check broken
        self.url = url
        self.header = header
        self.outcome = Outcome()
        self.frames = 0  # data frames and server pings (not pongs: they answer our pings)
        self._on_open = on_open
        self._on_frame = on_frame
        self._flush = flush
        self._on_tick = on_tick
        self._liveness = liveness
        self._monotonic = monotonic
        self.send_lock = threading.Lock()  # guards _open and the order of outbox writes
        self._open = False
        self._app: Any = None
        self._ws: Any = None  # the websocket.WebSocket while open
        self._dead: StaleConnectionError | None = None
        self._over = threading.Event()
        self._watch: threading.Thread | None = None
        self._next_tick = 0.0
        self._ticked_at = 0.0  # monotonic time the network thread last ran the tick
        self._answered = True  # no ping of the watchdog's is waiting for its pong

    def run(self) -> Outcome:
        """The whole connection, on the calling thread; returns how it ended."""
        self._app = app = WebSocketApp(
            self.url,
            header=self.header,
            on_open=self._opened,
            on_message=self._message,
            on_ping=self._ping,
            on_pong=self._pong,
            on_error=self._error,
            on_close=self._closed,
            socket=self.sock,
        )
        try:
            app.run_forever(skip_utf8_validation=True, suppress_origin=True)
        finally:
            self._over.set()
            with self.send_lock:
                self._open = False
                self._ws = None
            if self._watch is not None:
                self._watch.join()
        if self._dead is not None:
            self.outcome.error = self._dead
        return self.outcome

    def wake(self) -> None:
        """Write the outbox now, from the calling thread (see the class docstring)."""
        with self.send_lock:
            if self._open:
                self._flush(self._send)

    def interrupt(self) -> None:
        """End the connection from any thread: the reader wakes at once and, on its own
        thread, sends Close(1000) and tears down (docs/transport.md, 'Stopping a
        connection')."""
        app = self._app
        if app is not None:
            app.keep_running = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RD)

    def _send(self, text: str) -> None:
        ws = self._ws
        if ws is None:
            return
        try:
            ws.send(text)
        except Exception as exc:  # the read side sees the broken socket and reconnects
            log.debug("send failed: %r", exc)

    # websocket-client callbacks, all on the network thread

    def _opened(self, app: Any) -> None:
        ws = app.sock
        if self._masked_check and ws is not None:
            refuse_masked_frames(ws)
        self._ws = ws
        if not self._on_open(self._send):
            app.keep_running = False
            return
        self.outcome.opened = True
        now = self._monotonic()
        self._liveness.start(now, self.frames)
        self._next_tick = now + TICK
        self._ticked_at = now
        self._watch = threading.Thread(
            target=self._watchdog, name="kalshi-sync-ws-watch", daemon=True
        )
        self._watch.start()
        with self.send_lock:
            self._open = True
            self._flush(self._send)

    def _message(self, app: Any, data: bytes) -> None:
        self.frames += 1
        try:
            self._on_frame(data)
        except Exception:  # not through websocket-client: it would report it as on_error
            log.exception("on_frame handler failed")
        self._maybe_tick()

    def _ping(self, app: Any, data: bytes) -> None:  # the library has already ponged
        self.frames += 1
        self._maybe_tick()

    def _pong(self, app: Any, data: bytes) -> None:
        self._answered = True
        self._maybe_tick()

    def _error(self, app: Any, exc: BaseException) -> None:
        if isinstance(exc, MaskedFrameError) and app.sock is not None:
            # Fail with 1002 at once; the library's teardown would close with 1000.
            with contextlib.suppress(Exception):
                app.sock.close(status=STATUS_PROTOCOL_ERROR, timeout=0)
        if isinstance(exc, ConnectionClosedError) and getattr(exc, "status_code", None):
            return  # a close frame: on_close tells the story
        if self.outcome.opened:
            self.outcome.error = exc
        else:
            self.outcome.handshake_failed(exc)  # a 401/403 is fatal, see Connection

    def _closed(self, app: Any, code: int | None, reason: str | None) -> None:
        if code is not None:
            self.outcome.code, self.outcome.reason = code, reason

    def _maybe_tick(self) -> None:
        now = self._monotonic()
        if now >= self._next_tick:
            self._next_tick = now + TICK
            self._ticked_at = now
            self._on_tick(now)

    def _watchdog(self) -> None:
        over = self._over
        last_ping = 0.0
        # Twice a tick, so that a ping goes out soon after the network thread's tick is due.
        while not over.wait(TICK / 2):
            now = self._monotonic()
            dead = self._liveness.check(now, self.frames)
            if dead is not None:
                self._dead = dead
                self.interrupt()
                return
            if now - self._ticked_at < IDLE_PING:
                continue
            if self._answered or now - last_ping >= PING_PATIENCE:
                last_ping = now
                self._answered = False
                ws = self._ws
                if ws is not None:
                    with contextlib.suppress(Exception):
                        ws.ping()
