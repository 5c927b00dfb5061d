"""Order entry for RestClient: V2 create, cancel, amend, decrease, batches, cancel-all.

**Never place an order twice; never lose one silently** (docs/trading.md, "Retries and
idempotency"):

* Every create carries a ``client_order_id`` (a uuid4 unless the caller gave one), and every
  retry sends the very same body, so Kalshi's duplicate check is the backstop.
* A create is retried only after a connection error, a timeout, a 5xx or a 429. Once an attempt
  may have landed (its answer was lost), later answers are read in that light: a 409
  ``order_already_exists`` means the first attempt landed, so the order is looked up by its
  ``client_order_id`` and returned (``OrderAck.from_lookup``); a refusal, or running out of
  retries, also triggers that lookup. An order that cannot be found is an
  :class:`~kalshi_sync.errors.OrderStateUnknownError` naming the ``client_order_id``, never a
  plain failure that invites placing it again under a new id. A 409 when no attempt can have
  landed means the caller reused the id: :class:`~kalshi_sync.errors.DuplicateOrderError`.
* Cancels, cancel-all, amends (absolute price and total count) and ``reduce_to`` decreases are
  idempotent and retried the same way. A ``reduce_by`` decrease is not: it is retried only when
  the exchange cannot have acted (a 429, a connection never made).
* A 404 on cancel is always :class:`~kalshi_sync.errors.OrderNotFoundError` ("not resting"),
  with ``after_retry=True`` when an earlier attempt lost its answer and may be what cancelled it.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from ._http import DEFAULT_COST, is_ambiguous
from ._orders import (
    OrderRequest,
    check_client_order_id,
    check_subaccount,
    check_ticker,
    count_text,
    price_text,
    to_count,
    to_price,
    to_wire_side,
    unix_seconds,
)
from ._portfolio import PortfolioMixin, path_segment
from ._rest_decoders import ack_from_order, parse_cancel_ack, parse_order_ack
from .account import CancelAck, Order, OrderAck
from .errors import (
    AuthenticationError,
    ClientClosedError,
    DuplicateOrderError,
    KalshiError,
    OrderRejectedError,
    OrderStateUnknownError,
    ProtocolError,
)

__all__ = ["BATCHED", "CANCEL_COST", "DUPLICATE", "LOOKUP_MARGIN_S", "ORDERS", "TradingMixin"]

log = logging.getLogger("kalshi_sync")

ORDERS = "/portfolio/events/orders"
BATCHED = ORDERS + "/batched"
CANCEL_COST = 2  # V2 cancel, cancel-all and each batch-cancel item (default 10)
DUPLICATE = "order_already_exists"  # Kalshi's code for a reused client_order_id
# How far before the first attempt the lookup of a lost order starts: the exchange stamps
# orders with its clock, and ours may be behind.
LOOKUP_MARGIN_S = 600


def _is_duplicate(error: OrderRejectedError) -> bool:
    # A 409 is also "trading_is_paused"; only this code (or none at all) means a reused id.
    return error.status_code == 409 and error.code in (DUPLICATE, None)


class TradingMixin(PortfolioMixin):
    """The order-entry half of :class:`~kalshi_sync.RestClient` (see the module docstring)."""

    # -- create -----------------------------------------------------------------------------

    def create_order(
        self,
        ticker: str,
        *,
        action: str,
        side: str,
        count: str | int | Decimal,
        price: str | int | Decimal,
        time_in_force: str = "good_till_canceled",
        client_order_id: str | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        expiration_time: object = None,
        order_group_id: str | None = None,
        subaccount: int | None = None,
        self_trade_prevention_type: str = "taker_at_cross",
        cancel_order_on_pause: bool = False,
    ) -> OrderAck:
        """Place one limit order (``POST /portfolio/events/orders``) and return its ack.

        ``action`` ``"buy"``/``"sell"``, ``side`` ``"yes"``/``"no"``, ``price`` in dollars on that
        leg: buying NO at ``"0.40"`` goes out as ``ask`` at ``"0.6000"`` on the YES book.
        ``count`` in contracts; both refuse floats. ``time_in_force`` ``good_till_canceled``
        (default), ``immediate_or_cancel`` or ``fill_or_kill``; ``expiration_time`` (Unix seconds
        or an aware datetime) only with good-till-canceled; ``reduce_only`` only with
        immediate-or-cancel; ``post_only`` only with good-till-canceled. Invalid input raises
        ``TypeError``/``ValueError`` before anything is sent.

        Retries keep the ``client_order_id`` (generated when None) and a lost answer is resolved
        by looking the order up, so one call places at most one order (module docstring).
        Raises OrderRejectedError (Kalshi's ``.code``), DuplicateOrderError,
        OrderStateUnknownError, AuthenticationError.
        """
        request = OrderRequest(
            ticker=ticker,
            action=action,
            side=side,
            count=count,
            price=price,
            time_in_force=time_in_force,
            client_order_id=client_order_id,
            post_only=post_only,
            reduce_only=reduce_only,
            expiration_time=expiration_time,
            order_group_id=order_group_id,
            subaccount=subaccount,
            self_trade_prevention_type=self_trade_prevention_type,
            cancel_order_on_pause=cancel_order_on_pause,
        )
        return self.submit_order(request)

    def submit_order(self, request: OrderRequest) -> OrderAck:
        """Place a prepared :class:`~kalshi_sync.OrderRequest`; as :meth:`create_order`."""
        if not isinstance(request, OrderRequest):
            raise TypeError(f"submit_order takes an OrderRequest, got {request!r:.60}")
        body = request.to_wire()
        coid = request.client_order_id
        since = int(self._http.clock()) - LOOKUP_MARGIN_S
        landed = False  # True once an attempt may have reached the matching engine
        attempt = 0
        while True:
            try:
                answer = self._http.send(
                    "POST", ORDERS, body=body, bucket="write", cost=DEFAULT_COST, orders=True
                )
            except OrderRejectedError as exc:
                if _is_duplicate(exc):
                    if not landed:
                        raise DuplicateOrderError(
                            f"{exc} (client_order_id {coid!r} was used before: an order with it "
                            "exists; give each new order a new client_order_id)",
                            client_order_id=coid,
                            status_code=exc.status_code,
                            body=exc.body,
                            code=exc.code,
                            kalshi_message=exc.message,
                        ) from exc
                    return self._resolve(request, since, exc, duplicate=True)
                if landed:  # refused now, but an earlier attempt may have been placed
                    return self._resolve(request, since, exc, refusal=True)
                raise
            except (AuthenticationError, ClientClosedError) as exc:
                if landed:
                    raise self._unknown(coid, exc, "and the client can no longer ask") from exc
                raise
            except ProtocolError as exc:
                # A 2xx we cannot read: the order was accepted. Find it instead of guessing.
                return self._resolve(request, since, exc)
            except KalshiError as exc:
                landed = landed or is_ambiguous(exc)
                delay = self._http.retry_delay(attempt, exc)
                if delay is None:
                    if not landed:
                        raise
                    return self._resolve(request, since, exc)
                log.info("create %s: %s; retrying in %.2f s with the same id", coid, exc, delay)
                self._http.sleep(delay)
                attempt += 1
                continue
            try:
                return parse_order_ack(answer)
            except ProtocolError as exc:
                return self._resolve(request, since, exc)

    def _resolve(
        self,
        request: OrderRequest,
        since: int,
        cause: KalshiError,
        *,
        duplicate: bool = False,
        refusal: bool = False,
    ) -> OrderAck:
        """The ack of an order whose create answer was lost, found by its client_order_id."""
        coid = request.client_order_id
        found, lookup_error = self._find_orders(request.ticker, request.subaccount, since, {coid})
        if coid in found:
            log.warning("create %s: answer lost; order %s found", coid, found[coid].order_id)
            return ack_from_order(found[coid])
        if refusal and lookup_error is None:
            raise cause  # refused, and no earlier attempt left an order behind
        if duplicate:
            raise DuplicateOrderError(
                f"an order with client_order_id {coid!r} exists (HTTP 409 on a retry: an earlier "
                "attempt landed) but could not be read back"
                + (f" ({lookup_error})" if lookup_error else "")
                + "; do not place it again under a new id",
                client_order_id=coid,
                body=getattr(cause, "body", ""),
                code=getattr(cause, "code", None),
            ) from cause
        raise self._unknown(coid, cause, f"lookup: {lookup_error or 'not found'}") from cause

    @staticmethod
    def _unknown(coid: str, cause: BaseException, detail: str) -> OrderStateUnknownError:
        return OrderStateUnknownError(
            f"order with client_order_id {coid!r}: the exchange may or may not have placed it "
            f"({cause}; {detail}). Look it up, or call again with the same client_order_id "
            "(Kalshi refuses a second order with it); do not place it under a new id",
            client_order_id=coid,
        )

    def _find_orders(
        self, ticker: str, subaccount: int | None, since: int, coids: set[str]
    ) -> tuple[dict[str, Order], KalshiError | None]:
        """Orders of ``ticker`` created after ``since`` whose client_order_id is in ``coids``.

        Kalshi's order list cannot filter by client_order_id, so the recent orders of the
        market are read and matched here. A failing lookup returns what it found and the error.
        """
        found: dict[str, Order] = {}
        try:
            for order in self.get_orders(ticker=ticker, min_ts=since, subaccount=subaccount):
                if order.client_order_id in coids:
                    found[order.client_order_id] = order
                    if len(found) == len(coids):
                        break
        except KalshiError as exc:
            log.warning("looking up orders %s failed: %s", sorted(coids), exc)
            return found, exc
        return found, None

    # -- cancel -----------------------------------------------------------------------------

    def cancel_order(
        self,
        order_id: str,
        market_ticker: str | None = None,
        subaccount: int | None = None,
    ) -> CancelAck:
        """Cancel a resting order (``DELETE /portfolio/events/orders/{order_id}``).

        Pass ``market_ticker`` so Kalshi can route the cancel to the market's shard (an order
        id alone cannot identify it). Idempotent, so retried like a read. A 404 raises
        :class:`~kalshi_sync.errors.OrderNotFoundError`: the order is not resting (cancelled,
        filled, or unknown); ``after_retry`` tells whether an earlier attempt of this call may
        have cancelled it.
        """
        path = f"{ORDERS}/{path_segment(order_id, 'order_id')}"
        params: dict[str, Any] = {"subaccount": check_subaccount(subaccount)}
        if market_ticker is not None:
            params["market_ticker"] = check_ticker(market_ticker, "market_ticker")
        answer = self._http.call(
            "DELETE", path, params=params, bucket="write", cost=CANCEL_COST, orders=True
        )
        return parse_cancel_ack(answer)

    def cancel_all_orders(self, subaccount: int | None = None) -> None:
        """Cancel every resting order (``DELETE /portfolio/events/orders``), on every shard.

        ``subaccount`` limits it to one subaccount (None: all). Kalshi may also cancel orders
        placed in the minute after the call.
        """
        params = {"subaccount": check_subaccount(subaccount)}
        self._http.call(
            "DELETE", ORDERS, params=params, bucket="write", cost=CANCEL_COST, orders=True
        )

    # -- amend / decrease -------------------------------------------------------------------

    def amend_order(
        self,
        order_id: str,
        *,
        ticker: str,
        action: str,
        side: str,
        price: str | int | Decimal,
        count: str | int | Decimal,
        client_order_id: str | None = None,
        updated_client_order_id: str | None = None,
        expiration_time: object = None,
        subaccount: int | None = None,
    ) -> OrderAck:
        """Change a resting order's price and size (``POST .../{order_id}/amend``).

        ``action``/``side``/``price`` as for :meth:`create_order` (the order's own action and
        side; they cannot change). ``count`` is the new **total**: already filled plus the
        desired resting remainder, as Kalshi defines it. ``expiration_time``: Unix seconds or an
        aware datetime, ``0`` removes the expiry, None keeps it. A price change or a size
        increase loses queue priority. The target is absolute, so the call is retried safely.
        """
        book_side, yes_price = to_wire_side(action, side, to_price(price))
        body: dict[str, Any] = {
            "ticker": check_ticker(ticker),
            "side": book_side,
            "price": price_text(yes_price),
            "count": count_text(to_count(count)),
        }
        if client_order_id is not None:
            body["client_order_id"] = check_client_order_id(client_order_id)
        if updated_client_order_id is not None:
            body["updated_client_order_id"] = check_client_order_id(
                updated_client_order_id, "updated_client_order_id"
            )
        if expiration_time is not None:
            body["expiration_time"] = unix_seconds(expiration_time)
        path = f"{ORDERS}/{path_segment(order_id, 'order_id')}/amend"
        params = {"subaccount": check_subaccount(subaccount)}
        answer = self._http.call(
            "POST", path, params=params, body=body, bucket="write", cost=DEFAULT_COST, orders=True
        )
        return parse_order_ack(answer)

    def decrease_order(
        self,
        order_id: str,
        *,
        reduce_by: str | int | Decimal | None = None,
        reduce_to: str | int | Decimal | None = None,
        market_ticker: str | None = None,
        subaccount: int | None = None,
    ) -> OrderAck:
        """Shrink a resting order (``POST .../{order_id}/decrease``), keeping queue priority.

        Exactly one of ``reduce_by`` (contracts to remove) and ``reduce_to`` (contracts left;
        0 cancels). ``reduce_to`` is idempotent and retried like a read; ``reduce_by`` is not
        (twice would remove twice), so it is retried only when the exchange cannot have acted.
        Returns an ack whose ``remaining_count`` is what still rests.
        """
        if (reduce_by is None) == (reduce_to is None):
            raise ValueError("give exactly one of reduce_by and reduce_to")
        body: dict[str, Any] = {}
        if reduce_by is not None:
            body["reduce_by"] = count_text(to_count(reduce_by, "reduce_by"))
        else:
            body["reduce_to"] = count_text(to_count(reduce_to, "reduce_to", allow_zero=True))
        if market_ticker is not None:
            body["market_ticker"] = check_ticker(market_ticker, "market_ticker")
        path = f"{ORDERS}/{path_segment(order_id, 'order_id')}/decrease"
        params = {"subaccount": check_subaccount(subaccount)}
        answer = self._http.call(
            "POST",
            path,
            params=params,
            body=body,
            bucket="write",
            cost=DEFAULT_COST,
            orders=True,
            retry="idempotent" if reduce_to is not None else "unsent",
        )
        return parse_order_ack(answer)
