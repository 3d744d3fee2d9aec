"""Workers as real processes running real shell commands against a real SQLite file."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import drain, enqueue, job, pid_alive, qctl, run_cli, start_workers, stop, wait_for


@pytest.fixture(autouse=True)
def fast_retries():
    run_cli("config", "set", "max_backoff", "0")


def _attempts(job_id):
    from queuectl import store
    from queuectl.paths import resolve

    store.open_store(resolve(None))
    return store.attempts(job_id)


def _read_pid(path, timeout=20):
    wait_for(lambda: path.exists() and path.read_text().strip())
    return int(path.read_text().split()[0])


def test_seed_examples_run_and_report(tmp_path):
    enqueue(id="job1", command="echo Hello World")
    enqueue(id="urgent", command="echo High Priority", priority=10)
    enqueue(id="broken", command="echo oops >&2; exit 3", max_retries=1)
    result = drain("--count", "3")
    assert "Error" not in result.stderr
    assert job("job1")["state"] == "completed" and job("urgent")["state"] == "completed"
    broken = job("broken")
    assert (broken["state"], broken["attempts"], broken["last_error"]) == ("dead", 2, "exited with code 3")
    logs = run_cli("logs", "job1").stdout
    assert "=== EXIT CODE ===\n0\n" in logs and "=== STDOUT ===\nHello World\n" in logs
    assert "oops" in run_cli("logs", "broken").stdout
    assert "broken" in run_cli("dlq", "list").stdout


def test_many_workers_run_each_job_exactly_once(tmp_path):
    out = tmp_path / "ran.txt"
    lines = "\n".join(json.dumps({"id": f"j{i}", "command": f"echo j{i} >> {out}"}) for i in range(200))
    assert run_cli("enqueue", "-", input=lines).exit_code == 0
    drain("--count", "4")
    ran = out.read_text().split()
    assert sorted(ran) == sorted(f"j{i}" for i in range(200))
    assert json.loads(run_cli("status", "--json").stdout)["jobs"]["completed"] == 200


def test_one_worker_follows_priority_then_fifo(tmp_path):
    out = tmp_path / "order.txt"
    for name, priority in [("low1", 0), ("high1", 9), ("low2", 0), ("mid", 3), ("high2", 9)]:
        enqueue(id=name, command=f"echo {name} >> {out}", priority=priority)
    drain("--count", "1")
    assert out.read_text().split() == ["high1", "high2", "mid", "low1", "low2"]


def test_failed_job_runs_exactly_one_plus_max_retries_times(tmp_path):
    out = tmp_path / "runs.txt"
    enqueue(id="f", command=f"echo run >> {out}; exit 1", max_retries=2)
    drain()
    assert out.read_text().split() == ["run"] * 3
    assert job("f")["state"] == "dead"
    assert [a.error for a in _attempts("f")] == ["exited with code 1"] * 3


def test_burst_waits_for_retries_but_not_for_future_run_at(tmp_path):
    marker = tmp_path / "second-try"
    run_cli("config", "set", "max_backoff", "1")
    enqueue(id="flaky", command=f"test -e {marker} || {{ touch {marker}; exit 1; }}")
    enqueue(id="tomorrow", command="true", run_at="2999-01-01T00:00:00Z")
    drain()
    assert job("flaky")["state"] == "completed" and job("flaky")["attempts"] == 2
    assert job("tomorrow")["state"] == "pending"


def test_timeout_kills_the_whole_process_tree(tmp_path):
    bg = tmp_path / "bg.pid"
    enqueue(id="slow", command=f"sleep 60 & echo $! > {bg}; sleep 60", timeout=1, max_retries=0)
    started = time.monotonic()
    drain()
    assert time.monotonic() - started < 30
    assert job("slow")["last_error"] == "timed out after 1s" and job("slow")["state"] == "dead"
    assert not pid_alive(int(bg.read_text()))


def test_cancel_kills_a_running_job_and_its_children(tmp_path):
    pids = tmp_path / "pids"
    enqueue(id="long", command=f"sleep 60 & echo $$ $! > {pids}; wait")
    workers = start_workers()
    try:
        shell, child = (int(p) for p in wait_for(lambda: pids.exists() and pids.read_text().split()))
        result = qctl("cancel", "long")
        assert result.returncode == 0, result.stderr
        wait_for(lambda: not pid_alive(shell) and not pid_alive(child), timeout=10)
        assert job("long")["state"] == "cancelled"
        time.sleep(1.5)  # the worker records the end of its attempt without reviving the job
        assert job("long")["state"] == "cancelled"
    finally:
        assert stop(workers) == 0


def test_worker_killed_mid_job_is_recovered_and_job_reruns(tmp_path):
    pidfile = tmp_path / "job.pid"
    enqueue(id="victim", command=f'if [ "$QUEUECTL_ATTEMPT" = 1 ]; then echo $$ > {pidfile}; exec sleep 60; fi')
    workers = start_workers()
    try:
        job_pid = _read_pid(pidfile)
        worker_pid = json.loads(run_cli("worker", "list", "--json").stdout)[0]["pid"]
        os.kill(worker_pid, signal.SIGKILL)
        wait_for(lambda: job("victim")["state"] == "completed", timeout=30)
        assert not pid_alive(job_pid)  # the job's process did not outlive its worker
        first = _attempts("victim")[0]
        assert first.error.startswith("lost: its worker was killed by SIGKILL")
        assert job("victim")["attempts"] == 2
    finally:
        assert stop(workers) == 0


def test_sigterm_once_lets_the_running_job_finish(tmp_path):
    started = tmp_path / "started"
    enqueue(id="j", command=f"touch {started}; sleep 1; echo finished")
    workers = start_workers()
    wait_for(started.exists)
    assert stop(workers) == 0
    assert job("j")["state"] == "completed"
    assert "finished" in run_cli("logs", "j").stdout


def test_sigterm_twice_kills_the_job_and_records_the_attempt(tmp_path):
    started = tmp_path / "started"
    enqueue(id="j", command=f"touch {started}; sleep 60", max_retries=0)
    workers = start_workers()
    wait_for(started.exists)
    workers.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    workers.send_signal(signal.SIGTERM)
    assert workers.wait(20) == 0
    j = job("j")
    assert j["state"] == "dead" and j["last_error"] == "killed: its worker was stopped"
    assert json.loads(run_cli("status", "--json").stdout)["jobs"]["processing"] == 0


def test_worker_stop_from_another_terminal(tmp_path):
    workers = start_workers("--count", "2", "--procs", "2")
    wait_for(lambda: json.loads(run_cli("status", "--json").stdout)["workers"] == 2)
    result = qctl("worker", "stop")
    assert result.returncode == 0 and "asked 2 worker(s)" in result.stdout
    assert workers.wait(15) == 0
    assert json.loads(run_cli("status", "--json").stdout)["workers"] == 0


def test_idle_workers_pick_up_new_jobs(tmp_path):
    workers = start_workers("--count", "2", "--procs", "2")
    try:
        wait_for(lambda: json.loads(run_cli("status", "--json").stdout)["workers"] == 2)
        enqueue(id="late", command="true")
        wait_for(lambda: job("late")["state"] == "completed")
    finally:
        assert stop(workers) == 0


def test_jobs_survive_a_full_stop_and_restart(tmp_path):
    out = tmp_path / "ran.txt"
    lines = "\n".join(json.dumps({"id": f"j{i}", "command": f"sleep 0.05; echo j{i} >> {out}"}) for i in range(40))
    run_cli("enqueue", "-", input=lines)
    workers = start_workers("--count", "2")
    wait_for(lambda: out.exists() and len(out.read_text().split()) >= 5)
    assert stop(workers) == 0
    counts = json.loads(run_cli("status", "--json").stdout)["jobs"]
    assert counts["processing"] == 0 and counts["failed"] == 0 and counts["pending"] > 0
    drain("--count", "2")
    assert sorted(out.read_text().split()) == sorted(f"j{i}" for i in range(40))


def test_output_is_capped_at_max_log_bytes():
    run_cli("config", "set", "max_log_bytes", "1000")
    enqueue(id="chatty", command="head -c 100000 /dev/zero | tr '\\0' x")
    drain()
    assert job("chatty")["state"] == "completed"
    out = run_cli("logs", "chatty").stdout
    assert "x" * 1000 in out and "x" * 1001 not in out
    assert "[queuectl: output truncated at 1000 bytes; 99000 more bytes dropped]" in out


def test_unwritable_logs_fail_the_attempt_not_the_worker(tmp_path, monkeypatch):
    """A job whose log folder cannot be made fails its attempt and the worker goes on; a logs
    folder that cannot be made stops `worker start` with one line before any job runs."""
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    (logs / "a").write_text("")  # where job a's folder would go
    monkeypatch.setenv("QUEUECTL_LOGS", str(logs))
    enqueue(id="a", command="echo some output", max_retries=0)
    enqueue(id="b", command="echo more output")
    drain()
    assert job("a")["state"] == "dead"
    assert job("a")["last_error"] == "could not write the job's log: Not a directory"
    assert job("b")["state"] == "completed"
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("QUEUECTL_LOGS", str(blocker / "logs"))
    enqueue(id="c", command="true")
    result = qctl("worker", "start", "--burst", timeout=30)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: cannot use the logs folder") and result.stderr.count("\n") == 1
    assert job("c")["state"] == "pending"


def test_logs_follow_streams_until_the_job_ends():
    enqueue(id="talk", command="for i in 1 2 3; do echo line$i; sleep 0.3; done")
    workers = start_workers()
    try:
        result = qctl("logs", "talk", "--follow", timeout=30)
        assert result.returncode == 0
        assert result.stdout.split() == ["line1", "line2", "line3"]
        assert "ended: exit code 0" in result.stderr
    finally:
        assert stop(workers) == 0


def test_job_environment_names_job_and_attempt(tmp_path):
    enqueue(id="env", command='echo "$QUEUECTL_JOB_ID/$QUEUECTL_ATTEMPT"')
    drain()
    assert "env/1" in run_cli("logs", "env").stdout


def test_spool_files_are_made_only_for_the_streams_a_job_writes(backend):
    """A silent job leaves no file, one that writes only to stderr that file alone (on
    PostgreSQL the spool is shipped into the store and removed); `logs` and `show` read both."""
    from queuectl.paths import resolve

    enqueue(id="silent", command="true")
    enqueue(id="errs", command="echo oops >&2")
    drain()
    logs_dir = resolve().logs_dir
    assert not (logs_dir / "silent").exists()
    if backend == "sqlite":
        assert [p.name for p in (logs_dir / "errs").iterdir()] == ["attempt-1.stderr"]
    for job_id in ("silent", "errs"):
        assert job(job_id)["state"] == "completed"
        assert run_cli("show", job_id).exit_code == 0
    assert run_cli("logs", "silent", "--raw").stdout.split("=== STDOUT ===")[1].split() == ["===", "STDERR", "==="]
    assert run_cli("logs", "errs", "--raw").stdout.split("=== STDERR ===")[1].split() == ["oops"]


def test_a_job_gets_its_workers_environment_with_its_own_over_it(tmp_path, monkeypatch):
    """Byte for byte (the worker passes its environment on encoded once, not decoded per job);
    the job's id and attempt are the worker's to say (a job naming them in its env used to
    crash its worker: dict() got them twice)."""
    monkeypatch.setenv("QC_KEPT", "from the worker")
    monkeypatch.setenv("QC_SHADOWED", "worker")
    monkeypatch.setenv("QC_RAW", "caf\udce9")  # the byte 0xE9, which is not UTF-8
    out = tmp_path / "out"
    command = f'printf "%s|%s|%s|%s|%s" "$QC_KEPT" "$QC_SHADOWED" "$QC_RAW" "$QC_JOB" "$QUEUECTL_JOB_ID" > {out}'
    enqueue(id="envs", command=command, env={"QC_SHADOWED": "job", "QC_JOB": "é", "QUEUECTL_JOB_ID": "mine"})
    drain(timeout=30)
    assert out.read_bytes() == "from the worker|job|caf\udce9|é|envs".encode("utf-8", "surrogateescape")


def test_job_guard_kills_the_job_group_when_its_worker_is_sigkilled(tmp_path):
    """Even with no supervisor to clean up, a job never outlives its worker."""
    import subprocess
    import sys

    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from queuectl.execution.runner import JobGuard, Running\n"
        "guard = JobGuard()\n"
        f"run = Running('sleep 60 & sleep 60', Path({str(tmp_path)!r}) / 'o', Path({str(tmp_path)!r}) / 'e', 100, None, guard)\n"
        "print(run.pgid, flush=True)\n"
        "time.sleep(60)\n"
    )
    worker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pgid = int(worker.stdout.readline())
    wait_for(lambda: len([p for p in os.listdir("/proc") if p.isdigit() and _pgid(int(p)) == pgid]) >= 2)
    worker.kill()
    worker.wait()
    wait_for(lambda: not any(_pgid(int(p)) == pgid for p in os.listdir("/proc") if p.isdigit()), timeout=10)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid) if pid_alive(pid) else None
    except ProcessLookupError:
        return None


def test_a_queue_limit_of_3_never_runs_4_across_two_hosts(tmp_path):
    """Two hosts with 16 slots each race for a queue limited to 3: no moment has 4 of its jobs
    running (each job marks its start and end in one shared file)."""
    marks = tmp_path / "marks.txt"
    assert run_cli("queue", "limit", "small", "3").exit_code == 0
    lines = "\n".join(
        json.dumps({"command": f"echo + >> {marks}; sleep 0.2; echo - >> {marks}", "queue": "small"}) for _ in range(24)
    )
    lines += "\n" + "\n".join(json.dumps({"command": "sleep 0.1"}) for _ in range(40))
    assert run_cli("enqueue", "-", input=lines).exit_code == 0
    hosts = [
        subprocess.Popen(
            [sys.executable, "-m", "queuectl", "worker", "start", "--burst", "--quiet", "--count", "16"],
            env=dict(os.environ, QUEUECTL_HOST_ID=name),
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("host-a", "host-b")
    ]
    for host in hosts:
        assert host.wait(120) == 0, host.stderr.read()
    running = peak = 0
    for mark in marks.read_text().split():
        running += 1 if mark == "+" else -1
        peak = max(peak, running)
    assert peak == 3 and running == 0
    assert json.loads(run_cli("status", "--json").stdout)["jobs"]["completed"] == 64


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_free_slot_beside_a_full_limited_queue_waits_without_spinning():
    """The queue's next job is due but not claimable: the free slot's worker waits (a job's end
    looks again, in the same transaction as its record) instead of looking again at once, which
    kept a CPU busy; each next job still starts as the one before it ends."""
    assert run_cli("queue", "limit", "lim", "1").exit_code == 0
    for i in range(3):
        enqueue(id=f"lim-{i}", command="sleep 1.5", queue="lim")
    workers = start_workers("--count", "2", "--procs", "1")
    try:
        wait_for(lambda: job("lim-0")["state"] == "processing")
        pid = json.loads(run_cli("worker", "list", "--json").stdout)[0]["pid"]
        before = _cpu_seconds(pid)
        time.sleep(1.0)
        assert _cpu_seconds(pid) - before < 0.3  # a claim loop takes the whole second
        wait_for(lambda: job("lim-2")["state"] == "completed", timeout=30)
    finally:
        stop(workers)
    runs = sorted((a.started_at, a.finished_at) for i in range(3) for a in _attempts(f"lim-{i}"))
    assert len(runs) == 3
    for (_, ended), (started, _) in zip(runs, runs[1:]):
        assert ended <= started < ended + 0.5  # the limit held, and the slot was used at once


@pytest.mark.postgres_only
def test_a_chatty_job_costs_no_transaction_per_chunk_of_output(pg_admin, store_url):
    """20 MB of output reach the worker as thousands of pipe reads; they wake its loop but are
    no reason to look for work (each look was a claim transaction).  The 1 MB cap keeps the
    shipments of what is kept to a few dozen."""
    assert run_cli("config", "set", "max_log_bytes", "1000000").exit_code == 0
    enqueue(id="chatty", command="yes 0123456789012345678901234567890123456789 | head -c 20000000")
    name = store_url.rsplit("/", 1)[1]

    def commits() -> int:
        with pg_admin.cursor() as cursor:
            cursor.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (name,))
            return cursor.fetchone()[0]

    before = commits()
    drain("--count", "2", "--procs", "1")  # the worker's connections close: their counts are in
    assert job("chatty")["state"] == "completed"
    assert commits() - before < 300  # 20 MB in reads of at most 64 KiB: 900 and more before


@pytest.mark.parametrize("host", ["rack/7", "h" * 181, "tab\there"], ids=["slash", "too-long", "control"])
def test_worker_start_refuses_a_host_id_its_workers_cannot_use(monkeypatch, host):
    """A '/' or a host id too long for a worker id killed every worker with a traceback."""
    monkeypatch.setenv("QUEUECTL_HOST_ID", host)
    result = qctl("worker", "start", "--burst")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("Error: invalid host id ") and result.stderr.count("\n") == 1, result.stderr


def test_a_long_host_id_gets_a_wake_up_socket_that_fits(monkeypatch):
    """A worker's wake-up socket is named after its id (host.pid.suffix): a 180-character host
    id made a path longer than a Unix socket address holds (OSError: AF_UNIX path too long)."""
    monkeypatch.setenv("QUEUECTL_HOST_ID", "h" * 180)
    enqueue(id="long-host", command="true")
    result = drain()
    assert "Traceback" not in result.stderr and job("long-host")["state"] == "completed"
