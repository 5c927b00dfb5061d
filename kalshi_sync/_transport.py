"""The fast read path, and what both read paths share.

One connection's frames travel on one of two read paths (docs/transport.md, 'Two read
paths'):

- **fast** (:class:`FastSession`): websocket-client's low-level ``WebSocket`` does the
  upgrade, answers pings, reassembles fragments and runs the close handshake, while our own
  loop -- one :meth:`FastSession.step` at a time -- selects on the socket and the wake-up
  socket, takes plain data frames straight out of
  :class:`~kalshi_sync._bufsock.BufferedSocket`'s buffer, and writes the outbox. Every read
  and every write happens on the network thread.
- **library** (:class:`~kalshi_sync._transport_library.LibrarySession`): websocket-client's
  own ``WebSocketApp.run_forever`` read loop, public API only. Slower; used when the probe
  of the library's internals fails at import (:mod:`._transport_probe`), or when asked for
  with ``transport="library"``.

Neither imports ``websocket``: the names they use come from :mod:`._ws`, the fence.
"""

from __future__ import annotations

import contextlib
import logging
import select
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from ._bufsock import EMPTY, LIBRARY, BufferedSocket, MaskedFrameError
from ._ws import (
    OPCODE_BINARY,
    OPCODE_CLOSE,
    OPCODE_TEXT,
    STATUS_NORMAL,
    STATUS_PROTOCOL_ERROR,
    BadStatusError,
    ConnectionClosedError,
    WebSocket,
    refuse_masked_frames,
)
from ._ws_liveness import Liveness

__all__ = ["CLOSE_WAIT", "TICK", "FastSession", "Outcome", "Send", "close_args"]

log = logging.getLogger("kalshi_sync.transport")

# How often the read loop wakes up with nothing to read, to check liveness and deadlines.
TICK = 0.25
# A burst can keep the buffer non-empty for a long time; look at the clock every N frames.
TICK_EVERY_FRAMES = 2048
# websocket-client's own timeout for the close handshake (WebSocket.close's default).
CLOSE_WAIT = 3.0
# What websocket-client raises when a read returns nothing; the fast path's own reads say it
# the same way.
_PEER_GONE = "Connection to remote host was lost."

Send = Callable[[str], None]


class _Waiter:
    """Waits until the socket or the wake-up socket is readable: which of the two are.

    ``select.poll`` where the platform has it: one C call per wait, about 1 us less than
    the ``selectors`` layer on top of it, which the fast path pays once per wake-up (once
    per message at a few thousand messages a second). ``selectors`` elsewhere (Windows).
    """

    __slots__ = ("_poll", "_sel", "_wake_fd")

    def __init__(self, sock_fd: int, wake_fd: int) -> None:
        self._wake_fd = wake_fd
        self._poll: Any = None
        self._sel: selectors.BaseSelector | None = None
        if hasattr(select, "poll"):
            self._poll = select.poll()
            self._poll.register(sock_fd, select.POLLIN)
            self._poll.register(wake_fd, select.POLLIN)
        else:  # Windows
            self._sel = selectors.DefaultSelector()
            self._sel.register(sock_fd, selectors.EVENT_READ)
            self._sel.register(wake_fd, selectors.EVENT_READ)

    def wait(self, timeout: float) -> tuple[bool, bool]:
        """(socket readable, wake-up socket readable) after at most ``timeout`` seconds.
        An error or hang-up counts as readable: the read that follows reports it."""
        if self._poll is not None:
            ready = [fd for fd, _ in self._poll.poll(timeout * 1000.0)]
        else:
            assert self._sel is not None
            ready = [key.fd for key, _ in self._sel.select(timeout)]
        wake = self._wake_fd in ready
        return len(ready) > wake, wake

    def close(self) -> None:
        if self._sel is not None:
            self._sel.close()


class Outcome:
    """How one connection attempt ended, in kalshi_sync's terms.

    ``opened``: the upgrade succeeded (and the client was not closing). ``code``/``reason``:
    the server's close frame, if one came. ``error``: what ended it (None for a clean
    close). ``refused``: the HTTP status and body of a refused upgrade.
    """

    __slots__ = ("code", "error", "opened", "reason", "refused")

    def __init__(self) -> None:
        self.opened = False
        self.code: int | None = None
        self.reason: str | None = None
        self.error: BaseException | None = None
        self.refused: tuple[int, object] | None = None

    def handshake_failed(self, exc: BaseException) -> None:
        self.error = exc
        if isinstance(exc, BadStatusError):
            status = getattr(exc, "status_code", None)
            if isinstance(status, int):
                self.refused = (status, getattr(exc, "resp_body", None))

    def closed_by_server(self, code: int | None, reason: str | None) -> None:
        self.code, self.reason = code, reason
        if code is None and self.error is None:
            # A close frame without a status code: nothing else tells the story.
            self.error = ConnectionClosedError("Connection closed")


def close_args(data: bytes) -> tuple[int | None, str | None]:
    """Status code and reason of a close frame's payload (RFC 6455 §5.5.1)."""
    if len(data) < 2:
        return None, None
    reason = data[2:].decode("utf-8", "replace") or None
    return int.from_bytes(data[:2], "big"), reason


class FastSession:
    """One connection on the fast path: :meth:`open`, then :meth:`step` until it is False.

    It carries every frame of the connection in both directions: every read, and every
    outgoing frame -- the upgrade request, commands from the outbox and from the network
    thread's own callbacks, the pongs websocket-client writes while reading, the close --
    is written from here, on the thread that steps it, never from another.

    The loop is a method called once per turn, so a test can drive a connection over a
    ``socket.socketpair()`` from its own thread (tests/test_connection_unit.py); the
    network thread runs ``while session.step(): pass``. A turn waits up to ``timeout`` in
    ``poll()`` on the WebSocket and the wake-up socket, reads what arrived with one system
    call and serves every frame it completes -- plain data frames straight from the
    buffer, anything else through websocket-client -- reading again without waiting
    while OpenSSL holds decrypted bytes (up to 2,048 frames, then the next turn goes on
    without waiting); then it checks ``stop`` and, once a tick, liveness and ``on_tick``.

    Callbacks, all on the calling thread: ``on_open(send)`` after the upgrade (False: the
    client is closing, the connection is closed at once); ``on_frame(data)`` per data
    message; ``on_wake(send)`` when the wake-up socket fired (write the outbox with
    ``send``); ``on_tick(now)`` once a tick; ``on_idle()`` just before every read that may
    block (the dispatch thread's held bell, docs/transport.md, 'CPU per message').
    ``sock`` is the connected (TLS) socket; the caller closes it after the session.
    """

    def __init__(
        self,
        sock: socket.socket,
        url: str,
        header: dict[str, str],
        *,
        on_open: Callable[[Send], bool],
        on_frame: Callable[[bytes], None],
        on_wake: Callable[[Send], None],
        on_tick: Callable[[float], None],
        on_idle: Callable[[], None] = lambda: None,
        stop: threading.Event,
        wake: socket.socket,
        liveness: Liveness,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bsock = BufferedSocket(sock)
        self.url = url
        self.header = header
        self.outcome = Outcome()
        self.frames = 0  # every frame read: data, ping, pong, close
        self._on_open = on_open
        self._on_frame = on_frame
        self._on_wake = on_wake
        self._on_tick = on_tick
        self._on_idle = on_idle
        self._stop = stop
        self._wake = wake
        self._liveness = liveness
        self._monotonic = monotonic
        self._ws: Any = None  # the websocket.WebSocket while open
        self._cont: Any = None  # its reassembly state: a fragmented message in progress
        self._waiter: _Waiter | None = None
        self._next_tick = 0.0
        # True when the next turn serves the buffer before waiting: frames that came with
        # the 101 answer, or a turn that stopped at TICK_EVERY_FRAMES.
        self._backlog = False

    def open(self) -> bool:
        """The upgrade. True when the connection is open; else see :attr:`outcome`."""
        ws = WebSocket(skip_utf8_validation=True, enable_multithread=True)
        try:
            # suppress_origin: websocket-client would send "Origin: http(s)://host".
            ws.connect(  # type: ignore[no-untyped-call]
                self.url, header=self.header, suppress_origin=True, socket=self.bsock
            )
        except Exception as exc:
            self.outcome.handshake_failed(exc)
            return False
        refuse_masked_frames(ws)
        self._ws = ws
        self._cont = ws.cont_frame
        self._waiter = _Waiter(self.bsock.fileno(), self._wake.fileno())
        if not self._on_open(self.send):
            self._end(None)
            return False
        self.outcome.opened = True
        self._backlog = bool(self.bsock.buffered())
        now = self._monotonic()
        self._liveness.start(now, self.frames)  # the upgrade answer counts as heard
        self._next_tick = now + TICK
        return True

    @property
    def is_open(self) -> bool:
        return self._ws is not None

    def send(self, text: str) -> None:
        """Write one text frame now (network thread); dropped once the session is over."""
        ws = self._ws
        if ws is None:
            return
        try:
            ws.send(text)
        except Exception as exc:  # the read side sees the broken socket and reconnects
            log.debug("send failed: %r", exc)

    def step(self, timeout: float = TICK) -> bool:
        """One turn of the read loop; False once the connection is over (see outcome)."""
        if self._ws is None:
            return False
        try:
            if self._backlog:
                if not self._serve_buffered():
                    return False
            else:
                assert self._waiter is not None
                self._on_idle()
                readable, woken = self._waiter.wait(timeout)
                if self._stop.is_set():
                    readable = woken = False  # close() wins: nothing more is read or written
                if woken:
                    self._drain_wake()
                    self._on_wake(self.send)
                if readable:
                    self._fill()
                    if not self._serve_buffered():
                        return False
            if self._stop.is_set():
                # Close(1000) and the close handshake, on this thread.
                self._end(None)
                return False
            now = self._monotonic()
            if now >= self._next_tick:
                self._next_tick = now + TICK
                # Belt and braces for the rule ssl_pending() relies on: once a tick, ask
                # OpenSSL itself, so decrypted bytes can never wait longer than a tick.
                if not self._backlog and self.bsock.buffered():
                    self._backlog = True
                dead = self._liveness.check(now, self.frames)
                if dead is not None:
                    # A zombie or a woken laptop: no point waiting for a close reply.
                    self._end(dead, wait=0)
                    return False
                self._on_tick(now)
            return True
        except MaskedFrameError as exc:
            # Fail the connection (RFC 6455 §7.1.7): close 1002 without waiting for the
            # peer's close -- more frames from a broken server are not worth reading.
            self._end(exc, status=STATUS_PROTOCOL_ERROR, wait=0)
        except Exception as exc:  # read errors, a dropped socket, a protocol violation
            self._end(exc)
        return False

    def _serve_buffered(self) -> bool:
        """Serve the buffer: plain data frames are handed over directly, everything else
        goes through websocket-client; a frame cut at the end of a read is completed by the
        next read when OpenSSL already holds it (docs/transport.md, 'TLS records'). Sets
        ``_backlog`` when it stopped at the frame limit. False when the server closed."""
        bsock = self.bsock
        pop = bsock.pop_data_frame
        on_frame = self._on_frame
        cont = self._cont
        frames = self.frames
        limit = frames + TICK_EVERY_FRAMES
        try:
            while frames < limit:
                # While a fragmented message is being reassembled the fast path is off, so
                # a later complete frame cannot overtake the fragments before it.
                if cont.recving_frames is None:
                    data = pop()
                    if data is not None:
                        frames += 1
                        try:
                            on_frame(data)
                        except Exception:  # the network thread never dies from one message
                            log.exception("on_frame handler failed")
                        continue
                    front = bsock.front()
                else:
                    front = LIBRARY if bsock.unconsumed() else EMPTY
                if front == LIBRARY:
                    frames += 1
                    self.frames = frames
                    self._on_idle()  # the rest of this frame may not have arrived yet
                    if not self._read_one():
                        return False
                    continue
                # Empty, or the start of a data frame: more bytes are needed. A TLS read
                # returns one record, so OpenSSL may hold decrypted bytes select() cannot
                # see; asked here, once per read, because pending() releases the GIL.
                if not bsock.ssl_pending():
                    self._backlog = False
                    return True
                self._fill()
            self._backlog = True
            return True
        finally:
            self.frames = frames

    def _fill(self) -> None:
        """One read into the buffer; the peer going away ends the connection as the library
        would report it."""
        if self.bsock.fill() == 0:
            raise ConnectionClosedError(_PEER_GONE)

    def _read_one(self) -> bool:
        """Let websocket-client read and handle one frame (a control frame, a fragment, a
        frame split across reads); False when it was the server's close."""
        opcode, frame = self._ws.recv_data_frame(True)  # answers a ping before returning
        if opcode == OPCODE_TEXT or opcode == OPCODE_BINARY:  # noqa: SIM109 (faster)
            try:
                self._on_frame(frame.data)
            except Exception:
                log.exception("on_frame handler failed")
        elif opcode == OPCODE_CLOSE:
            # The library has already answered with its own close frame.
            self.outcome.closed_by_server(*close_args(frame.data))
            self._end(None, wait=0)
            return False
        return True

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake.recv(4096):
                pass

    def _end(
        self, error: BaseException | None, *, status: int = STATUS_NORMAL, wait: float = CLOSE_WAIT
    ) -> None:
        """Close the WebSocket (a no-op once the library saw it end) and stop for good."""
        self._on_idle()  # the close handshake can wait; what was delivered goes out first
        ws, self._ws = self._ws, None
        if error is not None and self.outcome.error is None:
            self.outcome.error = error
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close(status=status, timeout=wait)
        if self._waiter is not None:
            self._waiter.close()
            self._waiter = None
