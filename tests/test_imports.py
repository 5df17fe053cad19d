"""No import circle among the project's own modules (every import statement counts, also inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cli", "flows", "models", "notifications", "portal", "report", "states", "website")


def _modules() -> dict[str, Path]:
    modules = {"settings": ROOT / "settings.py"}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project's modules that ``name`` imports (``from a import b`` counts a.b when it is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found |= {target for target in targets if target in modules and target != name}
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_among_the_projects_modules() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert graph["flows.approval"], "the import graph is empty: the parser is broken"
    assert _cycles(graph) == []


def test_the_domain_imports_no_door_and_not_prefect() -> None:
    """``states`` and ``models`` are plain Python: no portal, flow, CLI or Prefect import, even inside a function."""
    modules = _modules()
    doors = ("portal", "flows", "cli")
    leaks = {name: sorted(target for target in _imports(name, path, modules) if target.split(".")[0] in doors)
             for name, path in modules.items() if name.split(".")[0] in ("states", "models")}
    assert {name: found for name, found in leaks.items() if found} == {}
    prefect = [name for name, path in modules.items() if name.split(".")[0] in ("states", "models")
               and any(isinstance(node, (ast.Import, ast.ImportFrom))
                       and any((alias.name if isinstance(node, ast.Import) else node.module or "").split(".")[0]
                               == "prefect" for alias in node.names)
                       for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))]
    assert prefect == []
