"""Message models: every wire type decodes from a current and a legacy frame into its class.

Vectors are Kalshi's documented JSON examples (docs/protocol.md, 'Channels'), verbatim where
the documentation gives a complete frame; legacy frames use the integer fields documented
as removed in March 2026.
"""

from __future__ import annotations

import pickle
from decimal import Decimal
from typing import Any

import attrs
import pytest

from kalshi_sync import models
from kalshi_sync.models import (
    CfbenchmarksIndexList,
    CfbenchmarksValue,
    EventFeeUpdate,
    EventLifecycle,
    Fill,
    MarketLifecycle,
    MarketPosition,
    Message,
    MultivariateMarketLifecycle,
    MveLeg,
    OrderbookDelta,
    OrderbookSnapshot,
    OrderGroupUpdate,
    PriceRange,
    PythUnderlyingList,
    PythValue,
    QuoteAccepted,
    QuoteCreated,
    QuoteExecuted,
    RfqCreated,
    RfqDeleted,
    Ticker,
    Trade,
    UserOrder,
)
from kalshi_sync.protocol import decode

D = Decimal

# --- documented vectors (verbatim) ---------------------------------------------------------

SNAPSHOT = """{"type": "orderbook_snapshot", "sid": 2, "seq": 2,
 "msg": {"market_ticker": "FED-23DEC-T3.00",
         "market_id": "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1",
         "yes_dollars_fp": [["0.0800", "300.00"], ["0.2200", "333.00"]],
         "no_dollars_fp":  [["0.5400", "20.00"],  ["0.5600", "146.00"]]}}"""

DELTA = """{"type": "orderbook_delta", "sid": 2, "seq": 3,
 "msg": {"market_ticker": "FED-23DEC-T3.00",
         "market_id": "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1",
         "price_dollars": "0.9600", "delta_fp": "-54.00", "side": "yes",
         "ts": "2022-11-22T20:44:01Z", "ts_ms": 1669149841000}}"""

TICKER = """{"type": "ticker", "sid": 11,
 "msg": {"market_id": "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1",
         "market_ticker": "FED-23DEC-T3.00",
         "price_dollars": "0.4800", "yes_bid_dollars": "0.4500", "yes_ask_dollars": "0.5300",
         "volume_fp": "33896.00", "open_interest_fp": "20422.00",
         "dollar_volume": 16948, "dollar_open_interest": 10211,
         "yes_bid_size_fp": "300.00", "yes_ask_size_fp": "150.00", "last_trade_size_fp": "25.00",
         "ts": 1669149841, "ts_ms": 1669149841000, "time": "2022-11-22T20:44:01Z"}}"""

TRADE = """{"type": "trade", "sid": 11, "seq": 2,
 "msg": {"trade_id": "d91bc706-ee49-470d-82d8-11418bda6fed",
         "market_ticker": "HIGHNY-22DEC23-B53.5",
         "yes_price_dollars": "0.3600", "no_price_dollars": "0.6400",
         "count_fp": "136.00",
         "taker_side": "no", "taker_outcome_side": "no", "taker_book_side": "ask",
         "is_block_trade": false, "ts": 1669149841, "ts_ms": 1669149841000}}"""

FILL = """{"type": "fill", "sid": 13,
 "msg": {"trade_id": "d91bc706-ee49-470d-82d8-11418bda6fed",
         "order_id": "ee587a1c-8b87-4dcf-b721-9f6f790619fa",
         "client_order_id": "my-order-1",
         "market_ticker": "HIGHNY-22DEC23-B53.5", "exchange_index": 2,
         "is_taker": true, "side": "yes", "action": "buy", "purchased_side": "yes",
         "outcome_side": "yes", "book_side": "bid",
         "yes_price_dollars": "0.7500", "count_fp": "278.00", "fee_cost": "0.010000",
         "post_position_fp": "500.00", "subaccount": 3,
         "ts": 1671899397, "ts_ms": 1671899397000}}"""

POSITION = """{"type": "market_position", "sid": 14,
 "msg": {"user_id": "user123", "market_ticker": "FED-23DEC-T3.00",
         "position_fp": "100.00", "position_cost_dollars": "50.0000",
         "realized_pnl_dollars": "10.0000", "fees_paid_dollars": "1.0000",
         "position_fee_cost_dollars": "0.5000", "volume_fp": "15.00", "subaccount": 0}}"""

USER_ORDER = """{"type": "user_order", "sid": 22,
 "msg": {"order_id": "ee587a1c-8b87-4dcf-b721-9f6f790619fa",
         "user_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
         "ticker": "FED-23DEC-T3.00", "exchange_index": 2, "status": "resting",
         "side": "yes", "is_yes": true, "outcome_side": "yes", "book_side": "bid",
         "yes_price_dollars": "0.3500",
         "fill_count_fp": "0.00", "remaining_count_fp": "10.00", "initial_count_fp": "10.00",
         "taker_fill_cost_dollars": "0.000000", "maker_fill_cost_dollars": "0.000000",
         "taker_fees_dollars": "0.000000", "maker_fees_dollars": "0.000000",
         "client_order_id": "my-order-1", "order_group_id": "og_123",
         "self_trade_prevention_type": "taker_at_cross",
         "created_time": "2024-12-01T10:00:00Z", "created_ts_ms": 1733047200000,
         "expiration_time": "2024-12-01T11:00:00Z", "expiration_ts_ms": 1733050800000,
         "subaccount_number": 0}}"""

ORDER_GROUP = """{"type": "order_group_updates", "sid": 21, "seq": 7,
 "msg": {"event_type": "limit_updated", "order_group_id": "og_123",
         "contracts_limit_fp": "150.00", "ts_ms": 1733047200000}}"""

LIFECYCLE_CREATED = """{"type": "market_lifecycle_v2", "sid": 13, "seq": 3,
 "msg": {"market_ticker": "INXD-23SEP14-B4487", "event_type": "created", "exchange_index": 0,
         "open_ts": 1694635200, "close_ts": 1694721600,
         "additional_metadata": {"name": "S&P 500 daily return on Sep 14",
            "title": "S&P 500 closes up by 0.02% or more",
            "yes_sub_title": "S&P 500 closes up 0.02%+", "no_sub_title": "S&P 500 closes up <0.02%",
            "rules_primary": "...", "rules_secondary": "", "can_close_early": true,
            "event_ticker": "INXD-23SEP14", "expected_expiration_ts": 1694721600,
            "strike_type": "greater", "floor_strike": 4487},
         "price_level_structure": "linear_cent",
         "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]}}"""

LIFECYCLE_METADATA = """{"type": "market_lifecycle_v2", "sid": 13, "seq": 5,
 "msg": {"event_type": "metadata_updated", "market_ticker": "KXBTC-25APR30-T0915-B95000",
         "strike_type": "between", "floor_strike": 95000, "cap_strike": 95250}}"""

EVENT_LIFECYCLE = """{"type": "event_lifecycle", "sid": 5, "seq": 8,
 "msg": {"event_ticker": "KXQUICKSETTLE-26JAN25H2150", "exchange_index": 0,
         "title": "What will 1+1 equal on Jan 25 at 21:50?", "subtitle": "Jan 25 at 21:50",
         "collateral_return_type": "MECNET", "series_ticker": "KXQUICKSETTLE"}}"""

EVENT_FEE = """{"type": "event_fee_update", "sid": 5, "seq": 9,
 "msg": {"event_ticker": "KXBTCD-26MAY2018", "fee_type_override": "quadratic", "fee_multiplier_override": 1}}"""  # noqa: E501 (verbatim documented vector)

RFQ_CREATED = """{"type": "rfq_created", "sid": 15, "seq": 11,
 "msg": {"id": "rfq_123", "creator_id": "43fc…", "market_ticker": "FED-23DEC-T3.00",
         "event_ticker": "FED-23DEC", "contracts_fp": "100.00", "created_ts": "2024-12-01T10:00:00Z"}}"""  # noqa: E501 (verbatim documented vector)

RFQ_DELETED = """{"type": "rfq_deleted", "sid": 15, "seq": 12,
 "msg": {"id": "rfq_123", "creator_id": "comm_abc123", "market_ticker": "FED-23DEC-T3.00",
         "event_ticker": "FED-23DEC", "contracts_fp": "100.00", "target_cost_dollars": "0.3500",
         "deleted_ts": "2024-12-01T10:05:00Z"}}"""

QUOTE_CREATED = """{"type": "quote_created", "sid": 15, "seq": 13,
 "msg": {"quote_id": "quote_456", "rfq_id": "rfq_123", "quote_creator_id": "comm_def456",
         "rfq_creator_id": "comm_abc123", "market_ticker": "FED-23DEC-T3.00", "event_ticker": "FED-23DEC",
         "yes_bid_dollars": "0.3500", "no_bid_dollars": "0.6500",
         "yes_contracts_offered_fp": "100.00", "no_contracts_offered_fp": "200.00",
         "rfq_target_cost_dollars": "0.3500", "created_ts": "2024-12-01T10:02:00Z", "subaccount": 3}}"""  # noqa: E501 (verbatim documented vector)

QUOTE_ACCEPTED = """{"type": "quote_accepted", "sid": 15, "seq": 14,
 "msg": {"quote_id": "quote_456", "rfq_id": "rfq_123", "quote_creator_id": "comm_def456",
         "rfq_creator_id": "comm_abc123", "market_ticker": "FED-23DEC-T3.00",
         "yes_bid_dollars": "0.3500", "no_bid_dollars": "0.6500", "accepted_side": "yes",
         "contracts_accepted_fp": "50.00", "subaccount": 3}}"""

QUOTE_EXECUTED = """{"type": "quote_executed", "sid": 15, "seq": 15,
 "msg": {"quote_id": "quote_456", "rfq_id": "rfq_123", "quote_creator_id": "a1b2…",
         "rfq_creator_id": "f6e5…", "order_id": "order_789", "client_order_id": "my_client_order_123",
         "market_ticker": "FED-23DEC-T3.00", "executed_ts": "2024-12-01T10:05:00Z", "subaccount": 3}}"""  # noqa: E501 (verbatim documented vector)

# §6.13 shows "{...optional...}" and "..." placeholders; they are filled in with plain values.
CFB = (
    '{"type":"cfbenchmarks_value","sid":1,"seq":42,"msg":{"index_id":"BRTI",'
    '"received_at":1710000000123,"data":"<raw CF JSON string>","avg_60s_data":'
    '{"value":"68000.12000000","window_size":3,"window_start_ts_ms":1709999940123,'
    '"window_end_ts_exclusive":1710000000123}}}'
)
CFB_5HZ = (
    '{"type":"cfbenchmarks_value_5hz","sid":1,"seq":42,"msg":{"index_id":"BRTI",'
    '"value_usd":"68000.12000000","source_ts_ms":1710000000100,"received_at":1710000000123,'
    '"data":"{}"}}'
)
PYTH = (
    '{"type":"pyth_value","sid":1,"seq":42,"msg":{"underlying_ticker":'
    '"Commodities.Index.PYTHOIL/USD","value_usd":"82.12345000","source_ts_ms":1710000000100,'
    '"received_at":1710000000123}}'
)

# --- legacy frames (integer cents / counts / centi-cents, pre March 2026) -------------------

LEGACY: dict[str, str] = {
    "snapshot_cents": '{"type":"orderbook_snapshot","sid":2,"seq":2,"msg":{"market_ticker":'
    '"FED-23DEC-T3.00","yes":[[8,300],[22,333]],"no":[[54,20],[56,146]]}}',
    "snapshot_dollars": '{"type":"orderbook_snapshot","sid":2,"seq":2,"msg":{"market_ticker":'
    '"FED-23DEC-T3.00","yes_dollars":[["0.080",300],["0.220",333]],'
    '"no_dollars":[["0.540",20],["0.560",146]]}}',
    "delta": '{"type":"orderbook_delta","sid":2,"seq":3,"msg":{"market_ticker":"FED-23DEC-T3.00",'
    '"price":96,"delta":-54,"side":"yes"}}',
    "ticker": '{"type":"ticker","sid":11,"msg":{"market_ticker":"FED-23DEC-T3.00","price":48,'
    '"yes_bid":45,"yes_ask":53,"volume":33896,"open_interest":20422,"dollar_volume":16948,'
    '"dollar_open_interest":10211,"ts":1669149841}}',
    "trade": '{"type":"trade","sid":11,"msg":{"market_ticker":"HIGHNY-22DEC23-B53.5",'
    '"yes_price":36,"no_price":64,"count":136,"taker_side":"no","ts":1669149841}}',
    "fill": '{"type":"fill","sid":13,"msg":{"trade_id":"t1","order_id":"o1",'
    '"market_ticker":"HIGHNY-22DEC23-B53.5","is_taker":true,"side":"yes","action":"buy",'
    '"yes_price":75,"no_price":25,"count":278,"post_position":500,"ts":1671899397}}',
    "position": '{"type":"market_position","sid":14,"msg":{"user_id":"user123",'
    '"market_ticker":"FED-23DEC-T3.00","position":100,"position_cost":500000,'
    '"realized_pnl":100000,"fees_paid":10000,"position_fee_cost":5000,"volume":15}}',
    "user_order": '{"type":"user_order","sid":22,"msg":{"order_id":"o1","ticker":"FED-23DEC-T3.00",'
    '"status":"resting","side":"yes","yes_price":35,"no_price":65,"fill_count":0,'
    '"remaining_count":10,"initial_count":10,"taker_fill_cost":0,"maker_fees":2}}',
    "order_group": '{"type":"order_group_updates","sid":21,"seq":7,"msg":{"event_type":"created",'
    '"order_group_id":"og_123","contracts_limit":150}}',
    "lifecycle": '{"type":"market_lifecycle_v2","sid":13,"msg":{'
    '"market_ticker":"INXD-23SEP14-B4487","event_type":"deactivated","is_deactivated":true}}',
    "event_lifecycle": '{"type":"event_lifecycle","sid":5,"msg":{"event_ticker":"KXQ-26JAN25",'
    '"title":"T","sub_title":"Jan 25","collateral_return_type":"","series_ticker":"KXQ",'
    '"strike_date":1769377800}}',
    "event_fee": '{"type":"event_fee_update","sid":5,"seq":10,"msg":{'
    '"event_ticker":"KXBTCD-26MAY2018","fee_type_override":null,"fee_multiplier_override":null}}',
    "mve_lifecycle": '{"type":"multivariate_market_lifecycle","sid":6,"msg":{"market_ticker":'
    '"KXMVECROSSCATEGORY-S1-R","event_type":"determined","result":"yes","determination_ts":1}}',
    "rfq_created": '{"type":"rfq_created","sid":15,"msg":{"id":"rfq_123","creator_id":"",'
    '"market_ticker":"FED-23DEC-T3.00","contracts":100,"target_cost":3500}}',
    "rfq_deleted": '{"type":"rfq_deleted","sid":15,"msg":{"id":"rfq_123","market_ticker":'
    '"FED-23DEC-T3.00","contracts":100,"target_cost":3500}}',
    "quote_created": '{"type":"quote_created","sid":15,"msg":{"quote_id":"q","rfq_id":"r",'
    '"market_ticker":"FED-23DEC-T3.00","yes_bid":35,"no_bid":65,"yes_contracts_offered":100,'
    '"no_contracts_offered":200,"rfq_target_cost":3500}}',
    "quote_accepted": '{"type":"quote_accepted","sid":15,"msg":{"quote_id":"q","rfq_id":"r",'
    '"yes_bid":35,"no_bid":65,"accepted_side":"no","contracts_accepted":50}}',
    "quote_executed": '{"type":"quote_executed","sid":15,"msg":{"quote_id":"q","rfq_id":"r",'
    '"order_id":"o","market_ticker":"FED-23DEC-T3.00","executed_ts":"2024-12-01T10:05:00Z"}}',
}

# (frame, class, expected attributes). Decimal expectations are also checked to be Decimals.
CASES: list[Any] = [
    pytest.param(
        SNAPSHOT,
        OrderbookSnapshot,
        {
            "sid": 2,
            "seq": 2,
            "market_ticker": "FED-23DEC-T3.00",
            "market_id": "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1",
            "yes": ((D("0.08"), D(300)), (D("0.22"), D(333))),
            "no": ((D("0.54"), D(20)), (D("0.56"), D(146))),
            "id": None,
        },
        id="orderbook_snapshot-current",
    ),
    *(
        pytest.param(
            LEGACY[key],
            OrderbookSnapshot,
            {
                "yes": ((D("0.08"), D(300)), (D("0.22"), D(333))),
                "no": ((D("0.54"), D(20)), (D("0.56"), D(146))),
                "market_id": None,
            },
            id=f"orderbook_snapshot-legacy-{key}",
        )
        for key in ("snapshot_cents", "snapshot_dollars")
    ),
    pytest.param(
        DELTA,
        OrderbookDelta,
        {
            "sid": 2,
            "seq": 3,
            "market_ticker": "FED-23DEC-T3.00",
            "market_id": "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1",
            "price": D("0.96"),
            "delta": D(-54),
            "side": "yes",
            "client_order_id": None,
            "subaccount": None,
            "ts": "2022-11-22T20:44:01Z",
            "ts_ms": 1669149841000,
        },
        id="orderbook_delta-current",
    ),
    pytest.param(
        LEGACY["delta"],
        OrderbookDelta,
        {"price": D("0.96"), "delta": D(-54), "side": "yes", "market_id": None, "ts_ms": None},
        id="orderbook_delta-legacy",
    ),
    pytest.param(
        TICKER,
        Ticker,
        {
            "sid": 11,
            "seq": None,
            "market_ticker": "FED-23DEC-T3.00",
            "price": D("0.48"),
            "yes_bid": D("0.45"),
            "yes_ask": D("0.53"),
            "volume": D(33896),
            "open_interest": D(20422),
            "dollar_volume": 16948,
            "dollar_open_interest": 10211,
            "yes_bid_size": D(300),
            "yes_ask_size": D(150),
            "last_trade_size": D(25),
            "ts": 1669149841,
            "ts_ms": 1669149841000,
            "time": "2022-11-22T20:44:01Z",
        },
        id="ticker-current",
    ),
    pytest.param(
        LEGACY["ticker"],
        Ticker,
        {
            "price": D("0.48"),
            "yes_bid": D("0.45"),
            "yes_ask": D("0.53"),
            "volume": D(33896),
            "open_interest": D(20422),
            "yes_bid_size": None,
        },
        id="ticker-legacy",
    ),
    pytest.param(
        TRADE,
        Trade,
        {
            "seq": 2,
            "trade_id": "d91bc706-ee49-470d-82d8-11418bda6fed",
            "market_ticker": "HIGHNY-22DEC23-B53.5",
            "yes_price": D("0.36"),
            "no_price": D("0.64"),
            "count": D(136),
            "taker_side": "no",
            "taker_outcome_side": "no",
            "taker_book_side": "ask",
            "is_block_trade": False,
            "ts_ms": 1669149841000,
        },
        id="trade-current",
    ),
    pytest.param(
        LEGACY["trade"],
        Trade,
        {"yes_price": D("0.36"), "no_price": D("0.64"), "count": D(136), "trade_id": None},
        id="trade-legacy",
    ),
    pytest.param(
        FILL,
        Fill,
        {
            "trade_id": "d91bc706-ee49-470d-82d8-11418bda6fed",
            "order_id": "ee587a1c-8b87-4dcf-b721-9f6f790619fa",
            "client_order_id": "my-order-1",
            "market_ticker": "HIGHNY-22DEC23-B53.5",
            "exchange_index": 2,
            "is_taker": True,
            "side": "yes",
            "action": "buy",
            "purchased_side": "yes",
            "outcome_side": "yes",
            "book_side": "bid",
            "yes_price": D("0.75"),
            "count": D(278),
            "fee_cost": D("0.01"),
            "post_position": D(500),
            "subaccount": 3,
            "ts_ms": 1671899397000,
        },
        id="fill-current",
    ),
    pytest.param(
        LEGACY["fill"],
        Fill,
        {
            "yes_price": D("0.75"),
            "no_price": D("0.25"),
            "count": D(278),
            "post_position": D(500),
            "fee_cost": None,
        },
        id="fill-legacy",
    ),
    pytest.param(
        POSITION,
        MarketPosition,
        {
            "user_id": "user123",
            "market_ticker": "FED-23DEC-T3.00",
            "position": D(100),
            "position_cost": D(50),
            "realized_pnl": D(10),
            "fees_paid": D(1),
            "position_fee_cost": D("0.5"),
            "volume": D(15),
            "subaccount": 0,
        },
        id="market_position-current",
    ),
    pytest.param(
        LEGACY["position"],
        MarketPosition,
        {
            "position": D(100),
            "position_cost": D(50),
            "realized_pnl": D(10),
            "fees_paid": D(1),
            "position_fee_cost": D("0.5"),
            "volume": D(15),
        },
        id="market_position-legacy-centicents",
    ),
    pytest.param(
        USER_ORDER,
        UserOrder,
        {
            "order_id": "ee587a1c-8b87-4dcf-b721-9f6f790619fa",
            "ticker": "FED-23DEC-T3.00",
            "market_ticker": "FED-23DEC-T3.00",
            "exchange_index": 2,
            "status": "resting",
            "is_yes": True,
            "yes_price": D("0.35"),
            "fill_count": D(0),
            "remaining_count": D(10),
            "initial_count": D(10),
            "taker_fill_cost": D(0),
            "maker_fees": D(0),
            "order_group_id": "og_123",
            "self_trade_prevention_type": "taker_at_cross",
            "created_ts_ms": 1733047200000,
            "expiration_ts_ms": 1733050800000,
            "subaccount_number": 0,
        },
        id="user_order-current",
    ),
    pytest.param(
        LEGACY["user_order"],
        UserOrder,
        {
            "market_ticker": "FED-23DEC-T3.00",
            "yes_price": D("0.35"),
            "no_price": D("0.65"),
            "fill_count": D(0),
            "remaining_count": D(10),
            "initial_count": D(10),
            "taker_fill_cost": D(0),
            "maker_fees": D("0.02"),
        },
        id="user_order-legacy",
    ),
    pytest.param(
        ORDER_GROUP,
        OrderGroupUpdate,
        {
            "seq": 7,
            "event_type": "limit_updated",
            "order_group_id": "og_123",
            "contracts_limit": D(150),
            "ts_ms": 1733047200000,
        },
        id="order_group_updates-current",
    ),
    pytest.param(
        LEGACY["order_group"],
        OrderGroupUpdate,
        {"event_type": "created", "contracts_limit": D(150), "ts_ms": None},
        id="order_group_updates-legacy",
    ),
    pytest.param(
        LIFECYCLE_CREATED,
        MarketLifecycle,
        {
            "market_ticker": "INXD-23SEP14-B4487",
            "event_type": "created",
            "exchange_index": 0,
            "open_ts": 1694635200,
            "close_ts": 1694721600,
            "price_level_structure": "linear_cent",
            "price_ranges": (PriceRange(start=D(0), end=D(1), step=D("0.01")),),
        },
        id="market_lifecycle_v2-created-current",
    ),
    pytest.param(
        LIFECYCLE_METADATA,
        MarketLifecycle,
        {
            "event_type": "metadata_updated",
            "strike_type": "between",
            "floor_strike": D(95000),
            "cap_strike": D(95250),
            "price_ranges": None,
        },
        id="market_lifecycle_v2-metadata_updated-current",
    ),
    pytest.param(
        LEGACY["lifecycle"],
        MarketLifecycle,
        {"seq": None, "event_type": "deactivated", "is_deactivated": True, "exchange_index": None},
        id="market_lifecycle_v2-legacy",
    ),
    pytest.param(
        EVENT_LIFECYCLE,
        EventLifecycle,
        {
            "event_ticker": "KXQUICKSETTLE-26JAN25H2150",
            "exchange_index": 0,
            "title": "What will 1+1 equal on Jan 25 at 21:50?",
            "subtitle": "Jan 25 at 21:50",
            "collateral_return_type": "MECNET",
            "series_ticker": "KXQUICKSETTLE",
        },
        id="event_lifecycle-current",
    ),
    pytest.param(
        LEGACY["event_lifecycle"],
        EventLifecycle,
        # "" decodes to None like an absent field (it was passed through as "").
        {"subtitle": "Jan 25", "strike_date": 1769377800, "collateral_return_type": None},
        id="event_lifecycle-legacy-sub_title",
    ),
    pytest.param(
        EVENT_FEE,
        EventFeeUpdate,
        {
            "event_ticker": "KXBTCD-26MAY2018",
            "fee_type_override": "quadratic",
            "fee_multiplier_override": D(1),
        },
        id="event_fee_update-current",
    ),
    pytest.param(
        LEGACY["event_fee"],
        EventFeeUpdate,
        {"fee_type_override": None, "fee_multiplier_override": None},
        id="event_fee_update-cleared",
    ),
    pytest.param(
        LIFECYCLE_CREATED.replace('"market_lifecycle_v2"', '"multivariate_market_lifecycle"'),
        MultivariateMarketLifecycle,
        {"event_type": "created", "price_level_structure": "linear_cent"},
        id="multivariate_market_lifecycle-current",
    ),
    pytest.param(
        LEGACY["mve_lifecycle"],
        MultivariateMarketLifecycle,
        {"event_type": "determined", "result": "yes", "determination_ts": 1},
        id="multivariate_market_lifecycle-legacy",
    ),
    pytest.param(
        RFQ_CREATED,
        RfqCreated,
        {
            "id": "rfq_123",
            "creator_id": "43fc…",
            "market_ticker": "FED-23DEC-T3.00",
            "event_ticker": "FED-23DEC",
            "contracts": D(100),
            "target_cost": None,
            "created_ts": "2024-12-01T10:00:00Z",
        },
        id="rfq_created-current",
    ),
    pytest.param(
        LEGACY["rfq_created"],
        RfqCreated,
        # The early-2026 empty creator_id: None, and it counts as obscured (was: "").
        {
            "contracts": D(100),
            "target_cost": D("0.35"),
            "creator_id": None,
            "creator_obscured": True,
        },
        id="rfq_created-legacy-centicents",
    ),
    pytest.param(
        RFQ_DELETED,
        RfqDeleted,
        {
            "id": "rfq_123",
            "contracts": D(100),
            "target_cost": D("0.35"),
            "deleted_ts": "2024-12-01T10:05:00Z",
        },
        id="rfq_deleted-current",
    ),
    pytest.param(
        LEGACY["rfq_deleted"],
        RfqDeleted,
        {"contracts": D(100), "target_cost": D("0.35"), "deleted_ts": None},
        id="rfq_deleted-legacy",
    ),
    pytest.param(
        QUOTE_CREATED,
        QuoteCreated,
        {
            "quote_id": "quote_456",
            "rfq_id": "rfq_123",
            "rfq_creator_id": "comm_abc123",
            "yes_bid": D("0.35"),
            "no_bid": D("0.65"),
            "yes_contracts_offered": D(100),
            "no_contracts_offered": D(200),
            "rfq_target_cost": D("0.35"),
            "subaccount": 3,
        },
        id="quote_created-current",
    ),
    pytest.param(
        LEGACY["quote_created"],
        QuoteCreated,
        {
            "yes_bid": D("0.35"),
            "no_bid": D("0.65"),
            "yes_contracts_offered": D(100),
            "no_contracts_offered": D(200),
            "rfq_target_cost": D("0.35"),
            "rfq_creator_id": None,
        },
        id="quote_created-legacy",
    ),
    pytest.param(
        QUOTE_ACCEPTED,
        QuoteAccepted,
        {
            "quote_id": "quote_456",
            "yes_bid": D("0.35"),
            "no_bid": D("0.65"),
            "accepted_side": "yes",
            "contracts_accepted": D(50),
            "subaccount": 3,
        },
        id="quote_accepted-current",
    ),
    pytest.param(
        LEGACY["quote_accepted"],
        QuoteAccepted,
        {"yes_bid": D("0.35"), "contracts_accepted": D(50), "market_ticker": None},
        id="quote_accepted-legacy",
    ),
    pytest.param(
        QUOTE_EXECUTED,
        QuoteExecuted,
        {
            "quote_id": "quote_456",
            "order_id": "order_789",
            "client_order_id": "my_client_order_123",
            "market_ticker": "FED-23DEC-T3.00",
            "executed_ts": "2024-12-01T10:05:00Z",
            "subaccount": 3,
        },
        id="quote_executed-current",
    ),
    pytest.param(
        LEGACY["quote_executed"],
        QuoteExecuted,
        {"order_id": "o", "subaccount": None, "quote_creator_id": None},
        id="quote_executed-legacy",
    ),
    pytest.param(
        CFB,
        CfbenchmarksValue,
        {
            "type": "cfbenchmarks_value",
            "index_id": "BRTI",
            "received_at": 1710000000123,
            "value_usd": None,
            "data": "<raw CF JSON string>",
        },
        id="cfbenchmarks_value-current",
    ),
    pytest.param(
        CFB_5HZ,
        CfbenchmarksValue,
        {
            "type": "cfbenchmarks_value_5hz",
            "value_usd": D("68000.12"),
            "source_ts_ms": 1710000000100,
        },
        id="cfbenchmarks_value_5hz-current",
    ),
    pytest.param(
        PYTH,
        PythValue,
        {
            "underlying_ticker": "Commodities.Index.PYTHOIL/USD",
            "value_usd": D("82.12345"),
            "received_at": 1710000000123,
        },
        id="pyth_value-current",
    ),
]


@pytest.mark.parametrize(("frame", "cls", "expected"), CASES)
def test_vector_decodes_to_its_class(
    frame: str, cls: type[Message], expected: dict[str, Any]
) -> None:
    """Each wire type, current and legacy, decodes to its class with normalised values."""
    msg = decode(frame)
    assert type(msg) is cls
    for name, want in expected.items():
        got = getattr(msg, name)
        assert got == want, name
        if isinstance(want, Decimal):
            assert type(got) is Decimal, name


@pytest.mark.parametrize(("frame", "cls", "expected"), CASES)
def test_vector_decodes_as_str_and_bytes_alike(
    frame: str, cls: type[Message], expected: Any
) -> None:
    """decode() gives equal messages for the text and the UTF-8 bytes of a frame."""
    assert decode(frame) == decode(frame.encode())


@pytest.mark.parametrize(("frame", "cls", "expected"), CASES)
def test_decoded_message_equals_one_built_by_init(frame: str, cls: Any, expected: Any) -> None:
    """The decoder's slot-level construction yields what the attrs __init__ would build."""
    msg = decode(frame)
    rebuilt = attrs.evolve(msg)  # goes through __init__
    assert rebuilt == msg
    assert attrs.asdict(rebuilt) == attrs.asdict(msg)  # every slot was set
    assert hash(rebuilt) == hash(msg)


def test_every_current_decimal_is_exact_text() -> None:
    """Current-form values keep the exact text of the wire (no float, no rounding)."""
    msg = decode(FILL)
    assert isinstance(msg, Fill)
    assert str(msg.fee_cost) == "0.010000"
    assert str(msg.yes_price) == "0.7500"
    assert str(msg.post_position) == "500.00"


def test_legacy_cents_scale_exactly() -> None:
    """Legacy integer cents become exact dollar Decimals (8 -> 0.08, never 0.0800000001)."""
    msg = decode(LEGACY["snapshot_cents"])
    assert isinstance(msg, OrderbookSnapshot)
    assert msg.yes is not None
    assert [str(p) for p, _ in msg.yes] == ["0.08", "0.22"]


def test_lifecycle_additional_metadata_is_kept_as_mapping() -> None:
    """market_lifecycle_v2 created keeps additional_metadata as a mapping (hash-exempt)."""
    msg = decode(LIFECYCLE_CREATED)
    assert isinstance(msg, MarketLifecycle)
    assert msg.additional_metadata is not None
    assert msg.additional_metadata["event_ticker"] == "INXD-23SEP14"
    hash(msg)  # the mapping must not make the message unhashable


def test_lifecycle_float_strike_is_exact() -> None:
    """A JSON float strike (drift) becomes the Decimal of its shortest repr, not binary noise."""
    frame = LIFECYCLE_METADATA.replace("95000", "114999.99")
    msg = decode(frame)
    assert isinstance(msg, MarketLifecycle)
    assert msg.floor_strike == D("114999.99")


def test_cfbenchmarks_avg_data_is_mapping() -> None:
    """cfbenchmarks_value keeps avg_60s_data as the server's object."""
    msg = decode(CFB)
    assert isinstance(msg, CfbenchmarksValue)
    assert msg.avg_60s_data is not None
    assert msg.avg_60s_data["value"] == "68000.12000000"


def test_reference_price_list_replies() -> None:
    """indexlist / underlying_list replies decode to typed lists echoing the command id."""
    cfb = decode(
        '{"type":"cfbenchmarks_value_indexlist","id":4,"sid":1,"seq":9,'
        '"msg":{"index_ids":["BRTI","ETHUSD_RTI"]}}'
    )
    assert cfb == CfbenchmarksIndexList(
        type="cfbenchmarks_value_indexlist", id=4, sid=1, seq=9, index_ids=("BRTI", "ETHUSD_RTI")
    )
    pyth = decode(
        '{"type":"pyth_value_underlying_list","id":5,"sid":2,"seq":3,"msg":{"underlying_tickers":[]}}'
    )
    assert pyth == PythUnderlyingList(
        type="pyth_value_underlying_list", id=5, sid=2, seq=3, underlying_tickers=()
    )


def test_mve_rfq_legs_decode() -> None:
    """MVE RFQs decode mve_selected_legs into MveLeg with an exact settlement value."""
    frame = RFQ_CREATED.replace(
        '"created_ts"',
        '"mve_collection_ticker": "KXMVE-C", "mve_selected_legs": [{"event_ticker": "E",'
        ' "market_ticker": "M", "side": "yes", "yes_settlement_value_dollars": "1.0000"}],'
        ' "created_ts"',
    )
    msg = decode(frame)
    assert isinstance(msg, RfqCreated)
    assert msg.mve_collection_ticker == "KXMVE-C"
    assert msg.mve_selected_legs == (
        MveLeg(event_ticker="E", market_ticker="M", side="yes", yes_settlement_value=D(1)),
    )


def test_user_order_market_ticker_alias_is_uniform() -> None:
    """getattr(msg, "market_ticker") works on UserOrder as on every market message."""
    msg = decode(USER_ORDER)
    assert getattr(msg, "market_ticker", None) == "FED-23DEC-T3.00"
    assert "market_ticker" not in attrs.fields_dict(UserOrder)  # an alias, not a second field


def test_messages_are_frozen() -> None:
    """Messages are immutable: assignment raises attrs' FrozenInstanceError."""
    msg = decode(DELTA)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        msg.seq = 4  # type: ignore[misc]


def test_messages_are_slotted_and_picklable() -> None:
    """Messages have no __dict__ (slots) and survive pickling (recording, queues)."""
    msg = decode(TRADE)
    assert not hasattr(msg, "__dict__")
    clone = pickle.loads(pickle.dumps(msg))
    assert clone == msg
    assert clone.raw == msg.raw


def test_raw_is_excluded_from_equality() -> None:
    """Two messages with the same values but different extra wire fields compare equal."""
    a = decode(TRADE)
    b = decode(TRADE.replace('"ts": 1669149841,', '"ts": 1669149841, "new_field": 1,'))
    assert a == b
    assert a.raw != b.raw


def test_every_design_class_exists_and_is_a_message() -> None:
    """The documented message classes exist as frozen attrs subclasses of Message."""
    names = [
        "OrderbookSnapshot",
        "OrderbookDelta",
        "Ticker",
        "Trade",
        "Fill",
        "MarketPosition",
        "UserOrder",
        "OrderGroupUpdate",
        "MarketLifecycle",
        "EventLifecycle",
        "EventFeeUpdate",
        "MultivariateMarketLifecycle",
        "RfqCreated",
        "RfqDeleted",
        "QuoteCreated",
        "QuoteAccepted",
        "QuoteExecuted",
        "ServerError",
        "UnknownMessage",
        "CfbenchmarksValue",
        "PythValue",
    ]
    for name in names:
        cls = getattr(models, name)
        assert issubclass(cls, Message), name
        assert attrs.has(cls), name
        assert name in models.__all__, name
