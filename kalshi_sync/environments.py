"""Kalshi environments (prod, demo) and the validation of custom WebSocket and REST URLs.

The defaults are the dedicated external hosts Kalshi recommends (PROTOCOL.md §1.1/§1.2);
the older shared hosts (``api.elections.kalshi.com``, ``demo-api.kalshi.co``) still work
and can be passed as a custom URL. Request signing is the same on every host: only the
path is signed (§1.3). Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from types import MappingProxyType
from urllib.parse import SplitResult, urlsplit

import attrs

__all__ = [
    "DEMO",
    "ENVIRONMENTS",
    "PROD",
    "WS_PATH",
    "Environment",
    "get_environment",
    "is_loopback_host",
    "resolve_rest_url",
    "resolve_ws_url",
    "ws_signing_path",
]

WS_PATH = "/trade-api/ws/v2"
"""The WebSocket path, which is also the path signed for the handshake (PROTOCOL.md §1.3)."""


@attrs.frozen
class Environment:
    """A Kalshi environment: its name and its WebSocket and REST base URLs."""

    name: str
    ws_url: str
    rest_url: str


PROD = Environment(
    name="prod",
    ws_url="wss://external-api-ws.kalshi.com" + WS_PATH,
    rest_url="https://external-api.kalshi.com/trade-api/v2",
)
DEMO = Environment(
    name="demo",
    ws_url="wss://external-api-ws.demo.kalshi.co" + WS_PATH,
    rest_url="https://external-api.demo.kalshi.co/trade-api/v2",
)

ENVIRONMENTS: Mapping[str, Environment] = MappingProxyType(
    {"prod": PROD, "production": PROD, "demo": DEMO}
)
"""Accepted environment names (matched case-insensitively) and what they mean."""


def get_environment(environment: str | Environment = "prod") -> Environment:
    """The :class:`Environment` for ``"prod"``/``"production"``/``"demo"`` (any case).

    An :class:`Environment` instance is returned unchanged. Anything else raises
    ``ValueError`` naming the accepted values.
    """
    if isinstance(environment, Environment):
        return environment
    if isinstance(environment, str):
        env = ENVIRONMENTS.get(environment.strip().lower())
        if env is not None:
            return env
    raise ValueError(
        f"unknown Kalshi environment {environment!r}: use 'prod' (or 'production') or 'demo', "
        "or pass a custom URL"
    )


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1`` (also IPv4-mapped ``::ffff:127.x``)."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        # A DNS name other than localhost: whatever it resolves to today, it is not
        # guaranteed to stay on this machine, so it counts as remote.
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback


def _validate_url(
    url: str, *, secure: str, plain: str, kind: str, allow_insecure: bool
) -> SplitResult:
    if not isinstance(url, str):
        raise TypeError(f"{kind} URL must be a str, not {type(url).__name__}")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in (secure, plain):
        raise ValueError(f"{kind} URL must start with {secure}:// (or {plain}://), got {url!r}")
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - evaluated for its ValueError on a malformed port
    except ValueError as exc:
        raise ValueError(f"malformed {kind} URL {url!r}: {exc}") from exc
    if not host:
        raise ValueError(f"{kind} URL has no host: {url!r}")
    if scheme == plain and not allow_insecure and not is_loopback_host(host):
        # Plaintext would expose the signed headers and all account traffic on the
        # network; it is only ever reasonable for a local test server.
        raise ValueError(
            f"refusing unencrypted {plain}:// to non-loopback host {host!r}: use {secure}://, "
            f"or pass allow_insecure=True if you really mean it (plaintext {plain}:// is "
            "accepted without it only for localhost, 127.0.0.0/8 and ::1)"
        )
    return parts


def resolve_ws_url(
    environment: str | Environment = "prod",
    url: str | None = None,
    *,
    allow_insecure: bool = False,
) -> str:
    """The WebSocket URL to connect to: ``url`` if given (validated), else the environment's.

    ``environment`` is validated even when ``url`` overrides it, so a typo is never
    silently ignored. A custom ``url`` must be ``wss://`` or ``ws://``; plaintext ``ws://``
    is refused for any host but loopback unless ``allow_insecure=True`` (ValueError).
    """
    env = get_environment(environment)
    if url is None:
        return env.ws_url
    _validate_url(url, secure="wss", plain="ws", kind="WebSocket", allow_insecure=allow_insecure)
    return url.strip()


def resolve_rest_url(
    environment: str | Environment = "prod",
    base_url: str | None = None,
    *,
    allow_insecure: bool = False,
) -> str:
    """The REST base URL (no trailing slash): ``base_url`` if given (validated), else the
    environment's.

    Same rules as :func:`resolve_ws_url` with ``https://``/``http://``. A query string or
    fragment in ``base_url`` is refused: paths are appended to it.
    """
    env = get_environment(environment)
    if base_url is None:
        return env.rest_url
    parts = _validate_url(
        base_url, secure="https", plain="http", kind="REST", allow_insecure=allow_insecure
    )
    if parts.query or parts.fragment:
        raise ValueError(f"REST base URL must not have a query or fragment: {base_url!r}")
    return base_url.strip().rstrip("/")


def ws_signing_path(url: str | None = None) -> str:
    """The path signed for the WebSocket handshake: the URL's path without its query.

    ``None`` gives the standard ``/trade-api/ws/v2``. A URL without a path gives ``/``,
    because that is the resource the handshake then requests.
    """
    if url is None:
        return WS_PATH
    return urlsplit(url.strip()).path or "/"
