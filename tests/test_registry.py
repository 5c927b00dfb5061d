"""Plain-call unit tests of the sans-I/O subscription Registry and Subscription handles.

The registry is driven directly: user operations and decoded replies go in, ``Outgoing``
commands come out and are checked with ``json.loads``. No sockets, no threads, no sleeps.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from kalshi_sync import protocol
from kalshi_sync._recovery import GetSnapshot, Plan, Recovery
from kalshi_sync.dispatch import Delivery, Router
from kalshi_sync.errors import (
    ClientClosedError,
    KalshiConnectionError,
    SubscriptionError,
)
from kalshi_sync.models import Ok, ServerError, Subscribed, Unsubscribed
from kalshi_sync.registry import COMMAND_TIMEOUT, Outgoing, Registry
from kalshi_sync.subscriptions import Subscription, _Waiter

T1, T2, T3, T4 = "KXA-T1", "KXB-T2", "KXC-T3", "KXD-T4"


class StubClient:
    """What a Subscription touches of its client: the registry (for wait()) and the
    three private entry points its public methods delegate to (recorded, not run)."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self.calls: list[tuple[Any, ...]] = []

    def _change_markets(self, sub: Subscription, add: Any, remove: Any, timeout: float) -> None:
        self.calls.append(("change", sub, add, remove, timeout))

    def _request_snapshot(self, sub: Subscription, tickers: Any) -> None:
        self.calls.append(("snapshot", sub, tickers))

    def _unsubscribe(self, sub: Subscription, timeout: float) -> None:
        self.calls.append(("unsubscribe", sub, timeout))

    def _wait_active(self, sub: Subscription, timeout: float | None) -> None:
        waiter = _Waiter("subscribe")
        if self._registry.wait_active(sub, waiter):
            waiter.wait(timeout, f"subscribe to {sub.channel}")


# -- helpers --------------------------------------------------------------------------------


def make(
    reg: Registry,
    channel: str = "ticker",
    markets: Any = (T1,),
    params: dict[str, Any] | None = None,
    callback: Any = None,
) -> Subscription:
    frozen = None if markets is None else frozenset(markets)
    return Subscription(StubClient(reg), channel, frozen, dict(params or {}), callback)


def parse(out: list[Outgoing]) -> list[dict[str, Any]]:
    return [json.loads(text) for text, _gen in out]


def one(out: list[Outgoing]) -> dict[str, Any]:
    """The single command in ``out``."""
    assert len(out) == 1, f"expected one command, got {parse(out)}"
    command: dict[str, Any] = json.loads(out[0][0])
    return command


def decode(frame: dict[str, Any]) -> Any:
    return protocol.decode(json.dumps(frame))


def routed(reg: Registry) -> dict[int, tuple[Subscription, ...]]:
    """The published routing snapshot as sid -> the handles routed there."""
    views = {h.key: h for h in reg.handles()}
    return {
        sid: tuple(views[t.key] for t in route.targets) for sid, route in reg.routing.routes.items()
    }


def yes_price(reg: Registry) -> dict[int, bool]:
    """The published routing snapshot as sid -> use_yes_price."""
    return {sid: route.use_yes_price for sid, route in reg.routing.routes.items()}


def resync(reg: Registry, sid: int, tickers: Any) -> list[Outgoing]:
    """The get_snapshot a resync of ``tickers`` on ``sid`` sends."""
    return reg.get_snapshot(sid, tickers)[0]


class NoBooks:
    """Recovery's view of the books: ``books`` maps sid -> its tickers (all "live")."""

    def __init__(self, books: dict[int, list[str]] | None = None) -> None:
        self.books = books or {}

    def tickers_for_sid(self, sid: int) -> list[str]:
        return list(self.books.get(sid, []))

    def state(self, ticker: str) -> str | None:
        return "live" if any(ticker in ts for ts in self.books.values()) else None


def carry_out(reg: Registry, rec: Recovery, plan: Plan) -> list[Outgoing]:
    """Send a recovery plan's commands through the registry, as the pipeline does."""
    out: list[Outgoing] = []
    for cmd in plan.commands:
        if isinstance(cmd, GetSnapshot):
            sent, cmd_id = reg.get_snapshot(cmd.sid, cmd.tickers)
            if cmd_id is not None:
                rec.snapshot_sent(cmd_id, cmd.sid)
            out += sent
        else:
            out += reg.force_resubscribe(cmd.sid)
    return out


def error_frame(reg: Registry, rec: Recovery, err: ServerError) -> list[Outgoing]:
    """An error frame through registry and recovery, as the pipeline passes it."""
    answers = err.id is not None and reg.is_pending(err.id)
    out = reg.on_reply(err)
    return out + carry_out(reg, rec, rec.on_error(err, answers_command=answers))


def connected_registry() -> Registry:
    reg = Registry()
    assert reg.connected(1) == []
    return reg


def subscribed(
    reg: Registry, channel: str = "ticker", markets: Any = (T1,), sid: int = 1, **kw: Any
) -> Subscription:
    """A handle on a connected registry, acknowledged by the server with ``sid``."""
    h = make(reg, channel, markets, **kw)
    cmd = one(reg.add(h, None))
    assert cmd["cmd"] == "subscribe"
    assert reg.on_reply(Subscribed(type="subscribed", id=cmd["id"], sid=sid, channel=channel)) == []
    assert h.state == "active"
    return h


# -- subscribe ------------------------------------------------------------------------------


def test_first_subscribe_emits_sorted_tickers_and_params():
    """The first handle on a channel sends one subscribe with sorted tickers and its params."""
    reg = connected_registry()
    h = make(reg, "orderbook_delta", (T3, T1, T2), {"use_yes_price": False})
    out = reg.add(h, None)
    cmd = one(out)
    assert cmd["cmd"] == "subscribe"
    assert isinstance(cmd["id"], int)
    assert cmd["params"] == {
        "channels": ["orderbook_delta"],
        "market_tickers": [T1, T2, T3],
        "use_yes_price": False,
    }
    assert out[0][1] == 1
    assert h.state == "pending"
    assert h.sid is None
    assert h.market_tickers == (T1, T2, T3)


def test_nothing_is_sent_while_disconnected_and_everything_on_connect():
    """add() before connected() sends nothing; connected(1) subscribes every channel."""
    reg = Registry()
    a = make(reg, "ticker", (T2, T1))
    b = make(reg, "trade", (T3,))
    assert reg.add(a, None) == []
    assert reg.add(b, None) == []
    out = reg.connected(1)
    cmds = parse(out)
    assert [gen for _t, gen in out] == [1, 1]
    assert {c["cmd"] for c in cmds} == {"subscribe"}
    by_channel = {c["params"]["channels"][0]: c["params"] for c in cmds}
    assert by_channel == {
        "ticker": {"channels": ["ticker"], "market_tickers": [T1, T2]},
        "trade": {"channels": ["trade"], "market_tickers": [T3]},
    }
    assert len({c["id"] for c in cmds}) == 2


def test_subscribed_reply_activates_handle_sets_sid_and_releases_waiter():
    """A subscribed reply makes the handle active with the sid, routed in by_sid, waiter done."""
    reg = connected_registry()
    h = make(reg, "ticker", (T1,))
    w = _Waiter("subscribe")
    cmd = one(reg.add(h, w))
    assert not w.event.is_set()
    assert routed(reg) == {}
    out = reg.on_reply(Subscribed(type="subscribed", id=cmd["id"], sid=42, channel="ticker"))
    assert out == []
    assert h.state == "active"
    assert h.sid == 42
    assert routed(reg) == {42: (h,)}
    assert w.wait(0, "subscribe") is h
    assert h._record.waiters == []


def test_subscribed_reply_decoded_from_json_text_activates_handle():
    """The same ack decoded from wire JSON (sid under msg) activates the handle."""
    reg = connected_registry()
    h = make(reg, "trade", (T1,))
    cmd = one(reg.add(h, None))
    msg = decode({"id": cmd["id"], "type": "subscribed", "msg": {"channel": "trade", "sid": 9}})
    assert reg.on_reply(msg) == []
    assert (h.state, h.sid) == ("active", 9)
    assert routed(reg) == {9: (h,)}


def test_use_yes_price_is_recorded_per_sid():
    """use_yes_price from the handle's params is published per sid for the book decoder."""
    reg = connected_registry()
    subscribed(reg, "orderbook_delta", (T1,), sid=5, params={"use_yes_price": True})
    assert yes_price(reg) == {5: True}


def test_second_handle_adds_only_its_new_markets():
    """A second handle on the channel sends add_markets for only the markets not yet there."""
    reg = connected_registry()
    a = subscribed(reg, "ticker", (T1, T2), sid=3)
    b = make(reg, "ticker", (T2, T4, T3))
    w = _Waiter("subscribe")
    cmd = one(reg.add(b, w))
    assert cmd["cmd"] == "update_subscription"
    assert cmd["params"] == {"sid": 3, "action": "add_markets", "market_tickers": [T3, T4]}
    assert b.state == "pending"
    assert not w.event.is_set()
    assert reg.on_reply(Ok(type="ok", id=cmd["id"], sid=3)) == []
    # mypy keeps the "pending" narrowed above across on_reply(); the state moved on.
    assert b.state == "active"  # type: ignore[comparison-overlap]
    assert b.sid == 3
    assert w.wait(0, "subscribe") is b
    assert routed(reg) == {3: (a, b)}


def test_second_handle_already_covered_is_active_at_once():
    """A handle whose markets the live sid already has is active without any command."""
    reg = connected_registry()
    a = subscribed(reg, "ticker", (T1, T2), sid=3)
    b = make(reg, "ticker", (T2,))
    w = _Waiter("subscribe")
    assert reg.add(b, w) == []
    assert b.state == "active"
    assert b.sid == 3
    assert w.wait(0, "subscribe") is b
    assert routed(reg) == {3: (a, b)}


def test_params_mismatch_on_the_same_channel_raises_value_error():
    """A second handle with other params on a channel raises ValueError and is not added."""
    reg = connected_registry()
    a = subscribed(reg, "orderbook_delta", (T1,), params={"use_yes_price": False})
    b = make(reg, "orderbook_delta", (T2,), {"use_yes_price": True})
    with pytest.raises(ValueError, match="one subscription per channel"):
        reg.add(b, None)
    assert reg.handles() == [a]
    assert b.state == "pending"


def test_channel_without_market_filter_subscribes_without_tickers():
    """market_lifecycle_v2 subscribes with no market_tickers and cannot change markets."""
    reg = connected_registry()
    h = make(reg, "market_lifecycle_v2", None)
    cmd = one(reg.add(h, None))
    assert cmd["cmd"] == "subscribe"
    assert cmd["params"] == {"channels": ["market_lifecycle_v2"]}
    assert h.market_tickers is None
    reg.on_reply(Subscribed(type="subscribed", id=cmd["id"], sid=8, channel="market_lifecycle_v2"))
    assert (h.state, h.sid) == ("active", 8)
    with pytest.raises(ValueError, match="no market filter"):
        reg.change_markets(h, [T1], (), _Waiter("add"))


def test_markets_given_on_unfiltered_channel_are_not_sent():
    """Tickers on a channel outside MARKET_CHANNELS are not put on the wire."""
    reg = connected_registry()
    h = make(reg, "market_lifecycle_v2", (T1,))
    cmd = one(reg.add(h, None))
    assert cmd["params"] == {"channels": ["market_lifecycle_v2"]}
    reg.on_reply(Subscribed(type="subscribed", id=cmd["id"], sid=8))
    assert h.state == "active"


def test_second_handle_on_unfiltered_channel_is_active_at_once():
    """On a channel without filter, a second handle rides the live sid with no command."""
    reg = connected_registry()
    subscribed(reg, "market_lifecycle_v2", None, sid=8)
    b = make(reg, "market_lifecycle_v2", None)
    assert reg.add(b, None) == []
    assert (b.state, b.sid) == ("active", 8)


# -- remove ---------------------------------------------------------------------------------


def test_remove_one_of_two_handles_deletes_only_markets_it_alone_needed():
    """Removing one of two handles sends delete_markets for its markets no one else needs."""
    reg = connected_registry()
    a = subscribed(reg, "ticker", (T1, T2), sid=3)
    b = make(reg, "ticker", (T2, T3))
    add = one(reg.add(b, None))
    reg.on_reply(Ok(type="ok", id=add["id"], sid=3))
    w = _Waiter("unsubscribe")
    cmd = one(reg.remove(b, w))
    assert cmd["cmd"] == "update_subscription"
    assert cmd["params"] == {"sid": 3, "action": "delete_markets", "market_tickers": [T3]}
    assert b.state == "closed"
    assert routed(reg) == {3: (a,)}
    assert reg.handles() == [a]
    assert not w.event.is_set()
    assert reg.on_reply(Ok(type="ok", id=cmd["id"], sid=3)) == []
    assert w.wait(0, "unsubscribe") is None
    assert a.state == "active"


def test_remove_last_handle_unsubscribes_and_reply_drops_channel():
    """Removing the last handle sends unsubscribe; the unsubscribed reply drops the channel."""
    reg = connected_registry()
    h = subscribed(reg, "ticker", (T1,), sid=4)
    w = _Waiter("unsubscribe")
    cmd = one(reg.remove(h, w))
    assert cmd["cmd"] == "unsubscribe"
    assert cmd["params"] == {"sids": [4]}
    assert h.state == "closed"
    assert not w.event.is_set()
    reply = decode({"id": cmd["id"], "sid": 4, "seq": 2, "type": "unsubscribed"})
    assert isinstance(reply, Unsubscribed)
    assert reg.on_reply(reply) == []
    assert 4 not in routed(reg)
    assert reg.handles() == []
    assert w.wait(0, "unsubscribe") is None
    # The channel is gone: a new handle, even with other params, starts a fresh subscribe.
    again = one(reg.add(make(reg, "ticker", (T2,), {"send_initial_snapshot": True}), None))
    assert again["cmd"] == "subscribe"
    assert again["params"]["send_initial_snapshot"] is True


def test_remove_is_idempotent():
    """Removing an already closed handle sends nothing and releases the waiter at once."""
    reg = connected_registry()
    h = subscribed(reg, "ticker", (T1,), sid=4)
    reg.remove(h, None)
    w = _Waiter("unsubscribe")
    assert reg.remove(h, w) == []
    assert w.event.is_set()


def test_unsubscribe_error_7_counts_as_done():
    """Error 7 (unknown sid) to an unsubscribe drops the channel like an unsubscribed reply."""
    reg = connected_registry()
    h = subscribed(reg, "ticker", (T1,), sid=4)
    w = _Waiter("unsubscribe")
    cmd = one(reg.remove(h, w))
    err = decode({"id": cmd["id"], "type": "error", "msg": {"code": 7, "msg": "unknown sid"}})
    assert reg.on_reply(err) == []
    assert routed(reg) == {}
    assert w.wait(0, "unsubscribe") is None


# -- error replies --------------------------------------------------------------------------


def test_subscribe_error_fails_pending_handles_and_their_waiters():
    """An error reply to a subscribe fails every pending handle with SubscriptionError."""
    reg = Registry()
    a = make(reg, "ticker", (T1,))
    b = make(reg, "ticker", (T2,))
    wa, wb = _Waiter("subscribe"), _Waiter("subscribe")
    reg.add(a, wa)
    reg.add(b, wb)
    cmd = one(reg.connected(1))
    assert cmd["params"]["market_tickers"] == [T1, T2]
    err = decode({"id": cmd["id"], "type": "error", "msg": {"code": 8, "msg": "Unknown channel"}})
    assert reg.on_reply(err) == []
    for h, w in ((a, wa), (b, wb)):
        assert h.state == "failed"
        assert isinstance(h.error, SubscriptionError)
        assert (h.error.code, h.error.message) == (8, "Unknown channel")
        assert h.error.command_id == cmd["id"]
        with pytest.raises(SubscriptionError) as info:
            w.wait(0, "subscribe")
        assert info.value is h.error
    assert reg.handles() == []
    assert routed(reg) == {}


def test_add_markets_error_reverts_markets_and_fails_only_that_waiter():
    """An error to add_markets reverts that handle's markets and fails only its waiter."""
    reg = connected_registry()
    a = subscribed(reg, "ticker", (T1,), sid=3)
    b = make(reg, "ticker", (T3,))
    reg.on_reply(Ok(type="ok", id=one(reg.add(b, None))["id"], sid=3))
    wa, wb = _Waiter("add"), _Waiter("add")
    cmd = one(reg.change_markets(a, [T2], (), wa))
    assert cmd["params"] == {"sid": 3, "action": "add_markets", "market_tickers": [T2]}
    assert a.market_tickers == (T1, T2)
    # A second change while the first is in flight waits its turn.
    assert reg.change_markets(b, [T4], (), wb) == []
    err = ServerError(type="error", id=cmd["id"], code=26, message="market limit")
    nxt = one(reg.on_reply(err))
    # mypy keeps the (T1, T2) narrowed above across on_reply(); the markets moved on.
    assert a.market_tickers == (T1,)  # type: ignore[comparison-overlap]
    with pytest.raises(SubscriptionError) as info:
        wa.wait(0, "update_subscription")
    assert (info.value.code, info.value.message) == (26, "market limit")
    assert a.state == "active"
    assert not wb.event.is_set()
    assert b.market_tickers == (T3, T4)
    assert nxt["params"] == {"sid": 3, "action": "add_markets", "market_tickers": [T4]}
    reg.on_reply(Ok(type="ok", id=nxt["id"], sid=3))
    assert wb.wait(0, "update_subscription") is None


def test_refused_add_markets_for_a_new_handle_fails_it_instead_of_retrying():
    """An error to the add_markets of a second subscribe() fails that handle; no retry loop."""
    reg = connected_registry()
    a = subscribed(reg, "ticker", (T1,), sid=3)
    b = make(reg, "ticker", (T2,))
    w = _Waiter("subscribe")
    cmd = one(reg.add(b, w))
    assert cmd["params"]["action"] == "add_markets"
    err = ServerError(type="error", id=cmd["id"], code=26, message="market limit")
    out = reg.on_reply(err)
    # Defect: the registry answers the refusal by sending the same add_markets again,
    # forever, and the handle and its subscribe waiter never learn of the error.
    assert parse(out) == []
    assert b.state == "failed"
    assert isinstance(b.error, SubscriptionError) and b.error.code == 26
    assert w.event.is_set() and w.error is b.error
    assert reg.handles() == [a]


def test_delete_markets_error_stops_asking():
    """An error to delete_markets is final: no retry of the same delete."""
    reg = connected_registry()
    a = subscribed(reg, "ticker", (T1, T2), sid=3)
    w = _Waiter("add")
    cmd = one(reg.change_markets(a, (), [T2], w))
    assert cmd["params"] == {"sid": 3, "action": "delete_markets", "market_tickers": [T2]}
    err = ServerError(type="error", id=cmd["id"], code=11, message="bad")
    assert reg.on_reply(err) == []
    assert w.event.is_set()
    assert a.market_tickers == (T1,)


# -- ok replies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "where",
    ["top_level", "under_msg"],
)
def test_ok_market_tickers_top_level_or_under_msg_set_server_markets(where):
    """The market list of an ok (top level or under msg) becomes the server's view."""
    reg = connected_registry()
    a = subscribed(reg, "ticker", (T1,), sid=3)
    cmd = one(reg.change_markets(a, [T2], (), _Waiter("add")))
    tickers = [T1, T2, T4]  # the server also reports a market nobody wants
    frame: dict[str, Any] = {"id": cmd["id"], "sid": 3, "type": "ok"}
    if where == "top_level":
        frame["market_tickers"] = tickers
    else:
        frame["msg"] = {"market_tickers": tickers}
    msg = decode(frame)
    assert msg.market_tickers == tuple(tickers)
    nxt = one(reg.on_reply(msg))
    assert nxt["params"] == {"sid": 3, "action": "delete_markets", "market_tickers": [T4]}


def test_ok_without_market_tickers_applies_the_change_itself():
    """An ok with no market list counts the added markets as on the server: nothing more."""
    reg = connected_registry()
    a = subscribed(reg, "ticker", (T1,), sid=3)
    w = _Waiter("add")
    cmd = one(reg.change_markets(a, [T2], (), w))
    assert reg.on_reply(decode({"id": cmd["id"], "sid": 3, "type": "ok"})) == []
    assert w.wait(0, "update_subscription") is None
    # The server now has T1 and T2: removing T1 deletes exactly T1.
    nxt = one(reg.change_markets(a, (), [T1], _Waiter("add")))
    assert nxt["params"]["market_tickers"] == [T1]


def test_ok_to_subscribe_merged_by_server_activates_handle():
    """An ok (merged subscribe) with a sid is accepted as the subscribe's ack."""
    reg = connected_registry()
    h = make(reg, "ticker", (T1,))
    cmd = one(reg.add(h, None))
    assert reg.on_reply(Ok(type="ok", id=cmd["id"], sid=6, market_tickers=(T1,))) == []
    assert (h.state, h.sid) == ("active", 6)
    assert routed(reg) == {6: (h,)}


# -- reconnects, generations, timeouts ------------------------------------------------------


def test_reconnect_resubscribes_union_with_new_sid():
    """After disconnected()/connected(2) each channel is subscribed again with its union."""
    reg = connected_registry()
    a = subscribed(reg, "ticker", (T1,), sid=1)
    b = make(reg, "ticker", (T2,))
    reg.on_reply(Ok(type="ok", id=one(reg.add(b, None))["id"], sid=1))
    c = subscribed(reg, "orderbook_delta", (T3,), sid=2, params={"use_yes_price": False})
    reg.change_markets(a, [T4], (), _Waiter("add"))  # in flight when the line drops

    reg.disconnected()
    assert routed(reg) == {}
    assert yes_price(reg) == {}
    for h in (a, b, c):
        assert (h.state, h.sid) == ("pending", None)

    out = reg.connected(2)
    assert [gen for _t, gen in out] == [2, 2]
    cmds = {c_["params"]["channels"][0]: c_ for c_ in parse(out)}
    assert cmds["ticker"]["cmd"] == "subscribe"
    assert cmds["ticker"]["params"]["market_tickers"] == [T1, T2, T4]
    assert cmds["orderbook_delta"]["params"] == {
        "channels": ["orderbook_delta"],
        "market_tickers": [T3],
        "use_yes_price": False,
    }
    reg.on_reply(Subscribed(type="subscribed", id=cmds["ticker"]["id"], sid=11, channel="ticker"))
    assert routed(reg) == {11: (a, b)}
    assert 1 not in routed(reg)
    assert (a.state, a.sid, b.state, b.sid) == ("active", 11, "active", 11)
    assert c.state == "pending"


def test_commands_carry_the_generation_they_were_built_for():
    """Outgoing commands name the connection generation that was live when built."""
    reg = connected_registry()
    h = make(reg, "ticker", (T1,))
    out1 = reg.add(h, None)
    assert out1[0][1] == 1
    reg.disconnected()
    out2 = reg.connected(2)
    assert [gen for _t, gen in out2] == [2]
    # A reply to the generation-1 command is stale after the reconnect: ignored.
    assert reg.on_reply(Subscribed(type="subscribed", id=one(out1)["id"], sid=1)) == []
    assert h.state == "pending"
    reg.on_reply(Subscribed(type="subscribed", id=one(out2)["id"], sid=2))
    assert (h.state, h.sid) == ("active", 2)


def test_expire_resends_command_without_reply_after_timeout():
    """expire(now) resends (with a new id) a command unanswered for COMMAND_TIMEOUT."""
    reg = connected_registry()
    h = make(reg, "ticker", (T2, T1))
    first = one(reg.add(h, None))
    assert reg.expire(time.monotonic()) == []
    out = reg.expire(time.monotonic() + COMMAND_TIMEOUT + 1)
    again = one(out)
    assert out[0][1] == 1
    assert again["cmd"] == first["cmd"] == "subscribe"
    assert again["params"] == first["params"]
    assert again["id"] != first["id"]
    # Nothing left to resend once the new command is answered.
    reg.on_reply(Subscribed(type="subscribed", id=again["id"], sid=5))
    assert h.state == "active"
    assert reg.expire(time.monotonic() + 3 * COMMAND_TIMEOUT) == []


def test_disconnected_fails_request_waiters_and_keeps_handles():
    """disconnected() fails request waiters with KalshiConnectionError; handles stay."""
    reg = connected_registry()
    h = subscribed(reg, "ticker", (T1,), sid=1)
    w = _Waiter("request")
    reg.request(protocol.encode_list_subscriptions, w)
    reg.disconnected()
    with pytest.raises(KalshiConnectionError):
        w.wait(0, "list_subscriptions")
    assert reg.handles() == [h]


# -- terminal errors, snapshots -------------------------------------------------------------


@pytest.mark.parametrize("code", [10, 25])
def test_terminal_error_with_sid_unsubscribes_then_subscribes(code):
    """A terminal error frame on a live sid leads to unsubscribe, then a fresh subscribe."""
    reg = connected_registry()
    h = subscribed(reg, "orderbook_delta", (T2, T1), sid=3, params={"use_yes_price": False})
    err = decode({"type": "error", "sid": 3, "msg": {"code": code, "msg": "dropped"}})
    unsub = one(error_frame(reg, Recovery(NoBooks()), err))
    assert unsub["cmd"] == "unsubscribe"
    assert unsub["params"] == {"sids": [3]}
    assert reg.resubscribing(3)
    assert routed(reg) == {3: (h,)}  # still routed until the unsubscribe is answered
    sub = one(reg.on_reply(Unsubscribed(type="unsubscribed", id=unsub["id"], sid=3)))
    assert sub["cmd"] == "subscribe"
    assert sub["params"] == {
        "channels": ["orderbook_delta"],
        "market_tickers": [T1, T2],
        "use_yes_price": False,
    }
    assert 3 not in routed(reg)
    assert reg.on_reply(Subscribed(type="subscribed", id=sub["id"], sid=4)) == []
    assert routed(reg) == {4: (h,)}
    assert (h.state, h.sid) == ("active", 4)
    assert not reg.resubscribing(4)


def test_error_18_on_a_sid_changes_nothing():
    """Error 18 (command timeout) on a sid is not terminal: nothing sent, nothing changed."""
    reg = connected_registry()
    h = subscribed(reg, "orderbook_delta", (T1,), sid=3)
    err = decode({"type": "error", "sid": 3, "msg": {"code": 18, "msg": "timeout"}})
    assert error_frame(reg, Recovery(NoBooks()), err) == []
    assert not reg.resubscribing(3)
    assert routed(reg) == {3: (h,)}
    assert (h.state, h.sid) == ("active", 3)


def test_resync_sends_get_snapshot_for_the_sid():
    """resync(sid, tickers) sends update_subscription get_snapshot with the sorted tickers."""
    reg = connected_registry()
    subscribed(reg, "orderbook_delta", (T1, T2, T3), sid=3)
    out = resync(reg, 3, [T3, T1])
    cmd = one(out)
    assert out[0][1] == 1
    assert cmd["cmd"] == "update_subscription"
    assert cmd["params"] == {"sid": 3, "action": "get_snapshot", "market_tickers": [T1, T3]}
    assert reg.get_snapshot(99, [T1]) == ([], None)


def test_get_snapshot_does_not_block_channel_commands():
    """A get_snapshot in flight does not hold back an add_markets on the same channel."""
    reg = connected_registry()
    h = subscribed(reg, "orderbook_delta", (T1,), sid=3)
    one(resync(reg, 3, [T1]))
    cmd = one(reg.change_markets(h, [T2], (), _Waiter("add")))
    assert cmd["params"]["action"] == "add_markets"


@pytest.mark.parametrize("err_sid", [None, 3])
def test_get_snapshot_error_falls_back_to_resubscribe(err_sid):
    """An error reply to get_snapshot (with or without sid) unsubscribes to resubscribe."""
    reg = connected_registry()
    subscribed(reg, "orderbook_delta", (T1,), sid=3)
    rec = Recovery(NoBooks({3: [T1]}))
    snap = one(carry_out(reg, rec, rec.on_gap(3, "orderbook_delta", 2, 5, now=0.0)))
    assert snap["params"]["action"] == "get_snapshot"
    err = ServerError(type="error", id=snap["id"], sid=err_sid, code=11, message="bad")
    cmd = one(error_frame(reg, rec, err))
    assert cmd == {"id": cmd["id"], "cmd": "unsubscribe", "params": {"sids": [3]}}
    assert reg.resubscribing(3)


def test_snapshot_uses_handle_markets_or_given_tickers():
    """snapshot(sub, None) asks for the handle's markets; explicit tickers override."""
    reg = connected_registry()
    a = subscribed(reg, "orderbook_delta", (T2, T1), sid=3)
    mine = one(reg.snapshot(a, None))
    assert mine["params"] == {"sid": 3, "action": "get_snapshot", "market_tickers": [T1, T2]}
    given = one(reg.snapshot(a, [T2]))
    assert given["params"]["market_tickers"] == [T2]
    assert given["id"] != mine["id"]


def test_snapshot_sends_nothing_without_a_live_orderbook_sid():
    """snapshot() is a no-op while pending, while disconnected, and on other channels."""
    reg = connected_registry()
    pending = make(reg, "orderbook_delta", (T1,))
    reg.add(pending, None)
    assert reg.snapshot(pending, None) == []
    t = subscribed(reg, "ticker", (T1,), sid=7)
    assert reg.snapshot(t, None) == []
    assert resync(reg, 7, [T1]) == []
    reg.disconnected()
    assert reg.snapshot(pending, [T1]) == []


def test_force_resubscribe_unsubscribes_the_sid():
    """force_resubscribe(sid) unsubscribes that sid; an unknown sid sends nothing."""
    reg = connected_registry()
    subscribed(reg, "orderbook_delta", (T1,), sid=3)
    assert reg.force_resubscribe(99) == []
    cmd = one(reg.force_resubscribe(3))
    assert (cmd["cmd"], cmd["params"]) == ("unsubscribe", {"sids": [3]})
    assert reg.resubscribing(3)


# -- requests, close ------------------------------------------------------------------------


def test_request_routes_its_reply_to_its_waiter():
    """request() sends list_subscriptions; its ok reply goes to the waiter, not a channel."""
    reg = connected_registry()
    h = subscribed(reg, "ticker", (T1,), sid=3)
    w = _Waiter("request")
    out = reg.request(protocol.encode_list_subscriptions, w)
    cmd = one(out)
    assert out[0][1] == 1
    assert cmd == {"id": cmd["id"], "cmd": "list_subscriptions"}
    reply = decode({"id": cmd["id"], "type": "ok", "msg": [{"channel": "ticker", "sid": 3}]})
    assert reg.on_reply(reply) == []
    result = w.wait(0, "list_subscriptions")
    assert result is reply
    assert [(s.channel, s.sid) for s in result.subscriptions] == [("ticker", 3)]
    assert (h.state, routed(reg)) == ("active", {3: (h,)})


def test_request_error_reply_fails_its_waiter():
    """An error reply to a request fails the waiter with SubscriptionError."""
    reg = connected_registry()
    w = _Waiter("request")
    cmd = one(reg.request(protocol.encode_list_subscriptions, w))
    reg.on_reply(ServerError(type="error", id=cmd["id"], code=5, message="Unknown command"))
    with pytest.raises(SubscriptionError) as info:
        w.wait(0, "list_subscriptions")
    assert (info.value.code, info.value.command_id) == (5, cmd["id"])


def test_request_while_disconnected_raises_connection_error():
    """request() without a live connection raises KalshiConnectionError at once."""
    reg = Registry()
    with pytest.raises(KalshiConnectionError):
        reg.request(protocol.encode_list_subscriptions, _Waiter("request"))


def test_close_all_fails_waiters_and_later_operations_raise():
    """close_all() fails every waiter with ClientClosedError; user operations then raise."""
    reg = connected_registry()
    a = subscribed(reg, "ticker", (T1,), sid=3)
    b = make(reg, "trade", (T2,))
    wb = _Waiter("subscribe")
    reg.add(b, wb)
    wa = _Waiter("add")
    reg.change_markets(a, [T3], (), wa)
    wr = _Waiter("request")
    reg.request(protocol.encode_list_subscriptions, wr)

    reg.close_all()
    for w in (wa, wb, wr):
        with pytest.raises(ClientClosedError):
            w.wait(0, "anything")
    assert (a.state, b.state) == ("closed", "closed")
    assert reg.handles() == []
    assert routed(reg) == {}
    assert reg.generation is None

    with pytest.raises(ClientClosedError):
        reg.add(make(reg, "ticker", (T1,)), None)
    with pytest.raises(ClientClosedError):
        reg.change_markets(a, [T4], (), _Waiter("add"))
    with pytest.raises(ClientClosedError):
        reg.request(protocol.encode_list_subscriptions, _Waiter("request"))
    assert reg.remove(a, None) == []


def test_change_markets_on_failed_handle_raises_client_closed():
    """change_markets() on a failed handle raises ClientClosedError."""
    reg = connected_registry()
    h = make(reg, "ticker", (T1,))
    cmd = one(reg.add(h, None))
    reg.on_reply(ServerError(type="error", id=cmd["id"], code=8, message="x"))
    with pytest.raises(ClientClosedError, match="failed"):
        reg.change_markets(h, [T2], (), _Waiter("add"))


def test_resubscribe_after_unsubscribe_while_disconnected_accepts_new_params():
    """Unsubscribing the only handle offline, then subscribing with new params, works."""
    reg = connected_registry()
    a = subscribed(reg, "orderbook_delta", (T1,), sid=3, params={"use_yes_price": False})
    reg.disconnected()
    assert reg.remove(a, None) == []
    b = make(reg, "orderbook_delta", (T1,), {"use_yes_price": True})
    # Defect: the emptied channel lingers with the old params until the next connect,
    # so this raises ValueError although no handle uses the channel any more.
    assert reg.add(b, None) == []
    cmd = one(reg.connected(2))
    assert cmd["params"]["use_yes_price"] is True


# -- Subscription handle --------------------------------------------------------------------


def test_handle_wait_returns_when_active_and_raises_when_failed_or_closed():
    """wait() returns the active handle, raises its SubscriptionError or ClientClosedError."""
    reg = connected_registry()
    ok = subscribed(reg, "ticker", (T1,), sid=3)
    assert ok.wait(0) is ok
    bad = make(reg, "trade", (T1,))
    cmd = one(reg.add(bad, None))
    reg.on_reply(ServerError(type="error", id=cmd["id"], code=8, message="nope"))
    with pytest.raises(SubscriptionError) as info:
        bad.wait(0)
    assert info.value is bad.error
    reg.remove(ok, None)
    with pytest.raises(ClientClosedError):
        ok.wait(0)


def test_handle_callback_only_for_its_markets():
    """Delivered through the published routing snapshot, a handle's callback gets the
    messages of its markets (or all, without a filter); once closed, nothing."""
    reg = connected_registry()
    got: list[tuple[str, Any]] = []
    delivery = Delivery(Router(), mode="inline", routing=reg)

    def send(msg: Any) -> None:
        route = reg.routing.routes.get(msg.sid)
        delivery.put(msg, route.targets if route is not None else ())

    subscribed(reg, "ticker", (T1,), sid=3, callback=lambda m: got.append(("h", m)))
    h = reg.handles()[0]
    mine = decode({"type": "trade", "sid": 3, "seq": 1, "msg": _trade(T1)})
    other = decode({"type": "trade", "sid": 3, "seq": 2, "msg": _trade(T2)})
    send(mine)
    send(other)
    assert got == [("h", mine)]
    subscribed(reg, "market_lifecycle_v2", None, sid=4, callback=lambda m: got.append(("all", m)))
    everywhere = decode({"type": "trade", "sid": 4, "seq": 3, "msg": _trade(T2)})
    send(everywhere)
    assert got[-1] == ("all", everywhere)
    targets = reg.routing.routes[3].targets  # as queued before the unsubscribe
    reg.remove(h, None)
    got.clear()
    delivery.put(mine, targets)
    assert got == []


def _trade(ticker: str) -> dict[str, Any]:
    return {
        "trade_id": "t-1",
        "market_ticker": ticker,
        "yes_price_dollars": "0.40",
        "no_price_dollars": "0.60",
        "count_fp": "1.00",
        "taker_side": "yes",
        "ts": 1700000000,
    }


def test_handle_methods_delegate_to_client_after_validating_tickers():
    """Handle methods pass tuples of tickers to the client; a bare string is a TypeError."""
    reg = connected_registry()
    h = make(reg, "orderbook_delta", (T1,))
    client = h._owner
    assert isinstance(client, StubClient)
    h.add_markets([T2], timeout=1.5)
    h.remove_markets(iter([T1]))
    h.request_snapshot()
    h.request_snapshot([T2])
    h.unsubscribe(timeout=2.0)
    assert client.calls == [
        ("change", h, (T2,), (), 1.5),
        ("change", h, (), (T1,), 10.0),
        ("snapshot", h, None),
        ("snapshot", h, (T2,)),
        ("unsubscribe", h, 2.0),
    ]
    with pytest.raises(TypeError, match="single string"):
        h.add_markets(T2)
    with pytest.raises(TypeError, match="non-empty strings"):
        h.remove_markets([""])
    assert len(client.calls) == 5
