"""One decoded REST request of the fake exchange, with strict parameter readers.

A bad parameter is a 400 ``invalid_parameters``
(:class:`~kalshi_sync.testing._orders.EngineError`) naming the field. Money and counts
must be JSON **strings** (Kalshi's V2 endpoints refuse numbers for ``count`` and
``price``); they become :class:`~decimal.Decimal`. Cursors are opaque to clients: here
``c<index>`` into a list that only grows, so pages stay stable while items are added.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from ._orders import EngineError

__all__ = ["Ctx", "bad", "page"]

T = TypeVar("T")

_CURSOR = re.compile(r"c(\d{1,12})")
_CLIENT_ID = re.compile(r"[A-Za-z0-9_:+=/-]{1,64}")


def bad(message: str) -> EngineError:
    return EngineError(400, "invalid_parameters", message)


@dataclass
class Ctx:
    """The parts of a request a route reads; ``owner`` is the signing API key id."""

    method: str
    path: str  # relative to the API base, no query
    query: dict[str, str]
    body: Any
    owner: str
    now_ms: int

    # ---- query --------------------------------------------------------------------

    def q_str(self, name: str) -> str | None:
        value = self.query.get(name)
        return value if value else None

    def q_list(self, name: str, limit: int | None = None) -> list[str] | None:
        value = self.q_str(name)
        if value is None:
            return None
        items = [v for v in value.split(",") if v]
        if limit is not None and len(items) > limit:
            raise bad(f"{name} takes at most {limit} values")
        return items

    def q_int(self, name: str, default: int | None = None, *, low: int | None = None) -> int | None:
        value = self.q_str(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise bad(f"{name} must be an integer") from None
        if low is not None and number < low:
            raise bad(f"{name} must be >= {low}")
        return number

    def limit(self) -> int:
        limit = self.q_int("limit", 100)
        assert limit is not None
        if not 1 <= limit <= 1000:
            raise bad("limit must be between 1 and 1000")
        return limit

    def cursor(self) -> int | None:
        value = self.q_str("cursor")
        if value is None:
            return None
        match = _CURSOR.fullmatch(value)
        if match is None:
            raise bad("malformed cursor")
        return int(match.group(1))

    # ---- body ---------------------------------------------------------------------

    def obj(self, value: Any = None) -> dict[str, Any]:
        body = self.body if value is None else value
        if not isinstance(body, dict):
            raise bad("the body must be a JSON object")
        return body

    @staticmethod
    def field(body: dict[str, Any], name: str, kind: type, required: bool = False) -> Any:
        value = body.get(name)
        if value is None:
            if required:
                raise bad(f"{name} is required")
            return None
        # bool is an int subclass: never accept one for the other.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise bad(f"{name} must be a {kind.__name__}")
        return value

    @staticmethod
    def decimal(body: dict[str, Any], name: str, required: bool = False) -> Decimal | None:
        value = Ctx.field(body, name, str, required)
        if value is None:
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise bad(f"{name} must be a decimal string") from None
        if not number.is_finite():
            raise bad(f"{name} must be finite")
        return number

    @staticmethod
    def client_id(body: dict[str, Any], name: str) -> str | None:
        value = Ctx.field(body, name, str)
        if value is not None and not _CLIENT_ID.fullmatch(value):
            raise bad(f"{name} must be 1-64 characters of [A-Za-z0-9_:+=/-]")
        return value  # type: ignore[no-any-return]


def page(
    items: Sequence[tuple[int, T]], limit: int, cursor: int | None, *, newest_first: bool
) -> tuple[list[T], str]:
    """One page of ``(stable index, item)`` pairs (index ascending in ``items``) and the
    next cursor ("" on the last page)."""
    if newest_first:
        ordered = [p for p in reversed(items) if cursor is None or p[0] < cursor]
    else:
        ordered = [p for p in items if cursor is None or p[0] > cursor]
    chosen = ordered[:limit]
    more = len(ordered) > limit
    return [item for _, item in chosen], (f"c{chosen[-1][0]}" if more else "")
