"""Helpers for tests of the fake exchange's REST side: a plain ``requests`` caller that
signs with ``cryptography`` directly (not the project's signer), so the server is pinned
independently of the client library, and a signed WebSocket connector. Fixtures:
``_fake_rest_fixtures``."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import urlsplit

import requests
import websocket
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from kalshi_sync.testing import FakeKalshiServer

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
KEY_ID = "trader-1"
T1 = "KXFAKE-26JAN01-T50"


def order_body(**fields: Any) -> dict[str, Any]:
    """A V2 create body: a 1-contract GTC bid at 0.50 on T1 unless ``fields`` say otherwise
    (a field given as None is left out)."""
    body = {
        "ticker": T1,
        "side": "bid",
        "price": "0.50",
        "count": "1",
        "time_in_force": "good_till_canceled",
        "self_trade_prevention_type": "taker_at_cross",
        **fields,
    }
    return {k: v for k, v in body.items() if v is not None}


def load(pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey)
    return key


def sign(key: PrivateKey, message: bytes) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.sign(message)
    else:
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
        raw = key.sign(message, pss, hashes.SHA256())
    return base64.b64encode(raw).decode()


def auth(key: PrivateKey, method: str, path: str, key_id: str = KEY_ID) -> dict[str, str]:
    ts = str(int(time.time() * 1000))
    return {
        "KALSHI-ACCESS-KEY": key_id,
        "KALSHI-ACCESS-TIMESTAMP": ts,
        "KALSHI-ACCESS-SIGNATURE": sign(key, (ts + method + path).encode()),
    }


class Api:
    """Signed JSON calls against ``server.rest_url`` with one keep-alive session."""

    def __init__(self, server: FakeKalshiServer, key: PrivateKey, key_id: str = KEY_ID) -> None:
        self.base = server.rest_url
        self.key, self.key_id = key, key_id
        self.session = requests.Session()

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        signed_as: str | None = None,
        **params: Any,
    ) -> requests.Response:
        url = self.base + path
        headers = auth(self.key, signed_as or method, urlsplit(url).path, self.key_id)
        data = None if body is None else json.dumps(body)
        if data is not None:
            headers["Content-Type"] = "application/json"
        return self.session.request(
            method, url, params=params or None, data=data, headers=headers, timeout=10
        )

    def ok(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        resp = self.call(method, path, body, **params)
        assert 200 <= resp.status_code < 300, (resp.status_code, resp.text)
        return resp.json() if resp.content else None

    def create(self, **fields: Any) -> Any:
        return self.ok("POST", "/portfolio/events/orders", order_body(**fields))

    def close(self) -> None:
        self.session.close()


def ws_connect(
    server: FakeKalshiServer, key: PrivateKey, key_id: str = KEY_ID
) -> websocket.WebSocket:
    path = urlsplit(server.url).path
    headers = [f"{k}: {v}" for k, v in auth(key, "GET", path, key_id).items()]
    return websocket.create_connection(server.url, header=headers, timeout=5)


def ws_subscribe(ws: websocket.WebSocket, channels: list[str], tickers: list[str]) -> list[Any]:
    """Subscribe and read the replies: one ``subscribed`` per channel, then snapshots."""
    params = {"channels": channels, "market_tickers": tickers}
    ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": params}))
    count = len(channels) + (len(tickers) if "orderbook_delta" in channels else 0)
    return [json.loads(ws.recv()) for _ in range(count)]


def ws_read(ws: websocket.WebSocket, n: int) -> list[dict[str, Any]]:
    frames = [json.loads(ws.recv()) for _ in range(n)]
    assert all(isinstance(f, dict) for f in frames)
    return frames
