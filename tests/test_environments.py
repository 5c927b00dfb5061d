"""Environments and URL validation (docs/protocol.md, 'Endpoints'): defaults, overrides,
plaintext refusal; the User-Agent and the validation of extra handshake headers."""

from __future__ import annotations

import attrs
import pytest

import kalshi_sync
from kalshi_sync.environments import (
    DEMO,
    PROD,
    WS_PATH,
    Environment,
    check_extra_headers,
    get_environment,
    is_loopback_host,
    resolve_rest_url,
    resolve_ws_url,
    user_agent,
    ws_signing_path,
)


def test_prod_uses_recommended_dedicated_hosts() -> None:
    """PROD points at the dedicated external hosts Kalshi recommends."""
    assert PROD.name == "prod"
    assert PROD.ws_url == "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
    assert PROD.rest_url == "https://external-api.kalshi.com/trade-api/v2"


def test_demo_uses_recommended_dedicated_hosts() -> None:
    """DEMO points at the dedicated demo hosts Kalshi recommends."""
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


# -- User-Agent and extra handshake headers ---------------------------------------------------


def test_user_agent_names_the_package_and_version() -> None:
    """The User-Agent is kalshi-sync/<package version>."""
    assert user_agent() == f"kalshi-sync/{kalshi_sync.__version__}"


def test_extra_headers_are_copied_in_order() -> None:
    """Valid extra headers come back as an immutable copy, in order; None gives nothing."""
    given = {"X-Bot": "alpha 1", "User-Agent": "mybot/2 kalshi-sync", "Origin": "https://me"}
    checked = check_extra_headers(given)
    assert checked == tuple(given.items())
    given["X-Bot"] = "changed"
    assert checked[0] == ("X-Bot", "alpha 1")
    assert check_extra_headers(None) == ()
    assert check_extra_headers({}) == ()


@pytest.mark.parametrize(
    "name",
    [
        "KALSHI-ACCESS-KEY",
        "kalshi-access-timestamp",
        "Kalshi-Access-Signature",
        "KALSHI-access-KEY",
    ],
)
def test_signed_headers_cannot_be_overridden(name: str) -> None:
    """The three signed KALSHI-ACCESS-* headers are refused in any letter case."""
    with pytest.raises(ValueError, match="signs every request"):
        check_extra_headers({name: "forged"})


@pytest.mark.parametrize(
    "name", ["Host", "upgrade", "Connection", "Sec-WebSocket-Key", "sec-websocket-extensions"]
)
def test_handshake_owned_headers_are_refused(name: str) -> None:
    """Headers the WebSocket handshake writes itself are refused (a duplicate breaks it)."""
    with pytest.raises(ValueError, match="handshake writes it itself"):
        check_extra_headers({name: "x"})


@pytest.mark.parametrize(
    "value", ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\x00b", "a\x7fb"], ids=repr
)
def test_values_with_cr_lf_or_controls_are_refused_without_echo(value: str) -> None:
    """A value with CR, LF, NUL or DEL is refused (header injection); the message names the
    header but never quotes the value (it may be a secret)."""
    with pytest.raises(ValueError, match=r"X-Token.*CR, LF") as info:
        check_extra_headers({"X-Token": value})
    assert value not in str(info.value)
    assert "Injected" not in str(info.value)


@pytest.mark.parametrize("name", ["X Bad", "X:Bad", "X-Bad\r\n", "", "X-\u00e9"], ids=repr)
def test_bad_header_names_are_refused(name: str) -> None:
    """A header name that is not an HTTP token (space, colon, CR/LF, empty, non-ASCII)."""
    with pytest.raises(ValueError, match="not a valid header name"):
        check_extra_headers({name: "v"})


def test_tab_in_a_value_is_allowed() -> None:
    """Horizontal tab is legal inside a header value."""
    assert check_extra_headers({"X-A": "a\tb"}) == (("X-A", "a\tb"),)


def test_same_header_twice_in_different_case_is_refused() -> None:
    """Names are case-insensitive: X-A and x-a together are ambiguous."""
    with pytest.raises(ValueError, match="twice"):
        check_extra_headers({"X-A": "1", "x-a": "2"})


def test_non_str_headers_are_type_errors() -> None:
    """Names and values must be str; the mapping must be a mapping."""
    with pytest.raises(TypeError):
        check_extra_headers({"X-A": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        check_extra_headers([("X-A", "1")])  # type: ignore[arg-type]
