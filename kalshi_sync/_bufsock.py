"""Socket-level read buffering for the network thread: one large read, many small ones.

websocket-client reads each frame with three exact-size ``recv()`` calls (header, length,
payload), one system call each (docs/transport.md, 'The fast path').
:class:`BufferedSocket` wraps the connected (possibly TLS) socket, fills a reused buffer
with one big ``recv_into`` and serves the library's small reads from it; its
``pop_data_frame()`` lets the fast read loop in :mod:`kalshi_sync._transport` take plain
unmasked text/binary frames straight out of that buffer, leaving everything else (control
frames, fragments, frames split across reads) to the library. A *masked* data frame is
refused here: a server must never mask (RFC 6455 §5.1), and the library would unmask and
deliver it. This module does not import ``websocket``: only ``_transport.py`` does.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from .errors import ProtocolError

__all__ = ["EMPTY", "LIBRARY", "PARTIAL", "BufferedSocket", "MaskedFrameError"]

# One recv() per batch of frames instead of three exact-size recv() calls per frame: the
# library parses frames from our buffer (docs/transport.md, 'The fast path').
_RECV_SIZE = 256 * 1024

# What the unconsumed bytes start with once pop_data_frame() has returned None (front()).
EMPTY = 0  # nothing: wait for the socket
PARTIAL = 1  # the start of a plain data frame that fits the buffer: fill() and pop again
LIBRARY = 2  # a frame for websocket-client to read (control, fragment, oversized, unusual)


class MaskedFrameError(ProtocolError):
    """The server sent a masked frame, which RFC 6455 §5.1 forbids: the connection must fail.

    Raised by the fast path here and by the library's reader in :mod:`._transport`, so
    whichever path sees the frame first refuses it and nothing from it is delivered.
    """

    def __init__(self) -> None:
        super().__init__(
            "the server sent a masked frame (RFC 6455 §5.1: a server must not mask); "
            "failing the connection"
        )


class BufferedSocket:
    """Socket wrapper that serves websocket-client's small reads from one large recv().

    It fails closed: it offers exactly the members websocket-client uses on the socket it
    is handed (``WebSocket.connect(socket=...)``) and nothing else, so a release that
    starts using another one raises ``AttributeError`` -- caught by the probe at import
    (:mod:`._transport`) and by tests/test_websocket_assumptions.py -- instead of
    silently bypassing the buffer. What each member is for:

    - ``recv(n)``: every read of the handshake answer and of frames (``_socket.recv``);
      served from the buffer, never more than ``n`` bytes.
    - ``send(data)``: every write (the upgrade request, frames, pongs, close).
    - ``gettimeout()``: checked before each ``recv``/``send`` (0 means non-blocking), and
      saved by ``WebSocket.close()`` around its close handshake.
    - ``settimeout(t)``: ``WebSocket.close()`` bounds its wait for the peer's close; the
      client sets ``stale_timeout`` after the upgrade.
    - ``fileno()``: the library's retry after ``EAGAIN``/``SSLWantReadError`` registers the
      socket with a selector; the fast read loop selects on it.
    - ``shutdown(how)``: ``WebSocket.close()`` and ``abort()``.
    - ``close()``: ``WebSocket.shutdown()``, and ``_recv`` after the peer went away.
    - ``_closed``: read by ``WebSocket.shutdown()`` before it calls ``close()``.

    Plus the fast path's own ``pop_data_frame()``, ``front()``, ``fill()``, ``ssl_pending()``,
    ``unconsumed()`` and ``buffered()``. Only the network thread reads;
    ``shutdown``/``close`` may come from any thread (they go straight to the kernel socket,
    which is what wakes a blocked reader).
    """

    __slots__ = ("_buf", "_fd", "_filled", "_pending", "_pos", "_rbuf", "_rview", "_sock")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        # SSLSocket.pending(): bytes OpenSSL has decrypted but select() cannot see. Looked
        # up once: buffered() runs once per frame.
        self._pending: Callable[[], int] | None = getattr(sock, "pending", None)
        self._buf = b""
        self._pos = 0
        # recv_into a reused buffer, then copy out what arrived: sock.recv(256 KiB) would
        # malloc 256 KiB per call, which glibc serves with mmap + mremap + munmap -- three
        # syscalls per read, ~25 us per message when messages arrive one at a time.
        self._rbuf = bytearray(_RECV_SIZE)
        self._rview = memoryview(self._rbuf)
        # fill() on a plain socket reads the descriptor with os.readv: a socket with a
        # timeout polls before every recv (CPython's sock_call), a second system call and
        # a second GIL hand-off per read, although select() has just said "readable". Safe
        # because only the network thread reads this socket and only it closes it.
        self._fd = sock.fileno() if self._pending is None and hasattr(os, "readv") else -1
        # Whether the last TLS read filled all the room it was given: only then can OpenSSL
        # still hold decrypted bytes of that record (one SSL_read returns data of one
        # record, and one that returned less than asked has used its record up).
        self._filled = False

    def recv(self, n: int) -> bytes:
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail == 0:
            got = self._sock.recv_into(self._rbuf)
            self._filled = got == _RECV_SIZE
            data = self._rview[:got].tobytes()
            if len(data) <= n:
                return data  # includes b"" at EOF, which the library reports as a drop
            self._buf = data
            self._pos = n
            return data[:n]
        if avail <= n:
            self._buf = b""
            self._pos = 0
            return buf[pos:] if pos else buf
        self._pos = pos + n
        return buf[pos : pos + n]

    def fill(self) -> int:
        """One read, appended to the unconsumed bytes: how many bytes arrived, 0 at EOF,
        -1 when there was nothing to read after all (a non-blocking socket).

        The fast path calls it when the socket is readable (or OpenSSL holds decrypted
        bytes) and the buffer is empty or ends in a :data:`PARTIAL` frame, so a frame cut
        by a read -- or by a TLS record, which is at most 16 KiB and what one read of an
        ``SSLSocket`` returns -- is completed here instead of by the library's reader.
        ``front()`` bounds a partial frame to the buffer, so the tail always fits."""
        buf = self._buf
        pos = self._pos
        left = len(buf) - pos
        if left >= _RECV_SIZE:
            raise ValueError("fill() needs room: the unconsumed bytes fill the buffer")
        rview = self._rview
        if left:
            rview[:left] = buf[pos:] if pos else buf
        into = rview[left:] if left else self._rbuf
        if self._fd >= 0:
            try:
                got = os.readv(self._fd, (into,))
            except BlockingIOError:
                return -1
        else:
            got = self._sock.recv_into(into)
            self._filled = got == len(into)
        if got:
            self._buf = rview[: left + got].tobytes()
            self._pos = 0
        return got

    def front(self) -> int:
        """What the unconsumed bytes start with when :meth:`pop_data_frame` returned None:
        :data:`EMPTY`, :data:`PARTIAL` (an incomplete plain data frame no longer than the
        buffer: :meth:`fill` completes it) or :data:`LIBRARY` (anything websocket-client
        must read: a control frame, a fragment, RSV bits, a frame longer than the buffer).
        Called once per read, not per frame."""
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail == 0:
            return EMPTY
        b0 = buf[pos]
        if b0 != 0x81 and b0 != 0x82:
            return LIBRARY
        if avail < 2:
            return PARTIAL
        n = buf[pos + 1]
        if n < 126:
            return PARTIAL  # complete frames of this length pop
        if n == 126:
            if avail < 4:
                return PARTIAL
            total = 4 + ((buf[pos + 2] << 8) | buf[pos + 3])
        elif n == 127:
            if avail < 10:
                return PARTIAL
            total = 10 + int.from_bytes(buf[pos + 2 : pos + 10], "big")
        else:  # masked: pop_data_frame() raises before this is asked
            return LIBRARY
        return PARTIAL if total <= _RECV_SIZE else LIBRARY

    def ssl_pending(self) -> int:
        """Bytes OpenSSL has decrypted but not handed over (0 for a plain socket): data
        that ``select()`` cannot see. Used once per read, never per frame, and OpenSSL is
        asked only when the last read filled all the room it was given -- a read that
        returned less used its record up: CPython's ``SSLSocket.pending()`` releases the
        GIL, and a thread waiting for the GIL takes it each time
        (docs/transport.md, 'TLS records'). (Not called ``pending``: that is an
        ``SSLSocket`` member, and this wrapper hands out no socket member the library
        does not use.)"""
        if not self._filled:
            return 0  # the last read used its record up (tests/test_bufsock.py pins this)
        pending = self._pending
        return pending() if pending is not None else 0

    def pop_data_frame(self) -> bytes | None:
        """The payload of the next frame if the buffer holds all of it and it is a plain
        data frame (FIN, text or binary, no RSV bits, unmasked); else None, consuming
        nothing, and websocket-client reads the frame (control frames, fragments, a frame
        split across reads, anything unusual). A masked text or binary frame raises
        :class:`MaskedFrameError` (consuming nothing) as soon as its first two bytes are
        buffered. Parsing here costs ~0.3 us a frame; the library's frame objects,
        validation and three small reads cost ~6 us."""
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail < 2:
            return None
        b0 = buf[pos]
        if b0 != 0x81 and b0 != 0x82:
            return None
        n = buf[pos + 1]
        if n < 126:
            start = pos + 2
        elif n == 126:
            if avail < 4:
                return None
            n = (buf[pos + 2] << 8) | buf[pos + 3]
            start = pos + 4
        elif n == 127:
            if avail < 10:
                return None
            n = int.from_bytes(buf[pos + 2 : pos + 10], "big")
            start = pos + 10
        else:
            # The mask bit (length byte >= 128). Checked only after the common lengths,
            # so plain frames pay nothing for it.
            raise MaskedFrameError
        stop = start + n
        if stop > len(buf):
            return None
        if stop == len(buf):
            self._buf = b""
            self._pos = 0
        else:
            self._pos = stop
        return buf[start:stop]

    def unconsumed(self) -> int:
        """Bytes in our buffer not consumed yet (not counting OpenSSL's)."""
        return len(self._buf) - self._pos

    def buffered(self) -> int:
        """Bytes already read from the kernel (or decrypted by OpenSSL) but not consumed."""
        n = len(self._buf) - self._pos
        pending = self._pending
        return n + pending() if pending is not None else n

    # The library checks gettimeout() before every recv/send; keep it a direct call.
    def gettimeout(self) -> float | None:
        return self._sock.gettimeout()

    def settimeout(self, value: float | None) -> None:
        self._sock.settimeout(value)

    def send(self, data: bytes) -> int:
        return self._sock.send(data)

    def fileno(self) -> int:
        return self._sock.fileno()

    def shutdown(self, how: int) -> None:
        self._sock.shutdown(how)

    def close(self) -> None:
        self._sock.close()

    @property
    def _closed(self) -> bool:  # read by websocket-client's WebSocket.shutdown()
        return bool(getattr(self._sock, "_closed", False))
