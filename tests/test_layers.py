"""Layers point one way: no import cycles between hbbatch's modules, nor between its rooms (top-level
packages and modules), counting imports inside functions too (read with ast, nothing is imported), and
imports by name: `importlib.import_module("hbbatch.x")` and `__import__`, an f-string name (every module
under its constant prefix), and a package's lazy names (`from hbbatch.planner import plan`, loaded by the
package's `__getattr__` from its table of names)."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable
from pathlib import Path

import hbbatch

PACKAGE = Path(hbbatch.__file__).resolve().parent
BOTTOM = ("hbbatch.io", "hbbatch.errors", "hbbatch.exit_codes")   # the floor: imports nothing of hbbatch


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _constant_prefix(arg: ast.JoinedStr) -> str:
    return "".join(v.value for v in itertools.takewhile(lambda v: isinstance(v, ast.Constant), arg.values))


def imported_by_name(call: ast.Call, modules: Iterable[str]) -> set[str]:
    """The modules `importlib.import_module(...)` / `__import__(...)` loads: a constant name, or every module
    under an f-string's constant prefix."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "import_module"
            or isinstance(func, ast.Name) and func.id in ("import_module", "__import__")) or not call.args:
        return set()
    arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return {arg.value}
    if isinstance(arg, ast.JoinedStr):
        prefix = _constant_prefix(arg)
        return {m for m in modules if m.startswith(prefix) and m != prefix}
    return set()


def lazy_names(tree: ast.Module, package: str, modules: Iterable[str]) -> dict[str, str]:
    """A package's lazy names -> the module its `__getattr__` loads each from: a module-level table of
    string values ({"plan": "schedule", ...}) joined to the prefix of an f-string import of its own modules."""
    prefixes = {_constant_prefix(n.args[0]) for n in ast.walk(tree)
                if isinstance(n, ast.Call) and n.args and isinstance(n.args[0], ast.JoinedStr) and imported_by_name(n, modules)}
    names: dict[str, str] = {}
    for node in tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(value, ast.Dict):
            for key, target in zip(value.keys, value.values):
                if isinstance(key, ast.Constant) and isinstance(target, ast.Constant):
                    names.update({key.value: f"{p}{target.value}" for p in prefixes
                                  if p.startswith(package + ".") and f"{p}{target.value}" in modules})
    return names


def import_graph() -> dict[str, set[str]]:
    """module -> the hbbatch modules it imports anywhere in its body (an imported package's ancestors, which
    Python imports first anyway, are left out: `hbbatch.config.sim` imports `hbbatch.config`)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py") if "_resources" not in p.parts}
    trees = {name: ast.parse(path.read_text(), str(path)) for name, path in modules.items()}
    lazy = {name: lazy_names(trees[name], name, modules) for name, path in modules.items() if path.name == "__init__.py"}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(trees[name]):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets.add(base)
                targets |= {f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules}
                targets |= {lazy[base][alias.name] for alias in node.names if alias.name in lazy.get(base, {})}
            elif isinstance(node, ast.Call) and not (lazy.get(name) and path.name == "__init__.py"):
                targets |= imported_by_name(node, modules)   # a lazy table's loads count where its names are imported
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


def test_imports_by_name__are_edges_of_the_graph():
    modules = ["hbbatch.campaign", "hbbatch.campaign.job", "hbbatch.campaign.stream", "hbbatch.sim"]
    calls = {'importlib.import_module("hbbatch.campaign.job")': {"hbbatch.campaign.job"},
             '__import__("hbbatch.campaign.job")': {"hbbatch.campaign.job"},
             'import_module(f"hbbatch.campaign.{name}")': {"hbbatch.campaign.job", "hbbatch.campaign.stream"},
             'importlib.import_module(name)': set(), 'print("hbbatch.sim")': set()}
    assert {code: imported_by_name(ast.parse(code).body[0].value, modules) for code in calls} == calls
    package = ast.parse('_EXPORTS = {"plan": "schedule", "x": "nowhere"}\n'
                        'def __getattr__(name):\n    return importlib.import_module(f"hbbatch.planner.{_EXPORTS[name]}")\n')
    assert lazy_names(package, "hbbatch.planner", ["hbbatch.planner", "hbbatch.planner.schedule"]) == {
        "plan": "hbbatch.planner.schedule"}
