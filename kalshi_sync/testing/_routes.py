"""Order endpoints of the fake exchange (V2, ``/portfolio/events/orders``).

Each handler parses a request strictly (docs/trading.md, "Orders (V2,
/portfolio/events/orders)"), runs the matching engine inside one locked
:class:`~kalshi_sync.testing._exchange.Txn` (so what it causes goes out on the WebSocket in
the same critical section) and answers Kalshi's shape.
The legacy mutation endpoints answer 410 ``deprecated_v1_order_endpoint``.

Our choices where Kalshi is silent: any ticker may be traded (a market appears when first
used); ``subaccount`` and ``market_ticker`` on cancel/amend/decrease, when given, must
match the order (else 404, as a wrong shard would answer); an ``exchange_index`` other
than -1 on create must be the market's shard.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._books import format_count
from ._orders import EngineError, Outcome
from ._request import Ctx, bad

if TYPE_CHECKING:
    from ._exchange import ExchangeState, Txn

__all__ = ["ORDER_ROUTES", "error_body"]

Reply = tuple[int, dict[str, Any] | None]

_V1_GONE = EngineError(410, "deprecated_v1_order_endpoint", "Please switch to the V2 endpoints")


def _check_trading(state: ExchangeState, ticker: str) -> None:
    shard = state._shards.get(state.exchange_index(ticker), {})
    if not shard.get("exchange_active", True) or not shard.get("trading_active", True):
        raise EngineError(409, "trading_is_paused", "trading is paused on this exchange")


def _fill_fields(out: Outcome) -> dict[str, Any]:
    fields: dict[str, Any] = {"fill_count": format_count(out.fill_count)}
    if out.fill_count:
        fields["average_fill_price"] = f"{out.average_fill_price}"
        fields["average_fee_paid"] = f"{out.average_fee_paid}"
    return fields


def _create_one(state: ExchangeState, ctx: Ctx, txn: Txn, item: Any) -> dict[str, Any]:
    body = ctx.obj(item)
    ticker = Ctx.field(body, "ticker", str, required=True)
    shard = Ctx.field(body, "exchange_index", int)
    if shard not in (None, -1) and shard != state.exchange_index(ticker):
        raise bad("exchange_index does not match the market's shard")
    subaccount = Ctx.field(body, "subaccount", int) or 0
    if subaccount < 0:
        raise bad("subaccount must be >= 0")
    price = Ctx.decimal(body, "price", required=True)
    count = Ctx.decimal(body, "count", required=True)
    assert price is not None and count is not None
    side = Ctx.field(body, "side", str, required=True)
    tif = Ctx.field(body, "time_in_force", str, required=True)
    stp = Ctx.field(body, "self_trade_prevention_type", str, required=True)
    options = {
        "client_order_id": Ctx.client_id(body, "client_order_id"),
        "expiration_time": Ctx.field(body, "expiration_time", int),
        "post_only": bool(Ctx.field(body, "post_only", bool)),
        "reduce_only": bool(Ctx.field(body, "reduce_only", bool)),
        "cancel_order_on_pause": bool(Ctx.field(body, "cancel_order_on_pause", bool)),
        "order_group_id": Ctx.field(body, "order_group_id", str),
    }
    _check_trading(state, ticker)
    out = txn.run(
        lambda e: e.create(
            ctx.owner,
            ticker=ticker,
            side=side,
            price=price,
            count=count,
            time_in_force=tif,
            self_trade_prevention_type=stp,
            subaccount=subaccount,
            now_ms=txn.now_ms,
            **options,
        )
    )
    assert out.order is not None
    ack: dict[str, Any] = {"order_id": out.order.order_id}
    if out.order.client_order_id is not None:
        ack["client_order_id"] = out.order.client_order_id
    ack.update(_fill_fields(out))
    ack["remaining_count"] = format_count(out.order.remaining_count)
    ack["ts_ms"] = txn.now_ms
    return ack


def create(state: ExchangeState, ctx: Ctx) -> Reply:
    with state._exchange() as txn:
        return 201, _create_one(state, ctx, txn, ctx.body)


def batch_create(state: ExchangeState, ctx: Ctx) -> Reply:
    items = ctx.obj().get("orders")
    if not isinstance(items, list) or not items:
        raise bad("orders must be a non-empty list")
    answers: list[dict[str, Any]] = []
    with state._exchange() as txn:
        for item in items:
            try:
                answers.append(_create_one(state, ctx, txn, item))
            except EngineError as exc:
                answer: dict[str, Any] = {"error": error_body(exc)}
                if isinstance(item, dict) and isinstance(item.get("client_order_id"), str):
                    answer["client_order_id"] = item["client_order_id"]
                answers.append(answer)
    return 201, {"orders": answers}


def _owned(state: ExchangeState, ctx: Ctx, order_id: str, query: dict[str, Any]) -> None:
    """404 unless the owner's order matches the routing hints it was given."""
    order = state._engine.order(order_id)
    ticker, sub = query.get("market_ticker"), query.get("subaccount")
    if (
        order is None
        or order.owner != ctx.owner
        or (ticker is not None and ticker != order.ticker)
        or (sub is not None and sub != order.subaccount)
    ):
        raise EngineError(404, "not_found", f"no resting order {order_id!r}")


def _cancel_one(
    state: ExchangeState, ctx: Ctx, txn: Txn, order_id: str, hints: dict[str, Any]
) -> dict[str, Any]:
    _owned(state, ctx, order_id, hints)
    out = txn.run(lambda e: e.cancel(ctx.owner, order_id, now_ms=txn.now_ms))
    answer: dict[str, Any] = {"order_id": order_id}
    if out.order is not None and out.order.client_order_id is not None:
        answer["client_order_id"] = out.order.client_order_id
    answer.update(reduced_by=format_count(out.reduced_by), ts_ms=txn.now_ms)
    return answer


def _hints(ctx: Ctx) -> dict[str, Any]:
    return {"market_ticker": ctx.q_str("market_ticker"), "subaccount": ctx.q_int("subaccount")}


def cancel(state: ExchangeState, ctx: Ctx, order_id: str) -> Reply:
    with state._exchange() as txn:
        return 200, _cancel_one(state, ctx, txn, order_id, _hints(ctx))


def batch_cancel(state: ExchangeState, ctx: Ctx) -> Reply:
    items = ctx.obj().get("orders")
    if not isinstance(items, list) or not items:
        raise bad("orders must be a non-empty list")
    answers: list[dict[str, Any]] = []
    with state._exchange() as txn:
        for item in items:
            order_id = item.get("order_id") if isinstance(item, dict) else None
            try:
                if not isinstance(order_id, str):
                    raise bad("each item needs an order_id string")
                hints = {
                    "market_ticker": Ctx.field(item, "market_ticker", str),
                    "subaccount": Ctx.field(item, "subaccount", int),
                }
                answers.append(_cancel_one(state, ctx, txn, order_id, hints))
            except EngineError as exc:
                answers.append(
                    {"order_id": order_id, "reduced_by": "0.00", "error": error_body(exc)}
                )
    return 200, {"orders": answers}


def cancel_all(state: ExchangeState, ctx: Ctx) -> Reply:
    sub = ctx.q_int("subaccount", low=0)
    with state._exchange() as txn:
        txn.run(lambda e: e.cancel_all(ctx.owner, now_ms=txn.now_ms, subaccount=sub))
    return 204, None


def amend(state: ExchangeState, ctx: Ctx, order_id: str) -> Reply:
    body = ctx.obj()
    ticker = Ctx.field(body, "ticker", str, required=True)
    side = Ctx.field(body, "side", str, required=True)
    price = Ctx.decimal(body, "price", required=True)
    count = Ctx.decimal(body, "count", required=True)
    assert price is not None and count is not None
    new_id = Ctx.client_id(body, "updated_client_order_id")
    expiry = Ctx.field(body, "expiration_time", int)
    with state._exchange() as txn:
        _owned(state, ctx, order_id, {"subaccount": ctx.q_int("subaccount")})
        _check_trading(state, ticker)
        out = txn.run(
            lambda e: e.amend(
                ctx.owner,
                order_id,
                price=price,
                count=count,
                now_ms=txn.now_ms,
                ticker=ticker,
                side=side,
                updated_client_order_id=new_id,
                expiration_time=expiry,
            )
        )
    assert out.order is not None
    answer: dict[str, Any] = {"order_id": order_id}
    if out.order.client_order_id is not None:
        answer["client_order_id"] = out.order.client_order_id
    answer["remaining_count"] = format_count(out.order.remaining_count)
    answer.update(_fill_fields(out))
    answer["ts_ms"] = txn.now_ms
    return 200, answer


def decrease(state: ExchangeState, ctx: Ctx, order_id: str) -> Reply:
    body = ctx.obj()
    by, to = Ctx.decimal(body, "reduce_by"), Ctx.decimal(body, "reduce_to")
    hints = {
        "market_ticker": Ctx.field(body, "market_ticker", str),
        "subaccount": ctx.q_int("subaccount"),
    }
    with state._exchange() as txn:
        _owned(state, ctx, order_id, hints)
        out = txn.run(
            lambda e: e.decrease(ctx.owner, order_id, reduce_by=by, reduce_to=to, now_ms=txn.now_ms)
        )
    assert out.order is not None
    answer: dict[str, Any] = {"order_id": order_id}
    if out.order.client_order_id is not None:
        answer["client_order_id"] = out.order.client_order_id
    answer.update(remaining_count=format_count(out.order.remaining_count), ts_ms=txn.now_ms)
    return 200, answer


def _gone(state: ExchangeState, ctx: Ctx, *groups: str) -> Reply:
    raise _V1_GONE


def error_body(exc: EngineError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.details is not None:
        body["details"] = exc.details
    return body


ORDER_ROUTES: list[tuple[str, str, Callable[..., Reply]]] = [
    ("POST", r"/portfolio/events/orders", create),
    ("POST", r"/portfolio/events/orders/batched", batch_create),
    ("DELETE", r"/portfolio/events/orders/batched", batch_cancel),
    ("DELETE", r"/portfolio/events/orders", cancel_all),
    ("DELETE", r"/portfolio/events/orders/([^/]+)", cancel),
    ("POST", r"/portfolio/events/orders/([^/]+)/amend", amend),
    ("POST", r"/portfolio/events/orders/([^/]+)/decrease", decrease),
    ("POST", r"/portfolio/orders", _gone),
    ("POST", r"/portfolio/orders/batched", _gone),
    ("DELETE", r"/portfolio/orders/batched", _gone),
    ("DELETE", r"/portfolio/orders/([^/]+)", _gone),
    ("POST", r"/portfolio/orders/([^/]+)/amend", _gone),
    ("POST", r"/portfolio/orders/([^/]+)/decrease", _gone),
]
"""(method, path regex relative to the API base, handler(state, ctx, *groups))."""
