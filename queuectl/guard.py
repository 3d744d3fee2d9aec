"""A worker's job guard: kills the process group of its running job when the worker dies, or
when the worker's fence deadline passes while it cannot act (frozen, cut off: fence.py).

The worker writes the process group of the job it runs (0 when none) at the start of a small
file both hold open; the guard only waits for its stdin to close, which the kernel does when
the worker exits, crashes or is SIGKILLed.  Then it kills the group written there, if that is
still a session leader's group (a job's shell leads its own session), so that a recycled pid is
never hit; then every process that holds the job's marker (see reaper.py), wherever it went.
This covers the whole process group, on every POSIX system, and costs the worker
one pwrite per job and per heartbeat; the guard wakes every GUARD_POLL_SECONDS to read it.  A parent-death signal would need a
`preexec_fn`, which makes every spawn about three times slower, and would reach the shell only.
"""
import os
import select
import signal
import sys
import time

from .fence import GUARD_POLL_SECONDS
from .reaper import kill_marked

#: the slot: "PGID MARKER DEADLINE" (0 when no job runs), space-padded; DEADLINE is the job's
#: fence deadline on CLOCK_MONOTONIC (fence.py)
SLOT_BYTES = 96


def _leads_own_session(pid: int) -> bool:
    try:
        return os.getsid(pid) == pid
    except OSError:
        return False


def _read_slot(fd: int) -> tuple[int, str, float]:
    pgid, marker, deadline = (os.pread(fd, SLOT_BYTES, 0).strip(b"\0 ").decode().split(" ") + ["", ""])[:3]
    return int(pgid or 0), marker, float(deadline or "inf")


def _kill_job(pgid: int, marker: str, worker: int) -> None:
    if pgid <= 0:
        return
    if _leads_own_session(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
    kill_marked({marker}, spare=frozenset({worker}))  # what left the group: a scan of every process


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # only the worker's end of the pipe ends the guard
    fd = int(sys.argv[1])
    worker = os.getppid()
    fenced = None  # the job this guard killed for its lapsed lease (the worker records it)
    while True:
        ready, _, _ = select.select([sys.stdin.buffer], [], [], GUARD_POLL_SECONDS)
        if ready and not os.read(sys.stdin.fileno(), 4096):
            break  # the worker is gone
        pgid, marker, deadline = _read_slot(fd)
        if pgid > 0 and pgid != fenced and time.monotonic() > deadline:
            _kill_job(pgid, marker, worker)  # the worker is frozen or cut off: see fence.py
            fenced = pgid
    _kill_job(*_read_slot(fd)[:2], worker)


if __name__ == "__main__":
    main()
