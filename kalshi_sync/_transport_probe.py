"""The probe of websocket-client's internals, run once at import, and the transport switch.

:data:`PROBE` exercises, on an in-memory connection and through the same fail-closed
:class:`~kalshi_sync._bufsock.BufferedSocket` a real connection uses, every internal the
fast path relies on (docs/transport.md, 'Library internals the client relies on'). When
one of them fails, :func:`resolve_transport` maps ``transport="auto"`` to the library path
and logs one warning per process; tests/test_websocket_assumptions.py checks the same
assumptions one named test each, so CI says which one broke.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from typing import Literal

import attrs

from ._bufsock import BufferedSocket, MaskedFrameError
from ._ws import OPCODE_PING, OPCODE_TEXT, VERSION, WebSocket, refuse_masked_frames
from ._ws import _ServerFrameBuffer as ServerFrameBuffer

__all__ = ["PROBE", "TRANSPORTS", "Probe", "Transport", "resolve_transport", "run_probe"]

log = logging.getLogger("kalshi_sync.transport")

Transport = Literal["fast", "library"]
TRANSPORTS = ("auto", "fast", "library")


@attrs.frozen
class Probe:
    """What the import-time check of websocket-client's internals found.

    ``fast_path``: every internal the fast path relies on behaved as expected.
    ``masked_check``: :func:`refuse_masked_frames` works (the library path uses it too).
    ``problems``: one line per failed check, for the warning and the error messages.
    """

    version: str
    fast_path: bool
    masked_check: bool
    problems: tuple[str, ...]


_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()


def _server_frame(
    payload: bytes, opcode: int = 0x1, *, fin: bool = True, mask: bool = False
) -> bytes:
    """One server frame (payloads under 126 bytes), masked with a fixed key if asked."""
    head = bytes([(0x80 if fin else 0) | opcode, (0x80 if mask else 0) | len(payload)])
    if not mask:
        return head + payload
    key = b"\x01\x02\x03\x04"
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class _ProbeSocket:
    """An in-memory connected socket: answers the upgrade, then serves ``script``.

    It has only the members :class:`BufferedSocket` itself uses on a real socket, so the
    probe runs through the same fail-closed wrapper as a real connection.
    """

    def __init__(self, script: bytes) -> None:
        self.script = script
        self.sent = b""
        self._pending = b""
        self._closed = False

    def recv_into(self, buf: bytearray) -> int:
        if not self._pending and self.script and b"\r\n\r\n" in self.sent:
            head = self.sent.split(b"\r\n\r\n", 1)[0].decode("latin-1")
            key = next(
                line.split(":", 1)[1].strip()
                for line in head.split("\r\n")
                if line.lower().startswith("sec-websocket-key:")
            )
            answer = (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Accept: {_accept(key)}\r\n\r\n"
            )
            self._pending, self.script = answer.encode() + self.script, b""
        n = min(len(buf), len(self._pending))
        buf[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def send(self, data: bytes) -> int:
        self.sent += bytes(data)
        return len(data)

    def gettimeout(self) -> float | None:
        return 5.0

    def settimeout(self, value: float | None) -> None:
        pass

    def fileno(self) -> int:
        return -1

    def shutdown(self, how: int) -> None:
        pass

    def close(self) -> None:
        self._closed = True


def _expect(ok: bool, what: str) -> None:
    if not ok:
        raise AssertionError(what)


def _run_probe() -> tuple[bool, bool, list[str]]:
    """Exercise the internals on an in-memory connection (see :class:`Probe`)."""
    problems: list[str] = []
    frames = [
        _server_frame(b"a"),  # 0: read by the library
        _server_frame(b"b"),  # 1: popped from the buffer
        _server_frame(b"x", fin=False),  # 2-4: a fragmented message with a ping inside
        _server_frame(b"p", 0x9),
        _server_frame(b"y", 0x0),
        _server_frame(b"m", mask=True),  # 5: masked
    ]
    raw = _ProbeSocket(b"".join(frames))
    bs = BufferedSocket(raw)  # type: ignore[arg-type]
    ws = WebSocket(skip_utf8_validation=True, enable_multithread=True)
    masked_check = True
    try:
        ws.connect(  # type: ignore[no-untyped-call]
            "ws://probe.invalid/p", header={"X-Probe": "1"}, suppress_origin=True, socket=bs
        )
        request = raw.sent.decode("latin-1").lower()
        _expect("x-probe: 1" in request and "origin:" not in request, "handshake headers")
    except Exception as exc:
        return False, False, [f"handshake over a given socket: {exc!r}"]
    try:
        refuse_masked_frames(ws)
        _expect(isinstance(ws.frame_buffer, ServerFrameBuffer), "frame_buffer not replaced")
    except Exception as exc:
        masked_check = False
        problems.append(f"masked-frame check (frame_buffer): {exc!r}")
    try:
        cont = ws.cont_frame
        rest = sum(len(f) for f in frames)
        _expect(cont.recving_frames is None, "cont_frame.recving_frames not None at rest")
        opcode, frame = ws.recv_data_frame(True)
        _expect((opcode, frame.data) == (OPCODE_TEXT, b"a"), "text frame as bytes")
        rest -= len(frames[0])
        _expect(bs.buffered() == rest, "the library read ahead of the frame")
        _expect(bs.pop_data_frame() == b"b", "buffer not at a frame boundary")
        rest -= len(frames[1])
        sent = len(raw.sent)
        opcode, frame = ws.recv_data_frame(True)
        _expect((opcode, frame.data) == (OPCODE_PING, b"p"), "ping inside a fragmented message")
        _expect(raw.sent[sent:][:1] == b"\x8a", "ping not answered before returning")
        _expect(cont.recving_frames is not None, "cont_frame.recving_frames unset mid-message")
        opcode, frame = ws.recv_data_frame(True)
        _expect((opcode, frame.data) == (OPCODE_TEXT, b"xy"), "fragments reassembled")
        _expect(cont.recving_frames is None, "cont_frame.recving_frames not cleared")
        rest -= len(frames[2]) + len(frames[3]) + len(frames[4])
        _expect(bs.buffered() == rest, "the library read ahead of a fragment")
    except Exception as exc:
        problems.append(f"frame reading: {exc!r}")
        return False, masked_check, problems
    if masked_check:
        try:
            ws.recv_data_frame(True)
        except MaskedFrameError:
            if bs.buffered() != len(frames[5]) - 2:
                masked_check = False
                problems.append("masked-frame check: read past the header")
        except Exception as exc:
            masked_check = False
            problems.append(f"masked-frame check: {exc!r}")
        else:
            masked_check = False
            problems.append("masked-frame check: a masked frame was delivered")
    return not problems, masked_check, problems


def run_probe() -> Probe:
    """Probe the installed websocket-client (see :class:`Probe`); never raises."""
    version = VERSION
    try:
        fast, masked, problems = _run_probe()
    except Exception as exc:  # the probe itself must never break the import
        fast, masked, problems = False, False, [f"probe crashed: {exc!r}"]
    return Probe(version, fast and masked, masked, tuple(problems))


PROBE = run_probe()

_warned = False
_warn_lock = threading.Lock()


def resolve_transport(requested: str, probe: Probe | None = None) -> Transport:
    """The read path for ``transport=requested`` ("auto", "fast" or "library").

    "auto" is the fast path when the probe passed, else the library path with one warning
    per process. "fast" when the probe failed is a ValueError naming the failed checks.
    """
    global _warned
    if requested not in TRANSPORTS:
        raise ValueError(f"transport must be one of {TRANSPORTS}, got {requested!r}")
    if requested == "library":
        return "library"
    probe = PROBE if probe is None else probe
    if probe.fast_path:
        return "fast"
    detail = "; ".join(probe.problems)
    if requested == "fast":
        raise ValueError(
            f"transport='fast' is not available with websocket-client {probe.version}: {detail}"
        )
    with _warn_lock:
        first, _warned = not _warned, True
    if first:
        log.warning(
            "websocket-client %s does not behave as kalshi_sync's fast read path needs (%s); "
            "using websocket-client's own read loop instead (slower%s)",
            probe.version,
            detail,
            "" if probe.masked_check else "; masked server frames are not refused",
        )
    return "library"
