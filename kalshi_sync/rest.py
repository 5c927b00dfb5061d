"""RestClient: Kalshi's REST API for a WebSocket user and a trading bot.

Market data (status, markets, order books), order entry on the V2 endpoints and portfolio reads
(orders, fills, positions, balance), with the same credentials as the WebSocket client. The
trading and portfolio methods live in :mod:`kalshi_sync._trading`, :mod:`kalshi_sync._batch`
and :mod:`kalshi_sync._portfolio`; the HTTP transport (signing, token buckets, error mapping,
retries) in :mod:`kalshi_sync._http`. Responses are parsed with floats read as ``Decimal`` so no
price or count ever passes through a float. Requests are signed when credentials are given (the
full path, e.g. ``/trade-api/v2/markets/X/orderbook``, query excluded) and sent unsigned
otherwise: the public market-data endpoints accept that.

Errors: 401/403 -> AuthenticationError, 429 -> RateLimitError, 5xx ->
ExchangeUnavailableError, any other non-2xx (redirects included: they are not followed,
because the signed headers would travel to the new location) -> HTTPStatusError, or on the
order and portfolio endpoints OrderRejectedError (Kalshi's ``.code``; 404 ->
OrderNotFoundError), all with ``status_code`` and a body excerpt. A 2xx whose body is not the
JSON object expected -> ProtocolError. Transport failures -> KalshiConnectionError /
KalshiTimeoutError. Reads, cancels and other idempotent calls are retried on connection errors,
5xx and 429; order creation follows the rules in :mod:`kalshi_sync._trading`.

Thread safety: ``requests.Session`` is not documented as thread-safe; use one RestClient
per thread (they are cheap) or serialise calls. To share one rate budget between several
clients, pass them the same ``rate_limiter``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

from ._batch import BatchMixin
from ._http import Session, Transport
from ._ratelimit import RateLimiter, RateLimits
from ._rest_decoders import parse_exchange_status
from .account import ExchangeStatus
from .auth import KeySource, Signer
from .environments import Environment, resolve_rest_url
from .errors import ProtocolError
from .orderbook import Orderbook

__all__ = ["RestClient"]

_CENTS = Decimal(100)

Level = tuple[Decimal, Decimal]


class RestClient(BatchMixin):
    """A synchronous client for Kalshi's REST API: market data, orders, portfolio.

    ``key_id`` and ``private_key`` (anything :func:`~kalshi_sync.auth.load_private_key`
    accepts: RSA or Ed25519) go together; without them requests are unsigned (market data
    only). ``base_url`` overrides ``environment`` (plaintext ``http://`` only to loopback unless
    ``allow_insecure``; ``RestClient(key_id, key, base_url=server.rest_url)`` talks to the fake
    exchange). A ``session`` you pass is used as is (its CA bundle, proxies, adapters) and is
    not closed by :meth:`close`; one the client creates is. TLS verification is never turned
    off: a session with ``verify=False`` is refused (point ``verify`` at a CA bundle).

    Rate limits: ``rate_limits`` (default :class:`~kalshi_sync.RateLimits`, Kalshi's Basic
    tier) sets the client-side token buckets, ``None`` turns them off; ``rate_limiter`` shares
    one limiter between clients. Retries: at most ``max_retries`` per call, waiting
    ``backoff * 2**n`` seconds (capped at ``max_backoff``), or a 429's ``Retry-After`` when it
    is at most ``max_retry_after``. ``clock`` (wall time, for signing), ``monotonic`` and
    ``sleep`` are injectable so tests never wait for real.
    """

    def __init__(
        self,
        key_id: str | None = None,
        private_key: KeySource | None = None,
        environment: str | Environment = "prod",
        base_url: str | None = None,
        *,
        timeout: float = 10.0,
        session: Session | None = None,
        clock: Callable[[], float] = time.time,
        allow_insecure: bool = False,
        password: bytes | str | None = None,
        rate_limits: RateLimits | None = RateLimits(),  # noqa: B008 (frozen, shared safely)
        rate_limiter: RateLimiter | None = None,
        max_retries: int = 3,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
        max_retry_after: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if (key_id is None) != (private_key is None):
            raise ValueError("give both key_id and private_key, or neither (unsigned requests)")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be an int >= 0, got {max_retries!r}")
        if backoff < 0 or max_backoff < 0 or max_retry_after < 0:
            raise ValueError("backoff, max_backoff and max_retry_after must be >= 0")
        if session is not None and session.verify is False:
            raise ValueError(
                "the session has verify=False: TLS verification must stay on "
                "(set session.verify to a CA bundle path for a private CA)"
            )
        self.base_url = resolve_rest_url(environment, base_url, allow_insecure=allow_insecure)
        self.timeout = timeout
        signer = (
            Signer.from_key(key_id, private_key, password, clock=clock)
            if key_id is not None and private_key is not None
            else None
        )
        if rate_limiter is None and rate_limits is not None:
            rate_limiter = RateLimiter(rate_limits, monotonic=monotonic, sleep=sleep)
        self._owns_session = session is None
        self._http = Transport(
            self.base_url,
            # The signed path includes the base path (/trade-api/v2), never the host.
            urlsplit(self.base_url).path.rstrip("/"),
            signer=signer,
            session=session if session is not None else Session(),
            timeout=timeout,
            limiter=rate_limiter,
            max_retries=max_retries,
            backoff=backoff,
            max_backoff=max_backoff,
            max_retry_after=max_retry_after,
            clock=clock,
            sleep=sleep,
        )

    @property
    def signed(self) -> bool:
        """True when requests carry the ``KALSHI-ACCESS-*`` auth headers."""
        return self._http.signer is not None

    @property
    def rate_limiter(self) -> RateLimiter | None:
        """The client-side token buckets (None when turned off)."""
        return self._http.limiter

    # -- market data ----------------------------------------------------------------------

    def get_exchange_status(self) -> ExchangeStatus:
        """``GET /exchange/status`` as :class:`~kalshi_sync.account.ExchangeStatus`.

        The top-level ``exchange_active``/``trading_active`` describe exchange index 0 only;
        ``indexes`` has one entry per shard (``status.index(2)`` for one of them).
        """
        return parse_exchange_status(self._http.call("GET", "/exchange/status"))

    def get_market(self, ticker: str) -> dict[str, Any]:
        """``GET /markets/{ticker}``: the ``market`` object."""
        body = self._http.call("GET", f"/markets/{_segment(ticker)}")
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
        for page in self._pages("/markets", "markets", params, orders=False):
            markets.extend(page)
        return markets

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
        body = self._http.call("GET", f"/markets/{_segment(ticker)}/orderbook", params=params)
        yes, no = _parse_orderbook(body)
        return Orderbook.from_levels(ticker, yes, no, use_yes_price=False)

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the session if this client created it. Idempotent."""
        if self._http.closed:
            return
        self._http.closed = True
        if self._owns_session:
            self._http.session.close()

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
        signer = self._http.signer
        who = f"key_id={signer.key_id!r}" if signer else "unsigned"
        return f"RestClient({self.base_url!r}, {who})"


# -- helpers (pure) -------------------------------------------------------------------------


def _segment(ticker: str) -> str:
    if not isinstance(ticker, str) or not ticker:
        raise ValueError(f"ticker must be a non-empty string, got {ticker!r}")
    # Tickers are [A-Z0-9.-]; quoting guards the path against anything else ("/", "?").
    return quote(ticker, safe="")


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
