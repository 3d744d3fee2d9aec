"""Fencing: a worker that cannot renew its lease (frozen by SIGSTOP, cut off from PostgreSQL)
has its job killed before another worker takes the job over, so the two runs never overlap.

Each job holds a per-job flock while it runs and notes a second run that finds it taken."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PG_ADMIN_URL, enqueue, job, run_cli, start_workers, wait_for

LEASE = "3"


def _locked_job(tmp_path, name: str, seconds: float) -> str:
    runs, lock = tmp_path / f"{name}.runs", tmp_path / f"{name}.lock"
    return (
        f"exec 9>>{lock}; flock -n 9 || echo overlap >> {runs}; echo run >> {runs}; sleep {seconds}; echo end >> {runs}"
    )


def _runs(tmp_path, name: str) -> list[str]:
    path = tmp_path / f"{name}.runs"
    return path.read_text().split() if path.exists() else []


def _holds_write_lock(pid: int, db_path) -> bool:
    """Does `pid` hold the SQLite store's write lock (WAL mode: a POSIX lock on byte 120 of the
    -shm file, as /proc/locks lists it)?"""
    inode = str(os.stat(f"{db_path}-shm").st_ino)
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()  # "1: POSIX  ADVISORY  WRITE 4585 00:1f:1234 120 120" ("->": a waiter)
        if fields[1:5] == ["POSIX", "ADVISORY", "WRITE", str(pid)] and fields[5].rsplit(":", 1)[1] == inode:
            if fields[6] == "120":
                return True
    return False


def _stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


def _freeze(pid: int, db_path, writing: bool) -> None:
    """SIGSTOP a worker outside a write transaction, or (writing) inside one."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if writing and not _holds_write_lock(pid, db_path):
            continue  # (its heartbeats write every fraction of a second: wait for one)
        os.kill(pid, signal.SIGSTOP)
        wait_for(lambda: _stopped(pid), timeout=5, interval=0.001)
        if _holds_write_lock(pid, db_path) == writing:
            return
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.01)
    pytest.fail(f"could not stop the worker {'inside' if writing else 'outside'} a write transaction")


def _holder(name: str) -> int:
    return next(w for w in json.loads(run_cli("worker", "list", "--json").stdout) if w["current_job"] == name)["pid"]


def _frozen_run(db_path, tmp_path, writing: bool, while_frozen, completes_within: float) -> list[str]:
    """Two workers; the one running a 12 s job is frozen (outside or inside a write transaction),
    `while_frozen()` runs, the worker is continued, and the job must complete; its runs file."""
    assert run_cli("config", "set", "lease_seconds", LEASE).exit_code == 0
    sup = start_workers("--count", "2")
    try:
        enqueue(id="frozen", command=_locked_job(tmp_path, "frozen", 12))
        wait_for(lambda: _runs(tmp_path, "frozen"), timeout=20)
        holder = _holder("frozen")
        _freeze(holder, db_path, writing)
        try:
            while_frozen()
        finally:
            os.kill(holder, signal.SIGCONT)
        wait_for(lambda: job("frozen")["state"] == "completed", timeout=completes_within)
    finally:
        sup.send_signal(signal.SIGTERM)
        assert sup.wait(30) == 0
    return _runs(tmp_path, "frozen")


@pytest.mark.timeout(120)
def test_a_frozen_worker_s_job_dies_before_another_worker_takes_it(db_path, tmp_path):
    """Frozen between transactions (frozen inside one, it holds SQLite's one write lock: the next
    test), its guard must kill the job: the worker cannot."""

    def taken_over() -> None:
        wait_for(lambda: _runs(tmp_path, "frozen").count("run") == 2, timeout=40)

    runs = _frozen_run(db_path, tmp_path, False, taken_over, completes_within=40)
    assert "overlap" not in runs and runs.count("end") == 1, runs
    # the frozen worker's attempt was taken over (a later one may be fenced too when the machine
    # stalls a healthy worker for half a lease: that costs a retry, never an overlap)
    first = json.loads(run_cli("show", "frozen", "--json").stdout)["attempts"][0]
    assert first["error"].startswith("lost: its worker stopped sending heartbeats"), first


@pytest.mark.timeout(150)
def test_a_worker_frozen_inside_a_write_holds_the_store_until_it_continues(db_path, tmp_path):
    """SQLite has one writer: a worker stopped inside a write transaction keeps the store's write
    lock, so no other worker can record or take over anything until it continues.  Its guard
    still kills its job at half a lease; once continued, the job runs again and completes once,
    never overlapping."""

    def locked_out() -> None:
        time.sleep(3 * float(LEASE))  # past the fence (half a lease) and the lease itself
        assert _runs(tmp_path, "frozen") == ["run"]  # not taken over: the store is locked
        with open(tmp_path / "frozen.lock", "a") as lock:  # its flock is free: its guard killed it
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(lock, fcntl.LOCK_UN)

    runs = _frozen_run(db_path, tmp_path, True, locked_out, completes_within=60)
    assert "overlap" not in runs and runs.count("end") == 1 and runs.count("run") >= 2, runs


def _host(url: str, host: str) -> subprocess.Popen:
    env = dict(os.environ, QUEUECTL_DB=url, QUEUECTL_HOST_ID=host)
    return subprocess.Popen(
        [sys.executable, "-m", "queuectl", "worker", "start", "--quiet"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.mark.postgres_only
@pytest.mark.empty_database  # host A's role makes (and so owns) the schema
@pytest.mark.timeout(150)
def test_a_host_cut_off_from_postgres_kills_its_job_before_another_takes_it(store_url, pg_admin, tmp_path):
    """Host A's role is refused logins and its connections are ended (as a partition would);
    host B recovers the job after a lease, by which time A has fenced its own run."""
    import psycopg2

    name = store_url.rsplit("/", 1)[1]
    role = f"{name}_a"
    with pg_admin.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} LOGIN")
        cursor.execute(f"ALTER DATABASE {name} OWNER TO {role}")
    url_a = (
        PG_ADMIN_URL.split("://", 1)[0] + f"://{role}@" + PG_ADMIN_URL.split("@", 1)[1].rsplit("/", 1)[0] + f"/{name}"
    )
    hosts = []
    try:
        assert (
            subprocess.run([sys.executable, "-m", "queuectl", "--db", url_a, "init"], capture_output=True).returncode
            == 0
        )
        assert run_cli("config", "set", "lease_seconds", LEASE).exit_code == 0
        hosts.append(_host(url_a, "host-a"))
        enqueue(id="cut", command=_locked_job(tmp_path, "cut", 12))
        wait_for(lambda: _runs(tmp_path, "cut"), timeout=20)
        hosts.append(_host(store_url, "host-b"))
        time.sleep(float(LEASE) + 1)  # B judges others' leases only after a lease of its own
        with pg_admin.cursor() as cursor:
            cursor.execute(f"ALTER ROLE {role} NOLOGIN")
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
        try:
            wait_for(lambda: _runs(tmp_path, "cut").count("run") == 2, timeout=60)
        finally:
            with pg_admin.cursor() as cursor:
                cursor.execute(f"ALTER ROLE {role} LOGIN")
        wait_for(lambda: job("cut")["state"] == "completed", timeout=40)
    finally:
        for proc in hosts:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(30) for proc in hosts]
        with psycopg2.connect(store_url) as conn, conn.cursor() as cursor:
            cursor.execute(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
        conn.close()
        with pg_admin.cursor() as cursor:
            cursor.execute(f"ALTER DATABASE {name} OWNER TO CURRENT_USER")
            cursor.execute(f"DROP ROLE {role}")
    assert codes == [0, 0]
    runs = _runs(tmp_path, "cut")
    assert "overlap" not in runs and runs.count("end") == 1, runs
