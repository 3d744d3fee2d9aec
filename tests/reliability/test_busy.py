"""Busy store, and long jobs: another process holds the SQLite write lock for longer than the
busy timeout; workers, the supervisor and the CLI wait, retry and report in one line, and no
job is lost, stolen or run twice.  A job that runs for several lease lengths keeps its lease."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from conftest import enqueue, job, run_cli, start_workers, wait_for

from . import storecheck

LOCK_SECONDS = 12.5  # longer than the store's 10 s busy timeout


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "queuectl", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _counted_job(tmp_path, name: str, seconds: float) -> str:
    """A command that logs each run and notes a second run that overlaps the first."""
    runs, lock = tmp_path / f"{name}.runs", tmp_path / f"{name}.lock"
    return f"exec 9>>{lock}; flock -n 9 || echo overlap >> {runs}; echo run >> {runs}; sleep {seconds}"


@pytest.mark.timeout(120)
def test_a_write_lock_held_past_the_busy_timeout_loses_nothing(db_path, tmp_path):
    run_cli("config", "set", "max_backoff", "0")
    run_cli("config", "set", "lease_seconds", "2")
    # runs into the lock: its heartbeats fail, so its worker fences it, and it runs again after
    enqueue(id="through", command=_counted_job(tmp_path, "through", LOCK_SECONDS + 3))
    sup = start_workers("--count", "3", "--procs", "3")
    try:
        wait_for(lambda: (tmp_path / "through.runs").exists())
        wait_for(lambda: len(json.loads(run_cli("worker", "list", "--json").stdout)) == 3)
        idle = next(w["pid"] for w in json.loads(run_cli("worker", "list", "--json").stdout) if w["state"] == "idle")

        holder = sqlite3.connect(db_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        locked_at = time.monotonic()
        writer = _spawn("enqueue", '{"id": "during", "command": "true"}')
        reader = _spawn("status", "--json")
        time.sleep(1)
        os.kill(idle, signal.SIGKILL)  # its supervisor must recover it through the busy store
        reader_out, reader_err = reader.communicate(timeout=5)  # readers never wait in WAL mode
        assert reader.returncode == 0, reader_err
        writer_out, writer_err = writer.communicate(timeout=30)
        waited = time.monotonic() - locked_at
        time.sleep(max(0.0, LOCK_SECONDS - (time.monotonic() - locked_at)))
        holder.execute("COMMIT")
        holder.close()

        # the CLI waited out its busy timeout, then said so in one line, and wrote nothing
        assert writer.returncode == 1, writer_err
        assert writer_err.startswith("Error: the store is busy") and writer_err.count("\n") == 1, writer_err
        assert 9 < waited < 20
        assert "during" not in run_cli("list", "--json").stdout
        # after the lock: everything goes on; the supervisor survived and replaced the dead worker
        assert sup.poll() is None, sup.stderr.read()
        enqueue(id="after", command="true")
        wait_for(lambda: job("after")["state"] == "completed", timeout=20)
        wait_for(lambda: job("through")["state"] == "completed", timeout=40)  # (its second run)
        wait_for(lambda: len(json.loads(run_cli("worker", "list", "--json").stdout)) == 3, timeout=10)
    finally:
        sup.send_signal(signal.SIGTERM)
        code = sup.wait(30)
    err = sup.stderr.read()
    assert code == 0 and "Traceback" not in err, err
    # (that the long job is never run twice at once, although its lease ran out during the
    # lock, is test_a_lock_longer_than_the_lease_never_runs_a_job_twice_at_once)
    assert "overlap" not in (tmp_path / "through.runs").read_text()
    assert storecheck.problems(db_path) == []


@pytest.mark.timeout(90)
def test_a_long_job_keeps_its_lease(db_path, tmp_path):
    """A job running for 5 lease lengths on a healthy worker is never claimed by another."""
    run_cli("config", "set", "lease_seconds", "2")
    enqueue(id="long", command=_counted_job(tmp_path, "long", 10))
    for i in range(40):  # keeps the other workers busy claiming, finishing and recovering
        enqueue(id=f"s{i}", command="sleep 0.2")
    sup = start_workers("--count", "3")
    try:
        wait_for(lambda: job("long")["state"] == "completed", timeout=40)
    finally:
        sup.send_signal(signal.SIGTERM)
        assert sup.wait(30) == 0
    assert (tmp_path / "long.runs").read_text().split() == ["run"]
    assert job("long")["attempts"] == 1
    assert storecheck.problems(db_path) == []


def test_a_worker_the_store_forgot_registers_again(db_path):
    """recover_expired forgets a worker whose heartbeat is older than the liveness window, as
    after a long lock or a frozen VM; the worker is alive, so it must not leave the pool (its
    supervisor does not replace a worker that exits 0, and with one worker would stop)."""
    sup = start_workers()
    try:
        first = wait_for(lambda: json.loads(run_cli("worker", "list", "--json").stdout))[0]
        conn = storecheck.connect(db_path)
        conn.execute("DELETE FROM worker")  # what recover_expired does to a silent worker
        conn.close()
        time.sleep(2.5)  # two heartbeats
        assert sup.poll() is None, "the supervisor lost its only worker"
        workers = json.loads(run_cli("worker", "list", "--json").stdout)
        assert [(w["id"], w["pid"]) for w in workers] == [(first["id"], first["pid"])]
        enqueue(id="still", command="true")
        wait_for(lambda: job("still")["state"] == "completed")
    finally:
        sup.send_signal(signal.SIGTERM)
        assert sup.wait(20) == 0


@pytest.mark.timeout(60)
def test_a_lock_longer_than_the_lease_never_runs_a_job_twice_at_once(db_path, tmp_path):
    """The first writer after a long lock may be another worker's lease recovery (here made
    certain: it runs inside the lock): it takes nobody's job, since nobody could renew.  The
    running job's worker cannot prove it holds the job either, so it fences the run (kills it)
    once half a lease passed without a renewal; the job is retried, never run twice at once."""
    from queuectl import store as engine
    from queuectl.models import db
    from queuectl.paths import resolve

    run_cli("config", "set", "lease_seconds", "2")
    enqueue(id="through", command=_counted_job(tmp_path, "through", 6))
    sup = start_workers()
    try:
        wait_for(lambda: (tmp_path / "through.runs").exists())
        engine.open_store(resolve(None))
        with db.atomic():  # BEGIN IMMEDIATE: the write lock, held past the lease
            time.sleep(4)
            recovered = engine.recover_expired()
        engine.close_store()
        wait_for(lambda: job("through")["state"] == "completed", timeout=30)
    finally:
        sup.send_signal(signal.SIGTERM)
        sup.wait(20)
    assert recovered == 0
    assert (tmp_path / "through.runs").read_text().split() == ["run", "run"]
    assert job("through")["attempts"] == 2
    first = json.loads(run_cli("show", "through", "--json").stdout)["attempts"][0]
    assert first["error"].startswith("fenced") or first["error"] == "killed by signal SIGKILL", first
