"""What a run used: CPU seconds from wait4 (the shell's, with its waited-for descendants, plus the
orphans the worker reaps for it), and the peak memory of all its processes together, sampled
from /proc as Slurm's jobacct_gather/linux does (no cgroups: the machine's cgroups are not ours).

Which processes are a job's: those in its session (the shell's pid: runner starts it with
setsid), read from /proc/PID/stat, which a zombie still has; and, for a process that left the
session (`setsid`), those that hold the job's marker (reaper.py), found by its open files.  The
sampler looks only among the worker's own descendants: the worker is a child subreaper, so a
job's orphans are among them too.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass

from ..resources import size

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
#: seconds between two samples of the running jobs' memory
SAMPLE_SECONDS = 0.25
#: what `mem_limit` may say: stop the job (its attempt fails), say so only, or do nothing
MEM_LIMIT_MODES = ("kill", "warn", "off")


@dataclass
class Usage:
    """CPU seconds and peak memory (bytes) of one run, added up as it goes."""

    cpu_user: float = 0.0
    cpu_system: float = 0.0
    max_rss: int = 0  # the largest sample of all its processes together, or of one alone (rusage)

    def add_rusage(self, ru) -> None:
        """A reaped process's CPU time, and its peak memory when that is its own.

        A process's ru_maxrss starts as the size of the process that spawned it: exec records
        the memory it leaves (fork's copy, or vfork's borrowed parent) as its peak.  So a peak
        no larger than the worker's own says nothing about the job (an `echo` would read as
        the worker's 28 MiB); the samples of /proc speak for it instead."""
        self.cpu_user += ru.ru_utime
        self.cpu_system += ru.ru_stime
        if ru.ru_maxrss > resource.getrusage(resource.RUSAGE_SELF).ru_maxrss:
            self.max_rss = max(self.max_rss, ru.ru_maxrss * 1024)  # (Linux: KiB)


def stat_of(pid: int) -> tuple[int, int] | None:
    """(session id, resident bytes) of a process; None when it is gone.  A zombie's session is
    still there (its resident size is 0)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rfind(b")") + 2 :].split()
    try:
        # after the command: state ppid pgrp session ... rss is field 24 (index 21 here)
        return int(fields[3]), int(fields[21]) * PAGE
    except (IndexError, ValueError):
        return None


def marker_of(pid: int, markers: dict[str, object]):
    """The owner of the first marker in `markers` (name -> owner) that pid holds, if any."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            owner = markers.get(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
        if owner is not None:
            return owner
    return None


def over_limit(used: int, limit: int) -> str:
    return f"used {size(used)}, limit {size(limit)}"
