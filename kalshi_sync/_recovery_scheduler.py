"""When to run a recovery's REST reads, and when to retry them (sans-I/O).

A recovery round starts with every reconnect of a connection with private channels (and at
start with ``recover_since``). :class:`RecoveryScheduler` is the round's state: it says when
an attempt is due (:meth:`~RecoveryScheduler.on_tick`), and after a failure (REST down, a 5xx
storm) when to try again -- jittered exponential backoff, capped -- producing the
:class:`~kalshi_sync.events.RecoveryFailedEvent` to deliver; after a success it produces the
:class:`~kalshi_sync.events.RecoveredEvent`. A reconnect during a round starts a new round
at once; the older round's attempt is superseded (its result is refused). It is just state:
the REST reads run elsewhere (never on the network thread), so a failing recovery never
blocks market data. ``now`` is passed in (``time.monotonic()`` seconds); ``rng`` is injected.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import attrs

from .events import RecoveredEvent, RecoveryFailedEvent

__all__ = ["RECOVERY_STATES", "RecoveryAttempt", "RecoveryScheduler"]

RECOVERY_STATES = frozenset({"idle", "due", "running", "backoff"})
"""``idle``: nothing to recover. ``due``: an attempt should start now. ``running``: an
attempt's REST reads are in flight. ``backoff``: the last attempt failed; the next one is
due at :attr:`RecoveryScheduler.due_at`."""


@attrs.frozen(kw_only=True)
class RecoveryAttempt:
    """One attempt: the ``round`` (one per reconnect), its ``number`` within the round (from
    1) and when it ``started`` (the scheduler's clock). Hand it back to
    :meth:`RecoveryScheduler.succeeded` or :meth:`RecoveryScheduler.failed`."""

    round: int
    number: int
    started: float


class RecoveryScheduler:
    """The retry state of recovery rounds (see the module docstring).

    Delay after the n-th failure of a round: ``min(max_delay, base_delay * 2 ** (n - 1))``,
    jittered to between half and all of it (like reconnects), and never shorter than a
    ``retry_after`` the failure carried (a 429's ``Retry-After``). Rounds retry until they
    succeed or a newer round replaces them: the views stay "reconciling" meanwhile.
    """

    def __init__(
        self,
        *,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if not 0 < base_delay <= max_delay:
            raise ValueError("need 0 < base_delay <= max_delay")
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._rng = rng
        self.state = "idle"
        self.due_at: float | None = None
        self.round = 0
        self.failures = 0  # attempts failed, all rounds
        self.superseded = 0  # attempts whose round was replaced before they ended
        self._attempts = 0  # attempts started in this round
        self._round_started: float | None = None
        self._running: RecoveryAttempt | None = None
        self._blind: tuple[float | None, float | None] = (None, None)

    def request(
        self, now: float, *, blind_from: float | None = None, blind_until: float | None = None
    ) -> None:
        """A reconnect (or start): begin a new round, due now. An attempt in flight belongs
        to the old round and is superseded. ``blind_from``/``blind_until`` (wall clock) are
        reported in the round's :class:`~kalshi_sync.events.RecoveredEvent`."""
        if self._running is not None:
            self.superseded += 1
            self._running = None
        self.round += 1
        self._attempts = 0
        self._round_started = now
        self._blind = (blind_from, blind_until)
        self.state, self.due_at = "due", now

    def on_tick(self, now: float) -> RecoveryAttempt | None:
        """The attempt to start now, if one is due (the state becomes "running"), else None."""
        if self.state not in ("due", "backoff") or self.due_at is None or now < self.due_at:
            return None
        self._attempts += 1
        self._running = RecoveryAttempt(round=self.round, number=self._attempts, started=now)
        self.state, self.due_at = "running", None
        return self._running

    def next_wakeup(self) -> float | None:
        """When :meth:`on_tick` next has something to do (None: nothing scheduled)."""
        return self.due_at

    def is_current(self, attempt: RecoveryAttempt) -> bool:
        """True while ``attempt`` is the running attempt of the current round: apply its REST
        results only then (a reconnect since has superseded it)."""
        return attempt == self._running

    def succeeded(
        self, attempt: RecoveryAttempt, now: float, *, fills: int, orders: int, positions: int
    ) -> RecoveredEvent | None:
        """The attempt's reads were applied: the round is over (state "idle"). The event to
        deliver, or None when the attempt was superseded (its results must be dropped)."""
        if not self.is_current(attempt):
            return None
        started = self._round_started if self._round_started is not None else attempt.started
        self._running = None
        self.state, self.due_at = "idle", None
        return RecoveredEvent(
            fills=fills,
            orders=orders,
            positions=positions,
            blind_from=self._blind[0],
            blind_until=self._blind[1],
            duration=max(0.0, now - started),
            attempts=attempt.number,
        )

    def failed(
        self,
        attempt: RecoveryAttempt,
        now: float,
        error: BaseException | None,
        *,
        retry_after: float | None = None,
    ) -> RecoveryFailedEvent | None:
        """The attempt failed: schedule the next one (state "backoff") and return the event to
        deliver; None when the attempt was superseded (a newer round is already due)."""
        if not self.is_current(attempt):
            return None
        self.failures += 1
        self._running = None
        delay = min(self.max_delay, self.base_delay * 2 ** min(attempt.number - 1, 60))
        delay = delay / 2 + self._rng() * delay / 2
        if retry_after is not None:
            delay = max(delay, retry_after)
        self.state, self.due_at = "backoff", now + delay
        return RecoveryFailedEvent(error=error, attempt=attempt.number, retry_in=delay)

    def __repr__(self) -> str:
        return (
            f"RecoveryScheduler(state={self.state!r}, round={self.round}, "
            f"attempts={self._attempts}, due_at={self.due_at})"
        )
