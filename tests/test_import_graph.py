"""The import graph of kalshi_sync/ has no cycle, TYPE_CHECKING imports included.

The graph is built from the source's AST (every ``import`` and ``from ... import``, at any
depth, inside ``if TYPE_CHECKING:`` or a function too), so a cycle that only typing creates
fails here as well as one that would fail at import time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import kalshi_sync

PACKAGE = Path(kalshi_sync.__file__).parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (a name imported from a package counts as
    its submodule when one exists)."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node)
                subs = [f"{base}.{alias.name}" for alias in node.names]
                targets = [t for t in subs if t in files]
                if len(targets) < len(subs):  # some names are attributes of base itself
                    targets.append(base)
            for target in targets:
                # A package's __init__ always runs before its submodules: importing a name
                # from one's own ancestor package is no edge of a cycle.
                if target in files and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path of module names (first == last), or None."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_cycle_finder_finds_a_planted_cycle() -> None:
    """The checker itself works: a planted a -> b -> c -> a cycle is reported."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_graph_sees_type_checking_imports() -> None:
    """Imports under ``if TYPE_CHECKING:`` are edges of the graph (pipeline -> connection)."""
    graph = import_graph()
    assert "kalshi_sync.connection" in graph["kalshi_sync.pipeline"]
    assert "kalshi_sync.subscriptions" in graph["kalshi_sync.registry"]


def test_kalshi_sync_import_graph_has_no_cycle() -> None:
    """No module of kalshi_sync/ imports itself back, even only for type checking."""
    graph = import_graph()
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])
