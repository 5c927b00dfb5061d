"""Frames a server must not send: a masked server frame fails the connection (RFC 6455 §5.1).

websocket-client unmasks a masked frame and delivers it; kalshi_sync refuses it on both
read paths -- the fast path in ``_bufsock`` and the library's frame reader -- closes with
1002, and reconnects. A raw loopback WebSocket server writes the exact bytes (the fake
server's WebSocket library would never mask), and a plain frame on the next connection
shows that delivery works, so "nothing delivered" is not a dead client.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import queue
import socket
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import websocket
from _frames import frame
from _helpers import events

import kalshi_sync as ks
from kalshi_sync._bufsock import MaskedFrameError
from kalshi_sync._transport_probe import PROBE
from kalshi_sync._ws import _ServerFrameBuffer, refuse_masked_frames
from kalshi_sync.auth import Signer
from kalshi_sync.connection import Connection, DisconnectInfo
from kalshi_sync.testing import check_auth, generate_test_key

pytestmark = [
    pytest.mark.integration,
    # A release whose frame reader cannot be replaced fails test_websocket_assumptions.py
    # loudly; the client then runs without the check, so these tests have nothing to test.
    pytest.mark.skipif(not PROBE.masked_check, reason=f"masked check off: {PROBE.problems}"),
]

TEXT, CONT, PING = 0x1, 0x0, 0x9
MASK = b"\x37\xfa\x21\x3d"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
KEY_ID = "raw-key"

Step = bytes | threading.Event


def close_code(client_bytes: bytes) -> int | None:
    """The status code of the first (client-masked) close frame in ``client_bytes``."""
    pos = 0
    while pos + 6 <= len(client_bytes):
        b0, b1 = client_bytes[pos], client_bytes[pos + 1]
        n = b1 & 0x7F
        start = pos + 2
        if n == 126:
            n = struct.unpack("!H", client_bytes[start : start + 2])[0]
            start += 2
        elif n == 127:
            n = struct.unpack("!Q", client_bytes[start : start + 8])[0]
            start += 8
        mask = client_bytes[start : start + 4] if b1 & 0x80 else b""
        start += len(mask)
        payload = client_bytes[start : start + n]
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        if b0 & 0x0F == 0x8 and len(payload) >= 2:
            return int(struct.unpack("!H", payload[:2])[0])
        pos = start + n
    return None


class RawServer:
    """A loopback WebSocket server that writes scripted raw bytes.

    Connection ``i`` (0-based) gets ``scripts[i]`` right after the 101 answer: byte strings
    are written with one ``sendall`` each, an ``Event`` in the list is waited for first
    (later connections get nothing and stay open). The upgrade is checked with
    ``check_auth`` against ``public_key``. Each connection, once the client has closed it,
    reports ``(index, bytes the client sent after the upgrade)`` on :attr:`closed`.
    """

    def __init__(self, scripts: Sequence[Sequence[Step]], public_key: Any) -> None:
        self.scripts = scripts
        self.public_key = public_key
        self.closed: queue.Queue[tuple[int, bytes]] = queue.Queue()
        self.rejections: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, name="raw-ws-accept", daemon=True)
        self._accept.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/trade-api/ws/v2"

    def _serve(self) -> None:
        index = 0
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            script = self.scripts[index] if index < len(self.scripts) else []
            t = threading.Thread(
                target=self._handle, args=(sock, index, script), name="raw-ws", daemon=True
            )
            self._threads.append(t)
            t.start()
            index += 1

    def _handle(self, sock: socket.socket, index: int, script: Sequence[Step]) -> None:
        with sock:
            sock.settimeout(10)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                request += chunk
            head, _, rest = request.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            rejected = check_auth(
                lambda name: headers.get(name.lower()),
                path,
                public_key=self.public_key,
                key_id=KEY_ID,
                now=time.time(),
                max_clock_skew=30,
            )
            if rejected is not None:
                self.rejections.append(rejected)
                sock.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
                return
            accept = base64.b64encode(
                hashlib.sha1((headers["sec-websocket-key"] + GUID).encode()).digest()
            ).decode()
            sock.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept.encode() + b"\r\n\r\n"
            )
            for step in script:
                if isinstance(step, threading.Event):
                    assert step.wait(10)
                else:
                    sock.sendall(step)
            received = rest
            while True:
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                received += chunk
                code = close_code(received)
                if code is not None:  # answer the close handshake, as a real server does
                    with contextlib.suppress(OSError):  # unless the client is gone already
                        sock.sendall(frame(struct.pack("!H", code), 0x8))
                    break
        self.closed.put((index, received))

    def stop(self) -> None:
        self._listener.close()
        for t in self._threads:
            t.join(10)


@pytest.fixture(scope="module")
def keys() -> tuple[bytes, Any]:
    """An Ed25519 key: cheap, and the kind new Kalshi users hold."""
    return generate_test_key("ed25519")


class Recorder:
    """Connection callbacks into queues, for a test thread to wait on."""

    def __init__(self) -> None:
        self.connected: queue.Queue[int] = queue.Queue()
        self.frames: queue.Queue[bytes] = queue.Queue()
        self.disconnected: queue.Queue[DisconnectInfo] = queue.Queue()
        self.fatal: queue.Queue[BaseException] = queue.Queue()


@pytest.fixture
def run(keys: tuple[bytes, Any]) -> Iterator[Any]:
    """``run(scripts)`` -> (RawServer, Recorder, Connection), started; all stopped after."""
    made: list[tuple[RawServer, Connection]] = []

    def start(scripts: Sequence[Sequence[Step]]) -> tuple[RawServer, Recorder, Connection]:
        server = RawServer(scripts, keys[1])
        rec = Recorder()
        signer = Signer.from_key(KEY_ID, keys[0])
        conn = Connection(
            server.url,
            lambda: signer.headers("GET", "/trade-api/ws/v2"),
            on_connected=rec.connected.put,
            on_frame=rec.frames.put,
            on_disconnected=rec.disconnected.put,
            on_tick=lambda now: None,
            on_fatal=rec.fatal.put,
            backoff_initial=0.01,
            backoff_max=0.02,
        )
        made.append((server, conn))
        conn.start()
        return server, rec, conn

    yield start
    for server, conn in made:
        assert conn.close(10)
        server.stop()


def drained(q: queue.Queue[Any]) -> list[Any]:
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out


def assert_failed_then_reconnected(server: RawServer, rec: Recorder) -> None:
    """Connection 1 ended with MaskedFrameError and close 1002; connection 2 came up."""
    assert rec.connected.get(timeout=5) == 1
    info = rec.disconnected.get(timeout=5)
    assert info.generation == 1
    assert isinstance(info.error, MaskedFrameError), info
    assert isinstance(info.error, ks.ProtocolError)
    index, sent = server.closed.get(timeout=5)
    assert index == 0
    assert close_code(sent) == 1002
    assert rec.connected.get(timeout=5) == 2  # reconnected
    assert rec.fatal.empty()
    assert server.rejections == []


def test_masked_frame_in_the_fast_path_fails_the_connection(run: Any) -> None:
    """Plain, masked, plain written at once: the first is delivered, the masked one and
    everything after it on that connection are not; close 1002, reconnect, and the next
    connection delivers normally."""
    scripts = [
        [frame(b'{"n":1}') + frame(b'{"n":2}', mask=MASK) + frame(b'{"n":3}')],
        [frame(b'{"n":4}')],
    ]
    server, rec, _ = run(scripts)
    assert_failed_then_reconnected(server, rec)
    assert [rec.frames.get(timeout=5), rec.frames.get(timeout=5)] == [b'{"n":1}', b'{"n":4}']
    assert drained(rec.frames) == []


@pytest.mark.parametrize(
    "bad",
    [
        frame(b"heartbeat", PING, mask=MASK),
        frame(b'{"n":', TEXT, fin=False) + frame(b"1}", CONT, mask=MASK),
        frame(b'{"n":', TEXT, fin=False, mask=MASK) + frame(b"1}", CONT),
    ],
    ids=["masked-ping", "masked-continuation", "masked-first-fragment"],
)
def test_masked_frames_the_library_reads_fail_the_connection(run: Any, bad: bytes) -> None:
    """Masked frames that take websocket-client's reader (a ping, fragments) fail the
    connection too: no message is assembled or delivered, no pong answers the ping."""
    server, rec, _ = run([[bad], [frame(b'{"n":9}')]])
    assert_failed_then_reconnected(server, rec)
    assert rec.frames.get(timeout=5) == b'{"n":9}'
    assert drained(rec.frames) == []


def test_masked_frame_alone_on_an_idle_connection(run: Any) -> None:
    """A masked text frame arriving on its own after the client has consumed everything
    (so websocket-client's reader, not the fast path, parses it) fails the connection."""
    gate = threading.Event()
    scripts = [[frame(b'{"n":1}'), gate, frame(b'{"late":true}', mask=MASK)], [frame(b'{"n":2}')]]
    server, rec, _ = run(scripts)
    assert rec.frames.get(timeout=5) == b'{"n":1}'
    gate.set()
    assert_failed_then_reconnected(server, rec)
    assert rec.frames.get(timeout=5) == b'{"n":2}'
    assert drained(rec.frames) == []


def test_server_frame_buffer_refuses_a_masked_header() -> None:
    """The library-path reader raises MaskedFrameError on a masked frame and reads plain
    frames (text, ping, fragments) exactly as websocket-client does."""
    plain = frame(b"hello") + frame(b"hb", PING) + frame(b"part", TEXT, fin=False)
    fb = _ServerFrameBuffer(io.BytesIO(plain + frame(b"x", mask=MASK)).read, True)
    first, ping, part = fb.recv_frame(), fb.recv_frame(), fb.recv_frame()
    assert (first.opcode, first.data, first.fin) == (TEXT, b"hello", 1)
    assert (ping.opcode, ping.data) == (PING, b"hb")
    assert (part.opcode, part.data, part.fin) == (TEXT, b"part", 0)
    with pytest.raises(MaskedFrameError):
        fb.recv_frame()


def test_websocket_clients_own_read_loop_refuses_too(keys: tuple[bytes, Any]) -> None:
    """With the check installed in on_open, websocket-client's own run_forever read loop
    (no kalshi_sync dispatcher, no fast path) also refuses a masked frame: on_error gets
    MaskedFrameError and on_message never runs."""
    server = RawServer([[frame(b'{"n":1}', mask=MASK)]], keys[1])
    signer = Signer.from_key(KEY_ID, keys[0])
    messages: list[Any] = []
    errors: list[BaseException] = []
    app = websocket.WebSocketApp(
        server.url,
        header=signer.headers("GET", "/trade-api/ws/v2"),
        on_open=lambda app: refuse_masked_frames(app.sock),
        on_message=lambda app, data: messages.append(data),
        on_error=lambda app, exc: errors.append(exc),
    )
    try:
        app.run_forever(suppress_origin=True)  # returns once the connection has failed
    finally:
        server.stop()
    assert messages == []
    assert any(isinstance(e, MaskedFrameError) for e in errors), errors


def test_client_reconnects_after_a_masked_frame_and_delivers_nothing_from_it(
    keys: tuple[bytes, Any],
) -> None:
    """KalshiClient: a masked server error frame is not delivered; the client reports a
    disconnect carrying MaskedFrameError, reconnects, and then delivers the same frame
    sent unmasked."""
    error = b'{"type":"error","msg":{"code":8,"msg":"from the server"}}'
    server = RawServer([[frame(error, mask=MASK)], [frame(error)]], keys[1])
    client = ks.KalshiClient(
        KEY_ID, keys[0], url=server.url, backoff_initial=0.01, backoff_max=0.02
    )
    try:
        disconnected = events(client, "disconnected")
        connected = events(client, "connected")
        errors = events(client, "error")
        client.start(timeout=5)
        assert connected.get(timeout=5).reconnect is False
        gone = disconnected.get(timeout=5)
        assert isinstance(gone.error, MaskedFrameError)
        assert gone.will_reconnect
        assert connected.get(timeout=5).reconnect is True
        delivered = errors.get(timeout=5)
        assert "from the server" in repr(delivered)
        assert errors.empty()
        assert server.closed.get(timeout=5)[0] == 0
    finally:
        client.close()
        server.stop()
