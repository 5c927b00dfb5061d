"""Shared fixtures: a test key, loopback servers, and a guard against leaked threads."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from kalshi_sync.testing import FakeKalshiServer, generate_test_key


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail any test that leaves a kalshi-sync thread running (the client must join all)."""
    before = {t.ident for t in threading.enumerate()}
    yield
    leaked = [
        t.name
        for t in threading.enumerate()
        if t.ident not in before and t.name.startswith("kalshi-sync") and t.is_alive()
    ]
    # A thread may be in its last instructions after join() returned elsewhere: give the
    # named ones a bounded moment to finish before calling it a leak.
    for t in threading.enumerate():
        if t.name in leaked:
            t.join(2.0)
    still = [n for n in leaked if any(t.name == n and t.is_alive() for t in threading.enumerate())]
    assert not still, f"threads leaked by this test: {still}"
    # Collect now so an unclosed socket is reported against the test that leaked it.
    gc.collect()


@pytest.fixture(scope="session")
def key_pair() -> tuple[bytes, object]:
    """One RSA key for the whole run (generation is slow): PKCS#1 PEM and public key."""
    return generate_test_key()


@pytest.fixture
def private_pem(key_pair: tuple[bytes, object]) -> bytes:
    return key_pair[0]


@pytest.fixture
def server(key_pair: tuple[bytes, object]) -> Iterator[FakeKalshiServer]:
    """A FakeKalshiServer on 127.0.0.1:0 that verifies our signatures."""
    srv = FakeKalshiServer(public_key=key_pair[1], ping_interval=1.0)  # type: ignore[arg-type]
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
