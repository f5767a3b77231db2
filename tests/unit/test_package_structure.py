"""The package's shape: no import cycle under src/albrules, thin functions, a CLI package
whose command modules never import its ``__init__``.

Imports are read from the source (every ``import`` statement, those inside functions too), so a
cycle that a lazy import hides at import time is still one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
FUNCTIONS = ROOT / "functions"


def module_files() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for file in SRC.rglob("*.py"):
        parts = list(file.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = file
    return mods


def imported_modules(name: str, file: Path, mods: dict[str, Path]) -> set[str]:
    """The project modules that ``name`` imports, anywhere in its source."""
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")
                up = up[: len(up) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            # ``from pkg import x`` imports pkg itself, and x when x is a module.
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for imported in names:
            while imported and imported not in mods:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                found.add(imported)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = module_files()
    return {name: imported_modules(name, file, mods) for name, file in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_a_lazy_import_is_still_an_import(tmp_path: Path) -> None:
    file = tmp_path / "mod.py"
    file.write_text("def f():\n    from albrules.local import stepfunctions\n")
    mods = {"albrules.local": file, "albrules.local.stepfunctions": file, "x": file}
    assert imported_modules("x", file, mods) == {"albrules.local", "albrules.local.stepfunctions"}


def test_no_import_cycle_under_src_albrules() -> None:
    assert cycles(import_graph()) == []


def test_no_cli_module_imports_the_cli_package_itself() -> None:
    graph = import_graph()
    offenders = sorted(
        name
        for name, imported in graph.items()
        if name.startswith("albrules.cli.") and name != "albrules.cli.__main__"
        if "albrules.cli" in imported
    )
    assert offenders == []


def test_the_library_never_imports_the_cli() -> None:
    graph = import_graph()
    offenders = sorted(
        name
        for name, imported in graph.items()
        if not name.startswith("albrules.cli")
        if any(m == "albrules.cli" or m.startswith("albrules.cli.") for m in imported)
    )
    assert offenders == []


@pytest.mark.parametrize("app", sorted(FUNCTIONS.glob("*/app.py")), ids=lambda p: p.parent.name)
def test_each_function_is_a_thin_door(app: Path) -> None:
    """A few lines: parse the event, call one use case in albrules.tasks, return its result."""
    tree = ast.parse(app.read_text())
    handlers = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert [h.name for h in handlers] == ["handler"]
    body = [n for n in handlers[0].body if not isinstance(n, ast.Expr)]  # docstrings aside
    assert len(body) <= 3, f"{app} does more than call one use case"
    tasks = {
        node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("albrules.")
    }
    use_cases = {m for m in tasks if m.startswith("albrules.tasks.")} - {"albrules.tasks.runtime"}
    assert len(use_cases) == 1, f"{app} calls use cases from {sorted(use_cases)}"
    assert len(app.read_text().splitlines()) <= 25
