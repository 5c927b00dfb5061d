"""Kalshi environments (prod, demo), the validation of custom WebSocket and REST URLs, and
the headers the client identifies itself with.

The defaults are the dedicated external hosts Kalshi recommends (docs/protocol.md,
'Endpoints'); the older shared hosts (``api.elections.kalshi.com``, ``demo-api.kalshi.co``)
still work and can be passed as a custom URL. Request signing is the same on every host:
only the path is signed. Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import re
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
    "check_extra_headers",
    "get_environment",
    "is_loopback_host",
    "resolve_rest_url",
    "resolve_ws_url",
    "user_agent",
    "ws_signing_path",
]

WS_PATH = "/trade-api/ws/v2"
"""The WebSocket path, which is also the path signed for the handshake."""


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


def user_agent() -> str:
    """The ``User-Agent`` sent on the WebSocket handshake and on REST requests:
    ``kalshi-sync/<version>``.

    A non-browser client says who it is and sends no ``Origin`` (docs/protocol.md,
    'Handshake headers').
    """
    # Imported here: this module is imported while the package itself is initialising.
    from . import __version__

    return f"kalshi-sync/{__version__}"


# RFC 9110 §5.6.2 token characters: what a header name may consist of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Control characters other than horizontal tab; CR and LF would inject headers.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Signed per request by the client: an override would break (or forge) the signature.
_SIGNED = frozenset({"kalshi-access-key", "kalshi-access-timestamp", "kalshi-access-signature"})
# Written by the WebSocket handshake itself: a second copy would make it malformed.
_HANDSHAKE_OWNED = frozenset(
    {
        "host",
        "upgrade",
        "connection",
        "content-length",
        "transfer-encoding",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
    }
)


def check_extra_headers(headers: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """Validate headers a user adds to the handshake; returns them as an immutable copy.

    Refused with ``ValueError``: the three ``KALSHI-ACCESS-*`` headers (the client signs
    every request itself), the headers the WebSocket handshake writes (``Host``,
    ``Upgrade``, ``Connection``, ``Sec-WebSocket-*``, ...), names that are not HTTP tokens
    and values containing CR, LF or other control characters (header injection). Names
    are compared case-insensitively. Values are never echoed in an error: they may be
    secrets (a proxy token). ``User-Agent`` may be given and replaces the default.
    Surrounding whitespace is stripped from values.
    """
    if headers is None:
        return ()
    if not isinstance(headers, Mapping):
        raise TypeError(f"extra_headers must be a mapping, not {type(headers).__name__}")
    checked: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("extra_headers names and values must be str")
        lower = name.lower()
        if not _TOKEN.fullmatch(name):
            raise ValueError(
                f"extra_headers: {name[:100]!r} is not a valid header name (no spaces, "
                "colons, CR or LF)"
            )
        if lower in _SIGNED:
            raise ValueError(
                f"extra_headers may not set {name}: the client signs every request with "
                "KALSHI-ACCESS-KEY, KALSHI-ACCESS-TIMESTAMP and KALSHI-ACCESS-SIGNATURE itself"
            )
        if lower in _HANDSHAKE_OWNED or lower.startswith("sec-websocket-"):
            raise ValueError(
                f"extra_headers may not set {name}: the WebSocket handshake writes it itself"
            )
        if _CONTROL.search(value):
            raise ValueError(
                f"extra_headers[{name!r}]: the value contains CR, LF or another control character"
            )
        if lower in seen:
            raise ValueError(f"extra_headers sets {name} twice (names are case-insensitive)")
        seen.add(lower)
        checked.append((name, value.strip()))
    return tuple(checked)
