"""KalshiClient: wires connection, pipeline, registry, books and delivery together.

Threads: the network thread (``kalshi-sync-ws``, in :mod:`.connection`) runs the
:class:`.Pipeline`: it decodes every frame, checks ``seq``, updates the books and hands
messages to :class:`.Delivery`; the dispatch thread (``kalshi-sync-dispatch``, default
mode) runs callbacks. User threads call the public methods; they only touch the registry
(under its lock) and queue commands. No lock of ours is held while user code runs, and
locks are never nested.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar

from . import protocol
from ._account_snapshots import AccountFilter, Positions, RestingOrders
from ._account_sync import AccountSync
from ._channels import BOOK_CHANNELS, CHANNELS
from ._stats import ClientStats
from .auth import Signer, credentials_from_env
from .connection import Connection
from .dispatch import Callback, Delivery, DeliveryMode, Router, in_callback
from .environments import check_extra_headers, resolve_ws_url, ws_signing_path
from .errors import ClientClosedError, KalshiTimeoutError, ProtocolError
from .events import CallbackErrorEvent
from .models import Ok, SubscriptionInfo
from .orderbook import BookStore, Orderbook
from .pipeline import Pipeline
from .registry import Outgoing, Registry
from .sequence import SeqTracker
from .subscriptions import Subscription, _tickers, _Waiter

if TYPE_CHECKING:
    from .recording import Recorder
    from .rest import RestClient

__all__ = ["KalshiClient"]

F = TypeVar("F", bound=Callable[..., Any])


class KalshiClient:
    """Synchronous Kalshi WebSocket client with callbacks. See README "Threads and callbacks".

    Thread safety: every public method may be called from any thread, including from
    inside a callback (where ``subscribe()`` and friends never block).

    ``transport``: the read path. "auto" (default) is the fast path, or -- when the check of
    websocket-client's internals at import failed -- websocket-client's own read loop, with
    one logged warning; "library" forces that slower loop; "fast" raises ValueError when
    the check failed (README "Performance"; docs/transport.md, 'Two read paths').
    """

    def __init__(
        self,
        key_id: str,
        private_key: Any,
        *,
        environment: str = "prod",
        url: str | None = None,
        delivery: DeliveryMode = "thread",
        max_queue: int = 100_000,
        reconnect: bool = True,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        stale_timeout: float = 30.0,
        on_callback_error: Callable[[CallbackErrorEvent], object] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        allow_insecure: bool = False,
        connect_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        record: str | os.PathLike[str] | IO[str] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        transport: Literal["auto", "fast", "library"] = "auto",
        rest: RestClient | Literal[False] | None = None,
        recover_since: float | None = None,
    ) -> None:
        # rest / recover_since: fills, orders and positions recovered over REST after every
        # reconnect (README "Fills and orders across reconnects"). None = a RestClient for
        # the same credentials and environment, built when first needed (with a custom url=,
        # pass one explicitly: recovery is off otherwise); False = off. recover_since: Unix
        # seconds; at start, fills from then on are delivered too (recovered).
        # transport: the read path (docs/transport.md, 'Two read paths'). "auto" = the fast
        # path when websocket-client behaves as it needs (checked at import), else the
        # library's own run_forever loop with one logged warning; "library" forces that
        # slower loop; "fast" raises ValueError when the check failed.
        # extra_headers: added to every handshake; never the signed KALSHI-ACCESS-* ones
        # (ValueError here, before anything is opened).
        extra = dict(check_extra_headers(extra_headers))
        if backoff_initial <= 0 or backoff_max < backoff_initial:
            raise ValueError("need 0 < backoff_initial <= backoff_max")
        if stale_timeout <= 0:
            raise ValueError("stale_timeout must be positive")
        self.url = resolve_ws_url(environment, url, allow_insecure=allow_insecure)
        self._signer = Signer.from_key(key_id, private_key, clock=clock)
        path = ws_signing_path(self.url)
        self._router = Router()
        self._registry = Registry()
        self._delivery = Delivery(
            self._router,
            mode=delivery,
            max_queue=max_queue,
            on_callback_error=on_callback_error,
            routing=self._registry,
        )
        self._books = BookStore()
        self._seq = SeqTracker()
        self._account = self._make_account(
            key_id, private_key, environment, url, rest, recover_since
        )
        self._recorder: Recorder | None = None
        if record is not None:
            from .recording import Recorder

            self._recorder = Recorder(record)
        self._state_lock = threading.Lock()  # guards _state transitions
        self._state = "new"  # new -> running -> closed
        self._ready = threading.Event()  # first connection up, or fatal error
        self._finished = threading.Event()  # closed or fatal
        pipeline = self._pipeline = Pipeline(
            self._registry,
            self._books,
            self._seq,
            self._delivery,
            self._send,
            closed=lambda: self.closed,
            ready=self._ready,
            finished=self._finished,
            recorder=self._recorder,
            account=self._account,
        )
        # Recording costs a write per frame, so it is a separate callback rather than a
        # check on the hot path of every client.
        self._on_frame = pipeline.on_frame
        on_frame = pipeline.on_frame if record is None else pipeline.on_frame_recorded
        self._conn = pipeline.conn = Connection(
            self.url,
            lambda: self._signer.headers("GET", path),
            on_connected=pipeline.on_connected,
            on_frame=on_frame,
            on_disconnected=pipeline.on_disconnected,
            on_tick=pipeline.on_tick,
            on_fatal=pipeline.on_fatal,
            on_idle=self._delivery.idle,
            ssl_context=ssl_context,
            reconnect=reconnect,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            stale_timeout=stale_timeout,
            connect_timeout=connect_timeout,
            extra_headers=extra,
            transport=transport,
        )
        if self._conn.transport == "fast":
            # The fast path calls on_idle before it waits, so the dispatch thread's wake-up
            # can wait for that moment (docs/transport.md, 'CPU per message').
            self._delivery.hold_bell()

    @classmethod
    def from_env(cls, **kwargs: Any) -> KalshiClient:
        """Credentials from KALSHI_API_KEY_ID, KALSHI_PRIVATE_KEY_PATH or
        KALSHI_PRIVATE_KEY, and KALSHI_ENV (prod or demo)."""
        key_id, key, env = credentials_from_env()
        kwargs.setdefault("environment", env)
        return cls(key_id, key, **kwargs)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> KalshiClient:
        """Start the threads and wait for the first connection.

        Raises AuthenticationError at once on a 401/403 handshake, KalshiTimeoutError (a
        TimeoutError) if no connection came up in time (the client is then closed).
        """
        with self._state_lock:
            if self._state == "closed":
                raise ClientClosedError("this client was closed; create a new one")
            if self._state == "running":
                return self
            self._state = "running"
        self._delivery.start()
        self._conn.start()
        if not self._ready.wait(timeout):
            self.close()
            raise KalshiTimeoutError(f"no connection to {self.url} within {timeout} s")
        fatal = self._pipeline.fatal
        if fatal is not None:
            self.close()
            raise fatal
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop and join every thread the client started. Idempotent; any thread."""
        with self._state_lock:
            first = self._state != "closed"
            self._state = "closed"
        if first:
            self._registry.close_all()
        # Also on a repeated call: close() from a callback cannot join the thread it runs
        # on, so a later close() from another thread joins what is left (both are no-ops
        # for threads that are gone).
        deadline = time.monotonic() + timeout
        self._conn.close(timeout)
        self._delivery.stop(max(0.0, deadline - time.monotonic()), drain=False)
        self._account.close(max(0.0, deadline - time.monotonic()))
        if first:
            self._finished.set()
            self._ready.set()
            if self._recorder is not None:
                self._recorder.close()

    def replay(self, source: str | os.PathLike[str], *, speed: float | None = None) -> int:
        """Feed a recording (see ``record=``) through the live pipeline: decode, seq
        checks, books, delivery. Offline: the client must not have been started. Messages
        go to ``on(type)`` and ``"*"`` handlers (recorded sids have no subscription
        handles). ``speed``: None = as fast as possible, 1.0 = recorded pacing, 2.0 = twice
        as fast. Returns the number of frames fed; their callbacks have run by then."""
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive (or None for as fast as possible)")
        with self._state_lock:
            if self._state != "new":
                raise ClientClosedError(
                    f"replay() needs a client that was never started ({self._state})"
                )
            self._state = "offline"
        from .recording import iter_recording

        self._pipeline.offline = True
        on_frame = self._on_frame
        self._delivery.start()
        stop = self._finished
        n = 0
        first: int | None = None
        t0 = time.monotonic()
        for t_ns, data in iter_recording(source):
            if speed is not None:
                first = t_ns if first is None else first
                due = (t_ns - first) / 1e9 / speed - (time.monotonic() - t0)
                if due > 0 and stop.wait(due):
                    break
            elif stop.is_set():
                break
            on_frame(data)
            n += 1
        self._delivery.flush(None)
        return n

    def run_forever(self) -> None:
        """Block until close(); re-raise a fatal background error; Ctrl-C closes."""
        try:
            while not self._finished.wait(0.5):
                pass
        except KeyboardInterrupt:
            self.close()
            return
        self.close()
        fatal = self._pipeline.fatal
        if fatal is not None:
            raise fatal

    def __enter__(self) -> KalshiClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._conn.connected and self._state == "running"

    @property
    def closed(self) -> bool:
        return self._state == "closed"

    # -- subscriptions --------------------------------------------------------------------

    def subscribe(
        self,
        channel: str,
        market_tickers: Iterable[str] | None = None,
        callback: Callback | None = None,
        *,
        timeout: float = 10.0,
        **params: Any,
    ) -> Subscription:
        """Subscribe to one channel. Blocks until acknowledged (SubscriptionError on an
        error reply) unless called before start() or from a callback: then it returns a
        pending handle at once. ``params`` go to the wire (use_yes_price, ...)."""
        if not isinstance(channel, str) or not channel:
            raise TypeError(f"channel must be a non-empty str, got {channel!r}")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        self._check_open()
        markets = None if market_tickers is None else frozenset(_tickers(market_tickers))
        facts = CHANNELS.get(channel)
        if facts is not None and facts.markets == "required" and not markets:
            raise ValueError(f"{channel} needs at least one market ticker")
        if channel in BOOK_CHANNELS:
            # Kalshi plans to flip this default: send it explicitly so prices never change
            # meaning under us (docs/protocol.md, 'Price conventions (use_yes_price)').
            params.setdefault("use_yes_price", False)
        sub = Subscription(self, channel, markets, dict(params), callback)
        blocking = self._may_block()
        waiter = _Waiter("subscribe") if blocking else None
        self._send(self._registry.add(sub, waiter))
        if waiter is not None:
            try:
                waiter.wait(timeout, f"subscribe to {channel}")
            except KalshiTimeoutError:
                self._send(self._registry.remove(sub, None))
                raise
        return sub

    def list_subscriptions(self, timeout: float = 10.0) -> list[SubscriptionInfo]:
        """Ask the server which subscriptions this connection has."""
        self._check_open()
        waiter = _Waiter("request")
        self._send(self._registry.request(protocol.encode_list_subscriptions, waiter))
        reply = waiter.wait(timeout, "list_subscriptions")
        if isinstance(reply, Ok) and reply.subscriptions is not None:
            return list(reply.subscriptions)
        raise ProtocolError(f"unexpected reply to list_subscriptions: {reply!r}")

    def subscriptions(self) -> list[Subscription]:
        """The live handles (not closed, not failed)."""
        return self._registry.handles()

    def _change_markets(
        self, sub: Subscription, add: tuple[str, ...], remove: tuple[str, ...], timeout: float
    ) -> None:
        self._check_open()
        waiter = _Waiter("add")
        self._send(self._registry.change_markets(sub, add, remove, waiter))
        if remove:
            self._drop_books(sub.channel, remove)
        if self._may_block():
            waiter.wait(timeout, "update_subscription")

    def _unsubscribe(self, sub: Subscription, timeout: float) -> None:
        waiter = _Waiter("unsubscribe") if self._may_block() else None
        self._send(self._registry.remove(sub, waiter))
        self._drop_books(sub.channel, sub.market_tickers or ())
        if waiter is not None:
            waiter.wait(timeout, "unsubscribe")

    def _wait_active(self, sub: Subscription, timeout: float | None) -> None:
        waiter = _Waiter("subscribe")
        if self._registry.wait_active(sub, waiter):
            waiter.wait(timeout, f"subscribe to {sub.channel}")

    def _request_snapshot(self, sub: Subscription, tickers: tuple[str, ...] | None) -> None:
        self._check_open()
        self._send(self._registry.snapshot(sub, tickers))

    def _drop_books(self, channel: str, tickers: Iterable[str]) -> None:
        if channel not in BOOK_CHANNELS:
            return
        still = self._registry.markets_in_use(channel)
        self._books.remove([t for t in tickers if t not in still])

    # -- callbacks, books, stats ----------------------------------------------------------

    def on(self, msg_type: str, fn: F | None = None) -> Any:
        """Register ``fn`` for a message or event type ("*" = all). Also a decorator."""
        if fn is None:

            def decorator(f: F) -> F:
                self._router.on(msg_type, f)
                return f

            return decorator
        self._router.on(msg_type, fn)
        return fn

    def off(self, msg_type: str, fn: Callback) -> bool:
        return self._router.off(msg_type, fn)

    def poll(self, timeout: float = 0.0, max_messages: int | None = None) -> int:
        """Run queued callbacks on this thread (``delivery="poll"``); returns how many."""
        return self._delivery.poll(timeout, max_messages)

    def orders(self) -> RestingOrders:
        """An immutable copy of your resting orders (``user_orders``), by ``order_id``, each
        its latest ``user_order``; ``.state`` "live" / "stale" / "reconciling"."""
        return self._account.orders.snapshot()

    def positions(self) -> Positions:
        """An immutable copy of your positions (``market_positions``) by (market,
        subaccount); ``.state`` as for :meth:`orders`."""
        return self._account.positions.snapshot()

    def orderbook(self, market_ticker: str) -> Orderbook:
        """An immutable copy of the local book; KeyError if the market is unknown."""
        return self._books.get(market_ticker)

    def stats(self) -> ClientStats:
        """Counters since the client was created (see README "Statistics"). Besides the
        connection, seq and delivery counters: ``partial_messages``, messages delivered
        although a key field was missing (``msg.missing``); ``latency_ms_p50`` /
        ``latency_ms_p99``, server-queue-to-callback latency (now minus the envelope's
        ``sending_ts_ms`` when the callbacks are about to run, whole ms, wall clocks) over
        the last ``latency_samples`` messages that carried it (None before the first)."""
        d = self._delivery
        p = self._pipeline
        last = self._conn.last_heard
        p50, p99, samples = d.latency()
        return {
            "messages": p.frames,
            "by_type": dict(p.by_type),
            "reconnects": self._conn.reconnects,
            "connection_attempts": self._conn.attempts,
            "gaps": self._seq.gaps,
            "duplicates": self._seq.duplicates + self._seq.stale,
            "resyncs": p.resyncs,
            "drops": d.dropped,
            "overflows": d.overflows,
            "decode_errors": p.decode_errors,
            "partial_messages": p.partial_messages,
            "unknown_sid": p.unknown_sid,
            "callback_errors": d.callback_errors,
            "delivered": d.delivered,
            "queue_depth": d.depth,
            "latency_ms_p50": p50,
            "latency_ms_p99": p99,
            "latency_samples": samples,
            "last_message_age": (time.monotonic() - last) if last else None,
            "connected": self.connected,
            "fills_recovered": self._account.ledger.recovered,
            "fills_deduplicated": self._account.ledger.deduplicated,
        }

    # -- internals ------------------------------------------------------------------------

    def _make_account(
        self,
        key_id: str,
        private_key: Any,
        environment: str,
        url: str | None,
        rest: RestClient | Literal[False] | None,
        recover_since: float | None,
    ) -> AccountSync:
        make_rest: Callable[[], RestClient] | None = None
        if rest is None and url is None:

            def make_rest() -> RestClient:
                from .rest import RestClient

                return RestClient(key_id, private_key, environment)

        return AccountSync(
            rest or None,
            self._registry,
            self._account_scope,
            recover_since=recover_since,
            make_rest=make_rest,
        )

    def _account_scope(self, channel: str) -> AccountFilter:
        """What the ``channel`` handles cover together: the union of their markets (None if
        one takes every market) and their ``subaccount`` param if they all give the same."""
        markets: set[str] | None = set()
        subaccounts: set[Any] = set()
        handles = [h for h in self._registry.handles() if h.channel == channel]
        for handle in handles:
            tickers = handle.market_tickers
            if tickers is None:
                markets = None
            elif markets is not None:
                markets.update(tickers)
            subaccounts.add(handle.params.get("subaccount"))
        if not handles:
            return AccountFilter()
        (sub,) = subaccounts if len(subaccounts) == 1 else (None,)
        return AccountFilter(
            market_tickers=markets, subaccount=sub if isinstance(sub, int) else None
        )

    def _check_open(self) -> None:
        if self._state == "closed":
            raise ClientClosedError("this client was closed")

    def _may_block(self) -> bool:
        return (
            self._state == "running"
            and not in_callback()
            and threading.current_thread() is not self._conn.thread
        )

    def _send(self, outgoing: list[Outgoing]) -> None:
        for text, generation in outgoing:
            self._conn.send(text, generation)
