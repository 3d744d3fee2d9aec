"""Upgrades lose nothing (issue 27): stores made by each earlier release (tests/fixtures/schema_vN.*,
made from the real releases by tests/fixtures/make_fixtures.py) are opened by today's queuectl,
which keeps every row, answers as the old release did, and keeps its counters true; an
interrupted or failed upgrade leaves the store as it was; a worker facing a newer schema on
PostgreSQL does what the README's "Upgrading" section says."""

from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import pid_alive, qctl, run_cli, start_workers, stop, wait_for

from queuectl.models import SCHEMA_VERSION

pytestmark = pytest.mark.empty_database  # (PostgreSQL: the fixture's dump makes the schema)

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = "/QUEUECTL_FIXTURE_ROOT"  # (make_fixtures.py: where the old release's folder was)
VERSIONS = sorted(int(p.name.split(".")[0][len("schema_v") :]) for p in FIXTURES.glob("schema_v*.sqlite.sql.gz"))


class Raw:
    """The store's tables as rows, read without queuectl (so that nothing migrates them)."""

    def __init__(self, url: str, backend: str):
        self.url, self.backend = url, backend

    def execute(self, sql: str) -> list[tuple]:
        if self.backend == "sqlite":
            with sqlite3.connect(self.url) as conn:
                return conn.execute(sql).fetchall()
        import psycopg2
        from playhouse.db_url import parse

        conn = psycopg2.connect(**parse(self.url))
        try:
            with conn, conn.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall() if cursor.description else []
        finally:
            conn.close()

    def tables(self) -> dict[str, list[dict]]:
        if self.backend == "sqlite":
            names = [n for (n,) in self.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        else:
            names = [n for (n,) in self.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return {name: self.rows(name) for name in names}

    def rows(self, table: str) -> list[dict]:
        if self.backend == "sqlite":
            with sqlite3.connect(self.url) as conn:
                conn.row_factory = sqlite3.Row
                return [dict(row) for row in conn.execute(f'SELECT * FROM "{table}"')]
        import psycopg2
        import psycopg2.extras
        from playhouse.db_url import parse

        conn = psycopg2.connect(**parse(self.url))
        try:
            with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
                cursor.execute(f'SELECT * FROM "{table}"')
                return [{k: bytes(v) if isinstance(v, memoryview) else v for k, v in row.items()} for row in cursor]
        finally:
            conn.close()

    def version(self) -> int:
        return int(self.execute("SELECT value FROM setting WHERE key = 'schema_version'")[0][0])


def load(version: int, backend: str, store_url: str, tmp_path: Path, monkeypatch) -> dict:
    """The fixture's store at store_url, its log files in tmp_path; what the old release printed."""
    stem = FIXTURES / f"schema_v{version}.{backend}"
    dump = gzip.decompress(Path(f"{stem}.sql.gz").read_bytes()).decode().replace(ROOT, str(tmp_path))
    Raw(store_url, backend).execute("SELECT 1")  # (the database exists)
    if backend == "sqlite":
        with sqlite3.connect(store_url) as conn:
            conn.executescript(dump)
    else:
        Raw(store_url, backend).execute(dump)
    with tarfile.open(f"{stem}.logs.tar.gz") as tar:
        tar.extractall(tmp_path)
    monkeypatch.setenv("QUEUECTL_LOGS", str(tmp_path / "logs"))
    return json.loads(gzip.decompress(Path(f"{stem}.json.gz").read_bytes()).decode().replace(ROOT, str(tmp_path)))[
        "commands"
    ]


def _sorted(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True, default=str))


@pytest.mark.parametrize("version", VERSIONS)
def test_a_store_of_each_earlier_schema_keeps_every_row_and_answer(version, backend, store_url, tmp_path, monkeypatch):
    recorded = load(version, backend, store_url, tmp_path, monkeypatch)
    raw = Raw(store_url, backend)
    before = raw.tables()
    opened = qctl("status")  # the first command of the new version upgrades the store
    assert opened.returncode == 0 and opened.stderr == "", opened.stderr
    assert raw.version() == SCHEMA_VERSION
    after = raw.tables()
    # every row of every table, in every column it had (job_count is recounted, below)
    for table, rows in before.items():
        if table == "job_count":
            continue
        kept = [{column: row[column] for column in rows[0]} for row in after[table]] if rows else []
        if table == "setting":  # (the version changes, a key is added)
            old_keys = {row["key"] for row in rows} - {"schema_version"}
            kept = [row for row in kept if row["key"] in old_keys]
            rows = [row for row in rows if row["key"] in old_keys]
        assert _sorted(kept) == _sorted(rows), table
    assert len(after["attempt"]) == len(before["attempt"]) >= 9
    # the counters agree with a full count of the rows
    counted = raw.execute("SELECT queue, state, COUNT(*) FROM job GROUP BY queue, state")
    kept = raw.execute("SELECT queue, state, SUM(n) FROM job_count GROUP BY queue, state HAVING SUM(n) <> 0")
    assert sorted(counted) == sorted((q, s, int(n)) for q, s, n in kept)
    finished = raw.execute(
        "SELECT queue, state, COUNT(*) FROM job WHERE state IN ('completed', 'dead', 'cancelled') GROUP BY queue, state"
    )
    metric = raw.execute(
        "SELECT queue, label, SUM(n) FROM metric_count WHERE name = 'jobs_finished' GROUP BY queue, label"
    )
    assert sorted(finished) == sorted((q, s, int(n)) for q, s, n in metric)
    # the same answers as the old release gave, apart from new fields
    for command, old in recorded.items():
        args = command.split()
        if old["exit"] != 0 or args[0] not in ("show", "logs", "list", "dlq", "metrics", "status"):
            continue
        new = run_cli(*args)
        assert new.exit_code == 0, (command, new.stderr)
        if args[0] == "logs":
            assert new.stdout == old["stdout"], command
            continue
        was, now = old["json"], json.loads(new.stdout)
        if args[0] in ("status", "metrics"):  # (workers, rates: live figures, not history)
            assert now["jobs"] == {**now["jobs"], **was["jobs"]}, command
            for key in set(was) & {"total", "success_rate", "avg_runtime_s", "p95_runtime_s"}:
                assert now[key] == was[key], (command, key)
            continue
        assert isinstance(was, dict) or len(was) == len(now), command
        for old_job, new_job in zip(was if isinstance(was, list) else [was], now if isinstance(now, list) else [now]):
            # (new fields allowed at every level: an attempt of `show --json` may have new ones too)
            old_runs, new_runs = old_job.get("attempts"), new_job.get("attempts")
            if isinstance(old_runs, list):
                assert len(new_runs) == len(old_runs), command
                assert all(new == {**new, **old} for old, new in zip(old_runs, new_runs)), command
                old_job = {**old_job, "attempts": new_runs}
            assert new_job == {**new_job, **old_job}, command


def test_logs_of_a_job_whose_attempts_were_lost_say_so(backend, store_url, tmp_path, monkeypatch):
    """A job that ran but has no attempt row (lost by an upgrade before this fix) is never
    described as not run yet."""
    load(VERSIONS[-1], backend, store_url, tmp_path, monkeypatch)
    assert qctl("status").returncode == 0
    Raw(store_url, backend).execute("DELETE FROM attempt WHERE job_seq = (SELECT seq FROM job WHERE id = 'done')")
    result = run_cli("logs", "done")
    assert result.stderr == "job 'done' is completed: no attempt recorded\n"


def _migrating(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "queuectl", "status"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_a_migration_killed_midway_leaves_the_old_store_and_its_copy(backend, store_url, tmp_path, monkeypatch):
    """SIGKILL while the upgrade sleeps between two steps (a test hook): the store is the old
    one, whole; the next command upgrades it; on SQLite the copy made first opens as the old store."""
    from queuectl.store.migrations import STEP_PAUSE_ENV, backup_path

    load(1, backend, store_url, tmp_path, monkeypatch)
    raw = Raw(store_url, backend)
    before = raw.tables()
    proc = _migrating(dict(os.environ, **{STEP_PAUSE_ENV: "30"}))
    copy = backup_path(Path(store_url), 1)
    wait_for(lambda: proc.poll() is None and _stepped(raw, backend), timeout=20)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert raw.tables() == before and raw.version() == 1
    if backend == "sqlite":
        assert Raw(str(copy), "sqlite").tables() == before
        assert copy.stat().st_mode & 0o777 == 0o600
    again = qctl("status")
    assert again.returncode == 0 and raw.version() == SCHEMA_VERSION, again.stderr
    assert len(raw.rows("attempt")) == len(before["attempt"])


def _stepped(raw: Raw, backend: str) -> bool:
    """True once the migration wrote in its open transaction and sleeps after a step:
    PostgreSQL, the backend that holds the schema lock is idle in its transaction; SQLite (the
    fixture's store is not in WAL mode yet), the rollback journal of its writes exists."""
    if backend == "postgres":
        return bool(
            raw.execute(
                "SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.objid = 7274706 AND l.granted "
                "AND a.state = 'idle in transaction'"
            )
        )
    return Path(raw.url + "-journal").exists()


def test_a_failed_migration_leaves_the_store_as_it_was_and_names_the_copy(db_path, tmp_path, monkeypatch):
    """A step that fails: one line naming the copy, the store unchanged, the copy the only one."""
    from queuectl.store.migrations import backup_path

    load(5, "sqlite", str(db_path), tmp_path, monkeypatch)
    stale = backup_path(db_path, 3)
    stale.write_bytes(b"an older upgrade's copy")
    raw = Raw(str(db_path), "sqlite")
    raw.execute("CREATE TRIGGER refuse BEFORE DELETE ON job_count BEGIN SELECT RAISE(ABORT, 'refused by a test'); END")
    before = raw.tables()
    result = qctl("status")
    copy = backup_path(db_path, 5)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: upgrading the store from schema 5 to {SCHEMA_VERSION} failed (refused by a test); "
        f"the store is unchanged, and a copy of it is at {copy}\n"
    )
    assert raw.tables() == before and raw.version() == 5
    assert Raw(str(copy), "sqlite").tables() == before and not stale.exists()


def _newer_schema(version: int, oldest: int) -> None:
    """The store as another host's newer queuectl would leave it."""
    compatibility = json.dumps({"schema": version, "oldest": oldest})
    Raw(os.environ["QUEUECTL_DB"], "postgres").execute(
        f"UPDATE setting SET value = '{version}' WHERE key = 'schema_version'; "
        f"UPDATE setting SET value = '{compatibility}' WHERE key = 'schema_compatibility'"
    )


@pytest.mark.postgres_only
def test_a_running_worker_stops_when_another_host_makes_the_schema_incompatible(backend, store_url):
    """Another host upgrades the store to a schema this worker must not use: at its next
    heartbeat it stops with one line naming both versions (and its supervisor does not restart
    it); commands refuse the store the same way."""
    workers = start_workers("--count", "2")
    assert run_cli("enqueue", '{"id": "long", "command": "sleep 300"}').exit_code == 0
    raw = Raw(store_url, backend)
    pgid = wait_for(lambda: raw.execute("SELECT pgid FROM attempt WHERE pgid IS NOT NULL"))[0][0]
    newer = SCHEMA_VERSION + 1
    _newer_schema(newer, newer)
    try:
        code = workers.wait(timeout=20)
    except subprocess.TimeoutExpired:
        stop(workers)
        pytest.fail("the workers kept running on an incompatible schema")
    says = (
        f"Error: the store at {store_url} has schema version {newer}, which needs queuectl of schema {newer} "
        f"or later; this queuectl has schema {SCHEMA_VERSION}: upgrade queuectl on this host"
    )
    assert code != 0 and says in workers.stderr.read()
    result = qctl("status")
    assert (result.returncode, result.stderr) == (1, says + "\n")
    # its running job was killed, and nothing written about it: the upgraded hosts retry it
    # when its lease runs out
    wait_for(lambda: not pid_alive(pgid))
    assert raw.execute("SELECT j.state, a.finished_at FROM job j JOIN attempt a ON a.job_seq = j.seq") == [
        ("processing", None)
    ]


@pytest.mark.postgres_only
def test_a_worker_keeps_working_on_a_newer_compatible_schema(backend, store_url):
    """A newer schema whose steps since ours are all compatible is used as it is."""
    assert run_cli("init").exit_code == 0
    _newer_schema(SCHEMA_VERSION + 1, SCHEMA_VERSION)
    assert run_cli("enqueue", '{"id": "a", "command": "echo on-newer"}').exit_code == 0
    result = qctl("worker", "start", "--burst", "--quiet")
    assert result.returncode == 0, result.stderr
    assert run_cli("logs", "a").stdout.endswith("on-newer\n\n=== STDERR ===\n\n")


def test_a_store_that_an_earlier_upgrade_left_without_triggers_gets_them_back(db_path, tmp_path, monkeypatch):
    """Releases before this fix rebuilt `job` on SQLite, which dropped its counting and metric
    triggers: the next upgrade makes them again, so the counters stay true afterwards."""
    load(VERSIONS[-1], "sqlite", str(db_path), tmp_path, monkeypatch)
    raw = Raw(str(db_path), "sqlite")
    triggers = "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
    made = raw.execute(triggers)
    for (name,) in made:
        raw.execute(f"DROP TRIGGER {name}")
    assert qctl("status").returncode == 0
    assert raw.execute(triggers) == made
    assert run_cli("dlq", "retry", "flaky").exit_code == 0
    counts = json.loads(run_cli("status", "--json").stdout)["jobs"]
    assert (counts["dead"], counts["pending"]) == (0, 3 + 1)


def test_the_copy_is_named_on_a_terminal_and_owner_only(db_path, tmp_path, monkeypatch):
    """On a terminal, the upgrade says where the copy of the old store is; the copy holds it."""
    import pty

    from queuectl.store.migrations import backup_path

    load(1, "sqlite", str(db_path), tmp_path, monkeypatch)
    before = Raw(str(db_path), "sqlite").tables()
    leader, follower = pty.openpty()
    with os.fdopen(leader, "rb", buffering=0) as terminal:
        proc = subprocess.run([sys.executable, "-m", "queuectl", "status"], stderr=follower, stdout=subprocess.DEVNULL)
        os.close(follower)
        said = terminal.read(4096).decode()
    copy = backup_path(db_path, 1)
    assert proc.returncode == 0
    assert said == f"queuectl: upgrading the store from schema 1; its copy before the upgrade: {copy}\r\n"
    assert copy.stat().st_mode & 0o777 == 0o600 and Raw(str(copy), "sqlite").tables() == before


def test_two_hosts_opening_an_old_store_at_once_upgrade_it_once(backend, store_url, tmp_path, monkeypatch):
    """The upgrade runs under the store's write lock (SQLite) or schema lock (PostgreSQL), and
    the second process finds it done."""
    load(2, backend, store_url, tmp_path, monkeypatch)
    raw = Raw(store_url, backend)
    attempts = len(raw.rows("attempt"))
    both = [_migrating(dict(os.environ)) for _ in range(2)]
    results = [(proc.wait(timeout=60), proc.stderr.read()) for proc in both]
    assert results == [(0, ""), (0, "")]
    assert raw.version() == SCHEMA_VERSION and len(raw.rows("attempt")) == attempts
