"""Child Python processes run the installed queuectl wherever they start: a folder called
`queuectl/` in the current directory (a checkout's root) never shadows it."""

from __future__ import annotations

import subprocess

import pytest
from conftest import enqueue, job

from queuectl.execution import childproc


@pytest.fixture
def shadowing_folder(tmp_path):
    """A current folder whose `queuectl/` is not the installed package."""
    fake = tmp_path / "queuectl"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise SystemExit('the current folder shadowed the installed package')\n")
    (fake / "__main__.py").write_text("")
    return tmp_path


@pytest.mark.parametrize("safe_path_flag", [True, False], ids=["python -P", "runpy without sys.path[0]"])
def test_a_child_runs_the_installed_package(shadowing_folder, monkeypatch, safe_path_flag):
    monkeypatch.setattr(childproc, "_HAS_SAFE_PATH", safe_path_flag)
    argv = childproc.python_module("queuectl", "--version")
    result = subprocess.run(argv, cwd=shadowing_folder, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("queuectl "), result.stderr


def test_workers_and_their_guard_start_from_a_shadowing_folder(shadowing_folder):
    enqueue(id="from-here", command="true")
    result = subprocess.run(
        childproc.python_module("queuectl", "worker", "start", "--burst", "--quiet"),
        cwd=shadowing_folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert job("from-here")["state"] == "completed"
