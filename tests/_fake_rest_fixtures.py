"""Fixtures of the fake-exchange REST tests (load with
``pytest_plugins = ["_fake_rest_fixtures"]``): the run's RSA key (conftest's ``key_pair``,
so ``private_pem`` signs for the same server), a server with ``rest=True`` verifying it, and
a signed caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _fake_rest_helpers import Api, PrivateKey, load

from kalshi_sync.testing import FakeKalshiServer


@pytest.fixture(scope="session")
def rsa_pair(key_pair: tuple[bytes, Any]) -> tuple[PrivateKey, Any]:
    return load(key_pair[0]), key_pair[1]


@pytest.fixture
def rest_server(rsa_pair: tuple[PrivateKey, Any]) -> Iterator[FakeKalshiServer]:
    server = FakeKalshiServer(public_key=rsa_pair[1], rest=True, ping_interval=None)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(rest_server: FakeKalshiServer, rsa_pair: tuple[PrivateKey, Any]) -> Iterator[Api]:
    client = Api(rest_server, rsa_pair[0])
    yield client
    client.close()
