"""Disk full: logs (and the store) on a file system that fills up, or a file size limit; and a
store on a read-only file system.

The attempt fails with a clear error, the worker stays alive, the store stays consistent, and
the next job runs once there is room again; a stop is honoured meanwhile.  A chatty job is
capped at max_log_bytes.
"""

import json
import os
import resource
import select
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import pytest
from conftest import drain, enqueue, job, qctl, run_cli, start_workers, wait_for

from . import storecheck

MiB = 1024 * 1024


def _attempts(job_id):
    from queuectl import store
    from queuectl.paths import resolve

    store.open_store(resolve(None))
    try:
        return [a.as_dict() for a in store.attempts(job_id)]
    finally:
        store.close_store()


def test_a_file_size_limit_fails_the_attempt_not_the_worker(db_path):
    """RLIMIT_FSIZE (2 MiB) on the worker: a 3 MiB log cannot be written."""
    run_cli("config", "set", "max_log_bytes", str(10 * MiB))
    enqueue(id="big", command="head -c 3145728 /dev/zero", max_retries=0)
    enqueue(id="small", command="echo fine")

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (2 * MiB, 2 * MiB))

    result = subprocess.run(
        [sys.executable, "-m", "queuectl", "worker", "start", "--burst", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    big = job("big")
    assert (big["state"], big["last_error"]) == ("dead", "could not write the job's log: File too large")
    assert job("small")["state"] == "completed"
    assert "fine" in run_cli("logs", "small").stdout
    assert storecheck.problems(db_path) == []


def test_a_chatty_job_is_capped_at_max_log_bytes(db_path):
    """200 MB of output, 1 MiB kept per stream, a note saying how much was dropped."""
    run_cli("config", "set", "max_log_bytes", str(MiB))
    enqueue(id="chatty", command="head -c 200000000 /dev/zero | tr '\\0' x; head -c 3000000 /dev/zero >&2")
    result = subprocess.run(
        [sys.executable, "-m", "queuectl", "worker", "start", "--burst", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert job("chatty")["state"] == "completed"
    out, err = (_attempts("chatty")[0][k] for k in ("stdout_path", "stderr_path"))
    note = "\n[queuectl: output truncated at 1048576 bytes; {} more bytes dropped]\n"
    assert os.path.getsize(out) == MiB + len(note.format(200000000 - MiB))
    assert os.path.getsize(err) == MiB + len(note.format(3000000 - MiB))
    with open(out, "rb") as f:
        f.seek(MiB)
        assert f.read().decode() == note.format(200000000 - MiB)


@pytest.fixture
def small_fs(tmp_path):
    """A 2 MiB tmpfs (needs the right to mount: skipped elsewhere)."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", f"qtest-{uuid.uuid4().hex[:6]}", str(mount)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(folder) -> None:
    """Write a filler file until the file system is full."""
    with open(folder / "filler", "wb", buffering=0) as f:  # (a buffer would fail again at close)
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass


def test_logs_on_a_full_disk(db_path, small_fs, monkeypatch):
    monkeypatch.setenv("QUEUECTL_LOGS", str(small_fs / "logs"))
    sup = start_workers()
    try:
        wait_for(lambda: json.loads(run_cli("status", "--json").stdout)["workers"] == 1)
        _fill(small_fs)
        enqueue(id="nospace", command="echo hello", max_retries=0)
        wait_for(lambda: job("nospace")["state"] == "dead")
        assert job("nospace")["last_error"] == "could not write the job's log: No space left on device"
        (small_fs / "filler").unlink()  # room again
        enqueue(id="room", command="echo hello again")
        wait_for(lambda: job("room")["state"] == "completed")
        assert "hello again" in run_cli("logs", "room").stdout
        assert sup.poll() is None
    finally:
        sup.send_signal(signal.SIGTERM)
        code = sup.wait(30)
    assert code == 0 and "Traceback" not in sup.stderr.read()
    assert storecheck.problems(db_path) == []


def test_the_store_on_a_full_disk(db_path, small_fs, monkeypatch, tmp_path):
    """The SQLite file itself cannot grow: commands fail in one line and change nothing;
    workers keep retrying and carry on once there is room."""
    db = small_fs / "queuectl.db"
    monkeypatch.setenv("QUEUECTL_DB", str(db))
    monkeypatch.setenv("QUEUECTL_LOGS", str(tmp_path / "logs"))
    enqueue(id="first", command="true")
    sup = start_workers()
    try:
        wait_for(lambda: job("first")["state"] == "completed")
        _fill(small_fs)
        before = storecheck.dump(db)
        lines = "".join(json.dumps({"command": "echo " + "x" * 1000}) + "\n" for _ in range(3000))
        result = subprocess.run(
            [sys.executable, "-m", "queuectl", "enqueue", "-"], input=lines, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
        assert storecheck.dump(db) == before
        (small_fs / "filler").unlink()
        enqueue(id="later", command="true")
        wait_for(lambda: job("later")["state"] == "completed")
        assert sup.poll() is None
    finally:
        sup.send_signal(signal.SIGTERM)
        code = sup.wait(30)
    assert code == 0 and "Traceback" not in sup.stderr.read()
    assert storecheck.problems(db) == []


def test_a_full_disk_is_named_in_the_error(db_path, small_fs, monkeypatch):
    db = small_fs / "queuectl.db"
    monkeypatch.setenv("QUEUECTL_DB", str(db))
    enqueue(id="first", command="true")
    _fill(small_fs)
    lines = "".join(json.dumps({"command": "echo " + "x" * 1000}) + "\n" for _ in range(3000))
    result = subprocess.run(
        [sys.executable, "-m", "queuectl", "enqueue", "-"], input=lines, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "full" in result.stderr, result.stderr


def _line_with(stream, needle: str, timeout: float = 30) -> str:
    """The first line of a child's stdout that holds `needle` (the test fails after `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([stream], [], [], 0.1)[0]:
            line = stream.readline()
            if needle in line:
                return line
    pytest.fail(f"no line with {needle!r} in {timeout}s")


def test_a_stop_is_honoured_while_the_store_is_full(db_path, small_fs, monkeypatch, tmp_path):
    """A job ends while the store's disk is full: its end cannot be recorded.  The worker says
    once that the disk is full (it said "store error, retrying" 4 times a second), backs off,
    and the first SIGTERM stops it (it was ignored for over 10 minutes).  The job is not lost:
    once there is room, the next worker recovers it as lost and runs it again."""
    db = small_fs / "queuectl.db"
    monkeypatch.setenv("QUEUECTL_DB", str(db))
    monkeypatch.setenv("QUEUECTL_LOGS", str(tmp_path / "logs"))
    started = tmp_path / "started"
    enqueue(id="ends", command=f"touch {started}; sleep 1")
    sup = start_workers()
    try:
        wait_for(started.exists)
        with sqlite3.connect(db) as conn:  # an empty WAL: no write can reuse its room
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _fill(small_fs)
        _line_with(sup.stdout, "the disk is full")
        sup.send_signal(signal.SIGTERM)
        out, err = sup.communicate(timeout=60)
    finally:
        if sup.poll() is None:
            os.killpg(sup.pid, signal.SIGKILL)
    assert sup.returncode == 1, (out, err)
    assert "Traceback" not in err
    assert not [line for line in out.splitlines() if line.startswith("[worker-")], out  # (its one line was read above)
    assert err.count("\n") == 1 and err.startswith("Error: stopped as asked while the store failed: the disk is full")
    assert "1 job(s) not recorded" in err, err
    (small_fs / "filler").unlink()
    drain()
    assert (job("ends")["state"], job("ends")["attempts"]) == ("completed", 2)
    assert storecheck.problems(db) == []


def test_a_store_on_a_read_only_file_system_is_one_line(db_path, small_fs, monkeypatch):
    """SQLite writes beside a WAL store even to read it: commands said "unable to open database
    file", or "cannot create the store" for a store that exists."""
    monkeypatch.setenv("QUEUECTL_DB", str(small_fs / "queuectl.db"))
    assert qctl("add", "--", "true").returncode == 0  # (a process of its own: nothing stays open)
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    for command in (["status"], ["list"], ["add", "--", "true"], ["worker", "start", "--burst"]):
        result = qctl(*command)
        assert result.returncode == 1, result
        assert (
            result.stderr.startswith(f"Error: the store at {small_fs / 'queuectl.db'} is on a read-only file system")
            and result.stderr.count("\n") == 1
        ), result.stderr
