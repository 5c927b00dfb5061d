"""Security properties of the client, pinned: the private key never reaches logs, reprs,
exceptions or recordings; recordings hold no auth headers; ``wss://`` verifies the chain
and the hostname by default; plaintext ``ws://`` only to loopback unless explicitly
allowed."""

from __future__ import annotations

import base64
import json
import logging
import pickle
import queue
import traceback
from typing import Any

import pytest
from _helpers import make_client as _make_client
from _helpers import wait_for

import kalshi_sync as ks
from kalshi_sync.auth import HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP
from kalshi_sync.testing import FakeKalshiServer, generate_test_key

pytestmark = pytest.mark.integration

T1 = "SEC-T1"


def make_client(server: FakeKalshiServer, pem: Any, **kw: Any) -> ks.KalshiClient:
    return _make_client(server, pem, key_id="sec-key-id", **kw)


def secrets_of(pem: bytes) -> list[str]:
    """Strings that must never appear: every base64 line of the PEM body, the DER as one
    base64 string (pieces of it), and the secret itself -- an RSA key's private exponent in
    decimal and hex, an Ed25519 key's 32-byte seed in hex and base64."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    lines = [ln for ln in pem.decode().splitlines() if ln and not ln.startswith("-----")]
    key = serialization.load_pem_private_key(pem, password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        seed = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return [*lines, seed.hex(), base64.b64encode(seed).decode()[:40]]
    d = key.private_numbers().d  # type: ignore[union-attr]
    der = base64.b64encode(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    ).decode()
    chunks = [der[i : i + 40] for i in range(0, len(der) - 40, 200)]
    return [*lines, *chunks, str(d)[:40], format(d, "x")[:40]]


def assert_clean(text: str, pem: bytes) -> None:
    for secret in secrets_of(pem):
        assert secret not in text, f"key material found: {secret[:12]}..."


@pytest.fixture(params=["rsa", "ed25519"])
def any_kind(request, key_pair):
    """(server, private PEM) for an RSA key and for an Ed25519 key."""
    pem, public = key_pair if request.param == "rsa" else generate_test_key("ed25519")
    srv = FakeKalshiServer(public_key=public, ping_interval=1.0).start()
    try:
        yield srv, pem
    finally:
        srv.stop()


def test_private_key_never_in_logs_reprs_events_or_errors(any_kind, caplog):
    """A whole session at DEBUG (connect, subscribe, drop, reconnect, 401), with an RSA and
    with an Ed25519 key, logs, reprs and delivers nothing that contains the key or a
    request signature."""
    server, private_pem = any_kind
    caplog.set_level(logging.DEBUG)  # every logger, websocket-client's included
    server.set_book(T1, yes=[("0.42", "3")])
    seen: list[Any] = []
    client = make_client(server, private_pem)
    client.on("*", seen.append)
    client.start()
    sub = client.subscribe("orderbook_delta", [T1])
    server.apply_delta(T1, "yes", "0.42", "1")
    server.drop_connections()
    wait_for(lambda: client.connected and sub.state == "active")
    server.set_auth_failure(True)
    server.drop_connections()
    with pytest.raises(ks.AuthenticationError) as info:
        client.run_forever()
    # Client-side records only: the fake server logs the headers it received (it is the
    # other end of the wire, and a test tool).
    logged = [
        f"{r.name} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith("kalshi_sync.testing")
    ]
    assert logged  # websocket-client logs the 401 itself, for one
    texts = [*logged, repr(client), str(client.stats()), repr(sub), repr(client._signer)]
    texts += [repr(m) for m in seen] + [str(m) for m in seen]
    texts += ["".join(traceback.format_exception(info.value)), repr(info.value)]
    blob = "\n".join(texts)
    assert_clean(blob, private_pem)
    for shake in server.handshakes:  # signatures are replayable for a while: not logged
        signature = shake["headers"].get(HEADER_SIGNATURE)
        assert signature and signature not in blob
    with pytest.raises(TypeError):
        pickle.dumps(client._signer)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda pem: pem.replace(b"-----BEGIN RSA PRIVATE KEY-----\n", b""),
        lambda pem: pem[:-80] + b"\n-----END RSA PRIVATE KEY-----\n",
        lambda pem: pem.replace(b"\n", b"\\n").decode().replace("A", "*", 3),
        lambda pem: pem.decode().replace("RSA PRIVATE", "PUBLIC"),
        lambda pem: b"".join(pem.splitlines()[1:20]).decode(),
    ],
)
def test_key_loading_errors_never_echo_key_material(private_pem, mangle):
    """A mangled key fails with an AuthenticationError whose message, repr and formatted
    traceback (context suppressed) hold no key material."""
    bad = mangle(private_pem)
    with pytest.raises((ks.AuthenticationError, TypeError, ValueError)) as info:
        ks.KalshiClient("id", bad, url="ws://127.0.0.1:9/trade-api/ws/v2")
    exc = info.value
    assert_clean(str(exc) + repr(exc) + "".join(traceback.format_exception(exc)), private_pem)


def test_a_key_fragment_mistaken_for_a_path_is_not_echoed(private_pem):
    """Two base64 lines of the key body passed as ``private_key`` (a truncated env var)
    fail without echoing them: they are key material, not a path."""
    fragment = b"".join(private_pem.splitlines()[1:3]).decode()
    with pytest.raises(ks.AuthenticationError) as info:
        ks.KalshiClient("id", fragment, url="ws://127.0.0.1:9/trade-api/ws/v2")
    assert fragment not in str(info.value)


def test_recordings_hold_frames_only_no_auth_headers(server, private_pem, tmp_path):
    """record= writes received frames only: no auth header, key id, signature or key."""
    server.set_book(T1, yes=[("0.42", "3")])
    path = tmp_path / "rec.jsonl"
    with make_client(server, private_pem, record=path) as client:
        client.subscribe("orderbook_delta", [T1])
        server.apply_delta(T1, "yes", "0.42", "1")
        server.drop_connections()
        wait_for(lambda: client.connected and client.stats()["by_type"].get("subscribed") == 2)
        server.apply_delta(T1, "no", "0.50", "2")
        wait_for(lambda: client.stats()["by_type"].get("orderbook_delta") == 2)
    text = path.read_text()
    assert text
    for line in text.splitlines():
        assert set(json.loads(line)) <= {"t_ns", "frame", "b64"}
    for word in (HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, "sec-key-id", "Authorization"):
        assert word.lower() not in text.lower()
    for shake in server.handshakes:
        assert shake["headers"][HEADER_SIGNATURE] not in text
    assert_clean(text, private_pem)


def test_wss_verifies_the_chain_by_default(key_pair, private_pem):
    """wss:// with no ssl_context uses the system CAs: a certificate from an unknown CA
    never connects, and the failure says why (no silent fallback to no verification)."""
    from kalshi_sync.testing import tls_context_pair

    server_ctx, _ = tls_context_pair()
    srv = FakeKalshiServer(public_key=key_pair[1], ssl_context=server_ctx).start()
    lost: queue.Queue[Any] = queue.Queue()
    try:
        client = make_client(srv, private_pem)
        client.on("disconnected", lost.put)
        with pytest.raises(TimeoutError):
            client.start(timeout=1.0)
        errors = [repr(e.error) for e in list(lost.queue)]
        assert any("CERTIFICATE_VERIFY_FAILED" in e for e in errors), errors
        assert all(h["status"] != 101 for h in srv.handshakes)
    finally:
        srv.stop()


def test_wss_verifies_the_hostname(key_pair, private_pem):
    """A trusted CA's certificate for another host name is refused: the client sends the
    URL's host for SNI and checks it against the certificate."""
    import ssl

    import trustme

    ca = trustme.CA()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("not-this-host.example").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    srv = FakeKalshiServer(public_key=key_pair[1], ssl_context=server_ctx).start()
    lost: queue.Queue[Any] = queue.Queue()
    try:
        client = make_client(srv, private_pem, ssl_context=client_ctx)
        client.on("disconnected", lost.put)
        with pytest.raises(TimeoutError):
            client.start(timeout=1.0)
        errors = [repr(e.error) for e in list(lost.queue)]
        assert any("hostname" in e.lower() or "IP address mismatch" in e for e in errors), errors
    finally:
        srv.stop()


@pytest.mark.parametrize(
    "url",
    [
        "ws://example.com/trade-api/ws/v2",
        "ws://10.0.0.1/trade-api/ws/v2",
        "ws://0.0.0.0:8765/trade-api/ws/v2",
        "ws://localhost.evil.example/trade-api/ws/v2",
        "ws://127.0.0.1.nip.io/trade-api/ws/v2",
        "ws://[::ffff:10.0.0.1]/trade-api/ws/v2",
        "ws://2130706433/trade-api/ws/v2",
    ],
)
def test_plaintext_to_a_remote_host_is_refused(private_pem, url):
    """ws:// to anything but loopback raises ValueError unless allow_insecure=True."""
    with pytest.raises(ValueError, match="allow_insecure"):
        ks.KalshiClient("id", private_pem, url=url)
    client = ks.KalshiClient("id", private_pem, url=url, allow_insecure=True)
    client.close()


@pytest.mark.parametrize(
    "url",
    [
        "ws://127.0.0.1:8765/trade-api/ws/v2",
        "ws://127.9.9.9:8765/trade-api/ws/v2",
        "ws://localhost:8765/trade-api/ws/v2",
        "ws://[::1]:8765/trade-api/ws/v2",
    ],
)
def test_plaintext_to_loopback_is_allowed(private_pem, url):
    """ws:// to loopback (tests, a local fake server) needs no opt-in."""
    ks.KalshiClient("id", private_pem, url=url).close()


def test_rest_plaintext_and_redirects_are_refused(private_pem):
    """REST: http:// only to loopback (ValueError otherwise) and signed requests never
    follow redirects (they would carry the signature elsewhere)."""
    with pytest.raises(ValueError, match="allow_insecure"):
        ks.RestClient("id", private_pem, base_url="http://example.com/trade-api/v2")
    import responses

    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.GET,
            "https://external-api.kalshi.com/trade-api/v2/exchange/status",
            status=302,
            headers={"Location": "https://elsewhere.example/steal"},
        )
        rest = ks.RestClient("id", private_pem)
        with pytest.raises(ks.KalshiError):
            rest.get_exchange_status()
        assert len(rsps.calls) == 1  # not followed
        rest.close()


def test_other_keys_signature_is_refused_and_not_retried(server):
    """A key the server does not know: AuthenticationError at start, one handshake only."""
    other_pem, _ = generate_test_key()
    client = make_client(server, other_pem)
    with pytest.raises(ks.AuthenticationError) as info:
        client.start(timeout=5)
    assert len(server.handshakes) == 1
    assert_clean(str(info.value), other_pem)


def test_recording_files_are_private_to_the_owner(tmp_path):
    """A recording created by the client is readable by its owner only (mode 0600)."""
    from kalshi_sync.recording import Recorder

    path = tmp_path / "private.jsonl"
    with Recorder(path) as rec:
        rec.write(b'{"type":"fill"}', 1)
    assert path.stat().st_mode & 0o777 == 0o600
