"""Scripted faults of the fake exchange's REST side (pure: no sockets, no threads).

A test arms faults for the next ``n`` requests that match a method and a path pattern
(``fnmatch`` style, relative to ``/trade-api/v2``, e.g. ``"/portfolio/events/orders"`` or
``"/portfolio/orders/*"``; None matches anything). For each request the server asks
:meth:`RestFaults.take` which armed faults apply; each one that applies is used up:

* ``delay``: wait ``seconds`` before handling (other requests are not held up);
* ``status``: answer at once with ``status`` (5xx error body, or a 429 with an optional
  ``Retry-After``) without handling the request;
* ``drop``: handle the request (an order is placed), then close the connection without
  answering, so the client sees a connection error although the request landed.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["RestFault", "RestFaults", "request_matches"]

FaultKind = Literal["delay", "status", "drop"]


def request_matches(
    record: dict[str, Any], method: str | None, path: str | None, base: str
) -> bool:
    """Whether a recorded request (``method``, full ``path``) matches the filters."""
    if method is not None and record["method"] != method.upper():
        return False
    if path is None:
        return True
    full: str = record["path"]
    relative = full[len(base) :] if full.startswith(base) else full
    return fnmatch.fnmatchcase(relative, path) or fnmatch.fnmatchcase(full, path)


@dataclass
class RestFault:
    """One armed fault; ``remaining`` counts the requests it still applies to."""

    kind: FaultKind
    remaining: int
    method: str | None = None
    path: str | None = None
    status: int = 500
    retry_after: str | None = None
    seconds: float = 0.0

    def matches(self, method: str, path: str, base: str) -> bool:
        return request_matches({"method": method, "path": path}, self.method, self.path, base)


class RestFaults:
    """Armed REST faults, oldest first. Not thread-safe (the server holds its lock)."""

    def __init__(self, base: str) -> None:
        self._base = base
        self._faults: list[RestFault] = []

    def arm(self, fault: RestFault) -> None:
        if fault.remaining < 1:
            raise ValueError("n must be >= 1")
        self._faults.append(fault)

    def clear(self) -> None:
        self._faults.clear()

    def take(self, method: str, path: str) -> dict[FaultKind, RestFault]:
        """The first matching fault of each kind, each used up once. A ``status`` fault
        answers before handling, so a ``drop`` is not taken together with one."""
        taken: dict[FaultKind, RestFault] = {}
        for fault in self._faults:
            if fault.kind in taken or not fault.matches(method, path, self._base):
                continue
            if fault.kind == "drop" and "status" in taken:
                continue
            if fault.kind == "status" and "drop" in taken:
                continue
            taken[fault.kind] = fault
        for fault in taken.values():
            fault.remaining -= 1
        self._faults = [f for f in self._faults if f.remaining > 0]
        return taken
