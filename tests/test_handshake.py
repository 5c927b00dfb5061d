"""The signed handshake end to end: both key kinds in every form over ws:// and wss://, the
header set the client sends, extra_headers, 401 versus 403, and REST signing against a
loopback HTTP server that verifies each signature (docs/protocol.md, 'Signing',
'Handshake headers', 'Authentication failures')."""

from __future__ import annotations

import json
import os
import queue
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _helpers import events, make_client
from cryptography.hazmat.primitives import serialization

import kalshi_sync as ks
from kalshi_sync.auth import HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP
from kalshi_sync.testing import (
    FakeKalshiServer,
    MarketSimulator,
    check_auth,
    generate_test_key,
    tls_context_pair,
)

pytestmark = pytest.mark.integration

KEY_ID = "hs-key"
KINDS = ["rsa", "ed25519"]
FORMS = ["path", "text", "bytes", "object"]
SIGNED = {HEADER_KEY.lower(), HEADER_TIMESTAMP.lower(), HEADER_SIGNATURE.lower()}
USER_AGENT = f"kalshi-sync/{ks.__version__}"


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple[bytes, Any]]:
    """One key of each kind for the module: kind -> (PEM, public key)."""
    return {kind: generate_test_key(kind) for kind in KINDS}  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    return tls_context_pair()


def key_source(pem: bytes, form: str, tmp_path: Path) -> Any:
    """The private key as a caller would pass it: a path, PEM text, PEM bytes or an object."""
    if form == "path":
        path = tmp_path / "kalshi.key"
        path.write_bytes(pem)
        return path
    if form == "text":
        return pem.decode()
    if form == "bytes":
        return pem
    return serialization.load_pem_private_key(pem, password=None)


def lowered(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


@pytest.fixture
def ed_pem(keys: dict[str, tuple[bytes, Any]]) -> bytes:
    return keys["ed25519"][0]


@pytest.fixture
def ws_server(keys: dict[str, tuple[bytes, Any]]) -> Iterator[FakeKalshiServer]:
    """A plain ws:// fake server that verifies Ed25519 signatures for KEY_ID."""
    with FakeKalshiServer(public_key=keys["ed25519"][1], key_id=KEY_ID) as server:
        yield server


# -- both key kinds, every form, ws:// and wss:// ---------------------------------------------


@pytest.mark.parametrize("scheme", ["ws", "wss"])
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("kind", KINDS)
def test_each_key_kind_and_form_connects(
    kind: str,
    form: str,
    scheme: str,
    keys: dict[str, tuple[bytes, Any]],
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
    tmp_path: Path,
) -> None:
    """An RSA and an Ed25519 key, each as path/text/bytes/object, open a connection to a
    fake server that verifies the signature with the registered public key, over ws://
    and over wss:// with verification on; the handshake has a User-Agent and no Origin."""
    pem, public = keys[kind]
    server_ctx, client_ctx = tls
    server = FakeKalshiServer(
        public_key=public, key_id=KEY_ID, ssl_context=server_ctx if scheme == "wss" else None
    )
    with server:
        assert server.url.startswith(f"{scheme}://")
        kw: dict[str, Any] = {"ssl_context": client_ctx} if scheme == "wss" else {}
        with make_client(server, key_source(pem, form, tmp_path), key_id=KEY_ID, **kw) as client:
            assert client.connected
            client.subscribe("ticker", ["T1"])  # the connection really carries commands
        [handshake] = server.handshakes
    assert (handshake["status"], handshake["reason"]) == (101, "ok")
    headers = lowered(handshake["headers"])
    assert headers["user-agent"] == USER_AGENT
    assert "origin" not in headers


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_signatures_are_refused_for_both_kinds(
    kind: str, keys: dict[str, tuple[bytes, Any]]
) -> None:
    """A server holding one key's public half refuses (401) a signature made by another key
    of the same kind and one made by a key of the other kind."""
    with FakeKalshiServer(public_key=keys[kind][1], key_id=KEY_ID) as server:
        other_kind = "ed25519" if kind == "rsa" else "rsa"
        for pem in (generate_test_key(kind)[0], keys[other_kind][0]):  # type: ignore[arg-type]
            client = make_client(server, pem, key_id=KEY_ID)
            with pytest.raises(ks.AuthenticationError) as info:
                client.start(timeout=5)
            assert info.value.status_code == 401
        assert [h["reason"] for h in server.handshakes] == ["invalid signature"] * 2


# -- the header set ------------------------------------------------------------------------


def test_handshake_header_set_is_pinned(ws_server: FakeKalshiServer, ed_pem: bytes) -> None:
    """The upgrade request carries exactly: the WebSocket handshake's own headers, our
    User-Agent, the caller's extra headers and the three signed ones -- no Origin. A
    reconnect sends the same set, freshly signed."""
    extra = {"X-Bot-Name": "alpha", "X-Trace": "t-1"}
    client = make_client(ws_server, ed_pem, key_id=KEY_ID, extra_headers=extra)
    connected = events(client, "connected")
    with client:
        connected.get(timeout=5)
        ws_server.wait_for_connections(1)
        ws_server.drop_connections()
        assert connected.get(timeout=5).reconnect is True
    first, second = ws_server.handshakes[:2]
    for handshake in (first, second):
        assert handshake["status"] == 101  # the signature verified
        headers = lowered(handshake["headers"])
        assert set(headers) == {
            "host",
            "upgrade",
            "connection",
            "sec-websocket-key",
            "sec-websocket-version",
            "user-agent",
            "x-bot-name",
            "x-trace",
            *SIGNED,
        }
        assert headers["user-agent"] == USER_AGENT
        assert (headers["x-bot-name"], headers["x-trace"]) == ("alpha", "t-1")
        assert headers[HEADER_KEY.lower()] == KEY_ID
    ts = HEADER_TIMESTAMP.lower()
    assert int(lowered(first["headers"])[ts]) <= int(lowered(second["headers"])[ts])


def test_extra_user_agent_replaces_ours(ws_server: FakeKalshiServer, ed_pem: bytes) -> None:
    """A User-Agent in extra_headers (any case) is sent instead of ours, never beside it."""
    client = make_client(ws_server, ed_pem, key_id=KEY_ID, extra_headers={"user-agent": "bot/7"})
    with client:
        pass
    [handshake] = ws_server.handshakes
    names = [k for k in handshake["headers"] if k.lower() == "user-agent"]
    assert names == ["user-agent"]
    assert handshake["headers"]["user-agent"] == "bot/7"


@pytest.mark.parametrize(
    "extra",
    [
        {"KALSHI-ACCESS-KEY": "someone-else"},
        {"kalshi-access-signature": "forged"},
        {"Kalshi-Access-Timestamp": "0"},
        {"X-Ok": "fine", "KALSHI-ACCESS-key": "x"},
        {"X-Inject": "a\r\nKALSHI-ACCESS-KEY: forged"},
        {"X-Inject\r\nKALSHI-ACCESS-KEY": "forged"},
        {"X-Newline": "a\nb"},
        {"Host": "evil.example"},
    ],
    ids=repr,
)
def test_extra_headers_cannot_override_signed_ones_or_inject(
    ws_server: FakeKalshiServer, ed_pem: bytes, extra: dict[str, str]
) -> None:
    """extra_headers naming a signed header (any case), a handshake header, or carrying
    CR/LF is refused with ValueError when the client is built: nothing is sent."""
    with pytest.raises(ValueError, match="extra_headers"):
        make_client(ws_server, ed_pem, key_id=KEY_ID, extra_headers=extra)
    assert ws_server.handshakes == []


# -- 401 versus 403 ---------------------------------------------------------------------------


def test_403_says_it_may_be_a_block_and_shows_the_body(
    ws_server: FakeKalshiServer, ed_pem: bytes
) -> None:
    """A 403 handshake is fatal at once (one attempt). Its message says it may be a block in
    front of the exchange (IP, region, permission), not only a bad key, and shows the start
    of the response body on one printable line, truncated."""
    body = (
        "<HTML><HEAD><TITLE>ERROR: The request could not be satisfied</TITLE></HEAD>\n"
        "<BODY>\x1b[31mRequest blocked.\x07 We can't connect to the server for this app.\n"
        + "Generated by cloudfront (CloudFront) " * 20
        + "</BODY></HTML>"
    )
    ws_server.refuse_next_handshakes(5, 403, body=body)
    client = make_client(ws_server, ed_pem, key_id=KEY_ID)
    with pytest.raises(ks.AuthenticationError) as info:
        client.start(timeout=5)
    message = str(info.value)
    assert info.value.status_code == 403
    assert len(ws_server.handshakes) == 1  # fatal: not retried
    assert "403" in message
    assert "block in front of the exchange" in message
    for word in ("IP address", "region", "permission", "key"):
        assert word in message
    assert "ERROR: The request could not be satisfied" in message
    assert "?[31mRequest blocked.?" in message  # control characters made visible
    assert "..." in message and "</HTML>" not in message  # truncated
    assert message.isprintable()  # one line: no newline, no escape codes
    assert "clock" not in message


def test_403_with_an_empty_body(ws_server: FakeKalshiServer, ed_pem: bytes) -> None:
    """An empty 403 body is shown as such, and the block explanation is still given."""
    ws_server.refuse_next_handshakes(1, 403, body="")
    client = make_client(ws_server, ed_pem, key_id=KEY_ID)
    with pytest.raises(ks.AuthenticationError, match=r"403 Forbidden: \(empty body\)\. .*block"):
        client.start(timeout=5)


def test_401_keeps_the_key_and_clock_advice(ws_server: FakeKalshiServer, ed_pem: bytes) -> None:
    """A 401 is fatal at once and its message points at the key id, the key, the
    environment and the clock, with the server's reason; it does not talk of blocks."""
    ws_server.set_auth_failure(True)
    client = make_client(ws_server, ed_pem, key_id=KEY_ID)
    with pytest.raises(ks.AuthenticationError) as info:
        client.start(timeout=5)
    message = str(info.value)
    assert info.value.status_code == 401
    assert len(ws_server.handshakes) == 1
    assert "HTTP 401" in message and "'authentication failed'" in message
    for words in ("API key id", "private key", "environment", "clock"):
        assert words in message
    assert "block" not in message
    assert message.isprintable()


# -- REST: a loopback server that verifies every signature ------------------------------------


class _RestHandler(BaseHTTPRequestHandler):
    """Answers GET /trade-api/v2/markets[/T] after verifying the signature with check_auth,
    for the request's own method; records every request on the server."""

    server: _RestServer

    def do_GET(self) -> None:
        srv = self.server
        get = self.headers.get
        now = srv.clock()
        verdict = check_auth(
            get,
            self.path,
            public_key=srv.public_key,
            key_id=KEY_ID,
            now=now,
            max_clock_skew=30,
            method=self.command,
        )
        # The same headers checked as if for another method must fail: the method is signed.
        as_post = check_auth(
            get,
            self.path,
            public_key=srv.public_key,
            key_id=KEY_ID,
            now=now,
            max_clock_skew=30,
            method="POST",
        )
        srv.requests.put(
            {
                "path": self.path,
                "headers": dict(self.headers.items()),
                "verdict": verdict,
                "as_post": as_post,
            }
        )
        if verdict is not None:
            self._reply(401, {"code": "authentication_error", "message": verdict})
        elif self.path.startswith("/trade-api/v2/markets/"):
            self._reply(200, {"market": {"ticker": self.path.rsplit("/", 1)[1]}})
        else:
            self._reply(200, {"markets": [{"ticker": "T1"}], "cursor": ""})

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass


class _RestServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, public_key: Any) -> None:
        super().__init__(("127.0.0.1", 0), _RestHandler)
        self.public_key = public_key
        self.clock = time.time
        self.requests: queue.Queue[dict[str, Any]] = queue.Queue()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/trade-api/v2"


@pytest.fixture
def rest_server() -> Iterator[Any]:
    """``rest_server(public_key)`` -> a started loopback REST server; all shut down after."""
    started: list[tuple[_RestServer, threading.Thread]] = []

    def start(public_key: Any) -> _RestServer:
        srv = _RestServer(public_key)
        # A short poll interval only makes shutdown() prompt; requests never wait on it.
        thread = threading.Thread(
            target=srv.serve_forever, args=(0.02,), name="rest-loopback", daemon=True
        )
        thread.start()
        started.append((srv, thread))
        return srv

    yield start
    for srv, thread in started:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("kind", KINDS)
def test_rest_requests_are_signed_with_either_kind(
    kind: str, form: str, keys: dict[str, tuple[bytes, Any]], rest_server: Any, tmp_path: Path
) -> None:
    """RestClient with an RSA or Ed25519 key, as path/text/bytes/object, signs each request
    so that a loopback server verifying with the public key (and the request's method)
    accepts it; the query string is not signed; the User-Agent is ours."""
    pem, public = keys[kind]
    srv = rest_server(public)
    rest = ks.RestClient(KEY_ID, key_source(pem, form, tmp_path), base_url=srv.base_url)
    try:
        assert rest.get_market("T-ABC")["ticker"] == "T-ABC"
        assert [m["ticker"] for m in rest.get_markets(status="open")] == ["T1"]
    finally:
        rest.close()
    seen = [srv.requests.get(timeout=5), srv.requests.get(timeout=5)]
    assert seen[1]["path"].startswith("/trade-api/v2/markets?")  # a query was sent...
    for request in seen:
        assert request["verdict"] is None  # ...and every signature verified without it
        assert request["as_post"] == "invalid signature"
        assert lowered(request["headers"])["user-agent"] == USER_AGENT


@pytest.mark.parametrize("kind", KINDS)
def test_rest_server_refuses_another_keys_signature(
    kind: str, keys: dict[str, tuple[bytes, Any]], rest_server: Any
) -> None:
    """The loopback REST server holding one key refuses a signature by the other kind's
    key, and RestClient raises AuthenticationError (401)."""
    other = "ed25519" if kind == "rsa" else "rsa"
    srv = rest_server(keys[kind][1])
    rest = ks.RestClient(KEY_ID, keys[other][0], base_url=srv.base_url, max_retries=0)
    try:
        with pytest.raises(ks.AuthenticationError) as info:
            rest.get_market("T1")
    finally:
        rest.close()
    assert info.value.status_code == 401
    assert srv.requests.get(timeout=5)["verdict"] == "invalid signature"


# -- the command line -----------------------------------------------------------------------


def test_cli_watch_signs_with_an_ed25519_key_file(
    keys: dict[str, tuple[bytes, Any]], tmp_path: Path
) -> None:
    """`kalshi-sync watch` with KALSHI_PRIVATE_KEY_PATH pointing at an Ed25519 key connects
    (the server verifies the Ed25519 signature) and shows the book; no key material leaks."""
    pem, public = keys["ed25519"]
    key_file = tmp_path / "kalshi-ed25519.key"
    key_file.write_bytes(pem)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    env.update(KALSHI_API_KEY_ID=KEY_ID, KALSHI_PRIVATE_KEY_PATH=str(key_file))
    with FakeKalshiServer(public_key=public, key_id=KEY_ID) as server:
        with MarketSimulator(server, ["ED-1"], seed=3):
            res = subprocess.run(
                [sys.executable, "-m", "kalshi_sync", "watch", "ED-1", "--url", server.url,
                 "--seconds", "1"],
                capture_output=True, text=True, timeout=60, env=env,
            )  # fmt: skip
        statuses = [h["status"] for h in server.handshakes]
    assert res.returncode == 0, res.stderr
    assert statuses and set(statuses) == {101}
    assert "ED-1  [live]" in res.stdout
    for line in pem.decode().splitlines()[1:-1]:
        assert line not in res.stdout + res.stderr
