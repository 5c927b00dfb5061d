"""Server-side WebSocket frames for the transport tests, built byte by byte (RFC 6455 §5.2)."""

from __future__ import annotations

import struct

TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


def frame(payload: bytes, opcode: int = TEXT, *, fin: bool = True, mask: bytes = b"") -> bytes:
    """One WebSocket frame with the shortest length encoding (masked if ``mask`` is set)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    bit = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        head += bytes([bit | n])
    elif n < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + payload
