"""Per-subscription sequence checking (PROTOCOL.md §7): :class:`SeqTracker` classifies each
``(sid, seq)`` as in order, first, gap, duplicate or stale and counts the anomalies; it never
touches a book or sends anything, the caller decides what a gap means (mark the sid's books
stale, request snapshots). Thread-safety: not thread-safe and needs no lock, because only the
network thread uses it; it does no I/O and starts no threads.
"""

from __future__ import annotations

import enum

__all__ = [
    "SEQ_DUPLICATE",
    "SEQ_FIRST",
    "SEQ_GAP",
    "SEQ_OK",
    "SEQ_STALE",
    "SeqResult",
    "SeqTracker",
]


class SeqResult(enum.IntEnum):
    """Verdict of :meth:`SeqTracker.check` (plain ints underneath, cheap to compare)."""

    OK = 0
    """seq == last + 1 (or what a preceding control reply made acceptable): apply it."""
    FIRST = 1
    """First seq seen on this sid: accepted as the starting position."""
    GAP = 2
    """seq > expected: messages were lost. Accepted as the new position; resync the sid."""
    DUPLICATE = 3
    """seq == last: a repeat. Position unchanged; drop the frame."""
    STALE = 4
    """seq < last: out of order or a server reset. Position unchanged; drop the frame and
    resync, calling ``forget(sid)`` so the next frame re-anchors the stream."""


SEQ_OK = SeqResult.OK
SEQ_FIRST = SeqResult.FIRST
SEQ_GAP = SeqResult.GAP
SEQ_DUPLICATE = SeqResult.DUPLICATE
SEQ_STALE = SeqResult.STALE


class SeqTracker:
    """Last data seq per sid, with counters for stats.

    ``check()`` is the per-frame call: on the common path it does one dict lookup and one
    store. Control replies (``ok``, ``unsubscribed``) go to :meth:`note_control` instead:
    Kalshi does not say whether they consume a seq number (PROTOCOL §7 open question), so
    a reply with seq ``s`` in {last, last+1} is accepted silently and the next data frame
    is in order if its seq is last+1 *or* s+1. Counters (cumulative, kept by ``reset()``):
    ``gaps``, ``duplicates``, ``stale``, ``control_mismatches``; ``gap_expected`` is the seq
    that was due when the latest GAP was reported (0 before any gap).
    """

    __slots__ = (
        "_control",
        "_last",
        "control_mismatches",
        "duplicates",
        "gap_expected",
        "gaps",
        "stale",
    )

    def __init__(self) -> None:
        self._last: dict[int, int] = {}
        # sid -> (last data seq when the control reply arrived, highest control seq since).
        # The entry is honoured only while the data position is still that first value, so
        # a data frame that moves the position silently invalidates it without the common
        # path having to clean it up.
        self._control: dict[int, tuple[int, int]] = {}
        self.gaps = 0
        self.duplicates = 0
        self.stale = 0
        self.control_mismatches = 0
        # The seq that was due when the latest GAP was reported (last + 1), for the gap
        # event and log line; 0 (never a valid seq) until a gap happens.
        self.gap_expected = 0

    def check(self, sid: int, seq: int) -> SeqResult:
        """Classify a data frame's seq on ``sid`` and advance the position when accepted."""
        last = self._last
        # None == int is False, so an unknown sid falls through to the slow path.
        if last.get(sid) == seq - 1:
            last[sid] = seq
            return SEQ_OK
        return self._check_slow(sid, seq)

    def _check_slow(self, sid: int, seq: int) -> SeqResult:
        last = self._last.get(sid)
        if last is None:
            self._last[sid] = seq
            self._control.pop(sid, None)
            return SEQ_FIRST
        control = self._control.get(sid)
        first_missing = last + 1
        if control is not None:
            anchor, top = control
            if anchor != last:
                # A data frame moved the position since the reply: the question is settled.
                del self._control[sid]
            elif seq == top + 1:
                # The control reply consumed a number (or several replies did).
                del self._control[sid]
                self._last[sid] = seq
                return SEQ_OK
            elif seq > top + 1:
                # Past what the replies may have taken: those numbers were not lost.
                first_missing = top + 1
        if seq > last:
            self.gaps += 1
            self.gap_expected = first_missing
            self._last[sid] = seq
            self._control.pop(sid, None)
            return SEQ_GAP
        if seq == last:
            self.duplicates += 1
            return SEQ_DUPLICATE
        self.stale += 1
        return SEQ_STALE

    def note_control(self, sid: int, seq: int) -> None:
        """Record the seq of a control reply (``ok``, ``unsubscribed``) on ``sid``.

        Accepted without alarm when ``last <= seq <= top + 1``, where ``top`` is the highest
        reply seq since the last data frame (just ``last`` when there was none, giving
        {last, last+1}); anything else is ignored and counted in ``control_mismatches``.
        Before the first data frame there is no position to compare with, so the reply is
        ignored (the next data frame is FIRST).
        """
        last = self._last.get(sid)
        if last is None:
            return
        control = self._control.get(sid)
        # Position after earlier replies since the last data frame (if any took a number).
        top = control[1] if control is not None and control[0] == last else last
        if last <= seq <= top + 1:
            if seq > last:
                self._control[sid] = (last, max(top, seq))
            return
        self.control_mismatches += 1

    def expected(self, sid: int) -> int | None:
        """The next in-order seq on ``sid`` (last + 1), or None if nothing was seen. After a
        control reply that took a number, last + 1 is still returned; ``check`` also
        accepts the reply's seq + 1."""
        last = self._last.get(sid)
        return None if last is None else last + 1

    def last(self, sid: int) -> int | None:
        """The last accepted data seq on ``sid``, or None."""
        return self._last.get(sid)

    def forget(self, sid: int) -> None:
        """Stop tracking ``sid`` (unsubscribed, or resynced): its next frame is FIRST."""
        self._last.pop(sid, None)
        self._control.pop(sid, None)

    def reset(self) -> None:
        """Forget every sid (a new connection brings new sids). Counters are kept: they are
        lifetime statistics."""
        self._last.clear()
        self._control.clear()

    def __repr__(self) -> str:
        return (
            f"SeqTracker(sids={len(self._last)}, gaps={self.gaps}, "
            f"duplicates={self.duplicates}, stale={self.stale}, "
            f"control_mismatches={self.control_mismatches})"
        )
