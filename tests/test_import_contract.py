"""The import contract between the engine and the dashboard, read from the source itself: the
engine (queuectl/) never imports Textual at module level (it loads only inside `queuectl tui`),
and the dashboard (tui/) never reaches past the store into the models or peewee."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(absolute module name, imported at module level) for every import in a file."""
    package = ".".join(["queuectl", *path.relative_to(ROOT).parts[1:-1]])
    if path.relative_to(ROOT).parts[0] == "tui":
        package = ".".join(["queuectl.tui", *path.relative_to(ROOT / "tui").parts[:-1]])
    tree = ast.parse(path.read_text(), str(path))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
            found += [(name, id(node) in top) for name in [base, *names]]
    return found


def _files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", _files("queuectl"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_engine_never_imports_textual_at_module_level(path):
    bad = [name for name, top in _imports(path) if top and name.split(".")[0] in ("textual", "textual_serve")]
    bad += [name for name, _ in _imports(path) if name == "tui" or name.startswith("tui.")]
    assert not bad, f"{path.name} imports {bad[0]}"


@pytest.mark.parametrize("path", _files("tui"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_dashboard_never_imports_the_models_or_peewee(path):
    bad = [
        name
        for name, _ in _imports(path)
        if name.split(".")[0] in ("peewee", "playhouse")
        or name == "queuectl.models"
        or name.startswith("queuectl.models.")
    ]
    assert not bad, f"{path.name} imports {bad[0]}"


def test_the_contract_sees_imports():
    """The checks above would pass on an empty list: they must find what is there."""
    names = {name for name, _ in _imports(ROOT / "tui" / "app.py")}
    assert {"textual.app", "queuectl.store", "queuectl.tui.actions"} <= names
    assert ("queuectl.models", True) in _imports(ROOT / "queuectl" / "store" / "jobs.py")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "tui":
        parts = ["queuectl", *parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _import_graph(top_only: bool) -> dict[str, set[str]]:
    """module -> the queuectl modules it imports (at module level only, or anywhere)."""
    modules = {_module_name(path): path for path in _files("queuectl") + _files("tui")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for imported, top in _imports(path):
            if top_only and not top:
                continue
            while imported not in modules and "." in imported:  # a name inside a module
                imported = imported.rsplit(".", 1)[0]
            if imported in modules and imported != name and not name.startswith(imported + "."):
                found.add(imported)
        graph[name] = found
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The circles of the graph: its strongly connected parts of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            part = []
            while not part or part[-1] != node:
                part.append(stack.pop())
            if len(part) > 1:
                found.append(sorted(part))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_among_the_modules():
    """No module imports, at module level, one that imports it back, however far round (issue 23)."""
    graph = _import_graph(top_only=True)
    assert len(graph) > 100 and graph["queuectl.store.jobs"]  # the graph is there
    assert _cycles(graph) == []


def test_no_import_cycle_even_through_deferred_imports():
    """No circle even through the imports inside functions (in the store, workers ↔ counters/hosts
    and logfiles ↔ output were two, models ↔ store a third), and the models and the states never
    import the store back."""
    graph = _import_graph(top_only=False)
    assert _cycles(graph) == []
    for name in ("queuectl.models", "queuectl.states"):
        assert not {m for m in graph[name] if m.startswith("queuectl.store")}, name


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
