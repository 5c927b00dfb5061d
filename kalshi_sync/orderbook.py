"""Local order books: the immutable :class:`Orderbook` users read, the
:class:`MutableOrderbook` the network thread updates, and the per-market :class:`BookStore`.
Thread-safety: :class:`Orderbook` is immutable and safe to share between threads;
:class:`MutableOrderbook` is not thread-safe and belongs to one thread; :class:`BookStore`
has one writer (the network thread calls the mutating methods) and any number of readers
(``get()``, ``tickers()``, ``state()`` from any thread), serialised by one lock that is held
only to mutate or to copy and never while user code runs. Nothing here does I/O or starts a
thread. Prices are Decimal dollars and counts Decimal contracts (docs/protocol.md,
'Fixed-point values'); floats never enter.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs

from .models import OrderbookDelta, OrderbookSnapshot

__all__ = ["BOOK_STATES", "BookStore", "MutableOrderbook", "Orderbook", "UnappliableError"]

BOOK_STATES = frozenset({"live", "stale", "resyncing"})
"""``live``: in step with the stream. ``stale``: the stream broke (gap, disconnect); the
levels are the last known ones. ``resyncing``: a fresh snapshot has been requested."""


class UnappliableError(ValueError):
    """A book message that cannot be applied without guessing: a delta without its market,
    price, side or delta, or with a side other than "yes"/"no"; a snapshot without its
    market or with an unreadable side (``OrderbookSnapshot.applicable`` is False). The
    client delivers such a message and repairs the book from a fresh snapshot instead."""


_ZERO = Decimal(0)
_ONE = Decimal(1)
_SIDES = ("yes", "no")


class _OwnedLevels(dict[Decimal, Decimal]):
    """A dict this module created and handed over whole: nobody else holds a reference.

    The :class:`Orderbook` converter wraps it without a second copy, which keeps
    ``BookStore.get()`` to one copy per side. Any other mapping is copied first.
    """

    __slots__ = ()


def _freeze_levels(value: Mapping[Decimal, Decimal]) -> Mapping[Decimal, Decimal]:
    # A read-only proxy over a private dict: the caller's mapping can change later without
    # touching the book, and the book's mapping cannot be changed at all.
    if type(value) is _OwnedLevels:
        return MappingProxyType(value)
    return MappingProxyType(dict(value))


def _levels_from_pairs(pairs: Iterable[tuple[Decimal, Decimal]]) -> _OwnedLevels:
    # Last pair wins for a repeated price (a snapshot is a state, not a list of changes);
    # empty or negative levels are dropped because the book never holds them.
    levels = _OwnedLevels()
    for price, count in pairs:
        if count > _ZERO:
            levels[price] = count
        else:
            levels.pop(price, None)
    return levels


@attrs.frozen(kw_only=True, repr=False)
class Orderbook:
    """An immutable order book of one market, as returned by ``client.orderbook()`` and
    ``RestClient.get_orderbook()``.

    ``yes`` maps yes-bid prices (dollars) to resting contracts. ``no`` maps no-side bids: at
    no-leg prices by default, at yes-leg prices when ``use_yes_price`` is true
    (docs/protocol.md, 'Price conventions (use_yes_price)'). Both are read-only mappings;
    the best bid/ask properties account for the convention. ``seq``/``sid`` identify the
    last stream message applied (None for REST). The constructor stores the mappings as
    given (copied); use :meth:`from_levels` to build one from ``(price, count)`` pairs with
    empty levels dropped.
    """

    market_ticker: str
    yes: Mapping[Decimal, Decimal] = attrs.field(factory=dict, converter=_freeze_levels, hash=False)
    no: Mapping[Decimal, Decimal] = attrs.field(factory=dict, converter=_freeze_levels, hash=False)
    state: str = attrs.field(default="live", validator=attrs.validators.in_(BOOK_STATES))
    use_yes_price: bool = False
    seq: int | None = None
    sid: int | None = None

    @classmethod
    def from_levels(
        cls,
        market_ticker: str,
        yes: Iterable[tuple[Decimal, Decimal]] = (),
        no: Iterable[tuple[Decimal, Decimal]] = (),
        *,
        use_yes_price: bool = False,
        state: str = "live",
        seq: int | None = None,
        sid: int | None = None,
    ) -> Orderbook:
        """Build a book from ``(price, count)`` pairs in any order.

        Levels with a count <= 0 are dropped; when a price repeats, the last pair wins
        (pairs describe levels, they are not summed).
        """
        return cls(
            market_ticker=market_ticker,
            yes=_levels_from_pairs(yes),
            no=_levels_from_pairs(no),
            state=state,
            use_yes_price=use_yes_price,
            seq=seq,
            sid=sid,
        )

    # Bests are computed on first use and cached: readers that only look at ``yes`` pay
    # nothing, and the writer never sorts or scans (see MutableOrderbook.apply_delta).
    @functools.cached_property
    def _top_yes(self) -> Decimal | None:
        return max(self.yes) if self.yes else None

    @functools.cached_property
    def _top_no(self) -> Decimal | None:
        # The best no bid is the highest no-leg price, which on the yes scale
        # (use_yes_price) is the lowest price.
        if not self.no:
            return None
        return min(self.no) if self.use_yes_price else max(self.no)

    @property
    def best_yes_bid(self) -> Decimal | None:
        """Highest price someone pays for YES, or None when the yes side is empty."""
        return self._top_yes

    @property
    def best_no_ask(self) -> Decimal | None:
        """Cheapest NO you can buy (in no dollars): 1 - best yes bid."""
        top = self._top_yes
        return None if top is None else _ONE - top

    @property
    def best_no_bid(self) -> Decimal | None:
        """Highest price someone pays for NO, in no dollars, in either convention."""
        top = self._top_no
        if top is None:
            return None
        return _ONE - top if self.use_yes_price else top

    @property
    def best_yes_ask(self) -> Decimal | None:
        """Cheapest YES you can buy, in yes dollars: 1 - best no bid."""
        top = self._top_no
        if top is None:
            return None
        return top if self.use_yes_price else _ONE - top

    @property
    def spread(self) -> Decimal | None:
        """best_yes_ask - best_yes_bid, or None when either side is empty."""
        bid, ask = self.best_yes_bid, self.best_yes_ask
        if bid is None or ask is None:
            return None
        return ask - bid

    @functools.cached_property
    def yes_levels(self) -> tuple[tuple[Decimal, Decimal], ...]:
        """Yes bids as ``(price, count)``, best (highest) first."""
        return tuple(sorted(self.yes.items(), reverse=True))

    @functools.cached_property
    def no_levels(self) -> tuple[tuple[Decimal, Decimal], ...]:
        """No bids as ``(price, count)`` in the book's convention, best first (highest
        no-leg price, i.e. lowest price on the yes scale with ``use_yes_price``)."""
        return tuple(sorted(self.no.items(), reverse=not self.use_yes_price))

    def depth(self, side: str, levels: int | None = None) -> Decimal:
        """Total contracts in the best ``levels`` levels of ``side`` ("yes" or "no");
        all levels when ``levels`` is None."""
        if side == "yes":
            ladder = self.yes_levels
        elif side == "no":
            ladder = self.no_levels
        else:
            raise ValueError(f"side must be 'yes' or 'no', not {side!r}")
        if levels is not None:
            if levels < 0:
                raise ValueError(f"levels must be >= 0 or None, not {levels!r}")
            ladder = ladder[:levels]
        return sum((count for _, count in ladder), _ZERO)

    @property
    def is_live(self) -> bool:
        """True when the book is in step with the stream (state == "live")."""
        return self.state == "live"

    def __reduce__(self) -> tuple[Any, ...]:
        # A mappingproxy cannot be pickled; rebuild from plain dicts so books can be pickled,
        # deep-copied and sent to other processes.
        return (
            _restore_orderbook,
            (
                self.market_ticker,
                dict(self.yes),
                dict(self.no),
                self.state,
                self.use_yes_price,
                self.seq,
                self.sid,
            ),
        )

    def __repr__(self) -> str:
        # Levels are left out on purpose: a 100-level book would flood a log line.
        return (
            f"Orderbook({self.market_ticker!r}, state={self.state!r}, "
            f"yes_bid={_fmt(self.best_yes_bid)}, yes_ask={_fmt(self.best_yes_ask)}, "
            f"levels=yes:{len(self.yes)}/no:{len(self.no)}, seq={self.seq})"
        )


def _restore_orderbook(
    market_ticker: str,
    yes: dict[Decimal, Decimal],
    no: dict[Decimal, Decimal],
    state: str,
    use_yes_price: bool,
    seq: int | None,
    sid: int | None,
) -> Orderbook:
    return Orderbook(
        market_ticker=market_ticker,
        yes=yes,
        no=no,
        state=state,
        use_yes_price=use_yes_price,
        seq=seq,
        sid=sid,
    )


def _fmt(value: Decimal | None) -> str:
    return "None" if value is None else str(value)


class MutableOrderbook:
    """The working copy of one market's book, updated message by message.

    Not thread-safe: one thread owns it (in the client, the network thread under
    :class:`BookStore`'s lock). Readers get an immutable :meth:`freeze` copy. Levels are plain
    dicts keyed by Decimal price so a delta costs one lookup and one store; nothing is
    sorted here. Deltas are applied only while ``state == "live"``: while stale or
    resyncing the book waits for a snapshot. ``underflows`` counts deltas that would have
    taken a level below zero (a sign a message was missed); the level is removed.
    """

    __slots__ = (
        "_no",
        "_sides",
        "_yes",
        "market_ticker",
        "seq",
        "sid",
        "state",
        "underflows",
        "use_yes_price",
    )

    def __init__(self, market_ticker: str, *, use_yes_price: bool = False) -> None:
        self.market_ticker = market_ticker
        self.use_yes_price = use_yes_price
        self.state = "live"
        self.seq: int | None = None
        self.sid: int | None = None
        self.underflows = 0
        self._yes: dict[Decimal, Decimal] = {}
        self._no: dict[Decimal, Decimal] = {}
        # side name -> level dict: one lookup instead of an if/else chain per delta (a None
        # or unknown side is a KeyError).
        self._sides: dict[str | None, dict[Decimal, Decimal]] = {"yes": self._yes, "no": self._no}

    def apply_snapshot(self, msg: OrderbookSnapshot, *, use_yes_price: bool | None = None) -> None:
        """Replace both sides with the snapshot's levels (an absent side is empty) and go
        live. ``use_yes_price`` sets the convention the snapshot was sent in (None: keep).
        Raises :class:`UnappliableError`, changing nothing, for a snapshot that is not
        ``applicable``."""
        if msg.yes is None or msg.no is None:
            raise UnappliableError(
                f"snapshot for {msg.market_ticker!r} has a level without price or count "
                f"(missing: {', '.join(msg.missing) or '?'})"
            )
        if msg.market_ticker != self.market_ticker:
            raise ValueError(
                f"snapshot for {msg.market_ticker!r} applied to the book of {self.market_ticker!r}"
            )
        # Refill the existing dicts so self._sides stays valid.
        self._yes.clear()
        self._yes.update(_levels_from_pairs(msg.yes))
        self._no.clear()
        self._no.update(_levels_from_pairs(msg.no))
        if use_yes_price is not None:
            self.use_yes_price = use_yes_price
        self.state = "live"
        self.seq = msg.seq
        self.sid = msg.sid

    def apply_delta(self, msg: OrderbookDelta) -> bool:
        """Add ``msg.delta`` at ``msg.price`` on ``msg.side``; remove the level when it reaches
        <= 0. Returns False, changing nothing, when the book is not live. The caller routes
        by ticker (not re-checked here, this runs for every frame). Raises
        :class:`UnappliableError` (a ValueError), changing nothing, for a side other than
        "yes"/"no" or a missing price or delta."""
        if self.state != "live":
            return False
        try:
            levels = self._sides[msg.side]
        except KeyError:
            raise UnappliableError(
                f"order book side must be 'yes' or 'no', not {msg.side!r}"
            ) from None
        price = msg.price
        delta = msg.delta
        if price is None or delta is None:
            raise UnappliableError(f"delta without {'price' if price is None else 'delta'}")
        count = levels.get(price, _ZERO) + delta
        if count > _ZERO:
            levels[price] = count
        else:
            # Removing a missing level is a no-op (docs/protocol.md, 'Maintaining a book').
            if count < _ZERO:
                self.underflows += 1
            levels.pop(price, None)
        self.seq = msg.seq
        return True

    def mark_stale(self) -> None:
        """The stream broke: keep the last levels for display but stop applying deltas."""
        self.state = "stale"

    def mark_resyncing(self) -> None:
        """A fresh snapshot was requested; deltas stay ignored until it arrives."""
        self.state = "resyncing"

    def freeze(self) -> Orderbook:
        """An immutable copy of the current book."""
        return Orderbook(
            market_ticker=self.market_ticker,
            yes=_OwnedLevels(self._yes),
            no=_OwnedLevels(self._no),
            state=self.state,
            use_yes_price=self.use_yes_price,
            seq=self.seq,
            sid=self.sid,
        )

    def __repr__(self) -> str:
        return (
            f"MutableOrderbook({self.market_ticker!r}, state={self.state!r}, "
            f"levels=yes:{len(self._yes)}/no:{len(self._no)}, seq={self.seq})"
        )


class BookStore:
    """The books of every market the client follows, keyed by ticker.

    Thread-safety contract: exactly one writer thread (the network thread) calls
    ``apply_snapshot``, ``apply_delta``, ``mark_stale``, ``mark_resyncing`` and ``remove``;
    any thread may call ``get``, ``tickers``, ``state``, ``tickers_for_sid``, ``in`` and
    ``len``. Readers receive immutable copies, never the live book.
    """

    def __init__(self) -> None:
        # Guards _books and every MutableOrderbook in it (their levels and state). Held only
        # to mutate a book or copy one; no user code and no Orderbook construction under it.
        self._lock = threading.Lock()
        self._books: dict[str, MutableOrderbook] = {}

    def apply_snapshot(self, msg: OrderbookSnapshot, *, use_yes_price: bool = False) -> None:
        """Replace the market's book (creating it if new) and make it live; the book
        remembers ``msg.sid`` and the ``use_yes_price`` convention of its subscription.
        Raises :class:`UnappliableError`, changing nothing, for a snapshot that is not
        ``applicable``."""
        ticker = msg.market_ticker
        if ticker is None or msg.yes is None or msg.no is None:
            raise UnappliableError(
                f"snapshot for {ticker!r} cannot be applied (missing: {', '.join(msg.missing)})"
            )
        with self._lock:
            book = self._books.get(ticker)
            if book is None:
                book = self._books[ticker] = MutableOrderbook(ticker)
            book.apply_snapshot(msg, use_yes_price=use_yes_price)

    def apply_delta(self, msg: OrderbookDelta) -> bool:
        """Apply a delta. False (nothing changed) when the market is unknown, its book is not
        live, or the delta comes from another sid than the book's snapshot (a late frame
        of an old subscription must not touch a book rebuilt from a newer one). Raises
        :class:`UnappliableError`, changing nothing, for a delta without a market, or one
        without price, delta or a yes/no side that would have applied to a live book."""
        ticker = msg.market_ticker
        if ticker is None:
            raise UnappliableError("delta without market_ticker")
        with self._lock:
            book = self._books.get(ticker)
            if book is None or (msg.sid != book.sid and book.sid is not None):
                return False
            return book.apply_delta(msg)

    def mark_stale(self, tickers: Iterable[str] | None = None) -> None:
        """Mark the given markets (None: all) stale; unknown tickers are ignored."""
        with self._lock:
            for book in self._select(tickers):
                book.mark_stale()

    def mark_resyncing(self, tickers: Iterable[str]) -> None:
        """Mark the given markets as waiting for a snapshot; unknown tickers are ignored."""
        with self._lock:
            for book in self._select(tickers):
                book.mark_resyncing()

    def _select(self, tickers: Iterable[str] | None) -> list[MutableOrderbook]:
        # Caller holds the lock.
        if tickers is None:
            return list(self._books.values())
        if isinstance(tickers, str):
            # A bare ticker would otherwise be iterated letter by letter.
            tickers = (tickers,)
        return [book for t in tickers if (book := self._books.get(t)) is not None]

    def tickers_for_sid(self, sid: int) -> list[str]:
        """Tickers whose current book came from subscription ``sid`` (sorted): the markets a
        seq gap on that sid makes suspect."""
        with self._lock:
            return sorted(t for t, book in self._books.items() if book.sid == sid)

    def remove(self, tickers: Iterable[str]) -> None:
        """Forget the given markets (e.g. after delete_markets); unknown ones are ignored."""
        if isinstance(tickers, str):
            tickers = (tickers,)
        with self._lock:
            for t in tickers:
                self._books.pop(t, None)

    def get(self, ticker: str) -> Orderbook:
        """An immutable copy of the market's book. Raises KeyError if the market has no book."""
        with self._lock:
            book = self._books.get(ticker)
            if book is None:
                raise KeyError(
                    f"no order book for {ticker!r}: subscribe to 'orderbook_delta' for this "
                    "market and wait for its snapshot"
                )
            # Copy under the lock; the Orderbook is built after releasing it.
            yes, no = _OwnedLevels(book._yes), _OwnedLevels(book._no)
            state, use_yes_price, seq, sid = book.state, book.use_yes_price, book.seq, book.sid
        return Orderbook(
            market_ticker=ticker,
            yes=yes,
            no=no,
            state=state,
            use_yes_price=use_yes_price,
            seq=seq,
            sid=sid,
        )

    def tickers(self) -> list[str]:
        """Tickers that have a book, sorted."""
        with self._lock:
            return sorted(self._books)

    def state(self, ticker: str) -> str | None:
        """The book's state ("live" | "stale" | "resyncing"), or None if there is no book."""
        with self._lock:
            book = self._books.get(ticker)
            return None if book is None else book.state

    def __contains__(self, ticker: object) -> bool:
        with self._lock:
            return ticker in self._books

    def __len__(self) -> int:
        with self._lock:
            return len(self._books)

    def __repr__(self) -> str:
        return f"BookStore(markets={len(self)})"
