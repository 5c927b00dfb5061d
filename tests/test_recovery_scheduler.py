"""Tests for kalshi_sync._recovery_scheduler and the recovery events, as plain calls."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalshi_sync._recovery_scheduler import RecoveryAttempt, RecoveryScheduler
from kalshi_sync.dispatch import Delivery, Router
from kalshi_sync.errors import ExchangeUnavailableError
from kalshi_sync.events import Event, RecoveredEvent, RecoveryFailedEvent


def scheduler(rng: float = 1.0, **kwargs: float) -> RecoveryScheduler:
    return RecoveryScheduler(rng=lambda: rng, **kwargs)


def test_idle_until_requested_then_due_at_once() -> None:
    """Nothing runs before a request; after one, the next tick starts attempt 1."""
    s = scheduler()
    assert s.state == "idle" and s.on_tick(100.0) is None and s.next_wakeup() is None
    s.request(100.0, blind_from=1_000.0, blind_until=1_005.0)
    assert s.state == "due" and s.next_wakeup() == 100.0
    attempt = s.on_tick(100.0)
    assert attempt == RecoveryAttempt(round=1, number=1, started=100.0)
    assert s.state == "running" and s.on_tick(101.0) is None  # one attempt at a time


def test_success_gives_the_recovered_event() -> None:
    """A success ends the round with counts, the blind window, duration and attempts."""
    s = scheduler()
    s.request(100.0, blind_from=1_000.0, blind_until=1_005.0)
    attempt = s.on_tick(100.5)
    assert attempt is not None
    event = s.succeeded(attempt, 102.0, fills=3, orders=2, positions=1)
    assert event == RecoveredEvent(
        fills=3,
        orders=2,
        positions=1,
        blind_from=1_000.0,
        blind_until=1_005.0,
        duration=2.0,
        attempts=1,
    )
    assert event.type == "recovered" and s.state == "idle"
    assert s.succeeded(attempt, 103.0, fills=0, orders=0, positions=0) is None  # once


def test_failures_back_off_exponentially_capped_and_jittered() -> None:
    """Delays double per failure up to max_delay, jittered to half..all of it."""
    s = scheduler(rng=1.0, base_delay=0.5, max_delay=4.0)
    s.request(0.0)
    now, delays = 0.0, []
    error = ExchangeUnavailableError("503", status_code=503)
    for _ in range(6):
        attempt = s.on_tick(now)
        assert attempt is not None
        event = s.failed(attempt, now, error)
        assert isinstance(event, RecoveryFailedEvent) and event.type == "recovery_failed"
        assert event.error is error and event.attempt == attempt.number
        assert s.state == "backoff" and s.on_tick(now + event.retry_in - 0.001) is None
        delays.append(event.retry_in)
        now += event.retry_in
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    low = scheduler(rng=0.0, base_delay=0.5, max_delay=4.0)
    low.request(0.0)
    attempt = low.on_tick(0.0)
    assert attempt is not None
    assert low.failed(attempt, 0.0, None).retry_in == 0.25  # type: ignore[union-attr]
    assert s.failures == 6


@given(st.floats(0, 1), st.integers(1, 80))
def test_delay_is_always_within_bounds(u: float, failures: int) -> None:
    """Property: every delay is within [half, all] of the capped exponential, never above cap."""
    s = RecoveryScheduler(rng=lambda: u, base_delay=0.5, max_delay=30.0)
    s.request(0.0)
    now = 0.0
    for n in range(1, failures + 1):
        attempt = s.on_tick(now)
        assert attempt is not None and attempt.number == n
        event = s.failed(attempt, now, None)
        assert event is not None
        cap = min(30.0, 0.5 * 2 ** (n - 1))
        assert cap / 2 <= event.retry_in <= cap
        now += event.retry_in


def test_retry_after_is_honoured() -> None:
    """A failure carrying Retry-After never retries sooner."""
    s = scheduler(rng=0.0)
    s.request(0.0)
    attempt = s.on_tick(0.0)
    assert attempt is not None
    event = s.failed(attempt, 0.0, None, retry_after=7.0)
    assert event is not None and event.retry_in == 7.0 and s.next_wakeup() == 7.0


def test_reconnect_during_recovery_supersedes_the_attempt() -> None:
    """A new request starts a new round at once; the old attempt's outcome is refused."""
    s = scheduler()
    s.request(0.0)
    old = s.on_tick(0.0)
    assert old is not None
    assert s.is_current(old)
    s.request(5.0, blind_from=2.0, blind_until=5.0)
    assert s.state == "due" and s.superseded == 1 and not s.is_current(old)
    assert s.succeeded(old, 6.0, fills=1, orders=0, positions=0) is None
    assert s.failed(old, 6.0, None) is None and s.state == "due"
    new = s.on_tick(6.0)
    assert new == RecoveryAttempt(round=2, number=1, started=6.0)
    event = s.succeeded(new, 7.0, fills=0, orders=0, positions=0)
    assert event is not None and event.duration == 2.0 and event.blind_from == 2.0


def test_request_during_backoff_is_due_now_and_resets_attempts() -> None:
    """A reconnect while backing off does not wait for the backoff; attempts restart at 1."""
    s = scheduler()
    s.request(0.0)
    first = s.on_tick(0.0)
    assert first is not None
    s.failed(first, 0.0, None)
    second = s.on_tick(10.0)
    assert second is not None and second.number == 2
    s.failed(second, 10.0, None)
    s.request(10.5)
    attempt = s.on_tick(10.5)
    assert attempt is not None and (attempt.round, attempt.number) == (2, 1)


def test_invalid_delays_are_refused() -> None:
    """base_delay must be positive and not above max_delay."""
    for kwargs in ({"base_delay": 0.0}, {"base_delay": 5.0, "max_delay": 1.0}):
        with pytest.raises(ValueError):
            RecoveryScheduler(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "event", [RecoveredEvent(fills=1), RecoveryFailedEvent(attempt=2)], ids=lambda e: e.type
)
def test_recovery_events_route_by_type_like_other_events(event: Event) -> None:
    """client.on("recovered") / on("recovery_failed") and "*" receive the events."""
    router = Router()
    got: list[tuple[str, object]] = []
    done = threading.Event()

    def anything(e: object) -> None:
        got.append(("any", e))
        done.set()

    router.on(event.type, lambda e: got.append(("typed", e)))
    router.on("*", anything)
    delivery = Delivery(router, mode="inline")
    delivery.put_event(event)
    assert done.is_set()
    assert got == [("typed", event), ("any", event)]
    assert (event.sid, event.seq, event.raw) == (None, None, None)
