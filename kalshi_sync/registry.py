"""The thread-safe subscription registry: the one owner of subscription state.

The registry records what the user wants first (one :class:`SubscriptionRecord` per
handle, grouped per channel), then computes the commands that bring the server there
(the per-channel decisions are in :mod:`._reconcile`); this module is the locked command
tracker around them: command ids, commands in flight and their deadlines, pending
requests, the connection generation. One command per channel is in flight at a time;
every reply triggers the next step. After a reconnect every channel is simply subscribed
again with the union of its handles' markets, which restores exactly the current state
with new sids.

After every change, under its lock, the registry publishes one immutable
:class:`~._routing.Routing` (routes by sid, live handle keys), swapped by reference: the
network thread and delivery read only that, without a lock.

This module does no I/O and starts no threads: methods return ``Outgoing`` commands for the
caller to send after it has released the lock. One lock guards all of it; user code never
runs under it. Recovery decisions (gaps, terminal errors, refused snapshots) are made by
:class:`~._recovery.Recovery`; the registry only carries them out (:meth:`get_snapshot`,
:meth:`force_resubscribe`).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from . import protocol
from ._channels import BOOK_CHANNELS, MARKET_CHANNELS
from ._reconcile import (
    Action,
    ChannelState,
    apply_ack,
    apply_refusal,
    close_record,
    next_step,
    routing_of,
    settle,
)
from ._routing import EMPTY_ROUTING, Routing
from .errors import ClientClosedError, KalshiConnectionError, SubscriptionError
from .models import Message, ServerError
from .subscriptions import Subscription, _Waiter

__all__ = ["COMMAND_TIMEOUT", "Outgoing", "Registry"]

# A command that got no reply in this long is sent again (the server lost it, or a
# reply was lost with a connection that is now gone).
COMMAND_TIMEOUT = 10.0

Outgoing = tuple[str, int]
"""(command JSON text, connection generation it was built for)."""


class _Pending:
    __slots__ = ("action", "channel", "deadline", "generation", "markets")

    def __init__(
        self,
        action: Action,
        channel: ChannelState,
        markets: frozenset[str] | None,
        generation: int,
    ) -> None:
        self.action = action
        self.channel = channel
        self.markets = markets
        self.generation = generation
        self.deadline = time.monotonic() + COMMAND_TIMEOUT


class Registry:
    """All subscription state of one client. Thread-safe (one lock, never held while
    sending or running user code)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # guards everything below but `routing`'s readers
        self._ids = itertools.count(1)
        self._channels: dict[str, ChannelState] = {}
        self._pending: dict[int, _Pending] = {}
        self._requests: dict[int, _Waiter] = {}
        self.generation: int | None = None  # live connection, None while disconnected
        # The published routing snapshot: replaced whole under the lock, read without it.
        self.routing: Routing = EMPTY_ROUTING
        # Set by close_all(): from then on every user operation raises ClientClosedError,
        # even one that passed the client's own check just before close() ran.
        self.closed = False

    # -- user operations ------------------------------------------------------------------

    def add(self, sub: Subscription, waiter: _Waiter | None) -> list[Outgoing]:
        rec = sub._record
        with self.lock:
            self._check_open()
            ch = self._channels.get(rec.channel)
            if ch is None:
                ch = self._channels[rec.channel] = ChannelState(rec.channel, rec.params)
            elif not ch.records:
                # An emptied channel (its unsubscribe not sent or not answered yet) takes
                # the new parameters; a live sid is resubscribed with them.
                if ch.params != rec.params:
                    ch.params = rec.params
                    ch.resubscribe = ch.sid is not None
            elif ch.params != rec.params:
                raise ValueError(
                    f"channel {rec.channel!r} is already subscribed with parameters "
                    f"{ch.params!r}; Kalshi keeps one subscription per channel, so a second "
                    f"one with {rec.params!r} cannot coexist"
                )
            ch.records.append(rec)
            if waiter is not None:
                rec.waiters.append(waiter)
            # A handle whose markets the live subscription already covers is active now.
            return self._step(ch)

    def change_markets(
        self, sub: Subscription, add: Sequence[str], remove: Sequence[str], waiter: _Waiter
    ) -> list[Outgoing]:
        rec = sub._record
        with self.lock:
            self._check_open()
            if rec.state in ("closed", "failed"):
                raise ClientClosedError(f"subscription is {rec.state}")
            if rec.channel not in MARKET_CHANNELS:
                raise ValueError(f"channel {rec.channel!r} has no market filter")
            current = rec.markets
            if current is None:
                raise ValueError("this subscription covers every market already")
            rec.markets = (current | frozenset(add)) - frozenset(remove)
            waiter.markets = frozenset(add) or frozenset(remove)
            waiter.kind = "add" if add else "remove"
            rec.waiters.append(waiter)
            return self._step(self._channels[rec.channel])

    def remove(self, sub: Subscription, waiter: _Waiter | None) -> list[Outgoing]:
        rec = sub._record
        with self.lock:
            ch = self._channels.get(rec.channel)
            was = rec.state
            close_record(ch, rec, ClientClosedError("unsubscribed"))
            if ch is None or was in ("closed", "failed"):
                if waiter is not None:
                    waiter.done()
                self._publish()
                return []
            if waiter is not None:
                waiter.markets = frozenset()
                ch.unsub_waiters.append(waiter)
            return self._step(ch)

    def wait_active(self, sub: Subscription, waiter: _Waiter) -> bool:
        """Register ``waiter`` for the handle's activation; False if it is active already.
        Raises the handle's error if it failed, ClientClosedError if it was closed."""
        rec = sub._record
        with self.lock:
            if rec.state == "active":
                return False
            if rec.state == "failed" and rec.error is not None:
                raise rec.error
            if rec.state == "closed":
                raise ClientClosedError("subscription was closed")
            rec.waiters.append(waiter)
            return True

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
        """get_snapshot for a handle's markets (``request_snapshot``)."""
        rec = sub._record
        with self.lock:
            ch = self._channels.get(rec.channel)
            if ch is None:
                return []  # a (re)subscribe sends fresh snapshots anyway
            return self._snapshot_cmd(ch, tickers if tickers is not None else rec.markets)[0]

    def get_snapshot(self, sid: int, tickers: Sequence[str]) -> tuple[list[Outgoing], int | None]:
        """get_snapshot for ``tickers`` on ``sid`` (a resync), and its command id so that
        recovery can recognise a refusal; ``([], None)`` when there is nothing to ask."""
        with self.lock:
            ch = self._channel_of_sid(sid)
            if ch is None:
                return [], None
            return self._snapshot_cmd(ch, tickers)

    def force_resubscribe(self, sid: int) -> list[Outgoing]:
        """Unsubscribe the channel of ``sid``, then subscribe it afresh (fresh sid, fresh
        snapshots). Subscribing straight away is not enough: if the server still has the
        sid it merges the subscribe into an "ok" (no snapshots), and meanwhile its frames
        would arrive on a sid we had forgotten. If it dropped the sid, the unsubscribe gets
        error 7, which counts as done. The sid stays routed until then, so nothing is lost
        silently."""
        with self.lock:
            ch = self._channel_of_sid(sid)
            if ch is None:
                return []
            ch.resubscribe = True
            return self._step(ch)

    def resubscribing(self, sid: int) -> bool:
        """True while the channel of ``sid`` is being unsubscribed to be subscribed anew."""
        with self.lock:
            ch = self._channel_of_sid(sid)
            return ch is not None and ch.resubscribe

    def close_all(self) -> None:
        with self.lock:
            self.closed = True
            for ch in self._channels.values():
                for r in list(ch.records):
                    close_record(ch, r, ClientClosedError("client closed"))
                for w in ch.take_unsub_waiters():
                    w.done()
            self._channels.clear()
            for w in self._requests.values():
                w.fail(ClientClosedError("client closed"))
            self._requests.clear()
            self._pending.clear()
            self.generation = None
            self.routing = EMPTY_ROUTING

    def handles(self) -> list[Subscription]:
        """The live handles (not closed, not failed), in subscription order per channel."""
        with self.lock:
            return [
                r.view for ch in self._channels.values() for r in ch.records if r.view is not None
            ]

    def markets_in_use(self, channel: str) -> frozenset[str]:
        """Markets some live handle of ``channel`` still names."""
        with self.lock:
            ch = self._channels.get(channel)
            out: set[str] = set()
            for r in ch.records if ch is not None else ():
                out |= r.markets or frozenset()
            return frozenset(out)

    def is_pending(self, cmd_id: int) -> bool:
        """True if ``cmd_id`` is one of our commands or requests awaiting its reply (an
        error that answers a command is not a terminal error on its sid)."""
        with self.lock:
            return cmd_id in self._pending or cmd_id in self._requests

    # -- connection events (network thread) ---------------------------------------------

    def connected(self, generation: int) -> list[Outgoing]:
        with self.lock:
            self.generation = generation
            self._pending.clear()
            out: list[Outgoing] = []
            for ch in list(self._channels.values()):
                out += self._reconcile(ch)
            self._publish()
            return out

    def disconnected(self) -> None:
        with self.lock:
            self.generation = None
            self._pending.clear()
            for cmd_id, w in list(self._requests.items()):
                w.fail(_lost())
                del self._requests[cmd_id]
            for ch in self._channels.values():
                ch.forget_server()
            self._publish()

    def expire(self, now: float) -> list[Outgoing]:
        """Resend commands that got no reply (called from the network thread's tick)."""
        with self.lock:
            out: list[Outgoing] = []
            for cmd_id, p in list(self._pending.items()):
                if p.deadline <= now:
                    del self._pending[cmd_id]
                    ch = p.channel
                    if ch.inflight == cmd_id:
                        ch.inflight = None
                        out += self._reconcile(ch)
            return out

    def on_reply(self, msg: Message) -> list[Outgoing]:
        """Apply a control reply (Subscribed/Ok/Unsubscribed/ServerError) to the command it
        answers; a reply to no command of ours changes nothing here."""
        cmd_id = getattr(msg, "id", None)
        if cmd_id is None:
            return []
        with self.lock:
            if cmd_id in self._requests:
                waiter = self._requests.pop(cmd_id)
                if isinstance(msg, ServerError):
                    waiter.fail(SubscriptionError(msg.code, msg.message, command_id=cmd_id))
                else:
                    waiter.done(msg)
                return []
            pending = self._pending.pop(cmd_id, None)
            if pending is None:
                return []
            ch = pending.channel
            if ch.inflight == cmd_id:
                ch.inflight = None
            if isinstance(msg, ServerError):
                apply_refusal(ch, pending.action, pending.markets, msg)
            else:
                apply_ack(ch, pending.action, pending.markets, msg)
            return self._step(ch)

    # -- internals (lock held) ----------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise ClientClosedError("this client was closed")

    def _step(self, ch: ChannelState) -> list[Outgoing]:
        out = self._reconcile(ch)
        settle(ch)
        self._publish()
        return out

    def _channel_of_sid(self, sid: int) -> ChannelState | None:
        for ch in self._channels.values():
            if ch.sid == sid:
                return ch
        return None

    def _publish(self) -> None:
        """Swap in the routing snapshot of the current state (every caller holds the lock)."""
        self.routing = routing_of(self._channels.values())

    def _command(
        self,
        ch: ChannelState,
        action: Action,
        markets: frozenset[str] | None,
        text: Callable[[int], str],
    ) -> list[Outgoing]:
        assert self.generation is not None
        cmd_id = next(self._ids)
        self._pending[cmd_id] = _Pending(action, ch, markets, self.generation)
        ch.inflight = cmd_id
        return [(text(cmd_id), self.generation)]

    def _snapshot_cmd(
        self, ch: ChannelState, tickers: Iterable[str] | None
    ) -> tuple[list[Outgoing], int | None]:
        # get_snapshot is not the channel's command in flight: its answer is the snapshot
        # itself, and it must not hold back an add_markets.
        if ch.name not in BOOK_CHANNELS or ch.sid is None or self.generation is None:
            return [], None
        wanted = sorted(tickers if tickers is not None else (ch.server_markets or ()))
        if not wanted:
            return [], None
        cmd_id = next(self._ids)
        text = protocol.encode_update_subscription(cmd_id, ch.sid, "get_snapshot", wanted)
        return [(text, self.generation)], cmd_id

    def _reconcile(self, ch: ChannelState) -> list[Outgoing]:
        """The next command of ``ch``, if connected and nothing is in flight."""
        if self.generation is None or ch.inflight is not None:
            return []
        step = next_step(ch)
        if step is None:
            return []
        action, markets = step
        name, sid, params = ch.name, ch.sid, ch.params
        if action == "unsubscribe":
            if sid is None:  # emptied and nothing on the server: the channel is gone
                self._channels.pop(name, None)
                for w in ch.take_unsub_waiters():
                    w.done()
                return []
            return self._command(
                ch, action, frozenset(), lambda i: protocol.encode_unsubscribe(i, [sid])
            )
        if action == "subscribe":
            wanted = sorted(markets) if markets is not None else None
            return self._command(
                ch,
                action,
                markets,
                lambda i: protocol.encode_subscribe(i, [name], wanted, **params),
            )
        assert sid is not None and markets is not None
        changed = sorted(markets)
        return self._command(
            ch,
            action,
            markets,
            lambda i: protocol.encode_update_subscription(i, sid, action, changed),
        )


def _lost() -> BaseException:
    return KalshiConnectionError("connection lost before the server answered")
