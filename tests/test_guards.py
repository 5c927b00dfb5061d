"""Structural guards: the public name list, which module may import which library, and the
sans-I/O core's freedom from threads and sockets, checked on the source (an AST scan)."""

from __future__ import annotations
import __future__

import ast
import importlib
import pathlib
import types
import typing

import pytest
from _helpers import make_client

import kalshi_sync
from kalshi_sync import errors, events

PACKAGE = pathlib.Path(kalshi_sync.__file__).parent

# The one module that imports websocket-client (``websocket``); everything else reaches the
# library through it (docs/transport.md, 'Library internals the client relies on').
WEBSOCKET_FENCE = "kalshi_sync._ws"
# The one module that imports ``requests``: the REST transport (signing, retries, error
# mapping). RestClient (rest.py) builds on it and never touches requests itself.
REQUESTS_FENCE = "kalshi_sync._http"

# The sans-I/O core: codecs, models, state machines and bookkeeping driven by plain calls.
# None of them may import a thread, socket or HTTP library, directly or through another
# module of the package.
SANS_IO = frozenset(
    {
        "kalshi_sync._account_snapshots",
        "kalshi_sync._channels",
        "kalshi_sync._decode_fields",
        "kalshi_sync._decode_slots",
        "kalshi_sync._decoders",
        "kalshi_sync._fill_ledger",
        "kalshi_sync._orders",
        "kalshi_sync._reconcile",
        "kalshi_sync._recovery",
        "kalshi_sync._recovery_scheduler",
        "kalshi_sync._rest_decoders",
        "kalshi_sync._routing",
        "kalshi_sync._stats",
        "kalshi_sync._ws_liveness",
        "kalshi_sync._ws_refusal",
        "kalshi_sync.account",
        "kalshi_sync.environments",
        "kalshi_sync.errors",
        "kalshi_sync.events",
        "kalshi_sync.models",
        "kalshi_sync.protocol",
        "kalshi_sync.sequence",
    }
)
# Plain objects that are *locked by design*: one writer thread and reader threads share
# them, so they own a threading.Lock (or an Event), yet do no I/O. They are tested with
# plain calls like the core, but may import threading (and nothing else forbidden below).
LOCKED = {
    "kalshi_sync.orderbook": "BookStore: the network thread applies deltas while user "
    "threads take immutable copies",
    "kalshi_sync._account_views": "orders and positions views written by the network thread, "
    "read from any user thread",
    "kalshi_sync.registry": "the command tracker: subscribe/unsubscribe from user threads, "
    "replies from the network thread",
    "kalshi_sync.subscriptions": "handles whose waiters block user threads until an ack",
    "kalshi_sync._router": "callback registrations changed from any thread",
    "kalshi_sync._ratelimit": "token buckets shared by every thread using one RestClient",
}
# Top-level modules the sans-I/O core must not import (threads, sockets, HTTP, event loops).
FORBIDDEN_IN_CORE = frozenset(
    {
        "threading",
        "websocket",
        "requests",
        "urllib3",
        "socket",
        "ssl",
        "select",
        "selectors",
        "asyncio",
        "queue",
        "concurrent",
        "multiprocessing",
        "subprocess",
        "http",
    }
)


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, pathlib.Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, *, runtime_only: bool = False) -> set[str]:
    """Absolute names of every module ``module`` imports, anywhere in its source (functions
    included). ``from x import y`` yields ``x`` and ``x.y`` (y may be a submodule).
    ``runtime_only`` skips ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    skipped: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
    return found


def _importers_of(library: str) -> set[str]:
    return {
        name
        for name in MODULES
        if any(imp == library or imp.startswith(f"{library}.") for imp in _imports(name))
    }


# --- the public names ----------------------------------------------------------------------


def _ruff_sort_key(name: str) -> tuple[int, str]:
    # The order ruff's RUF022 keeps __all__ in ("isort-style"): SCREAMING_CASE constants,
    # then CamelCase classes, then everything else, each group alphabetical.
    if name.isupper():
        return 0, name
    if name[0].isupper():
        return 1, name
    return 2, name


def _public_names() -> set[str]:
    """What ``kalshi_sync`` exports: every name bound in the package namespace that does not
    start with an underscore and is neither a submodule nor the ``annotations`` feature of
    ``from __future__ import annotations``, plus ``__version__``."""
    names = {
        name
        for name, value in vars(kalshi_sync).items()
        if not name.startswith("_")
        and not isinstance(value, (types.ModuleType, type(__future__.annotations)))
    }
    return names | {"__version__"}


def test_all_is_the_sorted_public_names() -> None:
    """__all__ lists exactly the package's public names, without duplicates, in ruff's order."""
    exported = list(kalshi_sync.__all__)
    assert len(exported) == len(set(exported)), "duplicates in __all__"
    assert set(exported) == _public_names()
    assert exported == sorted(exported, key=_ruff_sort_key)


def test_every_exported_name_is_importable() -> None:
    """``from kalshi_sync import X`` works for every X in __all__, and ``import *`` binds
    exactly __all__."""
    namespace: dict[str, object] = {}
    exec("from kalshi_sync import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == set(kalshi_sync.__all__)
    for name in kalshi_sync.__all__:
        assert getattr(kalshi_sync, name) is namespace[name]


def test_every_event_and_error_is_exported() -> None:
    """Every event type and every exception users may catch is reachable from the package."""
    missing = (set(events.__all__) | set(errors.__all__)) - set(kalshi_sync.__all__)
    assert not missing


def test_stats_has_exactly_the_documented_keys(server: typing.Any, private_pem: bytes) -> None:
    """stats() returns every key of the ClientStats TypedDict, and nothing else."""
    client = make_client(server, private_pem)
    try:
        stats = client.stats()
    finally:
        client.close()
    hints = typing.get_type_hints(kalshi_sync.ClientStats)
    assert set(stats) == set(hints)
    assert kalshi_sync.ClientStats.__required_keys__ == frozenset(hints)
    assert stats["connected"] is False
    assert stats["last_message_age"] is None


# --- library fences ------------------------------------------------------------------------


def test_only_the_fence_imports_websocket_client() -> None:
    """Exactly one module of kalshi_sync imports ``websocket`` (websocket-client); the fake
    server's ``websockets`` is another library and does not count."""
    assert _importers_of("websocket") == {WEBSOCKET_FENCE}


def test_only_the_rest_transport_imports_requests() -> None:
    """Exactly one module of kalshi_sync imports ``requests``: the REST transport."""
    assert _importers_of("requests") == {REQUESTS_FENCE}


def test_every_module_is_classified() -> None:
    """Each module named in the guards exists, and no module is both core and locked."""
    assert {WEBSOCKET_FENCE, REQUESTS_FENCE} <= set(MODULES)
    assert set(SANS_IO) <= set(MODULES)
    assert set(LOCKED) <= set(MODULES)
    assert not SANS_IO & set(LOCKED)


@pytest.mark.parametrize("module", sorted(SANS_IO))
def test_sans_io_module_imports_no_threads_sockets_or_http(module: str) -> None:
    """A core module imports none of threading, websocket, requests, sockets or event loops,
    and at run time only other core modules of the package (so nothing arrives indirectly)."""
    imported = _imports(module)
    forbidden = {imp for imp in imported if imp.split(".")[0] in FORBIDDEN_IN_CORE}
    assert not forbidden, f"{module} imports {sorted(forbidden)}"
    internal = {
        imp
        for imp in _imports(module, runtime_only=True)
        if imp.startswith("kalshi_sync.") and imp in MODULES and imp != module
    }
    outside = internal - SANS_IO
    assert not outside, f"{module} imports non-core modules {sorted(outside)} at run time"


@pytest.mark.parametrize("module", sorted(LOCKED))
def test_locked_module_does_no_io(module: str) -> None:
    """A locked-by-design module may use threading, but no socket, HTTP or websocket
    library."""
    imported = _imports(module)
    io = {imp for imp in imported if imp.split(".")[0] in FORBIDDEN_IN_CORE - {"threading"}}
    assert not io, f"{module} ({LOCKED[module]}) imports {sorted(io)}"


def test_the_scan_sees_imports() -> None:
    """The AST scan finds the imports it guards against (it is not vacuously passing)."""
    assert "websocket" in _imports(WEBSOCKET_FENCE)
    assert "requests" in _imports(REQUESTS_FENCE)
    assert "threading" in _imports("kalshi_sync.orderbook")
    assert "kalshi_sync.models" in _imports("kalshi_sync.protocol")
    assert "kalshi_sync._decoders" in _imports("kalshi_sync.protocol")
    assert importlib.import_module(WEBSOCKET_FENCE) is not None
