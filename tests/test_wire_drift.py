"""Additive wire changes of September-October 2026 that must decode (and encode) cleanly.

``user_order.last_update_reason`` is an open set (``SettlementBoundsCancel`` is new);
``communications`` takes ``user_filter``; an obscured RFQ creator id may be ``"0"`` or the
SHA-256 of the empty string.
"""

from __future__ import annotations

import hashlib
import json
import queue
from typing import Any

import pytest
from _helpers import make_client, wait_for

from kalshi_sync.models import (
    LAST_UPDATE_REASONS,
    OBSCURED_IDS,
    QuoteAccepted,
    QuoteCreated,
    QuoteExecuted,
    RfqCreated,
    RfqDeleted,
    UserOrder,
    is_obscured_id,
)
from kalshi_sync.protocol import decode, encode_subscribe

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
DOCUMENTED_REASONS = [
    "Decrease",
    "Amend",
    "MarginCancel",
    "SelfTradeCancel",
    "ExpiryCancel",
    "CloseCancel",
    "HaltCancel",
    "Trade",
    "PostOnlyCrossCancel",
    "ReduceOnlyCancel",
    "SettlementBoundsCancel",
]


def user_order(**fields: Any) -> bytes:
    msg = {"order_id": "o-1", "ticker": "KX-1", "status": "canceled", **fields}
    return json.dumps({"type": "user_order", "sid": 22, "msg": msg}).encode()


# --- user_order.last_update_reason ------------------------------------------------------------


def test_known_reasons_are_the_documented_set() -> None:
    """LAST_UPDATE_REASONS lists exactly the values Kalshi documents (Oct 2026)."""
    assert sorted(LAST_UPDATE_REASONS) == sorted(DOCUMENTED_REASONS)


@pytest.mark.parametrize("reason", DOCUMENTED_REASONS)
def test_every_documented_reason_decodes_as_its_string(reason: str) -> None:
    """Each documented last_update_reason decodes unchanged on a complete user_order."""
    msg = decode(user_order(last_update_reason=reason))
    assert isinstance(msg, UserOrder)
    assert msg.last_update_reason == reason and msg.missing == ()


@pytest.mark.parametrize("reason", ["LiquidationCancel", "settlementboundscancel", "X" * 80])
def test_an_unknown_reason_is_passed_through(reason: str) -> None:
    """The set is open: a value Kalshi adds later is kept as sent, not refused."""
    msg = decode(user_order(last_update_reason=reason))
    assert isinstance(msg, UserOrder)
    assert msg.last_update_reason == reason
    assert reason not in LAST_UPDATE_REASONS


def test_absent_or_empty_reason_is_none() -> None:
    """No reason (a new order) or "" decodes to None."""
    assert decode(user_order()).last_update_reason is None  # type: ignore[attr-defined]
    assert decode(user_order(last_update_reason="")).last_update_reason is None  # type: ignore[attr-defined]


# --- communications user_filter ---------------------------------------------------------------


@pytest.mark.parametrize("value", ["self", ""])
def test_user_filter_passes_through_the_subscribe_encoder(value: str) -> None:
    """encode_subscribe puts user_filter (also "") next to channels, unchanged."""
    cmd = json.loads(encode_subscribe(7, ["communications"], user_filter=value))
    assert cmd == {
        "id": 7,
        "cmd": "subscribe",
        "params": {"channels": ["communications"], "user_filter": value},
    }


def test_user_filter_with_sharding_params() -> None:
    """user_filter combines with shard_factor/shard_key; None leaves it out."""
    cmd = json.loads(
        encode_subscribe(1, ["communications"], user_filter="self", shard_factor=4, shard_key=1)
    )
    assert cmd["params"] == {
        "channels": ["communications"],
        "user_filter": "self",
        "shard_factor": 4,
        "shard_key": 1,
    }
    plain = json.loads(encode_subscribe(1, ["communications"], user_filter=None))
    assert "user_filter" not in plain["params"]


def test_client_sends_user_filter_on_the_wire(server, private_pem):
    """client.subscribe("communications", user_filter="self") reaches the server as sent,
    and RFQ messages on it decode."""
    client = make_client(server, private_pem)
    got: queue.Queue[Any] = queue.Queue()
    try:
        client.start()
        client.subscribe("communications", callback=got.put, user_filter="self")
        [cmd] = [c for c in server.commands if c.get("cmd") == "subscribe"]
        assert cmd["params"] == {"channels": ["communications"], "user_filter": "self"}
        wait_for(lambda: server.subscriptions(), what="the communications subscription")
        server.publish("communications", "rfq_created", {"id": "r-1", "creator_id": "me"})
        msg = got.get(timeout=5)
        assert isinstance(msg, RfqCreated) and msg.creator_obscured is False
    finally:
        client.close()


# --- obscured creator ids ---------------------------------------------------------------------


def test_placeholder_is_the_sha256_of_nothing() -> None:
    """The documented placeholder really is SHA-256(b""), and both placeholders are known."""
    assert hashlib.sha256(b"").hexdigest() == EMPTY_SHA256
    assert {"0", EMPTY_SHA256} == OBSCURED_IDS


@pytest.mark.parametrize(
    ("value", "obscured"),
    [("0", True), (EMPTY_SHA256, True), (None, True), ("comm_abc123", False),
     ("43fc9a", False), (EMPTY_SHA256.upper(), False), ("00", False)],
)  # fmt: skip
def test_is_obscured_id(value: str | None, obscured: bool) -> None:
    """Only the placeholders (and no id at all) hide the creator; other ids are real."""
    assert is_obscured_id(value) is obscured


@pytest.mark.parametrize("creator", ["0", EMPTY_SHA256, ""])
@pytest.mark.parametrize(
    ("type_", "cls"), [("rfq_created", RfqCreated), ("rfq_deleted", RfqDeleted)]
)
def test_rfq_with_obscured_creator(type_: str, cls: type, creator: str) -> None:
    """An RFQ by another user: creator_obscured is True for "0", the hash and "" (early 2026)."""
    msg = decode(
        json.dumps(
            {"type": type_, "sid": 15, "seq": 11,
             "msg": {"id": "rfq_1", "creator_id": creator, "market_ticker": "M",
                     "contracts_fp": "100.00"}}
        )
    )  # fmt: skip
    assert isinstance(msg, cls)
    assert msg.creator_obscured is True  # type: ignore[attr-defined]
    assert msg.raw["msg"]["creator_id"] == creator  # the wire value is kept


def test_rfq_with_real_creator_is_not_obscured() -> None:
    """Your own RFQ carries your communications id: creator_obscured is False."""
    msg = decode(
        json.dumps({"type": "rfq_created", "sid": 15, "seq": 1,
                    "msg": {"id": "r", "creator_id": "comm_abc123"}})
    )  # fmt: skip
    assert isinstance(msg, RfqCreated)
    assert (msg.creator_id, msg.creator_obscured) == ("comm_abc123", False)


@pytest.mark.parametrize(
    ("type_", "cls"),
    [("quote_created", QuoteCreated), ("quote_accepted", QuoteAccepted),
     ("quote_executed", QuoteExecuted)],
)  # fmt: skip
def test_quote_creator_ids_may_be_obscured(type_: str, cls: type) -> None:
    """Quotes name two parties; each can be hidden independently."""
    msg = decode(
        json.dumps(
            {"type": type_, "sid": 15, "seq": 13,
             "msg": {"quote_id": "q", "rfq_id": "r", "quote_creator_id": EMPTY_SHA256,
                     "rfq_creator_id": "comm_abc123"}}
        )
    )  # fmt: skip
    assert isinstance(msg, cls)
    assert msg.quote_creator_obscured is True  # type: ignore[attr-defined]
    assert msg.rfq_creator_obscured is False  # type: ignore[attr-defined]
    no_rfq_creator = decode(
        json.dumps({"type": type_, "sid": 15, "seq": 14,
                    "msg": {"quote_id": "q", "rfq_id": "r", "quote_creator_id": "0"}})
    )  # fmt: skip
    assert no_rfq_creator.rfq_creator_obscured is True  # type: ignore[attr-defined]
    assert no_rfq_creator.quote_creator_obscured is True  # type: ignore[attr-defined]
