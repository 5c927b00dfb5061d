"""``python -m kalshi_sync``: the ``kalshi-sync`` command line (see :mod:`kalshi_sync.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
