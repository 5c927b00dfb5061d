"""The protocol brain of one fake connection: commands in, frames out (sans-I/O).

A :class:`Session` owns the subscriptions of one WebSocket connection: sids, per-sid seq
counters, ticker lists and armed faults. Every method returns the frames (plain dicts) to
put on the wire, in order; it never touches a socket, starts a thread or takes a lock.
:class:`~kalshi_sync.testing.FakeKalshiServer` calls it under its state lock and writes
the frames itself, which is what keeps seq order equal to wire order.

Error replies and the conditions that trigger them (docs/protocol.md, "Commands and replies"
and "Error codes"):

====  ===========================================================================
code  when
====  ===========================================================================
1     text that is not JSON, JSON that is not an object, a binary frame, or a
      field of the wrong type (``params`` not an object, ``channels``/``sids`` not
      a list, ...)
2     ``params`` missing on subscribe / unsubscribe / update_subscription
3     subscribe without ``channels`` (or an empty list)
4     unsubscribe without ``sids`` (or an empty list)
5     unknown or missing ``cmd``
7     a sid this connection does not have (one error per unknown sid)
8     any unknown channel name (the whole subscribe is rejected)
11    both ``market_ticker`` and ``market_tickers``, or tickers of the wrong type
12    update_subscription without exactly one of ``sid`` (int) / ``sids`` ([int])
13    an action the subscription's channel does not support, or an unknown action
14    orderbook_delta subscribe without tickers; add/delete_markets without
      tickers; get_snapshot without a non-empty ``market_tickers`` list
15    update_subscription without ``action``
====  ===========================================================================
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ._books import BookStore, delta_msg
from ._wire import (
    KNOWN_CHANNELS,
    MARKET_CHANNELS,
    SEQUENCED_CHANNELS,
    Frame,
    error_frame,
    is_sequenced_type,
)

__all__ = ["Fault", "Session", "Subscription"]


@dataclass
class Fault:
    """A pending wire fault: ``kind`` is "skip", "duplicate" or "reorder"."""

    kind: str
    n: int = 1
    channel: str | None = None

    def matches(self, channel: str) -> bool:
        """None targets every sequenced channel; a name targets that channel only."""
        return channel in SEQUENCED_CHANNELS if self.channel is None else channel == self.channel


@dataclass
class Subscription:
    """One sid on one connection."""

    sid: int
    channel: str
    tickers: dict[str, None]  # an ordered set: insertion order is the ack order
    params: dict[str, Any]
    seq: int = 0
    skip: int = 0  # extra seq numbers to jump on the next sequenced frame
    duplicate: int = 0  # how many of the next sequenced frames to send twice
    reorder: bool = False  # hold the next sequenced frame back until the one after it
    held: Frame | None = field(default=None, repr=False)

    @property
    def use_yes_price(self) -> bool:
        return self.params.get("use_yes_price") is True

    @property
    def skip_ticker_ack(self) -> bool:
        return self.params.get("skip_ticker_ack") is True

    def covers(self, ticker: str | None) -> bool:
        """No ticker list means "all markets" (optional-filter channels)."""
        return ticker is None or not self.tickers or ticker in self.tickers

    def arm(self, fault: Fault) -> None:
        if fault.kind == "skip":
            self.skip += fault.n
        elif fault.kind == "duplicate":
            self.duplicate += fault.n
        else:
            self.reorder = True


def _command_id(cmd: dict[str, Any]) -> int | None:
    """The id to echo; 0 means "no id" on Kalshi, and junk ids are simply not echoed."""
    cid = cmd.get("id")
    if isinstance(cid, int) and not isinstance(cid, bool) and cid > 0:
        return cid
    return None


class _CommandError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _parse_tickers(params: dict[str, Any]) -> list[str]:
    """``market_ticker`` / ``market_tickers`` as a de-duplicated list (maybe empty)."""
    one, many = params.get("market_ticker"), params.get("market_tickers")
    if one is not None and many is not None:
        raise _CommandError(11)
    if one is not None:
        if not isinstance(one, str) or not one:
            raise _CommandError(11)
        return [one]
    if many is None:
        return []
    if not isinstance(many, list) or not all(isinstance(t, str) and t for t in many):
        raise _CommandError(11)
    return list(dict.fromkeys(many))


def _params(cmd: dict[str, Any]) -> dict[str, Any]:
    params = cmd.get("params")
    if params is None:
        raise _CommandError(2)
    if not isinstance(params, dict):
        raise _CommandError(1)
    return params


class Session:
    """Subscriptions of one connection. Not thread-safe: the server serialises calls."""

    def __init__(
        self, books: BookStore, *, control_consumes_seq: bool, pending_faults: list[Fault]
    ) -> None:
        self._books = books
        self._control_consumes_seq = control_consumes_seq
        # Shared with the server: faults armed before any matching subscription existed;
        # the first matching subscription created on any connection claims each one.
        self._pending_faults = pending_faults
        self._subs: dict[int, Subscription] = {}
        self._next_sid = 1

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subs.values())

    # ---- commands -------------------------------------------------------------------

    def handle_command(self, cmd: dict[str, Any] | None) -> list[Frame]:
        """Frames answering one decoded command (None = undecodable -> error 1, no id)."""
        if cmd is None:
            return [error_frame(1)]
        cid = _command_id(cmd)
        name = cmd.get("cmd")
        handler = {
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "update_subscription": self._update,
            "list_subscriptions": self._list,
        }.get(name if isinstance(name, str) else "")
        if handler is None:
            return [error_frame(5, cid=cid)]
        try:
            return handler(cmd, cid)
        except _CommandError as exc:
            return [error_frame(exc.code, cid=cid)]

    def _subscribe(self, cmd: dict[str, Any], cid: int | None) -> list[Frame]:
        params = _params(cmd)
        channels = params.get("channels")
        if channels is None or channels == []:
            raise _CommandError(3)
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise _CommandError(1)
        if any(c not in KNOWN_CHANNELS for c in channels):
            raise _CommandError(8)
        tickers = _parse_tickers(params)
        if "orderbook_delta" in channels and not tickers:
            raise _CommandError(14)
        frames: list[Frame] = []
        for channel in dict.fromkeys(channels):
            existing = next((s for s in self._subs.values() if s.channel == channel), None)
            if existing is not None:
                # Idempotent subscribe (Kalshi, Oct 2025): merge tickers, answer ok.
                frames += self._add_markets(existing, tickers, cid)
            else:
                frames += self._create(channel, tickers, params, cid)
        return frames

    def _create(
        self, channel: str, tickers: list[str], params: dict[str, Any], cid: int | None
    ) -> list[Frame]:
        sid = self._next_sid
        self._next_sid += 1
        # Non-market channels ignore filters on Kalshi; keep their list empty ("all").
        kept = tickers if channel in MARKET_CHANNELS else []
        sub = Subscription(sid, channel, dict.fromkeys(kept), copy.deepcopy(params))
        self._subs[sid] = sub
        for fault in [f for f in self._pending_faults if f.matches(channel)]:
            self._pending_faults.remove(fault)
            sub.arm(fault)
        frame: Frame = {"type": "subscribed", "msg": {"channel": channel, "sid": sid}}
        frames = [{"id": cid, **frame} if cid is not None else frame]
        if channel == "orderbook_delta":
            for ticker in kept:
                frames += self._snapshot(sub, ticker, None)
        return frames

    def _add_markets(self, sub: Subscription, tickers: list[str], cid: int | None) -> list[Frame]:
        added: list[str] = []
        # An unfiltered subscription (ticker, trade, ... without markets) already covers
        # every market: adding would silently narrow it, so it is a no-op instead.
        if sub.channel in MARKET_CHANNELS and (sub.tickers or sub.channel == "orderbook_delta"):
            added = [t for t in tickers if t not in sub.tickers]
            sub.tickers.update(dict.fromkeys(added))
        frames = [self._ok(sub, cid)]
        if sub.channel == "orderbook_delta":
            for ticker in added:
                frames += self._snapshot(sub, ticker, None)
        return frames

    def _unsubscribe(self, cmd: dict[str, Any], cid: int | None) -> list[Frame]:
        params = _params(cmd)
        sids = params.get("sids")
        if sids is None or sids == []:
            raise _CommandError(4)
        if not isinstance(sids, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in sids
        ):
            raise _CommandError(1)
        frames: list[Frame] = []
        for sid in sids:
            sub = self._subs.pop(sid, None)
            if sub is None:
                frames.append(error_frame(7, cid=cid, sid=sid))
                continue
            frame: Frame = {"sid": sid, "seq": self._control_seq(sub), "type": "unsubscribed"}
            frames.append({"id": cid, **frame} if cid is not None else frame)
        return frames

    def _update(self, cmd: dict[str, Any], cid: int | None) -> list[Frame]:
        params = _params(cmd)
        has_sid, has_sids = "sid" in params, "sids" in params
        if has_sid == has_sids:
            raise _CommandError(12)
        raw = params["sid"] if has_sid else params["sids"]
        if has_sids:
            if not isinstance(raw, list) or len(raw) != 1:
                raise _CommandError(12)
            raw = raw[0]
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise _CommandError(12)
        action = params.get("action")
        if action is None:
            raise _CommandError(15)
        sub = self._subs.get(raw)
        if sub is None:
            return [error_frame(7, cid=cid, sid=raw)]
        if action in ("add_markets", "delete_markets"):
            if sub.channel not in MARKET_CHANNELS:
                raise _CommandError(13)
            tickers = _parse_tickers(params)
            if not tickers:
                raise _CommandError(14)
            if action == "add_markets":
                return self._add_markets(sub, tickers, cid)
            for ticker in tickers:
                sub.tickers.pop(ticker, None)
            return [self._ok(sub, cid)]
        if action == "get_snapshot":
            if sub.channel != "orderbook_delta":
                raise _CommandError(13)
            wanted = params.get("market_tickers")
            if not isinstance(wanted, list) or not wanted:
                raise _CommandError(14)
            if not all(isinstance(t, str) and t for t in wanted):
                raise _CommandError(11)
            frames = []
            for ticker in dict.fromkeys(wanted):
                frames += self._snapshot(sub, ticker, cid)
            return frames
        raise _CommandError(13)

    def _list(self, cmd: dict[str, Any], cid: int | None) -> list[Frame]:
        listing = [{"channel": s.channel, "sid": s.sid} for s in self._subs.values()]
        frame: Frame = {"type": "ok", "msg": listing}
        return [{"id": cid, **frame} if cid is not None else frame]

    # ---- frame builders -------------------------------------------------------------

    def _control_seq(self, sub: Subscription) -> int:
        """seq on ok/unsubscribed: the next number, or the current one (see §13 item 4)."""
        if self._control_consumes_seq:
            sub.seq += 1
        return sub.seq

    def _ok(self, sub: Subscription, cid: int | None) -> Frame:
        msg: dict[str, Any] = {}
        if not sub.skip_ticker_ack:
            msg["market_tickers"] = list(sub.tickers)
        frame: Frame = {"sid": sub.sid, "seq": self._control_seq(sub), "type": "ok", "msg": msg}
        return {"id": cid, **frame} if cid is not None else frame

    def _snapshot(self, sub: Subscription, ticker: str, cid: int | None) -> list[Frame]:
        msg = self._books.snapshot_msg(ticker, use_yes_price=sub.use_yes_price)
        frame: Frame = {"type": "orderbook_snapshot", "sid": sub.sid, "msg": msg}
        return self.sequenced(sub, {"id": cid, **frame} if cid is not None else frame)

    def sequenced(self, sub: Subscription, frame: Frame) -> list[Frame]:
        """Stamp the next seq on ``frame`` and apply any armed fault; returns wire frames."""
        sub.seq += 1 + sub.skip
        sub.skip = 0
        # Key order only matters to humans reading captures: id, type, sid, seq, msg.
        stamped: Frame = {k: frame[k] for k in ("id", "type", "sid") if k in frame}
        stamped["seq"] = sub.seq
        stamped.update((k, v) for k, v in frame.items() if k not in stamped)
        out = [stamped]
        if sub.duplicate > 0:
            sub.duplicate -= 1
            out.append(stamped)
        if sub.held is not None:
            out.append(sub.held)  # the reordered frame goes out after its successor
            sub.held = None
        elif sub.reorder:
            sub.reorder = False
            sub.held = out.pop(0)
        return out

    def delta_frames(
        self,
        ticker: str,
        side: str,
        price: Decimal,
        delta: Decimal,
        *,
        ts_ms: int,
        client_order_id: str | None,
    ) -> list[Frame]:
        """``orderbook_delta`` frames for every subscription that lists ``ticker``."""
        frames: list[Frame] = []
        for sub in self._subs.values():
            if sub.channel == "orderbook_delta" and ticker in sub.tickers:
                msg = delta_msg(
                    ticker,
                    side,
                    price,
                    delta,
                    use_yes_price=sub.use_yes_price,
                    ts_ms=ts_ms,
                    client_order_id=client_order_id,
                )
                frame: Frame = {"type": "orderbook_delta", "sid": sub.sid, "msg": msg}
                frames += self.sequenced(sub, frame)
        return frames

    def publish_frames(
        self, channel: str, msg_type: str, msg: dict[str, Any], market_ticker: str | None
    ) -> list[Frame]:
        """One frame per subscription on ``channel`` (filtered by market when given)."""
        frames: list[Frame] = []
        for sub in self._subs.values():
            if sub.channel != channel or not sub.covers(market_ticker):
                continue
            # Each frame gets its own copy: a held (reordered) frame must not see later
            # mutations of the caller's dict.
            frame: Frame = {"type": msg_type, "sid": sub.sid, "msg": copy.deepcopy(msg)}
            if is_sequenced_type(msg_type):
                frames += self.sequenced(sub, frame)
            else:
                frames.append(frame)
        return frames

    def arm(self, fault: Fault) -> int:
        """Arm ``fault`` on every matching subscription; returns how many matched."""
        matched = [s for s in self._subs.values() if fault.matches(s.channel)]
        for sub in matched:
            sub.arm(fault)
        return len(matched)
