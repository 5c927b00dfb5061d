"""RestClient: the few Kalshi REST endpoints a WebSocket user needs (PROTOCOL.md §10).

The only module that imports ``requests``. Responses are parsed with floats read as
``Decimal`` so no price or count ever passes through a float. Requests are signed when
credentials are given (the full path, e.g. ``/trade-api/v2/markets/X/orderbook``, query
excluded) and sent unsigned otherwise: the public market-data endpoints accept that.

Errors: 401/403 -> AuthenticationError, 429 -> RateLimitError, 5xx ->
ExchangeUnavailableError, any other non-2xx (redirects included: they are not followed,
because the signed headers would travel to the new location) -> HTTPStatusError, all with
``status_code`` and a body excerpt. A 2xx whose body is not the JSON object expected ->
ProtocolError. Transport failures -> KalshiConnectionError / KalshiTimeoutError.

Thread safety: ``requests.Session`` is not documented as thread-safe; use one RestClient
per thread (they are cheap) or serialise calls.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from .auth import KeySource, Signer
from .environments import Environment, resolve_rest_url
from .errors import (
    AuthenticationError,
    ClientClosedError,
    ExchangeUnavailableError,
    HTTPStatusError,
    KalshiConnectionError,
    KalshiError,
    KalshiTimeoutError,
    ProtocolError,
    RateLimitError,
)
from .orderbook import Orderbook

__all__ = ["RestClient"]

log = logging.getLogger("kalshi_sync")

_EXCERPT = 300  # characters of a response body quoted in an error message
_CENTS = Decimal(100)

Level = tuple[Decimal, Decimal]


class RestClient:
    """A small synchronous client for Kalshi's REST API.

    ``key_id`` and ``private_key`` (anything :func:`~kalshi_sync.auth.load_private_key`
    accepts) go together; without them requests are unsigned. ``base_url`` overrides
    ``environment`` (plaintext ``http://`` only to loopback unless ``allow_insecure``).
    A ``session`` you pass is used as is (its CA bundle, proxies, adapters) and is not
    closed by :meth:`close`; one the client creates is. TLS verification is never turned
    off: a session with ``verify=False`` is refused (point ``verify`` at a CA bundle).
    """

    def __init__(
        self,
        key_id: str | None = None,
        private_key: KeySource | None = None,
        environment: str | Environment = "prod",
        base_url: str | None = None,
        *,
        timeout: float = 10.0,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        allow_insecure: bool = False,
        password: bytes | str | None = None,
    ) -> None:
        if (key_id is None) != (private_key is None):
            raise ValueError("give both key_id and private_key, or neither (unsigned requests)")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if session is not None and session.verify is False:
            raise ValueError(
                "the session has verify=False: TLS verification must stay on "
                "(set session.verify to a CA bundle path for a private CA)"
            )
        self.base_url = resolve_rest_url(environment, base_url, allow_insecure=allow_insecure)
        # The signed path includes the base path (/trade-api/v2), never the host.
        self._base_path = urlsplit(self.base_url).path.rstrip("/")
        self.timeout = timeout
        self._signer = (
            Signer.from_key(key_id, private_key, password, clock=clock)
            if key_id is not None and private_key is not None
            else None
        )
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._closed = False

    @property
    def signed(self) -> bool:
        """True when requests carry the ``KALSHI-ACCESS-*`` auth headers."""
        return self._signer is not None

    # -- endpoints ------------------------------------------------------------------------

    def get_exchange_status(self) -> dict[str, Any]:
        """``GET /exchange/status``: ``exchange_active``, ``trading_active``, ..."""
        return self._get("/exchange/status")

    def get_market(self, ticker: str) -> dict[str, Any]:
        """``GET /markets/{ticker}``: the ``market`` object."""
        body = self._get(f"/markets/{_segment(ticker)}")
        market = body.get("market")
        if not isinstance(market, dict):
            raise ProtocolError("market response has no 'market' object", frame=_dump(body))
        return market

    def get_markets(self, **filters: Any) -> list[dict[str, Any]]:
        """``GET /markets`` following ``cursor`` until it is empty; every page's markets.

        Filters are query parameters (``event_ticker``, ``series_ticker``, ``status``,
        ``tickers`` as a list or comma string, ``min_close_ts``, ...); ``None`` values are
        dropped, lists are comma-joined, bools sent as ``true``/``false``. ``limit`` (page
        size) defaults to 1000, the maximum. A server that sends a cursor it already sent
        raises ProtocolError instead of looping forever.
        """
        params = {"limit": 1000, **filters}
        markets: list[dict[str, Any]] = []
        seen: set[str] = set()
        while True:
            body = self._get("/markets", params)
            page = body.get("markets") or []  # null and absent both mean an empty page
            if not isinstance(page, list):
                raise ProtocolError("'markets' is not a list", frame=_dump(body))
            markets.extend(page)
            cursor = body.get("cursor") or ""
            if not cursor:
                return markets
            if not isinstance(cursor, str):
                raise ProtocolError("'cursor' is not a string", frame=_dump(body))
            if cursor in seen or cursor == filters.get("cursor"):
                raise ProtocolError(
                    f"GET /markets: the server repeated cursor {cursor[:40]!r} after "
                    f"{len(markets)} markets; stopping instead of looping",
                    frame=cursor,
                )
            seen.add(cursor)
            params["cursor"] = cursor

    def get_orderbook(self, ticker: str, depth: int = 0) -> Orderbook:
        """``GET /markets/{ticker}/orderbook`` as an :class:`~kalshi_sync.orderbook.Orderbook`.

        ``depth`` 0 means all levels, N the best N per side. Both the current
        ``orderbook_fp`` (dollar strings, ``_fp`` counts) and the legacy ``orderbook``
        (``*_dollars`` strings, else integer cents) shapes are read; a null or missing side
        is empty. Both sides are bids; the no side is at no-leg prices
        (``use_yes_price=False``), as the REST API reports it.
        """
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
            raise ValueError(f"depth must be an int >= 0 (0 = all levels), got {depth!r}")
        params = {"depth": depth} if depth else None
        body = self._get(f"/markets/{_segment(ticker)}/orderbook", params)
        yes, no = _parse_orderbook(body)
        return Orderbook.from_levels(ticker, yes, no, use_yes_price=False)

    # -- plumbing -------------------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        if self._closed:
            raise ClientClosedError("this RestClient was closed; create a new one")
        url = self.base_url + path
        what = f"GET {path}"
        headers = {"Accept": "application/json"}
        if self._signer is not None:
            headers.update(self._signer.headers("GET", self._base_path + path))
        try:
            resp = self._session.get(
                url,
                params=_query(params) if params else None,
                headers=headers,
                timeout=self.timeout,
                # A redirect would carry the signed headers to wherever it points.
                allow_redirects=False,
            )
        except requests.Timeout as exc:  # before ConnectionError: ConnectTimeout is both
            raise KalshiTimeoutError(f"{what}: no answer within {self.timeout:g} s") from exc
        except requests.RequestException as exc:
            raise KalshiConnectionError(f"{what}: {type(exc).__name__}: {exc}") from exc
        log.debug("%s -> %s", what, resp.status_code)
        if not 200 <= resp.status_code < 300:
            raise self._status_error(what, resp)
        try:
            # parse_float: "0.15" stays exact if Kalshi ever sends a JSON number.
            body = json.loads(resp.text, parse_float=Decimal)
        except ValueError:
            raise ProtocolError(
                f"{what}: HTTP {resp.status_code} with a body that is not JSON "
                f"(Content-Type {resp.headers.get('Content-Type')!r})",
                frame=resp.text,
            ) from None
        if not isinstance(body, dict):
            raise ProtocolError(f"{what}: expected a JSON object", frame=resp.text)
        return body

    def _status_error(self, what: str, resp: requests.Response) -> KalshiError:
        status = resp.status_code
        text = resp.text
        excerpt = " ".join(text[:_EXCERPT].split())
        message = f"{what}: HTTP {status} {resp.reason or ''}".rstrip() + f": {excerpt}"
        if status in (401, 403):
            if self._signer is None:
                hint = "this endpoint needs credentials: pass key_id and private_key"
            else:
                hint = (
                    "check that the key id belongs to this private key and to this environment "
                    "(demo and prod keys differ), and that this machine's clock is accurate "
                    "(requests are signed with a timestamp)"
                )
            return AuthenticationError(f"{message} ({hint})", status_code=status)
        if status == 429:
            return RateLimitError(
                f"{message} (rate limited: slow down and retry later)",
                status_code=status,
                body=text,
            )
        if status >= 500:
            return ExchangeUnavailableError(message, status_code=status, body=text)
        return HTTPStatusError(message, status_code=status, body=text)

    def close(self) -> None:
        """Close the session if this client created it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> RestClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        who = f"key_id={self._signer.key_id!r}" if self._signer else "unsigned"
        return f"RestClient({self.base_url!r}, {who})"


# -- helpers (pure) -------------------------------------------------------------------------


def _segment(ticker: str) -> str:
    if not isinstance(ticker, str) or not ticker:
        raise ValueError(f"ticker must be a non-empty string, got {ticker!r}")
    # Tickers are [A-Z0-9.-]; quoting guards the path against anything else ("/", "?").
    return quote(ticker, safe="")


def _query(params: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, (list, tuple, set, frozenset)):
            out[name] = ",".join(str(v) for v in value)
        else:
            out[name] = str(value)
    return out


def _dump(body: object) -> str:
    return json.dumps(body, default=str)[:200]


def _number(value: object, what: str) -> Decimal:
    # Strings ("0.1500", "100.00") and ints are exact; a Decimal comes from parse_float.
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ProtocolError(f"orderbook {what} is not a number: {value!r:.60}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ProtocolError(f"orderbook {what} is not a number: {value!r:.60}") from None
    if not number.is_finite():
        raise ProtocolError(f"orderbook {what} is not finite: {value!r}")
    return number


def _levels(raw: object, *, cents: bool) -> list[Level]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ProtocolError(f"orderbook side is not a list: {_dump(raw)}")
    levels: list[Level] = []
    for item in raw:
        if not isinstance(item, list) or len(item) < 2:
            raise ProtocolError(f"orderbook level is not [price, count]: {_dump(item)}")
        price = _number(item[0], "price")
        levels.append((price / _CENTS if cents else price, _number(item[1], "count")))
    return levels


def _side(book: Mapping[str, Any], side: str, *, legacy: bool) -> list[Level]:
    # Preference per side: dollar strings, then (legacy only) integer cents.
    for key in (f"{side}_dollars", f"{side}_dollars_fp"):
        if book.get(key) is not None:
            return _levels(book[key], cents=False)
    if legacy and book.get(side) is not None:
        return _levels(book[side], cents=True)
    return []


def _parse_orderbook(body: Mapping[str, Any]) -> tuple[list[Level], list[Level]]:
    for key, legacy in (("orderbook_fp", False), ("orderbook", True)):
        if key in body:
            book = body[key]
            if book is None:
                return [], []
            if not isinstance(book, dict):
                raise ProtocolError(f"'{key}' is not an object", frame=_dump(body))
            return _side(book, "yes", legacy=legacy), _side(book, "no", legacy=legacy)
    raise ProtocolError(
        "orderbook response has neither 'orderbook_fp' nor 'orderbook'", frame=_dump(body)
    )
