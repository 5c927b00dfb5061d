"""Throwaway credentials for tests: RSA keys, handshake verification, a loopback TLS pair.

Verification follows PROTOCOL.md §2: the ``KALSHI-ACCESS-SIGNATURE`` header is base64 of an
RSA-PSS (SHA-256, MGF1-SHA-256) signature over ``timestamp_ms + "GET" + path``, where the
path carries no query string. Salt length 32 (``PSS.DIGEST_LENGTH``) is what every Kalshi
SDK uses; ``PSS.AUTO`` is also accepted on verify because whether Kalshi accepts other salt
lengths is unverified, and a fake that is stricter than the real server would only produce
false failures.
"""

from __future__ import annotations

import base64
import binascii
import ssl
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["check_auth", "generate_test_key", "tls_context_pair"]

HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"


def generate_test_key() -> tuple[bytes, rsa.RSAPublicKey]:
    """A fresh 2048-bit RSA key: (PKCS#1 PEM private key bytes, public key).

    PKCS#1 (``-----BEGIN RSA PRIVATE KEY-----``) is the format Kalshi issues, so a client's
    key loader is exercised on the real thing. Every call makes a new key (about 50 ms),
    so two calls give two keys that do not verify each other's signatures.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.TraditionalOpenSSL,
        encryption_algorithm=serialization.NoEncryption(),
    )
    return pem, key.public_key()


def _verify(public_key: rsa.RSAPublicKey, signature: bytes, message: bytes) -> bool:
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
    public_key: rsa.RSAPublicKey | None,
    key_id: str | None,
    now: float,
    max_clock_skew: float,
) -> str | None:
    """None when the handshake headers are acceptable, else a short reason for the 401."""
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
    message = (timestamp + "GET" + path.split("?", 1)[0]).encode()
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
