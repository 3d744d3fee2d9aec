"""The runner: a command as its own process group, its output in capped files, its end reported."""
import os
import signal
import time

import pytest

from queuectl import runner


def _run(tmp_path, command, timeout=30.0, max_log_bytes=1 << 20, **kwargs):
    running = runner.Running(command, tmp_path / "logs" / "job" / "out", tmp_path / "logs" / "job" / "err",
                             max_log_bytes, **kwargs)  # fmt: skip
    return running, running.wait(timeout, lambda: None, 0.1)


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


@pytest.mark.parametrize("command, code, error", [
    ("exit 3", 3, "exited with code 3"),
    ("kill -KILL $$", 137, "killed by signal SIGKILL"),
])  # fmt: skip
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
    outcome = running.wait(30, lambda: None, 0.1)
    assert outcome.error == f"killed by signal {signal.SIGKILL.name}"
    assert _gone(running.pgid)
    runner.kill_group(running.pgid)  # a group that is gone is no error
