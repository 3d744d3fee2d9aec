"""The runner alone: many real commands supervised from one selector, and the job guard."""
import os
import subprocess
import sys
import time

from conftest import pid_alive, wait_for
from queuectl import runner


def _drive(jobs: runner.Jobs, limit: float = 30) -> dict:
    """Run the loop until every command ended; their outcomes by claim."""
    outcomes = {}
    deadline = time.monotonic() + limit
    while jobs.running and time.monotonic() < deadline:
        for running, outcome in jobs.wait(0.2)[0]:
            outcomes[running.claim] = outcome
    return outcomes


def test_many_commands_run_side_by_side_from_one_loop(tmp_path):
    jobs = runner.Jobs()
    started = time.monotonic()
    for i in range(20):
        jobs.add(runner.Running(f"sleep 0.5; echo out{i}", tmp_path / f"{i}.out", tmp_path / f"{i}.err", 1000,
                                claim=i))  # fmt: skip
    outcomes = _drive(jobs)
    elapsed = time.monotonic() - started
    assert sorted(outcomes) == list(range(20))
    assert all(o.error is None and o.exit_code == 0 for o in outcomes.values())
    assert elapsed < 10  # side by side: one after another would take 10 s
    assert (tmp_path / "7.out").read_text() == "out7\n"


def test_a_timeout_and_a_kill_end_only_their_own_command(tmp_path):
    jobs = runner.Jobs()
    slow = runner.Running("sleep 30", tmp_path / "s.out", tmp_path / "s.err", 100, timeout=0.5, claim="slow")
    victim = runner.Running("sleep 30", tmp_path / "v.out", tmp_path / "v.err", 100, claim="victim")
    calm = runner.Running("sleep 1.5", tmp_path / "c.out", tmp_path / "c.err", 100, claim="calm")
    for running in (slow, victim, calm):
        jobs.add(running)
    victim.kill("cancelled", grace=1.0)
    outcomes = _drive(jobs)
    assert outcomes["slow"].error == "timed out after 0.5s"
    assert outcomes["victim"].error == "cancelled"
    assert outcomes["calm"].error is None and outcomes["calm"].duration >= 1.5


def test_the_guard_kills_every_running_job_when_its_worker_is_sigkilled(tmp_path):
    """Even with no supervisor to clean up, no job of a dead worker process outlives it."""
    script = (
        "import time\n"
        "from pathlib import Path\n"
        "from queuectl.runner import JobGuard, Running\n"
        "guard = JobGuard()\n"
        f"runs = [Running('sleep 60 & sleep 60', Path({str(tmp_path)!r}) / f'{{i}}.o', Path({str(tmp_path)!r}) / f'{{i}}.e',"
        " 100, None, guard) for i in range(5)]\n"
        "done = Running('true', Path('/dev/null'), Path('/dev/null'), 100, None, guard)\n"
        "done.proc.wait(); done.check(time.monotonic()); done.close()  # a record released again\n"
        "print(' '.join(str(r.proc.pid) for r in runs), flush=True)\n"
        "time.sleep(60)\n"
    )
    worker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    shells = [int(pid) for pid in worker.stdout.readline().split()]
    assert len(shells) == 5 and all(pid_alive(pid) for pid in shells)
    worker.kill()
    worker.wait()
    wait_for(lambda: not any(pid_alive(pid) for pid in shells), timeout=10)
    wait_for(lambda: not any(_in_group(pgid) for pgid in shells), timeout=10)


def _in_group(pgid: int) -> bool:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid and pid_alive(int(entry)):
                    return True
            except ProcessLookupError:
                pass
    return False
