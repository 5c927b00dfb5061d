"""Unit tests for kalshi_sync.dispatch: Router and Delivery as plain objects, plain calls.

"inline" and "poll" modes run on the test's own thread; "thread" mode is driven with
start()/flush()/stop() and bounded waits on Events -- no sleeps anywhere.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest

from kalshi_sync._routing import Routing, Target
from kalshi_sync.dispatch import DELIVERY_MODES, Delivery, DeliveryMode, Router, in_callback
from kalshi_sync.events import (
    CallbackErrorEvent,
    ConnectedEvent,
    DisconnectedEvent,
    OverflowEvent,
    ResyncedEvent,
)

WAIT = 5.0  # upper bound for every wait on another thread


@attrs.frozen
class Msg:
    """Stand-in for a wire message: anything with a ``.type`` will do."""

    type: str
    market_ticker: str = ""
    n: int = 0


def tag(log: list[Any], name: str) -> Callable[[Any], None]:
    """A callback appending (name, message) to ``log``."""

    def cb(msg: Any) -> None:
        log.append((name, msg))

    return cb


def boom(msg: Any) -> None:
    raise ValueError(f"boom on {msg!r}")


@pytest.fixture
def deliveries() -> Iterator[list[Delivery]]:
    """Delivery objects appended here are stopped (and their threads joined) afterwards."""
    made: list[Delivery] = []
    yield made
    for d in made:
        assert d.stop(WAIT), "dispatch thread did not stop"


def make(deliveries: list[Delivery], router: Router, mode: DeliveryMode, **kwargs: Any) -> Delivery:
    d = Delivery(router, mode=mode, **kwargs)
    deliveries.append(d)
    d.start()
    return d


def settle(d: Delivery) -> None:
    """Deliver everything handed over so far, whatever the mode."""
    if d.mode == "poll":
        d.poll()
    elif d.mode == "thread":
        assert d.flush(WAIT), "flush timed out"


# -- Router -------------------------------------------------------------------------------


def test_router_on_keeps_registration_order_per_type() -> None:
    """on() appends per type; for_type returns that type's callbacks in registration order."""
    r = Router()
    a, b, c = tag([], "a"), tag([], "b"), tag([], "c")
    r.on("ticker", a)
    r.on("trade", c)
    r.on("ticker", b)
    assert r.for_type("ticker") == (a, b)
    assert r.for_type("trade") == (c,)


def test_router_for_type_unknown_is_empty_tuple() -> None:
    """for_type of a type nobody registered is an empty tuple (not None, no KeyError)."""
    assert Router().for_type("nothing") == ()


def test_router_off_removes_one_registration() -> None:
    """off() removes a single registration of fn and returns True; others stay in order."""
    r = Router()
    a, b = tag([], "a"), tag([], "b")
    r.on("ticker", a)
    r.on("ticker", b)
    r.on("ticker", a)
    assert r.off("ticker", a) is True
    assert r.for_type("ticker") == (b, a)
    assert r.off("ticker", a) is True
    assert r.for_type("ticker") == (b,)


def test_router_off_unregistered_returns_false() -> None:
    """off() of a callback not registered (or of an unknown type) returns False, changes nothing."""
    r = Router()
    a, b = tag([], "a"), tag([], "b")
    r.on("ticker", a)
    assert r.off("ticker", b) is False
    assert r.off("trade", a) is False
    assert r.for_type("ticker") == (a,)
    assert r.off("ticker", a) is True
    assert r.off("ticker", a) is False


@pytest.mark.parametrize("fn", [None, 42, "print"])
def test_router_on_rejects_non_callable(fn: Any) -> None:
    """on() with a non-callable raises TypeError and registers nothing."""
    r = Router()
    with pytest.raises(TypeError):
        r.on("ticker", fn)
    assert r.for_type("ticker") == ()


@pytest.mark.parametrize("msg_type", ["", None, 3, b"ticker"])
def test_router_on_rejects_empty_or_non_str_type(msg_type: Any) -> None:
    """on() with an empty or non-str message type raises TypeError."""
    with pytest.raises(TypeError):
        Router().on(msg_type, print)


def test_router_tables_are_copy_on_write() -> None:
    """A tuple returned by for_type is a snapshot: later on()/off() do not change it."""
    r = Router()
    a, b = tag([], "a"), tag([], "b")
    r.on("ticker", a)
    snapshot = r.for_type("ticker")
    r.on("ticker", b)
    r.off("ticker", a)
    assert snapshot == (a,)
    assert r.for_type("ticker") == (b,)


# -- construction ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["threads", "", "INLINE", None])
def test_invalid_mode_raises_value_error(mode: Any) -> None:
    """An unknown delivery mode is rejected with ValueError."""
    with pytest.raises(ValueError):
        Delivery(Router(), mode=mode)


@pytest.mark.parametrize("max_queue", [0, -1, 2.5, "3", None])
def test_invalid_max_queue_raises_value_error(max_queue: Any) -> None:
    """max_queue must be a positive int, else ValueError."""
    with pytest.raises(ValueError):
        Delivery(Router(), mode="poll", max_queue=max_queue)


def test_start_is_a_no_op_outside_thread_mode(deliveries: list[Delivery]) -> None:
    """start() creates the dispatch thread only in "thread" mode."""
    r = Router()
    assert make(deliveries, r, "inline").thread is None
    assert make(deliveries, r, "poll").thread is None
    t = make(deliveries, r, "thread").thread
    assert t is not None
    assert t.name == "kalshi-sync-dispatch"
    assert t.is_alive()


# -- ordering -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", DELIVERY_MODES)
def test_order_within_one_message(mode: DeliveryMode, deliveries: list[Delivery]) -> None:
    """Per message: handle callbacks (handle order), then type callbacks, then "*"."""
    log: list[Any] = []
    r = Router()
    r.on("*", tag(log, "star1"))
    r.on("ticker", tag(log, "type1"))
    r.on("trade", tag(log, "other-type"))
    r.on("*", tag(log, "star2"))
    r.on("ticker", tag(log, "type2"))
    d = make(deliveries, r, mode)
    msg = Msg("ticker", "MKT", 1)
    d.put(
        msg,
        (
            Target(1, None, tag(log, "h1")),
            Target(2, None, None),  # a handle without a callback is skipped
            Target(3, frozenset({"OTHER"}), tag(log, "not-mine")),  # another market's
            Target(4, frozenset({"MKT"}), tag(log, "h2")),
        ),
    )
    settle(d)
    assert [name for name, _ in log] == ["h1", "h2", "type1", "type2", "star1", "star2"]
    assert all(m is msg for _, m in log)
    assert d.delivered == 1


@pytest.mark.parametrize("mode", ["thread", "poll"])
def test_a_handle_closed_after_queueing_gets_nothing(
    mode: DeliveryMode, deliveries: list[Delivery]
) -> None:
    """A message queued for a handle is not passed to its callback once the routing
    snapshot no longer lists the handle as live (it was unsubscribed meanwhile)."""
    log: list[Any] = []

    class Source:
        routing = Routing(live=frozenset({1, 2}))

    d = Delivery(Router(), mode=mode, routing=Source())
    deliveries.append(d)
    msg = Msg("ticker", "MKT", 1)
    targets = (Target(1, None, tag(log, "kept")), Target(2, None, tag(log, "closed")))
    d.put(msg, targets)
    Source.routing = Routing(live=frozenset({1}))
    d.start()
    settle(d)
    assert [name for name, _ in log] == ["kept"]


@pytest.mark.parametrize("mode", DELIVERY_MODES)
def test_order_across_messages_is_arrival_order(
    mode: DeliveryMode, deliveries: list[Delivery]
) -> None:
    """Messages and events are delivered in the order they were handed over."""
    seen: list[Any] = []
    r = Router()
    r.on("*", seen.append)
    d = make(deliveries, r, mode)
    connected = ConnectedEvent(generation=1)
    msgs = [Msg("ticker", n=i) for i in range(5)]
    resynced = ResyncedEvent(market_ticker="MKT")
    d.put(msgs[0])
    d.put_event(connected)
    d.put(msgs[1])
    d.put(msgs[2])
    d.put_event(resynced)
    d.put(msgs[3])
    d.put(msgs[4])
    settle(d)
    assert seen == [msgs[0], connected, msgs[1], msgs[2], resynced, msgs[3], msgs[4]]
    assert d.delivered == 7


def test_inline_runs_on_callers_thread_before_put_returns(deliveries: list[Delivery]) -> None:
    """inline: put()/put_event() run the callbacks synchronously on the calling thread."""
    threads: list[int] = []
    r = Router()
    r.on("*", lambda m: threads.append(threading.get_ident()))
    d = make(deliveries, r, "inline")
    d.put(Msg("ticker"))
    assert threads == [threading.get_ident()]
    d.put_event(ConnectedEvent())
    assert threads == [threading.get_ident()] * 2
    assert d.depth == 0
    assert d.flush() is True


# -- poll mode ------------------------------------------------------------------------------


def test_poll_runs_callbacks_only_inside_poll(deliveries: list[Delivery]) -> None:
    """poll: put() only queues; poll() delivers on the calling thread and returns the count."""
    calls: list[tuple[Any, int, bool]] = []
    r = Router()
    r.on("*", lambda m: calls.append((m, threading.get_ident(), in_callback())))
    d = make(deliveries, r, "poll")
    a, b = Msg("ticker", n=1), Msg("ticker", n=2)
    d.put(a)
    d.put(b)
    assert calls == []
    assert d.depth == 2
    assert d.poll() == 2
    me = threading.get_ident()
    assert calls == [(a, me, True), (b, me, True)]
    assert d.depth == 0
    assert d.poll() == 0


def test_poll_respects_max_messages(deliveries: list[Delivery]) -> None:
    """poll(max_messages=k) delivers at most k messages, oldest first; the rest stay queued."""
    seen: list[Any] = []
    r = Router()
    r.on("ticker", seen.append)
    d = make(deliveries, r, "poll")
    msgs = [Msg("ticker", n=i) for i in range(5)]
    for m in msgs:
        d.put(m)
    assert d.poll(max_messages=2) == 2
    assert seen == msgs[:2]
    assert d.depth == 3
    assert d.poll(max_messages=1) == 1
    assert seen == msgs[:3]
    assert d.poll(max_messages=10) == 2
    assert seen == msgs


def test_poll_timeout_returns_zero_when_nothing_arrives(deliveries: list[Delivery]) -> None:
    """poll(timeout) with an empty queue waits about ``timeout`` then returns 0."""
    d = make(deliveries, Router(), "poll")
    t0 = time.monotonic()
    assert d.poll(timeout=0.05) == 0
    elapsed = time.monotonic() - t0
    assert 0.05 <= elapsed < 2.0


def test_poll_without_timeout_returns_at_once(deliveries: list[Delivery]) -> None:
    """poll() with the default timeout=0 does not wait on an empty queue."""
    d = make(deliveries, Router(), "poll")
    t0 = time.monotonic()
    assert d.poll() == 0
    assert time.monotonic() - t0 < 1.0


def test_poll_timeout_wakes_when_a_message_arrives(deliveries: list[Delivery]) -> None:
    """poll(timeout) returns as soon as another thread puts a message, not at the timeout."""
    seen: list[Any] = []
    r = Router()
    r.on("ticker", seen.append)
    d = make(deliveries, r, "poll")
    msg = Msg("ticker")
    producer = threading.Thread(target=d.put, args=(msg,), name="test-producer")
    t0 = time.monotonic()
    producer.start()
    try:
        n = d.poll(timeout=WAIT)
    finally:
        producer.join(WAIT)
    assert not producer.is_alive()
    assert n == 1
    assert seen == [msg]
    assert time.monotonic() - t0 < WAIT


@pytest.mark.parametrize("mode", ["thread", "inline"])
def test_poll_in_other_modes_raises_runtime_error(
    mode: DeliveryMode, deliveries: list[Delivery]
) -> None:
    """poll() is only for delivery="poll"; other modes raise RuntimeError."""
    d = make(deliveries, Router(), mode)
    with pytest.raises(RuntimeError):
        d.poll()


def test_flush_in_poll_mode_delivers_on_callers_thread(deliveries: list[Delivery]) -> None:
    """flush() in poll mode drains the whole queue on the calling thread and returns True."""
    threads: list[int] = []
    r = Router()
    r.on("*", lambda m: threads.append(threading.get_ident()))
    d = make(deliveries, r, "poll")
    for i in range(3):
        d.put(Msg("ticker", n=i))
    d.put_event(ConnectedEvent())
    assert d.flush() is True
    assert threads == [threading.get_ident()] * 4
    assert d.depth == 0


def test_nested_poll_from_a_callback_delivers_the_next_messages_in_order(
    deliveries: list[Delivery],
) -> None:
    """A callback calling poll() again (a GUI dialog's nested loop) does not deadlock: the
    nested call delivers the following messages, in order, on the same thread."""
    seen: list[tuple[str, int]] = []
    r = Router()
    d = make(deliveries, r, "poll")
    nested: list[int] = []

    def cb(msg: Any) -> None:
        seen.append(("cb", msg.n))
        if msg.n == 0:
            nested.append(d.poll())

    r.on("ticker", cb)
    for i in range(4):
        d.put(Msg("ticker", n=i))
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(d.poll()), daemon=True)
    worker.start()
    worker.join(WAIT)
    assert not worker.is_alive(), "nested poll() deadlocked"
    assert nested == [3]
    assert result == [1]
    assert seen == [("cb", 0), ("cb", 1), ("cb", 2), ("cb", 3)]


def test_poll_holds_no_lock_of_ours_while_a_callback_runs(deliveries: list[Delivery]) -> None:
    """While a callback runs inside poll(), flush() on the same thread and stats-style reads
    return, and a second polling thread waits its turn instead of running callbacks
    concurrently (one at a time, in order)."""
    r = Router()
    d = make(deliveries, r, "poll")
    order: list[int] = []
    inside = threading.Event()
    release = threading.Event()

    def cb(msg: Any) -> None:
        order.append(msg.n)
        if msg.n == 0:
            inside.set()
            assert release.wait(WAIT)
            assert d.flush() is True  # nested drain on the owner's thread

    r.on("ticker", cb)
    for i in range(3):
        d.put(Msg("ticker", n=i))
    first = threading.Thread(target=d.poll, daemon=True)
    first.start()
    assert inside.wait(WAIT)
    second_done = threading.Event()

    def poll_then_signal() -> None:
        d.poll()
        second_done.set()

    second = threading.Thread(target=poll_then_signal, daemon=True)
    second.start()
    assert not second_done.wait(0.05)  # waits for the owner, runs no callback meanwhile
    assert order == [0]
    release.set()
    first.join(WAIT)
    second.join(WAIT)
    assert not first.is_alive() and not second.is_alive()
    assert order == [0, 1, 2]


# -- overflow -------------------------------------------------------------------------------


def overflow_setup(deliveries: list[Delivery]) -> tuple[Delivery, list[Any]]:
    seen: list[Any] = []
    r = Router()
    r.on("*", seen.append)
    return make(deliveries, r, "poll", max_queue=3), seen


def test_overflow_drops_oldest_data_and_reports_once(deliveries: list[Delivery]) -> None:
    """max_queue=3, 10 puts: the 7 oldest are dropped and counted, one OverflowEvent first."""
    d, seen = overflow_setup(deliveries)
    msgs = [Msg("ticker", n=i) for i in range(10)]
    for m in msgs:
        d.put(m)
    assert d.dropped == 7
    assert d.overflows == 1
    assert d.depth == 4  # 3 data + the overflow event
    assert d.poll() == 4
    assert seen[1:] == msgs[7:]
    (ev,) = [m for m in seen if isinstance(m, OverflowEvent)]
    assert ev is seen[0]
    assert ev.type == "overflow"
    assert ev.max_queue == 3
    assert ev.dropped == 1  # a snapshot of the total when the episode began


def test_second_overflow_episode_reports_again(deliveries: list[Delivery]) -> None:
    """After the queue drained, a new overflow is a new episode with its own OverflowEvent."""
    d, seen = overflow_setup(deliveries)
    for i in range(5):
        d.put(Msg("ticker", n=i))
    d.poll()
    assert d.overflows == 1
    seen.clear()
    msgs = [Msg("ticker", n=i) for i in range(10, 15)]
    for m in msgs:
        d.put(m)
    assert d.dropped == 4
    assert d.overflows == 2
    d.poll()
    overflow_events = [m for m in seen if isinstance(m, OverflowEvent)]
    assert len(overflow_events) == 1
    assert overflow_events[0].dropped == 3  # total so far: 2 from episode one + the first new
    assert seen[1:] == msgs[2:]


def test_overflow_episode_lasts_until_queue_drained(deliveries: list[Delivery]) -> None:
    """A partial poll() does not end the episode: further drops add no OverflowEvent."""
    d, seen = overflow_setup(deliveries)
    for i in range(5):
        d.put(Msg("ticker", n=i))
    assert d.poll(max_messages=2) == 2  # the overflow event + one data message
    for i in range(5, 10):
        d.put(Msg("ticker", n=i))
    d.poll()
    assert d.overflows == 1
    assert sum(isinstance(m, OverflowEvent) for m in seen) == 1


def test_overflow_never_drops_events(deliveries: list[Delivery]) -> None:
    """Events queued with put_event survive any overflow; only data messages are dropped."""
    d, seen = overflow_setup(deliveries)
    connected = ConnectedEvent(generation=1)
    disconnected = DisconnectedEvent(generation=1, reason="bye")
    resynced = ResyncedEvent(market_ticker="MKT")
    msgs = [Msg("ticker", n=i) for i in range(10)]
    d.put_event(connected)
    d.put(msgs[0])
    d.put(msgs[1])
    d.put_event(disconnected)
    for m in msgs[2:6]:
        d.put(m)
    d.put_event(resynced)
    for m in msgs[6:]:
        d.put(m)
    d.poll()
    events = [m for m in seen if not isinstance(m, Msg)]
    data = [m for m in seen if isinstance(m, Msg)]
    assert connected in events
    assert disconnected in events
    assert resynced in events
    assert sum(isinstance(m, OverflowEvent) for m in events) == 1
    assert len(events) == 4
    assert data == msgs[-len(data) :]
    assert d.dropped == 10 - len(data)
    assert d.dropped > 0
    # Events keep their relative order.
    assert events.index(connected) < events.index(disconnected) < events.index(resynced)


def test_put_event_is_not_bounded_by_max_queue(deliveries: list[Delivery]) -> None:
    """put_event never drops: more events than max_queue are all delivered."""
    d, seen = overflow_setup(deliveries)
    events = [ConnectedEvent(generation=i) for i in range(6)]
    for ev in events:
        d.put_event(ev)
    assert d.dropped == 0
    assert d.poll() == 6
    assert seen == events


# -- callback errors ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", DELIVERY_MODES)
def test_raising_callback_yields_callback_error_event(
    mode: DeliveryMode, deliveries: list[Delivery]
) -> None:
    """A raising callback -> CallbackErrorEvent to the hook, "callback_error" and "*" handlers;
    delivery goes on with the next callbacks and messages."""
    log: list[Any] = []
    hooked: list[CallbackErrorEvent] = []
    r = Router()
    r.on("ticker", boom)
    r.on("ticker", tag(log, "after"))
    r.on("callback_error", tag(log, "error-handler"))
    r.on("*", tag(log, "star"))
    d = make(deliveries, r, mode, on_callback_error=hooked.append)
    first, second = Msg("ticker", n=1), Msg("ticker", n=2)
    d.put(first)
    d.put(second)
    settle(d)
    assert len(hooked) == 2
    ev = hooked[0]
    assert isinstance(ev, CallbackErrorEvent)
    assert ev.type == "callback_error"
    assert ev.callback is boom
    assert ev.message is first
    assert isinstance(ev.exception, ValueError)
    assert hooked[1].message is second
    names = [name for name, _ in log]
    per_message = ["error-handler", "star", "after", "star"]
    assert names == per_message * 2
    assert log[0][1] is ev  # the handlers get the very event the hook got
    assert log[1][1] is ev
    assert log[3][1] is first
    assert log[7][1] is second
    assert d.callback_errors == 2
    assert d.delivered == 2


@pytest.mark.parametrize("mode", DELIVERY_MODES)
def test_raising_callback_error_handler_does_not_recurse(
    mode: DeliveryMode, deliveries: list[Delivery]
) -> None:
    """A callback_error handler that raises is called once per error, never for its own."""
    handler_calls: list[Any] = []
    hooked: list[Any] = []
    seen: list[Any] = []

    def bad_handler(ev: Any) -> None:
        handler_calls.append(ev)
        raise RuntimeError("handler fails too")

    r = Router()
    r.on("ticker", boom)
    r.on("ticker", seen.append)
    r.on("callback_error", bad_handler)
    d = make(deliveries, r, mode, on_callback_error=hooked.append)
    msgs = [Msg("ticker", n=i) for i in range(2)]
    for m in msgs:
        d.put(m)
    settle(d)
    assert [ev.message for ev in handler_calls] == msgs
    assert [ev.message for ev in hooked] == msgs
    assert seen == msgs


def test_raising_hook_does_not_stop_delivery(deliveries: list[Delivery]) -> None:
    """An on_callback_error hook that raises is contained; handlers and later messages run."""
    log: list[Any] = []

    def bad_hook(ev: Any) -> None:
        log.append(("hook", ev))
        raise RuntimeError("hook fails")

    r = Router()
    r.on("ticker", boom)
    r.on("ticker", tag(log, "after"))
    r.on("callback_error", tag(log, "error-handler"))
    d = make(deliveries, r, "inline", on_callback_error=bad_hook)
    d.put(Msg("ticker", n=1))
    d.put(Msg("ticker", n=2))
    assert [name for name, _ in log] == ["hook", "error-handler", "after"] * 2


def test_callback_error_event_delivered_directly_to_raising_handler(
    deliveries: list[Delivery],
) -> None:
    """A CallbackErrorEvent put as an event whose handler raises produces no further event."""
    calls: list[Any] = []
    hooked: list[Any] = []

    def bad_handler(ev: Any) -> None:
        calls.append(ev)
        raise RuntimeError("no")

    r = Router()
    r.on("callback_error", bad_handler)
    d = make(deliveries, r, "poll", on_callback_error=hooked.append)
    ev = CallbackErrorEvent(callback=print, message=Msg("x"), exception=ValueError("x"))
    d.put_event(ev)
    assert d.poll() == 1
    assert calls == [ev]
    assert hooked == []
    assert d.callback_errors == 1


# -- in_callback ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", DELIVERY_MODES)
def test_in_callback_true_only_inside_callbacks(
    mode: DeliveryMode, deliveries: list[Delivery]
) -> None:
    """in_callback() is True in callbacks, error handlers and the hook; False around them."""
    flags: list[tuple[str, bool]] = []
    r = Router()
    r.on("ticker", lambda m: flags.append(("cb", in_callback())))
    r.on("ticker", boom)
    r.on("callback_error", lambda e: flags.append(("handler", in_callback())))
    d = make(deliveries, r, mode, on_callback_error=lambda e: flags.append(("hook", in_callback())))
    assert in_callback() is False
    d.put(Msg("ticker"))
    assert in_callback() is False
    settle(d)
    assert in_callback() is False
    assert flags == [("cb", True), ("hook", True), ("handler", True)]


def test_in_callback_resets_after_a_raising_callback(deliveries: list[Delivery]) -> None:
    """The depth counter is restored even when the callback raised."""
    r = Router()
    r.on("ticker", boom)
    d = make(deliveries, r, "inline")
    d.put(Msg("ticker"))
    d.put(Msg("ticker"))
    assert in_callback() is False


# -- thread mode ----------------------------------------------------------------------------


def test_thread_mode_delivers_on_dispatch_thread_and_flush_waits(
    deliveries: list[Delivery],
) -> None:
    """flush() returns True only once every earlier message ran on kalshi-sync-dispatch."""
    seen: list[tuple[Any, str]] = []
    r = Router()
    r.on("*", lambda m: seen.append((m, threading.current_thread().name)))
    d = make(deliveries, r, "thread")
    msgs = [Msg("ticker", n=i) for i in range(50)]
    for m in msgs:
        d.put(m)
    assert d.flush(WAIT) is True
    assert [m for m, _ in seen] == msgs
    assert {name for _, name in seen} == {"kalshi-sync-dispatch"}
    assert d.delivered == 50  # the flush marker is not counted


def test_flush_times_out_while_a_callback_blocks(deliveries: list[Delivery]) -> None:
    """flush(timeout) returns False when earlier messages are still being delivered."""
    entered = threading.Event()
    release = threading.Event()
    seen: list[Any] = []

    def slow(m: Any) -> None:
        entered.set()
        release.wait(WAIT)
        seen.append(m)

    r = Router()
    r.on("ticker", slow)
    d = make(deliveries, r, "thread")
    d.put(Msg("ticker", n=1))
    assert entered.wait(WAIT)
    d.put(Msg("ticker", n=2))
    try:
        assert d.flush(0.05) is False
    finally:
        release.set()
    assert d.flush(WAIT) is True
    assert [m.n for m in seen] == [1, 2]


def test_flush_without_running_thread_reports_pending(deliveries: list[Delivery]) -> None:
    """flush() in thread mode before start(): True only if nothing is queued (no waiting)."""
    d = Delivery(Router(), mode="thread")
    deliveries.append(d)
    assert d.flush(WAIT) is True
    d.put(Msg("ticker"))
    assert d.flush(WAIT) is False


def test_stop_drains_by_default(deliveries: list[Delivery]) -> None:
    """stop() delivers what is queued, then ends and joins the dispatch thread."""
    seen: list[Any] = []
    r = Router()
    r.on("*", seen.append)
    d = make(deliveries, r, "thread")
    items: list[Any] = [Msg("ticker", n=i) for i in range(20)]
    for m in items:
        d.put(m)
    ev = DisconnectedEvent(will_reconnect=False)
    d.put_event(ev)
    assert d.stop(WAIT) is True
    assert d.thread is not None
    assert not d.thread.is_alive()
    assert seen == [*items, ev]


def test_stop_without_drain_keeps_only_events_in_queue(deliveries: list[Delivery]) -> None:
    """stop(drain=False) discards queued data but keeps queued events (thread not started)."""
    d = Delivery(Router(), mode="thread")
    deliveries.append(d)
    d.put(Msg("ticker", n=1))
    d.put_event(DisconnectedEvent())
    d.put(Msg("ticker", n=2))
    assert d.depth == 3
    assert d.stop(drain=False) is True
    assert d.depth == 1


def test_stop_without_drain_still_delivers_events(deliveries: list[Delivery]) -> None:
    """stop(drain=False) on a busy dispatch thread: queued data is skipped, events arrive."""
    entered = threading.Event()
    go = threading.Event()
    seen: list[Any] = []
    stop_result: list[bool] = []
    d: Delivery

    def first(m: Any) -> None:
        if m.n == 0:
            entered.set()
            assert go.wait(WAIT)
            # Called on the dispatch thread: stop() cannot join itself, it only filters
            # the queue and tells the thread to finish.
            stop_result.append(d.stop(drain=False))

    r = Router()
    r.on("ticker", first)
    r.on("*", seen.append)
    d = make(deliveries, r, "thread")
    d.put(Msg("ticker", n=0))
    assert entered.wait(WAIT)
    d.put(Msg("ticker", n=1))
    ev = DisconnectedEvent(reason="auth", will_reconnect=False)
    d.put_event(ev)
    d.put(Msg("ticker", n=2))
    go.set()
    assert d.thread is not None
    d.thread.join(WAIT)
    assert not d.thread.is_alive()
    assert stop_result == [True]
    assert seen == [Msg("ticker", n=0), ev]


def test_stop_without_drain_races_safely_with_busy_dispatch_thread(
    deliveries: list[Delivery],
) -> None:
    """stop(drain=False) from another thread while the dispatcher drains neither raises
    nor loses or repeats events (close() does exactly this)."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often so the race shows up every time
    try:
        for _ in range(5):
            seen: list[Any] = []
            r = Router()
            r.on("connected", seen.append)
            d = Delivery(r, mode="thread", max_queue=10**7)
            deliveries.append(d)
            events = []
            for i in range(20_000):
                d.put(Msg("ticker", n=i))
                if i % 100 == 0:
                    ev = ConnectedEvent(generation=i)
                    events.append(ev)
                    d.put_event(ev)
            d.start()
            try:
                stopped = d.stop(WAIT, drain=False)
            finally:
                d.stop(WAIT)  # make sure the thread ends even if the call above raised
            assert stopped is True
            assert seen == events
    finally:
        sys.setswitchinterval(old)


# -- held bell (the fast path rings the dispatch thread just before it waits) --------------


def asleep(d: Delivery) -> None:
    """Put an unstarted thread-mode Delivery in the state of a consumer blocked on its bell."""
    d._sleeping = True
    assert d._bell.locked()


def test_without_hold_a_put_rings_a_sleeping_consumer_at_once() -> None:
    """Default: a put() to a sleeping dispatch thread releases its bell immediately."""
    d = Delivery(Router(), mode="thread")
    asleep(d)
    d.put(Msg("ticker"))
    assert not d._bell.locked()
    assert not d._sleeping


def test_held_bell_rings_on_idle_not_on_put() -> None:
    """hold_bell(): puts leave the bell down until the producer calls idle(); one ring for
    all of them, and idle() with nothing held rings nothing."""
    d = Delivery(Router(), mode="thread")
    d.hold_bell()
    asleep(d)
    d.put(Msg("ticker", n=1))
    d.put(Msg("ticker", n=2))
    assert d._bell.locked()
    d.idle()
    assert not d._bell.locked()
    assert [item[0].n for item in d._queue] == [1, 2]
    d._bell.acquire()  # the consumer took the ring and sleeps again
    asleep(d)
    d.idle()
    assert d._bell.locked()


def test_held_bell_rings_after_hold_max_messages() -> None:
    """A long batch does not keep the consumer waiting: the HOLD_MAX-th put rings."""
    from kalshi_sync.dispatch import HOLD_MAX

    d = Delivery(Router(), mode="thread")
    d.hold_bell()
    asleep(d)
    for n in range(HOLD_MAX - 1):
        d.put(Msg("ticker", n=n))
    assert d._bell.locked()
    d.put(Msg("ticker", n=HOLD_MAX))
    assert not d._bell.locked()


def test_held_bell_never_holds_lifecycle_events() -> None:
    """put_event() rings at once even with the bell held: events are rare and urgent."""
    d = Delivery(Router(), mode="thread")
    d.hold_bell()
    asleep(d)
    d.put_event(ConnectedEvent(generation=1))
    assert not d._bell.locked()


def test_held_bell_delivers_through_a_real_dispatch_thread(deliveries: list[Delivery]) -> None:
    """End to end on the dispatch thread: messages put with the bell held are delivered
    once idle() rings, in order, off the producer's thread."""
    got: list[tuple[int, str]] = []
    done = threading.Event()

    def cb(msg: Any) -> None:
        got.append((msg.n, threading.current_thread().name))
        if msg.n == 3:
            done.set()

    r = Router()
    r.on("ticker", cb)
    d = make(deliveries, r, "thread")
    d.hold_bell()
    assert d.flush(WAIT)  # the dispatch thread is running and about to sleep
    for n in (1, 2, 3):
        d.put(Msg("ticker", n=n))
    d.idle()
    assert done.wait(WAIT)
    assert [n for n, _ in got] == [1, 2, 3]
    assert {name for _, name in got} == {"kalshi-sync-dispatch"}
