"""Kalshi WebSocket wire vocabulary for the fake server: channels, seq rules, errors.

Pure data and tiny helpers shared by the session and the server; see docs/protocol.md,
'Channels' (message types per channel), 'Error codes' and 'Which messages are sequenced'.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

__all__ = [
    "ERROR_MESSAGES",
    "KNOWN_CHANNELS",
    "MARKET_CHANNELS",
    "SEQUENCED_CHANNELS",
    "Frame",
    "error_frame",
    "is_sequenced_type",
    "parse_command",
    "to_json",
]

Frame = dict[str, Any]

KNOWN_CHANNELS = frozenset(
    {
        "orderbook_delta",
        "ticker",
        "trade",
        "fill",
        "market_positions",
        "user_orders",
        "order_group_updates",
        "market_lifecycle_v2",
        "multivariate_market_lifecycle",
        "communications",
        "cfbenchmarks_value",
        "cfbenchmarks_value_5hz",
        "pyth_value",
    }
)
# Channels that take a market filter and support add_markets / delete_markets.
MARKET_CHANNELS = frozenset(
    {"orderbook_delta", "ticker", "trade", "fill", "market_positions", "user_orders"}
)
# Channels whose data frames carry seq (the default targets of fault injection).
SEQUENCED_CHANNELS = frozenset(
    {
        "orderbook_delta",
        "trade",
        "order_group_updates",
        "market_lifecycle_v2",
        "multivariate_market_lifecycle",
        "communications",
        "cfbenchmarks_value",
        "cfbenchmarks_value_5hz",
        "pyth_value",
    }
)
_SEQUENCED_TYPES = frozenset(
    {
        "orderbook_snapshot",
        "orderbook_delta",
        "trade",
        "market_lifecycle_v2",
        "event_lifecycle",
        "event_fee_update",
        "multivariate_market_lifecycle",
        "order_group_updates",
        "cfbenchmarks_value",
        "cfbenchmarks_value_5hz",
        "pyth_value",
    }
)

ERROR_MESSAGES: dict[int, str] = {
    1: "Unable to process message",
    2: "Params required",
    3: "Channels required",
    4: "Subscription IDs required",
    5: "Unknown command",
    7: "Unknown subscription ID",
    8: "Unknown channel name",
    11: "Invalid parameter",
    12: "Exactly one subscription ID is required",
    13: "Unsupported action",
    14: "Market Ticker required",
    15: "Action required",
}


def is_sequenced_type(msg_type: str) -> bool:
    """Whether frames of this ``type`` carry a per-sid ``seq``.

    See docs/protocol.md, 'Which messages are sequenced'.
    """
    return msg_type in _SEQUENCED_TYPES or msg_type.startswith(("rfq_", "quote_"))


def error_frame(
    code: int, message: str | None = None, *, cid: int | None = None, sid: int | None = None
) -> Frame:
    """An ``error`` frame; ``id``/``sid`` only when given (async errors have neither)."""
    frame: Frame = {}
    if cid is not None:
        frame["id"] = cid
    frame["type"] = "error"
    if sid is not None:
        frame["sid"] = sid
    frame["msg"] = {"code": code, "msg": message or ERROR_MESSAGES.get(code, "Error")}
    return frame


def parse_command(data: str | bytes) -> dict[str, Any] | None:
    """Decode a client frame; None for anything that is not a JSON object in a text frame."""
    if not isinstance(data, str):
        return None  # Kalshi commands are text frames; binary is "unable to process".
    try:
        obj = json.loads(data)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _json_default(value: object) -> str:
    # Decimal -> string, the wire's own representation of prices and counts.
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(frame: Any) -> str:
    """Compact JSON text for a frame; Decimal values become strings."""
    return json.dumps(frame, separators=(",", ":"), default=_json_default)
