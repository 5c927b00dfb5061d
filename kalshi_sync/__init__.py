"""kalshi_sync: a synchronous, thread-based client for Kalshi's WebSocket API.

Public names live here; submodules are implementation detail except
:mod:`kalshi_sync.testing` (FakeKalshiServer for testing bots offline).
"""

from __future__ import annotations

import logging

from ._orders import OrderRequest
from ._ratelimit import RateLimiter, RateLimits
from ._stats import ClientStats
from .account import (
    Balance,
    BatchCancelResult,
    BatchOrderResult,
    CancelAck,
    ExchangeIndexStatus,
    ExchangeStatus,
    HistoricalCutoff,
    Order,
    OrderAck,
    Position,
    ShardBalance,
)
from .auth import Signer, load_private_key
from .client import KalshiClient
from .environments import DEMO, PROD, Environment
from .errors import (
    AuthenticationError,
    ClientClosedError,
    DuplicateOrderError,
    ErrorCode,
    ExchangeUnavailableError,
    HTTPStatusError,
    KalshiConnectionError,
    KalshiError,
    KalshiTimeoutError,
    OrderNotFoundError,
    OrderRejectedError,
    OrderStateUnknownError,
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
    RecoveredEvent,
    RecoveryFailedEvent,
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
    "Balance",
    "BatchCancelResult",
    "BatchOrderResult",
    "CallbackErrorEvent",
    "CancelAck",
    "CfbenchmarksIndexList",
    "CfbenchmarksValue",
    "ClientClosedError",
    "ClientStats",
    "ConnectedEvent",
    "DisconnectedEvent",
    "DuplicateOrderError",
    "Environment",
    "ErrorCode",
    "Event",
    "EventFeeUpdate",
    "EventLifecycle",
    "ExchangeIndexStatus",
    "ExchangeStatus",
    "ExchangeUnavailableError",
    "Fill",
    "GapEvent",
    "HTTPStatusError",
    "HistoricalCutoff",
    "KalshiClient",
    "KalshiConnectionError",
    "KalshiError",
    "KalshiTimeoutError",
    "MarketLifecycle",
    "MarketPosition",
    "Message",
    "MultivariateMarketLifecycle",
    "Ok",
    "Order",
    "OrderAck",
    "OrderGroupUpdate",
    "OrderNotFoundError",
    "OrderRejectedError",
    "OrderRequest",
    "OrderStateUnknownError",
    "Orderbook",
    "OrderbookDelta",
    "OrderbookSnapshot",
    "OverflowEvent",
    "Position",
    "ProtocolError",
    "PythUnderlyingList",
    "PythValue",
    "QuoteAccepted",
    "QuoteCreated",
    "QuoteExecuted",
    "RateLimitError",
    "RateLimiter",
    "RateLimits",
    "RecoveredEvent",
    "RecoveryFailedEvent",
    "RestClient",
    "ResyncedEvent",
    "RfqCreated",
    "RfqDeleted",
    "ServerError",
    "ShardBalance",
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
