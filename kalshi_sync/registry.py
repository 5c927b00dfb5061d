"""The thread-safe subscription registry that keeps the server in sync.

The registry records what the user wants first (handles with their markets), then computes
the commands that bring the server there. Kalshi keeps one subscription per channel per
connection and merges repeated subscribes, so handles are grouped per channel: the first
handle subscribes, later ones add markets to the same ``sid``, and removing a handle deletes
only the markets no other handle still needs. One command per channel is in flight at a
time; every reply triggers the next step ("reconcile"). After a reconnect every channel is
simply subscribed again with the union of its handles' markets, which restores exactly the
current state with new sids.

This module does no I/O and starts no threads: methods return ``Outgoing`` commands for the
caller to send after it has released the lock. One lock guards all of it; user code never
runs under it.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from . import protocol
from .errors import (
    TERMINAL_ERROR_CODES,
    ClientClosedError,
    KalshiConnectionError,
    SubscriptionError,
)
from .models import Message, Ok, ServerError, Subscribed

if TYPE_CHECKING:
    from .subscriptions import Subscription, _Waiter

__all__ = ["COMMAND_TIMEOUT", "MARKET_CHANNELS", "Outgoing", "Registry"]

# Channels that take market filters and support add_markets/delete_markets.
MARKET_CHANNELS = frozenset(
    {"orderbook_delta", "ticker", "trade", "fill", "market_positions", "user_orders"}
)
# A command that got no reply in this long is sent again (the server lost it, or a
# reply was lost with a connection that is now gone).
COMMAND_TIMEOUT = 10.0

Outgoing = tuple[str, int]
"""(command JSON text, connection generation it was built for)."""


class _Pending:
    __slots__ = ("action", "channel", "deadline", "generation", "markets")

    def __init__(
        self,
        action: str,
        channel: _Channel | None,
        markets: frozenset[str] | None,
        generation: int,
    ) -> None:
        self.action = action
        self.channel = channel
        self.markets = markets
        self.generation = generation
        self.deadline = time.monotonic() + COMMAND_TIMEOUT


class _Channel:
    """Server-side state of one channel on the current connection."""

    __slots__ = (
        "handles",
        "inflight",
        "name",
        "params",
        "resubscribe",
        "server_markets",
        "sid",
        "unsub_waiters",
    )

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        self.name = name
        self.params = params
        self.handles: list[Subscription] = []
        self.sid: int | None = None
        # Markets the server has on this sid; None = every market (no filter).
        self.server_markets: frozenset[str] | None = None
        self.inflight: int | None = None
        self.resubscribe = False
        self.unsub_waiters: list[_Waiter] = []

    def take_unsub_waiters(self) -> list[_Waiter]:
        waiters, self.unsub_waiters = self.unsub_waiters, []
        return waiters

    def desired(self) -> frozenset[str] | None:
        if self.name not in MARKET_CHANNELS:
            return None
        out: set[str] = set()
        for h in self.handles:
            if h._markets is None:
                return None
            out |= h._markets
        return frozenset(out)


class Registry:
    """All subscription state of one client. Thread-safe (one lock, never held while
    sending or running user code)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # guards everything below
        self._ids = itertools.count(1)
        self._channels: dict[str, _Channel] = {}
        self._pending: dict[int, _Pending] = {}
        self._requests: dict[int, _Waiter] = {}
        self.generation: int | None = None  # live connection, None while disconnected
        # sid -> handles, replaced whole on change so the network thread reads it lock-free
        self.by_sid: dict[int, tuple[Subscription, ...]] = {}
        self.use_yes_price: dict[int, bool] = {}
        # Set by close_all(): from then on every user operation raises ClientClosedError,
        # even one that passed the client's own check just before close() ran.
        self.closed = False

    # -- user operations ------------------------------------------------------------------

    def add(self, sub: Subscription, waiter: _Waiter | None) -> list[Outgoing]:
        with self.lock:
            self._check_open()
            ch = self._channels.get(sub.channel)
            if ch is None:
                ch = self._channels[sub.channel] = _Channel(sub.channel, sub.params)
            elif not ch.handles:
                # An emptied channel (its unsubscribe not sent or not answered yet) takes
                # the new parameters; a live sid is resubscribed with them.
                if ch.params != sub.params:
                    ch.params = sub.params
                    ch.resubscribe = ch.sid is not None
            elif ch.params != sub.params:
                raise ValueError(
                    f"channel {sub.channel!r} is already subscribed with parameters "
                    f"{ch.params!r}; Kalshi keeps one subscription per channel, so a second "
                    f"one with {sub.params!r} cannot coexist"
                )
            ch.handles.append(sub)
            if waiter is not None:
                sub._waiters.append(waiter)
            out = self._reconcile(ch)
            # A handle whose markets the live subscription already covers is active now.
            self._settle(ch)
            return out

    def change_markets(
        self, sub: Subscription, add: Sequence[str], remove: Sequence[str], waiter: _Waiter
    ) -> list[Outgoing]:
        with self.lock:
            self._check_open()
            if sub.state in ("closed", "failed"):
                raise ClientClosedError(f"subscription is {sub.state}")
            if sub.channel not in MARKET_CHANNELS:
                raise ValueError(f"channel {sub.channel!r} has no market filter")
            current = sub._markets
            if current is None:
                raise ValueError("this subscription covers every market already")
            sub._markets = (current | frozenset(add)) - frozenset(remove)
            waiter.markets = frozenset(add) or frozenset(remove)
            waiter.kind = "add" if add else "remove"
            sub._waiters.append(waiter)
            ch = self._channels[sub.channel]
            out = self._reconcile(ch)
            self._settle(ch)
            return out

    def remove(self, sub: Subscription, waiter: _Waiter | None) -> list[Outgoing]:
        with self.lock:
            ch = self._channels.get(sub.channel)
            was = sub.state
            self._close_handle(sub, ClientClosedError("unsubscribed"))
            if ch is None or was in ("closed", "failed"):
                if waiter is not None:
                    waiter.done()
                return []
            if waiter is not None:
                waiter.markets = frozenset()
                ch.unsub_waiters.append(waiter)
            out = self._reconcile(ch)
            self._settle(ch)
            return out

    def request(self, build: Callable[[int], str], waiter: _Waiter) -> list[Outgoing]:
        """A command whose reply goes straight to ``waiter`` (list_subscriptions)."""
        with self.lock:
            self._check_open()
            if self.generation is None:
                raise KalshiConnectionError(
                    "not connected to Kalshi right now (the client reconnects by itself; "
                    "try again once it is connected)"
                )
            cmd_id = next(self._ids)
            self._requests[cmd_id] = waiter
            return [(build(cmd_id), self.generation)]

    def snapshot(self, sub: Subscription, tickers: Sequence[str] | None) -> list[Outgoing]:
        with self.lock:
            ch = self._channels.get(sub.channel)
            if ch is None or ch.sid is None or self.generation is None:
                return []  # a (re)subscribe sends fresh snapshots anyway
            return self._snapshot_cmd(ch, tickers if tickers is not None else sub._markets)

    def resync(self, sid: int, tickers: Sequence[str]) -> list[Outgoing]:
        """Recover the books of ``tickers`` on ``sid`` after a gap: get_snapshot first; an
        error reply falls back to unsubscribe + subscribe."""
        with self.lock:
            ch = self._channel_of_sid(sid)
            if ch is None or self.generation is None:
                return []
            return self._snapshot_cmd(ch, tickers)

    def force_resubscribe(self, sid: int) -> list[Outgoing]:
        with self.lock:
            ch = self._channel_of_sid(sid)
            if ch is None:
                return []
            ch.resubscribe = True
            return self._reconcile(ch)

    def close_all(self) -> None:
        with self.lock:
            self.closed = True
            for ch in self._channels.values():
                for h in list(ch.handles):
                    self._close_handle(h, ClientClosedError("client closed"))
                for w in ch.take_unsub_waiters():
                    w.done()
            self._channels.clear()
            for w in self._requests.values():
                w.fail(ClientClosedError("client closed"))
            self._requests.clear()
            self._pending.clear()
            self.generation = None
            self.by_sid = {}

    def handles(self) -> list[Subscription]:
        with self.lock:
            return [h for ch in self._channels.values() for h in ch.handles]

    # -- connection events (network thread) ---------------------------------------------

    def connected(self, generation: int) -> list[Outgoing]:
        with self.lock:
            self.generation = generation
            self._pending.clear()
            out: list[Outgoing] = []
            for ch in list(self._channels.values()):
                out += self._reconcile(ch)
            return out

    def disconnected(self) -> None:
        with self.lock:
            self.generation = None
            self._pending.clear()
            for cmd_id, w in list(self._requests.items()):
                w.fail(_lost())
                del self._requests[cmd_id]
            for ch in self._channels.values():
                ch.sid = None
                ch.server_markets = None
                ch.inflight = None
                ch.resubscribe = False
                for h in ch.handles:
                    h._sid = None
                    if h.state == "active":
                        h.state = "pending"
            self.by_sid = {}
            self.use_yes_price = {}

    def expire(self, now: float) -> list[Outgoing]:
        """Resend commands that got no reply (called from the network thread's tick)."""
        with self.lock:
            out: list[Outgoing] = []
            for cmd_id, p in list(self._pending.items()):
                if p.deadline <= now:
                    del self._pending[cmd_id]
                    ch = p.channel
                    if ch is not None and ch.inflight == cmd_id:
                        ch.inflight = None
                        out += self._reconcile(ch)
            return out

    def on_reply(self, msg: Message) -> list[Outgoing]:
        """Apply a control reply (Subscribed/Ok/Unsubscribed/ServerError)."""
        cmd_id = getattr(msg, "id", None)
        with self.lock:
            if cmd_id is not None and cmd_id in self._requests:
                waiter = self._requests.pop(cmd_id)
                if isinstance(msg, ServerError):
                    waiter.fail(SubscriptionError(msg.code, msg.message, command_id=cmd_id))
                else:
                    waiter.done(msg)
                return []
            pending = self._pending.pop(cmd_id, None) if cmd_id is not None else None
            if pending is None:
                return self._unsolicited(msg)
            ch = pending.channel
            if ch is None:  # get_snapshot: its answer is the snapshot itself
                if isinstance(msg, ServerError) and msg.sid is not None:
                    return self._resubscribe_sid(msg.sid)
                if isinstance(msg, ServerError) and pending.markets is not None:
                    return self._resubscribe_markets(pending.markets)
                return []
            if ch.inflight == cmd_id:
                ch.inflight = None
            if isinstance(msg, ServerError):
                self._command_failed(ch, pending, msg)
            elif pending.action == "subscribe" and isinstance(msg, (Subscribed, Ok)):
                sid = msg.sid
                if sid is not None:
                    self._set_sid(ch, sid)
                markets = getattr(msg, "market_tickers", None)
                ch.server_markets = frozenset(markets) if markets is not None else pending.markets
                if ch.name not in MARKET_CHANNELS:
                    ch.server_markets = None
            elif pending.action in ("add_markets", "delete_markets") and isinstance(msg, Ok):
                if msg.market_tickers is not None:
                    ch.server_markets = frozenset(msg.market_tickers)
                elif ch.server_markets is not None:
                    changed = pending.markets or frozenset()
                    if pending.action == "add_markets":
                        ch.server_markets = ch.server_markets | changed
                    else:
                        ch.server_markets = ch.server_markets - changed
            elif pending.action == "unsubscribe":
                self._set_sid(ch, None)
                ch.server_markets = None
                ch.resubscribe = False
            out = self._reconcile(ch)
            self._settle(ch)
            return out

    # -- internals (lock held) ----------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise ClientClosedError("this client was closed")

    def _unsolicited(self, msg: Message) -> list[Outgoing]:
        # Terminal errors on a live sid (10 channel error, 25 buffer overflow, ...): the
        # server dropped that subscription; subscribe it again.
        if (
            isinstance(msg, ServerError)
            and msg.sid is not None
            and (msg.code in TERMINAL_ERROR_CODES or msg.code not in _KNOWN_USER_CODES)
        ):
            return self._resubscribe_sid(msg.sid)
        return []

    def _resubscribe_sid(self, sid: int) -> list[Outgoing]:
        ch = self._channel_of_sid(sid)
        if ch is None:
            return []
        # Unsubscribe, then subscribe afresh (fresh sid, fresh snapshots). Subscribing
        # straight away is not enough: if the server still has the sid it merges the
        # subscribe into an "ok" (no snapshots), and meanwhile its frames would arrive on
        # a sid we had forgotten. If it dropped the sid, the unsubscribe gets error 7,
        # which counts as done. The sid stays routed until then, so nothing is lost
        # silently; the caller keeps the books out of "live" until their new snapshot.
        ch.resubscribe = True
        return self._reconcile(ch)

    def resubscribing(self, sid: int) -> bool:
        """True while the channel of ``sid`` is being unsubscribed to be subscribed anew
        (after a terminal error frame or a failed resync)."""
        with self.lock:
            ch = self._channel_of_sid(sid)
            return ch is not None and ch.resubscribe

    def _resubscribe_markets(self, markets: frozenset[str]) -> list[Outgoing]:
        for ch in self._channels.values():
            if ch.name == "orderbook_delta" and ch.sid is not None:
                ch.resubscribe = True
                return self._reconcile(ch)
        return []

    def _channel_of_sid(self, sid: int) -> _Channel | None:
        for ch in self._channels.values():
            if ch.sid == sid:
                return ch
        return None

    def _set_sid(self, ch: _Channel, sid: int | None) -> None:
        old = ch.sid
        ch.sid = sid
        by_sid = dict(self.by_sid)
        yes_price = dict(self.use_yes_price)
        if old is not None:
            by_sid.pop(old, None)
            yes_price.pop(old, None)
        if sid is not None:
            by_sid[sid] = tuple(ch.handles)
            yes_price[sid] = bool(ch.params.get("use_yes_price", False))
        for h in ch.handles:
            h._sid = sid
        self.by_sid = by_sid
        self.use_yes_price = yes_price

    def _command(
        self,
        ch: _Channel | None,
        action: str,
        markets: frozenset[str] | None,
        text: Callable[[int], str],
    ) -> list[Outgoing]:
        assert self.generation is not None
        cmd_id = next(self._ids)
        self._pending[cmd_id] = _Pending(action, ch, markets, self.generation)
        if ch is not None:
            ch.inflight = cmd_id
        return [(text(cmd_id), self.generation)]

    def _snapshot_cmd(self, ch: _Channel, tickers: Iterable[str] | None) -> list[Outgoing]:
        if ch.name != "orderbook_delta" or ch.sid is None:
            return []
        wanted = sorted(tickers if tickers is not None else (ch.server_markets or ()))
        if not wanted:
            return []
        sid = ch.sid
        return self._command(
            None,
            "get_snapshot",
            frozenset(wanted),
            lambda i: protocol.encode_update_subscription(i, sid, "get_snapshot", wanted),
        )

    def _reconcile(self, ch: _Channel) -> list[Outgoing]:
        """Next command that moves the server towards the handles' wishes, if any."""
        if self.generation is None or ch.inflight is not None:
            return []
        name = ch.name
        sid = ch.sid
        if not ch.handles:
            if sid is None:
                self._channels.pop(name, None)
                for w in ch.take_unsub_waiters():
                    w.done()
                return []
            return self._command(
                ch, "unsubscribe", frozenset(), lambda i: protocol.encode_unsubscribe(i, [sid])
            )
        desired = ch.desired()
        if sid is None:
            params = ch.params
            return self._command(
                ch,
                "subscribe",
                desired,
                lambda i: protocol.encode_subscribe(
                    i, [name], sorted(desired) if desired is not None else None, **params
                ),
            )
        server = ch.server_markets
        if ch.resubscribe or (name in MARKET_CHANNELS and (desired is None) != (server is None)):
            # Widening to "all markets" (or the reverse), or a failed resync: the filter
            # cannot be changed in place.
            return self._command(
                ch, "unsubscribe", frozenset(), lambda i: protocol.encode_unsubscribe(i, [sid])
            )
        if desired is None or server is None:
            return []
        to_add = desired - server
        if to_add:
            add = sorted(to_add)
            return self._command(
                ch,
                "add_markets",
                to_add,
                lambda i: protocol.encode_update_subscription(i, sid, "add_markets", add),
            )
        to_del = server - desired
        if to_del:
            rm = sorted(to_del)
            return self._command(
                ch,
                "delete_markets",
                to_del,
                lambda i: protocol.encode_update_subscription(i, sid, "delete_markets", rm),
            )
        return []

    def _settle(self, ch: _Channel) -> None:
        """Activate handles the server now covers; release waiters whose goal is met."""
        sid = ch.sid
        server = ch.server_markets
        idle = ch.inflight is None
        for h in ch.handles:
            h._sid = sid
            covered = sid is not None and (
                server is None or (h._markets is not None and h._markets <= server)
            )
            if covered and h.state == "pending":
                h.state = "active"
            keep = []
            for w in h._waiters:
                if w.kind == "subscribe":
                    if h.state == "active":
                        w.done(h)
                        continue
                elif w.kind == "add":
                    if sid is not None and (server is None or w.markets <= server):
                        w.done()
                        continue
                elif w.kind == "remove" and (idle or not (server and w.markets & server)):
                    w.done()
                    continue
                keep.append(w)
            h._waiters = keep
        if sid is not None and ch.handles:
            self.by_sid = {**self.by_sid, sid: tuple(ch.handles)}
        if idle and (ch.handles or sid is None):
            for w in ch.take_unsub_waiters():
                w.done()

    def _command_failed(self, ch: _Channel, pending: _Pending, msg: ServerError) -> None:
        error = SubscriptionError(msg.code, msg.message, command_id=getattr(msg, "id", None))
        if pending.action == "subscribe":
            # Everything not yet active rode on this subscribe: those handles failed.
            for h in list(ch.handles):
                if h.state == "pending":
                    self._fail_handle(h, error)
        elif pending.action == "add_markets":
            # A handle still pending on the refused markets rode on this command: it
            # failed (otherwise the same add_markets would be sent again and again).
            refused = pending.markets or frozenset()
            for h in list(ch.handles):
                if h.state == "pending" and h._markets is not None and h._markets & refused:
                    self._fail_handle(h, error)
            for h in ch.handles:
                for w in list(h._waiters):
                    if w.kind == "add" and w.markets & (pending.markets or frozenset()):
                        if h._markets is not None:
                            h._markets = h._markets - (w.markets - (ch.server_markets or set()))
                        h._waiters.remove(w)
                        w.fail(error)
        elif pending.action == "delete_markets":
            # Nothing to roll back: the markets stay on the server; stop asking for them
            # by treating the server's view as final until the next change.
            ch.server_markets = (ch.server_markets or frozenset()) - (
                pending.markets or frozenset()
            )
        elif pending.action == "unsubscribe":
            # Unknown sid (7): the server has nothing to remove; that is the goal anyway.
            self._set_sid(ch, None)
            ch.server_markets = None
            ch.resubscribe = False

    def _fail_handle(self, h: Subscription, error: SubscriptionError) -> None:
        ch = self._channels.get(h.channel)
        if ch is not None and h in ch.handles:
            ch.handles.remove(h)
        h.state = "failed"
        h.error = error
        for w in h._waiters:
            w.fail(error)
        h._waiters = []

    def _close_handle(self, h: Subscription, error: BaseException) -> None:
        ch = self._channels.get(h.channel)
        if ch is not None and h in ch.handles:
            ch.handles.remove(h)
            if ch.sid is not None:
                self.by_sid = {**self.by_sid, ch.sid: tuple(ch.handles)}
        if h.state not in ("failed", "closed"):
            h.state = "closed"
        for w in h._waiters:
            w.fail(error)
        h._waiters = []


def _lost() -> BaseException:
    return KalshiConnectionError("connection lost before the server answered")


# Error codes that describe a bad command (user error) rather than a broken subscription.
_KNOWN_USER_CODES = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 18, 19, 20})
_KNOWN_USER_CODES |= frozenset({21, 22, 23, 24, 26, 27, 28})
