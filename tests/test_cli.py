"""The kalshi-sync command line, run as a real subprocess, and its pure view functions."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from _helpers import wait_for

from kalshi_sync import Orderbook, Trade
from kalshi_sync._view import Screen, plain_line, render
from kalshi_sync.cli import _markets_for
from kalshi_sync.testing import FakeKalshiServer, MarketSimulator, generate_test_key

ROOT = Path(__file__).resolve().parent.parent
SIM_TICKERS = ("KXSIM-HIGHNY-T60", "KXSIM-BTC-B100K", "KXSIM-FED-CUT")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    env.update(extra)
    return env


def cli(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kalshi_sync", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(**env),
        cwd=ROOT,
    )


def _assert_book(out: str, tickers: tuple[str, ...] = SIM_TICKERS) -> None:
    assert "YES BID" in out and "YES ASK" in out
    for t in tickers:
        assert f"{t}  [live]  bid 0." in out, out


def test_demo_runs_for_n_seconds_and_prints_a_book() -> None:
    """`demo --seconds 2` exits 0 with plain per-second lines, the final book and a summary."""
    res = cli("demo", "--seconds", "2", "--seed", "4")
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    _assert_book(res.stdout)
    assert "\x1b[" not in res.stdout  # piped: no ANSI redraw
    assert res.stdout.count(" msg/s | ") >= 1  # a plain status line per second
    assert "stopped: time is up" in res.stdout.splitlines()[-1]


def test_console_script_is_installed() -> None:
    """The `kalshi-sync` console script (setup.cfg entry point) runs the same demo."""
    script = Path(sys.executable).with_name("kalshi-sync")
    assert script.exists(), "pip install the package first"
    res = subprocess.run(
        [str(script), "demo", "--seconds", "1", "KXONE"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert res.returncode == 0, res.stderr
    _assert_book(res.stdout, ("KXONE",))


def test_demo_redraws_in_place_on_a_terminal() -> None:
    """On a TTY the view is redrawn in place with cursor-home/clear escapes."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kalshi_sync", "demo", "--seconds", "1"],
            stdout=follower,
            stderr=subprocess.PIPE,
            env=_env(),
            cwd=ROOT,
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(60) == 0
        assert proc.stderr is not None
        proc.stderr.close()
    finally:
        os.close(leader)
    out = b"".join(chunks).decode()
    assert out.count("\x1b[H\x1b[J") >= 3  # several redraws a second
    assert "YES BID" in out


def test_ctrl_c_exits_0_with_a_summary() -> None:
    """SIGINT during a run stops cleanly: exit 0, final book and an 'interrupted' summary."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshi_sync", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=ROOT,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the first plain status line: the demo is running
    assert " msg/s" in first
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped: interrupted" in out
    _assert_book(out)


@pytest.mark.parametrize("command", [[], ["demo"], ["watch"], ["record"], ["replay"]])
def test_help_for_every_command(command: list[str]) -> None:
    """--help works for the program and every command and exits 0."""
    res = cli(*command, "--help")
    assert res.returncode == 0
    assert res.stdout.startswith("usage: kalshi-sync")
    if command:
        assert "--seconds" in res.stdout


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["nosuchcommand"],
        ["demo", "--seconds", "-1"],
        ["demo", "--seconds", "soon"],
        ["replay"],
        ["replay", "f.jsonl", "--speed", "0"],
        ["watch", "T1", "--env", "staging"],
        ["demo", "--depth", "0"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    """Bad or missing arguments exit 2 with a usage message on stderr."""
    res = cli(*args)
    assert res.returncode == 2
    assert "usage: kalshi-sync" in res.stderr


def test_watch_without_credentials_names_the_variables() -> None:
    """`watch` with no credentials exits 1 with one line naming every variable to set."""
    res = cli("watch", "KXHIGHNY-26JAN01-T60", "--seconds", "1")
    assert res.returncode == 1
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kalshi-sync: error: ")
    for var in ("KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH", "KALSHI_PRIVATE_KEY", "KALSHI_ENV"):
        assert var in lines[0]


def test_watch_needs_tickers() -> None:
    """`watch` without tickers (and without --simulate) is an error, before any connection."""
    res = cli("watch")
    assert res.returncode == 1 and "TICKER" in res.stderr


@pytest.mark.integration
def test_watch_uses_env_credentials_against_a_server() -> None:
    """`watch` signs with the key from KALSHI_API_KEY_ID/KALSHI_PRIVATE_KEY and shows the
    book from the server it connects to."""
    pem, public = generate_test_key()
    with FakeKalshiServer(public_key=public, key_id="cli-key") as server:
        sim = MarketSimulator(server, ["W-1"], seed=2)
        with sim:
            res = cli(
                "watch", "W-1", "--url", server.url, "--seconds", "2",
                KALSHI_API_KEY_ID="cli-key", KALSHI_PRIVATE_KEY=pem.decode(), KALSHI_ENV="demo",
            )  # fmt: skip
    assert res.returncode == 0, res.stderr
    _assert_book(res.stdout, ("W-1",))
    assert pem.decode().splitlines()[1] not in res.stdout + res.stderr  # no key material


@pytest.mark.integration
def test_watch_with_a_rejected_key_fails_in_one_line() -> None:
    """A handshake refused with 401 exits 1 with one error line, at once."""
    pem, _ = generate_test_key()
    _, other_public = generate_test_key()
    with FakeKalshiServer(public_key=other_public) as server:
        res = cli(
            "watch", "W-1", "--url", server.url, "--seconds", "5",
            KALSHI_API_KEY_ID="k", KALSHI_PRIVATE_KEY=pem.decode(),
        )  # fmt: skip
    assert res.returncode == 1
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "kalshi-sync: error:" in res.stderr


@pytest.mark.integration
def test_record_then_replay_shows_the_same_book(tmp_path: Path) -> None:
    """`record --simulate` writes one JSONL line per frame; `replay` of that file ends with
    the same final book as the live run showed."""
    out = tmp_path / "rec.jsonl"
    res = cli("record", str(out), "KXR-1", "--simulate", "--seconds", "2", "--channels",
              "orderbook_delta,trade")  # fmt: skip
    assert res.returncode == 0, res.stderr
    lines = out.read_text("utf-8").splitlines()
    assert lines and all(set(json.loads(x)) == {"t_ns", "frame"} for x in lines)
    assert f"recorded {len(lines)} frames" in res.stdout
    live_book = _book_block(res.stdout, "KXR-1")

    again = cli("replay", str(out))
    assert again.returncode == 0, again.stderr
    assert _book_block(again.stdout, "KXR-1") == live_book
    assert "stopped: done" in again.stdout


def _book_block(out: str, ticker: str) -> list[str]:
    """The level rows of ``ticker`` in the final frame of a run's output."""
    lines = out.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith(f"{ticker}  ["))
    block = []
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        block.append(line)
    assert block
    return block


def test_replay_errors_exit_1(tmp_path: Path) -> None:
    """A missing recording or a corrupt line exits 1 with one line (naming the line)."""
    res = cli("replay", str(tmp_path / "missing.jsonl"))
    assert res.returncode == 1 and "no such recording" in res.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"t_ns": 1, "frame": "{}"}\nnot json\n{"t_ns": 2, "frame": "{}"}\n')
    res = cli("replay", str(bad))
    assert res.returncode == 1
    assert len(res.stderr.strip().splitlines()) == 1 and "bad.jsonl:2:" in res.stderr


def _screen(**kw: object) -> Screen:
    book = Orderbook.from_levels(
        "T1",
        yes=[(Decimal("0.41"), Decimal("10")), (Decimal("0.40"), Decimal("5"))],
        no=[(Decimal("0.55"), Decimal("7")), (Decimal("0.50"), Decimal("3"))],
    )
    trade = Trade(type="trade", market_ticker="T1", yes_price=Decimal("0.45"),
                  count=Decimal("3"), taker_outcome_side="yes", ts_ms=0)  # fmt: skip
    base: dict[str, object] = dict(
        title="t", state="live", elapsed=1.0, rate=12.0, messages=34, tickers=("T1", "T2"),
        books={"T1": book, "T2": None}, last={}, trades=(trade,), lifecycle=(),
    )  # fmt: skip
    base.update(kw)
    return Screen(**base)  # type: ignore[arg-type]


def test_render_shows_both_sides_best_first() -> None:
    """render(): bids best first, asks as 1 - no price best first, header with rate and
    state, a missing book and the last trades."""
    text = render(_screen(), depth=5)
    lines = text.splitlines()
    assert lines[0].startswith("t  |  live  |  12.0 msg/s  |  34 messages")
    head = next(line for line in lines if line.startswith("T1"))
    assert "bid 0.41 x 10" in head and "ask 0.45 x 7" in head and "spread 0.04" in head
    rows = [line.split() for line in lines if "|" in line and line.startswith("  ")][1:3]
    assert rows == [["0.41", "10", "|", "0.45", "7"], ["0.40", "5", "|", "0.50", "3"]]
    assert "T2  (no book yet)" in text
    assert "3 @ 0.45  (taker bought yes)" in text


def test_plain_line_is_one_line_summary() -> None:
    """plain_line(): one line with state, rate, each market's best bid/ask, last trade."""
    line = plain_line(_screen())
    assert "\n" not in line
    assert "live 12 msg/s" in line and "T1 bid 0.41 ask 0.45" in line and "T2 no book" in line
    assert "last trade T1 3 @ 0.45" in line


def test_render_and_plain_line_show_latency_when_known() -> None:
    """The header and the plain line show p50/p99 latency when stats() has it, else nothing."""
    assert "latency" not in render(_screen()) and "latency" not in plain_line(_screen())
    assert "latency" not in render(_screen(latency=(None, None)))
    screen = _screen(latency=(12, 40))
    assert render(screen).splitlines()[0].endswith("|  latency p50 12 ms p99 40 ms")
    assert "latency p50 12 ms p99 40 ms" in plain_line(screen)


def test_render_tolerates_messages_with_missing_fields() -> None:
    """A trade without market, price or count and a ticker without market draw as ?/-."""
    bare = Trade(type="trade")
    text = render(_screen(trades=(bare,)))
    assert "?  - @   -" in text
    assert "last trade ? - @   -" in plain_line(_screen(trades=(bare,)))


@pytest.mark.integration
def test_watch_shows_server_to_callback_latency() -> None:
    """`watch` against a server whose frames carry sending_ts_ms shows p50/p99 latency."""
    pem, public = generate_test_key()
    with FakeKalshiServer(public_key=public, key_id="cli-key") as server:
        server.set_book("W-1", yes=[("0.40", "5")])
        proc = subprocess.Popen(
            [sys.executable, "-m", "kalshi_sync", "watch", "W-1", "--url", server.url,
             "--seconds", "3", "--channels", "orderbook_delta,ticker"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env=_env(KALSHI_API_KEY_ID="cli-key", KALSHI_PRIVATE_KEY=pem.decode()),
        )  # fmt: skip
        try:

            def ticker_sids() -> list[int]:
                return [s["sid"] for s in server.subscriptions() if s["channel"] == "ticker"]

            wait_for(lambda: ticker_sids() or proc.poll() is not None, 30, "ticker subscription")
            sids = ticker_sids()
            assert sids, "watch never subscribed to ticker"
            sent = int(time.time() * 1000) - 500
            server.send_raw(
                json.dumps({"type": "ticker", "sid": sids[0], "sending_ts_ms": sent,
                            "msg": {"market_ticker": "W-1", "price_dollars": "0.41"}})
            )  # fmt: skip
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    match = re.search(r"latency p50 (\d+) ms p99 (\d+) ms", out)
    assert match, out
    assert 500 <= int(match.group(1)) <= int(match.group(2))


def test_channels_subscribe_with_the_tickers_only_when_they_take_markets() -> None:
    """The CLI passes its tickers to channels with a market filter, None to those without
    one (lifecycle, order groups, index feeds), and the tickers to a channel it does not
    know (the server decides)."""
    tickers = ["A-1", "B-2"]
    for channel in ("orderbook_delta", "ticker", "trade", "fill", "user_orders"):
        assert _markets_for(channel, tickers) == tickers
    for channel in ("market_lifecycle_v2", "communications", "order_group_updates", "pyth_value"):
        assert _markets_for(channel, tickers) is None
    assert _markets_for("some_future_channel", tickers) == tickers
