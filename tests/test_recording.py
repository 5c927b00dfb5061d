"""Recorder / iter_recording (JSONL frames with receive times) and record -> replay."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from _sim_helpers import SENTINEL, sync

from kalshi_sync import KalshiClient, Trade
from kalshi_sync.dispatch import DeliveryMode
from kalshi_sync.recording import Recorder, RecordingError, iter_recording
from kalshi_sync.testing import FakeKalshiServer, MarketSimulator


def test_frames_round_trip_exactly(tmp_path: Path) -> None:
    """UTF-8 frames are stored as text, other bytes as base64, and both read back byte for
    byte with their receive times."""
    path = tmp_path / "r.jsonl"
    frames: list[bytes | str] = [
        b'{"type":"ticker","msg":{"x":"\xc3\xa9"}}',
        b"\xff\x00binary",
        "text frame",
    ]
    with Recorder(path) as rec:
        for i, frame in enumerate(frames):
            rec.write(frame, 1_000 + i)
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert [sorted(d) for d in lines] == [["frame", "t_ns"], ["b64", "t_ns"], ["frame", "t_ns"]]
    assert lines[0]["frame"] == '{"type":"ticker","msg":{"x":"é"}}'
    assert list(iter_recording(path)) == [
        (1000, frames[0]),
        (1001, frames[1]),
        (1002, b"text frame"),
    ]


def test_each_line_is_flushed_when_written(tmp_path: Path) -> None:
    """A frame is on disk as soon as write() returns (nothing lost on Ctrl-C)."""
    path = tmp_path / "r.jsonl"
    rec = Recorder(path)
    try:
        rec.write(b'{"type":"ok"}', 5)
        assert list(iter_recording(path)) == [(5, b'{"type":"ok"}')]
        assert rec.frames == 1
    finally:
        rec.close()


def test_stream_target_is_flushed_not_closed() -> None:
    """An open text stream is left open by close(); writing after close() is refused."""
    buf = io.StringIO()
    rec = Recorder(buf)
    rec.write(b"{}", 1)
    rec.close()
    rec.close()  # idempotent
    assert not buf.closed and rec.closed
    with pytest.raises(ValueError):
        rec.write(b"{}", 2)
    assert list(iter_recording(io.StringIO(buf.getvalue()))) == [(1, b"{}")]


@pytest.mark.parametrize(
    "bad",
    [
        "not json\n",
        "[1, 2]\n",
        '{"frame": "x"}\n',
        '{"t_ns": "1", "frame": "x"}\n',
        '{"t_ns": 1}\n',
        '{"t_ns": 1, "b64": "***"}\n',
    ],
)
def test_corrupt_line_raises_with_its_number(tmp_path: Path, bad: str) -> None:
    """A bad line that is not the last raises RecordingError (a ValueError) naming it."""
    path = tmp_path / "r.jsonl"
    path.write_text('{"t_ns": 1, "frame": "{}"}\n\n' + bad + '{"t_ns": 2, "frame": "{}"}\n')
    with pytest.raises(RecordingError, match=r"r\.jsonl:3: ") as info:
        list(iter_recording(path))
    assert info.value.line == 3 and isinstance(info.value, ValueError)


def test_truncated_last_line_is_skipped(tmp_path: Path) -> None:
    """A half-written last line (process killed mid-write) is ignored, the rest kept."""
    path = tmp_path / "r.jsonl"
    path.write_text('{"t_ns": 1, "frame": "{}"}\n{"t_ns": 2, "fra')
    assert list(iter_recording(path)) == [(1, b"{}")]


def _live_session(
    server: FakeKalshiServer, pem: bytes, record: Path
) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """Record a simulated session; return the live books and the delivered messages."""
    sim = MarketSimulator(server, ["REC-A", "REC-B", "REC-C"], seed=21)
    seen: list[tuple[str, Any]] = []
    client = KalshiClient("key", pem, url=server.url, record=record)
    client.on("*", lambda m: seen.append((m.type, m.raw)) if m.raw is not None else None)
    with client:
        client.subscribe("orderbook_delta", sim.tickers)
        client.subscribe("ticker", sim.tickers)
        client.subscribe("trade", sim.tickers)
        client.subscribe("market_lifecycle_v2")
        for _ in range(1200):
            sim.step()
        sync(client, server, "REC-A")
        books = {t: client.orderbook(t) for t in sim.tickers}
    return books, seen


@pytest.mark.integration
@pytest.mark.parametrize("delivery", ["thread", "inline", "poll"])
def test_replayed_books_equal_the_live_ones(
    server: FakeKalshiServer, private_pem: bytes, tmp_path: Path, delivery: DeliveryMode
) -> None:
    """record= captures every frame; replay() of the file through a fresh client rebuilds
    the same books and delivers the same messages in the same order, in every delivery
    mode, with callbacks done when it returns."""
    path = tmp_path / "session.jsonl"
    live_books, live_seen = _live_session(server, private_pem, path)
    text = path.read_text("utf-8")
    assert "KALSHI-ACCESS" not in text and "signature" not in text.lower()
    assert all(set(json.loads(x)) == {"t_ns", "frame"} for x in text.splitlines())

    replayer = KalshiClient("key", private_pem, delivery=delivery)
    replayed: list[tuple[str, Any]] = []
    replayer.on("*", lambda m: replayed.append((m.type, m.raw)) if m.raw is not None else None)
    try:
        n = replayer.replay(path)
        assert n == len(text.splitlines())
        for ticker, book in live_books.items():
            again = replayer.orderbook(ticker)
            assert dict(again.yes) == dict(book.yes) and dict(again.no) == dict(book.no)
            assert again.best_yes_bid == book.best_yes_bid and again.state == "live"
        assert replayed == live_seen
        assert any(t == "trade" and r["msg"]["trade_id"] == SENTINEL for t, r in replayed)
    finally:
        replayer.close()


def test_replay_speed_keeps_recorded_pacing(tmp_path: Path, private_pem: bytes) -> None:
    """speed=2.0 replays 0.4 s of recording in at least 0.2 s; speed=None does not wait."""
    path = tmp_path / "paced.jsonl"
    frame = (
        '{"type":"trade","sid":1,"seq":%d,"msg":{"market_ticker":"P","yes_price_dollars":'
        '"0.5000","count_fp":"1.00"}}'
    )
    with Recorder(path) as rec:
        for i in range(3):
            rec.write(frame % (i + 1), 10**9 + i * 200_000_000)
    trades: list[Trade] = []
    for speed, slowest in ((None, 0.0), (2.0, 0.19)):
        client = KalshiClient("key", private_pem, delivery="inline")
        client.on("trade", trades.append)
        start = time.monotonic()
        try:
            assert client.replay(path, speed=speed) == 3
        finally:
            client.close()
        assert time.monotonic() - start >= slowest
    assert len(trades) == 6
