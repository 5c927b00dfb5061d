"""Tests for kalshi_sync._bufsock.BufferedSocket: buffered reads and the data-frame fast path.

Plain calls over a ``socket.socketpair()``: the test writes bytes on one end and the
BufferedSocket wraps the other. No sleeps; reads carry a timeout so a bug fails instead of
hanging. The TLS cases shake hands on a short-lived server thread, then run on plain
calls too.
"""

from __future__ import annotations

import queue
import socket
import ssl
import struct
import threading
from collections.abc import Iterator

import pytest
from _frames import frame

from kalshi_sync._bufsock import EMPTY, LIBRARY, PARTIAL, BufferedSocket, MaskedFrameError
from kalshi_sync.testing import tls_context_pair

TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, BufferedSocket]]:
    writer, reader = socket.socketpair()
    reader.settimeout(5.0)
    bs = BufferedSocket(reader)
    try:
        yield writer, bs
    finally:
        writer.close()
        bs.close()


def fill(writer: socket.socket, bs: BufferedSocket, data: bytes) -> None:
    """Put ``data`` in the buffer unconsumed: one recv_into takes a marker byte plus data."""
    writer.sendall(b"\xff" + data)
    assert bs.recv(1) == b"\xff"
    assert bs.buffered() == len(data)


@pytest.mark.parametrize("size", [0, 1, 125])
def test_small_frame(pair: tuple[socket.socket, BufferedSocket], size: int) -> None:
    """A frame with a 7-bit length (0..125) pops whole and leaves the buffer empty."""
    writer, bs = pair
    payload = bytes(range(256))[:size] if size else b""
    fill(writer, bs, frame(payload))
    assert bs.pop_data_frame() == payload
    assert bs.buffered() == 0


@pytest.mark.parametrize("size", [126, 300, 65535])
def test_frame_with_16_bit_length(pair: tuple[socket.socket, BufferedSocket], size: int) -> None:
    """Length byte 126: the real length is the next two bytes, big-endian."""
    writer, bs = pair
    payload = b"x" * (size - 1) + b"!"
    data = frame(payload)
    assert data[1] == 126
    fill(writer, bs, data)
    assert bs.pop_data_frame() == payload
    assert bs.buffered() == 0


def test_frame_with_64_bit_length(pair: tuple[socket.socket, BufferedSocket]) -> None:
    """Length byte 127: the real length is the next eight bytes, big-endian."""
    writer, bs = pair
    payload = b"y" * 70_000 + b"!"
    data = frame(payload)
    assert data[1] == 127
    fill(writer, bs, data)
    assert bs.pop_data_frame() == payload
    assert bs.buffered() == 0


def test_text_and_binary_both_pop_as_bytes(pair: tuple[socket.socket, BufferedSocket]) -> None:
    """Text (0x81) and binary (0x82) frames both pop, as bytes; UTF-8 is not checked here."""
    writer, bs = pair
    fill(writer, bs, frame(b'{"a":1}', TEXT) + frame(b"\x00\xff\xfe", BINARY))
    assert bs.pop_data_frame() == b'{"a":1}'
    assert bs.pop_data_frame() == b"\x00\xff\xfe"
    assert bs.pop_data_frame() is None


def test_several_frames_in_one_buffer(pair: tuple[socket.socket, BufferedSocket]) -> None:
    """One recv_into holding many frames of mixed sizes pops them in order, then None."""
    writer, bs = pair
    payloads = [b"a", b"", b"b" * 200, b"c" * 125, b"d" * 70_000, b"e"]
    fill(writer, bs, b"".join(frame(p) for p in payloads))
    for p in payloads:
        assert bs.pop_data_frame() == p
    assert bs.pop_data_frame() is None
    assert bs.buffered() == 0


@pytest.mark.parametrize(
    ("size", "cut"),
    [(300, 1), (300, 3), (70_000, 9), (300, 4 + 100), (300, 4 + 299), (70_000, 10 + 60_000)],
    ids=[
        "one-byte",
        "16-bit-length-cut",
        "64-bit-length-cut",
        "payload-cut",
        "last-byte-missing",
        "big-payload-cut",
    ],
)
def test_frame_split_across_recvs(
    pair: tuple[socket.socket, BufferedSocket], size: int, cut: int
) -> None:
    """A frame only partly in the buffer (header or payload cut) returns None, consumes
    nothing, and the library's reads then get the bytes unchanged and in order."""
    writer, bs = pair
    data = frame(b"z" * size)
    head, tail = data[:cut], data[cut:]
    fill(writer, bs, head)
    assert bs.pop_data_frame() is None
    assert bs.buffered() == len(head)
    assert bs.recv(len(head)) == head  # nothing was consumed
    writer.sendall(tail)
    got = b""
    while len(got) < len(tail):
        chunk = bs.recv(len(tail) - len(got))
        assert chunk
        got += chunk
    assert got == tail


def test_data_frame_after_a_partial_one_pops_once_complete(
    pair: tuple[socket.socket, BufferedSocket],
) -> None:
    """A complete frame followed by a partial one: the first pops, the second is None."""
    writer, bs = pair
    second = frame(b"q" * 1000)
    fill(writer, bs, frame(b"first") + second[:500])
    assert bs.pop_data_frame() == b"first"
    assert bs.pop_data_frame() is None
    assert bs.buffered() == 500


@pytest.mark.parametrize(
    "data",
    [
        frame(b"", PING),
        frame(b"hb", PONG),
        frame(struct.pack("!H", 1000) + b"bye", CLOSE),
        frame(b"part1", TEXT, fin=False),
        frame(b"part2", CONT, fin=False),
        frame(b"last", CONT),
        bytes([0xC1, 3]) + b"rsv",  # RSV1 set (e.g. permessage-deflate)
    ],
    ids=[
        "ping",
        "pong",
        "close",
        "fin0-text",
        "fin0-continuation",
        "final-continuation",
        "rsv1",
    ],
)
def test_unusual_frames_are_left_to_the_library(
    pair: tuple[socket.socket, BufferedSocket], data: bytes
) -> None:
    """Control, fragmented (FIN=0 or continuation) and RSV frames return None and stay in
    the buffer untouched for websocket-client to read."""
    writer, bs = pair
    fill(writer, bs, data + frame(b"next"))
    assert bs.pop_data_frame() is None
    assert bs.buffered() == len(data) + len(frame(b"next"))
    assert bs.recv(len(data)) == data
    assert bs.pop_data_frame() == b"next"


MASK = b"\x01\x02\x03\x04"


@pytest.mark.parametrize(
    "data",
    [
        frame(b"masked", TEXT, mask=MASK),
        frame(b"m" * 300, BINARY, mask=MASK),
        frame(b"M" * 70_000, TEXT, mask=MASK),
        frame(b"masked", TEXT, mask=MASK)[:2],  # only the two header bytes have arrived
    ],
    ids=["masked-text", "masked-binary-16-bit", "masked-text-64-bit", "header-only"],
)
def test_masked_data_frame_raises(pair: tuple[socket.socket, BufferedSocket], data: bytes) -> None:
    """A masked text or binary frame (a server must not mask, RFC 6455 §5.1) raises
    MaskedFrameError as soon as its header is buffered, and consumes nothing."""
    writer, bs = pair
    fill(writer, bs, data)
    with pytest.raises(MaskedFrameError, match="masked"):
        bs.pop_data_frame()
    assert bs.buffered() == len(data)


def test_frames_before_a_masked_one_still_pop(pair: tuple[socket.socket, BufferedSocket]) -> None:
    """Plain frames ahead of a masked one pop; the masked one then raises, and the frame
    after it is never popped."""
    writer, bs = pair
    fill(writer, bs, frame(b"one") + frame(b"two", mask=MASK) + frame(b"three"))
    assert bs.pop_data_frame() == b"one"
    with pytest.raises(MaskedFrameError):
        bs.pop_data_frame()
    with pytest.raises(MaskedFrameError):  # still there: nothing was skipped past it
        bs.pop_data_frame()


def test_masked_control_frame_is_left_to_the_library(
    pair: tuple[socket.socket, BufferedSocket],
) -> None:
    """A masked ping is not a data frame: it returns None for the library's reader (which
    refuses it, see the connection tests)."""
    writer, bs = pair
    data = frame(b"hb", PING, mask=MASK)
    fill(writer, bs, data)
    assert bs.pop_data_frame() is None
    assert bs.buffered() == len(data)


def test_control_frame_between_data_frames(pair: tuple[socket.socket, BufferedSocket]) -> None:
    """The fast path stops at a ping and resumes after the library has read it."""
    writer, bs = pair
    ping = frame(b"hb", PING)
    fill(writer, bs, frame(b"one") + ping + frame(b"two"))
    assert bs.pop_data_frame() == b"one"
    assert bs.pop_data_frame() is None
    assert bs.recv(2) == ping[:2]
    assert bs.recv(2) == ping[2:]
    assert bs.pop_data_frame() == b"two"
    assert bs.buffered() == 0


def test_pop_on_empty_buffer_is_none(pair: tuple[socket.socket, BufferedSocket]) -> None:
    """An empty buffer pops None without touching the socket (pending data stays there)."""
    writer, bs = pair
    writer.sendall(frame(b"in the kernel"))
    assert bs.buffered() == 0
    assert bs.pop_data_frame() is None
    assert bs.recv(2) == frame(b"in the kernel")[:2]


def test_small_reads_are_served_from_one_recv(pair: tuple[socket.socket, BufferedSocket]) -> None:
    """After one large recv_into, small reads come from the buffer: bytes sent later are
    not mixed in until the buffer is drained, and a read never returns more than asked."""
    writer, bs = pair
    writer.sendall(b"abcdef")
    assert bs.recv(2) == b"ab"
    writer.sendall(b"XYZ")
    assert bs.recv(3) == b"cde"
    assert bs.recv(10) == b"f"  # the rest of the buffer only, not the kernel's b"XYZ"
    assert bs.recv(10) == b"XYZ"


def test_eof_returns_empty_bytes(pair: tuple[socket.socket, BufferedSocket]) -> None:
    """Peer closed with nothing buffered: recv returns b"" (the library reports a drop)."""
    writer, bs = pair
    writer.close()
    assert bs.recv(2) == b""


def test_eof_after_buffered_frames(pair: tuple[socket.socket, BufferedSocket]) -> None:
    """Frames buffered before the peer closed still pop; then recv returns b""."""
    writer, bs = pair
    fill(writer, bs, frame(b"last words"))
    writer.close()
    assert bs.pop_data_frame() == b"last words"
    assert bs.pop_data_frame() is None
    assert bs.recv(2) == b""


# The members websocket-client uses on the socket it is handed, each with its reason in
# BufferedSocket's docstring; the fast path adds its own, none named like a socket member.
FORWARDED = {"recv", "send", "gettimeout", "settimeout", "fileno", "shutdown", "close", "_closed"}


def test_forwards_exactly_the_members_the_library_uses(
    pair: tuple[socket.socket, BufferedSocket],
) -> None:
    """Each member websocket-client uses works through the wrapper and reaches the socket."""
    writer, bs = pair
    assert bs.fileno() == bs._sock.fileno()
    bs.settimeout(2.5)
    assert bs.gettimeout() == 2.5
    assert bs.send(b"ping") == 4
    assert writer.recv(4) == b"ping"
    writer.sendall(b"pong")
    assert bs.recv(4) == b"pong"
    assert bs._closed is False
    bs.shutdown(socket.SHUT_WR)
    assert writer.recv(1) == b""  # the shutdown reached the peer
    bs.close()
    assert bs._closed is True
    public = {name for name in dir(BufferedSocket) if not name.startswith("__")}
    private = {"_buf", "_fd", "_filled", "_pending", "_pos", "_rbuf", "_rview", "_sock"}
    assert public - private == FORWARDED | {
        "buffered",
        "fill",
        "front",
        "pop_data_frame",
        "ssl_pending",
        "unconsumed",
    }


@pytest.mark.parametrize(
    "name", ["recv_into", "sendall", "setsockopt", "getpeername", "recvfrom", "makefile", "family"]
)
def test_any_other_attribute_fails_closed(
    pair: tuple[socket.socket, BufferedSocket], name: str
) -> None:
    """A socket member the wrapper does not list raises AttributeError instead of reaching
    the raw socket behind the buffer (a library release that starts using one fails loudly,
    in the import-time probe and in tests/test_websocket_assumptions.py)."""
    _, bs = pair
    assert hasattr(bs._sock, name)  # the raw socket has it ...
    with pytest.raises(AttributeError):
        getattr(bs, name)  # ... the wrapper does not hand it out


# -- TLS: what fill() and ssl_pending() rely on -------------------------------------------


@pytest.fixture
def tls_pair() -> Iterator[tuple[ssl.SSLSocket, BufferedSocket]]:
    """(server SSLSocket, BufferedSocket over the client SSLSocket), handshaken over a
    socketpair; the server side shakes hands on a short-lived thread."""
    server_ctx, client_ctx = tls_context_pair()
    a, b = socket.socketpair()
    a.settimeout(5.0)
    b.settimeout(5.0)
    done: queue.Queue[ssl.SSLSocket | BaseException] = queue.Queue()

    def serve() -> None:
        try:
            done.put(server_ctx.wrap_socket(a, server_side=True))
        except BaseException as exc:  # reported to the test thread
            done.put(exc)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    client = client_ctx.wrap_socket(b, server_hostname="localhost")
    t.join(5.0)
    server = done.get(timeout=5.0)
    assert isinstance(server, ssl.SSLSocket), server
    bs = BufferedSocket(client)
    try:
        yield server, bs
    finally:
        server.close()
        bs.close()


@pytest.mark.parametrize("size", [1, 230, 16_000, 16_384])
def test_a_tls_read_returns_one_whole_record_and_leaves_nothing_pending(
    tls_pair: tuple[ssl.SSLSocket, BufferedSocket], size: int
) -> None:
    """One fill() on TLS returns exactly one record (<= 16 KiB) although more are waiting,
    and since it returned less than the room it had, OpenSSL holds none of it: the rule
    ssl_pending() uses to skip SSLSocket.pending() (which releases the GIL)."""
    server, bs = tls_pair
    server.sendall(b"a" * size)  # one record each
    server.sendall(b"b" * size)
    assert bs.fill() == size
    assert bs._sock.pending() == 0  # type: ignore[attr-defined]
    assert bs.ssl_pending() == 0
    assert bs.fill() == size
    assert bs.unconsumed() == 2 * size


def test_a_tls_read_that_fills_its_room_may_leave_bytes_pending(
    tls_pair: tuple[ssl.SSLSocket, BufferedSocket],
) -> None:
    """When a read fills all the room it was given, ssl_pending() asks OpenSSL, which does
    hold the rest of that record: nothing decrypted is overlooked."""
    server, bs = tls_pair
    size = 256 * 1024  # the buffer: a partial frame of exactly that length leaves 6 bytes
    partial = b"\x81\x7f" + (size - 10).to_bytes(8, "big") + b"z" * (size - 16)
    bs._buf, bs._pos = partial, 0  # as if earlier reads had left it
    assert bs.front() == PARTIAL
    server.sendall(b"0123456789")  # one 10-byte record; only 6 fit
    assert bs.fill() == 6
    assert bs.ssl_pending() == 4
    assert bs.pop_data_frame() == b"z" * (size - 16) + b"012345"


# -- fill() and front(): completing a cut frame without the library -----------------------


def test_fill_appends_to_a_cut_frame_which_then_pops(
    pair: tuple[socket.socket, BufferedSocket],
) -> None:
    """A data frame cut by a read is PARTIAL; the next fill() appends the rest to it and it
    pops whole, followed by what came with it."""
    writer, bs = pair
    data = frame(b"x" * 300) + frame(b"next")
    fill(writer, bs, data[:100])
    assert bs.pop_data_frame() is None
    assert bs.front() == PARTIAL
    writer.sendall(data[100:])
    assert bs.fill() == len(data) - 100
    assert bs.pop_data_frame() == b"x" * 300
    assert bs.pop_data_frame() == b"next"
    assert bs.front() == EMPTY


@pytest.mark.parametrize("cut", [1, 2, 3, 9])
def test_a_cut_header_is_partial(pair: tuple[socket.socket, BufferedSocket], cut: int) -> None:
    """A header cut anywhere (even after its first byte) is PARTIAL, for every length form."""
    writer, bs = pair
    for payload in (b"a" * 10, b"b" * 300, b"c" * 70_000):
        data = frame(payload)
        head = data[: min(cut, len(data) - 1)]
        fill(writer, bs, head)
        assert bs.pop_data_frame() is None
        assert bs.front() == PARTIAL
        writer.sendall(data[len(head) :])
        while bs.unconsumed() < len(data):
            assert bs.fill() > 0
        assert bs.pop_data_frame() == payload


@pytest.mark.parametrize(
    "data",
    [
        frame(b"hb", PING),
        frame(b"", PONG),
        frame(b"part", fin=False),
        frame(b"z" * 300_000)[:1000],  # longer than the buffer: the library reads it
    ],
    ids=["ping", "pong", "fragment", "oversized"],
)
def test_front_leaves_everything_else_to_the_library(
    pair: tuple[socket.socket, BufferedSocket], data: bytes
) -> None:
    """Control frames, fragments and frames longer than the buffer are LIBRARY."""
    writer, bs = pair
    fill(writer, bs, data)
    assert bs.pop_data_frame() is None
    assert bs.front() == LIBRARY


def test_fill_reports_eof_and_an_empty_non_blocking_read(
    pair: tuple[socket.socket, BufferedSocket],
) -> None:
    """fill() returns -1 when a non-blocking socket had nothing after all, 0 at EOF, and
    keeps the unconsumed bytes in both cases."""
    writer, bs = pair
    fill(writer, bs, b"\x81\x05ab")
    bs.settimeout(0.0)
    assert bs.fill() == -1
    writer.shutdown(socket.SHUT_WR)
    assert bs.fill() == 0
    assert bs.unconsumed() == 4
