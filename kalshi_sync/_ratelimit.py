"""Client-side token buckets that keep a RestClient inside Kalshi's REST rate limits.

Kalshi meters every key with two independent buckets, *read* (GETs) and *write* (order
placement, amends, cancels). A request costs tokens (10 by default, 2 for a cancel, per item for
a batch); a bucket refills continuously at its rate up to its capacity, and a request that does
not fit is refused with HTTP 429 (docs/trading.md, "Rate limits"). Waiting on our side before
sending costs nothing and keeps the 429s (and their retries) away.

:class:`TokenBucket` is plain arithmetic on a clock you pass in: no sleeping, no threads, so it
is tested with plain calls. :class:`RateLimiter` owns one bucket per kind and does the waiting
through an injectable ``sleep``; it is thread-safe, and it never sleeps while holding its lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

import attrs

__all__ = ["Bucket", "RateLimiter", "RateLimits", "TokenBucket"]

Bucket = Literal["read", "write"]


@attrs.frozen(kw_only=True)
class RateLimits:
    """Token-bucket budgets for one API key (tokens per second and bucket capacity).

    The defaults are Kalshi's Basic tier, which every account starts on: read 200 tokens/s
    holding two seconds (400), write 100 tokens/s holding one second (100). Read your own from
    ``GET /account/limits`` (``refill_rate``, ``bucket_capacity``) if you are on a higher tier.
    """

    read_rate: float = 200.0
    read_capacity: float = 400.0
    write_rate: float = 100.0
    write_capacity: float = 100.0

    def __attrs_post_init__(self) -> None:
        for name in ("read_rate", "read_capacity", "write_rate", "write_capacity"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"RateLimits.{name} must be a positive number, got {value!r}")


class TokenBucket:
    """A token bucket of ``capacity`` tokens refilling at ``rate`` tokens per second.

    Starts full. Times are whatever monotonic clock the caller uses; only differences matter.
    """

    def __init__(self, rate: float, capacity: float, *, now: float) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._tokens = float(capacity)
        self._stamp = now

    def tokens(self, now: float) -> float:
        """Tokens available at ``now`` (refill applied, capped at the capacity)."""
        self._refill(now)
        return self._tokens

    def take(self, cost: float, now: float) -> float:
        """Reserve ``cost`` tokens; return how many seconds to wait before sending (0 = now).

        The tokens are taken at once, even when the answer is a wait: the balance goes
        negative and later callers queue behind this one, so concurrent callers are served in
        order instead of racing for each refill. A cost above the capacity is clamped to it
        (such a request can never fit; Kalshi's budget would refuse it too, and it is
        better to send it once the bucket is full than to wait forever).
        """
        if cost < 0:
            raise ValueError("cost must be >= 0")
        cost = min(float(cost), self.capacity)
        self._refill(now)
        self._tokens -= cost
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.rate

    def _refill(self, now: float) -> None:
        elapsed = now - self._stamp
        if elapsed > 0:  # a clock that steps back must not drain the bucket
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
            self._stamp = now


class RateLimiter:
    """One :class:`TokenBucket` per kind (``"read"``, ``"write"``), waiting through ``sleep``."""

    def __init__(
        self,
        limits: RateLimits,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = limits
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        now = monotonic()
        self._buckets: dict[Bucket, TokenBucket] = {
            "read": TokenBucket(limits.read_rate, limits.read_capacity, now=now),
            "write": TokenBucket(limits.write_rate, limits.write_capacity, now=now),
        }

    def acquire(self, bucket: Bucket, cost: float) -> float:
        """Take ``cost`` tokens from ``bucket``, sleeping until they are there; the wait."""
        with self._lock:
            wait = self._buckets[bucket].take(cost, self._monotonic())
        if wait > 0:
            self._sleep(wait)  # outside the lock: other threads may reserve meanwhile
        return wait

    def tokens(self, bucket: Bucket) -> float:
        """Tokens in ``bucket`` now (negative while callers are queued for a refill)."""
        with self._lock:
            return self._buckets[bucket].tokens(self._monotonic())
