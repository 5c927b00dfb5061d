"""The examples run end to end against the simulator (``--simulate --seconds N``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.mark.parametrize(
    ("name", "expect"),
    [
        ("stream_ticker.py", " bid 0."),
        ("local_orderbook.py", "[live] bid 0."),
        ("legacy_bot.py", "done: "),
        ("paper_market_maker.py", "0 left resting; stopped: time is up"),
    ],
)
def test_example_runs_against_the_simulator(name: str, expect: str) -> None:
    """Each console example exits 0 after --seconds with its output, and no errors."""
    res = run(name, "--simulate", "--seconds", "2")
    assert res.returncode == 0, res.stderr
    assert expect in res.stdout
    assert res.stderr == ""


@pytest.mark.parametrize(
    "name",
    [
        "stream_ticker.py",
        "local_orderbook.py",
        "legacy_bot.py",
        "tk_orderbook.py",
        "paper_market_maker.py",
    ],
)
def test_example_without_tickers_is_a_usage_error(name: str) -> None:
    """Without --simulate an example needs tickers: exit 2 before touching credentials."""
    res = run(name)
    assert res.returncode == 2 and "TICKER" in res.stderr


@pytest.mark.parametrize("name", ["stream_ticker.py", "legacy_bot.py", "paper_market_maker.py"])
def test_example_without_credentials_says_which(name: str) -> None:
    """Against Kalshi demo without credentials an example fails naming the variables."""
    res = run(name, "KXHIGHNY-26JAN01-T60", "--seconds", "1")
    assert res.returncode != 0 and "KALSHI_API_KEY_ID" in res.stderr


def test_market_maker_refuses_prod_without_i_know() -> None:
    """--env prod alone is a usage error (exit 2) saying how to mean it, before any
    credentials are read."""
    res = run("paper_market_maker.py", "KXHIGHNY-26JAN01-T60", "--env", "prod")
    assert res.returncode == 2
    assert "--env prod --i-know" in res.stderr and "KALSHI_API_KEY_ID" not in res.stderr
    assert res.stdout == ""


def test_market_maker_with_i_know_goes_on_to_the_credentials() -> None:
    """--env prod --i-know passes the guard: without credentials it then stops at them."""
    res = run("paper_market_maker.py", "KXHIGHNY-26JAN01-T60", "--env", "prod", "--i-know")
    assert res.returncode == 1 and "KALSHI_API_KEY_ID" in res.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--simulate", "--env", "demo"], "leave out --env"),
        (["--simulate", "--edge", "0.5"], "--edge"),
        (["--simulate", "--size", "0.001"], "--size"),
        (["--simulate", "--edge", "inf"], "--edge"),
    ],
)
def test_market_maker_bad_options_are_usage_errors(args: list[str], says: str) -> None:
    """Contradictory or out-of-range options exit 2 naming the option, before anything
    starts."""
    res = run("paper_market_maker.py", *args)
    assert res.returncode == 2 and says in res.stderr and res.stdout == ""
