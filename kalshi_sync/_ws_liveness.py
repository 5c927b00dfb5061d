"""Liveness of one connection, decided once a tick: alive, silent too long, or slept through.

Sans-I/O: plain values in, a verdict out, the clocks passed in. The read loop (in
:mod:`._transport`) calls :meth:`Liveness.check` about every 0.25 s with the number of
frames read so far; it answers ``None`` (alive) or the exception that ends the connection.

Two ways a connection is declared dead (docs/transport.md, 'Liveness and suspend'):

- **Silence**: no frame at all (data or ping) for ``stale_timeout`` seconds on the
  monotonic clock. Kalshi pings every 10 s, so a healthy connection is never silent that
  long; a half-open one behind a NAT may never be noticed otherwise.
- **Suspend**: ``time.monotonic()`` does not advance while the machine sleeps (Linux,
  macOS), so a laptop that wakes after twenty minutes would count only the seconds since it
  woke and show its books as live for up to ``stale_timeout`` on a connection that is long
  dead. A second clock that keeps running through a suspend (``CLOCK_BOOTTIME`` where the
  OS has it, else the wall clock) is read beside it: when it ran ahead of the monotonic
  clock by ``suspend_threshold`` or more between two ticks, the connection is dead at once
  -- whatever bytes the kernel still holds from before the sleep.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from .errors import KalshiConnectionError

__all__ = [
    "Liveness",
    "StaleConnectionError",
    "SuspendDetectedError",
    "default_suspend_clock",
]

# A suspend shorter than this is left to the silence check: TCP resumes a connection that
# slept a few seconds without loss, and a wall clock stepped by NTP moves by far less. A
# suspend as long as stale_timeout is dead by the watchdog's own definition (that long
# without a frame), so the threshold never exceeds it.
SUSPEND_THRESHOLD = 5.0


class StaleConnectionError(KalshiConnectionError):
    """No frame and no ping arrived for ``stale_timeout``: the socket is a zombie."""


class SuspendDetectedError(StaleConnectionError):
    """The machine was suspended (slept) while connected: the connection is presumed dead."""


def default_suspend_clock() -> Callable[[], float]:
    """A clock that keeps counting while the machine is suspended.

    ``CLOCK_BOOTTIME`` (Linux: monotonic, plus the time spent suspended) when the platform
    has it and it can be read; otherwise the wall clock, which also keeps running through
    a suspend but can be stepped (a false alarm then costs one reconnect and resync).
    """
    clock_id = getattr(time, "CLOCK_BOOTTIME", None)
    if clock_id is not None:
        try:
            time.clock_gettime(clock_id)
        except OSError:  # a sandbox may refuse the clock id
            pass
        else:
            return functools.partial(time.clock_gettime, clock_id)
    return time.time


class Liveness:
    """The watchdog's state for one connection (one instance per connection attempt).

    ``start(now)`` when the upgrade succeeded (the answer counts as heard), then
    ``check(now, frames)`` once a tick, where ``now`` is the monotonic time the read loop
    already took and ``frames`` counts every frame read so far (data, ping, pong, close).
    Silence is stamped per tick, not per frame: the read loop pays no clock read per frame,
    and ``last_heard`` is exact to within one tick.
    """

    __slots__ = (
        "_mono_prev",
        "_seen",
        "_suspend_clock",
        "_suspend_prev",
        "last_heard",
        "stale_timeout",
        "suspend_threshold",
    )

    def __init__(
        self,
        stale_timeout: float,
        suspend_clock: Callable[[], float],
        *,
        suspend_threshold: float = SUSPEND_THRESHOLD,
    ) -> None:
        if stale_timeout <= 0:
            raise ValueError("stale_timeout must be positive")
        self.stale_timeout = stale_timeout
        self.suspend_threshold = min(suspend_threshold, stale_timeout)
        self._suspend_clock = suspend_clock
        self._seen = -1
        self._mono_prev = 0.0
        self._suspend_prev = 0.0
        # monotonic time of the last tick that saw a new frame (or of start())
        self.last_heard = 0.0

    def start(self, now: float, frames: int = 0) -> None:
        """The connection is open at monotonic time ``now``, ``frames`` frames read so far."""
        self._seen = frames
        self.last_heard = self._mono_prev = now
        self._suspend_prev = self._suspend_clock()

    def check(self, now: float, frames: int) -> StaleConnectionError | None:
        """None while the connection is alive, else the error that ends it."""
        through = self._suspend_clock()
        slept = (through - self._suspend_prev) - (now - self._mono_prev)
        self._suspend_prev = through
        self._mono_prev = now
        if slept >= self.suspend_threshold:
            # First: frames counted since the last tick may be bytes from before the sleep.
            return SuspendDetectedError(
                f"the machine was suspended for about {slept:.0f} s while connected"
            )
        if frames != self._seen:
            self._seen = frames
            self.last_heard = now
            return None
        if now - self.last_heard > self.stale_timeout:
            return StaleConnectionError(f"no frame and no ping for {self.stale_timeout:g} s")
        return None
