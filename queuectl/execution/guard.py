"""A worker's job guard: kills the process groups of every job its worker runs when the worker
dies, or when the worker's fence deadline passes while it cannot act (frozen, cut off: fence.py).

The worker and the guard share a small file of RECORD-byte records: the first holds the worker's
fence deadline (CLOCK_MONOTONIC), each other one a running job's "PGID MARKER" (0 when free).
The guard waits on its stdin, which the kernel closes when the worker exits, crashes or is
SIGKILLed, and reads the file every GUARD_POLL_SECONDS.  It kills each recorded group that is
still a session leader's group (a job's shell leads its own session), so that a recycled pid is
never hit, then every process that holds the job's marker (see reaper.py), wherever it went.
This covers whole process groups, on every POSIX system, and costs the worker one pwrite per
job start and end and per heartbeat.  A parent-death signal would need a `preexec_fn`, which
makes every spawn about three times slower, and would reach the shell only.
"""

import os
import select
import signal
import sys
import time

from .fence import GUARD_POLL_SECONDS
from .reaper import kill_marked

#: bytes per record of the shared file
RECORD = 48


def record(text: str) -> bytes:
    return text.ljust(RECORD - 1).encode() + b"\n"


def _leads_own_session(pid: int) -> bool:
    try:
        return os.getsid(pid) == pid
    except OSError:
        return False


def _read(fd: int) -> tuple[float, list[tuple[int, str]]]:
    """The fence deadline and the running jobs (pgid, marker) recorded in the file."""
    size = os.fstat(fd).st_size
    data = os.pread(fd, size, 0) if size else b""
    fields = [data[i : i + RECORD].decode(errors="replace").split() for i in range(0, len(data), RECORD)]
    deadline = float(fields[0][0]) if fields and fields[0] else float("inf")
    jobs = [(int(f[0]), f[1]) for f in fields[1:] if len(f) == 2 and f[0].isdigit() and int(f[0]) > 0]
    return deadline, jobs


def _kill_job(pgid: int, marker: str, worker: int) -> None:
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
    fenced: set[int] = set()  # jobs this guard killed for their lapsed lease (the worker records them)
    while True:
        ready, _, _ = select.select([sys.stdin.buffer], [], [], GUARD_POLL_SECONDS)
        if ready and not os.read(sys.stdin.fileno(), 4096):
            break  # the worker is gone
        deadline, jobs = _read(fd)
        if time.monotonic() > deadline:
            for pgid, marker in jobs:
                if pgid not in fenced:
                    _kill_job(pgid, marker, worker)  # the worker is frozen or cut off: see fence.py
                    fenced.add(pgid)
    for pgid, marker in _read(fd)[1]:
        _kill_job(pgid, marker, worker)


if __name__ == "__main__":
    main()
