"""Stores that are not ours, damaged, or planted by another local user.

A foreign SQLite file stays byte for byte what it was, whatever command is pointed at it; a
command that only reads creates nothing; a damaged store (garbage pages, a dropped table) is
one `Error:` line naming PRAGMA integrity_check, and workers stop instead of retrying forever;
files and links another user planted where we would write are refused.
"""

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest
from conftest import qctl

READ_ONLY = [
    ["status"],
    ["status", "--json"],
    ["list"],
    ["list", "--json"],
    ["metrics"],
    ["show", "j1"],
    ["logs", "j1"],
    ["wait", "j1", "--timeout", "1"],
    ["worker", "list"],
    ["queue", "list"],
    ["schedule", "list"],
    ["dlq", "list"],
    ["config", "show"],
    ["prune", "--older-than", "1d", "--dry-run"],
    ["dlq", "retry", "--all", "--dry-run"],
]
WRITES = [
    ["init"],
    ["enqueue", '{"command": "true"}'],
    ["worker", "start", "--burst"],
    ["config", "set", "max_retries", "1"],
]
NOBODY = 65534

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="planting files as another user needs root")


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_error_line(result, *needles: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_a_foreign_sqlite_file_is_left_byte_for_byte(db_path, tmp_path, journal):
    """Every command refuses another application's database and changes nothing in it."""
    foreign = tmp_path / "app.db"
    conn = sqlite3.connect(foreign)
    conn.execute(f"PRAGMA journal_mode={journal}")
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.commit()
    conn.close()
    before, files = _digest(foreign), sorted(os.listdir(tmp_path))
    for command in READ_ONLY + WRITES:
        result = qctl("--db", str(foreign), *command)
        _one_error_line(result, "is not a queuectl store")
        assert _digest(foreign) == before, command
        assert sorted(os.listdir(tmp_path)) == files, command


def test_a_read_only_command_creates_no_store(db_path, tmp_path):
    """Where there is no store, reading gives the empty answer (exit 0; a job named is not
    found, exit 1) and makes no file or folder."""
    missing = tmp_path / "nothing-here" / "q.db"
    for command in READ_ONLY:
        result = qctl("--db", str(missing), *command)
        if "j1" in command:
            _one_error_line(result, "no job 'j1'")
        else:
            assert result.returncode == 0 and result.stderr in ("", "nothing to delete\n", "no dead job matches\n"), (
                command,
                result.stderr,
            )
    assert json.loads(qctl("--db", str(missing), "status", "--json").stdout)["jobs"]["pending"] == 0
    assert json.loads(qctl("--db", str(missing), "list", "--json").stdout) == []
    assert not missing.parent.exists()


def _store_with_jobs(path, n: int) -> None:
    lines = "".join(json.dumps({"id": f"j{i}", "command": "true"}) + "\n" for i in range(n))
    assert qctl("--db", str(path), "enqueue", "-", input=lines).returncode == 0


def test_a_store_with_garbage_pages_stops_init_and_workers(db_path):
    """quick_check at `init` and at worker start finds the damage: one line, no retry loop."""
    path = db_path
    _store_with_jobs(path, 3000)
    pages = path.stat().st_size // 4096
    with open(path, "r+b") as f:
        f.seek(pages // 2 * 4096)
        f.write(os.urandom(3 * 4096))
    _one_error_line(qctl("--db", str(path), "init"), "is damaged", "PRAGMA integrity_check")
    started = time.monotonic()
    result = qctl("--db", str(path), "worker", "start", "--burst", timeout=30)
    _one_error_line(result, "is damaged", "PRAGMA integrity_check")
    assert time.monotonic() - started < 10
    for command in (["status"], ["list", "--limit", "5000"], ["enqueue", '{"command": "true"}']):
        result = qctl("--db", str(path), *command)  # it may not touch a damaged page; never a traceback
        assert result.returncode in (0, 1) and "Traceback" not in result.stderr
        if result.returncode:
            _one_error_line(result, "is damaged")


def test_a_dropped_table_stops_commands_and_running_workers(db_path):
    """A store without its job table is damaged: commands say so, and workers that were running
    stop (their supervisor with them, exit 1) instead of retrying forever."""
    path = db_path
    _store_with_jobs(path, 3)
    workers = subprocess.Popen(
        [sys.executable, "-m", "queuectl", "--db", str(path), "worker", "start", "--count", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        time.sleep(2)
        conn = sqlite3.connect(path)
        conn.execute("DROP TABLE job")
        conn.commit()
        conn.close()
        out, err = workers.communicate(timeout=20)
    finally:
        if workers.poll() is None:
            os.killpg(workers.pid, 9)
    assert workers.returncode == 1, (out, err)
    assert "Traceback" not in err and out.count("store error, retrying") < 5, (out, err)
    assert "is damaged" in err and "stopping every worker" in out
    for command in (["status"], ["list"], ["init"], ["worker", "start", "--burst"]):
        _one_error_line(qctl("--db", str(path), *command), "is damaged", "its table(s) job are missing")


def test_a_run_folder_that_cannot_be_made_is_one_line(db_path, tmp_path):
    path = db_path
    _store_with_jobs(path, 1)
    (tmp_path / "run").write_text("")
    _one_error_line(qctl("--db", str(path), "worker", "start", "--burst", timeout=30), "the run folder", "not a folder")


@needs_root
@pytest.mark.parametrize("planted", ["store", "journal", "folder", "logs", "run", "writable", "link"])
def test_a_planted_store_is_refused(db_path, tmp_path, planted):
    """Store, journal, folder, logs/ and run/ must be ours and writable by us alone; a link at
    the store path is never followed.  Nothing runs."""
    home = tmp_path / "shared"
    home.mkdir(mode=0o700)
    path = home / "q.db"
    marker = tmp_path / "ran"
    lines = json.dumps({"id": "evil", "command": f"touch {marker}"}) + "\n"
    assert qctl("--db", str(path), "enqueue", "-", input=lines).returncode == 0
    target = {"store": path, "journal": home / "q.db-wal", "folder": home, "logs": home / "logs", "run": home / "run"}
    if planted in ("logs", "run"):
        target[planted].mkdir()
    if planted == "journal":
        target[planted].write_bytes(b"")
    if planted == "writable":
        path.chmod(0o666)
    elif planted == "link":
        path.rename(home / "real.db")
        path.symlink_to(home / "real.db")
    else:
        os.chown(target[planted], NOBODY, NOBODY)
    for command in (["status"], ["enqueue", '{"command": "true"}'], ["worker", "start", "--burst"]):
        if planted in ("logs", "run") and command != ["worker", "start", "--burst"]:
            continue  # only workers use those folders
        result = qctl("--db", str(path), *command, timeout=30)
        _one_error_line(result, "refusing")
    assert not marker.exists()


@needs_root
def test_a_planted_link_in_the_logs_folder_is_not_followed(db_path, tmp_path):
    """A link planted at a job's log folder fails that attempt; nothing is written through it."""
    path = db_path
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "logs").mkdir(mode=0o700)
    (tmp_path / "logs" / "j0").symlink_to(elsewhere)
    os.lchown(tmp_path / "logs" / "j0", NOBODY, NOBODY)
    lines = json.dumps({"id": "j0", "command": "echo secret", "max_retries": 0}) + "\n"
    assert qctl("--db", str(path), "enqueue", "-", input=lines).returncode == 0
    assert qctl("--db", str(path), "worker", "start", "--burst", "--quiet", timeout=30).returncode == 0
    job = json.loads(qctl("--db", str(path), "show", "j0", "--json").stdout)
    assert job["state"] == "dead" and "symbolic link" in job["last_error"]
    assert os.listdir(elsewhere) == []


@pytest.mark.parametrize("how", ["replaced", "deleted"])
def test_a_store_file_replaced_or_deleted_under_running_workers_stops_them(db_path, tmp_path, how):
    """`mv backup.db q.db` or `rm q.db*` while workers run: their connections went on recording
    into the old file, which nobody reads (completions lost, new jobs pending forever, `worker
    list` empty).  They stop in one line, their running job is killed (the file now at the path
    decides what runs again), and the supervisor restarts nothing."""
    from conftest import enqueue, pid_alive, start_workers, wait_for

    pid_file = tmp_path / "job.pid"
    enqueue(id="long", command=f"echo $$ > {pid_file}; exec sleep 60")
    sup = start_workers()
    try:
        job_pid = int(wait_for(lambda: pid_file.exists() and pid_file.read_text().strip()))
        if how == "replaced":
            assert qctl("--db", str(tmp_path / "backup.db"), "init").returncode == 0
            os.replace(tmp_path / "backup.db", db_path)
        else:
            for path in tmp_path.glob(f"{db_path.name}*"):
                path.unlink()
        out, err = sup.communicate(timeout=30)
    finally:
        if sup.poll() is None:
            os.killpg(sup.pid, 9)
    assert sup.returncode == 1, (out, err)
    assert err == f"Error: the store file {db_path} was {how} while the worker ran; stopping\n", err
    assert "replaces" not in out
    wait_for(lambda: not pid_alive(job_pid), timeout=10)


@pytest.mark.postgres_only
@pytest.mark.empty_database
def test_a_postgresql_database_with_a_table_named_like_ours_is_refused(store_url):
    """Another application's `job` table: creating our schema failed half-way with "column "seq"
    referenced in foreign key constraint does not exist"."""
    import psycopg2
    from playhouse.db_url import parse

    conn = psycopg2.connect(**parse(store_url))
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute("CREATE TABLE job (id serial PRIMARY KEY, title text)")
            cursor.execute("INSERT INTO job (title) VALUES ('theirs')")
        for command in (["init"], ["add", "--", "true"], ["worker", "start", "--burst"]):
            _one_error_line(qctl(*command), "already has table(s) named job that queuectl did not make")
        with conn.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            assert cursor.fetchall() == [("job",)]
            cursor.execute("SELECT title FROM job")
            assert cursor.fetchall() == [("theirs",)]
    finally:
        conn.close()


def test_a_file_that_is_no_sqlite_database_is_named_the_wrong_file_not_a_damaged_store(tmp_path):
    """`--db notes.txt` is a mistyped path, not damage: the error says so, and the file is kept."""
    path = tmp_path / "notes.txt"
    path.write_text("shopping list\n")
    for command in (["status"], ["add", "--", "true"], ["worker", "start", "--burst"]):
        _one_error_line(
            qctl("--db", str(path), *command, timeout=30), "is not a queuectl store (not a SQLite database)"
        )
    assert path.read_text() == "shopping list\n"
