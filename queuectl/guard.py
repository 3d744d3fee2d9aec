"""A worker's job guard: kills the process group of every job it runs when the worker dies.

The worker writes the process group of each job it runs into a record of a small file both hold
open (0 in a free record); the guard only waits for its stdin to close, which the kernel does
when the worker exits, crashes or is SIGKILLed.  Then it kills each group written there that is
still a session leader's group (a job's shell leads its own session), so that a recycled pid is
never hit.  This covers whole process groups, on every POSIX system, and costs the worker one
pwrite per job start and end, with no wake-up of the guard.  A parent-death signal would need a
`preexec_fn`, which makes every spawn about three times slower, and would reach the shell only.
"""
import os
import signal
import sys

#: bytes per job in the shared file: a process group in decimal, space-padded, and a newline
RECORD = 16


def record(pgid: int) -> bytes:
    return f"{pgid:<{RECORD - 1}}\n".encode()


def _leads_own_session(pid: int) -> bool:
    try:
        return os.getsid(pid) == pid
    except OSError:
        return False


def _groups(fd: int) -> list[int]:
    size = os.fstat(fd).st_size
    data = os.pread(fd, size, 0) if size else b""
    groups = []
    for start in range(0, len(data), RECORD):
        field = data[start : start + RECORD].strip(b"\0 \n")
        if field.isdigit() and int(field) > 0:
            groups.append(int(field))
    return groups


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # only the worker's end of the pipe ends the guard
    fd = int(sys.argv[1])
    while sys.stdin.buffer.read(4096):
        pass
    for pgid in _groups(fd):
        if _leads_own_session(pgid):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass


if __name__ == "__main__":
    main()
