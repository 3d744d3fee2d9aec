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


#: the shape of a database's schema (tables, columns, defaults, indexes, constraints, triggers,
#: functions, grants, schemas, extensions, per-database settings): equal -> same schema
_SHAPE_SQL = """
SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
  SELECT 'c:' || c.relname || ':' || c.relkind::text || ':' || coalesce(c.relacl::text, '')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
  UNION ALL SELECT 'a:' || c.relname || '.' || a.attname || ':' || a.atttypid || ':' || a.attnotnull || ':'
      || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL SELECT 'i:' || indexrelid::regclass::text || ':' || pg_get_indexdef(indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public'
  UNION ALL SELECT 'k:' || conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint
    WHERE connamespace = 'public'::regnamespace
  UNION ALL SELECT 't:' || tgname || ':' || tgenabled::text || ':' || pg_get_triggerdef(oid) FROM pg_trigger
    WHERE NOT tgisinternal
  UNION ALL SELECT 'p:' || proname || ':' || md5(prosrc) FROM pg_proc WHERE pronamespace = 'public'::regnamespace
  UNION ALL SELECT 'n:' || nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
  UNION ALL SELECT 'e:' || extname FROM pg_extension
  UNION ALL SELECT 's:' || array_to_string(setconfig, ';') FROM pg_db_role_setting
    WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
) AS shape(x)
"""


class PgDatabases:
    """Each PostgreSQL test's database: the previous test's one, emptied back to the template's
    rows, where its schema is still the template's (about 30 ms), else a new copy of the
    template (CREATE DATABASE … TEMPLATE and, later, its DROP: about 0.4 s, some 4 minutes over
    the suite's PostgreSQL tests).

    Between two tests the database is renamed, after every connection to it has ended: a
    process a test left running (a worker it did not stop) cannot reconnect and write into the
    next test's store, as it could not when each database was dropped."""

    def __init__(self, admin, template: str) -> None:
        import psycopg2
        from playhouse.db_url import parse

        self.admin, self.template, self.spare = admin, template, None
        self.connect = lambda name: psycopg2.connect(**parse(_pg_url(name)))
        conn = self.connect(template)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
                self.tables = [name for (name,) in cursor.fetchall()]
                cursor.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
                self.sequences = [name for (name,) in cursor.fetchall()]
                self.rows = {}
                for table in self.tables:
                    cursor.execute(f'SELECT * FROM "{table}"')
                    rows = cursor.fetchall()
                    if rows:
                        self.rows[table] = ([c.name for c in cursor.description], rows)
                cursor.execute(_SHAPE_SQL)
                (self.shape,) = cursor.fetchone()
        finally:
            conn.close()

    def fresh(self, name: str) -> None:
        """A database `name` as the template made it: the spare one renamed and emptied, or a copy."""
        old, self.spare = self.spare, None
        if old is not None:
            if self._take_over(old, name):
                return
            with self.admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {old} WITH (FORCE)")
                cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        with self.admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name} TEMPLATE {self.template}")

    def done(self, name: str) -> None:
        """The test is over: its database is the next test's spare (the previous spare, if
        the test did not take it, is dropped)."""
        if self.spare is not None:
            self.drop(self.spare)
        self.spare = name

    def drop(self, name: str) -> None:
        with self.admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def _take_over(self, old: str, name: str) -> bool:
        import psycopg2

        try:
            with self.admin.cursor() as cursor:
                for _ in range(200):  # (a backend ends a moment after it is told to)
                    cursor.execute(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s", (old,)
                    )
                    if cursor.fetchone()[0] == 0:
                        break
                    time.sleep(0.01)
                cursor.execute(f"ALTER DATABASE {old} RENAME TO {name}")
            conn = self.connect(name)
        except psycopg2.Error:
            return False
        try:
            with conn.cursor() as cursor:
                cursor.execute(_SHAPE_SQL)
                if cursor.fetchone()[0] != self.shape:
                    return False  # the test changed the schema: a new copy
                # DELETE, not TRUNCATE (which gives every table new files: ~5 ms each), with the
                # triggers (the counters', the foreign keys') off for this session
                cursor.execute("SET session_replication_role = replica")
                for table in self.tables:
                    cursor.execute(f'DELETE FROM "{table}"')
                for sequence in self.sequences:
                    cursor.execute(f'ALTER SEQUENCE "{sequence}" RESTART')
                for table, (columns, rows) in self.rows.items():
                    marks = ", ".join(["%s"] * len(columns))
                    names = ", ".join(f'"{c}"' for c in columns)
                    cursor.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)
                cursor.execute("SET session_replication_role = DEFAULT")
            conn.commit()
            return True
        except psycopg2.Error:
            return False
        finally:
            conn.close()


@pytest.fixture(scope="session")
def pg_databases(pg_admin, pg_template):
    databases = PgDatabases(pg_admin, pg_template)
    yield databases
    if databases.spare is not None:
        databases.drop(databases.spare)


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
        databases = None if empty else request.getfixturevalue("pg_databases")
        name = f"queuectl_test_{os.getpid()}_{next(_pg_names)}"
        if databases is None:
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {name}")
                cursor.execute(f"CREATE DATABASE {name}")
        else:
            databases.fresh(name)
        url = _pg_url(name)
        monkeypatch.setenv("QUEUECTL_LOGS", str(tmp_path / "logs"))
    monkeypatch.setenv("QUEUECTL_DB", url)
    yield url
    store.set_clock()
    store.close_store()
    if backend == "postgres" and databases is not None:
        databases.done(name)
    elif backend == "postgres":
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
