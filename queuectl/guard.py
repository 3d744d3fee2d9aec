"""A worker's job guard: kills the process group of its running job when the worker dies.

The worker writes the process group of the job it runs (0 when none) at the start of a small
file both hold open; the guard only waits for its stdin to close, which the kernel does when
the worker exits, crashes or is SIGKILLed.  Then it kills the group written there, if that is
still a session leader's group (a job's shell leads its own session), so that a recycled pid is
never hit.  This covers the whole process group, on every POSIX system, and costs the worker
one pwrite per job, with no wake-up of the guard.  A parent-death signal would need a
`preexec_fn`, which makes every spawn about three times slower, and would reach the shell only.
"""
import os
import signal
import sys


def _leads_own_session(pid: int) -> bool:
    try:
        return os.getsid(pid) == pid
    except OSError:
        return False


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # only the worker's end of the pipe ends the guard
    fd = int(sys.argv[1])
    while sys.stdin.buffer.read(4096):
        pass
    pgid = int(os.pread(fd, 16, 0).strip(b"\0 ") or 0)
    if pgid > 0 and _leads_own_session(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass


if __name__ == "__main__":
    main()
