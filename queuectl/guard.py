"""A worker's job guard: kills the process groups of its running jobs when the worker dies.

The worker writes `+PGID` when a job starts and `-PGID` when it ends.  When the pipe closes
(the worker exited, crashed or was SIGKILLed: the kernel closes it in every case), whatever is
still registered is killed.  This covers the whole process group, on every OS, and costs the
worker two short writes per job, where a parent-death signal would need a `preexec_fn` that
makes every spawn about three times slower.
"""
import os
import signal
import sys


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # only the worker's end of the pipe ends the guard
    live: set[int] = set()
    for line in sys.stdin.buffer:
        op, pgid = line[:1], int(line[1:])
        if op == b"+":
            live.add(pgid)
        else:
            live.discard(pgid)
    for pgid in live:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass


if __name__ == "__main__":
    main()
