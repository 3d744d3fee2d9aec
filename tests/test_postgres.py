"""Several hosts on one PostgreSQL store, and the server going away mid-run."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import enqueue, job, run_cli, wait_for

pytestmark = pytest.mark.postgres_only


def _host(name: str, *args: str) -> subprocess.Popen:
    """A supervisor that believes it runs on machine `name`."""
    env = dict(os.environ, QUEUECTL_HOST_ID=name)
    return subprocess.Popen(
        [sys.executable, "-m", "queuectl", "worker", "start", "--quiet", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _descendants(pid: int) -> list[int]:
    """pid and every process below it (jobs run in sessions of their own, so not by group)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(") ", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def _kill_host(proc: subprocess.Popen) -> None:
    """The machine is gone: every process of that host dies at once, with no chance to clean up."""
    for pid in _descendants(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(10)


def _status():
    return json.loads(run_cli("status", "--json").stdout)


def test_three_hosts_run_each_job_exactly_once(tmp_path):
    out = tmp_path / "ran.txt"
    lines = "\n".join(json.dumps({"id": f"j{i}", "command": f"echo j{i} >> {out}"}) for i in range(5000))
    assert run_cli("enqueue", "-", input=lines).exit_code == 0
    hosts = [_host(name, "--count", "2") for name in ("host-a", "host-b", "host-c")]
    try:
        wait_for(lambda: _status()["jobs"]["completed"] == 5000, timeout=240, interval=0.5)
        seen_hosts = {w["host"] for w in json.loads(run_cli("worker", "list", "--json").stdout)}
        assert seen_hosts == {"host-a", "host-b", "host-c"}
    finally:
        for proc in hosts:
            proc.send_signal(signal.SIGTERM)
        for proc in hosts:
            assert proc.wait(30) == 0, proc.stderr.read()
    ran = out.read_text().split()
    assert len(ran) == 5000 and set(ran) == {f"j{i}" for i in range(5000)}


def test_jobs_of_a_dead_host_are_recovered_by_another_after_the_lease(tmp_path):
    run_cli("config", "set", "lease_seconds", "2")
    run_cli("config", "set", "max_backoff", "0")
    started = tmp_path / "started"
    for i in range(2):
        enqueue(id=f"long{i}", command=f'[ "$QUEUECTL_ATTEMPT" -ge 2 ] || {{ echo >> {started}; exec sleep 60; }}')
    host_a = _host("host-a", "--count", "2")
    try:
        wait_for(lambda: started.exists() and len(started.read_text().splitlines()) == 2)
        assert {job(f"long{i}")["worker_id"].split(".")[0] for i in range(2)} == {"host-a"}
    finally:
        _kill_host(host_a)
    host_b = _host("host-b")
    try:
        wait_for(lambda: all(job(f"long{i}")["state"] == "completed" for i in range(2)), timeout=30)
    finally:
        host_b.send_signal(signal.SIGTERM)
        assert host_b.wait(20) == 0
    from queuectl import store
    from queuectl.paths import resolve

    store.open_store(resolve(None))
    for i in range(2):
        first, second = store.attempts(f"long{i}")
        assert first.host == "host-a" and "lease expired" in first.error
        assert second.host == "host-b" and second.error is None


def test_a_postgres_restart_mid_run_loses_nothing(tmp_path, pg_admin, store_url):
    out = tmp_path / "ran.txt"
    lines = "\n".join(json.dumps({"id": f"j{i}", "command": f"sleep 0.01; echo j{i} >> {out}"}) for i in range(400))
    run_cli("enqueue", "-", input=lines)
    workers = _host("host-a", "--count", "2")
    database = store_url.rsplit("/", 1)[1]
    terminations = 0
    try:
        for round_ in range(1, 4):
            wait_for(lambda: out.exists() and len(out.read_text().split()) >= 100 * round_, timeout=60)  # noqa: B023 (called here)
            with pg_admin.cursor() as cursor:  # what a server restart does to every client
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (database,),
                )
                terminations += cursor.rowcount
        wait_for(lambda: _status()["jobs"]["completed"] == 400, timeout=90, interval=0.5)
    finally:
        workers.send_signal(signal.SIGTERM)
        assert workers.wait(30) == 0, workers.stderr.read()
    assert terminations >= 3
    ran = out.read_text().split()
    assert set(ran) == {f"j{i}" for i in range(400)}
    counts = _status()["jobs"]
    assert counts["processing"] == 0 and counts["dead"] == 0


def test_store_clock_is_the_servers_whatever_this_hosts_says(opened, monkeypatch):
    from queuectl import store
    from queuectl.store import connection

    assert abs(store.now() - time.time()) < 5  # this machine's clock and its own server agree
    monkeypatch.setattr(connection, "_host_clock", lambda: time.time() + 3600)  # an hour ahead
    connection._clock_offset.cache_clear()
    assert abs(store.now() - time.time()) < 5  # leases and schedules still use the server's time


def test_the_hot_statements_are_prepared_once_per_session_and_again_after_a_reconnect(opened):
    """Claims and finishes run as prepared statements (not planned again each time), and a new
    connection, whose session has none, prepares them again instead of failing."""
    from queuectl import store
    from queuectl.models import db

    for i in range(4):
        enqueue(id=f"p{i}", command="true")
    store.register_worker("w1", "h1", os.getpid(), None, 1)

    def drain_two() -> None:
        for _ in range(2):
            (claim,) = store.claim_batch("w1", "h1", 1)
            store.finish_batch([store.Finished(claim, None, 0)], "w1", "h1")

    drain_two()
    prepared = {name for (name,) in db.execute_sql("SELECT name FROM pg_prepared_statements").fetchall()}
    assert len({n for n in prepared if n.startswith("queuectl_")}) >= 2  # the claim and the batch of successes
    db.close()  # a new session: nothing prepared in it yet
    drain_two()
    assert [job(f"p{i}")["state"] for i in range(4)] == ["completed"] * 4
