"""Every assumption kalshi_sync makes about websocket-client, one named test each.

The fast read path uses parts of websocket-client that are not its public API, and the
library's internals were reorganised in 1.9.0, a minor release. When a release breaks one
of these assumptions, the test named after it fails (and the import-time probe,
``kalshi_sync._transport_probe.PROBE``, turns the fast path off). The list with the reasons
is docs/transport.md, 'Library internals the client relies on'; the numbers below refer to
it. The library-path tests pin the public behaviour the fallback relies on.

No server thread: the server side is bytes written into one end of a
``socket.socketpair()`` before the library reads them (the upgrade answer needs the
client's key, so the tests hand the library a fixed ``Sec-WebSocket-Key``, which it uses
as given -- itself pinned by a test, as the connection unit tests rely on it too).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket
from _frames import frame

from kalshi_sync._bufsock import BufferedSocket, MaskedFrameError
from kalshi_sync._transport_probe import PROBE
from kalshi_sync._ws import _ServerFrameBuffer, refuse_masked_frames

TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's sample key
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
URL = "ws://kalshi.invalid/trade-api/ws/v2"
# What BufferedSocket forwards (its docstring says why each is needed).
FORWARDED = {"recv", "send", "gettimeout", "settimeout", "fileno", "shutdown", "close", "_closed"}
PACKAGE = Path(__file__).resolve().parents[1] / "kalshi_sync"


def answer(key: str = KEY) -> bytes:
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
    ).encode()


def client_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, unmasked payload) of each client frame in ``data``."""
    out = []
    pos = 0
    while pos + 2 <= len(data):
        b0, b1 = data[pos], data[pos + 1]
        n, pos = b1 & 0x7F, pos + 2
        if n == 126:
            n, pos = struct.unpack("!H", data[pos : pos + 2])[0], pos + 2
        elif n == 127:
            n, pos = struct.unpack("!Q", data[pos : pos + 8])[0], pos + 8
        mask = data[pos : pos + 4] if b1 & 0x80 else b""
        pos += len(mask)
        payload = data[pos : pos + n]
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        out.append((b0 & 0x0F, payload))
        pos += n
    return out


def read_request(peer: socket.socket) -> str:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = peer.recv(4096)
        assert chunk, "the client closed before sending its upgrade request"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert rest == b""
    return head.decode("latin-1")


def drain(peer: socket.socket) -> bytes:
    """Everything the client wrote so far (the peer end is non-blocking for this)."""
    peer.setblocking(False)
    out = b""
    try:
        while chunk := peer.recv(65536):
            out += chunk
    except BlockingIOError:
        pass
    finally:
        peer.settimeout(5)
    return out


class Recording:
    """A socket wrapper that forwards everything and records which members were used."""

    def __init__(self, sock: socket.socket) -> None:
        object.__setattr__(self, "_raw", sock)
        object.__setattr__(self, "used", set())

    def __getattr__(self, name: str) -> Any:
        self.used.add(name)
        return getattr(self._raw, name)


Pair = tuple[socket.socket, Any, Any]


@pytest.fixture
def connected() -> Iterator[Pair]:
    """(peer, ws, wrapped socket): a WebSocket upgraded over a socketpair through
    BufferedSocket, exactly as the fast path connects."""
    peer, mine = socket.socketpair()
    peer.settimeout(5)
    mine.settimeout(5)
    peer.sendall(answer())
    bs = BufferedSocket(mine)
    ws = websocket.WebSocket(skip_utf8_validation=True, enable_multithread=True)
    ws.connect(URL, header={"Sec-WebSocket-Key": KEY}, suppress_origin=True, socket=bs)
    read_request(peer)
    try:
        yield peer, ws, bs
    finally:
        peer.close()
        mine.close()


# -- the probe and the fence ------------------------------------------------------------------


def test_probe_passes_on_the_installed_release() -> None:
    """The import-time probe found every internal the fast path needs (this fails, with the
    probe's own reasons, on a release that would silently fall back to the library path)."""
    assert PROBE.problems == ()
    assert PROBE.fast_path and PROBE.masked_check


def test_only_the_fence_module_imports_websocket() -> None:
    """kalshi_sync/_ws.py is the only module that imports websocket (any form, any place,
    TYPE_CHECKING blocks included); websockets (the fake server's library) is another
    package."""
    importers = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            if any(n == "websocket" or n.startswith("websocket.") for n in names):
                importers.add(path.relative_to(PACKAGE).as_posix())
    assert importers == {"_ws.py"}


# -- 1-2: the handshake -------------------------------------------------------------------------


def test_connect_uses_the_given_socket_for_every_read_and_write() -> None:
    """(1) ``WebSocket.connect(socket=S)`` upgrades over S and keeps using S itself: the
    handshake, later reads and writes all go through S (so BufferedSocket sits under the
    library), and nothing else is opened."""
    peer, mine = socket.socketpair()
    peer.settimeout(5)
    mine.settimeout(5)
    rec = Recording(mine)
    try:
        peer.sendall(answer() + frame(b"hello"))
        ws = websocket.WebSocket(skip_utf8_validation=True, enable_multithread=True)
        ws.connect(URL, header={"Sec-WebSocket-Key": KEY}, suppress_origin=True, socket=rec)
        assert ws.sock is rec  # type: ignore[comparison-overlap]  # our socket, not a socket
        read_request(peer)
        assert ws.recv_data_frame(True)[1].data == b"hello"
        ws.send("out")
        assert client_frames(drain(peer)) == [(TEXT, b"out")]
        assert {"recv", "send"} <= rec.used
    finally:
        peer.close()
        mine.close()


def test_header_dict_and_suppress_origin() -> None:
    """(8) ``header=`` takes a dict sent as ``Name: value`` lines; ``suppress_origin=True``
    leaves out the ``Origin`` the library adds by default."""
    peer, mine = socket.socketpair()
    peer.settimeout(5)
    mine.settimeout(5)
    try:
        peer.sendall(answer())
        ws = websocket.WebSocket(skip_utf8_validation=True)
        headers = {"Sec-WebSocket-Key": KEY, "User-Agent": "kalshi-sync/test", "X-A": "b"}
        ws.connect(URL, header=headers, suppress_origin=True, socket=mine)
        lines = read_request(peer).split("\r\n")
        assert "User-Agent: kalshi-sync/test" in lines and "X-A: b" in lines
        assert not any(line.lower().startswith("origin:") for line in lines)
    finally:
        peer.close()
        mine.close()


def test_a_given_sec_websocket_key_is_used_as_is() -> None:
    """A ``Sec-WebSocket-Key`` in ``header=`` replaces the random one, so a test can write
    the upgrade answer before the client asks (tests/test_connection_unit.py relies on it;
    the product does not)."""
    peer, mine = socket.socketpair()
    peer.settimeout(5)
    mine.settimeout(5)
    try:
        peer.sendall(answer())
        ws = websocket.WebSocket()
        ws.connect(URL, header={"Sec-WebSocket-Key": KEY}, suppress_origin=True, socket=mine)
        request = read_request(peer)
        assert request.count("Sec-WebSocket-Key") == 1 and f"Sec-WebSocket-Key: {KEY}" in request
        assert ws.connected
    finally:
        peer.close()
        mine.close()


def test_refused_upgrade_carries_status_and_body() -> None:
    """A non-101 answer raises ``WebSocketBadStatusException`` with ``status_code`` and
    ``resp_body``: how a 401/403 becomes a fatal AuthenticationError with the body shown."""
    peer, mine = socket.socketpair()
    peer.settimeout(5)
    mine.settimeout(5)
    try:
        peer.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 15\r\n\r\nRequest blocked")
        ws = websocket.WebSocket()
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            ws.connect(URL, suppress_origin=True, socket=mine)
        assert info.value.status_code == 403
        assert info.value.resp_body == b"Request blocked"
    finally:
        peer.close()
        mine.close()


# -- 3-7: reading frames ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "first",
    [frame(b"a" * 10), frame(b"b" * 300), frame(b"c" * 70_000), frame(b"hb", PING)],
    ids=["7-bit", "16-bit", "64-bit", "ping"],
)
def test_library_never_reads_ahead_of_the_current_frame(connected: Pair, first: bytes) -> None:
    """(3) The library asks the socket only for bytes the current frame still needs and
    keeps none between frames: after it read one frame, every later byte is still in
    BufferedSocket (or the kernel), in order -- so the buffer starts at a frame boundary."""
    peer, ws, bs = connected
    after = frame(b"next") + frame(b"x" * 5000)
    peer.sendall(first + after)
    ws.recv_data_frame(True)
    assert not ws.frame_buffer.recv_buffer
    got = b""
    while len(got) < len(after):
        got += bs.recv(len(after) - len(got))
    assert got == after


def test_cont_frame_recving_frames_marks_a_message_in_progress(connected: Pair) -> None:
    """(4) ``ws.cont_frame.recving_frames`` is None at rest, set while a fragmented message
    is being reassembled (seen when a ping between fragments returns), None again after the
    final fragment: the read loop's switch for the fast path."""
    peer, ws, _ = connected
    cont = ws.cont_frame
    assert cont.recving_frames is None
    peer.sendall(frame(b"par", fin=False) + frame(b"hb", PING) + frame(b"ts", CONT))
    assert ws.recv_data_frame(True)[0] == PING
    assert cont.recving_frames is not None
    opcode, got = ws.recv_data_frame(True)
    assert (opcode, got.data) == (TEXT, b"parts")
    assert cont.recving_frames is None


def test_ping_is_answered_inside_the_frame_reader(connected: Pair) -> None:
    """(5) ``recv_data_frame(True)`` writes the pong (same payload) before it returns the
    ping, so no code of ours answers pings and no callback can delay the answer."""
    peer, ws, _ = connected
    peer.sendall(frame(b"heartbeat", PING))
    opcode, got = ws.recv_data_frame(True)
    assert (opcode, got.data) == (PING, b"heartbeat")
    assert client_frames(drain(peer)) == [(PONG, b"heartbeat")]


def test_fragments_arrive_as_one_message_with_a_ping_between(connected: Pair) -> None:
    """(5) A fragmented message is reassembled into one bytes payload; a ping between its
    fragments is answered at once and returned on its own."""
    peer, ws, _ = connected
    peer.sendall(frame(b'{"a":', fin=False) + frame(b"p", PING) + frame(b"1}", CONT))
    assert ws.recv_data_frame(True)[0] == PING
    opcode, got = ws.recv_data_frame(True)
    assert (opcode, got.data) == (TEXT, b'{"a":1}')
    assert client_frames(drain(peer)) == [(PONG, b"p")]


def test_skip_utf8_validation_delivers_bytes_unchecked(connected: Pair) -> None:
    """(6) With ``skip_utf8_validation=True`` a text payload comes back as bytes and invalid
    UTF-8 is not an error there (orjson rejects it later, as a counted decode error)."""
    peer, ws, _ = connected
    peer.sendall(frame(b"\xff\xfe not utf-8"))
    opcode, got = ws.recv_data_frame(True)
    assert opcode == TEXT and got.data == b"\xff\xfe not utf-8"
    assert isinstance(got.data, bytes)


def test_frame_buffer_is_replaceable_between_frames(connected: Pair) -> None:
    """(7) ``ws.frame_buffer`` is a ``websocket.frame_buffer`` built from ``(recv,
    skip_utf8_validation)``; a subclass swapped in after the upgrade reads every later
    frame, and its ``recv_header()`` sees the mask bit before the payload is read."""
    peer, ws, bs = connected
    assert isinstance(ws.frame_buffer, websocket.frame_buffer)
    assert callable(ws.frame_buffer.recv) and ws.frame_buffer.skip_utf8_validation is True
    refuse_masked_frames(ws)
    assert isinstance(ws.frame_buffer, _ServerFrameBuffer)
    masked = frame(b"x" * 50, mask=b"\x01\x02\x03\x04")
    peer.sendall(frame(b"plain") + masked)
    assert ws.recv_data_frame(True)[1].data == b"plain"
    with pytest.raises(MaskedFrameError):
        ws.recv_data_frame(True)
    assert bs.buffered() == len(masked) - 2  # only the header was read


def test_server_close_is_answered_and_returned(connected: Pair) -> None:
    """The server's close frame is answered with a close frame inside the reader and
    returned; the WebSocket is then no longer connected, so ``close()`` writes nothing."""
    peer, ws, _ = connected
    peer.sendall(frame(struct.pack("!H", 1001) + b"bye", CLOSE))
    opcode, got = ws.recv_data_frame(True)
    assert opcode == CLOSE and got.data == struct.pack("!H", 1001) + b"bye"
    assert client_frames(drain(peer)) == [(CLOSE, struct.pack("!H", 1000))]
    assert not ws.connected
    ws.close()
    assert drain(peer) == b""


def test_close_sends_the_status_and_closes_the_socket(connected: Pair) -> None:
    """``close(status, timeout=0)`` writes a close frame with that status, does not wait for
    the peer's answer, and shuts down and closes the socket (through ``_closed``)."""
    peer, ws, bs = connected
    ws.close(status=websocket.STATUS_PROTOCOL_ERROR, timeout=0)
    assert client_frames(drain(peer)) == [(CLOSE, struct.pack("!H", 1002))]
    assert bs._closed and not ws.connected


def test_connection_lost_raises_connection_closed(connected: Pair) -> None:
    """The peer going away mid-stream raises ``WebSocketConnectionClosedException``."""
    peer, ws, _ = connected
    peer.sendall(frame(b"x" * 300)[:100])
    peer.shutdown(socket.SHUT_WR)
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        ws.recv_data_frame(True)


def test_send_writes_one_masked_frame_under_the_library_lock(connected: Pair) -> None:
    """``send(text)`` writes one masked text frame while holding ``ws.lock``: frames from
    several threads never interleave (the library path's sends rely on it)."""
    peer, ws, bs = connected
    held: list[bool] = []
    raw: socket.socket = bs._sock

    class Spy:  # stands in for the raw socket behind the BufferedSocket
        def send(self, data: bytes) -> int:
            held.append(ws.lock.locked())
            return raw.send(data)

        def __getattr__(self, name: str) -> Any:
            return getattr(raw, name)

    bs._sock = Spy()
    ws.send('{"id":1}')
    assert held == [True]
    written = drain(peer)
    assert written[1] & 0x80  # masked, as a client must
    assert client_frames(written) == [(TEXT, b'{"id":1}')]


def test_socket_members_used_are_exactly_the_forwarded_ones() -> None:
    """(7) Over a whole connection -- upgrade, data, ping, fragments, a send, a close
    handshake -- the library touches no socket member outside BufferedSocket's list."""
    peer, mine = socket.socketpair()
    peer.settimeout(5)
    mine.settimeout(5)
    rec = Recording(mine)
    try:
        script = frame(b"d") + frame(b"p", PING) + frame(b"a", fin=False) + frame(b"b", CONT)
        peer.sendall(answer() + script + frame(struct.pack("!H", 1000), CLOSE))
        ws = websocket.WebSocket(skip_utf8_validation=True, enable_multithread=True)
        ws.connect(URL, header={"Sec-WebSocket-Key": KEY}, suppress_origin=True, socket=rec)
        for _ in range(3):
            ws.recv_data_frame(True)
        ws.send("x")
        ws.close()  # reads until the peer's close, then shutdown and close
        assert rec.used <= FORWARDED, rec.used - FORWARDED
        assert {"recv", "send", "gettimeout", "settimeout", "shutdown"} <= rec.used
    finally:
        peer.close()
        mine.close()


def test_a_ping_over_125_bytes_is_a_protocol_error(connected: Pair) -> None:
    """A ping payload of 126 bytes or more fails the connection (RFC 6455 §5.5)."""
    peer, ws, _ = connected
    peer.sendall(frame(b"p" * 126, PING))
    with pytest.raises(websocket.WebSocketProtocolException):
        ws.recv_data_frame(True)


# -- the library path: WebSocketApp.run_forever (public API) ---------------------------------


def app_over(
    mine: socket.socket, events: list[tuple[str, Any]], **callbacks: Any
) -> websocket.WebSocketApp:
    def note(name: str) -> Any:
        return lambda app, *args: events.append((name, args))

    kw = {n: note(n) for n in ("on_open", "on_message", "on_ping", "on_error", "on_close")}
    kw.update(callbacks)
    return websocket.WebSocketApp(URL, header={"Sec-WebSocket-Key": KEY}, socket=mine, **kw)


def test_run_forever_reads_a_given_socket_and_calls_back_on_its_thread() -> None:
    """``WebSocketApp(socket=S).run_forever(skip_utf8_validation=True)`` upgrades over S,
    runs ``on_open`` before reading (``app.sock`` is the WebSocket then), delivers messages
    as bytes and pings to ``on_ping`` on the calling thread, and returns after the server's
    close with ``on_error`` (status_code set) then ``on_close(code, reason)``."""
    peer, mine = socket.socketpair()
    peer.settimeout(5)
    mine.settimeout(5)
    events: list[tuple[str, Any]] = []
    threads: set[int] = set()
    sock_at_open: list[Any] = []

    def on_open(app: Any) -> None:
        threads.add(threading.get_ident())
        sock_at_open.append(app.sock)
        events.append(("on_open", ()))

    try:
        peer.sendall(
            answer()
            + frame(b"m1")
            + frame(b"hb", PING)
            + frame(b"x", fin=False)
            + frame(b"y", CONT)
            + frame(struct.pack("!H", 1000) + b"done", CLOSE)
        )
        app = app_over(mine, events, on_open=on_open)
        app.run_forever(skip_utf8_validation=True, suppress_origin=True)
        assert threads == {threading.get_ident()}
        assert isinstance(sock_at_open[0], websocket.WebSocket)
        names = [name for name, _ in events]
        assert names == ["on_open", "on_message", "on_ping", "on_message", "on_error", "on_close"]
        assert events[1][1] == (b"m1",) and events[3][1] == (b"xy",)
        assert getattr(events[4][1][0], "status_code", None) == 1000
        assert events[5][1] == (1000, "done")
    finally:
        peer.close()
        mine.close()


def test_keep_running_false_and_shut_rd_stop_run_forever_at_once() -> None:
    """From another thread, ``app.keep_running = False`` plus ``shutdown(SHUT_RD)`` on the
    socket wakes the idle reader, which sends Close(1000) itself and returns promptly (the
    library path's ``close()`` and its watchdog's way to end a dead connection)."""
    peer, mine = socket.socketpair()
    peer.settimeout(5)
    mine.settimeout(5)
    events: list[tuple[str, Any]] = []
    opened = threading.Event()
    try:
        peer.sendall(answer())
        app = app_over(mine, events, on_open=lambda app: opened.set())
        reader = threading.Thread(
            target=app.run_forever, kwargs={"suppress_origin": True}, name="test-reader"
        )
        reader.start()
        assert opened.wait(5)
        read_request(peer)
        app.keep_running = False
        mine.shutdown(socket.SHUT_RD)
        reader.join(2)  # the library's idle select would otherwise wait 10 s
        assert not reader.is_alive()
        assert client_frames(drain(peer)) == [(CLOSE, struct.pack("!H", 1000))]
        assert ("on_close", (None, None)) in events
    finally:
        peer.close()
        mine.close()


def test_run_forever_reports_a_masked_frame_through_on_error() -> None:
    """With the checking frame reader installed in ``on_open``, the library's own loop
    raises MaskedFrameError into ``on_error`` and delivers nothing of the frame."""
    peer, mine = socket.socketpair()
    peer.settimeout(5)
    mine.settimeout(5)
    events: list[tuple[str, Any]] = []
    try:
        peer.sendall(answer() + frame(b'{"n":1}', mask=b"\x01\x02\x03\x04"))
        app = app_over(mine, events, on_open=lambda app: refuse_masked_frames(app.sock))
        app.run_forever(skip_utf8_validation=True, suppress_origin=True)
        errors = [args[0] for name, args in events if name == "on_error"]
        assert any(isinstance(e, MaskedFrameError) for e in errors), errors
        assert not [name for name, _ in events if name == "on_message"]
    finally:
        peer.close()
        mine.close()


def test_ping_writes_one_ping_frame(connected: Pair) -> None:
    """``ping()`` writes one masked ping frame under the send lock (the library path's
    watchdog pings an idle server so that its pong wakes the network thread)."""
    peer, ws, _ = connected
    ws.ping()
    assert client_frames(drain(peer)) == [(PING, b"")]


def test_run_forever_calls_on_pong_for_a_pong() -> None:
    """A pong from the server reaches ``on_pong`` on the reader thread (the library path's
    tick runs there when the watchdog's ping is answered)."""
    peer, mine = socket.socketpair()
    peer.settimeout(5)
    mine.settimeout(5)
    events: list[tuple[str, Any]] = []
    try:
        peer.sendall(answer() + frame(b"", PONG) + frame(struct.pack("!H", 1000), CLOSE))
        app = app_over(mine, events, on_pong=lambda app, data: events.append(("on_pong", data)))
        app.run_forever(skip_utf8_validation=True, suppress_origin=True)
        assert ("on_pong", b"") in events
    finally:
        peer.close()
        mine.close()
