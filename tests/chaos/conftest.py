"""Chaos suite plumbing: a FakeKalshiServer that counts what it puts on the wire, shared
helpers, and a terminal summary that shows scenario and fault counts in CI (where ``-s`` is
off, so the scenarios' own ``print`` only shows on failure)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _chaos_helpers import TappedServer

# Filled by the scenarios through the ``chaos_report`` fixture, read by the summary hook.
_REPORT: dict[str, Any] = {"scenarios": 0, "faults": 0, "lines": []}


@pytest.fixture
def tapped_server(key_pair: tuple[bytes, object]) -> Iterator[TappedServer]:
    """A counting FakeKalshiServer on loopback (heartbeats every 0.5 s)."""
    srv = TappedServer(public_key=key_pair[1], ping_interval=0.5)  # type: ignore[arg-type]
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


class ChaosReport:
    """What a scenario tells the summary: one scenario, how many faults."""

    def __init__(self, record_property: Any) -> None:
        self._record = record_property

    def add(self, name: str, faults: int, seed: int | None = None, **figures: Any) -> None:
        _REPORT["scenarios"] += 1
        _REPORT["faults"] += faults
        extra = " ".join(f"{k}={v}" for k, v in figures.items())
        seed_txt = f" seed={seed}" if seed is not None else ""
        _REPORT["lines"].append(f"{name}: {faults} faults{seed_txt} {extra}".rstrip())
        self._record("chaos_faults", faults)
        if seed is not None:
            self._record("chaos_seed", seed)
        for k, v in figures.items():
            self._record(k, v)


@pytest.fixture
def chaos_report(record_property: Any) -> ChaosReport:
    return ChaosReport(record_property)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _REPORT["scenarios"]:
        return
    terminalreporter.section("chaos")
    for line in _REPORT["lines"]:
        terminalreporter.write_line(line)
    terminalreporter.write_line(
        f"chaos: {_REPORT['scenarios']} scenarios, {_REPORT['faults']} faults"
    )
