"""Exceptions raised by kalshi_sync, and Kalshi's WebSocket error codes.

The tree::

    KalshiError
    ├── AuthenticationError          bad or unloadable key; HTTP 401/403 (fatal: never retried)
    ├── ProtocolError                a frame that cannot be decoded (.frame: a short excerpt)
    ├── SubscriptionError            the server answered a command with an error (.code, .message)
    ├── ClientClosedError            use after close() (also a RuntimeError)
    ├── KalshiConnectionError        transport failure (also a ConnectionError)
    ├── KalshiTimeoutError           a wait ran out (also a TimeoutError)
    ├── HTTPStatusError              REST non-2xx answer (.status_code, .body)
    │   ├── RateLimitError           HTTP 429 (.retry_after)
    │   ├── ExchangeUnavailableError HTTP 5xx
    │   └── OrderRejectedError       Kalshi refused an order request (.code, .message)
    │       ├── OrderNotFoundError   HTTP 404: the order does not exist or no longer rests
    │       └── DuplicateOrderError  HTTP 409: the client_order_id was used before
    └── OrderStateUnknownError       a create whose outcome could not be learned
                                     (.client_order_id): look it up before placing again

Misuse errors also subclass the matching builtin (``RuntimeError``, ``ConnectionError``,
``TimeoutError``) so callers can catch either. No message ever contains key material.
"""

from __future__ import annotations

import enum

from . import _channels

__all__ = [
    "AuthenticationError",
    "ClientClosedError",
    "DuplicateOrderError",
    "ErrorCode",
    "ExchangeUnavailableError",
    "HTTPStatusError",
    "KalshiConnectionError",
    "KalshiError",
    "KalshiTimeoutError",
    "OrderNotFoundError",
    "OrderRejectedError",
    "OrderStateUnknownError",
    "ProtocolError",
    "RateLimitError",
    "SubscriptionError",
]


class ErrorCode(enum.IntEnum):
    """Kalshi WebSocket error codes (``error`` frames, ``msg.code``).

    Unknown codes are tolerated: :meth:`parse` returns the plain int for them.
    """

    UNABLE_TO_PROCESS_MESSAGE = 1
    PARAMS_REQUIRED = 2
    CHANNELS_REQUIRED = 3
    SUBSCRIPTION_IDS_REQUIRED = 4
    UNKNOWN_COMMAND = 5
    ALREADY_SUBSCRIBED = 6  # retired by Kalshi; still handled
    UNKNOWN_SUBSCRIPTION_ID = 7
    UNKNOWN_CHANNEL_NAME = 8
    AUTHENTICATION_REQUIRED = 9
    CHANNEL_ERROR = 10  # terminal: resubscribe
    INVALID_PARAMETER = 11
    EXACTLY_ONE_SUBSCRIPTION_ID_REQUIRED = 12
    UNSUPPORTED_ACTION = 13
    MARKET_TICKER_REQUIRED = 14
    ACTION_REQUIRED = 15
    MARKET_NOT_FOUND = 16  # retired
    INTERNAL_ERROR = 17  # retired; was terminal
    COMMAND_TIMEOUT = 18
    SHARD_FACTOR_MUST_BE_POSITIVE = 19
    SHARD_FACTOR_REQUIRED = 20
    SHARD_KEY_OUT_OF_RANGE = 21
    SHARD_FACTOR_TOO_LARGE = 22
    MATCH_IDS_REQUIRED = 23
    INDEX_IDS_REQUIRED = 24
    SUBSCRIPTION_BUFFER_OVERFLOW = 25  # terminal: data lost, resubscribe
    SUBSCRIPTION_MARKET_LIMIT_EXCEEDED = 26
    TOO_MANY_REQUESTS = 27
    UNDERLYING_TICKERS_REQUIRED = 28

    @classmethod
    def parse(cls, code: int) -> ErrorCode | int:
        """The enum member for ``code``, or ``code`` itself when Kalshi added a new one."""
        try:
            return cls(code)
        except ValueError:
            return code


# Codes after which the server has dropped the subscription (docs/protocol.md, 'Terminal
# errors'): the client must subscribe again. Unknown codes on a live subscription are treated
# the same way (kalshi_sync._channels.ends_subscription). Defined with the channel table.
TERMINAL_ERROR_CODES: frozenset[int] = _channels.TERMINAL_ERROR_CODES


class KalshiError(Exception):
    """Root of every exception raised by kalshi_sync."""


class AuthenticationError(KalshiError):
    """The key could not be loaded, or Kalshi refused it (HTTP 401/403). Never retried."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class ProtocolError(KalshiError):
    """A frame from the server could not be decoded (not JSON, wrong shape or types)."""

    def __init__(self, message: str, *, frame: bytes | str | None = None) -> None:
        super().__init__(message)
        # Only a short excerpt is kept: frames can be megabytes.
        if isinstance(frame, (bytes, bytearray)):
            frame = bytes(frame[:200]).decode("utf-8", "replace")
        self.frame = frame[:200] if frame is not None else None


class SubscriptionError(KalshiError):
    """The server answered a command with an ``error`` frame."""

    def __init__(self, code: int, message: str, *, command_id: int | None = None) -> None:
        super().__init__(f"Kalshi error {code}: {message}")
        self.code: ErrorCode | int = ErrorCode.parse(code)
        self.message = message
        self.command_id = command_id


class ClientClosedError(KalshiError, RuntimeError):
    """The client was used after ``close()``."""


class KalshiConnectionError(KalshiError, ConnectionError):
    """The connection failed or was lost and the operation could not complete."""


class KalshiTimeoutError(KalshiError, TimeoutError):
    """A wait (connect, subscription ack, command reply) ran out of time."""


class HTTPStatusError(KalshiError):
    """A REST request got a non-2xx answer."""

    def __init__(self, message: str, *, status_code: int, body: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body[:1000]


class RateLimitError(HTTPStatusError):
    """HTTP 429: Kalshi's REST token bucket is empty.

    ``retry_after`` is the wait in seconds the server asked for (``Retry-After``), or None.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        body: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, body=body)
        self.retry_after = retry_after


class ExchangeUnavailableError(HTTPStatusError):
    """HTTP 5xx: Kalshi's side failed."""


class OrderRejectedError(HTTPStatusError):
    """Kalshi refused an order or portfolio request (a 4xx other than 401/403/429).

    ``code`` is Kalshi's error code string (``"insufficient_balance"``, ``"market_closed"``,
    ...) or None when the body had none; ``message`` its human-readable text.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: str = "",
        code: str | None = None,
        kalshi_message: str | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, body=body)
        self.code = code
        self.message = kalshi_message if kalshi_message is not None else message


class OrderNotFoundError(OrderRejectedError):
    """HTTP 404: the order does not exist, or no longer rests (cancelled or fully filled).

    ``after_retry`` is True when an earlier attempt of the same cancel lost its answer: that
    attempt may be what removed the order.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 404,
        body: str = "",
        code: str | None = None,
        kalshi_message: str | None = None,
        after_retry: bool = False,
    ) -> None:
        super().__init__(
            message, status_code=status_code, body=body, code=code, kalshi_message=kalshi_message
        )
        self.after_retry = after_retry


class DuplicateOrderError(OrderRejectedError):
    """HTTP 409: an order with this ``client_order_id`` already exists.

    Raised when the caller reused an id, or when a retried create was answered 409 and the
    order it matched could not be read back. Either way an order with ``client_order_id``
    exists: do not place it again under a new id.
    """

    def __init__(
        self,
        message: str,
        *,
        client_order_id: str,
        status_code: int = 409,
        body: str = "",
        code: str | None = None,
        kalshi_message: str | None = None,
    ) -> None:
        super().__init__(
            message, status_code=status_code, body=body, code=code, kalshi_message=kalshi_message
        )
        self.client_order_id = client_order_id


class OrderStateUnknownError(KalshiError):
    """A create's answer was lost and the order could not be found afterwards.

    The order may or may not rest on the exchange. Look it up by ``client_order_id`` (or call
    ``create_order`` again with the same ``client_order_id``: Kalshi refuses a second order
    with it) before placing anything new. The last failure is ``__cause__``.
    """

    def __init__(self, message: str, *, client_order_id: str) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id
