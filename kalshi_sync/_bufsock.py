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

import socket
from collections.abc import Callable

from .errors import ProtocolError

__all__ = ["BufferedSocket", "MaskedFrameError"]

# One recv() per batch of frames instead of three exact-size recv() calls per frame: the
# library parses frames from our buffer (docs/transport.md, 'The fast path').
_RECV_SIZE = 256 * 1024


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

    Plus the fast path's own ``buffered()`` and ``pop_data_frame()``. Only the network
    thread reads; ``shutdown``/``close`` may come from any thread (they go straight to the
    kernel socket, which is what wakes a blocked reader).
    """

    __slots__ = ("_buf", "_pending", "_pos", "_rbuf", "_rview", "_sock")

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

    def recv(self, n: int) -> bytes:
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail == 0:
            got = self._sock.recv_into(self._rbuf)
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
