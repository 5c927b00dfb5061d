"""Environments and URL validation (PROTOCOL.md §1): defaults, overrides, plaintext refusal."""

from __future__ import annotations

import attrs
import pytest

from kalshi_sync.environments import (
    DEMO,
    PROD,
    WS_PATH,
    Environment,
    get_environment,
    is_loopback_host,
    resolve_rest_url,
    resolve_ws_url,
    ws_signing_path,
)


def test_prod_uses_recommended_dedicated_hosts() -> None:
    """PROD points at the dedicated external hosts of PROTOCOL §1.1/§1.2."""
    assert PROD.name == "prod"
    assert PROD.ws_url == "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
    assert PROD.rest_url == "https://external-api.kalshi.com/trade-api/v2"


def test_demo_uses_recommended_dedicated_hosts() -> None:
    """DEMO points at the dedicated demo hosts of PROTOCOL §1.1/§1.2."""
    assert DEMO.name == "demo"
    assert DEMO.ws_url == "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2"
    assert DEMO.rest_url == "https://external-api.demo.kalshi.co/trade-api/v2"


def test_environment_is_frozen() -> None:
    """Environment constants cannot be modified."""
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        PROD.ws_url = "wss://evil.example/"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("prod", PROD),
        ("PROD", PROD),
        ("production", PROD),
        (" Production ", PROD),
        ("demo", DEMO),
        ("Demo", DEMO),
    ],
)
def test_environment_names_are_case_insensitive(name: str, expected: Environment) -> None:
    """prod/production/demo resolve in any case, surrounding spaces ignored."""
    assert get_environment(name) is expected
    assert resolve_ws_url(name) == expected.ws_url
    assert resolve_rest_url(name) == expected.rest_url


def test_environment_instance_passes_through() -> None:
    """An Environment object is accepted wherever a name is."""
    custom = Environment("local", "ws://127.0.0.1:1/x", "http://127.0.0.1:2/y")
    assert get_environment(custom) is custom
    assert resolve_ws_url(custom) == "ws://127.0.0.1:1/x"


@pytest.mark.parametrize("name", ["staging", "", "dev", "prd"])
def test_unknown_environment_is_a_clear_value_error(name: str) -> None:
    """An unknown environment name raises ValueError listing the valid names."""
    with pytest.raises(ValueError, match=r"'prod'.*'demo'"):
        resolve_ws_url(name)
    with pytest.raises(ValueError, match=r"'prod'.*'demo'"):
        resolve_rest_url(name)


def test_unknown_environment_is_refused_even_with_custom_url() -> None:
    """A typo in environment is not silently ignored when a url overrides it."""
    with pytest.raises(ValueError, match="unknown Kalshi environment"):
        resolve_ws_url("staging", "wss://example.com/trade-api/ws/v2")


def test_defaults_are_prod() -> None:
    """With no arguments, the production URLs are returned."""
    assert resolve_ws_url() == PROD.ws_url
    assert resolve_rest_url() == PROD.rest_url


def test_custom_ws_url_overrides_environment() -> None:
    """A custom wss:// url wins over the environment and is returned as given."""
    url = "wss://api.elections.kalshi.com/trade-api/ws/v2"
    assert resolve_ws_url("demo", url) == url


def test_custom_rest_url_loses_trailing_slash() -> None:
    """A custom REST base URL is returned without a trailing slash (paths are appended)."""
    assert resolve_rest_url("prod", "https://demo-api.kalshi.co/trade-api/v2/") == (
        "https://demo-api.kalshi.co/trade-api/v2"
    )


@pytest.mark.parametrize(
    "url",
    ["https://x.example/ws", "http://127.0.0.1/ws", "ftp://x.example/", "x.example/ws", ""],
)
def test_ws_url_needs_ws_scheme(url: str) -> None:
    """A WebSocket URL must be ws:// or wss://."""
    with pytest.raises(ValueError, match="wss://"):
        resolve_ws_url("prod", url)


@pytest.mark.parametrize("url", ["wss://x.example/ws", "ws://127.0.0.1/x", "file:///etc/passwd"])
def test_rest_url_needs_http_scheme(url: str) -> None:
    """A REST base URL must be http:// or https://."""
    with pytest.raises(ValueError, match="https://"):
        resolve_rest_url("prod", url)


@pytest.mark.parametrize("url", ["wss:///trade-api/ws/v2", "wss://:443/x"])
def test_url_without_host_is_refused(url: str) -> None:
    """A URL with no host is a ValueError."""
    with pytest.raises(ValueError, match="no host"):
        resolve_ws_url("prod", url)


def test_malformed_port_is_refused() -> None:
    """A non-numeric port is a ValueError, not a crash later in the transport."""
    with pytest.raises(ValueError, match="malformed"):
        resolve_ws_url("prod", "wss://example.com:http/x")


def test_rest_url_with_query_is_refused() -> None:
    """A REST base URL with a query string is refused (paths are appended to it)."""
    with pytest.raises(ValueError, match="query"):
        resolve_rest_url("prod", "https://example.com/trade-api/v2?x=1")


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "[::1]", "[::ffff:127.0.0.1]"],
)
def test_plaintext_allowed_to_loopback(host: str) -> None:
    """ws:// and http:// are accepted for localhost, 127.0.0.0/8 and ::1."""
    assert resolve_ws_url("prod", f"ws://{host}:8765/trade-api/ws/v2").startswith("ws://")
    assert resolve_rest_url("prod", f"http://{host}:8080/trade-api/v2").startswith("http://")


@pytest.mark.parametrize(
    "host", ["example.com", "10.0.0.5", "0.0.0.0", "[::]", "localhost.example.com", "128.0.0.1"]
)
def test_plaintext_refused_to_remote_hosts(host: str) -> None:
    """ws:// and http:// to anything but loopback raise ValueError naming allow_insecure."""
    with pytest.raises(ValueError, match="allow_insecure"):
        resolve_ws_url("prod", f"ws://{host}/trade-api/ws/v2")
    with pytest.raises(ValueError, match="allow_insecure"):
        resolve_rest_url("prod", f"http://{host}/trade-api/v2")


def test_allow_insecure_permits_remote_plaintext() -> None:
    """allow_insecure=True lets plaintext reach a non-loopback host."""
    ws = resolve_ws_url("prod", "ws://10.0.0.5/trade-api/ws/v2", allow_insecure=True)
    assert ws == "ws://10.0.0.5/trade-api/ws/v2"
    rest = resolve_rest_url("prod", "http://10.0.0.5/trade-api/v2", allow_insecure=True)
    assert rest == "http://10.0.0.5/trade-api/v2"


def test_scheme_is_case_insensitive() -> None:
    """WSS:// is as good as wss:// (URL schemes are case-insensitive)."""
    assert resolve_ws_url("prod", "WSS://example.com/x") == "WSS://example.com/x"


def test_is_loopback_host() -> None:
    """is_loopback_host accepts only loopback names and addresses."""
    assert is_loopback_host("localhost.")
    assert is_loopback_host("::1")
    assert not is_loopback_host("127.0.0.1.nip.io")
    assert not is_loopback_host("192.168.1.1")


@pytest.mark.parametrize(
    ("url", "path"),
    [
        (None, WS_PATH),
        (PROD.ws_url, "/trade-api/ws/v2"),
        ("ws://127.0.0.1:8765/trade-api/ws/v2?x=1&y=2", "/trade-api/ws/v2"),
        ("ws://127.0.0.1:8765/custom/path", "/custom/path"),
        ("ws://127.0.0.1:8765", "/"),
    ],
)
def test_ws_signing_path(url: str | None, path: str) -> None:
    """The signed handshake path is the URL's path without query; '/' when the URL has none."""
    assert ws_signing_path(url) == path
