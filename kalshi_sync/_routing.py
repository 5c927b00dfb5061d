"""The routing snapshot: what the network thread and delivery need to know about each sid.

The :class:`~kalshi_sync.registry.Registry` owns all subscription state. After every change
(under its lock) it publishes one new :class:`Routing`, an immutable value swapped in by
reference, so the network thread and the delivering thread read it per message without a
lock (docs/architecture.md, 'Who owns what'). Nothing here is ever mutated after it was
published; a message queued for delivery carries the :class:`Route` it was routed with.

This module does no I/O, holds no state and imports nothing from the package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

import attrs

__all__ = ["EMPTY_ROUTING", "Route", "Routing", "RoutingSource", "Target"]


class Target(NamedTuple):
    """One subscription handle's share of a sid: its key, its markets filter (None = every
    market) and its callback (None = it has none)."""

    key: int
    markets: frozenset[str] | None
    callback: Callable[[Any], object] | None


class Route(NamedTuple):
    """Everything about one live sid: its channel, its price convention, the handles'
    targets in subscription order, and the union of their markets (None = every market)."""

    channel: str
    use_yes_price: bool
    targets: tuple[Target, ...]
    markets: frozenset[str] | None

    def covers(self, ticker: str) -> bool:
        """Some handle of this sid still wants ``ticker``."""
        markets = self.markets
        return markets is None or ticker in markets


@attrs.frozen
class Routing:
    """The published routing table: ``routes`` by sid (a dict never mutated once
    published), and ``live``, the keys of the handles not closed -- a message queued before
    an unsubscribe is not passed to that handle's callback once it is closed."""

    routes: Mapping[int, Route] = attrs.field(factory=dict)
    live: frozenset[int] = frozenset()


EMPTY_ROUTING = Routing()


class RoutingSource(Protocol):
    """Whatever publishes a :class:`Routing` (the registry); read without a lock."""

    @property
    def routing(self) -> Routing: ...
