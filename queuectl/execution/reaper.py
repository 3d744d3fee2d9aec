"""Nothing a job starts outlives it, not even what left its process group (`setsid`, `setsid -f`,
double forks, `env -i setsid -f`).

Each job inherits a marker: the write end of a pipe of its own, an open file that `setsid` and
`env -i` keep (only a program that closes every descriptor it did not open sheds it).  The
worker keeps the pipe's read end, which reads as ended once no process holds the marker: when
the job ends, times out or is cancelled, that one poll says whether anything is left, and if so
the worker kills every process that holds the marker until none does.  When the worker dies,
however it dies, its guard helper does the killing (queuectl.guard).  The worker is also a child
subreaper (Linux), so a job's orphans become its children instead of init's: it looks among its
own descendants first, and reaps them.

Why not a cgroup per job: it needs cgroup v2 with a delegated subtree, which many machines (and
containers) do not give an ordinary service; this works wherever /proc does.
"""

from __future__ import annotations

import os
import select
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36
#: kill-and-look-again rounds: a marked process may fork while it is being killed
_ROUNDS = 20


def become_subreaper() -> bool:
    """Make this process the reaper of its descendants' orphans (Linux); False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class Marker:
    """A job's marker: the write end of a pipe, which every process of the job inherits, known
    by its inode.  This process keeps only the read end, which reads as ended once no process
    holds the write end any more: whether anything of the job is left costs one poll."""

    def __init__(self) -> None:
        self._read_fd, self.fd = os.pipe()
        self.name = f"pipe:[{os.fstat(self.fd).st_ino}]"

    def handed_over(self) -> None:
        """The job holds the write end now: drop ours."""
        os.close(self.fd)
        self.fd = -1

    def held(self) -> bool:
        ready, _, _ = select.select([self._read_fd], [], [], 0)
        # (nobody should write to it; a job that does has its bytes drained, and is still there)
        return not ready or os.read(self._read_fd, 4096) != b""

    def close(self) -> None:
        for fd in (self.fd, self._read_fd):
            if fd >= 0:
                os.close(fd)
        self.fd = self._read_fd = -1


def children(pid: int) -> list[int]:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return found


def descendants(pid: int) -> list[int]:
    found, todo = [], children(pid)
    while todo:
        child = todo.pop()
        found.append(child)
        todo += children(child)
    return found


def _holds(pid: int, names: set[str]) -> bool:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:  # gone, or a zombie
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in names:
                return True
        except OSError:
            pass
    return False


def kill_marked(names: set[str], among=None, spare: frozenset[int] = frozenset()) -> int:
    """SIGKILL every process holding one of the markers `names`, among the pids `among()`
    returns (default: every process of the host), until none is left; returns how many.
    Never this process, nor those in `spare` (the worker, which holds every marker it made)."""
    if not names or not os.path.isdir("/proc/self/fd"):
        return 0
    spare = spare | {os.getpid()}
    killed = 0
    for _ in range(_ROUNDS):
        pids = among() if among is not None else [int(p) for p in os.listdir("/proc") if p.isdigit()]
        marked = [pid for pid in pids if pid not in spare and _holds(pid, names)]
        if not marked:
            break
        for pid in marked:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed
