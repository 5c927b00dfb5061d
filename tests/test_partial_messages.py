"""No message is dropped for a missing field: decode, books, pipeline and a live client.

Every data field decodes to None when the frame leaves it out, sends ``null`` or ``""``;
a message that lacks one of its key fields names them in ``.missing`` and is counted in
``stats()["partial_messages"]``. A book message that cannot be applied is delivered but
never applied: its book goes ``resyncing`` and is repaired with ``get_snapshot``, exactly as
after a seq gap. A wrong JSON *type* is still a ProtocolError.
"""

from __future__ import annotations

import json
import queue
from decimal import Decimal
from typing import Any

import attrs
import pytest
from _helpers import book_equals_server, events, make_client, seed, wait_for

import kalshi_sync as ks
from kalshi_sync import models
from kalshi_sync.errors import ProtocolError
from kalshi_sync.models import (
    Fill,
    MarketPosition,
    OrderbookDelta,
    OrderbookSnapshot,
    Ticker,
    Trade,
    UserOrder,
)
from kalshi_sync.orderbook import BookStore, MutableOrderbook, UnappliableError
from kalshi_sync.protocol import KNOWN_TYPES, decode

D = Decimal
URL = "ws://127.0.0.1:9/trade-api/ws/v2"  # never connected: offline clients only
T1 = "PARTIAL-A"
T2 = "PARTIAL-B"


def frame(**envelope: Any) -> bytes:
    return json.dumps(envelope).encode()


# Key fields per type: what ``missing`` lists when the payload is empty.
KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "orderbook_delta": ("market_ticker", "price", "delta", "side"),
    "orderbook_snapshot": ("market_ticker",),  # absent sides are an empty book, not missing
    "ticker": ("market_ticker",),
    "trade": ("market_ticker", "yes_price", "count"),
    "fill": ("market_ticker", "yes_price", "count"),
    "market_position": ("market_ticker", "position"),
    "user_order": ("order_id", "ticker"),
    "order_group_updates": ("event_type", "order_group_id"),
    "market_lifecycle_v2": ("market_ticker", "event_type"),
    "multivariate_market_lifecycle": ("market_ticker", "event_type"),
    "event_lifecycle": ("event_ticker",),
    "event_fee_update": ("event_ticker",),
    "rfq_created": ("id",),
    "rfq_deleted": ("id",),
    "quote_created": ("quote_id", "rfq_id"),
    "quote_accepted": ("quote_id", "rfq_id"),
    "quote_executed": ("quote_id", "rfq_id"),
    "cfbenchmarks_value": ("index_id",),
    "cfbenchmarks_value_5hz": ("index_id",),
    "cfbenchmarks_value_indexlist": (),
    "cfbenchmarks_value_5hz_indexlist": (),
    "pyth_value": ("underlying_ticker",),
    "pyth_value_underlying_list": (),
}
DATA_TYPES = sorted(KEY_FIELDS)


def test_key_field_table_covers_every_data_type() -> None:
    """Every known non-control type is listed above (a new type must state its key fields)."""
    control = {"subscribed", "unsubscribed", "ok", "list_subscriptions", "error"}
    assert set(KEY_FIELDS) == KNOWN_TYPES - control


# --- decode ----------------------------------------------------------------------------------


@pytest.mark.parametrize("type_", DATA_TYPES)
@pytest.mark.parametrize("body", [{}, None, "absent"], ids=["empty-msg", "null-msg", "no-msg"])
def test_every_data_type_decodes_with_an_empty_payload(type_: str, body: Any) -> None:
    """A data frame whose msg is {} / null / absent decodes; its key fields are listed."""
    env: dict[str, Any] = {"type": type_, "sid": 3, "seq": 4}
    if body != "absent":
        env["msg"] = body
    msg = decode(frame(**env))
    assert msg.type == type_ and (msg.sid, msg.seq) == (3, 4)
    assert msg.missing == KEY_FIELDS[type_]
    assert msg.partial is bool(KEY_FIELDS[type_])


@pytest.mark.parametrize("type_", DATA_TYPES)
@pytest.mark.parametrize("empty", [None, ""], ids=["null", "empty-string"])
def test_null_and_empty_string_fields_are_none(type_: str, empty: Any) -> None:
    """Every field set to null or "" decodes to None (or the type's empty default)."""
    cls = type(decode(frame(type=type_, sid=1, seq=1, msg={})))
    keys = [f.name for f in attrs.fields(cls) if f.name not in ("type", "sid", "seq")]
    wire = {k: empty for k in keys}
    for suffix in ("_dollars", "_fp", "_dollars_fp"):
        wire.update({k + suffix: empty for k in keys})
    msg = decode(frame(type=type_, sid=1, seq=1, msg=wire))
    assert msg.missing == KEY_FIELDS[type_]
    # ``recovered`` says how a message arrived, never read from the wire: always False here.
    assert getattr(msg, "recovered", False) is False
    for field in attrs.fields(cls):
        if field.name in ("type", "sid", "seq", "raw", "missing", "recovered"):
            continue
        value = getattr(msg, field.name)
        assert value is None or value == (), (field.name, value)


def test_fill_with_every_optional_field_missing() -> None:
    """A fill with nothing but its type and sid decodes to a Fill with all fields None."""
    msg = decode(b'{"type": "fill", "sid": 13, "msg": {}}')
    assert isinstance(msg, Fill)
    assert msg.missing == ("market_ticker", "yes_price", "count")
    values = attrs.asdict(msg, recurse=False)
    set_fields = {k for k, v in values.items() if v not in (None, ())}
    assert set_fields == {"type", "sid", "raw", "missing", "recovered"}
    assert msg.recovered is False


def test_fill_without_price_and_count_keeps_what_it_has() -> None:
    """The issue's case: a fill lacking yes_price_dollars/count_fp is delivered with the rest."""
    msg = decode(
        frame(
            type="fill",
            sid=13,
            msg={
                "trade_id": "t1",
                "order_id": "o1",
                "market_ticker": "M",
                "post_position_fp": "5.00",
                "fee_cost": "0.01",
            },
        )
    )
    assert isinstance(msg, Fill)
    assert (msg.trade_id, msg.order_id, msg.market_ticker) == ("t1", "o1", "M")
    assert (msg.post_position, msg.fee_cost) == (D("5.00"), D("0.01"))
    assert (msg.yes_price, msg.count) == (None, None)
    assert msg.missing == ("yes_price", "count")


def test_user_order_and_market_position_with_every_optional_field_missing() -> None:
    """user_order and market_position with an empty msg decode to their classes."""
    order = decode(b'{"type": "user_order", "sid": 22, "msg": {}}')
    assert isinstance(order, UserOrder)
    assert order.market_ticker is None and order.missing == ("order_id", "ticker")
    position = decode(b'{"type": "market_position", "sid": 14, "msg": {}}')
    assert isinstance(position, MarketPosition)
    assert position.missing == ("market_ticker", "position")


def test_complete_messages_are_not_partial() -> None:
    """A frame with every key field has missing == () and partial False."""
    msg = decode(
        frame(
            type="trade",
            sid=1,
            seq=1,
            msg={"market_ticker": "M", "yes_price_dollars": "0.5", "count_fp": "1"},
        )
    )
    assert msg.missing == () and msg.partial is False


@pytest.mark.parametrize(
    "cls", [Fill, UserOrder, MarketPosition, Trade, Ticker, OrderbookDelta, OrderbookSnapshot]
)
def test_models_are_constructible_by_keyword_with_any_subset(cls: type[models.Message]) -> None:
    """Every model builds from keywords with only ``type`` (REST code builds Fill etc.)."""
    msg = cls(type="x")
    assert msg.missing == () and msg.sending_ts_ms is None


def test_fill_built_by_keyword_from_rest_fields() -> None:
    """A Fill built by keyword (as REST does) equals the decoded one: missing is not compared."""
    rest = Fill(type="fill", market_ticker="M", yes_price=D("0.5"), count=D(2), trade_id="t")
    wire = decode(
        frame(
            type="fill",
            sid=1,
            sending_ts_ms=5,
            msg={
                "market_ticker": "M",
                "yes_price_dollars": "0.5",
                "count_fp": "2",
                "trade_id": "t",
            },
        )
    )
    assert rest == attrs.evolve(wire, sid=None)


def test_demo_ticker_without_dollar_volume_or_time() -> None:
    """A demo ticker frame lacking dollar_volume, dollar_open_interest and time decodes whole."""
    msg = decode(
        frame(
            type="ticker",
            sid=2,
            msg={
                "market_ticker": "M",
                "market_id": "",
                "price_dollars": "",
                "yes_bid_dollars": "0.45",
                "yes_ask_dollars": "0.53",
                "volume_fp": "10.00",
                "open_interest_fp": "3.00",
                "ts": 1700000000,
            },
        )
    )
    assert isinstance(msg, Ticker)
    assert (msg.dollar_volume, msg.dollar_open_interest, msg.time) == (None, None, None)
    assert (msg.market_id, msg.price, msg.ts_ms) == (None, None, None)
    assert (msg.yes_bid, msg.volume) == (D("0.45"), D("10.00"))
    assert msg.missing == ()


def test_empty_book_snapshot_with_both_sides_absent_is_applicable() -> None:
    """market_id "" and no level arrays: an empty book, complete and applicable."""
    msg = decode(
        frame(type="orderbook_snapshot", sid=1, seq=1, msg={"market_ticker": "M", "market_id": ""})
    )
    assert isinstance(msg, OrderbookSnapshot)
    assert (msg.market_id, msg.yes, msg.no) == (None, (), ())
    assert msg.applicable and msg.missing == ()


@pytest.mark.parametrize(
    "levels",
    [[["0.50", ""]], [["", "3.00"]], [[None, "3.00"]], [["0.50", None]]],
    ids=["empty-count", "empty-price", "null-price", "null-count"],
)
def test_snapshot_level_without_price_or_count_makes_the_side_unusable(levels: Any) -> None:
    """A level lacking its price or count: that side is None, the snapshot not applicable."""
    msg = decode(
        frame(
            type="orderbook_snapshot",
            sid=1,
            seq=1,
            msg={
                "market_ticker": "M",
                "yes_dollars_fp": [["0.40", "1.00"], *levels],
                "no_dollars_fp": [["0.30", "2.00"]],
            },
        )
    )
    assert isinstance(msg, OrderbookSnapshot)
    assert msg.yes is None and msg.no == ((D("0.30"), D("2.00")),)
    assert msg.missing == ("yes",) and not msg.applicable


@pytest.mark.parametrize(
    "ts",
    [
        "2026-10-02T12:00:00Z",
        "2026-10-02T12:00:00.1Z",
        "2026-10-02T12:00:00.12Z",
        "2026-10-02T12:00:00.123Z",
        "2026-10-02T12:00:00.123456Z",
        "2026-10-02T12:00:00.123456789Z",
    ],
)
def test_delta_iso_ts_with_any_fraction_length(ts: str) -> None:
    """orderbook_delta.ts (ISO, trimmed millisecond precision since Oct 2026) decodes as sent."""
    body = {
        "market_ticker": "M",
        "price_dollars": "0.5",
        "delta_fp": "1",
        "side": "yes",
        "ts": ts,
        "ts_ms": 1,
    }
    msg = decode(frame(type="orderbook_delta", sid=1, seq=2, msg=body))
    assert isinstance(msg, OrderbookDelta)
    assert msg.ts == ts and msg.missing == ()


@pytest.mark.parametrize(
    "body",
    [
        {"market_ticker": "M", "delta_fp": "1", "side": "yes"},
        {"market_ticker": "M", "price_dollars": "", "delta_fp": "1", "side": "yes"},
        {"market_ticker": "M", "price_dollars": "0.5", "side": "yes"},
        {"market_ticker": "M", "price_dollars": "0.5", "delta_fp": "1", "side": None},
        {"market_ticker": "M", "price_dollars": "0.5", "delta_fp": "1", "side": ""},
        {"market_ticker": "", "price_dollars": "0.5", "delta_fp": "1", "side": "yes"},
        {"price_dollars": "0.5", "delta_fp": "1", "side": "yes"},
    ],
    ids=[
        "no-price",
        "empty-price",
        "no-delta",
        "null-side",
        "empty-side",
        "empty-ticker",
        "no-ticker",
    ],
)
def test_delta_missing_a_key_field_decodes_partial(body: dict[str, Any]) -> None:
    """A delta without price, delta, side or market decodes (None there) and is partial."""
    msg = decode(frame(type="orderbook_delta", sid=1, seq=2, msg=body))
    assert isinstance(msg, OrderbookDelta)
    assert msg.partial and all(getattr(msg, name) is None for name in msg.missing)


@pytest.mark.parametrize(
    "body",
    [
        {"market_ticker": 5},
        {"market_ticker": "M", "yes_price_dollars": True},
        {"market_ticker": "M", "yes_price_dollars": "abc"},
        {"market_ticker": "M", "count_fp": ["1"]},
        {"market_ticker": ["M"]},
    ],
)
def test_wrong_type_in_a_key_field_is_still_a_protocol_error(body: dict[str, Any]) -> None:
    """Missing is tolerated, a wrong JSON type (or a non-number price) is not."""
    with pytest.raises(ProtocolError):
        decode(frame(type="fill", sid=1, msg=body))


def test_optional_empty_strings_are_none() -> None:
    """Optional strings sent as "" decode to None like absent ones (the value stays in raw)."""
    msg = decode(
        frame(
            type="fill",
            sid=1,
            msg={
                "market_ticker": "M",
                "yes_price_dollars": "0.5",
                "count_fp": "1",
                "action": "",
                "client_order_id": "",
                "trade_id": "",
            },
        )
    )
    assert isinstance(msg, Fill)
    assert (msg.action, msg.client_order_id, msg.trade_id) == (None, None, None)
    assert msg.raw["msg"]["action"] == ""


def test_price_range_with_missing_bounds_decodes() -> None:
    """A lifecycle price range missing start/end/step keeps its other values, None for those."""
    msg = decode(
        frame(
            type="market_lifecycle_v2",
            sid=1,
            seq=1,
            msg={
                "market_ticker": "M",
                "event_type": "created",
                "price_ranges": [{"start": "0.0000", "step": "0.0100"}],
            },
        )
    )
    assert msg.price_ranges == (  # type: ignore[attr-defined]
        models.PriceRange(start=D(0), end=None, step=D("0.01")),
    )


# --- books (plain objects) -----------------------------------------------------------------


def _snapshot(ticker: str = T1, sid: int = 1, seq: int = 1, **kw: Any) -> OrderbookSnapshot:
    kw.setdefault("yes", ((D("0.40"), D(5)),))
    return OrderbookSnapshot(
        type="orderbook_snapshot", sid=sid, seq=seq, market_ticker=ticker, **kw
    )


def _delta(**kw: Any) -> OrderbookDelta:
    base: dict[str, Any] = dict(
        type="orderbook_delta",
        sid=1,
        seq=2,
        market_ticker=T1,
        price=D("0.40"),
        delta=D(1),
        side="yes",
    )
    return OrderbookDelta(**{**base, **kw})


@pytest.mark.parametrize(
    "change", [{"price": None}, {"delta": None}, {"side": None}, {"side": "maybe"}]
)
def test_mutable_book_refuses_an_unappliable_delta_and_changes_nothing(
    change: dict[str, Any],
) -> None:
    """A live book raises UnappliableError (a ValueError) and keeps its levels and seq."""
    book = MutableOrderbook(T1)
    book.apply_snapshot(_snapshot())
    with pytest.raises(UnappliableError):
        book.apply_delta(_delta(**change))
    assert book.freeze().yes == {D("0.40"): D(5)} and book.seq == 1


def test_store_refuses_a_delta_without_market() -> None:
    """BookStore.apply_delta raises UnappliableError for a delta naming no market."""
    store = BookStore()
    store.apply_snapshot(_snapshot())
    with pytest.raises(UnappliableError):
        store.apply_delta(_delta(market_ticker=None))
    assert store.get(T1).yes == {D("0.40"): D(5)}


def test_store_refuses_an_unappliable_snapshot_and_keeps_the_book() -> None:
    """An unusable snapshot neither creates nor replaces a book."""
    store = BookStore()
    store.apply_snapshot(_snapshot())
    with pytest.raises(UnappliableError):
        store.apply_snapshot(_snapshot(yes=None, seq=5))
    with pytest.raises(UnappliableError):
        store.apply_snapshot(_snapshot(ticker=None, seq=6))  # type: ignore[arg-type]
    assert store.tickers() == [T1]
    assert store.get(T1).yes == {D("0.40"): D(5)} and store.get(T1).seq == 1


def test_unappliable_delta_on_a_book_that_is_not_live_is_ignored() -> None:
    """A book already waiting for a snapshot ignores any delta, appliable or not."""
    store = BookStore()
    store.apply_snapshot(_snapshot())
    store.mark_resyncing([T1])
    assert store.apply_delta(_delta(price=None)) is False


# --- pipeline, offline ------------------------------------------------------------------------


def offline_client(key: Any) -> tuple[ks.KalshiClient, list[Any]]:
    """An inline client fed by hand through the network thread's entry point."""
    client = ks.KalshiClient("partial", key, url=URL, delivery="inline")
    client._pipeline.offline = True
    client._state = "offline"
    got: list[Any] = []
    client.on("*", got.append)
    return client, got


def snapshot_frame(ticker: str, seq: int, sid: int = 1, **msg: Any) -> bytes:
    body = {"market_ticker": ticker, "yes_dollars_fp": [["0.40", "5.00"]], **msg}
    return frame(type="orderbook_snapshot", sid=sid, seq=seq, msg=body)


def delta_frame(seq: int, sid: int = 1, **msg: Any) -> bytes:
    body: dict[str, Any] = {
        "market_ticker": T1,
        "price_dollars": "0.40",
        "delta_fp": "1.00",
        "side": "yes",
    }
    body.update(msg)
    return frame(
        type="orderbook_delta",
        sid=sid,
        seq=seq,
        msg={k: v for k, v in body.items() if v is not ...},
    )


@pytest.fixture
def rsa_key(private_pem: bytes) -> Any:
    from kalshi_sync.auth import load_private_key

    return load_private_key(private_pem)


def test_partial_messages_are_delivered_and_counted(rsa_key: Any) -> None:
    """A fill, user_order and market_position with empty payloads reach the callbacks and
    stats()["partial_messages"]; nothing counts as a decode error."""
    client, got = offline_client(rsa_key)
    try:
        for type_ in ("fill", "user_order", "market_position"):
            client._on_frame(frame(type=type_, sid=9, msg={}))
        client._on_frame(frame(type="ticker", sid=8, msg={"market_ticker": "M"}))
        assert [m.type for m in got] == ["fill", "user_order", "market_position", "ticker"]
        stats = client.stats()
        assert stats["partial_messages"] == 3
        assert stats["decode_errors"] == 0
    finally:
        client.close()


@pytest.mark.parametrize(
    "change",
    [{"price_dollars": ...}, {"delta_fp": ""}, {"side": None}, {"side": "maybe"}],
    ids=["no-price", "empty-delta", "null-side", "unknown-side"],
)
def test_unappliable_delta_is_delivered_and_its_book_resyncs(
    rsa_key: Any, change: dict[str, Any]
) -> None:
    """The delta reaches the callbacks, changes no level, and only its book resyncs."""
    client, got = offline_client(rsa_key)
    try:
        client._on_frame(snapshot_frame(T1, 1))
        client._on_frame(snapshot_frame(T2, 2))
        client._on_frame(delta_frame(3, **change))
        assert [m.type for m in got][-1] == "orderbook_delta"
        assert client.orderbook(T1).state == "resyncing"
        assert client.orderbook(T1).yes == {D("0.40"): D(5)}
        assert client.orderbook(T2).state == "live"
        stats = client.stats()
        assert (stats["resyncs"], stats["gaps"]) == (1, 0)
        # The repair: the next snapshot makes it live again, and a resynced event says so.
        client._on_frame(snapshot_frame(T1, 4, yes_dollars_fp=[["0.41", "2.00"]]))
        assert client.orderbook(T1).state == "live"
        assert client.orderbook(T1).yes == {D("0.41"): D(2)}
        assert [m.type for m in got][-2:] == ["resynced", "orderbook_snapshot"]
        assert got[-2].market_ticker == T1
    finally:
        client.close()


def test_delta_without_market_resyncs_every_book_of_its_sid(rsa_key: Any) -> None:
    """A delta naming no market may belong to any book of its sid: all of them resync."""
    client, got = offline_client(rsa_key)
    try:
        client._on_frame(snapshot_frame(T1, 1))
        client._on_frame(snapshot_frame(T2, 2))
        client._on_frame(snapshot_frame("OTHER-SID", 1, sid=2))
        client._on_frame(delta_frame(3, market_ticker=...))
        assert got[-1].type == "orderbook_delta" and got[-1].market_ticker is None
        assert client.orderbook(T1).state == "resyncing"
        assert client.orderbook(T2).state == "resyncing"
        assert client.orderbook("OTHER-SID").state == "live"
        assert client.stats()["resyncs"] == 1
    finally:
        client.close()


def test_unusable_snapshot_is_delivered_not_applied_and_resyncs(rsa_key: Any) -> None:
    """A snapshot with an unreadable side keeps the old levels and puts the book resyncing."""
    client, got = offline_client(rsa_key)
    try:
        client._on_frame(snapshot_frame(T1, 1))
        client._on_frame(snapshot_frame(T1, 2, yes_dollars_fp=[["0.55", ""]]))
        assert got[-1].type == "orderbook_snapshot" and got[-1].yes is None
        book = client.orderbook(T1)
        assert book.state == "resyncing" and book.yes == {D("0.40"): D(5)}
        assert client.stats()["partial_messages"] == 1
    finally:
        client.close()


def test_empty_book_snapshot_is_applied(rsa_key: Any) -> None:
    """Both sides absent and market_id "": the book becomes live and empty."""
    client, _ = offline_client(rsa_key)
    try:
        client._on_frame(snapshot_frame(T1, 1))
        client._on_frame(
            frame(
                type="orderbook_snapshot", sid=1, seq=2, msg={"market_ticker": T1, "market_id": ""}
            )
        )
        book = client.orderbook(T1)
        assert book.state == "live" and dict(book.yes) == {} and dict(book.no) == {}
        assert client.stats()["partial_messages"] == 0
    finally:
        client.close()


# --- a live client against FakeKalshiServer -------------------------------------------------


def test_private_messages_missing_every_optional_field_are_delivered(server, private_pem):
    """Through the wire: fill, user_order and market_position frames with empty payloads
    arrive at their subscription callbacks as typed, partial messages."""
    client = make_client(server, private_pem)
    got: queue.Queue[Any] = queue.Queue()
    try:
        client.start()
        for channel in ("fill", "user_orders", "market_positions"):
            client.subscribe(channel, callback=got.put)
        server.publish("fill", "fill", {})
        server.publish("user_orders", "user_order", {})
        server.publish("market_positions", "market_position", {"market_ticker": "M"})
        received = [got.get(timeout=5) for _ in range(3)]
        assert [type(m) for m in received] == [Fill, UserOrder, MarketPosition]
        assert [m.missing for m in received] == [
            ("market_ticker", "yes_price", "count"),
            ("order_id", "ticker"),
            ("position",),
        ]
        stats = client.stats()
        assert (stats["partial_messages"], stats["decode_errors"]) == (3, 0)
    finally:
        client.close()


def test_unappliable_delta_is_repaired_with_get_snapshot(server, private_pem):
    """A delta without price on the wire: delivered, the book resyncs through get_snapshot
    for that market only, and ends equal to the server's book. No gap is reported."""
    seed(server, T1, T2)
    client = make_client(server, private_pem)
    deltas: queue.Queue[Any] = queue.Queue()
    resynced = events(client, "resynced")
    gaps = events(client, "gap")
    try:
        client.start()
        sub = client.subscribe("orderbook_delta", [T1, T2])
        client.on("orderbook_delta", deltas.put)
        wait_for(lambda: book_equals_server(client, server, T1), what="first snapshot")
        wait_for(lambda: book_equals_server(client, server, T2), what="first snapshot")
        server.publish(
            "orderbook_delta",
            "orderbook_delta",
            {"market_ticker": T1, "side": "yes", "delta_fp": "5.00"},
            market_ticker=T1,
        )
        bad = deltas.get(timeout=5)
        assert bad.price is None and bad.missing == ("price",)
        assert resynced.get(timeout=5).market_ticker == T1
        server.apply_delta(T1, "yes", "0.42", "1")  # the stream continues after the repair
        wait_for(lambda: book_equals_server(client, server, T1), what="repaired book")
        snapshots = [
            c
            for c in server.commands
            if c.get("cmd") == "update_subscription" and c["params"].get("action") == "get_snapshot"
        ]
        assert [c["params"]["market_tickers"] for c in snapshots] == [[T1]]
        assert snapshots[0]["params"]["sid"] == sub.sid
        assert gaps.empty()
        stats = client.stats()
        assert (stats["resyncs"], stats["gaps"], stats["partial_messages"]) == (1, 0, 1)
    finally:
        client.close()


def test_delta_without_market_does_not_re_request_books_already_resyncing(rsa_key: Any) -> None:
    """A second market-less delta while the sid's books wait for snapshots asks nothing more."""
    client, _ = offline_client(rsa_key)
    try:
        client._on_frame(snapshot_frame(T1, 1))
        client._on_frame(delta_frame(2, market_ticker=...))
        client._on_frame(delta_frame(3, market_ticker=...))
        assert client.orderbook(T1).state == "resyncing"
        assert client.stats()["resyncs"] == 1
    finally:
        client.close()


def test_snapshot_without_market_resyncs_every_book_of_its_sid(rsa_key: Any) -> None:
    """A snapshot naming no market could have been any of them: all of the sid's books
    resync, whatever their state."""
    client, got = offline_client(rsa_key)
    try:
        client._on_frame(snapshot_frame(T1, 1))
        client._on_frame(snapshot_frame(T2, 2))
        client._on_frame(delta_frame(3, price_dollars=...))  # T1 now resyncing
        client._on_frame(frame(type="orderbook_snapshot", sid=1, seq=4, msg={}))
        assert got[-1].type == "orderbook_snapshot" and got[-1].missing == ("market_ticker",)
        assert client.orderbook(T1).state == "resyncing"
        assert client.orderbook(T2).state == "resyncing"
        assert client.stats()["resyncs"] == 2
    finally:
        client.close()
