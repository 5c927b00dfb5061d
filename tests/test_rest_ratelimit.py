"""Token buckets: plain arithmetic on a fake clock, the limiter's waiting, and RestClient's
per-endpoint costs (reads and writes separately; cancels cheaper; batches per item)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
import responses
from _rest_helpers import BASE, JSON, ORDERS_URL, TICKER, FakeTime, OrderBookOfRecord

from kalshi_sync import RateLimiter, RateLimits, RestClient
from kalshi_sync._ratelimit import TokenBucket

pytest_plugins = ["_rest_fixtures"]  # fixtures: mock, rest, make_client, fake_time

BUY: dict[str, Any] = {"action": "buy", "side": "yes", "count": 1, "price": "0.5"}


# -- TokenBucket ----------------------------------------------------------------------------


def test_bucket_starts_full_and_spends_without_waiting() -> None:
    """A fresh bucket serves its capacity at once."""
    bucket = TokenBucket(100, 100, now=0.0)
    assert [bucket.take(10, 0.0) for _ in range(10)] == [0.0] * 10
    assert bucket.tokens(0.0) == 0


def test_bucket_wait_is_the_deficit_over_the_rate() -> None:
    """Past the capacity, the wait is what is missing divided by the refill rate, and callers
    queue: each later one waits longer."""
    bucket = TokenBucket(100, 100, now=0.0)
    bucket.take(100, 0.0)
    assert bucket.take(10, 0.0) == pytest.approx(0.1)
    assert bucket.take(10, 0.0) == pytest.approx(0.2)
    assert bucket.take(10, 0.3) == pytest.approx(0.0)  # refilled exactly what was owed


def test_bucket_refill_is_capped() -> None:
    """Idle time banks at most the capacity."""
    bucket = TokenBucket(200, 400, now=0.0)
    bucket.take(400, 0.0)
    assert bucket.tokens(1.0) == 200
    assert bucket.tokens(100.0) == 400


def test_bucket_clock_stepping_back_does_not_drain() -> None:
    """A clock that goes backwards neither adds nor removes tokens."""
    bucket = TokenBucket(10, 10, now=5.0)
    bucket.take(5, 5.0)
    assert bucket.tokens(1.0) == 5
    assert bucket.tokens(5.5) == 10


def test_bucket_cost_above_capacity_is_clamped() -> None:
    """A request bigger than the bucket waits for a full bucket instead of forever."""
    bucket = TokenBucket(100, 100, now=0.0)
    bucket.take(100, 0.0)
    assert bucket.take(1000, 0.0) == pytest.approx(1.0)


def test_bucket_rejects_bad_arguments() -> None:
    """Non-positive rates and negative costs are ValueErrors."""
    with pytest.raises(ValueError):
        TokenBucket(0, 10, now=0.0)
    with pytest.raises(ValueError):
        TokenBucket(10, 10, now=0.0).take(-1, 0.0)


# -- RateLimits / RateLimiter ---------------------------------------------------------------


def test_default_limits_are_kalshis_basic_tier() -> None:
    """Read 200 tokens/s holding 400; write 100 tokens/s holding 100."""
    limits = RateLimits()
    assert (limits.read_rate, limits.read_capacity) == (200, 400)
    assert (limits.write_rate, limits.write_capacity) == (100, 100)


@pytest.mark.parametrize("field", ["read_rate", "read_capacity", "write_rate", "write_capacity"])
@pytest.mark.parametrize("value", [0, -1, True, "100"])
def test_limits_validation(field: str, value: Any) -> None:
    """Every budget must be a positive number."""
    with pytest.raises(ValueError, match=field):
        RateLimits(**{field: value})


def test_limiter_sleeps_on_the_fake_clock(fake_time: FakeTime) -> None:
    """The limiter waits through the injected sleep; read and write buckets are separate."""
    limiter = RateLimiter(
        RateLimits(write_rate=100, write_capacity=100),
        monotonic=fake_time.monotonic,
        sleep=fake_time.sleep,
    )
    for _ in range(10):
        assert limiter.acquire("write", 10) == 0
    assert limiter.acquire("read", 10) == 0  # the read bucket is untouched by writes
    assert limiter.acquire("write", 10) == pytest.approx(0.1)
    assert fake_time.sleeps == [pytest.approx(0.1)]


def test_limiter_does_not_sleep_under_its_lock(fake_time: FakeTime) -> None:
    """While one thread sleeps for tokens, another can still use the other bucket."""
    entered, release = threading.Event(), threading.Event()

    def slow_sleep(seconds: float) -> None:
        entered.set()
        assert release.wait(5)

    limiter = RateLimiter(
        RateLimits(write_rate=1, write_capacity=1), monotonic=fake_time.monotonic, sleep=slow_sleep
    )
    limiter.acquire("write", 1)
    waiter = threading.Thread(target=limiter.acquire, args=("write", 1))
    waiter.start()
    assert entered.wait(5)
    assert limiter.acquire("read", 1) == 0  # did not block on the sleeping writer
    release.set()
    waiter.join(5)
    assert not waiter.is_alive()


# -- RestClient costs -----------------------------------------------------------------------


def test_creates_cost_ten_write_tokens(
    mock: responses.RequestsMock, rest: RestClient, fake_time: FakeTime
) -> None:
    """Ten creates fit Basic's 100-token write bucket; the eleventh waits 0.1 s."""
    OrderBookOfRecord(mock)
    for _ in range(10):
        rest.create_order(TICKER, **BUY)
    assert fake_time.sleeps == []
    rest.create_order(TICKER, **BUY)
    assert fake_time.sleeps == [pytest.approx(0.1)]


def test_cancels_cost_two_write_tokens(
    mock: responses.RequestsMock, rest: RestClient, fake_time: FakeTime
) -> None:
    """Fifty V2 cancels fit the write bucket (2 tokens each); the next one waits."""
    answer = {"order_id": "o1", "reduced_by": "1.00", "ts_ms": 1}
    mock.add(responses.DELETE, f"{ORDERS_URL}/o1", json=answer)
    for _ in range(50):
        rest.cancel_order("o1")
    assert fake_time.sleeps == []
    rest.cancel_order("o1")
    assert fake_time.sleeps == [pytest.approx(0.02)]


def test_batch_costs_per_item(
    mock: responses.RequestsMock, rest: RestClient, fake_time: FakeTime
) -> None:
    """A batch of 5 creates costs 50 write tokens, a batch of 25 cancels 50 more."""

    def created(request: Any) -> tuple[int, dict[str, str], str]:
        items = json.loads(request.body)["orders"]
        out = [
            {"order_id": f"o{i}", "client_order_id": it["client_order_id"], "ts_ms": 1}
            for i, it in enumerate(items)
        ]
        return 201, JSON, json.dumps({"orders": out})

    mock.add_callback(responses.POST, f"{ORDERS_URL}/batched", callback=created)
    mock.add(responses.DELETE, f"{ORDERS_URL}/batched", json={"orders": []})
    rest.batch_create_orders([{"ticker": TICKER, **BUY}] * 5)
    limiter = rest.rate_limiter
    assert limiter is not None and limiter.tokens("write") == pytest.approx(50)
    rest.batch_cancel_orders([f"o{i}" for i in range(25)])
    assert limiter.tokens("write") == pytest.approx(0)
    assert fake_time.sleeps == []


def test_reads_use_the_read_bucket(
    mock: responses.RequestsMock, rest: RestClient, fake_time: FakeTime
) -> None:
    """Reads cost 10 read tokens (a single-order read 2) and leave the write bucket alone."""
    mock.add(responses.GET, f"{BASE}/exchange/status", json={})
    mock.add(responses.GET, f"{BASE}/portfolio/orders/o1", json={"order": {"order_id": "o1"}})
    limiter = rest.rate_limiter
    assert limiter is not None
    for _ in range(40):
        rest.get_exchange_status()
    assert limiter.tokens("read") == pytest.approx(0) and limiter.tokens("write") == 100
    rest.get_order("o1")
    assert fake_time.sleeps == [pytest.approx(0.01)]


def test_limits_are_configurable_and_can_be_turned_off(
    mock: responses.RequestsMock, make_client: Callable[..., RestClient], fake_time: FakeTime
) -> None:
    """rate_limits sets the buckets; rate_limits=None sends without waiting."""
    mock.add(responses.GET, f"{BASE}/exchange/status", json={})
    tight = make_client(rate_limits=RateLimits(read_rate=10, read_capacity=10))
    tight.get_exchange_status()
    tight.get_exchange_status()
    assert fake_time.sleeps == [pytest.approx(1.0)]
    free = make_client(rate_limits=None)
    assert free.rate_limiter is None
    for _ in range(100):
        free.get_exchange_status()
    assert len(fake_time.sleeps) == 1


def test_clients_can_share_one_limiter(
    mock: responses.RequestsMock, make_client: Callable[..., RestClient], fake_time: FakeTime
) -> None:
    """Two clients given the same RateLimiter draw on one budget."""
    mock.add(responses.GET, f"{BASE}/exchange/status", json={})
    shared = RateLimiter(
        RateLimits(read_rate=10, read_capacity=10),
        monotonic=fake_time.monotonic,
        sleep=fake_time.sleep,
    )
    first, second = make_client(rate_limiter=shared), make_client(rate_limiter=shared)
    first.get_exchange_status()
    second.get_exchange_status()
    assert fake_time.sleeps == [pytest.approx(1.0)]
