"""`queuectl pause` / `resume`: a waiting job is not claimed; a running job's process group is
stopped and continued by its worker, asked through the store from another "host" (on both
backends), with its lease kept alive and its timeout clock stopped."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import drain, enqueue, job, pid_alive, run_cli, snapshot, start_workers, stop, wait_for

from queuectl import ops, store
from queuectl.errors import InvalidState
from queuectl.execution.reaper import descendants

COUNTER = "echo pid $$; i=0; while true; do echo $i; i=$((i+1)); sleep 0.05; done"


def from_other_host(*args: str) -> subprocess.CompletedProcess:
    """A command run as if on another machine: nothing it does can signal the job directly."""
    env = dict(os.environ, QUEUECTL_HOST_ID="host-b")
    return subprocess.run(
        [sys.executable, "-m", "queuectl", *args], env=env, capture_output=True, text=True, timeout=60
    )


def stdout_of(job_id: str) -> Path:
    return Path(json.loads(run_cli("show", job_id, "--json").stdout)["attempts"][-1]["stdout_path"])


def process_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(") ", 1)[1][0]


def group_stopped(pid: int) -> bool:
    """Every process of the job (its shell and what it started) is stopped.  A shell caught by
    SIGSTOP in the middle of a vfork shows D, not T: it waits, in the kernel, for its stopped
    child to exec."""
    states = []
    for member in [pid, *descendants(pid)]:
        try:
            states.append(process_state(member))
        except FileNotFoundError:  # ended meanwhile
            pass
    return "T" in states and set(states) <= {"T", "D"}


def test_a_paused_waiting_job_is_not_claimed_until_resumed():
    """Paused (by pause, or added paused): a burst worker leaves it; resumed, it runs."""
    enqueue(id="a", command="true")
    assert run_cli("add", "--id", "b", "--paused", "--", "true").exit_code == 0
    result = run_cli("pause", "a")
    assert (result.exit_code, result.stdout) == (0, "paused job 'a'\n")
    drain()
    assert (job("a")["state"], job("a")["paused"], job("b")["state"]) == ("pending", True, "pending")
    listed = run_cli("list").stdout
    assert "paused" in listed and "Paused:      2" in run_cli("status").stdout
    assert run_cli("resume", "a", "b").stdout == "resumed job 'a'\nresumed job 'b'\n"
    drain()
    assert (job("a")["state"], job("b")["state"], job("a")["paused"]) == ("completed", "completed", False)


def test_a_running_job_stops_printing_while_paused_and_goes_on_in_the_same_process():
    """The counter stops (its process is stopped, lease renewed past a whole lease), then goes on
    in the same process; cancel of a paused job kills it."""
    assert run_cli("config", "set", "lease_seconds", "2").exit_code == 0
    proc = start_workers("--count", "1")
    try:
        enqueue(id="counter", command=COUNTER)
        out = wait_for(lambda: job("counter")["state"] == "processing" and stdout_of("counter"))
        wait_for(lambda: out.exists() and len(out.read_text().splitlines()) > 5)
        pid = int(out.read_text().split()[1])
        result = from_other_host("pause", "counter")
        assert result.returncode == 0, result.stderr
        wait_for(lambda: group_stopped(pid))
        size = out.stat().st_size
        time.sleep(3)  # longer than a whole lease: the job must stay this worker's, stopped, silent
        assert out.stat().st_size == size
        assert group_stopped(pid)
        assert job("counter")["state"] == "processing" and job("counter")["paused"]
        assert "paused" in run_cli("list").stdout
        assert from_other_host("resume", "counter").returncode == 0
        wait_for(lambda: out.stat().st_size > size)
        assert pid_alive(pid) and process_state(pid) != "T"
        assert out.read_text().count("pid ") == 1  # the same process, not a new attempt
        assert len(json.loads(run_cli("show", "counter", "--json").stdout)["attempts"]) == 1
        # paused again, then cancelled: killed although stopped
        assert from_other_host("pause", "counter").returncode == 0
        wait_for(lambda: group_stopped(pid))
        assert from_other_host("cancel", "counter").returncode == 0
        wait_for(lambda: not pid_alive(pid))
        assert job("counter")["state"] == "cancelled"
    finally:
        assert stop(proc) == 0


def test_the_timeout_clock_stops_while_paused(tmp_path):
    """A job paused for longer than its timeout still completes: only running time counts."""
    marker = tmp_path / "started"
    steps = f"touch {marker}; i=0; while [ $i -lt 10 ]; do sleep 0.1; i=$((i+1)); done"
    proc = start_workers("--count", "1")
    try:
        enqueue(id="slow", command=steps, timeout=6, max_retries=0)
        wait_for(lambda: marker.exists())
        assert run_cli("pause", "slow").exit_code == 0
        time.sleep(7)  # paused longer than the whole timeout
        assert job("slow")["state"] == "processing"
        assert run_cli("resume", "slow").exit_code == 0
        wait_for(lambda: job("slow")["state"] == "completed", timeout=30)
    finally:
        assert stop(proc) == 0


@pytest.mark.parametrize(
    "args, code",
    [
        (["pause", "nope"], 1),
        (["pause", "../x"], 2),
        (["resume", "a"], 1),
        (["pause", "done"], 1),
        (["resume", "done"], 1),
        (["pause"], 2),
        (["resume", "bad id!"], 2),
    ],
)
def test_bad_pause_and_resume_change_nothing(args, code):
    enqueue(id="a", command="true")
    enqueue(id="done", command="true")
    assert run_cli("cancel", "done").exit_code == 0
    before = snapshot()
    result = run_cli(*args)
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert snapshot() == before


def test_ops_pause_twice_is_refused(opened):
    from queuectl.spec import JobSpec

    store.enqueue([JobSpec("true", id="a")])
    assert ops.pause(["a"]) == ["a"]
    with pytest.raises(InvalidState, match="paused already"):
        ops.pause(["a"])
    assert store.get_job("a").shown_state == "paused"
    assert ops.resume(["a"]) == ["a"] and store.get_job("a").shown_state == "pending"
