"""The supervisor: its own API (what `worker start` and the dashboard's workers use: start, stop,
reap, the recovery of a worker that died), and worker processes with many slots as real
processes: a whole process's jobs recovered at once, graceful stops, per-job kills, connections
and open files."""

import json
import os
import resource
import signal
import subprocess
import sys
import time

import pytest
from conftest import enqueue, job, pid_alive, qctl, run_cli, start_workers, stop, wait_for

from queuectl import ops, store
from queuectl.execution.supervisor import Supervisor, death_reason, kill_leftovers
from queuectl.spec import JobSpec


@pytest.fixture
def supervisor(opened):
    sup = Supervisor(store.location(), 0, quiet=True)
    yield sup
    for child in sup.children:
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.wait(10)


def _registered(child) -> bool:
    return any(w.id == child.id for w in store.list_workers())


def test_a_started_worker_registers_runs_jobs_and_stops_when_asked(supervisor, tmp_path):
    child = supervisor.spawn()
    assert supervisor.running() == [child]
    store.enqueue([JobSpec(f"touch {tmp_path}/ran", id="j")])
    wait_for(lambda: store.get_job("j").state == "completed")
    supervisor.stop(child)
    assert child.proc.wait(20) == 0
    assert supervisor.reap() == []  # a worker that was asked to stop did not die
    assert supervisor.children == [] and supervisor.running() == []
    wait_for(lambda: not _registered(child))


def test_a_worker_that_dies_is_reaped_and_its_job_recovered_at_once(supervisor):
    store.enqueue([JobSpec("sleep 60", id="long", max_retries=0)])
    child = supervisor.spawn()
    wait_for(lambda: store.get_job("long").state == "processing")
    child.proc.send_signal(signal.SIGKILL)
    child.proc.wait(10)
    died = supervisor.reap()
    assert died == [(child, -signal.SIGKILL)]
    reason = death_reason(-signal.SIGKILL)
    assert reason == "lost: its worker was killed by SIGKILL"
    ops.recover_dead_worker(child.id, reason)
    job = store.get_job("long")
    assert (job.state, job.last_error) == ("dead", reason)
    assert kill_leftovers(child.id) == 0  # its job's processes went with the recovery


def test_local_workers_stop_one_then_all(opened):
    """The dashboard's - picks one worker not asked yet; q asks them all (a second time: kill)."""
    workers = ops.LocalWorkers(store.location())
    try:
        first, second = workers.start(), workers.start()
        wait_for(lambda: _registered(first) and _registered(second))  # their signal handlers are set
        assert workers.stop() is second
        assert workers.stop(first.id) is first
        assert workers.stop() is None  # both asked already
        for child in (first, second):
            assert child.proc.wait(20) == 0
        assert workers.reap() == [] and workers.running() == []
    finally:
        for child in workers.supervisor.children:
            child.proc.kill()


@pytest.mark.parametrize(
    "status, reason",
    [
        (3, "lost: its worker exited with code 3"),
        (-9, "lost: its worker was killed by SIGKILL"),
        (-200, "lost: its worker was killed by signal 200"),
    ],
)
def test_death_reasons(status, reason):
    assert death_reason(status) == reason


def test_stop_signals_reach_a_worker_started_after_them(supervisor):
    """A stop that came while a worker was being started reaches it too (run()'s loop relies on it)."""
    supervisor.signals = 1
    child = supervisor.spawn()
    assert child.signalled == 1
    assert child.proc.wait(20) is not None
    assert not supervisor.running()


@pytest.fixture(autouse=True)
def fast_retries():
    run_cli("config", "set", "max_backoff", "0")


def _workers() -> list[dict]:
    return json.loads(run_cli("worker", "list", "--json").stdout)


def _attempts(job_id):
    from queuectl import store
    from queuectl.paths import resolve

    store.open_store(resolve(None))
    return store.attempts(job_id)


def test_a_worker_process_killed_while_running_10_jobs_loses_none(tmp_path):
    pids = tmp_path / "pids"
    for i in range(10):
        enqueue(id=f"j{i}", command=f'if [ "$QUEUECTL_ATTEMPT" = 1 ]; then echo $$ >> {pids}; exec sleep 60; fi')
    workers = start_workers("--count", "10", "--procs", "1")
    try:
        wait_for(lambda: pids.exists() and len(pids.read_text().split()) == 10)
        (worker,) = wait_for(lambda: [w for w in _workers() if w["busy"] == 10])
        assert worker["slots"] == 10  # one process, ten slots
        os.kill(worker["pid"], signal.SIGKILL)
        wait_for(lambda: all(job(f"j{i}")["state"] == "completed" for i in range(10)), timeout=30)
        assert not any(pid_alive(int(pid)) for pid in pids.read_text().split())
        for i in range(10):
            assert job(f"j{i}")["attempts"] == 2
            assert _attempts(f"j{i}")[0].error.startswith("lost: its worker was killed by SIGKILL")
    finally:
        assert stop(workers) == 0


def test_sigterm_once_lets_all_running_jobs_finish(tmp_path):
    for i in range(8):
        enqueue(id=f"j{i}", command=f"touch {tmp_path}/started-{i}; sleep 1; echo finished")
    workers = start_workers("--count", "8")
    wait_for(lambda: all((tmp_path / f"started-{i}").exists() for i in range(8)))
    assert stop(workers) == 0
    for i in range(8):
        assert job(f"j{i}")["state"] == "completed"
        assert "finished" in run_cli("logs", f"j{i}").stdout


def test_a_timeout_and_a_cancel_kill_only_their_own_job(tmp_path):
    enqueue(id="cancelled", command=f"touch {tmp_path}/c; sleep 30")
    enqueue(id="slow", command="sleep 30", timeout=1, max_retries=0)
    enqueue(id="calm", command=f"touch {tmp_path}/calm; sleep 3")
    workers = start_workers("--count", "3")
    try:
        wait_for(lambda: (tmp_path / "c").exists() and (tmp_path / "calm").exists())
        assert qctl("cancel", "cancelled").returncode == 0
        wait_for(lambda: job("slow")["state"] == "dead" and job("calm")["state"] == "completed", timeout=30)
        assert job("slow")["last_error"] == "timed out after 1s"
        assert job("cancelled")["state"] == "cancelled"
        assert _attempts("calm")[0].error is None
    finally:
        assert stop(workers) == 0


@pytest.mark.postgres_only
def test_64_slots_hold_at_most_3_connections_to_postgresql(store_url, pg_admin):
    for i in range(64):
        enqueue(id=f"s{i}", command="sleep 30")
    workers = start_workers("--count", "64")
    store.close_store()  # from here on, every connection to the store is the host's
    try:
        wait_for(lambda: json.loads(qctl("status", "--json").stdout)["jobs"]["processing"] == 64, timeout=30)
        with pg_admin.cursor() as cursor:
            cursor.execute(
                "SELECT application_name FROM pg_stat_activity WHERE datname = %s", (store_url.rsplit("/", 1)[1],)
            )
            held = [name for (name,) in cursor.fetchall()]
        assert len(held) <= 3, held  # two worker processes (one per CPU) and the host's LISTEN
    finally:
        workers.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # (two signals at once would reach the worker as one)
        workers.send_signal(signal.SIGTERM)  # the second stop kills the sleeps
        assert workers.wait(30) == 0


def _with_open_file_limit(n: int):
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))


def test_a_count_the_open_file_limit_cannot_carry_is_refused_in_one_line():
    argv = [sys.executable, "-m", "queuectl", "worker", "start", "--burst", "--quiet", "--count", "100", "--procs"]
    refused = subprocess.run(argv + ["1"], capture_output=True, text=True, preexec_fn=_with_open_file_limit(300))
    assert refused.returncode == 2
    assert refused.stderr.startswith("Error: 100 slots in one worker process need about 464 open files")
    assert len(refused.stderr.splitlines()) == 1
    spread = subprocess.run(argv + ["2"], capture_output=True, text=True, preexec_fn=_with_open_file_limit(300))
    assert spread.returncode == 0, spread.stderr


def test_each_output_line_is_one_write_and_the_readme_sample_is_what_it_prints(tmp_path):
    """Worker processes share the supervisor's stdout.  Unbuffered (`python -u`,
    PYTHONUNBUFFERED), print() wrote a line and its newline apart, so another process's line
    could land between them: each line must be one write.  Stdout is a SOCK_SEQPACKET socket,
    which keeps each write(2) as one message.  The README's sample output is the tour's
    `worker start --count 3` (on two CPUs or more: two processes) as printed now."""
    import re
    import socket
    from pathlib import Path

    from queuectl.paths import resolve

    enqueue(id="urgent", command="echo High Priority", priority=10)
    enqueue(id="job1", command="echo Hello World")
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with ours:
        proc = subprocess.Popen(
            [sys.executable, "-m", "queuectl", "worker", "start", "--burst", "--count", "3", "--procs", "2"],
            stdout=theirs,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        theirs.close()
        writes = []
        while data := ours.recv(65536):
            writes.append(data.decode())
    assert proc.wait(60) == 0, proc.stderr.read()
    assert writes and all(w.endswith("\n") and w.count("\n") == 1 for w in writes), writes
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    sample = readme.split("Worker output, one line per event:\n\n```text\n", 1)[1].split("```", 1)[0].splitlines()
    head = re.sub(
        r" on \S+ \(press Ctrl\+C to stop\)$", f" on {resolve(None).display} (until the queue is empty)", sample[0]
    )
    assert writes[0] == head + "\n"

    def shape(line: str) -> str:  # which process takes which job varies, and so do durations
        line = re.sub(r" in \d+\.\d\ds$", " in 0.01s", line.rstrip("\n"))
        return re.sub(r"^\[worker-\d+\] (?=.*job ')", "[worker-N] ", line)

    printed = {shape(w) for w in writes}
    assert {shape(line) for line in sample[1:] if "complex" not in line} <= printed, (sample, printed)
