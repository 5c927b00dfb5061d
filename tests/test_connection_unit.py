"""The fast path's connection, driven one step at a time from the test thread.

No server thread and no network thread: the test plays the server sans-I/O -- it writes
the upgrade answer and frames into one end of a ``socket.socketpair()`` and reads the
client's frames back from it -- and calls :meth:`FastSession.step` itself, with
``timeout=0`` so nothing ever waits. The clocks are injected, so silence and a suspend are
simulated without sleeping. (The upgrade answer needs the client's key, so the client is
given a fixed ``Sec-WebSocket-Key``, which websocket-client uses as given: pinned in
tests/test_websocket_assumptions.py.)
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
from _frames import frame

from kalshi_sync._bufsock import MaskedFrameError
from kalshi_sync._transport import FastSession
from kalshi_sync._transport_probe import PROBE
from kalshi_sync._ws_liveness import StaleConnectionError, SuspendDetectedError
from kalshi_sync.connection import Connection, DisconnectInfo

pytestmark = pytest.mark.skipif(not PROBE.fast_path, reason=f"fast path off: {PROBE.problems}")

TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
STALE = 10.0


def client_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, unmasked payload) of each client frame; every one must be masked."""
    out = []
    pos = 0
    while pos < len(data):
        b0, b1 = data[pos], data[pos + 1]
        assert b1 & 0x80, "a client frame must be masked"
        n, pos = b1 & 0x7F, pos + 2
        if n == 126:
            n, pos = struct.unpack("!H", data[pos : pos + 2])[0], pos + 2
        elif n == 127:
            n, pos = struct.unpack("!Q", data[pos : pos + 8])[0], pos + 8
        mask, pos = data[pos : pos + 4], pos + 4
        out.append((b0 & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data[pos : pos + n]))))
        pos += n
    return out


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class Server:
    """The sans-I/O server side: bytes in and out of the peer end of the socketpair."""

    def __init__(self, peer: socket.socket) -> None:
        self.peer = peer

    def write(self, *frames: bytes) -> None:
        self.peer.sendall(b"".join(frames))

    def received(self) -> list[tuple[int, bytes]]:
        """The client's frames written since the last call."""
        self.peer.setblocking(False)
        data = b""
        try:
            while chunk := self.peer.recv(65536):
                data += chunk
        except BlockingIOError:
            pass
        finally:
            self.peer.settimeout(5)
        return client_frames(data)


class Harness:
    """A Connection and its fast session over a socketpair, plus what the callbacks saw."""

    def __init__(self, on_connected_sends: tuple[str, ...] = ()) -> None:
        self.mono = Clock(1000.0)
        self.boot = Clock(50_000.0)
        self.frames: list[bytes] = []
        self.ticks: list[float] = []
        self.connected: list[int] = []
        self.disconnected: list[DisconnectInfo] = []
        self.on_connected_sends = on_connected_sends
        peer, self.mine = socket.socketpair()
        peer.settimeout(5)
        self.mine.settimeout(5)
        self.server = Server(peer)
        accept = base64.b64encode(hashlib.sha1((KEY + GUID).encode()).digest()).decode()
        peer.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept.encode() + b"\r\n\r\n"
        )
        self.conn = Connection(
            "ws://kalshi.invalid/trade-api/ws/v2",
            lambda: {"Sec-WebSocket-Key": KEY, "KALSHI-ACCESS-KEY": "unit"},
            on_connected=self._connected,
            on_frame=self.frames.append,
            on_disconnected=self.disconnected.append,
            on_tick=self.ticks.append,
            on_fatal=lambda exc: None,
            stale_timeout=STALE,
            transport="fast",
            monotonic=self.mono,
            suspend_clock=self.boot,
        )
        self.gen = self.conn._begin_attempt()
        session = self.conn._make_session(self.mine, self.gen)
        assert isinstance(session, FastSession)
        self.session = session
        assert session.open()
        request = b""
        while b"\r\n\r\n" not in request:
            request += peer.recv(4096)
        self.request = request.decode("latin-1")

    def _connected(self, gen: int) -> None:
        self.connected.append(gen)
        for text in self.on_connected_sends:
            self.conn.send(text, gen)

    def advance(self, seconds: float, *, slept: float = 0.0) -> None:
        """Time passes: ``seconds`` awake (both clocks), plus ``slept`` suspended (only the
        clock that counts through a suspend)."""
        self.mono.now += seconds
        self.boot.now += seconds + slept

    def step(self) -> bool:
        return self.session.step(timeout=0)

    def finish(self) -> DisconnectInfo:
        """Report the ended attempt as the network thread would; the DisconnectInfo."""
        assert not self.session.is_open
        self.conn._end_session(self.mine)
        assert self.conn._conclude(self.gen, self.session.outcome) == "opened"
        return self.disconnected[-1]

    def close(self) -> None:
        self.conn._end_session(self.mine)
        self.conn.close()
        self.server.peer.close()


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness()
    try:
        yield harness
    finally:
        harness.close()


def test_upgrade_sends_the_headers_and_reports_connected(h: Harness) -> None:
    """The upgrade request carries the signed headers and no Origin; on_connected ran for
    this generation and the connection counts as connected."""
    assert "KALSHI-ACCESS-KEY: unit" in h.request
    assert "origin:" not in h.request.lower()
    assert h.connected == [h.gen]
    assert h.conn.connected


def test_frames_in_messages_out(h: Harness) -> None:
    """Data frames of every length encoding, text and binary, written at once, come out as
    messages in order from one step; a ping among them is answered and not delivered."""
    payloads = [b'{"n":1}', b"x" * 300, b"y" * 70_000, b"\x00\xffbinary"]
    h.server.write(
        frame(payloads[0]),
        frame(payloads[1]),
        frame(b"hb", PING),
        frame(payloads[2]),
        frame(payloads[3], BINARY),
    )
    while len(h.frames) < len(payloads):
        assert h.step()
    assert h.frames == payloads
    assert h.server.received() == [(PONG, b"hb")]
    assert h.session.frames == 5


def test_outbox_frames_out_in_order_and_by_generation(h: Harness) -> None:
    """Commands queued from another thread go out, as masked text frames in queue order, on
    the next step (the wake-up socket fired); one built for an older generation is dropped."""
    h.conn.send('{"id":1}', h.gen)
    h.conn.send('{"id":0}', h.gen - 1)  # a dead connection's command
    h.conn.send('{"id":2}', h.gen)
    assert h.server.received() == []  # nothing is written outside the read loop
    assert h.step()
    assert h.server.received() == [(TEXT, b'{"id":1}'), (TEXT, b'{"id":2}')]


def test_resubscriptions_go_out_before_commands_queued_meanwhile() -> None:
    """What on_connected sends is written before commands other threads queued for the same
    generation while the upgrade was in flight."""
    harness = Harness(on_connected_sends=("resub",))
    try:
        harness.conn.send("later", harness.gen)
        assert harness.step()
        assert [p for _, p in harness.server.received()] == [b"resub", b"later"]
    finally:
        harness.close()


def test_stale_detection_after_stale_timeout_of_silence(h: Harness) -> None:
    """No frame for stale_timeout on the monotonic clock ends the connection with
    StaleConnectionError and a Close(1000) that does not wait for the zombie's answer; a
    frame before that restarts the silence (stamped at the next tick); on_tick runs once a
    tick while the connection is alive."""
    ticks = []
    h.advance(STALE - 1)
    assert h.step()
    ticks.append(h.mono.now)
    h.server.write(frame(b"hb", PING))
    assert h.step()  # the ping is read between two ticks ...
    h.advance(0.25)
    assert h.step()  # ... and counted at this one
    ticks.append(h.mono.now)
    h.advance(STALE - 0.5)
    assert h.step()  # 9.5 s of silence is not stale
    ticks.append(h.mono.now)
    h.advance(1)
    assert not h.step()
    info = h.finish()
    assert isinstance(info.error, StaleConnectionError)
    assert not isinstance(info.error, SuspendDetectedError)
    assert h.server.received()[-1] == (CLOSE, struct.pack("!H", 1000))
    assert h.ticks == ticks


def test_suspend_ends_the_connection_at_once(h: Harness) -> None:
    """A tick that finds the suspend-aware clock 20 minutes ahead of the monotonic one ends
    the connection with SuspendDetectedError at once, even though a frame (from before the
    sleep) was read in the same step."""
    h.advance(1)
    assert h.step()
    h.server.write(frame(b'{"stale":"book"}'))
    h.advance(0.3, slept=1200)
    assert not h.step()
    info = h.finish()
    assert isinstance(info.error, SuspendDetectedError)
    assert "1200" in str(info.error)


def test_a_short_suspend_is_left_to_the_silence_check(h: Harness) -> None:
    """A two-second suspend (shorter than the threshold) does not end the connection."""
    h.advance(0.3, slept=2)
    assert h.step()
    assert h.session.is_open


def test_prompt_close(h: Harness) -> None:
    """request_stop() (what close() does before joining) wakes the loop at once: the next
    step returns without waiting for its select timeout, writes Close(1000) after the
    server's answer is read, and reports a clean end (no error, no close code)."""
    h.conn.request_stop()
    h.server.write(frame(struct.pack("!H", 1000), CLOSE))  # the server's answer, ahead of time
    started = time.monotonic()
    assert not h.session.step(timeout=30)
    assert time.monotonic() - started < 5  # not the 30 s select timeout
    assert h.server.received() == [(CLOSE, struct.pack("!H", 1000))]
    info = h.finish()
    assert (info.code, info.reason, info.error) == (None, None, None)


def test_fragmented_message_with_an_interleaved_ping(h: Harness) -> None:
    """A message in fragments with a ping between them: the ping is answered at once while
    the message is incomplete (nothing delivered yet), then the message arrives whole, and a
    complete frame written after it is delivered after it."""
    h.server.write(frame(b'{"a":', fin=False), frame(b"mid", PING))
    assert h.step()
    assert h.frames == []
    assert h.server.received() == [(PONG, b"mid")]
    h.server.write(frame(b"1}", CONT), frame(b'{"b":2}'))
    while len(h.frames) < 2:
        assert h.step()
    assert h.frames == [b'{"a":1}', b'{"b":2}']


def test_server_close_is_answered_and_reported(h: Harness) -> None:
    """The server's Close(1001, "bye") is answered with Close(1000) and reported as code and
    reason, with no error."""
    h.server.write(frame(struct.pack("!H", 1001) + b"bye", CLOSE))
    assert not h.step()
    assert h.server.received() == [(CLOSE, struct.pack("!H", 1000))]
    info = h.finish()
    assert (info.code, info.reason, info.error) == (1001, "bye", None)


def test_masked_frame_fails_with_1002(h: Harness) -> None:
    """A masked data frame fails the connection: close 1002, MaskedFrameError, and neither
    it nor the frame after it is delivered."""
    h.server.write(frame(b"ok"), frame(b"masked", mask=b"\x01\x02\x03\x04"), frame(b"after"))
    assert not h.step()  # one read: "ok" is popped, then the masked frame fails it
    assert h.frames == [b"ok"]
    assert h.server.received() == [(CLOSE, struct.pack("!H", 1002))]
    assert isinstance(h.finish().error, MaskedFrameError)


def test_peer_gone_ends_the_connection_with_the_library_error(h: Harness) -> None:
    """The server's socket going away (EOF) ends the connection with an error."""
    h.server.peer.shutdown(socket.SHUT_WR)
    assert not h.step()
    info = h.finish()
    assert info.error is not None and info.code is None


def test_a_raising_on_frame_does_not_end_the_connection(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception from on_frame is logged; the next message is still delivered."""
    seen: list[Any] = []

    def boom(data: bytes) -> None:
        seen.append(data)
        if data == b"bad":
            raise RuntimeError("decoder bug")

    h.session._on_frame = boom
    h.server.write(frame(b"bad"), frame(b"good"))
    assert h.step()  # one read, both frames served from the buffer
    assert seen == [b"bad", b"good"]
    assert "on_frame handler failed" in caplog.text


def test_on_idle_runs_before_each_wait_and_when_the_connection_ends(h: Harness) -> None:
    """on_idle (the dispatch thread's held bell) runs before every select() -- after the
    frames of the previous read were handed over -- and once more when the session ends,
    so nothing handed over waits for a wake-up that never comes."""
    calls: list[int] = []
    h.session._on_idle = lambda: calls.append(len(h.frames))
    h.server.write(frame(b'{"n":1}'), frame(b'{"n":2}'))
    assert h.step()
    assert calls == [0]  # before the select that saw both frames
    assert h.step()
    assert calls == [0, 2]  # before the next wait, with both delivered
    h.server.peer.shutdown(socket.SHUT_WR)
    assert not h.step()
    assert calls[-1] == 2 and len(calls) == 4  # before that select, and as it ended


@pytest.mark.parametrize("kind", ["poll", "selectors"])
def test_waiter_tells_which_socket_is_readable(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The read loop's wait reports the socket and the wake-up socket separately, with
    select.poll and with the selectors fallback (platforms without poll)."""
    import select

    from kalshi_sync._transport import _Waiter

    if kind == "selectors":
        monkeypatch.delattr(select, "poll")
    sock_w, sock_r = socket.socketpair()
    wake_w, wake_r = socket.socketpair()
    waiter = _Waiter(sock_r.fileno(), wake_r.fileno())
    try:
        assert (waiter._poll is None) == (kind == "selectors")
        assert waiter.wait(0) == (False, False)
        sock_w.send(b"x")
        assert waiter.wait(1.0) == (True, False)
        wake_w.send(b"w")
        assert waiter.wait(1.0) == (True, True)
        sock_r.recv(1)
        assert waiter.wait(1.0) == (False, True)
    finally:
        waiter.close()
        for s in (sock_w, sock_r, wake_w, wake_r):
            s.close()
