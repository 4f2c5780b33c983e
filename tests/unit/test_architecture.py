"""The import structure of `src/erpo`: no cycle between erpo modules, and stage modules that say
what they depend on at the top.

Function-level imports count as edges too: hiding a cycle inside a function keeps Python from
failing at import time, not the two modules from depending on each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "erpo"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(node: ast.AST, importer: str) -> list[str]:
    """The erpo modules one import statement names (`from erpo.x import y` names erpo.x.y when that
    is a module, else erpo.x)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in MODULES]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:   # relative: resolved against the importing module's package
        package = importer.split(".") if importer in _PACKAGES else importer.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([base] if base else []))
    found = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
    return found or ([base] if base in MODULES else [])


_PACKAGES = {name for name, path in MODULES.items() if path.name == "__init__.py"}


def import_edges() -> dict[str, list[tuple[str, int, bool]]]:
    """{module: [(imported erpo module, line, inside a function)]} for every erpo module."""
    edges: dict[str, list[tuple[str, int, bool]]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = []
        for node in ast.walk(tree):
            for target in imported_modules(node, name):
                if target != name:
                    found.append((target, node.lineno, node.col_offset > 0))
        edges[name] = found
    return edges


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_path(graph, set(c)) for c in components]


def _cycle_path(graph: dict[str, set[str]], members: set[str]) -> list[str]:
    """A concrete cycle inside one strongly connected component, for the failure message."""
    start = min(members)
    path, seen = [start], {start}
    while True:
        nxt = min(n for n in graph[path[-1]] if n in members)
        if nxt in seen:
            return path[path.index(nxt):] + [nxt]
        path.append(nxt)
        seen.add(nxt)


def test_no_import_cycle_between_erpo_modules():
    graph = {name: {target for target, _, _ in found} for name, found in import_edges().items()}
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join("  " + " -> ".join(c) for c in cycles)


def test_stage_modules_import_erpo_modules_at_module_top():
    inside = [f"{name}:{line} imports {target}" for name, found in import_edges().items()
              if name.startswith("erpo.stages.") for target, line, nested in found if nested]
    assert not inside, "function-level imports of erpo modules in erpo.stages:\n" + "\n".join(inside)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
