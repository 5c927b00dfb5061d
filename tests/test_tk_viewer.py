"""The Tkinter example for real: a window under Xvfb showing a live book from the simulator.

Needs Xvfb, Tk and ImageMagick's ``import`` (``.ci/run`` installs them). A missing tool
fails the test instead of skipping it, so CI cannot silently stop testing the GUI.
"""

from __future__ import annotations

import importlib.util
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from _helpers import book_equals_server, wait_for

from kalshi_sync.testing import SimulatedExchange

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed (apt-get install xvfb x11-utils imagemagick)")
    return path


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """A private Xvfb server; the display number comes from -displayfd (no guessing)."""
    xvfb = _need("Xvfb")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        number = b""
        deadline = time.monotonic() + 30
        while not number.endswith(b"\n"):
            ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(read_fd, 64) if ready else b""
            if not chunk:
                pytest.fail("Xvfb did not report a display number")
            number += chunk
        yield f":{int(number)}"
    finally:
        os.close(read_fd)
        proc.terminate()
        proc.wait(10)


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tk_orderbook", ROOT / "examples/tk_orderbook.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # As when run as a script, its folder must be importable (for ``from _common import``).
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "examples"))
    return module


def _rows(tree: Any) -> list[tuple[Decimal, Decimal]]:
    return [
        (Decimal(p), Decimal(s.replace(",", "")))
        for p, s in (tree.item(i, "values") for i in tree.get_children())
    ]


def test_viewer_shows_a_live_book(display: str) -> None:
    """In a real Tk window fed by poll delivery from an ``after`` loop, the tables show the
    simulator's live book (bids descending, asks ascending, bid < ask), the status says
    live, and a screenshot of the screen is saved to test-artifacts/tk_viewer.png."""
    try:
        import tkinter as tk
    except ImportError:
        pytest.fail("tkinter is not available (apt-get install python3-tk)")
    grab = _need("import")
    example = _load_example()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "tk_viewer.png"
    shot.unlink(missing_ok=True)
    seen: dict[str, Any] = {}

    with SimulatedExchange(seed=8, rate=50) as exchange:
        client = exchange.client(delivery="poll")
        root = tk.Tk(screenName=display)
        viewer = example.Viewer(root, client, exchange.tickers)
        try:

            def check() -> None:
                # Runs inside the Tk loop after ~3 s: read the widgets as they are drawn.
                # The market is frozen first, and the client's book caught up with the
                # server's, so the tables and the book compared below describe one moment
                # (the network thread keeps updating books between two reads otherwise).
                try:
                    exchange.simulator.stop()
                    ticker = viewer.market.get()
                    wait_for(lambda: book_equals_server(client, exchange.server, ticker))
                    viewer.refresh()
                    root.update()
                    seen["status"] = str(viewer.status.cget("text"))
                    seen["best"] = str(viewer.best.cget("text"))
                    seen["bids"] = _rows(viewer.bids)
                    seen["asks"] = _rows(viewer.asks)
                    seen["trades"] = len(viewer.trades.get_children())
                    seen["book"] = client.orderbook(viewer.market.get())
                    seen["shot"] = subprocess.run(
                        [grab, "-display", display, "-window", "root", str(shot)],
                        capture_output=True,
                        timeout=30,
                    )
                finally:
                    viewer.close()

            viewer.start()
            root.after(3000, check)
            root.mainloop()
        finally:
            viewer.close()

    assert seen["status"].startswith("live | book live | "), seen["status"]
    bids, asks = seen["bids"], seen["asks"]
    assert len(bids) >= 3 and len(asks) >= 3
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
    assert bids[0][0] < asks[0][0]
    book = seen["book"]
    assert bids[0] == (book.best_yes_bid, book.yes[book.best_yes_bid])
    assert asks[0][0] == book.best_yes_ask
    assert f"bid {bids[0][0]:.2f} / ask {asks[0][0]:.2f}" in seen["best"]
    assert seen["trades"] >= 1
    assert seen["shot"].returncode == 0, seen["shot"].stderr
    assert shot.stat().st_size > 1000


def test_tk_example_main_exits_cleanly(display: str) -> None:
    """`tk_orderbook.py --simulate --seconds 2` opens the window, closes it and exits 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    env["DISPLAY"] = display
    res = subprocess.run(
        [sys.executable, str(ROOT / "examples/tk_orderbook.py"), "--simulate", "--seconds", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
