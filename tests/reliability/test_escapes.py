"""Nothing escapes a job: what a job starts in the background, even out of its process group
and session (`setsid`, `setsid -f`, a double fork, `env -i setsid -f`), dies when the job ends,
times out, is cancelled, when its worker stops, and when its worker is SIGKILLed."""

import os
import random
import signal
import time

import pytest
from conftest import enqueue, job, run_cli, start_workers, stop, wait_for

ESCAPES = {
    "setsid": "setsid sleep {n} & sleep 0.3; echo bye",
    "setsid -f": "setsid -f sleep {n}; echo bye",
    "double fork": "(sleep {n} &); echo bye",
    "env -i setsid -f": "env -i setsid -f sleep {n}; echo bye",
}


def _survivors(n: int) -> list[int]:
    """Processes whose command line is `sleep N` (the marker argument of this test)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().split(b"\0")[:2] == [b"sleep", str(n).encode()]:
                    found.append(int(pid))
        except OSError:
            pass
    return found


@pytest.fixture
def marker():
    n = random.randrange(380000, 389999)
    yield n
    for pid in _survivors(n):  # a failed test leaves nothing behind either
        os.kill(pid, signal.SIGKILL)


def _escaped(n: int) -> bool:
    return bool(_survivors(n))


@pytest.mark.parametrize("escape", ESCAPES)
@pytest.mark.parametrize("ending", ["end", "timeout", "cancel", "stop", "kill -9"])
def test_nothing_escapes_a_job(db_path, marker, escape, ending):
    command = ESCAPES[escape].format(n=marker)
    if ending != "end":  # a job still running when the ending comes (a stop lets it finish)
        command += "; sleep 2" if ending == "stop" else "; sleep 30"
    enqueue(id="j", command=command, timeout=1 if ending == "timeout" else 60, max_retries=0)
    workers = start_workers()
    try:
        if ending != "end":  # (a job that just ends may take its escapee with it before we look)
            wait_for(lambda: _escaped(marker), timeout=20)
        if ending == "cancel":
            assert run_cli("cancel", "j").exit_code == 0
        elif ending == "stop":
            assert stop(workers) == 0
        elif ending == "kill -9":
            worker = next(w for w in os.listdir("/proc") if w.isdigit() and _is_worker(int(w), workers.pid))
            os.kill(int(worker), signal.SIGKILL)
        if ending in ("end", "timeout"):
            wait_for(lambda: job("j")["state"] in ("completed", "dead"), timeout=20)
        wait_for(lambda: not _escaped(marker), timeout=10)
    finally:
        if workers.poll() is None:
            workers.send_signal(signal.SIGTERM)
            workers.send_signal(signal.SIGTERM)
            workers.wait(20)
    time.sleep(0.2)
    assert _survivors(marker) == []


def _is_worker(pid: int, supervisor: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return ppid == supervisor and b"queuectl.execution.worker" in f.read()
    except OSError:
        return False
