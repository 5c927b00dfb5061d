"""Fixtures of the REST trading tests (load with ``pytest_plugins = ["_rest_fixtures"]``):
mocked HTTP, the fake clock, an Ed25519 key and signed clients on that clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses
from _rest_helpers import KEY_ID, FakeTime
from cryptography.hazmat.primitives.asymmetric import ed25519

from kalshi_sync import RestClient


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    """Every HTTP call is mocked; an unregistered URL fails the test (no network)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture(scope="session")
def trade_key() -> ed25519.Ed25519PrivateKey:
    """An Ed25519 key (fast to make; the web app's default key type)."""
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture
def make_client(
    trade_key: ed25519.Ed25519PrivateKey, fake_time: FakeTime
) -> Iterator[Callable[..., RestClient]]:
    """Build signed RestClients on the fake clock; closed at the end of the test."""
    made: list[RestClient] = []

    def make(**kwargs: Any) -> RestClient:
        options: dict[str, Any] = {
            "clock": fake_time.time,
            "monotonic": fake_time.monotonic,
            "sleep": fake_time.sleep,
        }
        options.update(kwargs)
        rest = RestClient(KEY_ID, trade_key, **options)
        made.append(rest)
        return rest

    yield make
    for rest in made:
        rest.close()


@pytest.fixture
def rest(make_client: Callable[..., RestClient]) -> RestClient:
    """A signed client with default limits and retries, on the fake clock."""
    return make_client()
