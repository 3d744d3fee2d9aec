"""Every test gets its own store (a real SQLite file in tmp_path) through QUEUECTL_DB."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from queuectl import store
from queuectl.cli import cli
from queuectl.paths import resolve


@pytest.fixture(autouse=True)
def db_path(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "queuectl.db"
    monkeypatch.setenv("QUEUECTL_DB", str(path))
    monkeypatch.delenv("QUEUECTL_LOGS", raising=False)
    monkeypatch.delenv("QUEUECTL_HOST_ID", raising=False)
    yield path
    store.set_clock()
    store.close_store()


@pytest.fixture
def opened(db_path):
    """The store opened in this process, for tests that call the engine directly."""
    store.open_store(resolve(str(db_path)))
    return db_path


def run_cli(*args: str, input: str | None = None):
    """Run a command in-process (fast); returns click's Result with exit_code/stdout/stderr."""
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def qctl(*args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a command as a real process, as a user would."""
    return subprocess.run([sys.executable, "-m", "queuectl", *args], input=input, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def start_workers(*args: str) -> subprocess.Popen:
    """`queuectl worker start ARGS` in the background, in its own process group."""
    return subprocess.Popen([sys.executable, "-m", "queuectl", "worker", "start", "--quiet", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip


def drain(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run workers in burst mode until the queue is empty."""
    result = qctl("worker", "start", "--burst", "--quiet", *args, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result


def stop(proc: subprocess.Popen, timeout: float = 30) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout)


def wait_for(predicate, timeout: float = 20, interval: float = 0.05):
    """Poll until predicate() is truthy; returns its value or fails the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s")


def job(job_id: str) -> dict:
    result = run_cli("list", "--json", "--limit", "100000")
    assert result.exit_code == 0, result.stderr
    return next(j for j in json.loads(result.stdout) if j["id"] == job_id)


def enqueue(**fields) -> str:
    result = run_cli("enqueue", json.dumps(fields))
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False
