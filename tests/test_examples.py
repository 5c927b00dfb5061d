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
    ],
)
def test_example_runs_against_the_simulator(name: str, expect: str) -> None:
    """Each console example exits 0 after --seconds with its output, and no errors."""
    res = run(name, "--simulate", "--seconds", "2")
    assert res.returncode == 0, res.stderr
    assert expect in res.stdout
    assert res.stderr == ""


@pytest.mark.parametrize(
    "name", ["stream_ticker.py", "local_orderbook.py", "legacy_bot.py", "tk_orderbook.py"]
)
def test_example_without_tickers_is_a_usage_error(name: str) -> None:
    """Without --simulate an example needs tickers: exit 2 before touching credentials."""
    res = run(name)
    assert res.returncode == 2 and "TICKER" in res.stderr


@pytest.mark.parametrize("name", ["stream_ticker.py", "legacy_bot.py"])
def test_example_without_credentials_says_which(name: str) -> None:
    """Against Kalshi demo without credentials an example fails naming the variables."""
    res = run(name, "KXHIGHNY-26JAN01-T60", "--seconds", "1")
    assert res.returncode != 0 and "KALSHI_API_KEY_ID" in res.stderr
