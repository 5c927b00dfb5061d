"""Fixtures of the fake-exchange REST tests (load with
``pytest_plugins = ["_fake_rest_fixtures"]``): one RSA key, a server with ``rest=True``
verifying it, and a signed caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _fake_rest_helpers import Api, PrivateKey, load

from kalshi_sync.testing import FakeKalshiServer, generate_test_key


@pytest.fixture(scope="session")
def rsa_pair() -> tuple[PrivateKey, Any]:
    pem, public = generate_test_key()
    return load(pem), public


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
