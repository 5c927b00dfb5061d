"""kalshi_sync: a synchronous, thread-based client for Kalshi's WebSocket API."""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger("kalshi_sync").addHandler(logging.NullHandler())
