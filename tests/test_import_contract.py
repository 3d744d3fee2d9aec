"""The import contract between the engine and the dashboard, read from the source itself: the
engine (queuectl/) never imports Textual at module level (it loads only inside `queuectl tui`),
the dashboard (tui/) never reaches past the store into the models or peewee, and the CLI's
commands and the dashboard change the store only through queuectl/ops.py (one door for writes:
they may call the store's reads, never a function of its WRITES)."""

import ast
import importlib
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(absolute module name, imported at module level) for every import in a file."""
    package = _package(path)
    tree = ast.parse(path.read_text(), str(path))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _base(node, package)
            names = [f"{base}.{alias.name}" for alias in node.names]
            found += [(name, id(node) in top) for name in [base, *names]]
    return found


def _package(path: Path) -> str:
    """The installed package a source file belongs to (tui/ is installed as queuectl.tui)."""
    if path.relative_to(ROOT).parts[0] == "tui":
        return ".".join(["queuectl.tui", *path.relative_to(ROOT / "tui").parts[:-1]])
    return ".".join(["queuectl", *path.relative_to(ROOT).parts[1:-1]])


def _base(node: ast.ImportFrom, package: str) -> str:
    """The absolute module a `from … import` names."""
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    return ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))


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


# -- one door for writes -------------------------------------------------------------------------
#: where a person's commands and the dashboard live: they write through queuectl/ops.py only
OUTSIDE_OPS = [*_files("queuectl/commands"), ROOT / "queuectl" / "tui_commands.py", *_files("tui")]


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        outer = _dotted(node.value)
        return outer and f"{outer}.{node.attr}"
    return None


def _is_store_module(name: str) -> bool:
    """The store package, or one of its modules (the package is flat)."""
    parts = name.split(".")
    return parts[:2] == ["queuectl", "store"] and (
        len(parts) == 2 or (len(parts) == 3 and importlib.util.find_spec(name) is not None)
    )


def store_uses(source: str, package: str) -> list[tuple[int, str, str]]:
    """(line, module, name) for each name this source takes from the store package or one of its
    modules: imported from it (`from queuectl.store import enqueue`), or an attribute of a name
    bound to it (`store.enqueue(…)`, `jobs.enqueue` after `from queuectl.store import jobs`)."""
    tree = ast.parse(source)
    bound: dict[str, str] = {}  # local name -> the store module it is
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_store_module(alias.name):
                    bound[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _base(node, package)
            for alias in node.names:
                if _is_store_module(f"{base}.{alias.name}"):
                    bound[alias.asname or alias.name] = f"{base}.{alias.name}"
                elif _is_store_module(base):
                    uses.append((node.lineno, base, alias.name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _dotted(node.value) in bound:
            uses.append((node.lineno, bound[_dotted(node.value)], node.attr))
    return sorted(uses)


def writes_in(source: str, package: str) -> list[str]:
    """The store functions this source uses that are not the store's READS or CONNECTION: its
    writes, and any function the store has not classified (a new one is a write until it is
    listed as a read)."""
    from queuectl import store

    allowed = store.READS | store.CONNECTION
    found = []
    for line, module, name in store_uses(source, package):
        value = getattr(importlib.import_module(module), name, None)
        if inspect.isfunction(value) and not (name in allowed and value is getattr(store, name)):
            found.append(f"line {line}: {module}.{name}")
    return found


def test_commands_and_the_dashboard_write_only_through_ops():
    bad = [
        f"{path.relative_to(ROOT)} {use}" for path in OUTSIDE_OPS for use in writes_in(path.read_text(), _package(path))
    ]
    assert not bad, "these write to the store themselves; call queuectl/ops.py instead:\n" + "\n".join(bad)


def test_every_store_function_is_a_read_or_a_write():
    """The lists cannot go stale: a new public function of the store must be classified."""
    from queuectl import store

    functions = {name for name in store.__all__ if inspect.isfunction(getattr(store, name))}
    groups = {"WRITES": store.WRITES, "READS": store.READS, "CONNECTION": store.CONNECTION}
    for name in functions:
        assert [g for g, names in groups.items() if name in names] != [], f"store.{name} is in none of {list(groups)}"
        assert len([g for g, names in groups.items() if name in names]) == 1, f"store.{name} is in several groups"
    assert set().union(*groups.values()) == functions, "a listed name is no public function of the store"


def test_the_write_check_sees_writes():
    """It finds writes in every form a file could make them, and lets reads through."""
    source = (
        "from queuectl import store\n"
        "from queuectl.store import jobs, list_jobs, set_config as put\n"
        "from queuectl.store.retention import prune\n"
        "import queuectl.store as s\n"
        "store.enqueue([])\n"
        "store.list_jobs()\n"
        "jobs.set_paused('a', True)\n"
        "s.cancel('a')\n"
        "f = store.retry_dead\n"
    )
    assert writes_in(source, "queuectl.commands") == [
        "line 2: queuectl.store.set_config",
        "line 3: queuectl.store.retention.prune",
        "line 5: queuectl.store.enqueue",
        "line 7: queuectl.store.jobs.set_paused",
        "line 8: queuectl.store.cancel",
        "line 9: queuectl.store.retry_dead",
    ]
    relative = "from .. import store\nfrom ..store.output import ship\nstore.set_config('a', '1')\n"
    assert writes_in(relative, "queuectl.commands") == [
        "line 2: queuectl.store.output.ship",
        "line 3: queuectl.store.set_config",
    ]
    assert writes_in((ROOT / "queuectl" / "ops.py").read_text(), "queuectl")  # ops itself writes


def test_each_command_module_says_which_commands_it_holds():
    """A command's code is found from its name: the module's docstring names each command it
    holds (`dlq retry` for a group's command)."""
    import click

    from queuectl.cli import COMMANDS

    for name, target in COMMANDS.items():
        module_name, attribute = target.split(":")
        module = importlib.import_module(module_name)
        command = getattr(module, attribute)
        names = [f"{name} {sub}" for sub in command.commands] if isinstance(command, click.Group) else []
        for expected in [name, *names]:
            assert f"`{expected}" in (module.__doc__ or ""), f"{module_name}'s docstring does not name `{expected}`"


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
