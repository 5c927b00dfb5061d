"""Frames cut by reads and TLS records: the fast path's framing is the same over ws:// and wss://.

The test plays the server on the test thread, as in tests/test_connection_unit.py, over
a ``socket.socketpair()`` -- in the clear, or wrapped in TLS on both ends (a short-lived
thread does the server's side of the TLS handshake). Over TLS each ``sendall()`` of at
most 16 KiB becomes exactly one TLS record, and one read of the client's ``SSLSocket``
returns at most one record (docs/transport.md, 'TLS records'), so the test decides where
the client's reads end. In the clear the kernel joins whatever has been written, so a cut
only holds when the client steps between two writes.

What websocket-client reads itself -- a control frame; a fragment, and after one that is
not the last every frame up to the next control frame or the last fragment; a frame
longer than the buffer -- it reads to the end, blocking until the rest arrives (up to the
socket timeout). So a test that plays the server on the stepping thread writes the rest
of such a stretch before it steps (over TLS the record boundaries still cut it; in the
clear those writes join), or writes from a thread.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import random
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
from _frames import BINARY, CLOSE, CONT, PING, PONG, TEXT, frame
from test_connection_unit import GUID, KEY, STALE, Clock, client_frames

from kalshi_sync._transport import FastSession
from kalshi_sync._transport_probe import PROBE
from kalshi_sync.connection import Connection, DisconnectInfo
from kalshi_sync.testing import tls_context_pair

pytestmark = pytest.mark.skipif(not PROBE.fast_path, reason=f"fast path off: {PROBE.problems}")

RECORD = 16 * 1024  # the most plaintext one TLS record carries (RFC 8446 §5.1)
BUFFER = 256 * 1024  # BufferedSocket's buffer: a longer frame goes to websocket-client
WAIT = 5.0  # bound on every wait for data the server has written

_ACCEPT = base64.b64encode(hashlib.sha1((KEY + GUID).encode()).digest())
ANSWER = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + _ACCEPT + b"\r\n\r\n"
)

Contexts = tuple[ssl.SSLContext, ssl.SSLContext]


def _text(n: int, seed: int) -> bytes:
    """``n`` printable bytes that differ from position to position (a shifted or spliced
    payload does not compare equal)."""
    rng = random.Random(seed)
    return bytes(rng.choices(range(0x21, 0x7F), k=n))


class Stream:
    """Server frames laid end to end: the wire bytes, the messages and pong payloads they
    must produce, and where the frames websocket-client reads itself lie."""

    def __init__(self) -> None:
        self.wire = b""
        self.messages: list[bytes] = []
        self.pings: list[bytes] = []
        # [start, end) of each stretch websocket-client reads in one go: a frame, or the
        # fragments (and the control frame) one recv_data_frame() call reads.
        self._library: list[tuple[int, int]] = []
        self._reading: int | None = None  # the start of a stretch still being read
        self.boundaries = [0]  # where each frame starts, and the end

    def data(self, payload: bytes, opcode: int = TEXT) -> Stream:
        assert self._reading is None
        self.wire += frame(payload, opcode)
        self.boundaries.append(len(self.wire))
        self.messages.append(payload)
        return self

    def library(
        self, raw: bytes, message: bytes | None = None, *, reads_on: bool = False
    ) -> Stream:
        """A frame websocket-client reads (a control frame, a fragment); ``message``: the
        whole message it completes; ``reads_on``: websocket-client goes on reading the next
        frame in the same call (after a fragment that is not the last, until the last one
        or a control frame)."""
        start = len(self.wire) if self._reading is None else self._reading
        self.wire += raw
        self.boundaries.append(len(self.wire))
        if reads_on:
            self._reading = start
        else:
            self._library.append((start, len(self.wire)))
            self._reading = None
        if message is not None:
            self.messages.append(message)
        return self

    def ping(self, payload: bytes) -> Stream:
        self.pings.append(payload)
        return self.library(frame(payload, PING))

    def inside_library_frame(self, offset: int) -> bool:
        """Whether a cut at ``offset`` falls strictly inside a stretch the library reads
        in one go (it would block the stepping thread there)."""
        return any(start < offset < end for start, end in self._library)


def mixed_stream() -> Stream:
    """Every length encoding, text and binary, pings, and a fragmented message with a ping
    between its fragments."""
    return (
        Stream()
        .data(b'{"n":1}')  # 7-bit length
        .data(_text(300, 1))  # 16-bit length
        .ping(b"hb-1")
        .data(_text(70_000, 2))  # 64-bit length
        .data(random.Random(3).randbytes(200), BINARY)
        .library(frame(b'{"frag":"', fin=False), reads_on=True)
        .ping(b"hb-2")
        .library(frame(b"mid", CONT, fin=False), reads_on=True)
        .library(frame(b'dle"}', CONT), b'{"frag":"middle"}')
        .data(b'{"n":2}')
    )


MIXED = mixed_stream()


class Server:
    """The server's end: a plain socket or the server's SSLSocket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def write(self, data: bytes, *, record: int = RECORD) -> None:
        """``data`` in writes of at most ``record`` bytes: over TLS one record each."""
        for pos in range(0, len(data), record):
            self.sock.sendall(data[pos : pos + record])

    def write_records(self, records: Sequence[bytes]) -> None:
        """One write (one TLS record) per item."""
        for rec in records:
            self.sock.sendall(rec)

    def received(self) -> list[tuple[int, bytes]]:
        """The client's frames written since the last call."""
        self.sock.settimeout(0)
        data = b""
        try:
            while chunk := self.sock.recv(65536):
                data += chunk
        except (BlockingIOError, ssl.SSLWantReadError):
            pass
        finally:
            self.sock.settimeout(WAIT)
        return client_frames(data)

    def eof(self, *, close_notify: bool) -> None:
        """The server goes away: a TLS close_notify first if asked, then the TCP FIN."""
        if close_notify:
            assert isinstance(self.sock, ssl.SSLSocket)
            self.sock.settimeout(0)
            # unwrap() sends close_notify, then would wait for the client's.
            with contextlib.suppress(ssl.SSLWantReadError):
                self.sock.unwrap()
        self.sock.shutdown(socket.SHUT_WR)


def _tls_handshake(
    peer: socket.socket, mine: socket.socket, contexts: Contexts
) -> tuple[ssl.SSLSocket, ssl.SSLSocket]:
    """Both sides of the TLS handshake over the socketpair; the server thread also writes
    the upgrade answer. (server, client) SSLSockets."""
    server_ctx, client_ctx = contexts
    box: list[object] = []

    def serve() -> None:
        try:
            tls = server_ctx.wrap_socket(peer, server_side=True)
        except BaseException as exc:
            box.append(exc)
            return
        box.append(tls)
        try:
            tls.sendall(ANSWER)
        except BaseException as exc:
            box.append(exc)

    thread = threading.Thread(target=serve, name="tls-test-server-handshake", daemon=True)
    thread.start()
    try:
        client = client_ctx.wrap_socket(mine, server_hostname="localhost")
    finally:
        thread.join(WAIT)
    assert not thread.is_alive(), "the server's TLS handshake did not finish"
    server = box[0]
    if not isinstance(server, ssl.SSLSocket) or len(box) > 1:
        client.close()
        if isinstance(server, ssl.SSLSocket):
            server.close()
        raise AssertionError(f"server side of the handshake failed: {box}")
    return server, client


class Harness:
    """A Connection and its fast session over a socketpair, in the clear or over TLS."""

    def __init__(self, kind: str, contexts: Contexts) -> None:
        self.kind = kind
        self.frames: list[bytes] = []
        self.disconnected: list[DisconnectInfo] = []
        self._made: list[socket.socket] = []  # the SSLSockets, once they exist
        peer, mine = socket.socketpair()
        try:
            self._open(kind, contexts, peer, mine)
        except BaseException:
            if hasattr(self, "conn"):
                self.conn.close()
            for sock in (peer, mine, *self._made):
                sock.close()
            raise

    def _open(
        self, kind: str, contexts: Contexts, peer: socket.socket, mine: socket.socket
    ) -> None:
        # Room for what the tests write before the client reads: a socketpair holds only
        # about 64 KiB written in 16 KiB pieces, or 70 one-byte writes, by default. (Asked
        # for no more than Linux's default net.core.wmem_max, so it is granted: doubled.)
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 212_992)
        peer.settimeout(WAIT)
        mine.settimeout(WAIT)
        server_sock: socket.socket
        client_sock: socket.socket
        if kind == "tls":
            server_sock, client_sock = _tls_handshake(peer, mine, contexts)
            self._made += [server_sock, client_sock]
            url = "wss://localhost/trade-api/ws/v2"
        else:
            peer.sendall(ANSWER)
            server_sock, client_sock = peer, mine
            url = "ws://kalshi.invalid/trade-api/ws/v2"
        self.mine = client_sock
        self.server = Server(server_sock)
        self.conn = Connection(
            url,
            lambda: {"Sec-WebSocket-Key": KEY, "KALSHI-ACCESS-KEY": "unit"},
            on_connected=lambda gen: None,
            on_frame=self.frames.append,
            on_disconnected=self.disconnected.append,
            on_tick=lambda now: None,
            on_fatal=lambda exc: None,
            stale_timeout=STALE,
            transport="fast",
            monotonic=Clock(1000.0),
            suspend_clock=Clock(50_000.0),
        )
        self.gen = self.conn._begin_attempt()
        session = self.conn._make_session(self.mine, self.gen)
        assert isinstance(session, FastSession)
        self.session = session
        assert session.open(), session.outcome.error
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = server_sock.recv(4096)
            assert chunk, "the client went away during the upgrade"
            request += chunk
        assert request.startswith(b"GET /trade-api/ws/v2 HTTP/1.1\r\n")

    def step(self) -> bool:
        """One turn that waits (boundedly) for what the server wrote to become readable."""
        return self.session.step(timeout=1.0)

    def step_until(self, count: int) -> None:
        """Step until ``count`` messages have arrived in all (bounded: fails, never hangs)."""
        deadline = time.monotonic() + WAIT
        while len(self.frames) < count:
            assert time.monotonic() < deadline, (
                f"{len(self.frames)} of {count} messages after {WAIT} s"
            )
            assert self.step(), f"session ended: {self.session.outcome.error!r}"

    def step_until_written(self, data: bytes, count: int) -> None:
        """Write ``data`` in 16 KiB records from a thread (more than the socketpair holds
        unread, or a frame websocket-client must read whole) while stepping until ``count``
        messages have arrived."""
        errors: list[BaseException] = []

        def write() -> None:
            try:
                self.server.write(data)
            except BaseException as exc:
                errors.append(exc)

        writer = threading.Thread(target=write, name="tls-test-server-writer", daemon=True)
        writer.start()
        try:
            self.step_until(count)
        finally:
            writer.join(WAIT)
        assert not writer.is_alive() and not errors, errors

    def step_until_over(self) -> None:
        """Step until the session ends (bounded)."""
        deadline = time.monotonic() + WAIT
        while self.step():
            assert time.monotonic() < deadline, "the session did not end"

    def finish(self) -> DisconnectInfo:
        """Report the ended attempt as the network thread would; the DisconnectInfo."""
        assert not self.session.is_open
        self.conn._end_session(self.mine)
        assert self.conn._conclude(self.gen, self.session.outcome) == "opened"
        return self.disconnected[-1]

    def close(self) -> None:
        self.conn._end_session(self.mine)
        self.conn.close()
        self.server.sock.close()


@pytest.fixture(scope="module")
def contexts() -> Contexts:
    """One throwaway CA and localhost certificate for the module."""
    return tls_context_pair()


@contextlib.contextmanager
def harness(kind: str, contexts: Contexts) -> Iterator[Harness]:
    h = Harness(kind, contexts)
    try:
        yield h
    finally:
        h.close()


@pytest.fixture(params=["plain", "tls"])
def kind(request: pytest.FixtureRequest) -> str:
    """The transport under the WebSocket: in the clear or TLS."""
    return str(request.param)


@pytest.fixture
def h(kind: str, contexts: Contexts) -> Iterator[Harness]:
    with harness(kind, contexts) as h:
        yield h


def _deliver(h: Harness, stream: Stream, cuts: Sequence[int]) -> None:
    """Write ``stream`` cut at ``cuts``, each piece in writes of at most 16 KiB (over TLS
    one record each), stepping once after each write that does not end inside a frame the
    library reads; then step until every message arrived, and check messages and pongs."""
    h.frames.clear()
    bounds = [0, *cuts, len(stream.wire)]
    for start, stop in itertools.pairwise(bounds):
        for pos in range(start, stop, RECORD):
            end = min(pos + RECORD, stop)
            h.server.write(stream.wire[pos:end])
            if end < len(stream.wire) and not stream.inside_library_frame(end):
                assert h.step(), f"session ended: {h.session.outcome.error!r}"
    h.step_until(len(stream.messages))
    assert h.frames == stream.messages
    assert h.server.received() == [(PONG, p) for p in stream.pings]


def cut_offsets(stream: Stream, *, edge: int = 256, stride: int = 211) -> list[int]:
    """Every offset of ``stream`` except deep inside long frames: there, every offset within
    ``edge`` bytes of either end, every ``stride``-th in between, and those where a later
    16 KiB write ends near a frame boundary. (All 70,571 offsets of the mixed stream take
    tens of seconds per transport; past the first few hundred bytes of a payload a cut is
    the same case again, unless a later write lands near a boundary.)"""
    n = len(stream.wire)
    wanted: set[int] = set()
    for start, end in itertools.pairwise(stream.boundaries):
        if end - start <= 2 * edge + stride:
            wanted.update(range(start, end + 1))
        else:
            wanted.update(range(start, start + edge))
            wanted.update(range(end - edge, end + 1))
            wanted.update(range(start + edge, end - edge, stride))
    for b in stream.boundaries:
        for j in range(1, n // RECORD + 1):
            wanted.update(range(b - j * RECORD - 2, b - j * RECORD + 3))
    return sorted(o for o in wanted if 0 < o < n)


def test_stream_cut_in_two_at_every_offset(h: Harness) -> None:
    """The mixed stream cut in two at every offset arrives once, whole, in order; pings answered."""
    # Sampled deep inside the 70,000-byte payload (cut_offsets); one connection throughout.
    offsets = cut_offsets(MIXED)
    assert set(range(1, 400)) <= set(offsets) and len(offsets) > 1000
    for offset in offsets:
        try:
            _deliver(h, MIXED, [offset])
        except AssertionError as exc:
            raise AssertionError(f"{h.kind}, cut at offset {offset}: {exc}") from exc
    assert h.session.is_open


def random_cuts(stream: Stream, seed: int) -> list[int]:
    """Random cut points: pieces of 1 to 8 bytes (half of them 1) within 32 bytes of a
    frame boundary, up to a full 16 KiB record elsewhere."""
    rng = random.Random(seed)
    cuts: list[int] = []
    pos = 0
    while True:
        prev = max(b for b in stream.boundaries if b <= pos)
        nxt = min((b for b in stream.boundaries if b > pos), default=len(stream.wire))
        if pos - prev < 32 or nxt - pos <= 32:
            size = 1 if rng.random() < 0.5 else rng.randint(2, 8)
        else:  # far from a boundary: up to a record, stopping short of the next one
            size = rng.randint(1, min(RECORD, nxt - 32 - pos))
        pos += size
        if pos >= len(stream.wire):
            return cuts
        cuts.append(pos)


def test_stream_cut_into_random_pieces(h: Harness) -> None:
    """The stream cut into random pieces, many 1-byte records, arrives intact; pings answered."""
    # Several seeds, one connection throughout.
    for seed in range(8):
        cuts = random_cuts(MIXED, seed)
        assert sum(1 for a, b in itertools.pairwise([0, *cuts]) if b - a == 1) >= 15
        try:
            _deliver(h, MIXED, cuts)
        except AssertionError as exc:
            raise AssertionError(f"{h.kind}, seed {seed}, cuts {cuts}: {exc}") from exc


def test_frame_longer_than_the_buffer_arrives_whole(h: Harness) -> None:
    """A 300,000-byte frame (longer than the buffer) split across records arrives whole."""
    # websocket-client reads it (it does not fit the 256 KiB buffer), from 16 KiB records,
    # between two small frames that must arrive before and after it.
    big = _text(300_000, 7)
    assert len(big) > BUFFER
    h.step_until_written(frame(b'{"before":1}') + frame(big) + frame(b'{"after":1}'), 3)
    assert h.frames == [b'{"before":1}', big, b'{"after":1}']


@pytest.mark.parametrize("total", [BUFFER, BUFFER + 1], ids=["buffer-sized", "one-byte-over"])
def test_frames_after_a_buffer_sized_frame_in_its_last_record(h: Harness, total: int) -> None:
    """Frames behind a buffer-sized frame in its last record arrive with nothing more written."""
    # A frame of exactly the buffer's size (the fast path's) or one byte more (websocket-
    # client's) ends a few bytes into a record that carries the next frames. Over TLS those
    # wait decrypted inside OpenSSL after the read that completes the frame, where poll()
    # cannot see them; the harness's clock stands still, so no once-a-tick check helps.
    first = frame(b'{"n":0}')
    big = _text(total - 10, 8)  # a 64-bit length: 10 header bytes
    assert len(frame(big)) == total
    rest = [b'{"n":%d}' % i for i in range(1, 100)]
    wire = first + frame(big) + b"".join(frame(p) for p in rest)
    assert (len(first) + total) % RECORD in (9, 10)  # 16 records, then a few bytes of it
    assert len(wire) < (len(first) + total) // RECORD * RECORD + RECORD  # all in that record
    h.step_until_written(wire, 2 + len(rest))
    assert h.frames == [b'{"n":0}', big, *rest]


def test_small_frames_straddling_every_record_boundary(h: Harness) -> None:
    """Small frames straddling every record boundary, written at once, arrive once and in order."""
    # Each record ends inside a frame, in its header or its payload.
    rng = random.Random(11)
    # 7-bit lengths mostly, some 16-bit ones: headers of both sizes straddle boundaries.
    sizes = [
        rng.randint(126, 300) if rng.random() < 0.15 else rng.randint(0, 60) for _ in range(800)
    ]
    payloads = [_text(n, i) for i, n in enumerate(sizes)]
    wires = [frame(p) for p in payloads]
    starts = [0]
    for w in wires:
        starts.append(starts[-1] + len(w))
    wire = b"".join(wires)
    cuts: list[int] = []
    limit = rng.randint(1000, 12_000)
    for start, w in zip(starts, wires, strict=False):
        if start + len(w) - (cuts[-1] if cuts else 0) > limit:
            # This frame would overflow the record: the record ends inside it.
            cuts.append(start + rng.randint(1, len(w) - 1))
            limit = rng.randint(1000, 12_000)
    assert len(cuts) >= 5
    bounds = [0, *cuts, len(wire)]
    records = [wire[a:b] for a, b in itertools.pairwise(bounds)]
    assert all(0 < len(r) <= RECORD for r in records)
    assert all(c not in starts for c in cuts)  # each boundary falls inside a frame
    h.server.write_records(records)
    h.step_until(len(payloads))
    assert h.frames == payloads
    assert h.session.is_open


def test_close_split_across_records_is_answered_and_reported(kind: str, contexts: Contexts) -> None:
    """A close split across two records is answered with Close(1000) and reported (code, reason)."""
    # At each offset of Close(1001, "bye"), after a message that must be delivered first.
    close = frame(struct.pack("!H", 1001) + b"bye", CLOSE)
    for offset in range(1, len(close)):
        with harness(kind, contexts) as h:
            # The library reads the close to its end: both records go out before the step.
            h.server.write_records([frame(b'{"last":1}') + close[:offset], close[offset:]])
            h.step_until_over()
            where = f"{kind}, close cut at offset {offset}"
            assert h.frames == [b'{"last":1}'], where
            assert h.server.received() == [(CLOSE, struct.pack("!H", 1000))], where
            info = h.finish()
            assert (info.code, info.reason, info.error) == (1001, "bye", None), where


# Where the server goes away: after a complete frame and part of the next one.
_PARTIAL = {
    "data-header": frame(_text(300, 5))[:3],
    "data-payload": frame(_text(300, 5))[:150],
    "long-data-payload": frame(_text(70_000, 6))[:40_000],
    "ping": frame(b"hb", PING)[:3],
    "fragment": frame(b'{"a":', fin=False) + frame(b"1}", CONT)[:3],
}


@pytest.mark.parametrize(
    ("kind", "close_notify"),
    [("plain", False), ("tls", False), ("tls", True)],
    ids=["plain-fin", "tls-fin", "tls-close_notify"],
)
def test_eof_inside_a_frame_ends_with_an_error(
    kind: str, close_notify: bool, contexts: Contexts
) -> None:
    """EOF (FIN, or close_notify) inside a frame ends the session with an error, nothing partial."""
    # Cut in a header, a payload, a long payload, a ping, a continuation fragment; the frame
    # before the cut one is delivered.
    for where, partial in _PARTIAL.items():
        with harness(kind, contexts) as h:
            h.server.write(frame(b'{"ok":1}'))
            h.server.write(partial)
            h.server.eof(close_notify=close_notify)
            h.step_until_over()
            info = h.finish()
            assert h.frames == [b'{"ok":1}'], where
            assert info.error is not None and info.code is None, (where, info)
