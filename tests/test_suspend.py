"""Liveness across a laptop's sleep (and plain silence), with injected clocks.

``time.monotonic()`` does not advance while the machine is suspended, so silence measured
on it alone would keep a long-dead connection "live" for up to ``stale_timeout`` after
wake-up. :class:`~kalshi_sync._ws_liveness.Liveness` also reads a clock that keeps running
through a suspend; these tests move both clocks by hand -- plain calls first, then a
KalshiClient against FakeKalshiServer on both read paths, where a simulated suspend makes
the client drop the connection at once, mark its books stale, reconnect and resync.
"""

from __future__ import annotations

import queue
import time
from typing import Any

import pytest
from _helpers import book_equals_server, events, make_client, seed, wait_for

import kalshi_sync.connection as connection_module
from kalshi_sync._transport_probe import PROBE
from kalshi_sync._ws_liveness import (
    SUSPEND_THRESHOLD,
    Liveness,
    StaleConnectionError,
    SuspendDetectedError,
    default_suspend_clock,
)
from kalshi_sync.testing import FakeKalshiServer


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def started(stale: float = 10.0) -> tuple[Liveness, Clock, Clock]:
    """A Liveness started at monotonic 100.0, and its (monotonic, suspend-aware) clocks."""
    mono, boot = Clock(100.0), Clock(7_000.0)
    live = Liveness(stale, boot)
    live.start(mono.now)
    return live, mono, boot


def tick(live: Liveness, mono: Clock, boot: Clock, awake: float, frames: int, slept: float = 0):
    mono.now += awake
    boot.now += awake + slept
    return live.check(mono.now, frames)


# -- plain calls ------------------------------------------------------------------------------


def test_silence_longer_than_stale_timeout_is_stale() -> None:
    """No new frame for more than stale_timeout: StaleConnectionError; until then, None."""
    live, mono, boot = started(stale=10.0)
    assert tick(live, mono, boot, 5.0, frames=0) is None
    assert tick(live, mono, boot, 5.0, frames=0) is None  # exactly 10 s is not "more"
    dead = tick(live, mono, boot, 0.25, frames=0)
    assert isinstance(dead, StaleConnectionError) and not isinstance(dead, SuspendDetectedError)
    assert "10 s" in str(dead)


def test_a_new_frame_restarts_the_silence_at_that_tick() -> None:
    """A tick that sees the frame count move stamps last_heard with its own time."""
    live, mono, boot = started(stale=10.0)
    assert tick(live, mono, boot, 8.0, frames=3) is None
    assert live.last_heard == mono.now
    assert tick(live, mono, boot, 9.0, frames=3) is None
    assert isinstance(tick(live, mono, boot, 1.5, frames=3), StaleConnectionError)


def test_a_suspend_is_dead_at_once_even_with_new_frames() -> None:
    """20 minutes asleep between two ticks (0.25 s awake): SuspendDetectedError at once,
    although frames were counted -- they may be bytes from before the sleep."""
    live, mono, boot = started(stale=30.0)
    dead = tick(live, mono, boot, 0.25, frames=50, slept=1200.0)
    assert isinstance(dead, SuspendDetectedError)
    assert isinstance(dead, StaleConnectionError)  # callers treating stale cover it too
    assert "1200" in str(dead)


def test_a_short_suspend_is_left_to_the_silence_check() -> None:
    """A suspend shorter than the threshold is not a verdict by itself."""
    live, mono, boot = started(stale=30.0)
    assert tick(live, mono, boot, 0.25, frames=1, slept=SUSPEND_THRESHOLD - 0.5) is None
    assert tick(live, mono, boot, 0.25, frames=2) is None


def test_the_threshold_never_exceeds_stale_timeout() -> None:
    """With stale_timeout 2 s, a 3 s suspend (silent that long in real time) is dead."""
    live, mono, boot = started(stale=2.0)
    assert isinstance(tick(live, mono, boot, 0.25, frames=1, slept=3.0), SuspendDetectedError)


def test_a_clock_stepped_backwards_is_not_a_suspend() -> None:
    """A wall clock set back (NTP, a user) runs behind monotonic: no suspend, no verdict."""
    live, mono, boot = started(stale=30.0)
    assert tick(live, mono, boot, 0.25, frames=1, slept=-600.0) is None
    assert tick(live, mono, boot, 0.25, frames=2) is None


def test_start_forgets_the_previous_connection() -> None:
    """start() for a new connection resets both the silence and the clock baseline."""
    live, mono, boot = started(stale=10.0)
    assert tick(live, mono, boot, 9.0, frames=0) is None
    boot.now += 5000.0  # asleep between two connections: not this connection's business
    mono.now += 1.0
    live.start(mono.now, frames=0)
    assert tick(live, mono, boot, 0.25, frames=0) is None


@pytest.mark.skipif(not hasattr(time, "CLOCK_BOOTTIME"), reason="no CLOCK_BOOTTIME here")
def test_default_clock_is_boottime_where_the_os_has_it() -> None:
    """On Linux the default suspend-aware clock is CLOCK_BOOTTIME (monotonic + suspended)."""
    clock = default_suspend_clock()
    before = time.clock_gettime(time.CLOCK_BOOTTIME)
    assert before <= clock() <= time.clock_gettime(time.CLOCK_BOOTTIME)
    assert clock() >= time.monotonic() - 1.0  # never behind monotonic (same origin, plus sleep)


def test_default_clock_falls_back_to_the_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where CLOCK_BOOTTIME is missing or refused, the wall clock is used."""
    monkeypatch.delattr(time, "CLOCK_BOOTTIME", raising=False)
    assert default_suspend_clock() is time.time

    def refuse(clock_id: int) -> float:
        raise OSError("clock refused")

    monkeypatch.setattr(time, "CLOCK_BOOTTIME", 7, raising=False)
    monkeypatch.setattr(time, "clock_gettime", refuse)
    assert default_suspend_clock() is time.time


# -- a client against FakeKalshiServer ---------------------------------------------------------

T1 = "KXSLEEP-26-T1"
TRANSPORTS = [
    pytest.param("fast", marks=pytest.mark.skipif(not PROBE.fast_path, reason="fast path off")),
    "library",
]


class SuspendClock:
    """monotonic() plus the time spent 'asleep' so far, which the test raises at will."""

    def __init__(self) -> None:
        self.asleep = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.asleep


@pytest.mark.integration
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_client_drops_at_once_after_a_suspend_then_reconnects_and_resyncs(
    key_pair: Any, private_pem: bytes, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    """A simulated 20-minute suspend ends the connection at the next tick (long before
    stale_timeout, although the server keeps pinging), books go stale at once, and once the
    server takes connections again the client reconnects, resubscribes and its book is live
    and equal to the server's again."""
    suspend = SuspendClock()
    monkeypatch.setattr(connection_module, "default_suspend_clock", lambda: suspend)
    srv = FakeKalshiServer(public_key=key_pair[1], ping_interval=0.2).start()
    seed(srv, T1)
    try:
        with make_client(srv, private_pem, stale_timeout=30.0, transport=transport) as client:
            lost = events(client, "disconnected")
            back: queue.Queue[Any] = events(client, "connected")
            client.subscribe("orderbook_delta", [T1])
            wait_for(lambda: book_equals_server(client, srv, T1), what="the first snapshot")
            srv.refuse_next_handshakes(10_000)  # keep it down while the test looks
            t0 = time.monotonic()
            suspend.asleep += 1200.0  # the laptop slept twenty minutes
            gone = lost.get(timeout=5)
            assert time.monotonic() - t0 < 5.0  # not stale_timeout (30 s)
            assert isinstance(gone.error, SuspendDetectedError), gone
            assert gone.will_reconnect
            assert client.orderbook(T1).state == "stale"
            srv.refuse_next_handshakes(0)
            while not back.get(timeout=10).reconnect:  # skip the first connection's event
                pass
            wait_for(lambda: book_equals_server(client, srv, T1), what="the resync")
            srv.apply_delta(T1, "yes", "0.42", "4")
            wait_for(lambda: book_equals_server(client, srv, T1), what="a delta after it")
            assert client.stats()["reconnects"] >= 1
    finally:
        srv.stop()
