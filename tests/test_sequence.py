"""Tests for kalshi_sync.sequence.SeqTracker."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_sync.sequence import (
    SEQ_DUPLICATE,
    SEQ_FIRST,
    SEQ_GAP,
    SEQ_OK,
    SEQ_STALE,
    SeqResult,
    SeqTracker,
)


def test_results_are_small_ints() -> None:
    """The verdicts are distinct ints (IntEnum members) so callers can compare cheaply."""
    values = [SEQ_OK, SEQ_FIRST, SEQ_GAP, SEQ_DUPLICATE, SEQ_STALE]
    assert all(isinstance(v, int) for v in values)
    assert len(set(values)) == 5
    assert SEQ_OK == 0 and SeqResult(SEQ_GAP) is SeqResult.GAP


def test_first_then_in_order() -> None:
    """The first seq on a sid is FIRST (any value); each next one is OK."""
    tracker = SeqTracker()
    assert tracker.check(1, 7) == SEQ_FIRST
    assert tracker.check(1, 8) == SEQ_OK
    assert tracker.check(1, 9) == SEQ_OK
    assert tracker.last(1) == 9 and tracker.expected(1) == 10
    assert (tracker.gaps, tracker.duplicates, tracker.stale) == (0, 0, 0)


def test_gap_is_accepted_as_new_position() -> None:
    """A jump forward is GAP, counted, and the stream continues from the new seq."""
    tracker = SeqTracker()
    tracker.check(1, 1)
    assert tracker.gap_expected == 0
    assert tracker.check(1, 5) == SEQ_GAP
    assert tracker.gaps == 1
    assert tracker.gap_expected == 2
    assert tracker.last(1) == 5
    assert tracker.check(1, 6) == SEQ_OK


def test_duplicate_does_not_move_position() -> None:
    """A repeated seq is DUPLICATE, counted, and the position stays."""
    tracker = SeqTracker()
    tracker.check(1, 1)
    tracker.check(1, 2)
    assert tracker.check(1, 2) == SEQ_DUPLICATE
    assert tracker.duplicates == 1
    assert tracker.check(1, 3) == SEQ_OK


def test_backwards_is_stale_and_does_not_move_position() -> None:
    """A seq below the last is STALE, counted, and the position stays."""
    tracker = SeqTracker()
    tracker.check(1, 10)
    assert tracker.check(1, 4) == SEQ_STALE
    assert tracker.stale == 1
    assert tracker.last(1) == 10
    assert tracker.check(1, 11) == SEQ_OK


def test_sids_are_independent() -> None:
    """Each sid has its own position."""
    tracker = SeqTracker()
    assert tracker.check(1, 1) == SEQ_FIRST
    assert tracker.check(2, 100) == SEQ_FIRST
    assert tracker.check(1, 2) == SEQ_OK
    assert tracker.check(2, 101) == SEQ_OK
    assert tracker.expected(3) is None and tracker.last(3) is None


def test_forget_and_reset() -> None:
    """forget(sid) and reset() make the next frame FIRST; counters survive reset."""
    tracker = SeqTracker()
    tracker.check(1, 1)
    tracker.check(1, 9)
    tracker.check(2, 1)
    tracker.forget(1)
    assert tracker.last(1) is None
    assert tracker.check(1, 3) == SEQ_FIRST
    tracker.reset()
    assert tracker.check(2, 50) == SEQ_FIRST
    assert tracker.gaps == 1


# --- control replies: they take a number too (docs/protocol.md, 'Control replies and seq')


def test_control_reply_consumes_a_number() -> None:
    """Reply takes seq last+1 and data continues at last+2: no gap."""
    tracker = SeqTracker()
    tracker.check(1, 10)
    tracker.note_control(1, 11)
    assert tracker.check(1, 12) == SEQ_OK
    assert tracker.check(1, 13) == SEQ_OK
    assert (tracker.gaps, tracker.control_mismatches) == (0, 0)


def test_control_reply_repeats_current_position() -> None:
    """Reply carries seq == last and data continues at last+1: no gap."""
    tracker = SeqTracker()
    tracker.check(1, 10)
    tracker.note_control(1, 10)
    assert tracker.check(1, 11) == SEQ_OK
    assert (tracker.gaps, tracker.control_mismatches) == (0, 0)


def test_control_reply_announces_next_position() -> None:
    """Reply carries seq last+1 and the next data frame also carries last+1: no gap."""
    tracker = SeqTracker()
    tracker.check(1, 10)
    tracker.note_control(1, 11)
    assert tracker.check(1, 11) == SEQ_OK
    assert tracker.check(1, 12) == SEQ_OK
    assert (tracker.gaps, tracker.duplicates, tracker.control_mismatches) == (0, 0, 0)


def test_several_consuming_control_replies() -> None:
    """Two replies that each take a number (11, 12) let data continue at 13."""
    tracker = SeqTracker()
    tracker.check(1, 10)
    tracker.note_control(1, 11)
    tracker.note_control(1, 12)
    assert tracker.check(1, 13) == SEQ_OK
    assert tracker.control_mismatches == 0


def test_control_allowance_is_settled_by_next_data_frame() -> None:
    """Once a data frame moved the position, the reply's seq+1 is no longer special."""
    tracker = SeqTracker()
    tracker.check(1, 10)
    tracker.note_control(1, 11)
    assert tracker.check(1, 11) == SEQ_OK
    assert tracker.check(1, 12) == SEQ_OK
    assert tracker.check(1, 12) == SEQ_DUPLICATE
    assert tracker.check(1, 14) == SEQ_GAP


def test_gap_after_control_reply_is_still_a_gap() -> None:
    """A jump past both last+1 and reply seq+1 is reported as GAP."""
    tracker = SeqTracker()
    tracker.check(1, 10)
    tracker.note_control(1, 11)
    assert tracker.check(1, 14) == SEQ_GAP
    assert tracker.gaps == 1


def test_duplicate_after_control_keeps_the_allowance() -> None:
    """A duplicate data frame between the reply and the next frame does not cause a false gap."""
    tracker = SeqTracker()
    tracker.check(1, 10)
    tracker.note_control(1, 11)
    assert tracker.check(1, 10) == SEQ_DUPLICATE
    assert tracker.check(1, 12) == SEQ_OK


@pytest.mark.parametrize("seq", [3, 9])
def test_control_seq_below_the_position_is_ignored_and_counted(seq: int) -> None:
    """A reply below the position is STALE, changes nothing and bumps control_mismatches."""
    tracker = SeqTracker()
    tracker.check(1, 10)
    assert tracker.note_control(1, seq) == SEQ_STALE
    assert tracker.control_mismatches == 1
    assert tracker.last(1) == 10
    assert tracker.check(1, 11) == SEQ_OK
    assert tracker.check(1, 13) == SEQ_GAP


@pytest.mark.parametrize("seq", [12, 500])
def test_control_seq_past_last_plus_one_is_a_gap(seq: int) -> None:
    """A reply that skips numbers reveals a gap itself (was: ignored until the next data
    frame); the stream continues after the reply's seq."""
    tracker = SeqTracker()
    tracker.check(1, 10)
    assert tracker.note_control(1, seq) == SEQ_GAP
    assert (tracker.gaps, tracker.gap_expected, tracker.last(1)) == (1, 11, seq)
    assert tracker.control_mismatches == 0
    assert tracker.check(1, seq + 1) == SEQ_OK
    assert tracker.gaps == 1


def test_late_data_frame_after_a_gap_on_a_control_is_dropped() -> None:
    """After a reply revealed a gap (10 -> 12), a late data 11 is not applied."""
    tracker = SeqTracker()
    tracker.check(1, 10)
    tracker.note_control(1, 12)
    assert tracker.check(1, 11) == SEQ_DUPLICATE
    assert tracker.check(1, 9) == SEQ_STALE


def test_control_seq_below_consumed_replies_is_a_mismatch() -> None:
    """Replies 11, 12, 13 took their numbers; a reply at 12 after them is out of order
    (was: accepted while below the highest reply)."""
    tracker = SeqTracker()
    tracker.check(1, 10)
    for seq in (11, 12, 13):
        assert tracker.note_control(1, seq) == SEQ_OK
    assert tracker.note_control(1, 12) == SEQ_STALE
    assert tracker.control_mismatches == 1
    assert tracker.check(1, 14) == SEQ_OK


def test_control_before_any_data_sets_the_baseline() -> None:
    """The first sequenced frame on a sid sets the baseline, even a reply (was: ignored):
    data then continues at its seq + 1, and a jump past that is a gap."""
    tracker = SeqTracker()
    assert tracker.note_control(1, 5) == SEQ_FIRST
    assert tracker.last(1) == 5
    assert tracker.check(1, 7) == SEQ_GAP
    assert tracker.gap_expected == 6
    other = SeqTracker()
    other.note_control(1, 5)
    assert other.check(1, 6) == SEQ_OK
    assert (other.gaps, other.control_mismatches) == (0, 0)


def test_baseline_reply_may_announce_the_first_data_seq() -> None:
    """A baseline reply at 5 followed by data 5 (a reply that reports its position): the
    data frame is accepted, not dropped as a duplicate."""
    tracker = SeqTracker()
    tracker.note_control(1, 5)
    assert tracker.check(1, 5) == SEQ_OK
    assert tracker.check(1, 5) == SEQ_DUPLICATE
    assert tracker.check(1, 6) == SEQ_OK
    assert tracker.check(1, 4) == SEQ_STALE


def test_first_data_frame_need_not_be_seq_one() -> None:
    """A new sid's first data frame sets the baseline at any seq (no seq == 1 required)."""
    tracker = SeqTracker()
    assert tracker.check(4, 108) == SEQ_FIRST
    assert tracker.check(4, 109) == SEQ_OK
    assert tracker.gaps == 0


def test_error_reply_that_took_a_number_does_not_cause_a_false_gap() -> None:
    """A subscription-scoped error with seq last+1 (as on demo) lets data continue at +2."""
    tracker = SeqTracker()
    tracker.check(2, 30)
    assert tracker.note_control(2, 31) == SEQ_OK
    assert tracker.check(2, 32) == SEQ_OK
    assert tracker.gaps == 0


# --- property test against a plain reference ----------------------------------------------


class RefTracker:
    """Straightforward restatement of the rules: one position per sid, from data and
    control frames alike, plus the data position and the replies seen since it."""

    def __init__(self) -> None:
        self.last: dict[int, int] = {}
        self.data: dict[int, int | None] = {}  # data position when replies took numbers
        self.replies: dict[int, list[int]] = {}  # reply seqs above that data position
        self.gaps = self.duplicates = self.stale = self.control_mismatches = 0

    def check(self, sid: int, seq: int) -> int:
        if sid not in self.last:
            self.last[sid] = seq
            self.replies[sid] = []
            return SEQ_FIRST
        last = self.last[sid]
        replies = self.replies[sid]
        if seq == last + 1:
            result = SEQ_OK
        elif seq > last:
            self.gaps += 1
            result = SEQ_GAP
        elif replies and seq == last:
            self.replies[sid] = []
            return SEQ_OK  # the reply announced this number
        elif replies and self.data[sid] is not None and seq >= self.data[sid]:  # type: ignore[operator]
            self.duplicates += 1
            return SEQ_DUPLICATE
        elif replies:
            self.stale += 1
            return SEQ_STALE
        elif seq == last:
            self.duplicates += 1
            return SEQ_DUPLICATE
        else:
            self.stale += 1
            return SEQ_STALE
        self.last[sid] = seq
        self.replies[sid] = []
        return result

    def note_control(self, sid: int, seq: int) -> int:
        if sid not in self.last:
            self.last[sid] = seq
            self.data[sid] = None
            self.replies[sid] = [seq]
            return SEQ_FIRST
        last = self.last[sid]
        if seq == last:
            return SEQ_OK
        if seq < last:
            self.control_mismatches += 1
            return SEQ_STALE
        if not self.replies[sid]:
            self.data[sid] = last
        self.replies[sid].append(seq)
        self.last[sid] = seq
        if seq == last + 1:
            return SEQ_OK
        self.gaps += 1
        return SEQ_GAP

    def forget(self, sid: int) -> None:
        self.last.pop(sid, None)
        self.data.pop(sid, None)
        self.replies.pop(sid, None)


# Streams that mostly advance by one with occasional jumps, repeats, drops, forgets and runs
# of control replies, so every branch is visited often. Steps are relative to the highest
# seq generated so far on the sid; sid 0 is favoured so histories get long.
sid_st = st.sampled_from([0, 0, 0, 1])
data_step = st.sampled_from([1, 1, 1, 2, 3, 0, 0, -1, -5])
control_step = st.sampled_from([0, 1, 1, 1, 2, 5, -1, -2, -3])
step_st = st.one_of(
    st.tuples(st.just("data"), sid_st, st.lists(data_step, min_size=1, max_size=4)),
    st.tuples(st.just("control"), sid_st, st.lists(control_step, min_size=1, max_size=4)),
    st.tuples(st.just("forget"), sid_st, st.just([0])),
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(step_st, max_size=40))
def test_tracker_matches_reference(steps: list[tuple[str, int, list[int]]]) -> None:
    """On random data/control/forget streams the tracker's verdicts and counters match."""
    tracker, ref = SeqTracker(), RefTracker()
    cursor = {0: 1, 1: 1000}  # the seq the generator considers "current" per sid
    for kind, sid, run in steps:
        if kind == "forget":
            tracker.forget(sid)
            ref.forget(sid)
            continue
        for step in run:
            seq = max(1, cursor[sid] + step)
            if kind == "data":
                assert tracker.check(sid, seq) == ref.check(sid, seq)
            else:
                assert tracker.note_control(sid, seq) == ref.note_control(sid, seq)
            cursor[sid] = max(cursor[sid], seq)
            assert tracker.last(sid) == ref.last.get(sid)
            counters = (tracker.gaps, tracker.duplicates, tracker.stale)
            assert counters == (ref.gaps, ref.duplicates, ref.stale)
            assert tracker.control_mismatches == ref.control_mismatches
