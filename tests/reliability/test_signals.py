"""Signals, a closed terminal, a restart after `kill -9` of everything, and file permissions."""

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest
from conftest import enqueue, job, pid_alive, run_cli, start_workers, wait_for

from . import harness, storecheck


@pytest.fixture(autouse=True)
def fast_retries(db_path):
    run_cli("config", "set", "max_backoff", "0")


def _workers() -> list[dict]:
    return json.loads(run_cli("worker", "list", "--json").stdout)


def _status() -> dict:
    return json.loads(run_cli("status", "--json").stdout)


def _ours(db_path) -> dict:
    return harness.snapshot(str(db_path))


def test_a_stop_during_a_restart_pause_reaches_the_replacement(db_path):
    """A worker that dies young is replaced after a pause; a SIGTERM that arrives during that
    pause must stop the supervisor, not leave it waiting forever on a worker nobody told."""
    sup = start_workers()
    try:
        first = wait_for(lambda: _workers())[0]["pid"]
        os.kill(first, signal.SIGKILL)  # younger than a second: its replacement waits a second
        time.sleep(0.3)
        sup.send_signal(signal.SIGTERM)
        assert sup.wait(10) == 0
    finally:
        if sup.poll() is None:
            sup.kill()
    wait_for(lambda: not _ours(db_path), timeout=10)


def test_sigterm_right_after_start_stops_every_worker(db_path):
    """However early the stop comes, every worker started gets it."""
    for _ in range(3):
        sup = start_workers("--count", "3", "--procs", "3")
        # as soon as the workers exist, before they can have set up their signal handlers
        wait_for(lambda: sum(harness.is_worker(p) for p in _ours(db_path).values()) == 3, interval=0.005)
        sup.send_signal(signal.SIGTERM)
        assert sup.wait(15) == 0
    wait_for(lambda: not _ours(db_path), timeout=10)
    assert _status()["jobs"]["processing"] == 0


def test_sigint_once_finishes_the_job_twice_kills_it(db_path, tmp_path):
    started = tmp_path / "started"
    enqueue(id="gentle", command=f"touch {started}; sleep 1; echo done")
    sup = start_workers()
    wait_for(started.exists)
    sup.send_signal(signal.SIGINT)
    assert sup.wait(20) == 0
    assert job("gentle")["state"] == "completed"

    started.unlink()
    enqueue(id="rough", command=f"touch {started}; sleep 60", max_retries=0)
    sup = start_workers()
    wait_for(started.exists)
    sup.send_signal(signal.SIGINT)
    time.sleep(0.3)
    sup.send_signal(signal.SIGINT)
    assert sup.wait(20) == 0
    rough = job("rough")
    assert (rough["state"], rough["last_error"]) == ("dead", "killed: its worker was stopped")
    assert _status()["jobs"]["processing"] == 0
    wait_for(lambda: not _ours(db_path), timeout=10)


def test_sighup_is_not_a_stop(db_path, tmp_path):
    sup = start_workers("--count", "2", "--procs", "2")
    try:
        wait_for(lambda: len(_workers()) == 2)
        sup.send_signal(signal.SIGHUP)
        for w in _workers():
            os.kill(w["pid"], signal.SIGHUP)
        enqueue(id="after-hup", command="true")
        wait_for(lambda: job("after-hup")["state"] == "completed")
        assert sup.poll() is None and len(_workers()) == 2
    finally:
        sup.send_signal(signal.SIGTERM)
        assert sup.wait(20) == 0


def test_a_closed_terminal_does_not_stop_or_crash_the_workers(db_path, tmp_path):
    """`worker start` on a terminal that goes away (its window closed, ssh dropped): it gets
    SIGHUP and every later write to the terminal fails; jobs keep running and being recorded."""
    import pty

    master, slave = pty.openpty()
    sup = subprocess.Popen(
        [sys.executable, "-m", "queuectl", "worker", "start", "--count", "2", "--procs", "2"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    try:
        wait_for(lambda: len(_workers()) == 2)
        enqueue(id="before", command="echo hi")
        wait_for(lambda: job("before")["state"] == "completed")
        os.close(master)  # the terminal is gone: SIGHUP, then EIO on every write
        sup.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        for i in range(5):
            enqueue(id=f"after{i}", command="echo still here; sleep 0.1")
        wait_for(lambda: all(job(f"after{i}")["state"] == "completed" for i in range(5)), timeout=30)
        assert sup.poll() is None, "the supervisor died with its terminal"
        assert len(_workers()) == 2
        assert all(a["error"] is None for a in _attempts("after0"))
    finally:
        sup.send_signal(signal.SIGTERM)
        code = sup.wait(20)
    assert code == 0
    assert storecheck.problems(db_path) == []


def _attempts(job_id):
    from queuectl import store
    from queuectl.paths import resolve

    store.open_store(resolve(None))
    return [a.as_dict() for a in store.attempts(job_id)]


def test_restart_after_kill_9_of_everything_continues_where_it_was(db_path, tmp_path):
    """SIGKILL the supervisor, the workers, their guards and the jobs at once (a power cut):
    starting again needs no manual reset, and `status` counts only the new workers."""
    out = tmp_path / "ran"
    lines = "".join(
        json.dumps({"id": f"r{i}", "command": f"sleep 0.2; echo r{i} >> {out}", "max_retries": 5}) + "\n"
        for i in range(30)
    )
    assert run_cli("enqueue", "-", input=lines).exit_code == 0
    sup = start_workers("--count", "3", "--procs", "3")
    wait_for(lambda: out.exists() and len(out.read_text().split()) >= 3)
    wait_for(lambda: _status()["jobs"]["processing"] >= 2)
    everything = _ours(db_path)
    for pid in [sup.pid, *everything]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    sup.wait()
    wait_for(lambda: not _ours(db_path), timeout=10)
    assert _status()["jobs"]["processing"] >= 2  # nobody has recovered them yet

    lost = {j["id"] for j in json.loads(run_cli("list", "--json", "--state", "processing").stdout)}
    old = {w["id"] for w in _workers()}
    sup = start_workers("--count", "2", "--procs", "2")
    try:
        # the new supervisor recovers the dead workers' jobs at once (not after their lease)
        # and forgets the dead workers, even while the kernel still holds them as zombies
        wait_for(lambda: len({w["id"] for w in _workers()} - old) == 2, timeout=10)
        assert not old & {w["id"] for w in _workers()}
        assert _status()["workers"] == 2
        for job_id in lost:
            assert _attempts(job_id)[0]["error"] == "lost: its worker process is gone"
        wait_for(lambda: _status()["jobs"]["completed"] == 30, timeout=20)
    finally:
        sup.send_signal(signal.SIGTERM)
        assert sup.wait(20) == 0
    assert set(out.read_text().split()) == {f"r{i}" for i in range(30)}
    status = _status()
    assert status["workers"] == 0 and {k: n for k, n in status["jobs"].items() if n} == {"completed": 30}
    assert storecheck.problems(db_path) == []


def test_store_logs_and_sockets_are_owner_only_even_with_umask_0(db_path, tmp_path):
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "queuectl", *args],
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=lambda: os.umask(0),
        )  # noqa: E731

    assert run("enqueue", '{"id": "talk", "command": "echo out; echo err >&2"}').returncode == 0
    sup = subprocess.Popen(
        [sys.executable, "-m", "queuectl", "worker", "start", "--quiet"],
        preexec_fn=lambda: os.umask(0),
        start_new_session=True,
    )
    try:
        wait_for(lambda: job("talk")["state"] == "completed")
        run_dir = db_path.parent / "run"
        sockets = list(run_dir.iterdir())
        assert sockets
        modes = {p: stat.S_IMODE(p.stat().st_mode) for p in [*sockets]}
    finally:
        sup.send_signal(signal.SIGTERM)
        assert sup.wait(20) == 0
    logs = db_path.parent / "logs"
    files = [db_path, *db_path.parent.glob("queuectl.db-*"), *logs.rglob("*")]
    modes.update({p: stat.S_IMODE(p.stat().st_mode) for p in files})
    modes.update({p: stat.S_IMODE(p.stat().st_mode) for p in (logs, logs / "talk", run_dir)})
    assert any(p.name.endswith("-wal") for p in modes)
    bad = {str(p): oct(m) for p, m in modes.items() if m & 0o077}
    assert not bad


def test_a_dead_workers_job_is_dead_before_it_runs_again(db_path, tmp_path):
    """The worker's guard kills its job when the worker dies, but asynchronously; even when the
    guard is slow (here: stopped), the job must be dead before another worker starts it again."""
    lock, overlap, started = tmp_path / "lock", tmp_path / "overlap", tmp_path / "started"
    enqueue(id="once", command=f"exec 9>>{lock}; flock -n 9 || touch {overlap}; touch {started}; sleep 5")
    sup = start_workers("--count", "2", "--procs", "2")
    guard = None
    try:
        wait_for(started.exists, interval=0.005)
        procs = _ours(db_path)
        shell = next(p for p in procs.values() if p.env.get("QUEUECTL_JOB_ID") == "once")
        worker = procs[shell.ppid]
        guard = next(p.pid for p in procs.values() if harness.is_guard(p) and p.ppid == worker.pid)
        os.kill(guard, signal.SIGSTOP)
        os.kill(worker.pid, signal.SIGKILL)
        wait_for(lambda: job("once")["attempts"] == 2)
        wait_for(lambda: job("once")["state"] == "completed", timeout=20)
        assert not overlap.exists(), "the second run started while the first one still ran"
        assert not pid_alive(shell.pid)
    finally:
        if guard and pid_alive(guard):
            os.kill(guard, signal.SIGCONT)
        sup.send_signal(signal.SIGTERM)
        assert sup.wait(20) == 0


def test_jobs_start_with_default_signals_whatever_their_worker_inherited(db_path):
    """`nohup` ignores SIGHUP, `queuectl worker start &` from a script ignores SIGINT and SIGQUIT,
    a parent may block signals; and the worker itself ignored SIGHUP.  exec keeps ignored
    signals and the mask, so jobs inherited all of it: a job must start with none ignored or
    blocked, and die of a SIGHUP sent to it."""
    enqueue(
        id="signals", command="grep -E '^Sig(Blk|Ign)' /proc/self/status; kill -HUP $$; echo survived", max_retries=0
    )

    def inherited() -> None:
        for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1):
            signal.signal(sig, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2, signal.SIGALRM})

    result = subprocess.run(
        [sys.executable, "-m", "queuectl", "worker", "start", "--burst", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=inherited,
    )
    assert result.returncode == 0, result.stderr
    assert job("signals")["last_error"] == "killed by signal SIGHUP"
    out = run_cli("logs", "signals", "--raw").stdout
    assert "SigBlk:\t0000000000000000\n" in out and "SigIgn:\t0000000000000000\n" in out, out
    assert "survived" not in out
