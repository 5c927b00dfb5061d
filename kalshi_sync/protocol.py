"""Sans-I/O codec for Kalshi's WebSocket protocol: frames in, typed messages out, commands out.

:func:`decode` turns one text frame into a :mod:`kalshi_sync.models` message and raises only
:class:`~kalshi_sync.errors.ProtocolError`. It tolerates wire drift (docs/protocol.md,
'Changes in 2026'): current ``*_dollars`` / ``*_fp`` strings and the legacy integer fields
(cents, whole contracts, centi-cents) decode into the same Decimal attributes; both
placements of control-reply payloads are accepted; unknown fields stay in ``.raw`` and
unknown types become ``UnknownMessage``. The validation policy: missing is not invalid -- a
data field that is absent, ``null`` or ``""`` decodes to None and the message is delivered
with its absent key fields named in ``.missing`` (a fill is never dropped for a missing
price). A wrong JSON *type* stays strict where a guess would be worse than nothing: the
envelope (``type``, ``sid``, ``seq``, ``id``), key fields and every price/count/money field
raise ProtocolError; an *optional* informational scalar (a timestamp, a side, an id string,
``sending_ts_ms``) whose type has drifted decodes as None and its value stays in ``.raw``,
so one drifted field cannot cost a book delta. A payload (``msg``) of the wrong type is a
ProtocolError; an absent one is an empty payload.
``encode_*`` build command JSON text; they validate their arguments and raise
``TypeError``/``ValueError`` on misuse. The per-type decoders live in
:mod:`kalshi_sync._decoders`; ``decode()`` picks one with a single dict lookup. This module
does no I/O and holds no state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from kalshi_sync import _channels
from kalshi_sync._decoders import _DECODERS, _Invalid, _kind, _unknown
from kalshi_sync.errors import ProtocolError
from kalshi_sync.models import Message

__all__ = [
    "CHANNEL_OF_TYPE",
    "CONTROL_TYPES",
    "KNOWN_TYPES",
    "SEQUENCED_TYPES",
    "decode",
    "encode_list_subscriptions",
    "encode_subscribe",
    "encode_unsubscribe",
    "encode_update_subscription",
]

# Message types Kalshi documents as sequenced (docs/protocol.md, 'Which messages are
# sequenced'), derived from the channel table. The client checks the seq of any frame that
# has sid and seq, these or not.
SEQUENCED_TYPES: frozenset[str] = _channels.SEQUENCED_TYPES

# Replies to commands. ``list_subscriptions`` is the type an early-2026 server used for that
# command's reply; decode() normalises it to ``Ok`` with ``type == "ok"``.
CONTROL_TYPES: frozenset[str] = frozenset(
    {"subscribed", "unsubscribed", "ok", "error", "list_subscriptions"}
)

# Message type -> the channel name used to subscribe (docs/protocol.md, 'Channels'), derived
# from the channel table. ``event_lifecycle`` is also sent on
# ``multivariate_market_lifecycle``; route by sid when the sid is known.
CHANNEL_OF_TYPE: Mapping[str, str] = _channels.CHANNEL_OF_TYPE

KNOWN_TYPES: frozenset[str] = frozenset(_DECODERS)
"""Every ``type`` that decodes to a typed class; anything else becomes UnknownMessage."""

_loads = orjson.loads
_get_decoder = _DECODERS.get


def _frame(data: Any) -> bytes | str | None:
    """The frame for ProtocolError's excerpt (a non-text argument has none)."""
    if isinstance(data, bytearray):
        return bytes(data[:200])
    return data if isinstance(data, (bytes, str)) else None


def decode(data: bytes | str) -> Message:
    """Decode one frame. Raises :class:`ProtocolError` (and nothing else) on a bad frame."""
    try:
        env = _loads(data)
    except orjson.JSONDecodeError as exc:  # also bad UTF-8 and a non-text argument
        raise ProtocolError(f"frame is not valid JSON: {exc}", frame=_frame(data)) from None
    if type(env) is not dict:
        raise ProtocolError(f"frame is a JSON {_kind(env)}, not an object", frame=_frame(data))
    type_ = env.get("type")
    if type(type_) is not str:
        raise ProtocolError(
            f"frame 'type' must be a string, got {_kind(type_)}", frame=_frame(data)
        )
    try:
        return _get_decoder(type_, _unknown)(env, type_)
    except _Invalid as exc:
        raise ProtocolError(f"{type_}: {exc}", frame=_frame(data)) from None
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError, IndexError) as exc:
        # Defence in depth: the decoders validate explicitly, so this is a shape they did not
        # foresee; the promise is still "only ProtocolError".
        raise ProtocolError(f"{type_}: malformed frame ({exc!r})", frame=_frame(data)) from exc


# --- encoders ------------------------------------------------------------------------------

# Params that take a list: a bare string here is a caller bug that the server would reject
# with an unhelpful code 1 (or, worse, iterate character by character on our side).
_LIST_PARAMS = frozenset({"market_ids", "index_ids", "underlying_tickers", "sids"})


def _check_positive_int(value: Any, name: str) -> None:
    if type(value) is not int:
        raise TypeError(f"{name} must be an int, got {_kind(value)}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value}")


def _str_list(values: Any, name: str) -> list[str]:
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a list of strings, not a bare {_kind(values)}")
    if not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a list of strings, got {_kind(values)}")
    items = list(values)
    if not items:
        raise ValueError(f"{name} must not be empty")
    for item in items:
        if type(item) is not str or not item:
            raise TypeError(f"{name} must contain non-empty strings, got {item!r}")
    return items


def _params(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        if value is None:
            continue  # None means "not set": let the server apply its default
        if key in _LIST_PARAMS and isinstance(value, (str, bytes)):
            raise TypeError(f"parameter {key} must be a list, not a bare {_kind(value)}")
        out[key] = list(value) if isinstance(value, tuple) else value
    return out


def _dumps(command: dict[str, Any]) -> str:
    try:
        return orjson.dumps(command).decode()
    except orjson.JSONEncodeError as exc:
        raise TypeError(f"command parameters must be JSON-serialisable: {exc}") from None


def _check_single_market_form(market_tickers: Any, params: dict[str, Any]) -> None:
    if market_tickers is not None and params.get("market_ticker") is not None:
        raise ValueError("pass market_tickers or market_ticker, not both")


def encode_subscribe(
    cmd_id: int,
    channels: Sequence[str],
    market_tickers: Sequence[str] | None = None,
    **params: Any,
) -> str:
    """``subscribe`` command; ``params`` pass through (``send_initial_snapshot=True``...)."""
    _check_positive_int(cmd_id, "cmd_id")
    body: dict[str, Any] = {"channels": _str_list(channels, "channels")}
    _check_single_market_form(market_tickers, params)
    if market_tickers is not None:
        body["market_tickers"] = _str_list(market_tickers, "market_tickers")
    body.update(_params(params))
    return _dumps({"id": cmd_id, "cmd": "subscribe", "params": body})


def encode_unsubscribe(cmd_id: int, sids: Sequence[int]) -> str:
    """``unsubscribe`` command for one or more sids."""
    _check_positive_int(cmd_id, "cmd_id")
    if not isinstance(sids, Sequence) or isinstance(sids, (str, bytes)):
        raise TypeError(f"sids must be a list of ints, got {_kind(sids)}")
    if not sids:
        raise ValueError("sids must not be empty")
    for sid in sids:
        _check_positive_int(sid, "each sid")
    return _dumps({"id": cmd_id, "cmd": "unsubscribe", "params": {"sids": list(sids)}})


def encode_update_subscription(
    cmd_id: int,
    sid: int,
    action: str,
    market_tickers: Sequence[str] | None = None,
    **params: Any,
) -> str:
    """``update_subscription`` on exactly one ``sid`` (add_markets, delete_markets,
    get_snapshot, subscribe_indices, ...); ``params`` pass through."""
    _check_positive_int(cmd_id, "cmd_id")
    _check_positive_int(sid, "sid")
    if type(action) is not str or not action:
        raise TypeError(f"action must be a non-empty string, got {action!r}")
    if params.get("sids") is not None:
        raise ValueError("update_subscription targets exactly one subscription: use sid only")
    _check_single_market_form(market_tickers, params)
    if action == "get_snapshot" and (market_tickers is None or params.get("market_ticker")):
        # The server accepts only the list form for get_snapshot (docs/protocol.md,
        # 'get_snapshot').
        raise ValueError("get_snapshot needs market_tickers (a list), not market_ticker")
    body: dict[str, Any] = {"sid": sid, "action": action}
    if market_tickers is not None:
        body["market_tickers"] = _str_list(market_tickers, "market_tickers")
    body.update(_params(params))
    return _dumps({"id": cmd_id, "cmd": "update_subscription", "params": body})


def encode_list_subscriptions(cmd_id: int) -> str:
    """``list_subscriptions`` command; the reply decodes to ``Ok(subscriptions=...)``."""
    _check_positive_int(cmd_id, "cmd_id")
    return _dumps({"id": cmd_id, "cmd": "list_subscriptions"})
