"""Per-type callback registrations (``client.on``/``off``), read lock-free by delivery.

This module does no I/O and imports nothing from the package.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Callback", "Router"]

Callback = Callable[[Any], object]


class Router:
    """Per-type callbacks (``"*"`` = every message). Thread-safe.

    Writers replace whole tuples under a lock; readers look them up without one -- a dict
    read of an immutable tuple is atomic under the GIL, and it runs once per message.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards writes to _by_type (readers don't lock)
        self._by_type: dict[str, tuple[Callback, ...]] = {}

    def on(self, msg_type: str, fn: Callback) -> None:
        if not isinstance(msg_type, str) or not msg_type:
            raise TypeError(f"message type must be a non-empty str, got {msg_type!r}")
        if not callable(fn):
            raise TypeError(f"callback must be callable, got {fn!r}")
        with self._lock:
            self._by_type[msg_type] = (*self._by_type.get(msg_type, ()), fn)

    def off(self, msg_type: str, fn: Callback) -> bool:
        """Remove one registration of ``fn``; False if it was not registered."""
        with self._lock:
            current = self._by_type.get(msg_type, ())
            if fn not in current:
                return False
            items = list(current)
            items.remove(fn)
            self._by_type[msg_type] = tuple(items)
            return True

    def for_type(self, msg_type: str) -> tuple[Callback, ...]:
        return self._by_type.get(msg_type, ())
