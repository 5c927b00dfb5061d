"""The HTTP transport behind RestClient: signing, rate limiting, error mapping and retries.

The only module that calls ``requests``. One :meth:`Transport.send` is one HTTP attempt:
it waits for rate-limit tokens, signs (the full path, query excluded), sends without following
redirects (signed headers must not travel to another host), parses the JSON body with floats
read as ``Decimal`` and maps every failure to a typed error:

* transport failure -> KalshiConnectionError / KalshiTimeoutError
* 401/403 -> AuthenticationError; 429 -> RateLimitError (``retry_after`` from ``Retry-After``);
  5xx -> ExchangeUnavailableError
* other 4xx on an order or portfolio endpoint -> OrderRejectedError with Kalshi's ``code``
  (404 -> OrderNotFoundError); elsewhere -> HTTPStatusError
* a 2xx whose body is not the JSON object expected -> ProtocolError

:meth:`Transport.call` retries an *idempotent* request on connection errors, timeouts, 5xx and
429, with bounded exponential backoff (a 429's ``Retry-After`` is honoured up to a bound).
Non-idempotent calls (order creation) run their own loop over :meth:`send` and
:meth:`retry_delay` so they can keep their ``client_order_id`` and resolve what a lost answer
left behind (docs/trading.md, "Retries and idempotency").
"""

from __future__ import annotations

import email.utils
import json
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Literal

import requests

# urllib3 comes with requests; its exceptions tell a refused connection from a lost answer.
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from ._ratelimit import Bucket, RateLimiter
from ._rest_decoders import error_fields
from .auth import Signer
from .environments import user_agent
from .errors import (
    AuthenticationError,
    ClientClosedError,
    ExchangeUnavailableError,
    HTTPStatusError,
    KalshiConnectionError,
    KalshiError,
    KalshiTimeoutError,
    OrderNotFoundError,
    OrderRejectedError,
    ProtocolError,
    RateLimitError,
)

__all__ = ["DEFAULT_COST", "Retry", "Session", "Transport", "is_ambiguous", "query"]

# The session class RestClient accepts and creates, bound here so that this module stays the
# only one that imports requests.
Session = requests.Session

log = logging.getLogger("kalshi_sync")

_EXCERPT = 300  # characters of a response body quoted in an error message
DEFAULT_COST = 10  # Kalshi's token cost of a request unless its page says otherwise

Retry = Literal["idempotent", "unsent", "never"]


def query(params: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters as strings: None dropped, lists comma-joined, bools lower-case."""
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


def _never_connected(cause: BaseException | None) -> bool:
    # requests wraps urllib3's MaxRetryError, whose .reason says which phase failed.
    if isinstance(cause, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(cause, requests.exceptions.ConnectionError) and cause.args:
        reason = getattr(cause.args[0], "reason", None)
        return isinstance(reason, (NewConnectionError, ConnectTimeoutError))
    return False


def is_ambiguous(error: BaseException) -> bool:
    """True when a failed attempt may still have been carried out by the exchange.

    A 429 was refused before any work; a connection that was never made (refused, or timed
    out while connecting) sent nothing. A read timeout, a dropped connection or a 5xx may have
    happened after the exchange acted.
    """
    if isinstance(error, RateLimitError):
        return False
    if isinstance(error, (KalshiTimeoutError, KalshiConnectionError)):
        return not _never_connected(error.__cause__)
    return isinstance(error, ExchangeUnavailableError)


def _retryable(error: BaseException) -> bool:
    return isinstance(
        error, (RateLimitError, ExchangeUnavailableError, KalshiTimeoutError, KalshiConnectionError)
    )


class Transport:
    """Signed HTTP requests to one Kalshi REST base URL (see the module docstring)."""

    def __init__(
        self,
        base_url: str,
        base_path: str,
        *,
        signer: Signer | None,
        session: requests.Session,
        timeout: float,
        limiter: RateLimiter | None,
        max_retries: int,
        backoff: float,
        max_backoff: float,
        max_retry_after: float,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.base_url = base_url
        self.base_path = base_path
        self.signer = signer
        self.session = session
        self.timeout = timeout
        self.limiter = limiter
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.clock = clock
        self.sleep = sleep
        self.closed = False

    # -- one attempt ------------------------------------------------------------------------

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        bucket: Bucket = "read",
        cost: float = DEFAULT_COST,
        orders: bool = False,
    ) -> dict[str, Any]:
        """One attempt; the JSON object answered (``{}`` for a 204). Raises typed errors."""
        if self.closed:
            raise ClientClosedError("this RestClient was closed; create a new one")
        if self.limiter is not None:
            self.limiter.acquire(bucket, cost)
        what = f"{method} {path}"
        headers = {"Accept": "application/json", "User-Agent": user_agent()}
        data: bytes | None = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        if self.signer is not None:
            headers.update(self.signer.headers(method, self.base_path + path))
        try:
            resp = self.session.request(
                method,
                self.base_url + path,
                params=query(params) if params else None,
                data=data,
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
            raise self.status_error(what, resp, orders=orders)
        if resp.status_code == 204 or (method == "DELETE" and not resp.content):
            return {}
        try:
            # parse_float: "0.15" stays exact if Kalshi ever sends a JSON number.
            parsed = json.loads(resp.text, parse_float=Decimal)
        except ValueError:
            raise ProtocolError(
                f"{what}: HTTP {resp.status_code} with a body that is not JSON "
                f"(Content-Type {resp.headers.get('Content-Type')!r})",
                frame=resp.text,
            ) from None
        if not isinstance(parsed, dict):
            raise ProtocolError(f"{what}: expected a JSON object", frame=resp.text)
        return parsed

    def status_error(self, what: str, resp: requests.Response, *, orders: bool) -> KalshiError:
        """The typed error for a non-2xx answer (see the module docstring)."""
        status = resp.status_code
        text = resp.text
        excerpt = " ".join(text[:_EXCERPT].split())
        message = f"{what}: HTTP {status} {resp.reason or ''}".rstrip() + f": {excerpt}"
        if status in (401, 403):
            if self.signer is None:
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
                retry_after=self._retry_after(resp.headers.get("Retry-After")),
            )
        if status >= 500:
            return ExchangeUnavailableError(message, status_code=status, body=text)
        if orders and 400 <= status < 500:
            code, kalshi_message = error_fields(text)
            kind = OrderNotFoundError if status == 404 else OrderRejectedError
            return kind(
                message, status_code=status, body=text, code=code, kalshi_message=kalshi_message
            )
        return HTTPStatusError(message, status_code=status, body=text)

    def _retry_after(self, header: str | None) -> float | None:
        # Retry-After is delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
        if not header:
            return None
        header = header.strip()
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - self.clock())

    # -- retries ----------------------------------------------------------------------------

    def retry_delay(self, attempt: int, error: BaseException) -> float | None:
        """Seconds to wait before retry number ``attempt + 1`` after ``error``; None: give up.

        Only connection errors, timeouts, 5xx and 429 are retried, at most ``max_retries``
        times. A 429's ``Retry-After`` is the wait when given (Kalshi sends none today); one
        longer than ``max_retry_after`` is not waited out.
        """
        if attempt >= self.max_retries or not _retryable(error):
            return None
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            return error.retry_after
        return float(min(self.max_backoff, self.backoff * 2.0**attempt))

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        bucket: Bucket = "read",
        cost: float = DEFAULT_COST,
        orders: bool = False,
        retry: Retry = "idempotent",
        failures: list[KalshiError] | None = None,
    ) -> dict[str, Any]:
        """:meth:`send`, retried per :meth:`retry_delay`.

        ``retry``: ``"idempotent"`` retries every retryable failure (for requests that are
        safe to repeat); ``"unsent"`` only failures the exchange cannot have acted on (a 429,
        a connection never made: for requests that must not run twice); ``"never"``.
        Each failed attempt is appended to ``failures`` when given. A 404 after an attempt
        whose answer was lost is raised with ``after_retry=True``: that attempt may be what
        removed the order.
        """
        attempt = 0
        lost = False
        while True:
            try:
                return self.send(
                    method, path, params=params, body=body, bucket=bucket, cost=cost, orders=orders
                )
            except OrderNotFoundError as exc:
                exc.after_retry = lost
                if failures is not None:
                    failures.append(exc)
                raise
            except KalshiError as exc:
                if failures is not None:
                    failures.append(exc)
                if retry == "never" or (retry == "unsent" and is_ambiguous(exc)):
                    raise
                delay = self.retry_delay(attempt, exc)
                if delay is None:
                    raise
                lost = lost or is_ambiguous(exc)
                log.info(
                    "%s %s failed (%s); retry %d in %.2f s", method, path, exc, attempt + 1, delay
                )
                self.sleep(delay)
                attempt += 1
