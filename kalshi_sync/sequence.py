"""Per-subscription sequence checking (docs/protocol.md, 'Sequence numbers and gaps'):
:class:`SeqTracker` classifies each ``(sid, seq)`` as in order, first, gap, duplicate or
stale and counts the anomalies; it never touches a book or sends anything, the caller
decides what a gap means (mark the sid's books stale, request snapshots). Thread-safety:
not thread-safe and needs no lock, because only the network thread uses it; it does no I/O
and starts no threads.
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
    """seq == last + 1 (or a preceding control reply's own seq): apply it."""
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
    """Last seq per sid, with counters for stats.

    Every frame that carries both ``sid`` and ``seq`` takes a number in that sid's sequence
    (docs/protocol.md, 'Control replies and seq'): data frames go through :meth:`check`,
    control replies (``ok``, ``unsubscribed``, a subscription's ``error``) through
    :meth:`note_control`, which never asks for the reply to be dropped. The first sequenced
    frame on a sid sets the baseline, whatever its seq. Two tolerances stay for servers that
    report rather than consume a number on a reply: a reply whose seq equals the position is
    accepted silently, and the first data frame after a reply may carry the reply's seq (it
    is not dropped as a duplicate).

    ``check()`` is the per-frame call: on the common path it does one dict lookup and one
    store. Counters (cumulative, kept by ``reset()``): ``gaps`` (from data and control
    frames), ``duplicates``, ``stale``, ``control_mismatches`` (a reply below the
    position); ``gap_expected`` is the seq that was due when the latest GAP was reported
    (0 before any gap).
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
        # sid -> (position set by control replies, data position before them or None).
        # Honoured only while the position is still that first value, so a data frame that
        # moves the position invalidates it without the common path having to clean up.
        self._control: dict[int, tuple[int, int | None]] = {}
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
        if control is not None and control[0] != last:
            del self._control[sid]  # a data frame moved the position since the reply
            control = None
        if seq > last:
            self.gaps += 1
            self.gap_expected = last + 1
            self._last[sid] = seq
            self._control.pop(sid, None)
            return SEQ_GAP
        if control is not None:
            if seq == last:
                # The reply announced this number rather than taking it: accept the frame.
                del self._control[sid]
                return SEQ_OK
            data = control[1]
            if data is None or seq < data:
                self.stale += 1
                return SEQ_STALE
            # At or above the data position but below the replies' numbers: a repeat.
            self.duplicates += 1
            return SEQ_DUPLICATE
        if seq == last:
            self.duplicates += 1
            return SEQ_DUPLICATE
        self.stale += 1
        return SEQ_STALE

    def note_control(self, sid: int, seq: int) -> SeqResult:
        """Advance ``sid`` by a control reply's seq; the reply itself is never to be dropped.

        FIRST on a sid with no position (the reply sets the baseline); OK for ``last + 1``
        and, tolerated, for ``last``; GAP (counted, position moved) beyond ``last + 1``;
        STALE below ``last`` (ignored, counted in ``control_mismatches``).
        """
        last = self._last.get(sid)
        if last is None:
            self._last[sid] = seq
            self._control[sid] = (seq, None)
            return SEQ_FIRST
        if seq == last:
            return SEQ_OK
        if seq < last:
            self.control_mismatches += 1
            return SEQ_STALE
        control = self._control.get(sid)
        data = control[1] if control is not None and control[0] == last else last
        self._last[sid] = seq
        self._control[sid] = (seq, data)
        if seq == last + 1:
            return SEQ_OK
        self.gaps += 1
        self.gap_expected = last + 1
        return SEQ_GAP

    def expected(self, sid: int) -> int | None:
        """The next in-order seq on ``sid`` (last + 1), or None if nothing was seen. Right
        after a control reply, ``check`` also accepts the reply's own seq."""
        last = self._last.get(sid)
        return None if last is None else last + 1

    def last(self, sid: int) -> int | None:
        """The last accepted seq on ``sid`` (data or control reply), or None."""
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
