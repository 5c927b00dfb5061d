"""Fill recovery bookkeeping: what was delivered, what to read back, what is new.

Kalshi's ``fill`` channel has no ``seq`` and no replay: a fill executed while the connection
was down is never sent again (docs/protocol.md, 'Private channels'). :class:`FillLedger`
remembers the fills the client delivered and, after a reconnect, says which
``GET /portfolio/fills`` query covers the blind window (:meth:`FillLedger.begin_recovery`) and
which of the fills read back are missing (:meth:`FillLedger.finish_recovery`), so every fill
reaches the user exactly once across any number of reconnects (docs/architecture.md, 'Fills
and orders across reconnects'). Plain state: no I/O, no threads, no clock of its own (``now``
is passed in, Unix seconds). One writer -- in the client, the pipeline that delivers fills.

**Identity.** ``trade_id`` identifies a fill: the same ``trade_id`` from the WebSocket or
from REST (which parses ``fill_id`` into it) is the same fill. A fill without a
``trade_id`` cannot be recognised for sure and is never dropped by a guess: a live one is
always delivered, even if it repeats one delivered before. ``(order_id, ts in seconds,
count)`` is compared in one place only: a recovery's REST result against the fills delivered
before that recovery began, because REST returns a copy of each of them. A REST fill with a
new ``trade_id`` whose three fields equal those of a fill delivered without one is that
fill's copy; a REST row with no id at all is the copy of a delivered fill with the same
three. Counted as a multiset -- each delivered fill stands for at most one REST row per
recovery -- so two real fills of the same order in the same second with the same count are
both kept. A fill missing any of the three is never matched. Where the rules cannot decide,
the fill is delivered: at least once, never lost.

**Time.** A fill's time is ``ts_ms``, or ``ts`` (seconds) x 1000; when both are present the
earlier one is used, because the two can disagree by up to a second (``ts`` truncated) or
more (clock skew) and an earlier start only re-reads fills that are then deduplicated.
REST's ``min_ts`` is whole seconds, rounded down for the same reason.

**Bounded memory.** A delivered fill is remembered while its time is at or after the
*horizon*: the newest delivered time minus the margin minus one second of ts/ts_ms slack, or
the start of a pending (unfinished) recovery if that is earlier. Recovery reads only fills
from ``min_ts`` on, and ``min_ts`` is never earlier than the horizon, so a fill older than it
can never come back from REST: forgetting it is safe. Besides, the ``keep`` newest fills are
kept whatever their time (insurance against a skewed timestamp), and never more than
``max_ids`` in all: past that (a burst of more than ``max_ids`` fills inside one margin) the
oldest are forgotten and counted in ``evicted``, and a later recovery may deliver such a fill
again -- at least once, never lost.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import attrs

from ._account_snapshots import AccountFilter
from .models import Fill

__all__ = [
    "DEFAULT_MARGIN",
    "AccountFilter",
    "FillLedger",
    "FillQuery",
    "fill_time_ms",
]

DEFAULT_MARGIN = 10.0
"""Seconds re-read before the newest delivered fill: covers fills the exchange timestamped
earlier than one already delivered (shards deliver independently) and ts/ts_ms skew."""

_SLACK_MS = 1000  # ``ts`` is whole seconds: a REST fill may read up to 1 s earlier than ts_ms
_MAX_TICKERS = 100  # GET /portfolio/fills takes at most 100 comma-separated tickers


@attrs.frozen(kw_only=True)
class FillQuery:
    """One fill recovery: read fills from ``min_ts`` (Unix seconds) with :meth:`params`, hand
    the pages to :meth:`FillLedger.on_recovered_page` and end with
    :meth:`FillLedger.finish_recovery`, all with this ``generation``."""

    generation: int
    min_ts: int
    filter: AccountFilter
    started_at: float

    def params(self) -> dict[str, Any]:
        """Keyword arguments for ``RestClient.get_fills``: from ``min_ts`` to now, the
        subscription's scope (more than 100 markets: all, filtered locally), and
        ``/historical/fills`` when the range crosses the historical cutoff."""
        tickers = self.filter.market_tickers
        return {
            "min_ts": self.min_ts,
            "ticker": sorted(tickers) if tickers and len(tickers) <= _MAX_TICKERS else None,
            "subaccount": self.filter.subaccount,
            "include_historical": True,
        }


def fill_time_ms(fill: Fill) -> int | None:
    """The fill's time in Unix ms: the earlier of ``ts_ms`` and ``ts`` x 1000 (see the module
    docstring), None when it has neither."""
    ts, ts_ms = fill.ts, fill.ts_ms
    if ts is None:
        return ts_ms
    return ts * 1000 if ts_ms is None else min(ts_ms, ts * 1000)


_Key = tuple[str, int, Decimal]


def _secondary_key(fill: Fill) -> _Key | None:
    """(order_id, ts in seconds, count), or None when any is missing (never matched)."""
    seconds = fill.ts if fill.ts is not None else None if fill.ts_ms is None else fill.ts_ms // 1000
    if fill.order_id is None or seconds is None or fill.count is None:
        return None
    return (fill.order_id, seconds, fill.count)


class _Entry:
    """One delivered fill, as far as deduplication needs it."""

    __slots__ = ("claimed", "key", "since", "trade_id")

    def __init__(self, trade_id: str | None, key: _Key | None, since: int) -> None:
        self.trade_id = trade_id
        self.key = key
        # The last recovery generation begun when this fill was delivered: only recoveries
        # begun later are sure to read its REST copy, so only they may match it by key.
        self.since = since
        # The recovery generation that last matched this entry (by id or key): a delivered
        # fill stands for at most one REST row per recovery.
        self.claimed: int | None = None


class FillLedger:
    """Delivered fills and fill recovery (see the module docstring for the rules).

    ``margin``: seconds re-read before the newest delivered fill. ``keep``: newest fills
    always remembered; ``max_ids``: the most ever remembered. Counters: ``recovered`` (fills
    :meth:`finish_recovery` returned), ``deduplicated`` (live or recovered fills dropped as
    already delivered), ``filtered`` (recovered fills outside the subscription),
    ``unidentified`` (fills delivered without a ``trade_id``), ``suspects`` (recovered fills
    delivered although a delivered fill had the same order, second and count under another
    ``trade_id``: harmless unless Kalshi's WebSocket and REST ids ever differ),
    ``superseded`` (recoveries replaced by a newer one before they finished), ``evicted``.
    """

    def __init__(
        self, *, margin: float = DEFAULT_MARGIN, keep: int = 1_000, max_ids: int = 100_000
    ) -> None:
        if margin < 0 or keep < 0 or max_ids < max(keep, 1):
            raise ValueError("need margin >= 0, keep >= 0 and max_ids >= max(keep, 1)")
        self.margin_ms = int(margin * 1000)
        self.keep = keep
        self.max_ids = max_ids
        self.newest_ms: int | None = None
        self.newest_trade_id: str | None = None
        self.origin_ms: int | None = None
        self.recovered = self.deduplicated = self.filtered = self.unidentified = 0
        self.suspects = self.superseded = self.evicted = 0
        self._ids: dict[str, _Entry] = {}
        self._keys: dict[_Key, list[_Entry]] = {}
        self._heap: list[tuple[int, int, _Entry]] = []  # (time_ms, tiebreak, entry)
        self._tiebreak = itertools.count()
        self._generation = 0
        self._active: FillQuery | None = None
        self._pages: list[Fill] = []
        self._floor_ms: int | None = None  # start of the oldest recovery not yet finished

    # -- live fills -------------------------------------------------------------------------

    def on_subscribed(self, now: float) -> None:
        """The ``fill`` channel is subscribed: fills from ``now`` on are the client's to
        deliver. Only the first call counts; it is where recovery starts while no fill has
        been delivered yet."""
        if self.origin_ms is None:
            self.origin_ms = int(now * 1000)

    def on_live(self, fill: Fill) -> bool:
        """Record a fill received live. True: deliver it; False: a duplicate (counted)."""
        trade_id = fill.trade_id
        if trade_id is None:
            self.unidentified += 1  # delivered: never dropped by a guess
        elif trade_id in self._ids:
            self.deduplicated += 1
            return False
        self._remember(fill, live=True)
        return True

    # -- recovery ---------------------------------------------------------------------------

    @property
    def recovering(self) -> bool:
        """True while a recovery is between :meth:`begin_recovery` and its end."""
        return self._active is not None

    def begin_recovery(
        self,
        now: float,
        *,
        scope: AccountFilter | None = None,
        blind_since: float | None = None,
        recover_since: float | None = None,
    ) -> FillQuery | None:
        """Start a recovery (superseding one in flight) and say what to read, or None when
        there is nothing to recover from (no fill delivered, not subscribed, no
        ``recover_since``). ``scope``: the fill subscription's markets and subaccount.

        ``min_ts`` is the earliest of: the newest delivered fill's time and ``blind_since``
        (when the connection went blind, Unix seconds, if known), minus the margin; or the
        first subscription's time when nothing was delivered; ``recover_since`` (at start);
        and the start of a recovery that never finished -- so a reconnect during recovery
        loses nothing: the newer recovery covers the older one's range and the older one's
        results are dropped. (If the local clock runs more than the margin behind the
        exchange's, ``blind_since`` reaches back past what the ledger remembers: fills may
        then be delivered twice, never lost.)
        """
        starts: list[int] = []
        reference = self.newest_ms if self.newest_ms is not None else self.origin_ms
        if blind_since is not None:
            blind_ms = int(blind_since * 1000)
            reference = blind_ms if reference is None else min(reference, blind_ms)
        if reference is not None:
            starts.append(reference - self.margin_ms)
        if recover_since is not None:
            starts.append(int(recover_since * 1000))
        if self._floor_ms is not None:
            starts.append(self._floor_ms)
        if not starts:
            return None
        if self._active is not None:
            self.superseded += 1
        self._floor_ms = min(starts)
        self._generation += 1
        self._pages = []
        self._active = FillQuery(
            generation=self._generation,
            min_ts=self._floor_ms // 1000,  # floor division: rounds down, never later
            filter=scope or AccountFilter(),
            started_at=now,
        )
        return self._active

    def on_recovered_page(self, generation: int, fills: Iterable[Fill]) -> bool:
        """Buffer one page of REST fills. False (nothing kept) when ``generation`` is not the
        current recovery (a newer one superseded it)."""
        if self._active is None or generation != self._active.generation:
            return False
        self._pages.extend(fills)
        return True

    def abandon_recovery(self, generation: int) -> None:
        """The REST read failed: drop its pages. The range stays pending, so the next
        :meth:`begin_recovery` (the retry) starts at least as early."""
        if self._active is not None and generation == self._active.generation:
            self._active = None
            self._pages = []

    def finish_recovery(self, generation: int) -> list[Fill] | None:
        """End the recovery: the fills to deliver, oldest first, each with ``recovered=True``;
        None when ``generation`` was superseded (its pages are dropped; the newer recovery
        covers its range). Fills of the same millisecond come in the reverse of the order
        REST sent them (REST lists newest first); fills without a time come last.

        A fill is left out when it was delivered already (live, or by an earlier recovery),
        when it repeats within the pages, or when the subscription's filter excludes it.
        """
        query = self._active
        if query is None or generation != query.generation:
            return None
        pages, self._pages, self._active, self._floor_ms = self._pages, [], None, None
        fresh = self._select(pages, query)
        fresh.sort(key=lambda item: (item[0] is None, item[0] or 0, -item[1]))
        out: list[Fill] = []
        for _time, _index, fill in fresh:
            self._remember(fill, live=False)
            out.append(attrs.evolve(fill, recovered=True))
        self.recovered += len(out)
        self._prune()
        return out

    def _select(self, pages: list[Fill], query: FillQuery) -> list[tuple[int | None, int, Fill]]:
        """The new fills of a recovery as (time, page position, fill). Identified fills are
        matched first, so a fill without an id never claims a delivered fill whose own REST
        copy is in the same pages."""
        generation = query.generation
        pending: list[tuple[int, Fill]] = []
        for index, fill in enumerate(pages):
            if not query.filter.admits(fill.market_ticker, fill.subaccount):
                self.filtered += 1
            elif fill.trade_id is not None and fill.trade_id in self._ids:
                self._ids[fill.trade_id].claimed = generation
                self.deduplicated += 1
            else:
                pending.append((index, fill))
        fresh: list[tuple[int | None, int, Fill]] = []
        batch_ids: set[str] = set()
        anonymous: list[tuple[int, Fill]] = []
        for index, fill in pending:
            trade_id = fill.trade_id
            if trade_id is None:
                anonymous.append((index, fill))
                continue
            if trade_id in batch_ids or trade_id in self._ids:  # the same fill on two pages
                self.deduplicated += 1
                continue
            key = _secondary_key(fill)
            entry = self._claim(key, generation, anonymous_only=True)
            if entry is not None:  # the REST copy of a fill delivered without its trade_id
                entry.trade_id = trade_id
                self._ids[trade_id] = entry
                self.deduplicated += 1
                continue
            if key is not None and self._keys.get(key):
                self.suspects += 1
            batch_ids.add(trade_id)
            fresh.append((fill_time_ms(fill), index, fill))
        for index, fill in anonymous:
            # No id from REST either: the copy of a delivered fill with the same key, if one
            # is left unclaimed by this recovery; else a fill of its own.
            if self._claim(_secondary_key(fill), generation, anonymous_only=False) is not None:
                self.deduplicated += 1
                continue
            self.unidentified += 1
            fresh.append((fill_time_ms(fill), index, fill))
        return fresh

    # -- memory -----------------------------------------------------------------------------

    def _claim(self, key: _Key | None, generation: int, anonymous_only: bool) -> _Entry | None:
        """The first fill with ``key`` delivered before recovery ``generation`` began and not
        yet claimed by it (with ``anonymous_only``: one delivered without a trade_id), now
        marked as claimed; None if there is none."""
        if key is None:
            return None
        for entry in self._keys.get(key, ()):
            if (
                entry.since < generation
                and entry.claimed != generation
                and not (anonymous_only and entry.trade_id is not None)
            ):
                entry.claimed = generation
                return entry
        return None

    def _remember(self, fill: Fill, *, live: bool) -> None:
        time_ms = fill_time_ms(fill)
        if time_ms is not None and (self.newest_ms is None or time_ms > self.newest_ms):
            self.newest_ms, self.newest_trade_id = time_ms, fill.trade_id
        if time_ms is None:
            # No time: treat it as about the newest, the best guess for a fill just seen.
            time_ms = self.newest_ms if self.newest_ms is not None else self.origin_ms or 0
        entry = _Entry(fill.trade_id, _secondary_key(fill), self._generation)
        if entry.trade_id is not None:
            self._ids[entry.trade_id] = entry
        if entry.key is not None:
            self._keys.setdefault(entry.key, []).append(entry)
        heapq.heappush(self._heap, (time_ms, next(self._tiebreak), entry))
        if live:
            self._prune()

    def horizon_ms(self) -> int | None:
        """Fills older than this (Unix ms) are no longer needed (see the module docstring)."""
        if self.newest_ms is None:
            return None
        horizon = self.newest_ms - self.margin_ms - _SLACK_MS
        if self._floor_ms is not None:
            horizon = min(horizon, self._floor_ms - _SLACK_MS)
        return horizon

    def __len__(self) -> int:
        """How many delivered fills are remembered."""
        return len(self._heap)

    def _prune(self) -> None:
        horizon = self.horizon_ms()
        heap = self._heap
        while heap:
            size = len(heap)
            time_ms = heap[0][0]
            if size > self.max_ids:
                self.evicted += 1
            elif not (horizon is not None and time_ms < horizon and size > self.keep):
                return
            self._forget(heapq.heappop(heap)[2])

    def _forget(self, entry: _Entry) -> None:
        if entry.trade_id is not None and self._ids.get(entry.trade_id) is entry:
            del self._ids[entry.trade_id]
        if entry.key is not None:
            same = self._keys[entry.key]
            same.remove(entry)
            if not same:
                del self._keys[entry.key]

    def __repr__(self) -> str:
        return (
            f"FillLedger(remembered={len(self)}, newest_ms={self.newest_ms}, "
            f"recovering={self.recovering}, recovered={self.recovered}, "
            f"deduplicated={self.deduplicated})"
        )
