"""Read endpoints of the fake exchange: portfolio, markets, exchange status, history.

Each function answers one route from the engine's state (read under the server lock) with
the shapes of docs/trading.md, "Portfolio reads". Our choices where Kalshi is silent:
``min_ts``/``max_ts`` bound creation time (orders) or ``ts`` (fills), inclusive; orders and
fills come newest first, positions and markets in first-seen order; a position lists every
market the account traded, flat ones too, unless ``count_filter`` says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from ._books import format_count, format_price
from ._orders import EngineError, Fill, OrderState, PositionState
from ._request import Ctx, bad, page
from ._shapes import money, rest_fill, rest_order, rest_position, rfc3339

if TYPE_CHECKING:
    from ._exchange import ExchangeState

__all__ = ["READS"]

Reply = tuple[int, dict[str, Any] | None]
_CENT = Decimal("0.01")
_STATUSES = ("resting", "canceled", "executed")


def _cents(value: Decimal) -> int:
    return int((value / _CENT).to_integral_value(ROUND_DOWN))  # Kalshi truncates


def exchange_status(state: ExchangeState, ctx: Ctx) -> Reply:
    with state._lock:
        shards = {i: dict(s) for i, s in state._shards.items()}
        resume = state._resume_time
    zero = shards.get(0, {"exchange_active": True, "trading_active": True})
    return 200, {
        "exchange_active": zero["exchange_active"],
        "trading_active": zero["trading_active"],
        "exchange_estimated_resume_time": resume,
        "exchange_index_statuses": [
            {"exchange_index": i, "intra_exchange_transfers_active": True, **s}
            for i, s in sorted(shards.items())
        ],
    }


def _event_ticker(state: ExchangeState, ticker: str) -> str:
    """The market's event: as declared, else the ticker without its last segment."""
    event = state._markets.get(ticker, {}).get("event_ticker")
    return str(event) if event else ticker.rsplit("-", 1)[0]


def _market(state: ExchangeState, ticker: str) -> dict[str, Any]:
    """Caller holds the lock."""
    yes, no = state._books.copy(ticker)
    info = state._markets.get(ticker, {})
    best_yes = max(yes) if yes else None
    best_no = max(no) if no else None
    last = state._last_trade.get(ticker)
    market: dict[str, Any] = {
        "ticker": ticker,
        "event_ticker": _event_ticker(state, ticker),
        "market_type": "binary",
        "status": info.get("status", "active"),
        "exchange_index": state.exchange_index(ticker),
        "yes_bid_dollars": format_price(best_yes if best_yes is not None else Decimal(0)),
        "yes_ask_dollars": format_price(1 - best_no if best_no is not None else Decimal(1)),
        "no_bid_dollars": format_price(best_no if best_no is not None else Decimal(0)),
        "no_ask_dollars": format_price(1 - best_yes if best_yes is not None else Decimal(1)),
        "yes_bid_size_fp": format_count(yes[best_yes] if best_yes is not None else Decimal(0)),
        "yes_ask_size_fp": format_count(no[best_no] if best_no is not None else Decimal(0)),
        "last_price_dollars": format_price(last.yes_price if last else Decimal(0)),
        "volume_fp": format_count(state._volume.get(ticker, Decimal(0))),
    }
    market.update((k, v) for k, v in info.items() if k not in ("exchange_index",))
    return market


def _known(state: ExchangeState) -> list[str]:
    return list(dict.fromkeys([*state._markets, *state._engine.tickers()]))


def market(state: ExchangeState, ctx: Ctx, ticker: str) -> Reply:
    with state._lock:
        if ticker not in _known(state):
            raise EngineError(404, "not_found", f"no market {ticker!r}")
        return 200, {"market": _market(state, ticker)}


def markets(state: ExchangeState, ctx: Ctx) -> Reply:
    wanted = ctx.q_list("tickers")
    event, series, status = (
        ctx.q_str("event_ticker"),
        ctx.q_str("series_ticker"),
        ctx.q_str("status"),
    )
    limit, cursor = ctx.limit(), ctx.cursor()
    with state._lock:
        found = []
        for i, ticker in enumerate(_known(state)):
            m = _market(state, ticker)
            if (
                (wanted is None or ticker in wanted)
                and (event is None or m["event_ticker"] == event)
                and (series is None or ticker.split("-", 1)[0] == series)
                and (status is None or m["status"] == status)
            ):
                found.append((i, m))
    items, next_cursor = page(found, limit, cursor, newest_first=False)
    return 200, {"markets": items, "cursor": next_cursor}


def orderbook(state: ExchangeState, ctx: Ctx, ticker: str) -> Reply:
    depth = ctx.q_int("depth", 0, low=0) or 0
    with state._lock:
        yes, no = state._books.copy(ticker)

    def levels(side: dict[Decimal, Decimal]) -> list[list[str]]:
        best = sorted(side, reverse=True)[: depth or None]
        return [[format_price(p), format_count(side[p])] for p in sorted(best)]

    return 200, {"orderbook_fp": {"yes_dollars": levels(yes), "no_dollars": levels(no)}}


def balance(state: ExchangeState, ctx: Ctx) -> Reply:
    sub = ctx.q_int("subaccount", 0, low=0) or 0
    shard = ctx.q_int("exchange_index")
    with state._lock:
        cash = state._engine.ledger.balance(ctx.owner, sub)
        updated = state._engine.ledger.balance_updated_ms(ctx.owner, sub) or ctx.now_ms
        held = sum(
            (p.position_cost for p in state._engine.ledger.positions(ctx.owner, sub)), Decimal(0)
        )
    if shard not in (None, 0):
        cash, held = Decimal(0), Decimal(0)  # the fake keeps all cash on shard 0
    return 200, {
        "balance": _cents(cash),
        "balance_dollars": money(cash),
        "portfolio_value": _cents(held),
        "updated_ts": updated // 1000,
        "balance_breakdown": [{"exchange_index": 0, "balance": money(cash)}],
    }


def positions(state: ExchangeState, ctx: Ctx) -> Reply:
    sub = ctx.q_int("subaccount", 0, low=0) or 0
    tickers, events = ctx.q_list("ticker"), ctx.q_list("event_ticker")
    shard = ctx.q_int("exchange_index")
    count_filter = ctx.q_list("count_filter")
    fields = {"position": "position", "total_traded": "total_traded"}
    if count_filter is not None and any(f not in fields for f in count_filter):
        raise bad("count_filter takes position and total_traded")
    limit, cursor = ctx.limit(), ctx.cursor()
    with state._lock:
        rows: list[tuple[int, tuple[PositionState, str, int]]] = []
        for i, p in enumerate(state._engine.ledger.positions(ctx.owner, sub)):
            event = _event_ticker(state, p.ticker)
            index = state.exchange_index(p.ticker)
            if (
                (tickers is None or p.ticker in tickers)
                and (events is None or event in events)
                and (shard is None or index == shard)
                and (count_filter is None or any(getattr(p, fields[f]) for f in count_filter))
            ):
                rows.append((i, (p, event, index)))
    chosen, next_cursor = page(rows, limit, cursor, newest_first=False)
    by_event: dict[str, list[PositionState]] = {}
    for _, (p, event, _index) in rows:
        by_event.setdefault(event, []).append(p)
    return 200, {
        "market_positions": [rest_position(p, index) for p, _, index in chosen],
        "event_positions": [
            {
                "event_ticker": event,
                "total_cost_dollars": money(sum((p.total_traded for p in ps), Decimal(0))),
                "total_cost_shares_fp": format_count(sum((p.volume for p in ps), Decimal(0))),
                "event_exposure_dollars": money(sum((p.position_cost for p in ps), Decimal(0))),
                "realized_pnl_dollars": money(sum((p.realized_pnl for p in ps), Decimal(0))),
                "fees_paid_dollars": money(sum((p.fees_paid for p in ps), Decimal(0))),
            }
            for event, ps in by_event.items()
        ],
        "cursor": next_cursor,
    }


def _window(ctx: Ctx) -> Callable[[int], bool]:
    low, high = ctx.q_int("min_ts"), ctx.q_int("max_ts")
    return lambda seconds: (low is None or seconds >= low) and (high is None or seconds <= high)


def fills(state: ExchangeState, ctx: Ctx, historical: bool = False) -> Reply:
    tickers = ctx.q_list("ticker", limit=100)
    order_id = None if historical else ctx.q_str("order_id")
    sub = ctx.q_int("subaccount", low=0)
    shard = None if historical else ctx.q_int("exchange_index")
    in_window = _window(ctx)
    limit, cursor = ctx.limit(), ctx.cursor()
    with state._lock:
        cutoff = state._cutoffs["trades_created_ts"]
        rows: list[tuple[int, Fill]] = [
            (i, f)
            for i, f in enumerate(state._engine.fills(ctx.owner))
            if (f.ts_ms / 1000 < cutoff) == historical
            and (tickers is None or f.ticker in tickers)
            and (order_id is None or f.order_id == order_id)
            and (sub is None or f.subaccount == sub)
            and (shard is None or state.exchange_index(f.ticker) == shard)
            and in_window(f.ts_ms // 1000)
        ]
        chosen, next_cursor = page(rows, limit, cursor, newest_first=True)
        body = [rest_fill(f, state.exchange_index(f.ticker)) for f in chosen]
    return 200, {"fills": body, "cursor": next_cursor}


def _is_historical(state: ExchangeState, o: OrderState) -> bool:
    cutoff = state._cutoffs["orders_updated_ts"]
    return o.status != "resting" and o.last_update_ts_ms / 1000 < cutoff


def orders(state: ExchangeState, ctx: Ctx, historical: bool = False) -> Reply:
    tickers = ctx.q_list("ticker")
    events = None if historical else ctx.q_list("event_ticker", limit=10)
    status = None if historical else ctx.q_str("status")
    if status is not None and status not in _STATUSES:
        raise bad("status must be resting, canceled or executed")
    sub = ctx.q_int("subaccount", low=0)
    shard = None if historical else ctx.q_int("exchange_index")
    in_window = _window(ctx)
    limit, cursor = ctx.limit(), ctx.cursor()
    with state._lock:
        rows: list[tuple[int, OrderState]] = [
            (i, o)
            for i, o in enumerate(state._engine.orders())
            if o.owner == ctx.owner
            and _is_historical(state, o) == historical
            and (tickers is None or o.ticker in tickers)
            and (events is None or _event_ticker(state, o.ticker) in events)
            and (status is None or o.status == status)
            and (sub is None or o.subaccount == sub)
            and (shard is None or state.exchange_index(o.ticker) == shard)
            and in_window(o.created_ts_ms // 1000)
        ]
        chosen, next_cursor = page(rows, limit, cursor, newest_first=True)
        body = [rest_order(o, state.exchange_index(o.ticker)) for o in chosen]
    return 200, {"orders": body, "cursor": next_cursor}


def order(state: ExchangeState, ctx: Ctx, order_id: str) -> Reply:
    with state._lock:
        found = state._engine.order(order_id)
        if found is None or found.owner != ctx.owner:
            raise EngineError(404, "not_found", f"no order {order_id!r}")
        return 200, {"order": rest_order(found, state.exchange_index(found.ticker))}


def cutoff(state: ExchangeState, ctx: Ctx) -> Reply:
    with state._lock:
        cutoffs = dict(state._cutoffs)
    return 200, {name: rfc3339(int(value * 1000)) for name, value in cutoffs.items()}


READS: list[tuple[str, str, Callable[..., Reply]]] = [
    ("GET", r"/exchange/status", exchange_status),
    ("GET", r"/markets", markets),
    ("GET", r"/markets/([^/]+)", market),
    ("GET", r"/markets/([^/]+)/orderbook", orderbook),
    ("GET", r"/portfolio/balance", balance),
    ("GET", r"/portfolio/positions", positions),
    ("GET", r"/portfolio/fills", fills),
    ("GET", r"/portfolio/orders", orders),
    ("GET", r"/portfolio/orders/([^/]+)", order),
    ("GET", r"/historical/cutoff", cutoff),
    ("GET", r"/historical/fills", lambda s, c: fills(s, c, historical=True)),
    ("GET", r"/historical/orders", lambda s, c: orders(s, c, historical=True)),
]
"""(method, path regex relative to the API base, handler(state, ctx, *groups))."""
