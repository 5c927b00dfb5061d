"""The fence around websocket-client: the only module of kalshi_sync that imports ``websocket``.

Every name of the library that kalshi_sync uses is bound here, so this file is the list of
its public surface the client depends on; the internals the fast path relies on beyond
these names (``WebSocket.frame_buffer``, ``WebSocket.cont_frame.recving_frames``, how the
library uses the socket it is handed, that it never reads ahead of a frame) are listed in
docs/transport.md, 'Library internals the client relies on', each pinned by one test in
tests/test_websocket_assumptions.py and checked at import by :mod:`._transport_probe`.

The masked-frame check lives here because it subclasses the library's frame reader.
"""

from __future__ import annotations

from typing import Any

import websocket

from ._bufsock import MaskedFrameError

__all__ = [
    "OPCODE_BINARY",
    "OPCODE_CLOSE",
    "OPCODE_PING",
    "OPCODE_TEXT",
    "STATUS_NORMAL",
    "STATUS_PROTOCOL_ERROR",
    "VERSION",
    "BadStatusError",
    "ConnectionClosedError",
    "WebSocket",
    "WebSocketApp",
    "refuse_masked_frames",
]

VERSION: str = str(getattr(websocket, "__version__", "unknown"))

# Public API: the low-level connection (fast path) and the callback app (library path).
WebSocket = websocket.WebSocket
WebSocketApp = websocket.WebSocketApp
# A refused upgrade (.status_code, .resp_body) and a connection that ended.
BadStatusError = websocket.WebSocketBadStatusException
ConnectionClosedError = websocket.WebSocketConnectionClosedException

OPCODE_TEXT: int = websocket.ABNF.OPCODE_TEXT
OPCODE_BINARY: int = websocket.ABNF.OPCODE_BINARY
OPCODE_CLOSE: int = websocket.ABNF.OPCODE_CLOSE
OPCODE_PING: int = websocket.ABNF.OPCODE_PING
STATUS_NORMAL: int = websocket.STATUS_NORMAL
STATUS_PROTOCOL_ERROR: int = websocket.STATUS_PROTOCOL_ERROR


class _ServerFrameBuffer(websocket.frame_buffer):
    """websocket-client's frame reader, refusing masked frames.

    The library unmasks a masked frame and delivers it; a client must instead fail the
    connection (RFC 6455 §5.1). Checked on the header, before the payload is read, so
    nothing of the frame reaches a callback -- control frames and fragments included.
    """

    def recv_header(self) -> None:
        super().recv_header()
        if self.has_mask():
            raise MaskedFrameError


def refuse_masked_frames(ws: Any) -> None:
    """Swap the frame reader of ``ws`` (a ``websocket.WebSocket``) for one that refuses
    masked frames.

    Called right after the upgrade, before any frame is read (the upgrade answer is read
    line by line from the socket, not through the frame buffer), so nothing is lost by
    replacing it; every reader -- ours or the library's own -- then gets the check.
    """
    old = ws.frame_buffer
    if not isinstance(old, _ServerFrameBuffer):
        ws.frame_buffer = _ServerFrameBuffer(old.recv, old.skip_utf8_validation)
