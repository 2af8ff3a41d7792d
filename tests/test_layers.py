"""Layers point one way: no import cycles between hbbatch's modules, nor between its rooms (top-level
packages and modules), counting imports inside functions too (read with ast, nothing is imported)."""

from __future__ import annotations

import ast
from pathlib import Path

import hbbatch

PACKAGE = Path(hbbatch.__file__).resolve().parent
BOTTOM = ("hbbatch.io", "hbbatch.errors", "hbbatch.exit_codes")   # the floor: imports nothing of hbbatch


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the hbbatch modules it imports anywhere in its body (an imported package's ancestors, which
    Python imports first anyway, are left out: `hbbatch.config.sim` imports `hbbatch.config`)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py") if "_resources" not in p.parts}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets.add(base)
                targets |= {f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules}
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        graph[name] = {t for t in targets if t in modules and t != name and t not in ancestors}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def room(module: str) -> str:
    return ".".join(module.split(".")[:2])


def room_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    rooms: dict[str, set[str]] = {}
    for source, targets in graph.items():
        rooms.setdefault(room(source), set()).update(room(t) for t in targets if room(t) != room(source))
    rooms.pop("hbbatch", None)   # the package's __init__ (its version) is not a room
    return rooms


def _examples(graph: dict[str, set[str]], component: list[str], key=lambda m: m) -> str:
    members = set(component)
    return "; ".join(f"{a} -> {b}" for a in sorted(graph) for b in sorted(graph[a])
                     if key(a) in members and key(b) in members and key(a) != key(b))[:600]


def test_no_module_imports_itself_back_through_others():
    graph = import_graph()
    assert [(c, _examples(graph, c)) for c in cycles(graph)] == []


def test_no_room_imports_a_room_that_imports_it_back():
    graph = import_graph()
    assert [(c, _examples(graph, c, room)) for c in cycles(room_graph(graph))] == []


def test_the_floor_imports_nothing_of_hbbatch():
    graph = import_graph()
    assert {m: sorted(graph[m]) for m in BOTTOM if graph.get(m)} == {}


def test_cycles__finds_one_hidden_in_a_function():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
