"""The runner: a command as its own process group, its output in capped files, its end reported;
many commands supervised from one selector; the job guard."""

import os
import shlex
import signal
import subprocess
import sys
import time

import pytest
from conftest import pid_alive, wait_for

from queuectl.execution import runner


def _wait(running: runner.Running) -> runner.Outcome:
    """Supervise one command from a Jobs loop until it ends."""
    jobs = runner.Jobs()
    jobs.add(running)
    try:
        while True:
            for _, outcome in jobs.wait(0.2)[0]:
                return outcome
    finally:
        jobs.close()


def _run(tmp_path, command, timeout=30.0, max_log_bytes=1 << 20, **kwargs):
    running = runner.Running(
        command,
        tmp_path / "logs" / "job" / "out",
        tmp_path / "logs" / "job" / "err",
        max_log_bytes,
        timeout=timeout,
        **kwargs,
    )
    return running, _wait(running)


def _gone(pgid, within=10.0):
    """Is the process group gone (a killed background process is a zombie for a moment)?"""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_success_and_output_in_their_files(tmp_path):
    _, outcome = _run(tmp_path, "echo out; echo err >&2")
    assert (outcome.exit_code, outcome.error) == (0, None)
    assert (tmp_path / "logs/job/out").read_text() == "out\n"
    assert (tmp_path / "logs/job/err").read_text() == "err\n"


def test_a_silent_command_writes_no_files(tmp_path):
    _, outcome = _run(tmp_path, "true")
    assert outcome.error is None and not (tmp_path / "logs").exists()


def test_a_job_holds_its_stdin_its_two_pipes_and_its_marker_and_nothing_leaks(tmp_path):
    """A job reads end of file at once from /dev/null and has exactly fds 0-2 and its marker open;
    after many jobs (started, failed to start, ended), this process holds no more fds than before."""
    _, outcome = _run(tmp_path, "cat; ls -l /proc/$$/fd | awk 'NR > 1 {print $9, $11}'")
    fds = dict(line.split(" ", 1) for line in (tmp_path / "logs/job/out").read_text().splitlines())
    assert fds["0"] == "/dev/null" and fds["1"].startswith("pipe:") and fds["2"].startswith("pipe:")
    assert fds["1"] != fds["2"] and len(fds) == 4, fds  # the fourth: the marker (reaper.py)
    before = len(os.listdir("/proc/self/fd"))
    for i in range(20):
        _run(tmp_path, f"echo {i}; exit {i % 3}")
        with pytest.raises(runner.StartError):
            runner.Running("true", tmp_path / "o", tmp_path / "e", 100, cwd=str(tmp_path / "nowhere"))
    assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize(
    "command, code, error",
    [
        ("exit 3", 3, "exited with code 3"),
        ("kill -KILL $$", 137, "killed by signal SIGKILL"),
    ],
)
def test_failures_name_their_cause(tmp_path, command, code, error):
    _, outcome = _run(tmp_path, command)
    assert (outcome.exit_code, outcome.error) == (code, error)


def test_timeout_kills_the_whole_group(tmp_path):
    """A timed-out command and what it started in the background both end."""
    running, outcome = _run(tmp_path, "sleep 60 & sleep 60", timeout=0.5)
    assert outcome.error == "timed out after 0.5s"
    assert outcome.duration < 10
    assert _gone(running.pgid)


def test_output_is_capped(tmp_path):
    _, outcome = _run(tmp_path, "head -c 100000 /dev/zero", max_log_bytes=1000)
    assert outcome.error is None
    assert (tmp_path / "logs/job/out").stat().st_size < 2000  # 1000 bytes and a note of what was dropped


def test_a_missing_working_directory_is_a_start_error(tmp_path):
    with pytest.raises(runner.StartError, match="does not exist"):
        runner.Running("true", tmp_path / "o", tmp_path / "e", 1000, cwd=str(tmp_path / "nowhere"))


def test_kill_group_from_outside(tmp_path):
    """What a cancel does to a job running on this host."""
    running = runner.Running("sleep 60", tmp_path / "o", tmp_path / "e", 1000)
    runner.kill_group(running.pgid)
    outcome = _wait(running)
    assert outcome.error == f"killed by signal {signal.SIGKILL.name}"
    assert _gone(running.pgid)
    runner.kill_group(running.pgid)  # a group that is gone is no error


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
        jobs.add(runner.Running(f"sleep 0.5; echo out{i}", tmp_path / f"{i}.out", tmp_path / f"{i}.err", 1000, claim=i))
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
        "from queuectl.execution.runner import JobGuard, Running\n"
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


def test_an_orphan_that_ends_after_its_job_is_reaped_not_left_a_zombie(tmp_path):
    """A worker is a subreaper: what a job leaves behind comes back to it.  One still alive when
    its job ends (here: it left the group and shed the marker, so nothing kills it) is reaped
    when it ends, however long after; a zombie of it would keep its group (a cancelled job's)
    in existence for as long as the worker is idle."""
    ready = tmp_path / "ready"
    leftover = (
        f"import os, time; os.closerange(0, 4096); open({str(ready)!r}, 'w').write(str(os.getpid())); time.sleep(1)"
    )
    command = f"setsid {sys.executable} -c {shlex.quote(leftover)} & while [ ! -s {ready} ]; do sleep 0.05; done"
    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from queuectl.execution import reaper, runner\n"
        "reaper.become_subreaper()\n"
        "jobs = runner.Jobs()\n"
        f"jobs.add(runner.Running(sys.argv[1], Path({str(tmp_path)!r}) / 'o', Path({str(tmp_path)!r}) / 'e', 100))\n"
        "while not jobs.wait(0.2)[0]:\n"
        "    pass\n"
        f"pid = int(Path({str(ready)!r}).read_text())\n"
        "print('alive at the job end' if os.path.exists(f'/proc/{pid}') else 'gone at the job end', flush=True)\n"
        "deadline = time.monotonic() + 10\n"
        "while os.path.exists(f'/proc/{pid}') and time.monotonic() < deadline:\n"
        "    jobs.wait(0.2)  # the worker's loop goes on, idle\n"
        "print('reaped' if not os.path.exists(f'/proc/{pid}') else 'left a zombie')\n"
    )
    done = subprocess.run([sys.executable, "-c", script, command], capture_output=True, text=True, timeout=30)
    assert done.stdout.split("\n")[:2] == ["alive at the job end", "reaped"], done.stderr
