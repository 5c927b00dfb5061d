"""What a refused WebSocket upgrade tells the user: the AuthenticationError for a 401 or 403.

Sans-I/O: a status and a response body in, an error with a readable message out. The
message shows the start of the body (a CDN's "Request blocked" line, or Kalshi's JSON
error) on one printable line, and never anything of the key.
"""

from __future__ import annotations

from .errors import AuthenticationError

__all__ = ["refusal_error"]

# How much of a refusal's body an error message shows: enough for a CDN's "Request
# blocked" line or Kalshi's JSON error, not a whole HTML page.
_BODY_SHOWN = 200


def _printable_body(body: object) -> str:
    """The response body as one printable line, truncated (for an error message)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = " ".join(str(body or "").split())  # newlines and runs of spaces -> one space
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    if len(text) > _BODY_SHOWN:
        text = text[:_BODY_SHOWN] + "..."
    return repr(text) if text else "(empty body)"


def _refusal_message(status: int, body: object) -> str:
    """The AuthenticationError text for a 401 or 403 handshake answer."""
    shown = _printable_body(body)
    if status == 401:
        return (
            f"Kalshi refused the handshake with HTTP 401 (authentication failed): {shown}. "
            "Check the API key id, the private key, the environment (demo and prod keys "
            "differ) and that the clock is in sync (signatures carry a timestamp)."
        )
    # A 403 is not necessarily about the key: CloudFront in front of prod answers 403
    # for blocked IPs and regions, and has been reported to for some handshakes
    # (docs/protocol.md, 'Handshake headers').
    return (
        f"The WebSocket handshake was refused with HTTP 403 Forbidden: {shown}. This may "
        "not be your key: a 403 also comes from a block in front of the exchange (your IP "
        "address or region refused by its CDN or firewall) or from a key that lacks the "
        "permission needed. If REST calls with the same key work, suspect a block; "
        "otherwise check the API key id, the private key and the environment."
    )


def refusal_error(status: int, body: object) -> AuthenticationError:
    """The fatal error for a 401 or 403 answer to the upgrade (never retried)."""
    return AuthenticationError(_refusal_message(status, body), status_code=status)
