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
