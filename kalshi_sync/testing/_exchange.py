"""The trading half of FakeKalshiServer: the matching engine wired to the WebSocket side.

:class:`ExchangeState` extends :class:`~kalshi_sync.testing._state.ServerState` with one
:class:`~kalshi_sync.testing._matching.MatchingEngine` whose aggregate book *is* the
state's ``BookStore`` (so WebSocket snapshots, ``set_book``/``apply_delta`` and matched
orders share one book). Every engine action runs under the state lock, and the frames it
causes are queued in the same critical section: ``orderbook_delta`` and ``trade`` for every
subscriber, and ``fill``, ``user_order`` and ``market_position`` only for connections
whose handshake used the order owner's API key id. Frames this module emits carry
``sending_ts_ms``.

The scripting API here lets a test be "the market" (orders of ``owner=None``, or of any
other key id) trading against the user, set balances, read orders/fills/positions, move
the exchange status and the historical cutoffs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from ._books import NumberLike, to_decimal
from ._matching import MatchingEngine
from ._orders import BookChange, Event, Fill, OrderState, Outcome, PositionState, Trade
from ._shapes import ws_fill, ws_position, ws_trade, ws_user_order
from ._state import Conn, ServerState
from ._wire import Frame

__all__ = ["ExchangeState", "Txn"]


class Txn:
    """Engine calls inside one locked section; their events are published together."""

    def __init__(self, engine: MatchingEngine, now_ms: int) -> None:
        self.engine = engine
        self.now_ms = now_ms
        self.events: list[Event] = []

    def run(self, action: Callable[[MatchingEngine], Outcome]) -> Outcome:
        outcome = action(self.engine)
        self.events += outcome.events
        return outcome


class ExchangeState(ServerState):
    """ServerState plus the matching engine, markets and exchange status."""

    _clock: Callable[[], float]  # set by FakeKalshiServer

    def __init__(self, *, control_consumes_seq: bool, ping_interval: float | None) -> None:
        super().__init__(control_consumes_seq=control_consumes_seq, ping_interval=ping_interval)
        self._engine = MatchingEngine(self._books)
        # ticker -> extra market fields (exchange_index, event_ticker, status, title, ...)
        self._markets: dict[str, dict[str, Any]] = {}
        self._last_trade: dict[str, Trade] = {}
        self._volume: dict[str, Decimal] = {}
        self._shards: dict[int, dict[str, Any]] = {
            0: {"description": "default", "exchange_active": True, "trading_active": True}
        }
        self._resume_time: str | None = None
        self._cutoffs = {"market_settled_ts": 0.0, "trades_created_ts": 0.0}
        self._cutoffs["orders_updated_ts"] = 0.0
        self._expiry_wake = threading.Event()  # an expiring order was placed

    # ---- engine plumbing ----------------------------------------------------------------

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    @contextmanager
    def _exchange(self) -> Iterator[Txn]:
        """Lock, expire due orders, yield a :class:`Txn`, then publish what it caused
        (also when the body raises: expiries and earlier calls still go out)."""
        txn = Txn(self._engine, self._now_ms())
        conns: list[Conn] = []
        with self._cond:
            try:
                txn.run(lambda e: e.expire(txn.now_ms))
                yield txn
            finally:
                if txn.events:
                    conns = self._publish_locked(txn.events, txn.now_ms)
                    self._cond.notify_all()
                if self._engine.next_expiry_ms() is not None:
                    self._expiry_wake.set()
        for conn in conns:
            self._flush(conn)

    def _publish_locked(self, events: list[Event], now_ms: int) -> list[Conn]:
        for event in events:
            if isinstance(event, Trade):
                self._last_trade[event.ticker] = event
                self._volume[event.ticker] = self._volume.get(event.ticker, Decimal(0)) + (
                    event.count
                )
        if self._silent:
            return []
        conns = list(self._conns.values())
        for conn in conns:
            frames: list[Frame | str | bytes] = []
            for event in events:
                for frame in self._frames_for(conn, event):
                    frames.append({**frame, "sending_ts_ms": now_ms})
            self._enqueue(conn, frames)
        return conns

    def _frames_for(self, conn: Conn, event: Event) -> list[Frame]:
        session = conn.session
        if isinstance(event, BookChange):
            mine = conn.owner is not None and conn.owner == event.owner
            return session.delta_frames(
                event.ticker,
                event.leg,
                event.price,
                event.delta,
                ts_ms=event.ts_ms,
                client_order_id=event.client_order_id if mine else None,
            )
        if isinstance(event, Trade):
            return session.publish_frames("trade", "trade", ws_trade(event), event.ticker)
        if conn.owner is None or conn.owner != event.owner:
            return []  # private channels: only the owner's connections
        index = self.exchange_index(event.ticker)
        if isinstance(event, Fill):
            return session.publish_frames("fill", "fill", ws_fill(event, index), event.ticker)
        if isinstance(event, OrderState):
            msg = ws_user_order(event, index)
            return session.publish_frames("user_orders", "user_order", msg, event.ticker)
        msg = ws_position(event)
        return session.publish_frames("market_positions", "market_position", msg, event.ticker)

    def _run_expiry(self, stop: threading.Event) -> None:
        """Body of ``kalshi-fake-expiry``: cancel expiring orders when their time comes."""
        while not stop.is_set():
            with self._lock:
                due = self._engine.next_expiry_ms()
            if due is None:
                self._expiry_wake.wait()
                self._expiry_wake.clear()
                continue
            # Re-check at least every second: a test's clock may jump.
            delay = min(1.0, max(0.0, (due - self._now_ms()) / 1000))
            if delay > 0 and stop.wait(delay):
                return
            with self._exchange():
                pass

    # ---- markets and exchange status ----------------------------------------------------

    def exchange_index(self, ticker: str) -> int:
        """The shard a market trades on (0 unless :meth:`add_market` said otherwise)."""
        return int(self._markets.get(ticker, {}).get("exchange_index", 0))

    def add_market(
        self,
        ticker: str,
        *,
        exchange_index: int = 0,
        event_ticker: str | None = None,
        status: str = "active",
        **fields: Any,
    ) -> None:
        """Declare a market for ``GET /markets`` (markets with a book are listed anyway);
        ``fields`` are extra ``market`` fields served as given (``title``, ...)."""
        with self._lock:
            self._markets[ticker] = {
                "exchange_index": exchange_index,
                "event_ticker": event_ticker or ticker.rsplit("-", 1)[0],
                "status": status,
                **fields,
            }
            shard: dict[str, Any] = {"description": f"shard {exchange_index}"}
            shard.update(exchange_active=True, trading_active=True)
            self._shards.setdefault(exchange_index, shard)

    def set_exchange_status(
        self,
        *,
        exchange_active: bool = True,
        trading_active: bool = True,
        exchange_index: int = 0,
        description: str | None = None,
        estimated_resume_time: str | None = None,
    ) -> None:
        """Set one shard's status (``GET /exchange/status``); creates and amends on a shard
        whose trading is inactive are refused with 409 ``trading_is_paused``."""
        with self._lock:
            shard = self._shards.setdefault(exchange_index, {"description": ""})
            shard.update(exchange_active=exchange_active, trading_active=trading_active)
            if description is not None:
                shard["description"] = description
            shard["description"] = shard["description"] or f"shard {exchange_index}"
            self._resume_time = estimated_resume_time

    def set_historical_cutoff(
        self,
        *,
        trades_created_ts: float | None = None,
        orders_updated_ts: float | None = None,
        market_settled_ts: float | None = None,
    ) -> None:
        """Move the cutoffs (Unix seconds): older fills, and orders closed before
        ``orders_updated_ts``, are then served only by ``/historical/...``."""
        with self._lock:
            for name, value in (
                ("trades_created_ts", trades_created_ts),
                ("orders_updated_ts", orders_updated_ts),
                ("market_settled_ts", market_settled_ts),
            ):
                if value is not None:
                    self._cutoffs[name] = float(value)

    # ---- trading as "the market" and reading accounts -------------------------------------

    def submit_order(
        self,
        ticker: str,
        side: str,
        price: NumberLike,
        count: NumberLike,
        *,
        owner: str | None = None,
        time_in_force: str = "good_till_canceled",
        **options: Any,
    ) -> OrderState:
        """Place a V2 order (``side`` bid/ask, YES ``price``) for ``owner`` (None: an
        anonymous trader) through the matching engine, publishing what it causes; returns
        the order's final version. Refusals raise ``EngineError`` (``.status``, ``.code``).
        ``options``: ``client_order_id``, ``post_only``, ``reduce_only``,
        ``self_trade_prevention_type``, ``expiration_time``, ``subaccount``, ..."""
        p, c = to_decimal(price), to_decimal(count)
        with self._exchange() as txn:
            out = txn.run(
                lambda e: e.create(
                    owner,
                    ticker=ticker,
                    side=side,
                    price=p,
                    count=c,
                    time_in_force=time_in_force,
                    now_ms=txn.now_ms,
                    **options,
                )
            )
        assert out.order is not None
        return out.order

    def cancel_order(self, order_id: str, *, owner: str | None = None) -> OrderState:
        """Cancel a resting order of ``owner`` as its owner would (publishes)."""
        with self._exchange() as txn:
            out = txn.run(lambda e: e.cancel(owner, order_id, now_ms=txn.now_ms))
        assert out.order is not None
        return out.order

    def tick(self) -> None:
        """Expire due orders now (by the server's clock) and publish the cancels."""
        with self._exchange():
            pass

    def set_balance(self, owner: str, dollars: NumberLike, *, subaccount: int = 0) -> None:
        """Set an account's cash balance (accounts start with $1,000.00)."""
        with self._lock:
            self._engine.ledger.set_balance(owner, to_decimal(dollars), subaccount)

    def balance(self, owner: str, *, subaccount: int = 0) -> Decimal:
        with self._lock:
            return self._engine.ledger.balance(owner, subaccount)

    def position(self, owner: str, ticker: str, *, subaccount: int = 0) -> PositionState:
        with self._lock:
            return self._engine.ledger.position(owner, subaccount, ticker)

    def positions(self, owner: str, *, subaccount: int | None = None) -> list[PositionState]:
        """Every market the account traded (flat ones too), in first-trade order."""
        with self._lock:
            return self._engine.ledger.positions(owner, subaccount)

    def orders(self, owner: str | None = None) -> list[OrderState]:
        """Named owners' orders (latest versions) in placement order."""
        with self._lock:
            return self._engine.orders(owner)

    def order(self, order_id: str) -> OrderState | None:
        with self._lock:
            return self._engine.order(order_id)

    def fills(self, owner: str | None = None) -> list[Fill]:
        """Named owners' fills in execution order."""
        with self._lock:
            return self._engine.fills(owner)

    def liquidity(
        self, ticker: str, owner: str | None = None
    ) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        """Resting contracts of one owner per level as (yes, no), no-leg prices on no;
        ``owner`` None is "the market's" own liquidity (``set_book``/``apply_delta``)."""
        sides: list[dict[Decimal, Decimal]] = []
        with self._lock:
            for leg in ("yes", "no"):
                levels: dict[Decimal, Decimal] = {}
                for o in self._engine.resting(ticker, leg):
                    if o.owner == owner:
                        levels[o.leg_price] = levels.get(o.leg_price, Decimal(0)) + (
                            o.remaining_count
                        )
                sides.append(levels)
        return sides[0], sides[1]

    def resting_orders(self, ticker: str) -> list[OrderState]:
        """Resting orders (anonymous ones too): YES leg then NO leg, each in priority order."""
        with self._lock:
            return self._engine.resting(ticker, "yes") + self._engine.resting(ticker, "no")

    def wait_for_fills(
        self, n: int, *, owner: str | None = None, timeout: float = 5.0
    ) -> list[Fill]:
        """Wait until at least ``n`` fills (of ``owner``) exist; returns them."""

        def enough() -> list[Fill] | None:
            fills = self._engine.fills(owner)
            return fills if len(fills) >= n else None

        found: list[Fill] = self._wait(enough, timeout, f"{n} fill(s)")
        return found
