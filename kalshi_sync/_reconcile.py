"""The per-channel reconciler: what one channel's handles want vs what the server has.

Kalshi keeps one subscription per channel per connection and merges repeated subscribes,
so handles are grouped per channel (:class:`ChannelState`). :func:`next_step` compares the
handles' wishes with the server's view and names the one command that moves the server
towards them; :func:`settle` activates the handles the server now covers and releases the
waiters whose goal is met; :func:`apply_ack` and :func:`apply_refusal` fold a reply into
the state. The :class:`~kalshi_sync.registry.Registry` (the locked command tracker) calls
these under its lock, gives each step a command id and a deadline, and sends nothing
itself either (docs/architecture.md, 'Outbound commands').

Plain functions over plain objects: no lock, no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from ._channels import MARKET_CHANNELS
from ._routing import Route, Routing, Target
from .errors import SubscriptionError
from .models import Message, Ok, ServerError, Subscribed

if TYPE_CHECKING:  # annotations only: the waiters' threading stays out of the core
    from .subscriptions import SubscriptionRecord, _Waiter

__all__ = [
    "Action",
    "ChannelState",
    "Step",
    "apply_ack",
    "apply_refusal",
    "next_step",
    "routing_of",
    "settle",
]

Action = Literal["subscribe", "unsubscribe", "add_markets", "delete_markets"]
Step = tuple[Action, frozenset[str] | None]
"""(action, markets it is about: the subscribe filter, the markets added or removed)."""


class ChannelState:
    """Server-side state of one channel on the current connection, and its handles."""

    __slots__ = (
        "inflight",
        "name",
        "params",
        "records",
        "resubscribe",
        "server_markets",
        "sid",
        "unsub_waiters",
    )

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        self.name = name
        self.params = params
        self.records: list[SubscriptionRecord] = []
        self.sid: int | None = None
        # Markets the server has on this sid; None = every market (no filter).
        self.server_markets: frozenset[str] | None = None
        self.inflight: int | None = None  # id of the channel's command awaiting a reply
        # Unsubscribe, then subscribe afresh: after a terminal error, a failed resync, or
        # new parameters for an emptied channel.
        self.resubscribe = False
        self.unsub_waiters: list[_Waiter] = []

    def take_unsub_waiters(self) -> list[_Waiter]:
        waiters, self.unsub_waiters = self.unsub_waiters, []
        return waiters

    def desired(self) -> frozenset[str] | None:
        """The union of the handles' markets; None = every market (or no filter)."""
        if self.name not in MARKET_CHANNELS:
            return None
        out: set[str] = set()
        for r in self.records:
            if r.markets is None:
                return None
            out |= r.markets
        return frozenset(out)

    def forget_server(self) -> None:
        """The connection is gone: nothing is subscribed any more."""
        self.sid = None
        self.server_markets = None
        self.inflight = None
        self.resubscribe = False
        for r in self.records:
            r.sid = None
            if r.state == "active":
                r.state = "pending"


def next_step(ch: ChannelState) -> Step | None:
    """The next command that moves the server towards the handles' wishes, if any.

    ``("unsubscribe", None)`` with no sid means: nothing left on the server, drop the
    channel. The caller checks it is connected and nothing is in flight first.
    """
    if not ch.records:
        return ("unsubscribe", None)
    desired = ch.desired()
    if ch.sid is None:
        return ("subscribe", desired)
    server = ch.server_markets
    if ch.resubscribe or (ch.name in MARKET_CHANNELS and (desired is None) != (server is None)):
        # Widening to "all markets" (or the reverse), or a failed resync: the filter
        # cannot be changed in place.
        return ("unsubscribe", frozenset())
    if desired is None or server is None:
        return None
    to_add = desired - server
    if to_add:
        return ("add_markets", to_add)
    to_del = server - desired
    if to_del:
        return ("delete_markets", to_del)
    return None


def apply_ack(
    ch: ChannelState, action: Action, markets: frozenset[str] | None, msg: Message
) -> bool:
    """Fold a positive reply into ``ch``; True when the sid changed (routes must be
    republished)."""
    if action == "subscribe" and isinstance(msg, (Subscribed, Ok)):
        sid_changed = False
        if msg.sid is not None:
            ch.sid = msg.sid
            sid_changed = True
        got = getattr(msg, "market_tickers", None)
        ch.server_markets = frozenset(got) if got is not None else markets
        if ch.name not in MARKET_CHANNELS:
            ch.server_markets = None
        return sid_changed
    if action in ("add_markets", "delete_markets") and isinstance(msg, Ok):
        if msg.market_tickers is not None:
            ch.server_markets = frozenset(msg.market_tickers)
        elif ch.server_markets is not None:
            changed = markets or frozenset()
            if action == "add_markets":
                ch.server_markets = ch.server_markets | changed
            else:
                ch.server_markets = ch.server_markets - changed
        return False
    if action == "unsubscribe":
        ch.sid = None
        ch.server_markets = None
        ch.resubscribe = False
        return True
    return False


def apply_refusal(
    ch: ChannelState, action: Action, markets: frozenset[str] | None, msg: ServerError
) -> bool:
    """Fold an error reply to the channel's command into ``ch``, failing the handles and
    waiters that rode on it; True when the sid changed."""
    error = SubscriptionError(msg.code, msg.message, command_id=getattr(msg, "id", None))
    if action == "subscribe":
        # Everything not yet active rode on this subscribe: those handles failed.
        for r in list(ch.records):
            if r.state == "pending":
                fail_record(ch, r, error)
    elif action == "add_markets":
        # A handle still pending on the refused markets rode on this command: it
        # failed (otherwise the same add_markets would be sent again and again).
        refused = markets or frozenset()
        for r in list(ch.records):
            if r.state == "pending" and r.markets is not None and r.markets & refused:
                fail_record(ch, r, error)
        for r in ch.records:
            for w in list(r.waiters):
                if w.kind == "add" and w.markets & refused:
                    if r.markets is not None:
                        r.markets = r.markets - (w.markets - (ch.server_markets or set()))
                    r.waiters.remove(w)
                    w.fail(error)
    elif action == "delete_markets":
        # Nothing to roll back: the markets stay on the server; stop asking for them
        # by treating the server's view as final until the next change.
        ch.server_markets = (ch.server_markets or frozenset()) - (markets or frozenset())
    elif action == "unsubscribe":
        # Unknown sid (7): the server has nothing to remove; that is the goal anyway.
        ch.sid = None
        ch.server_markets = None
        ch.resubscribe = False
        return True
    return False


def settle(ch: ChannelState) -> None:
    """Activate handles the server now covers; release waiters whose goal is met."""
    sid = ch.sid
    server = ch.server_markets
    idle = ch.inflight is None
    for r in ch.records:
        r.sid = sid
        covered = sid is not None and (
            server is None or (r.markets is not None and r.markets <= server)
        )
        if covered and r.state == "pending":
            r.state = "active"
        keep = []
        for w in r.waiters:
            if w.kind == "subscribe":
                if r.state == "active":
                    w.done(r.view)
                    continue
            elif w.kind == "add":
                if sid is not None and (server is None or w.markets <= server):
                    w.done()
                    continue
            elif w.kind == "remove" and (idle or not (server and w.markets & server)):
                w.done()
                continue
            keep.append(w)
        r.waiters = keep
    if idle and (ch.records or sid is None):
        for w in ch.take_unsub_waiters():
            w.done()


def fail_record(ch: ChannelState | None, r: SubscriptionRecord, error: SubscriptionError) -> None:
    if ch is not None and r in ch.records:
        ch.records.remove(r)
    r.state = "failed"
    r.error = error
    for w in r.waiters:
        w.fail(error)
    r.waiters = []


def close_record(ch: ChannelState | None, r: SubscriptionRecord, error: BaseException) -> None:
    if ch is not None and r in ch.records:
        ch.records.remove(r)
    if r.state not in ("failed", "closed"):
        r.state = "closed"
    for w in r.waiters:
        w.fail(error)
    r.waiters = []


def routing_of(channels: Iterable[ChannelState]) -> Routing:
    """The routing snapshot of ``channels``: a route per live sid (its handles' targets in
    subscription order), and the keys of every handle not closed or failed."""
    routes: dict[int, Route] = {}
    live: set[int] = set()
    for ch in channels:
        records = ch.records
        live.update(r.key for r in records)
        if ch.sid is None:
            continue
        routes[ch.sid] = Route(
            channel=ch.name,
            use_yes_price=bool(ch.params.get("use_yes_price", False)),
            targets=tuple(Target(r.key, r.markets, r.callback) for r in records),
            markets=ch.desired(),
        )
    return Routing(routes=routes, live=frozenset(live))
