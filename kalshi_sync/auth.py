"""API-key authentication: loading the private key (RSA or Ed25519) and signing requests.

Kalshi signs every authenticated request (the WebSocket upgrade and REST calls) with
three headers (docs/protocol.md, 'Signing'): the key id, a millisecond timestamp, and the
base64 signature of ``timestamp + METHOD + path``, where the path excludes any query
string. Kalshi issues two kinds of API key and picks the algorithm from the public key it
registered, so the signer picks it from the private key:

* **Ed25519** (the web app's default since 2026-10-01): plain Ed25519 over the message.
  Key files are PKCS#8 PEM (``-----BEGIN PRIVATE KEY-----``).
* **RSA**: RSA-PSS, SHA-256, MGF1-SHA-256, salt length = digest length. Key files are
  PKCS#1 (``-----BEGIN RSA PRIVATE KEY-----``) or PKCS#8 -- the same header an Ed25519
  key has, which is why the type is read from the parsed key, never from the PEM header.

Pure: nothing here does I/O except reading a key file in :func:`load_private_key`.
Key material never appears in an exception message, a ``repr`` or a log record: error
messages describe where the key came from (a file path or "PEM text"), never its content,
and the loader's own exceptions are not chained (``from None``) so no third-party message
can carry it either.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NoReturn, TypeAlias
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import (
    dsa,
    ec,
    ed448,
    ed25519,
    padding,
    rsa,
    x448,
    x25519,
)

from .environments import get_environment
from .errors import AuthenticationError

__all__ = [
    "HEADER_KEY",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "KeySource",
    "PrivateKey",
    "PublicKey",
    "Signer",
    "credentials_from_env",
    "load_private_key",
    "signing_message",
    "verify_headers",
]

log = logging.getLogger("kalshi_sync")

HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
"""The private key types Kalshi accepts for API keys: RSA or Ed25519."""

PublicKey: TypeAlias = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
"""The matching public key types (what Kalshi registers; what a fake server verifies with)."""

KeySource: TypeAlias = str | bytes | bytearray | os.PathLike[str] | PrivateKey
"""What :func:`load_private_key` accepts: a path, PEM text or bytes, or a loaded key."""

# One padding object for every signature. DIGEST_LENGTH (32 bytes) is what Kalshi's docs
# and every official SDK use; whether the server also accepts MAX_LENGTH is unverified.
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)

_PEM_MARKER = b"-----BEGIN"
# A longer string, or one spanning lines, is not echoed as a "path": it may be key text
# that lost its BEGIN line, and messages must never contain key material.
_MAX_ECHOED_PATH = 300

_ACCEPTED = "Kalshi API keys are RSA or Ed25519"
_CONVERT_HINT = (
    "Kalshi accepts RSA and Ed25519 keys in PEM files: Ed25519 as PKCS#8 ('-----BEGIN "
    "PRIVATE KEY-----'), RSA as PKCS#1 ('-----BEGIN RSA PRIVATE KEY-----') or PKCS#8"
)


# -- loading --------------------------------------------------------------------------------


def _fail(where: str, problem: str) -> NoReturn:
    raise AuthenticationError(f"cannot load the private key ({where}): {problem}") from None


# Private key types Kalshi does not accept, named in the refusal.
_OTHER_KEYS: tuple[tuple[type, str], ...] = (
    (ed448.Ed448PrivateKey, "Ed448"),
    (ec.EllipticCurvePrivateKey, "EC"),
    (dsa.DSAPrivateKey, "DSA"),
    (x25519.X25519PrivateKey, "X25519"),
    (x448.X448PrivateKey, "X448"),
)


def _key_kind(key: object) -> str | None:
    """A short name for any private key type we know, accepted or not; None otherwise."""
    if isinstance(key, rsa.RSAPrivateKey):
        return "RSA"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "Ed25519"
    for cls, kind in _OTHER_KEYS:
        if isinstance(key, cls):
            if isinstance(key, ec.EllipticCurvePrivateKey):
                return f"EC ({key.curve.name})"  # the curve name is public, not key material
            return kind
    return None


def _require_supported(key: object, where: str) -> PrivateKey:
    if isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        return key
    _fail(
        where,
        f"the key is {_key_kind(key) or type(key).__name__}, which Kalshi does not accept; "
        f"{_ACCEPTED}. Create an API key in Kalshi (Account -> API keys) and use the "
        "private key file it gives you",
    )


def _openssh_kind(data: bytes) -> str:
    # Names the key inside an OpenSSH file for the refusal; the parsed key is dropped at
    # once and nothing from a failed parse is kept (an encrypted file just stays unnamed).
    try:
        key = serialization.load_ssh_private_key(data, password=None)
    except Exception:
        return ""
    kind = _key_kind(key)
    return f" {kind}" if kind else ""


def _normalise_pem_text(text: str) -> str:
    # .env files and CI secrets often store the PEM on one line with literal "\n"
    # escapes, sometimes still wrapped in quotes; a real PEM never contains either.
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    if "\\n" in text:
        text = text.replace("\\r\\n", "\n").replace("\\n", "\n")
    return text


def _parse_pem(data: bytes, password: bytes | None, where: str) -> PrivateKey:
    if b"-----BEGIN OPENSSH PRIVATE KEY-----" in data:
        _fail(
            where,
            f"this is an OpenSSH-format{_openssh_kind(data)} key, which is not supported. "
            + _CONVERT_HINT
            + ". Use the key file Kalshi gave you, or convert a copy of an RSA key with "
            "`ssh-keygen -p -m PEM -f <copy-of-key>` (rewrites the file in place)",
        )
    if _PEM_MARKER not in data:
        _fail(where, "not PEM data (no '-----BEGIN' line). " + _CONVERT_HINT)
    has_public = b"PUBLIC KEY-----" in data or b"CERTIFICATE-----" in data
    if has_public and b"PRIVATE KEY-----" not in data:
        _fail(where, "this is a public key or certificate; signing needs the private key")
    encrypted = b"ENCRYPTED" in data  # PKCS#8 "ENCRYPTED PRIVATE KEY" / PKCS#1 Proc-Type
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except TypeError:
        # cryptography signals both password mismatches with TypeError.
        if password is None:
            _fail(where, "this is an encrypted private key: pass its password (password=...)")
        # A password for an unencrypted key is harmless: load the key without it.
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            _fail(where, "the PEM data is corrupt or not a private key. " + _CONVERT_HINT)
    except UnsupportedAlgorithm:
        _fail(where, f"a private key of an unsupported algorithm; {_ACCEPTED}")
    except ValueError:
        if encrypted and password is not None:
            _fail(where, "could not decrypt the key: wrong password (or a corrupt file)")
        _fail(where, "the PEM data is corrupt or not a private key. " + _CONVERT_HINT)
    return _require_supported(key, where)


_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")


def _looks_like_key_fragment(text: str) -> bool:
    # Nothing but base64 characters and longer than a typical file name, and not shaped
    # like a path ("/...", "~/...", "./..."): treat it as key material.
    return bool(_BASE64_TEXT.fullmatch(text)) and not text.startswith(("/", "~", "."))


def _read_key_file(source: str | os.PathLike[str]) -> tuple[bytes, str]:
    raw = os.fspath(source)
    # A long run of base64 characters is a key fragment (say a truncated environment
    # variable), not a file name: never echo it back.
    if len(raw) > _MAX_ECHOED_PATH or "\n" in raw or _looks_like_key_fragment(raw):
        shown = None
        where = "argument"
    else:
        shown = raw
        where = f"file {raw!r}"
    try:
        return Path(raw).expanduser().read_bytes(), where
    except OSError as exc:
        if shown is None:
            problem = "it is neither PEM text ('-----BEGIN ...') nor a readable file"
        elif isinstance(exc, FileNotFoundError):
            problem = "no such file"
        elif isinstance(exc, IsADirectoryError):
            problem = "it is a directory, not a key file"
        else:
            # strerror only ("Permission denied", ...): never anything read from the file.
            problem = exc.strerror or type(exc).__name__
    _fail(where, problem)


def load_private_key(source: KeySource, password: bytes | str | None = None) -> PrivateKey:
    """Load a Kalshi API private key: Ed25519 or RSA.

    ``source`` is an ``Ed25519PrivateKey`` or ``RSAPrivateKey`` object (returned as is),
    PEM text (``str`` containing ``-----BEGIN``; literal ``\\n`` escapes as found in .env
    files are accepted), PEM ``bytes``, or a path (``str``/``PathLike``, ``~`` expanded) to
    a PEM file. Ed25519 keys are PKCS#8 (``BEGIN PRIVATE KEY``, what Kalshi issues); RSA
    keys PKCS#1 (``BEGIN RSA PRIVATE KEY``) or PKCS#8; encrypted or not. The key type is
    read from the parsed key. A password given for an unencrypted key is ignored.

    Raises :class:`~kalshi_sync.errors.AuthenticationError` with a message saying what is
    wrong (missing file, not PEM, OpenSSH format, encrypted without password, wrong
    password, a key type Kalshi does not accept such as EC, DSA, Ed448 or X25519) and
    never containing the key material.
    """
    if isinstance(password, str):
        password = password.encode("utf-8")
    if password is not None and not isinstance(password, bytes):
        raise TypeError(f"password must be bytes, str or None, not {type(password).__name__}")
    if isinstance(source, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _parse_pem(bytes(source), password, "PEM bytes")
    if isinstance(source, str) and "-----BEGIN" in source:
        return _parse_pem(_normalise_pem_text(source).encode("utf-8"), password, "PEM text")
    if isinstance(source, (str, os.PathLike)):
        data, where = _read_key_file(source)
        return _parse_pem(data, password, where)
    # Another key object (EC, Ed448, ...) gets the "not accepted" message; anything else
    # is misuse.
    if _key_kind(source) is not None:
        return _require_supported(source, "key object")
    raise TypeError(
        "private_key must be a path, PEM text or bytes, or an Ed25519PrivateKey or "
        f"RSAPrivateKey, not {type(source).__name__}"
    )


# -- signing --------------------------------------------------------------------------------


def _path_only(path: str) -> str:
    # Kalshi signs the path only: the host never, the query string never
    # (docs/protocol.md, 'Signing').
    if "://" in path:
        return _path_only(urlsplit(path).path or "/")
    path = path.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/"):
        raise ValueError(f"path to sign must start with '/' (or be a full URL), got {path!r}")
    return path


def signing_message(timestamp_ms: str | int, method: str, path: str) -> bytes:
    """The exact bytes Kalshi expects signed: ``timestamp + METHOD + path`` (no query)."""
    return f"{timestamp_ms}{method.upper()}{_path_only(path)}".encode()


def verify_headers(
    public_key: PublicKey, headers: Mapping[str, str], method: str, path: str
) -> bool:
    """Check Kalshi auth headers as the server would: True if the signature is valid for
    ``method`` and ``path`` (query ignored), with the algorithm ``public_key`` implies
    (Ed25519 or RSA-PSS). For tests and fake servers; no clock check.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = lowered[HEADER_TIMESTAMP.lower()]
        signature = base64.b64decode(lowered[HEADER_SIGNATURE.lower()], validate=True)
        message = signing_message(timestamp, method, path)
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, message)
        else:
            public_key.verify(signature, message, _PSS, hashes.SHA256())
    except (KeyError, ValueError, InvalidSignature):
        return False
    return True


class Signer:
    """Produces Kalshi's three auth headers; a fresh timestamp and signature per call.

    Signs with RSA-PSS or Ed25519, whichever the key is. Immutable and thread-safe
    (``headers()`` may be called from any thread). ``repr`` shows the key id and the key
    type (and an RSA key's size) only. Pickling is refused (``TypeError``) because a
    pickle would carry the private key in clear; rebuild the Signer in the other process
    from the key file instead. ``copy.copy``/``deepcopy`` return the same object.
    """

    __slots__ = ("_clock", "_key", "_key_id")

    _key_id: str
    _key: PrivateKey
    _clock: Callable[[], float]

    def __init__(
        self,
        key_id: str,
        private_key: PrivateKey,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(key_id, str) or not key_id.strip():
            raise AuthenticationError("key_id must be a non-empty string (your Kalshi API key id)")
        if key_id != key_id.strip() or not key_id.isprintable():
            # A trailing newline from a file would make an invalid HTTP header value.
            raise AuthenticationError("key_id contains whitespace or control characters; strip it")
        if _key_kind(private_key) is None:
            raise TypeError(
                "private_key must be an Ed25519PrivateKey or RSAPrivateKey, not "
                f"{type(private_key).__name__}; use Signer.from_key() for a path or PEM text"
            )
        object.__setattr__(self, "_key_id", key_id)
        object.__setattr__(self, "_key", _require_supported(private_key, "key object"))
        object.__setattr__(self, "_clock", clock)

    @classmethod
    def from_key(
        cls,
        key_id: str,
        source: KeySource,
        password: bytes | str | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> Signer:
        """A Signer from anything :func:`load_private_key` accepts (path, PEM, key object)."""
        return cls(key_id, load_private_key(source, password), clock)

    @property
    def key_id(self) -> str:
        """The API key id sent as ``KALSHI-ACCESS-KEY``."""
        return self._key_id

    @property
    def private_key(self) -> PrivateKey:
        """The loaded key object (to share with another client, e.g. ``RestClient``)."""
        return self._key

    def sign(self, message: bytes) -> str:
        """Base64 signature of ``message``: plain Ed25519 for an Ed25519 key, RSA-PSS
        (SHA-256, MGF1-SHA-256, salt = digest length) for an RSA key."""
        key = self._key
        if isinstance(key, ed25519.Ed25519PrivateKey):
            raw = key.sign(message)
        else:
            raw = key.sign(message, _PSS, hashes.SHA256())
        return base64.b64encode(raw).decode("ascii")

    def headers(self, method: str, path: str) -> dict[str, str]:
        """The three ``KALSHI-ACCESS-*`` headers for ``method`` on ``path``.

        ``path`` may carry a query string (it is not signed) or be a full URL (only its
        path is signed). The timestamp is the clock in whole milliseconds.
        """
        if not isinstance(method, str) or not method.isalpha():
            raise ValueError(f"not an HTTP method: {method!r}")
        timestamp = str(int(self._clock() * 1000))
        signature = self.sign(signing_message(timestamp, method, path))
        return {
            HEADER_KEY: self._key_id,
            HEADER_TIMESTAMP: timestamp,
            HEADER_SIGNATURE: signature,
        }

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Signer is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Signer is immutable")

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError(
            "Signer cannot be pickled: it holds a private key. Pass the key id and key "
            "path to the other process and build a Signer there"
        )

    def __copy__(self) -> Signer:
        return self

    def __deepcopy__(self, memo: object) -> Signer:
        return self

    def __repr__(self) -> str:
        key = self._key
        shown = f"RSA {key.key_size}" if isinstance(key, rsa.RSAPrivateKey) else "Ed25519"
        return f"Signer(key_id={self._key_id!r}, key=<{shown} hidden>)"


# -- environment ----------------------------------------------------------------------------

ENV_KEY_ID = "KALSHI_API_KEY_ID"
ENV_KEY_PATH = "KALSHI_PRIVATE_KEY_PATH"
ENV_KEY_PEM = "KALSHI_PRIVATE_KEY"
ENV_KEY_PASSWORD = "KALSHI_PRIVATE_KEY_PASSWORD"
ENV_ENVIRONMENT = "KALSHI_ENV"


def credentials_from_env(
    environ: Mapping[str, str] = os.environ,
) -> tuple[str, PrivateKey, str]:
    """``(key_id, private_key, environment)`` from environment variables.

    ``KALSHI_API_KEY_ID``; exactly one of ``KALSHI_PRIVATE_KEY_PATH`` (a PEM file) or
    ``KALSHI_PRIVATE_KEY`` (PEM text, literal ``\\n`` escapes accepted), holding an
    Ed25519 or RSA key; optionally
    ``KALSHI_PRIVATE_KEY_PASSWORD`` for an encrypted key and ``KALSHI_ENV`` (``prod``, the
    default, or ``demo``; returned normalised).

    Raises AuthenticationError naming the variables to set (or the one that is wrong),
    ValueError for an unknown ``KALSHI_ENV``.
    """
    env_name = environ.get(ENV_ENVIRONMENT, "").strip() or "prod"
    try:
        env = get_environment(env_name).name
    except ValueError:
        raise ValueError(
            f"{ENV_ENVIRONMENT}={env_name!r} is not valid: set it to 'prod' or 'demo' "
            "(or leave it unset for prod)"
        ) from None
    key_id = environ.get(ENV_KEY_ID, "").strip()
    path = environ.get(ENV_KEY_PATH, "").strip()
    pem = environ.get(ENV_KEY_PEM, "").strip()
    missing = []
    if not key_id:
        missing.append(ENV_KEY_ID)
    if not path and not pem:
        missing.append(f"{ENV_KEY_PATH} (path to the PEM file) or {ENV_KEY_PEM} (PEM text)")
    if missing:
        raise AuthenticationError(
            "Kalshi credentials not found in the environment: set " + " and ".join(missing)
        )
    if path and pem:
        raise AuthenticationError(
            f"both {ENV_KEY_PATH} and {ENV_KEY_PEM} are set: set only one of them"
        )
    password = environ.get(ENV_KEY_PASSWORD) or None
    if path:
        var, source = ENV_KEY_PATH, path
    else:
        if "-----BEGIN" not in pem:
            # Never treated as a path: that would echo key text back in a "no such file".
            raise AuthenticationError(
                f"{ENV_KEY_PEM} must hold the PEM text itself (starting '-----BEGIN'); "
                f"to point at a file use {ENV_KEY_PATH}"
            )
        var, source = ENV_KEY_PEM, pem
    try:
        key = load_private_key(source, password)
    except AuthenticationError as exc:
        raise AuthenticationError(f"{var}: {exc}") from None
    log.debug("loaded Kalshi credentials from the environment (%s, env=%s)", var, env)
    return key_id, key, env
