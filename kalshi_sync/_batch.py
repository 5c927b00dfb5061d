"""Batch order entry for RestClient: many creates or cancels in one request, per-item results.

A batch is not all-or-nothing: Kalshi answers one entry per item, each placed (or cancelled)
or refused on its own, and the client keeps each item's error in its result instead of raising
for the batch. Every batch-create item carries its own ``client_order_id``, so a batch whose
answer was lost is retried as a whole: items that had landed come back as
``order_already_exists`` and are looked up, exactly as for a single create
(:mod:`kalshi_sync._trading`). Costs are per item: 10 write tokens per create, 2 per cancel
(docs/trading.md, "Rate limits").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._http import DEFAULT_COST, is_ambiguous
from ._orders import OrderRequest, cancel_item
from ._rest_decoders import ack_from_order, parse_cancel_ack, parse_order_ack
from ._trading import BATCHED, CANCEL_COST, DUPLICATE, LOOKUP_MARGIN_S, TradingMixin
from .account import BatchCancelResult, BatchOrderResult, Order
from .errors import (
    AuthenticationError,
    ClientClosedError,
    DuplicateOrderError,
    KalshiError,
    OrderNotFoundError,
    OrderRejectedError,
    ProtocolError,
)

__all__ = ["BatchMixin"]


def _item_error(raw: object, what: str, after_retry: bool) -> OrderRejectedError:
    """The error of one batch item, typed as the same refusal of a single request would be.

    Its ``status_code`` is the status the single-order endpoint gives that refusal (404 for
    not found, 409 for a duplicate, else 400): a batch answers 2xx as a whole.
    """
    body: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {"message": str(raw)}
    code = str(body["code"]) if body.get("code") else None
    message = str(body["message"]) if body.get("message") else None
    text = f"{what}: {code or 'error'}: {message or ''}".rstrip(": ")
    dump = json.dumps(body, default=str)
    if code is not None and "not_found" in code:
        return OrderNotFoundError(
            text, code=code, kalshi_message=message, body=dump, after_retry=after_retry
        )
    status = 409 if code == DUPLICATE else 400
    return OrderRejectedError(
        text, status_code=status, code=code, kalshi_message=message, body=dump
    )


class BatchMixin(TradingMixin):
    """The batch half of :class:`~kalshi_sync.RestClient` (see the module docstring)."""

    # -- batch create -----------------------------------------------------------------------

    def batch_create_orders(
        self, orders: Iterable[OrderRequest | Mapping[str, Any]]
    ) -> list[BatchOrderResult]:
        """Place several orders in one request (``POST /portfolio/events/orders/batched``).

        Items are :class:`~kalshi_sync.OrderRequest` objects or mappings of
        :meth:`create_order`'s keyword arguments (``ticker`` included); all are validated
        before anything is sent. Returns one :class:`~kalshi_sync.account.BatchOrderResult` per
        item, in order, each with its ``ack`` or its ``error``: an item Kalshi refuses does not
        fail the others. Retries and lost answers are handled per item as for
        :meth:`create_order` (each item keeps its own ``client_order_id``).
        """
        items = [OrderRequest.coerce(item) for item in orders]
        if not items:
            raise ValueError("batch_create_orders needs at least one order")
        coids = [item.client_order_id for item in items]
        if len(set(coids)) != len(coids):
            raise ValueError("two orders in one batch share a client_order_id")
        body = {"orders": [item.to_wire() for item in items]}
        since = int(self._http.clock()) - LOOKUP_MARGIN_S
        landed = False
        attempt = 0
        while True:
            try:
                answer = self._http.send(
                    "POST",
                    BATCHED,
                    body=body,
                    bucket="write",
                    cost=DEFAULT_COST * len(items),
                    orders=True,
                )
                break
            except (OrderRejectedError, AuthenticationError, ClientClosedError) as exc:
                if not landed:
                    raise
                return self._batch_unknown(items, since, exc)
            except KalshiError as exc:
                landed = landed or is_ambiguous(exc)
                delay = self._http.retry_delay(attempt, exc)
                if delay is None:
                    if not landed:
                        raise
                    return self._batch_unknown(items, since, exc)
                self._http.sleep(delay)
                attempt += 1
        return self._batch_results(items, answer, since, landed)

    def _batch_results(
        self, items: list[OrderRequest], answer: dict[str, Any], since: int, landed: bool
    ) -> list[BatchOrderResult]:
        entries = answer.get("orders")
        if not isinstance(entries, list):
            return self._batch_unknown(items, since, ProtocolError("batch answer has no 'orders'"))
        by_coid = {
            entry["client_order_id"]: entry
            for entry in entries
            if isinstance(entry, dict) and isinstance(entry.get("client_order_id"), str)
        }
        results: list[BatchOrderResult | None] = []
        pending: list[int] = []  # items whose fate needs a lookup
        for index, item in enumerate(items):
            coid = item.client_order_id
            entry = by_coid.get(coid)
            if entry is None and len(entries) == len(items) and isinstance(entries[index], dict):
                entry = entries[index]  # no ids echoed: Kalshi answers in request order
            if entry is None:
                pending.append(index)
                results.append(None)
                continue
            if entry.get("error"):
                error = _item_error(entry["error"], f"batch item {index} ({coid})", landed)
                if error.status_code == 409 and error.code in (DUPLICATE, None):
                    if landed:
                        pending.append(index)
                        results.append(None)
                        continue
                    error = DuplicateOrderError(
                        f"{error} (client_order_id {coid!r} was used before)",
                        client_order_id=coid,
                        code=error.code,
                        kalshi_message=error.message,
                    )
                results.append(BatchOrderResult(index=index, client_order_id=coid, error=error))
                continue
            try:
                ack = parse_order_ack(entry)
            except ProtocolError:
                pending.append(index)
                results.append(None)
                continue
            results.append(BatchOrderResult(index=index, client_order_id=coid, ack=ack))
        if pending:
            resolved = self._batch_unknown([items[i] for i in pending], since, None)
            for index, result in zip(pending, resolved, strict=True):
                results[index] = BatchOrderResult(
                    index=index,
                    client_order_id=result.client_order_id,
                    ack=result.ack,
                    error=result.error,
                )
        return [result for result in results if result is not None]

    def _batch_unknown(
        self, items: Sequence[OrderRequest], since: int, cause: KalshiError | None
    ) -> list[BatchOrderResult]:
        """Results for batch items whose answers were lost: each looked up by its id."""
        found: dict[str, Order] = {}
        errors: dict[str, KalshiError | None] = {}
        for ticker, subaccount in {(item.ticker, item.subaccount) for item in items}:
            wanted = {
                i.client_order_id for i in items if (i.ticker, i.subaccount) == (ticker, subaccount)
            }
            hits, error = self._find_orders(ticker, subaccount, since, wanted)
            found.update(hits)
            for coid in wanted:
                errors[coid] = error
        results = []
        for index, item in enumerate(items):
            coid = item.client_order_id
            if coid in found:
                results.append(
                    BatchOrderResult(
                        index=index, client_order_id=coid, ack=ack_from_order(found[coid])
                    )
                )
                continue
            detail = f"lookup: {errors.get(coid) or 'not found'}"
            unknown = self._unknown(coid, cause or ProtocolError("no answer for this item"), detail)
            unknown.__cause__ = cause
            results.append(BatchOrderResult(index=index, client_order_id=coid, error=unknown))
        return results

    def batch_cancel_orders(
        self,
        orders: Iterable[str | tuple[str, str | None] | Mapping[str, Any]],
        subaccount: int | None = None,
    ) -> list[BatchCancelResult]:
        """Cancel several orders (``DELETE /portfolio/events/orders/batched``), per-item results.

        Items are order ids, ``(order_id, market_ticker)`` pairs or mappings with ``order_id``,
        ``market_ticker`` and ``subaccount``. Returns one
        :class:`~kalshi_sync.account.BatchCancelResult` per item, in order; an order that is not
        resting is that item's OrderNotFoundError, not an exception for the batch.
        """
        entries = [cancel_item(item, subaccount) for item in orders]
        if not entries:
            raise ValueError("batch_cancel_orders needs at least one order id")
        failures: list[KalshiError] = []
        answer = self._http.call(
            "DELETE",
            BATCHED,
            body={"orders": entries},
            bucket="write",
            cost=CANCEL_COST * len(entries),
            orders=True,
            failures=failures,
        )
        lost = any(is_ambiguous(failure) for failure in failures)
        raw = answer.get("orders")
        if not isinstance(raw, list):
            raise ProtocolError("batch cancel answer has no 'orders' list", frame=str(answer)[:200])
        by_id = {e["order_id"]: e for e in raw if isinstance(e, dict) and "order_id" in e}
        results = []
        for index, entry in enumerate(entries):
            order_id = entry["order_id"]
            item = by_id.get(order_id)
            if item is None:
                missing = ProtocolError(f"batch cancel: the answer has no entry for {order_id}")
                results.append(BatchCancelResult(index=index, order_id=order_id, error=missing))
            elif item.get("error"):
                error = _item_error(item["error"], f"cancel {order_id}", lost)
                results.append(BatchCancelResult(index=index, order_id=order_id, error=error))
            else:
                ack = parse_cancel_ack(item)
                results.append(BatchCancelResult(index=index, order_id=order_id, ack=ack))
        return results
