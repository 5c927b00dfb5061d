"""kalshi_sync: a synchronous, thread-based client for Kalshi's WebSocket API.

Public names live here; submodules are implementation detail except
:mod:`kalshi_sync.testing` (FakeKalshiServer for testing bots offline).
"""

from __future__ import annotations

import logging

from .auth import Signer, load_private_key
from .client import KalshiClient
from .environments import DEMO, PROD, Environment
from .errors import (
    AuthenticationError,
    ClientClosedError,
    ErrorCode,
    ExchangeUnavailableError,
    HTTPStatusError,
    KalshiConnectionError,
    KalshiError,
    KalshiTimeoutError,
    ProtocolError,
    RateLimitError,
    SubscriptionError,
)
from .events import (
    CallbackErrorEvent,
    ConnectedEvent,
    DisconnectedEvent,
    Event,
    GapEvent,
    OverflowEvent,
    ResyncedEvent,
)
from .models import (
    CfbenchmarksIndexList,
    CfbenchmarksValue,
    EventFeeUpdate,
    EventLifecycle,
    Fill,
    MarketLifecycle,
    MarketPosition,
    Message,
    MultivariateMarketLifecycle,
    Ok,
    OrderbookDelta,
    OrderbookSnapshot,
    OrderGroupUpdate,
    PythUnderlyingList,
    PythValue,
    QuoteAccepted,
    QuoteCreated,
    QuoteExecuted,
    RfqCreated,
    RfqDeleted,
    ServerError,
    Subscribed,
    SubscriptionInfo,
    Ticker,
    Trade,
    UnknownMessage,
    Unsubscribed,
    UserOrder,
)
from .orderbook import Orderbook
from .rest import RestClient
from .subscriptions import Subscription

__version__ = "0.1.0"

__all__ = [
    "DEMO",
    "PROD",
    "AuthenticationError",
    "CallbackErrorEvent",
    "CfbenchmarksIndexList",
    "CfbenchmarksValue",
    "ClientClosedError",
    "ConnectedEvent",
    "DisconnectedEvent",
    "Environment",
    "ErrorCode",
    "Event",
    "EventFeeUpdate",
    "EventLifecycle",
    "ExchangeUnavailableError",
    "Fill",
    "GapEvent",
    "HTTPStatusError",
    "KalshiClient",
    "KalshiConnectionError",
    "KalshiError",
    "KalshiTimeoutError",
    "MarketLifecycle",
    "MarketPosition",
    "Message",
    "MultivariateMarketLifecycle",
    "Ok",
    "OrderGroupUpdate",
    "Orderbook",
    "OrderbookDelta",
    "OrderbookSnapshot",
    "OverflowEvent",
    "ProtocolError",
    "PythUnderlyingList",
    "PythValue",
    "QuoteAccepted",
    "QuoteCreated",
    "QuoteExecuted",
    "RateLimitError",
    "RestClient",
    "ResyncedEvent",
    "RfqCreated",
    "RfqDeleted",
    "ServerError",
    "Signer",
    "Subscribed",
    "Subscription",
    "SubscriptionError",
    "SubscriptionInfo",
    "Ticker",
    "Trade",
    "UnknownMessage",
    "Unsubscribed",
    "UserOrder",
    "__version__",
    "load_private_key",
]

logging.getLogger("kalshi_sync").addHandler(logging.NullHandler())
