"""Key loading (RSA and Ed25519), request signing, credentials from the environment, and the
fake server's signature check (docs/protocol.md, 'Signing')."""

from __future__ import annotations

import base64
import copy
import logging
import pickle
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
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

from kalshi_sync.auth import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    Signer,
    credentials_from_env,
    load_private_key,
    signing_message,
    verify_headers,
)
from kalshi_sync.errors import AuthenticationError
from kalshi_sync.testing import check_auth, generate_test_key

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
PEM_NL = serialization.Encoding.PEM
NO_ENC = serialization.NoEncryption()
PKCS1 = serialization.PrivateFormat.TraditionalOpenSSL
PKCS8 = serialization.PrivateFormat.PKCS8


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """One 2048-bit RSA key for the module (generation is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def pkcs1_pem(rsa_key: rsa.RSAPrivateKey) -> bytes:
    return rsa_key.private_bytes(PEM_NL, PKCS1, NO_ENC)


@pytest.fixture(scope="session")
def pkcs8_pem(rsa_key: rsa.RSAPrivateKey) -> bytes:
    return rsa_key.private_bytes(PEM_NL, PKCS8, NO_ENC)


@pytest.fixture(scope="session")
def ed_key() -> ed25519.Ed25519PrivateKey:
    """One Ed25519 key for the module."""
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def ed_pem(ed_key: ed25519.Ed25519PrivateKey) -> bytes:
    """The Ed25519 key as PKCS#8 PEM, the format Kalshi issues."""
    return ed_key.private_bytes(PEM_NL, PKCS8, NO_ENC)


@pytest.fixture
def ed_file(tmp_path: Path, ed_pem: bytes) -> Path:
    path = tmp_path / "kalshi-ed25519.key"
    path.write_bytes(ed_pem)
    return path


@pytest.fixture
def pkcs1_file(tmp_path: Path, pkcs1_pem: bytes) -> Path:
    path = tmp_path / "kalshi.key"
    path.write_bytes(pkcs1_pem)
    return path


@pytest.fixture
def pkcs8_file(tmp_path: Path, pkcs8_pem: bytes) -> Path:
    path = tmp_path / "kalshi-pkcs8.pem"
    path.write_bytes(pkcs8_pem)
    return path


def secret_lines(pem: bytes) -> list[str]:
    """The base64 body lines of a PEM: any of them in a message would leak key material."""
    return [
        line
        for line in pem.decode().splitlines()
        if line and not line.startswith("-----") and ":" not in line and len(line) >= 40
    ]


def assert_no_secret(text: str, pem: bytes) -> None:
    assert pem.decode() not in text
    for line in secret_lines(pem):
        assert line not in text
        assert line[10:40] not in text  # a distinctive 30-character substring


def full_text(exc: BaseException) -> str:
    """The message plus the whole printed traceback, chained exceptions included."""
    return str(exc) + "\n" + "".join(traceback.format_exception(exc))


def same_key(a: Any, b: Any) -> bool:
    """Two private keys (RSA or Ed25519) hold the same secret."""
    if isinstance(a, ed25519.Ed25519PrivateKey):
        raw = serialization.PrivateFormat.Raw
        none = serialization.NoEncryption()
        enc = serialization.Encoding.Raw
        return isinstance(b, ed25519.Ed25519PrivateKey) and a.private_bytes(
            enc, raw, none
        ) == b.private_bytes(enc, raw, none)
    return bool(a.private_numbers() == b.private_numbers())


def verify(public: rsa.RSAPublicKey, headers: dict[str, str], message: bytes) -> None:
    """Verify with cryptography directly (not with our helper): salt = digest length."""
    public.verify(
        base64.b64decode(headers[HEADER_SIGNATURE], validate=True),
        message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
        hashes.SHA256(),
    )


# -- load_private_key: accepted sources ----------------------------------------------------


def test_loads_pkcs1_file_by_str_path(pkcs1_file: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    """A PKCS#1 'BEGIN RSA PRIVATE KEY' file (what Kalshi issues) loads from a str path."""
    assert same_key(load_private_key(str(pkcs1_file)), rsa_key)


def test_loads_pkcs8_file_by_pathlike(pkcs8_file: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    """A PKCS#8 'BEGIN PRIVATE KEY' file loads from a Path."""
    assert same_key(load_private_key(pkcs8_file), rsa_key)


def test_path_expands_user_home(
    pkcs1_file: Path, rsa_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A '~/...' path is expanded to the home directory."""
    monkeypatch.setenv("HOME", str(pkcs1_file.parent))
    assert same_key(load_private_key("~/" + pkcs1_file.name), rsa_key)


@pytest.mark.parametrize("fmt", ["pkcs1", "pkcs8"])
def test_loads_pem_text_and_bytes(
    fmt: str, pkcs1_pem: bytes, pkcs8_pem: bytes, rsa_key: rsa.RSAPrivateKey
) -> None:
    """PEM given as str or bytes (detected by '-----BEGIN') loads without touching disk."""
    pem = pkcs1_pem if fmt == "pkcs1" else pkcs8_pem
    assert same_key(load_private_key(pem), rsa_key)
    assert same_key(load_private_key(pem.decode()), rsa_key)
    assert same_key(load_private_key(bytearray(pem)), rsa_key)


def test_loads_pem_text_with_literal_newline_escapes(
    pkcs1_pem: bytes, rsa_key: rsa.RSAPrivateKey
) -> None:
    """PEM stored on one line with literal '\\n' escapes (and quotes), as in .env files, loads."""
    one_line = pkcs1_pem.decode().strip().replace("\n", "\\n")
    assert same_key(load_private_key(one_line), rsa_key)
    assert same_key(load_private_key(f'"{one_line}"'), rsa_key)


def test_key_object_is_returned_as_is(rsa_key: rsa.RSAPrivateKey) -> None:
    """An RSAPrivateKey object passes through unchanged."""
    assert load_private_key(rsa_key) is rsa_key


@pytest.mark.parametrize("fmt", [PKCS1, PKCS8])
@pytest.mark.parametrize("password", [b"s3cret", "s3cret"])
def test_loads_encrypted_key_with_password(
    fmt: serialization.PrivateFormat,
    password: bytes | str,
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    """An encrypted PKCS#1 or PKCS#8 key loads with its password (bytes or str)."""
    pem = rsa_key.private_bytes(PEM_NL, fmt, serialization.BestAvailableEncryption(b"s3cret"))
    assert same_key(load_private_key(pem, password), rsa_key)


def test_password_for_unencrypted_key_is_ignored(
    pkcs1_pem: bytes, rsa_key: rsa.RSAPrivateKey
) -> None:
    """A password supplied for a key that is not encrypted does no harm."""
    assert same_key(load_private_key(pkcs1_pem, b"unused"), rsa_key)


# -- load_private_key: errors -----------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    """A missing key file raises AuthenticationError that names the path."""
    missing = tmp_path / "nope" / "kalshi.key"
    with pytest.raises(AuthenticationError, match="no such file") as info:
        load_private_key(str(missing))
    assert str(missing) in str(info.value)
    assert info.value.status_code is None


def test_directory_is_refused(tmp_path: Path) -> None:
    """A directory instead of a key file raises AuthenticationError."""
    with pytest.raises(AuthenticationError, match="directory"):
        load_private_key(tmp_path)


@pytest.mark.parametrize("content", [b"", b"hello world\n", b"\x30\x82\x04\xa4\x02\x01\x00"])
def test_non_pem_file_is_refused(tmp_path: Path, content: bytes) -> None:
    """A file without a PEM '-----BEGIN' line raises AuthenticationError saying so."""
    path = tmp_path / "key.der"
    path.write_bytes(content)
    with pytest.raises(AuthenticationError, match="not PEM"):
        load_private_key(path)


def test_non_pem_bytes_are_refused() -> None:
    """Bytes without a PEM header raise AuthenticationError (bytes are never a path)."""
    with pytest.raises(AuthenticationError, match="not PEM"):
        load_private_key(b"MIIEpAIBAAKCAQEA")


def test_openssh_key_is_refused_with_conversion_hint(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    """An OpenSSH-format key raises AuthenticationError suggesting 'ssh-keygen -p -m PEM'."""
    path = tmp_path / "id_rsa"
    path.write_bytes(rsa_key.private_bytes(PEM_NL, serialization.PrivateFormat.OpenSSH, NO_ENC))
    with pytest.raises(AuthenticationError, match="OpenSSH") as info:
        load_private_key(path)
    assert "ssh-keygen -p -m PEM" in str(info.value)


@pytest.mark.parametrize("fmt", [PKCS1, PKCS8])
def test_encrypted_key_without_password(
    fmt: serialization.PrivateFormat, rsa_key: rsa.RSAPrivateKey
) -> None:
    """An encrypted key without a password raises AuthenticationError asking for one."""
    pem = rsa_key.private_bytes(PEM_NL, fmt, serialization.BestAvailableEncryption(b"pw"))
    with pytest.raises(AuthenticationError, match=r"encrypted.*password"):
        load_private_key(pem)


@pytest.mark.parametrize("fmt", [PKCS1, PKCS8])
def test_encrypted_key_with_wrong_password(
    fmt: serialization.PrivateFormat, rsa_key: rsa.RSAPrivateKey
) -> None:
    """A wrong password raises AuthenticationError saying the password is wrong."""
    pem = rsa_key.private_bytes(PEM_NL, fmt, serialization.BestAvailableEncryption(b"pw"))
    with pytest.raises(AuthenticationError, match="wrong password"):
        load_private_key(pem, b"not-it")


# Private key types Kalshi does not accept: a factory and the name the refusal must give.
REFUSED: dict[str, tuple[Callable[[], Any], str]] = {
    "ec": (lambda: ec.generate_private_key(ec.SECP256R1()), "EC (secp256r1)"),
    "dsa": (lambda: dsa.generate_private_key(1024), "DSA"),
    "ed448": (ed448.Ed448PrivateKey.generate, "Ed448"),
    "x25519": (x25519.X25519PrivateKey.generate, "X25519"),
    "x448": (x448.X448PrivateKey.generate, "X448"),
}
REFUSED_KINDS = list(REFUSED)


@pytest.mark.parametrize("kind", REFUSED_KINDS)
def test_unaccepted_key_types_are_refused_by_name(kind: str, tmp_path: Path) -> None:
    """An EC, DSA, Ed448, X25519 or X448 key -- PKCS#8 file, PEM bytes or key object -- is
    refused with AuthenticationError naming the type found and 'RSA or Ed25519'."""
    make, name = REFUSED[kind]
    key = make()
    pem = key.private_bytes(PEM_NL, PKCS8, NO_ENC)
    path = tmp_path / f"{kind}.pem"
    path.write_bytes(pem)
    for source in (path, pem, pem.decode(), key):
        with pytest.raises(AuthenticationError) as info:
            load_private_key(source)
        message = str(info.value)
        assert f"the key is {name}, which Kalshi does not accept" in message
        assert "RSA or Ed25519" in message
        assert_no_secret(full_text(info.value), pem)


def test_traditional_ec_key_is_refused() -> None:
    """A 'BEGIN EC PRIVATE KEY' file is refused as EC, like its PKCS#8 form."""
    pem = ec.generate_private_key(ec.SECP384R1()).private_bytes(PEM_NL, PKCS1, NO_ENC)
    assert pem.startswith(b"-----BEGIN EC PRIVATE KEY-----")
    with pytest.raises(AuthenticationError, match=r"EC \(secp384r1\).*RSA or Ed25519"):
        load_private_key(pem)


def test_openssh_ed25519_key_is_refused_by_name() -> None:
    """An OpenSSH-format Ed25519 key is refused naming the format and the key type, and
    says which PEM formats Kalshi accepts."""
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(PEM_NL, serialization.PrivateFormat.OpenSSH, NO_ENC)
    with pytest.raises(AuthenticationError, match="OpenSSH-format Ed25519 key") as info:
        load_private_key(pem)
    assert "RSA and Ed25519" in str(info.value)
    assert "PKCS#8" in str(info.value)
    assert_no_secret(full_text(info.value), pem)


def test_encrypted_ed25519_key_without_password_is_refused(
    ed_key: ed25519.Ed25519PrivateKey,
) -> None:
    """An encrypted PKCS#8 Ed25519 key without a password asks for the password; with the
    wrong one it says the password is wrong."""
    pem = ed_key.private_bytes(PEM_NL, PKCS8, serialization.BestAvailableEncryption(b"pw"))
    with pytest.raises(AuthenticationError, match=r"encrypted private key.*password"):
        load_private_key(pem)
    with pytest.raises(AuthenticationError, match="wrong password"):
        load_private_key(pem, "nope")


@pytest.mark.parametrize("kind", REFUSED_KINDS)
def test_signer_refuses_unaccepted_key_objects(kind: str) -> None:
    """A Signer cannot be built on a key type Kalshi does not accept."""
    make, name = REFUSED[kind]
    with pytest.raises(AuthenticationError, match="RSA or Ed25519") as info:
        Signer(KEY_ID, make())
    assert name in str(info.value)


def test_public_key_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    """A public key PEM raises AuthenticationError explaining the private key is needed."""
    pem = rsa_key.public_key().public_bytes(PEM_NL, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(AuthenticationError, match="public key"):
        load_private_key(pem)


def test_corrupt_pem_is_refused(pkcs1_pem: bytes) -> None:
    """A truncated PEM body raises AuthenticationError (corrupt), not a raw ValueError."""
    lines = pkcs1_pem.decode().splitlines()
    broken = "\n".join([*lines[:4], *lines[-1:]]) + "\n"
    with pytest.raises(AuthenticationError, match="corrupt"):
        load_private_key(broken)


def test_wrong_type_is_type_error() -> None:
    """A source of an unsupported type raises TypeError naming the type."""
    with pytest.raises(TypeError, match="int"):
        load_private_key(42)  # type: ignore[arg-type]


# -- no key material in errors, reprs or logs -------------------------------------------------


def test_errors_never_contain_key_material(
    tmp_path: Path, pkcs1_pem: bytes, rsa_key: rsa.RSAPrivateKey
) -> None:
    """No loader error (message or printed traceback) contains the key's PEM or a piece of it."""
    lines = pkcs1_pem.decode().splitlines()
    body_only = "\n".join(lines[1:-1])  # PEM that lost its BEGIN/END lines
    corrupt_file = tmp_path / "corrupt.key"
    corrupt_file.write_text("-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines[1:6]))
    encrypted = rsa_key.private_bytes(PEM_NL, PKCS8, serialization.BestAvailableEncryption(b"x"))
    attempts: list[tuple[object, bytes | None]] = [
        (body_only, None),  # a str without BEGIN is taken as a path: must not be echoed
        (body_only.replace("\n", ""), None),
        (body_only.encode(), None),
        ("\n".join(lines[:6]) + "\n" + lines[-1], None),
        (corrupt_file, None),
        (encrypted, None),
        (encrypted, b"wrong"),
        (pkcs1_pem.replace(b"RSA PRIVATE", b"OPENSSH PRIVATE"), None),
    ]
    for source, password in attempts:
        with pytest.raises(AuthenticationError) as info:
            load_private_key(source, password)  # type: ignore[arg-type]
        assert_no_secret(full_text(info.value), pkcs1_pem)
        assert_no_secret(full_text(info.value), encrypted)


def test_signer_repr_hides_key(rsa_key: rsa.RSAPrivateKey, pkcs1_pem: bytes) -> None:
    """repr/str of a Signer show the key id and key size, never key material."""
    signer = Signer(KEY_ID, rsa_key)
    assert repr(signer) == f"Signer(key_id={KEY_ID!r}, key=<RSA 2048 hidden>)"
    assert str(signer) == repr(signer)
    assert_no_secret(repr(signer), pkcs1_pem)


def test_no_key_material_in_logs(
    pkcs1_pem: bytes, pkcs1_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Loading, signing and reading the environment log nothing containing the key."""
    caplog.set_level(logging.DEBUG)
    signer = Signer.from_key(KEY_ID, pkcs1_pem.decode())
    signer.headers("GET", "/trade-api/ws/v2")
    credentials_from_env({"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY": pkcs1_pem.decode()})
    credentials_from_env({"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY_PATH": str(pkcs1_file)})
    with pytest.raises(AuthenticationError):
        credentials_from_env({"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY": "x" * 2000})
    assert_no_secret(caplog.text, pkcs1_pem)
    for record in caplog.records:
        assert_no_secret(record.getMessage(), pkcs1_pem)


def test_signer_cannot_be_pickled(rsa_key: rsa.RSAPrivateKey) -> None:
    """Pickling a Signer is refused, so the private key is never serialised in clear."""
    signer = Signer(KEY_ID, rsa_key)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signer)


def test_signer_copy_is_itself(rsa_key: rsa.RSAPrivateKey) -> None:
    """copy/deepcopy of the immutable Signer return the same object (no key duplication)."""
    signer = Signer(KEY_ID, rsa_key)
    assert copy.copy(signer) is signer
    assert copy.deepcopy({"s": signer})["s"] is signer


def test_signer_is_immutable(rsa_key: rsa.RSAPrivateKey) -> None:
    """Attributes of a Signer cannot be set or deleted."""
    signer = Signer(KEY_ID, rsa_key)
    with pytest.raises(AttributeError):
        signer._key_id = "other"
    with pytest.raises(AttributeError):
        del signer._key


# -- Signer ---------------------------------------------------------------------------------


def test_headers_names_and_exact_timestamp(rsa_key: rsa.RSAPrivateKey) -> None:
    """headers() returns the three KALSHI-ACCESS-* headers; timestamp is clock in whole ms."""
    signer = Signer(KEY_ID, rsa_key, clock=lambda: 1704398400.5)
    headers = signer.headers("GET", "/trade-api/ws/v2")
    assert set(headers) == {HEADER_KEY, HEADER_TIMESTAMP, HEADER_SIGNATURE}
    assert headers[HEADER_KEY] == KEY_ID
    assert headers[HEADER_TIMESTAMP] == "1704398400500"


def test_signature_verifies_with_public_key(rsa_key: rsa.RSAPrivateKey) -> None:
    """The signature is RSA-PSS/SHA-256/salt=32 over timestamp + METHOD + path."""
    signer = Signer(KEY_ID, rsa_key, clock=lambda: 1704398400.0)
    headers = signer.headers("get", "/trade-api/ws/v2")
    verify(rsa_key.public_key(), headers, b"1704398400000GET/trade-api/ws/v2")
    with pytest.raises(InvalidSignature):  # the method really is upper-cased
        verify(rsa_key.public_key(), headers, b"1704398400000get/trade-api/ws/v2")


def test_query_string_is_not_signed(rsa_key: rsa.RSAPrivateKey) -> None:
    """A '?query' on the path is stripped before signing."""
    signer = Signer(KEY_ID, rsa_key, clock=lambda: 1.0)
    headers = signer.headers("GET", "/trade-api/v2/markets?limit=1000&cursor=abc")
    verify(rsa_key.public_key(), headers, b"1000GET/trade-api/v2/markets")
    with pytest.raises(InvalidSignature):
        verify(rsa_key.public_key(), headers, b"1000GET/trade-api/v2/markets?limit=1000&cursor=abc")


def test_full_url_signs_only_its_path(rsa_key: rsa.RSAPrivateKey) -> None:
    """A full URL is accepted and only its path (no host, no query) is signed."""
    signer = Signer(KEY_ID, rsa_key, clock=lambda: 2.0)
    headers = signer.headers("GET", "wss://external-api-ws.kalshi.com/trade-api/ws/v2?x=1")
    verify(rsa_key.public_key(), headers, b"2000GET/trade-api/ws/v2")


def test_fresh_signature_and_timestamp_per_call(rsa_key: rsa.RSAPrivateKey) -> None:
    """Each call signs anew: timestamps follow the clock and signatures differ yet verify."""
    ticks = iter([10.0, 10.0, 11.25])
    signer = Signer(KEY_ID, rsa_key, clock=lambda: next(ticks))
    first, second, third = (signer.headers("POST", "/trade-api/v2/x") for _ in range(3))
    assert first[HEADER_SIGNATURE] != second[HEADER_SIGNATURE]  # PSS salt is random
    assert third[HEADER_TIMESTAMP] == "11250"
    for headers in (first, second, third):
        ts = headers[HEADER_TIMESTAMP].encode()
        verify(rsa_key.public_key(), headers, ts + b"POST/trade-api/v2/x")


def test_from_key_loads_any_source(pkcs8_file: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    """Signer.from_key accepts a path and a clock and signs with the loaded key."""
    signer = Signer.from_key(KEY_ID, pkcs8_file, clock=lambda: 3.0)
    assert same_key(signer.private_key, rsa_key)
    assert signer.key_id == KEY_ID
    verify(rsa_key.public_key(), signer.headers("GET", "/a"), b"3000GET/a")


def test_from_key_with_password(rsa_key: rsa.RSAPrivateKey) -> None:
    """Signer.from_key passes the password to the loader."""
    pem = rsa_key.private_bytes(PEM_NL, PKCS8, serialization.BestAvailableEncryption(b"pw"))
    assert same_key(Signer.from_key(KEY_ID, pem, b"pw").private_key, rsa_key)


@pytest.mark.parametrize("key_id", ["", "   ", f"{KEY_ID}\n", f" {KEY_ID}"])
def test_bad_key_id_is_refused(key_id: str, rsa_key: rsa.RSAPrivateKey) -> None:
    """An empty key id or one with whitespace/newlines (invalid header) is refused."""
    with pytest.raises(AuthenticationError, match="key_id"):
        Signer(key_id, rsa_key)


def test_signer_constructor_wants_a_key_object(pkcs1_file: Path) -> None:
    """Signer() given a path raises TypeError pointing at Signer.from_key."""
    with pytest.raises(TypeError, match="from_key"):
        Signer(KEY_ID, str(pkcs1_file))  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["trade-api/ws/v2", "", "?x=1"])
def test_relative_path_is_refused(path: str, rsa_key: rsa.RSAPrivateKey) -> None:
    """A path that does not start with '/' (and is not a URL) raises ValueError."""
    with pytest.raises(ValueError, match="start with '/'"):
        Signer(KEY_ID, rsa_key).headers("GET", path)


@pytest.mark.parametrize("method", ["", "GET /", "G3T"])
def test_bad_method_is_refused(method: str, rsa_key: rsa.RSAPrivateKey) -> None:
    """A method that is not a plain word raises ValueError."""
    with pytest.raises(ValueError, match="HTTP method"):
        Signer(KEY_ID, rsa_key).headers(method, "/x")


def test_signing_message_format() -> None:
    """signing_message is timestamp + upper-case method + path without query."""
    assert signing_message(1704398400000, "get", "/trade-api/ws/v2?a=1#f") == (
        b"1704398400000GET/trade-api/ws/v2"
    )


def test_verify_headers_accepts_good_and_rejects_bad(rsa_key: rsa.RSAPrivateKey) -> None:
    """verify_headers validates a real signature and rejects tampering or missing headers."""
    public = rsa_key.public_key()
    headers = Signer(KEY_ID, rsa_key).headers("GET", "/trade-api/ws/v2")
    assert verify_headers(public, headers, "GET", "/trade-api/ws/v2?ignored=1")
    assert verify_headers(
        public, {k.lower(): v for k, v in headers.items()}, "GET", "/trade-api/ws/v2"
    )
    assert not verify_headers(public, headers, "GET", "/trade-api/v2")
    assert not verify_headers(public, headers, "POST", "/trade-api/ws/v2")
    assert not verify_headers(public, {**headers, HEADER_TIMESTAMP: "1"}, "GET", "/trade-api/ws/v2")
    assert not verify_headers(
        public, {**headers, HEADER_SIGNATURE: "!!"}, "GET", "/trade-api/ws/v2"
    )
    assert not verify_headers(public, {HEADER_KEY: KEY_ID}, "GET", "/trade-api/ws/v2")


# -- Ed25519 ----------------------------------------------------------------------------------


def test_ed25519_loads_from_path_text_bytes_and_object(
    ed_file: Path, ed_pem: bytes, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    """A PKCS#8 Ed25519 key loads from a str path, a Path, PEM text, bytes, bytearray,
    one-line text with literal '\\n' escapes, and a key object (returned as is)."""
    one_line = ed_pem.decode().strip().replace("\n", "\\n")
    for source in (str(ed_file), ed_file, ed_pem.decode(), ed_pem, bytearray(ed_pem), one_line):
        loaded = load_private_key(source)
        assert isinstance(loaded, ed25519.Ed25519PrivateKey)
        assert same_key(loaded, ed_key)
    assert load_private_key(ed_key) is ed_key


def test_type_comes_from_the_parsed_key_not_the_header(pkcs8_pem: bytes, ed_pem: bytes) -> None:
    """PKCS#8 RSA and PKCS#8 Ed25519 share the 'BEGIN PRIVATE KEY' header; each loads as
    its own type."""
    assert pkcs8_pem.splitlines()[0] == ed_pem.splitlines()[0] == b"-----BEGIN PRIVATE KEY-----"
    assert isinstance(load_private_key(pkcs8_pem), rsa.RSAPrivateKey)
    assert isinstance(load_private_key(ed_pem), ed25519.Ed25519PrivateKey)


def test_encrypted_ed25519_key_loads_with_password(ed_key: ed25519.Ed25519PrivateKey) -> None:
    """An encrypted PKCS#8 Ed25519 key loads with its password."""
    pem = ed_key.private_bytes(PEM_NL, PKCS8, serialization.BestAvailableEncryption(b"pw"))
    assert same_key(load_private_key(pem, "pw"), ed_key)


def test_ed25519_signature_is_plain_ed25519_over_the_message(
    ed_key: ed25519.Ed25519PrivateKey,
) -> None:
    """An Ed25519 Signer signs timestamp + METHOD + path (no query) with plain Ed25519,
    base64; verified with cryptography directly, and tampering fails."""
    signer = Signer(KEY_ID, ed_key, clock=lambda: 1704398400.25)
    headers = signer.headers("post", "/trade-api/v2/portfolio/events/orders?x=1")
    assert set(headers) == {HEADER_KEY, HEADER_TIMESTAMP, HEADER_SIGNATURE}
    assert headers[HEADER_TIMESTAMP] == "1704398400250"
    raw = base64.b64decode(headers[HEADER_SIGNATURE], validate=True)
    assert len(raw) == 64
    public = ed_key.public_key()
    public.verify(raw, b"1704398400250POST/trade-api/v2/portfolio/events/orders")
    with pytest.raises(InvalidSignature):
        public.verify(raw, b"1704398400250POST/trade-api/v2/portfolio/events/orders?x=1")
    with pytest.raises(InvalidSignature):
        public.verify(raw, b"1704398400250GET/trade-api/v2/portfolio/events/orders")


def test_ed25519_signer_repr_and_from_key(
    ed_file: Path, ed_pem: bytes, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    """Signer.from_key loads an Ed25519 file; its repr names the type and hides the key."""
    signer = Signer.from_key(KEY_ID, ed_file, clock=lambda: 5.0)
    assert same_key(signer.private_key, ed_key)
    assert repr(signer) == f"Signer(key_id={KEY_ID!r}, key=<Ed25519 hidden>)"
    assert_no_secret(repr(signer), ed_pem)
    raw = base64.b64decode(signer.headers("GET", "/a")[HEADER_SIGNATURE])
    ed_key.public_key().verify(raw, b"5000GET/a")
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signer)


def test_verify_headers_accepts_ed25519_and_rejects_the_wrong_key(
    ed_key: ed25519.Ed25519PrivateKey, rsa_key: rsa.RSAPrivateKey
) -> None:
    """verify_headers checks an Ed25519 signature with an Ed25519 public key; another
    Ed25519 key, an RSA key, or an RSA signature under the Ed25519 key all fail."""
    headers = Signer(KEY_ID, ed_key).headers("GET", "/trade-api/ws/v2")
    assert verify_headers(ed_key.public_key(), headers, "GET", "/trade-api/ws/v2")
    assert not verify_headers(ed_key.public_key(), headers, "POST", "/trade-api/ws/v2")
    other = ed25519.Ed25519PrivateKey.generate().public_key()
    assert not verify_headers(other, headers, "GET", "/trade-api/ws/v2")
    assert not verify_headers(rsa_key.public_key(), headers, "GET", "/trade-api/ws/v2")
    rsa_headers = Signer(KEY_ID, rsa_key).headers("GET", "/trade-api/ws/v2")
    assert not verify_headers(ed_key.public_key(), rsa_headers, "GET", "/trade-api/ws/v2")


def test_ed25519_errors_and_logs_never_contain_key_material(
    ed_pem: bytes, ed_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Loading, signing, env loading and failed loads of an Ed25519 key never log or raise
    anything containing its PEM body."""
    caplog.set_level(logging.DEBUG)
    Signer.from_key(KEY_ID, ed_pem.decode()).headers("GET", "/trade-api/ws/v2")
    credentials_from_env({"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY_PATH": str(ed_file)})
    lines = ed_pem.decode().splitlines()
    for broken in ("\n".join(lines[1:-1]), "\n".join(lines[:1] + lines[-1:]), lines[1]):
        with pytest.raises(AuthenticationError) as info:
            load_private_key(broken)
        assert_no_secret(full_text(info.value), ed_pem)
    assert_no_secret(caplog.text, ed_pem)


def test_env_with_ed25519_key(ed_pem: bytes, ed_key: ed25519.Ed25519PrivateKey) -> None:
    """KALSHI_PRIVATE_KEY holding an Ed25519 PEM gives an Ed25519 key."""
    _, key, env = credentials_from_env(
        {"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY": ed_pem.decode(), "KALSHI_ENV": "demo"}
    )
    assert env == "demo"
    assert same_key(key, ed_key)


def test_env_with_refused_key_type_names_variable_and_type(tmp_path: Path) -> None:
    """An EC key behind KALSHI_PRIVATE_KEY_PATH is refused naming the variable and EC."""
    path = tmp_path / "ec.pem"
    path.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(PEM_NL, PKCS8, NO_ENC))
    with pytest.raises(AuthenticationError, match=r"^KALSHI_PRIVATE_KEY_PATH: .*EC \(secp256r1\)"):
        credentials_from_env({"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY_PATH": str(path)})


# -- credentials_from_env ---------------------------------------------------------------------


def test_env_with_key_path(pkcs1_file: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    """KALSHI_API_KEY_ID + KALSHI_PRIVATE_KEY_PATH give (key_id, key, 'prod')."""
    key_id, key, env = credentials_from_env(
        {"KALSHI_API_KEY_ID": f" {KEY_ID}\n", "KALSHI_PRIVATE_KEY_PATH": str(pkcs1_file)}
    )
    assert (key_id, env) == (KEY_ID, "prod")
    assert same_key(key, rsa_key)


def test_env_with_pem_text_and_escapes(pkcs1_pem: bytes, rsa_key: rsa.RSAPrivateKey) -> None:
    """KALSHI_PRIVATE_KEY holds PEM text, real newlines or literal '\\n' escapes."""
    for text in (pkcs1_pem.decode(), pkcs1_pem.decode().replace("\n", "\\n")):
        _, key, _ = credentials_from_env({"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY": text})
        assert same_key(key, rsa_key)


def test_env_password_for_encrypted_key(rsa_key: rsa.RSAPrivateKey) -> None:
    """KALSHI_PRIVATE_KEY_PASSWORD decrypts an encrypted key."""
    pem = rsa_key.private_bytes(PEM_NL, PKCS8, serialization.BestAvailableEncryption(b"pw"))
    environ = {
        "KALSHI_API_KEY_ID": KEY_ID,
        "KALSHI_PRIVATE_KEY": pem.decode(),
        "KALSHI_PRIVATE_KEY_PASSWORD": "pw",
    }
    assert same_key(credentials_from_env(environ)[1], rsa_key)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("demo", "demo"), ("DEMO", "demo"), ("prod", "prod"), ("production", "prod"), ("", "prod")],
)
def test_env_kalshi_env(value: str, expected: str, pkcs1_pem: bytes) -> None:
    """KALSHI_ENV selects prod or demo (normalised); empty means prod."""
    environ = {"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY": pkcs1_pem.decode()}
    assert credentials_from_env({**environ, "KALSHI_ENV": value})[2] == expected


def test_env_unknown_kalshi_env_is_value_error(pkcs1_pem: bytes) -> None:
    """An unknown KALSHI_ENV raises ValueError naming the variable and valid values."""
    environ = {"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY": pkcs1_pem.decode()}
    with pytest.raises(ValueError, match=r"KALSHI_ENV='staging'.*'prod' or 'demo'"):
        credentials_from_env({**environ, "KALSHI_ENV": "staging"})


def test_env_nothing_set_names_every_variable() -> None:
    """With nothing set, the error names KALSHI_API_KEY_ID and both key variables."""
    with pytest.raises(AuthenticationError) as info:
        credentials_from_env({})
    message = str(info.value)
    for var in ("KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH", "KALSHI_PRIVATE_KEY "):
        assert var in message


def test_env_only_key_missing_names_only_key_variables() -> None:
    """With the key id set, the error names only the key variables."""
    with pytest.raises(AuthenticationError) as info:
        credentials_from_env({"KALSHI_API_KEY_ID": KEY_ID})
    assert "KALSHI_API_KEY_ID" not in str(info.value)
    assert "KALSHI_PRIVATE_KEY_PATH" in str(info.value)


def test_env_only_key_id_missing_names_it(pkcs1_file: Path) -> None:
    """With the key set but no (or a blank) key id, the error names only KALSHI_API_KEY_ID."""
    with pytest.raises(AuthenticationError) as info:
        credentials_from_env(
            {"KALSHI_API_KEY_ID": "  ", "KALSHI_PRIVATE_KEY_PATH": str(pkcs1_file)}
        )
    assert "KALSHI_API_KEY_ID" in str(info.value)
    assert "KALSHI_PRIVATE_KEY" not in str(info.value)


def test_env_both_key_variables_is_ambiguous(pkcs1_file: Path, pkcs1_pem: bytes) -> None:
    """Setting both KALSHI_PRIVATE_KEY_PATH and KALSHI_PRIVATE_KEY is refused as ambiguous."""
    environ = {
        "KALSHI_API_KEY_ID": KEY_ID,
        "KALSHI_PRIVATE_KEY_PATH": str(pkcs1_file),
        "KALSHI_PRIVATE_KEY": pkcs1_pem.decode(),
    }
    with pytest.raises(AuthenticationError, match="only one"):
        credentials_from_env(environ)


def test_env_pem_variable_without_pem_is_not_echoed(pkcs1_pem: bytes) -> None:
    """KALSHI_PRIVATE_KEY without a BEGIN line is refused without quoting its value."""
    body = "".join(secret_lines(pkcs1_pem))
    with pytest.raises(AuthenticationError, match="KALSHI_PRIVATE_KEY_PATH") as info:
        credentials_from_env({"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY": body})
    assert_no_secret(full_text(info.value), pkcs1_pem)


def test_env_missing_key_file_names_variable_and_path(tmp_path: Path) -> None:
    """A KALSHI_PRIVATE_KEY_PATH to a missing file names the variable and the path."""
    missing = str(tmp_path / "gone.key")
    with pytest.raises(AuthenticationError, match=r"^KALSHI_PRIVATE_KEY_PATH: ") as info:
        credentials_from_env({"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY_PATH": missing})
    assert missing in str(info.value)


# -- kalshi_sync.testing: generate_test_key and check_auth ------------------------------------


def test_generate_test_key_kinds() -> None:
    """generate_test_key() gives PKCS#1 RSA, kind="ed25519" PKCS#8 Ed25519; each PEM loads
    to the private half of the returned public key; an unknown kind is a ValueError."""
    for kind, header, cls in (
        ("rsa", b"-----BEGIN RSA PRIVATE KEY-----", rsa.RSAPrivateKey),
        ("ed25519", b"-----BEGIN PRIVATE KEY-----", ed25519.Ed25519PrivateKey),
    ):
        pem, public = generate_test_key(kind)  # type: ignore[arg-type]
        assert pem.splitlines()[0] == header
        key = load_private_key(pem)
        assert isinstance(key, cls)
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        assert key.public_key().public_bytes(PEM_NL, spki) == public.public_bytes(PEM_NL, spki)
    assert isinstance(generate_test_key()[1], rsa.RSAPublicKey)
    with pytest.raises(ValueError, match="kind"):
        generate_test_key("ec")  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=["rsa", "ed25519"])
def test_key(request: pytest.FixtureRequest) -> tuple[Signer, Any]:
    """A Signer and the matching public key, for each key kind."""
    pem, public = generate_test_key(request.param)
    return Signer.from_key(KEY_ID, pem, clock=time.time), public


def _check(headers: dict[str, str], public: Any, path: str, **kw: Any) -> str | None:
    return check_auth(
        headers.get, path, public_key=public, key_id=KEY_ID, now=time.time(), max_clock_skew=5, **kw
    )


def test_check_auth_accepts_both_kinds_and_takes_the_method(test_key: tuple[Signer, Any]) -> None:
    """check_auth verifies RSA and Ed25519 signatures, over the method it is given (GET by
    default); a query string on the request path is ignored."""
    signer, public = test_key
    get = signer.headers("GET", "/trade-api/ws/v2")
    assert _check(get, public, "/trade-api/ws/v2?x=1") is None
    assert _check(get, public, "/trade-api/ws/v2", method="POST") == "invalid signature"
    post = signer.headers("POST", "/trade-api/v2/portfolio/events/orders")
    assert _check(post, public, "/trade-api/v2/portfolio/events/orders", method="POST") is None
    assert _check(post, public, "/trade-api/v2/portfolio/events/orders", method="post") is None
    assert _check(post, public, "/trade-api/v2/portfolio/events/orders") == "invalid signature"


def test_check_auth_rejects_wrong_signatures(test_key: tuple[Signer, Any]) -> None:
    """A signature by another key of the same kind, by a key of the other kind, over
    another path, or with one flipped bit is rejected."""
    signer, public = test_key
    path = "/trade-api/ws/v2"
    headers = signer.headers("GET", path)
    for kind in ("rsa", "ed25519"):
        other_pem, _ = generate_test_key(kind)
        other = Signer.from_key(KEY_ID, other_pem).headers("GET", path)
        assert _check(other, public, path) == "invalid signature"
    assert _check(headers, public, "/trade-api/ws/v3") == "invalid signature"
    raw = bytearray(base64.b64decode(headers[HEADER_SIGNATURE]))
    raw[7] ^= 0x01
    flipped = {**headers, HEADER_SIGNATURE: base64.b64encode(bytes(raw)).decode()}
    assert _check(flipped, public, path) == "invalid signature"
    assert _check({**headers, HEADER_SIGNATURE: "!!"}, public, path) == "malformed signature"
    assert _check({**headers, HEADER_KEY: "other"}, public, path) == "unknown API key"
