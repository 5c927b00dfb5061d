"""Throwaway credentials for tests: RSA and Ed25519 keys, signature checks, a loopback TLS pair.

Verification follows docs/protocol.md, 'Signing': the ``KALSHI-ACCESS-SIGNATURE`` header is
base64 of a signature over ``timestamp_ms + METHOD + path``, where the path carries no query
string. Like Kalshi, the checker picks the algorithm from the registered public key:

* RSA: RSA-PSS (SHA-256, MGF1-SHA-256). Salt length 32 (``PSS.DIGEST_LENGTH``) is what every
  Kalshi SDK uses; ``PSS.AUTO`` is also accepted on verify because whether Kalshi accepts
  other salt lengths is unverified, and a fake that is stricter than the real server would
  only produce false failures.
* Ed25519: a plain Ed25519 signature over the same message (no pre-hash).
"""

from __future__ import annotations

import base64
import binascii
import ssl
from collections.abc import Callable
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from ..auth import PublicKey

__all__ = ["PublicKey", "check_auth", "generate_test_key", "tls_context_pair"]

HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"


def generate_test_key(kind: Literal["rsa", "ed25519"] = "rsa") -> tuple[bytes, PublicKey]:
    """A fresh key of ``kind``: (PEM private key bytes, public key).

    ``"rsa"`` is a 2048-bit key as PKCS#1 (``-----BEGIN RSA PRIVATE KEY-----``);
    ``"ed25519"`` is PKCS#8 (``-----BEGIN PRIVATE KEY-----``). Those are the formats Kalshi
    issues, so a client's key loader is exercised on the real thing. Every call makes a new
    key (RSA about 50 ms), so two calls give two keys that do not verify each other's
    signatures.
    """
    if kind == "rsa":
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = rsa_key.private_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PrivateFormat.TraditionalOpenSSL,
            encryption_algorithm=serialization.NoEncryption(),
        )
        return pem, rsa_key.public_key()
    if kind == "ed25519":
        ed_key = ed25519.Ed25519PrivateKey.generate()
        pem = ed_key.private_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        )
        return pem, ed_key.public_key()
    raise ValueError(f"kind must be 'rsa' or 'ed25519', not {kind!r}")


def _verify(public_key: PublicKey, signature: bytes, message: bytes) -> bool:
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        try:
            public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True
    for salt in (padding.PSS.DIGEST_LENGTH, padding.PSS.AUTO):
        try:
            public_key.verify(
                signature,
                message,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt),
                hashes.SHA256(),
            )
        except InvalidSignature:
            continue
        return True
    return False


def check_auth(
    get_header: Callable[[str], str | None],
    path: str,
    *,
    public_key: PublicKey | None,
    key_id: str | None,
    now: float,
    max_clock_skew: float,
    method: str = "GET",
) -> str | None:
    """None when the request's auth headers are acceptable, else a short reason for the 401.

    ``method`` is the HTTP method the signature must cover (``"GET"`` for the WebSocket
    handshake); the algorithm follows ``public_key``'s type.
    """
    key = get_header(HEADER_KEY)
    timestamp = get_header(HEADER_TIMESTAMP)
    signature = get_header(HEADER_SIGNATURE)
    if not key or not timestamp or not signature:
        return "missing authentication headers"
    if key_id is not None and key != key_id:
        return "unknown API key"
    try:
        ts_ms = int(timestamp)
    except ValueError:
        return "malformed timestamp"
    if abs(now - ts_ms / 1000.0) > max_clock_skew:
        return "stale timestamp"
    if public_key is None:
        return None  # no key configured: headers are required, signatures are not checked
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return "malformed signature"
    message = (timestamp + method.upper() + path.split("?", 1)[0]).encode()
    if not _verify(public_key, raw, message):
        return "invalid signature"
    return None


def tls_context_pair() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context) for ``wss://localhost`` with verification on.

    A throwaway CA from ``trustme`` issues a certificate for ``localhost`` and
    ``127.0.0.1``; the client context trusts only that CA and checks the hostname. Pass
    the server context to ``FakeKalshiServer(ssl_context=...)`` and the client context to
    your client (websocket-client: ``sslopt={"context": client_ctx}``).
    """
    try:
        import trustme
    except ImportError as exc:  # trustme is a test extra, not a runtime dependency
        raise ImportError(
            "tls_context_pair() needs the 'trustme' package: pip install trustme"
        ) from exc
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(server_ctx)
    # PROTOCOL_TLS_CLIENT verifies the chain and the hostname; no system CAs are loaded,
    # so only the throwaway CA is trusted.
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(client_ctx)
    return server_ctx, client_ctx
