"""Output through the store (PostgreSQL): any host reads and follows any job's output; it is
capped like the files, and deleted with its job.  Another host is another logs folder here
(QUEUECTL_LOGS, QUEUECTL_HOST_ID); tests/multihost/ does it across network namespaces."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import enqueue, qctl, run_cli, wait_for

pytestmark = pytest.mark.postgres_only


def _as_host(tmp_path, name: str) -> dict:
    return dict(os.environ, QUEUECTL_LOGS=str(tmp_path / f"logs-{name}"), QUEUECTL_HOST_ID=name)


def _drain_on(env: dict) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "queuectl", "worker", "start", "--burst", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def _rows(pg_url: str, query: str) -> list:
    import psycopg2
    from playhouse.db_url import parse

    with psycopg2.connect(**parse(pg_url)) as conn, conn.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchall()


def test_a_job_run_on_one_host_is_read_from_another_and_its_spool_is_gone(backend, tmp_path, store_url):
    enqueue(id="talk", command="echo out-1; echo err-1 >&2; printf 'no newline'")
    worker = _as_host(tmp_path, "alpha")
    _drain_on(worker)
    reader = subprocess.run(
        [sys.executable, "-m", "queuectl", "logs", "talk"],
        env=_as_host(tmp_path, "beta"),
        capture_output=True,
        text=True,
    )
    assert reader.returncode == 0, reader.stderr
    assert "=== STDOUT ===\nout-1\nno newline\n" in reader.stdout
    assert "=== STDERR ===\nerr-1\n" in reader.stdout
    # one copy, in the store: the worker's spool files were removed once sent
    assert not list((tmp_path / "logs-alpha").rglob("attempt-*"))
    assert _rows(store_url, "SELECT stream, pos FROM attempt_output ORDER BY stream, pos") == [
        ("stderr", 0),
        ("stdout", 0),
    ]


def test_follow_from_another_host_streams_a_running_job_live(backend, tmp_path):
    gate = tmp_path / "gate"
    enqueue(id="slow", command=f"echo first; while [ ! -e {gate} ]; do sleep 0.05; done; echo second >&2; echo third")
    assert run_cli("init").exit_code == 0
    worker = subprocess.Popen(
        [sys.executable, "-m", "queuectl", "worker", "start", "--burst", "--quiet"],
        env=_as_host(tmp_path, "alpha"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    follower = subprocess.Popen(
        [sys.executable, "-m", "queuectl", "logs", "slow", "--follow"],
        env=_as_host(tmp_path, "beta"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout.readline() == "first\n"  # while the job still runs (it waits for the gate)
        gate.touch()
        out, err = follower.communicate(timeout=60)
        assert out == "third\n"
        assert "second\n" in err and "=== attempt 1 ended: exit code 0 ===" in err
        assert worker.wait(60) == 0
    finally:
        for proc in (worker, follower):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_output_is_capped_with_the_note_and_deleted_with_its_job(backend, tmp_path, store_url):
    assert run_cli("config", "set", "max_log_bytes", "100000").exit_code == 0
    enqueue(id="loud", command="head -c 5000000 /dev/zero | tr '\\0' x; echo; echo tail-line")
    enqueue(id="quiet", command="echo small")
    _drain_on(_as_host(tmp_path, "alpha"))
    stored = _rows(
        store_url,
        "SELECT a.job_seq, o.stream, SUM(octet_length(o.data)) FROM attempt_output o "
        "JOIN attempt a ON a.id = o.attempt_id GROUP BY 1, 2 ORDER BY 1, 2",
    )
    assert stored[0][1] == "stdout" and 100000 < stored[0][2] < 100200  # the cap, plus the note
    shown = qctl("logs", "loud")
    assert "[queuectl: output truncated at 100000 bytes; 4900011 more bytes dropped]" in shown.stdout
    assert "small" in qctl("logs", "quiet").stdout
    assert run_cli("prune", "--older-than", "0s", "--state", "completed").exit_code == 0
    assert _rows(store_url, "SELECT COUNT(*) FROM attempt_output") == [(0,)]


def test_silent_jobs_ship_nothing(backend, tmp_path, store_url):
    for i in range(20):
        enqueue(id=f"s{i}", command="true")
    _drain_on(_as_host(tmp_path, "alpha"))
    assert _rows(store_url, "SELECT COUNT(*) FROM attempt_output") == [(0,)]
    assert wait_for(lambda: qctl("logs", "s3").returncode == 0)


def test_runs_ended_together_ship_each_its_own_streams_and_leave_no_spool(backend, tmp_path, store_url):
    """Silent runs and runs that wrote only stderr, recorded in the same batches: the shipper
    reads and removes only the spool files that runs made."""
    for i in range(12):
        enqueue(id=f"j{i}", command="true" if i % 2 else f"echo err-{i} >&2")
    _drain_on(_as_host(tmp_path, "alpha"))
    assert _rows(store_url, "SELECT stream, COUNT(*) FROM attempt_output GROUP BY stream") == [("stderr", 6)]
    for i in range(0, 12, 2):
        shown = qctl("logs", f"j{i}")
        assert shown.returncode == 0 and f"=== STDERR ===\nerr-{i}\n" in shown.stdout
    assert not list((tmp_path / "logs-alpha").rglob("attempt-*"))
    assert not [p for p in (tmp_path / "logs-alpha").rglob("*") if p.is_dir() and p.name.startswith("j")]
