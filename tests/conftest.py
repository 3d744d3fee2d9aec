"""Every test gets its own store through QUEUECTL_DB: a real SQLite file in tmp_path, and (for
tests that do not name the SQLite file) a freshly created database on the real PostgreSQL
server as well.  `pytest --backend sqlite|postgres|all` chooses (default: all).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import peewee  # noqa: F401  (imported first, with every driver: tests use both backends)
import pytest
from click.testing import CliRunner

from queuectl import store
from queuectl.cli import cli
from queuectl.execution.reaper import descendants
from queuectl.paths import resolve

PG_ENV = "QUEUECTL_TEST_PG"  # the server's admin URL; its default is this machine's
PG_ADMIN_URL = os.environ.get(PG_ENV, "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ("sqlite", "postgres")


def pytest_addoption(parser):
    parser.addoption(
        "--backend", choices=(*BACKENDS, "all"), default="all", help="the store backend(s) to run the tests against"
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "postgres_only: runs on the PostgreSQL backend only")
    config.addinivalue_line(
        "markers", "empty_database: on PostgreSQL, a database without the schema (not a copy of the migrated template)"
    )


def pytest_generate_tests(metafunc):
    """Run each test on every chosen backend, except tests about the SQLite file itself (they
    ask for db_path), the TUI's (its queries are the store's, tested here on both) and the web
    dashboard's (it serves that TUI)."""
    if "backend" not in metafunc.fixturenames:
        return
    chosen = BACKENDS if metafunc.config.getoption("backend") == "all" else (metafunc.config.getoption("backend"),)
    path = str(metafunc.definition.path)
    sqlite_only = "db_path" in metafunc.fixturenames or "/tests/tui/" in path or "/tests/web/" in path
    if metafunc.definition.get_closest_marker("postgres_only"):
        metafunc.parametrize("backend", [b for b in chosen if b == "postgres"], indirect=True)
    elif not sqlite_only:
        metafunc.parametrize("backend", list(chosen), indirect=True)


@pytest.fixture
def backend(request) -> str:
    """Not parametrized (SQLite-only tests keep their plain ids, which name their snapshots)."""
    return getattr(request, "param", "sqlite")


_pg_names = itertools.count()


@pytest.fixture(scope="session")
def pg_admin():
    """A connection to the PostgreSQL server, or a skip when it cannot be reached."""
    import psycopg2
    from playhouse.db_url import parse

    try:
        conn = psycopg2.connect(**parse(PG_ADMIN_URL), connect_timeout=3)
    except psycopg2.Error as exc:
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL} (set {PG_ENV}): {exc}".strip())
    conn.autocommit = True
    yield conn
    conn.close()


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_template(pg_admin, tmp_path_factory) -> str:
    """A database that queuectl's own migrations gave the schema, once per run.  Each test's
    database is a copy of it (CREATE DATABASE … TEMPLATE): a copy takes about 0.1 s where making
    the schema takes about 0.45 s, some 3 minutes over the suite's PostgreSQL tests.  Tests of a
    store's first open ask for an empty database (the empty_database mark)."""
    name = f"queuectl_test_{os.getpid()}_template"
    with pg_admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {name}")
    os.environ["QUEUECTL_LOGS"] = str(tmp_path_factory.mktemp("template-logs"))
    try:
        store.open_store(resolve(_pg_url(name)))
    finally:
        store.close_store()  # a template is copied only while nobody is connected to it
        del os.environ["QUEUECTL_LOGS"]
    yield name
    with pg_admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(autouse=True)
def store_url(request, backend, tmp_path, monkeypatch) -> str:
    """QUEUECTL_DB for this test: a new SQLite file, or a new PostgreSQL database (a copy of
    the migrated template, or empty for the empty_database mark)."""
    monkeypatch.delenv("QUEUECTL_LOGS", raising=False)
    monkeypatch.delenv("QUEUECTL_HOST_ID", raising=False)
    if backend == "sqlite":
        url = str(tmp_path / "queuectl.db")
    else:
        admin = request.getfixturevalue("pg_admin")
        empty = request.node.get_closest_marker("empty_database") is not None
        template = "" if empty else f" TEMPLATE {request.getfixturevalue('pg_template')}"
        name = f"queuectl_test_{os.getpid()}_{next(_pg_names)}"
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")
            cursor.execute(f"CREATE DATABASE {name}{template}")
        url = _pg_url(name)
        monkeypatch.setenv("QUEUECTL_LOGS", str(tmp_path / "logs"))
    monkeypatch.setenv("QUEUECTL_DB", url)
    yield url
    store.set_clock()
    store.close_store()
    if backend == "postgres":
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db_path(store_url) -> Path:
    """The SQLite file itself (tests that ask for it run on SQLite only)."""
    return Path(store_url)


@pytest.fixture
def opened(store_url):
    """The store opened in this process, for tests that call the engine directly."""
    store.open_store(resolve(store_url))
    return store_url


def snapshot() -> list:
    """Every row of every table, in a stable order: equal snapshots mean an unchanged store."""
    from queuectl import models

    store.open_store(resolve(None))
    rows = []
    for model in models.MODELS:
        query = model.select().order_by(*[getattr(model, f) for f in model._meta.sorted_field_names]).tuples()
        rows.append((model._meta.table_name, list(query)))
    store.close_store()
    return rows


def run_cli(*args: str, input: str | None = None):
    """Run a command in-process (fast); returns click's Result with exit_code/stdout/stderr."""
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def qctl(*args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a command as a real process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "queuectl", *args], input=input, capture_output=True, text=True, timeout=timeout
    )


def start_workers(*args: str) -> subprocess.Popen:
    """`queuectl worker start ARGS` in the background, in its own process group, on a store
    made first (commands that only read, which tests poll at once, never make one).  With
    Python's fault handler on, so that stop() can show where a worker that will not stop is."""
    assert run_cli("init").exit_code == 0
    return subprocess.Popen(
        [sys.executable, "-m", "queuectl", "worker", "start", "--quiet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=dict(os.environ, PYTHONFAULTHANDLER="1"),
    )


def drain(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run workers in burst mode until the queue is empty."""
    result = qctl("worker", "start", "--burst", "--quiet", *args, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result


def stop(proc: subprocess.Popen, timeout: float = 30) -> int:
    """SIGTERM to start_workers' supervisor; its exit status.  One that has not stopped within
    `timeout` fails the test with the stacks of every Python process it started (SIGABRT
    makes the fault handler print them) and what they wrote."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        tree = [proc.pid, *descendants(proc.pid)]
        stuck = subprocess.run(
            ["ps", "-o", "pid,ppid,stat,wchan:20,args", "-p", ",".join(map(str, tree))], capture_output=True, text=True
        ).stdout
        for pid in reversed(tree):  # (each worker leads a group of its own)
            try:
                os.kill(pid, signal.SIGABRT)
            except ProcessLookupError:
                pass
        out, err = proc.communicate(timeout=10)
        pytest.fail(f"the workers did not stop within {timeout}s of SIGTERM\n{stuck}\n{out}\n{err}")


def until(predicate, timeout: float = 20, interval: float = 0.05):
    """Poll until predicate() is truthy: its value, or None after `timeout` (for a test that
    says more than wait_for when it fails)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


def wait_for(predicate, timeout: float = 20, interval: float = 0.05):
    """Poll until predicate() is truthy; returns its value or fails the test."""
    value = until(predicate, timeout, interval)
    if not value:
        pytest.fail(f"condition not met within {timeout}s")
    return value


def job(job_id: str) -> dict:
    result = run_cli("list", "--json", "--limit", "100000")
    assert result.exit_code == 0, result.stderr
    return next(j for j in json.loads(result.stdout) if j["id"] == job_id)


def enqueue(**fields) -> str:
    result = run_cli("enqueue", json.dumps(fields))
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def claim_one(worker_id: str, host: str, queues: tuple[str, ...] = ()):
    """The best runnable job, claimed as a worker claims (store.claim_batch), or None."""
    claims = store.claim_batch(worker_id, host, 1, queues)
    return claims[0] if claims else None


def finish_one(claim, worker_id: str, error: str | None, exit_code: int | None) -> str:
    """One run's end, recorded as a worker records it (store.finish_batch): the job's state after."""
    states, _ = store.finish_batch([store.Finished(claim, error, exit_code)], worker_id, "")
    return states[0]


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
