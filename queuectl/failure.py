"""What happens when a job's run fails: the whole retry policy, one pure function.

A run fails when its command exits non-zero, is killed (its timeout, a fence, a signal), cannot
start, or its worker is lost (store/workers.py recovers it).  Each counts as one attempt.  The
job then runs again after a backoff while it has runs left (state failed, due at
next_attempt_at), else it is dead (the DLQ).  An exit code listed in the job's
fatal_exit_codes sends it to the DLQ at once; a failure without an exit code (a lost worker, a
command that could not start) is never fatal.  A cancelled job does not fail: cancel ends it
(store/jobs.py cancel), and its run's end is only recorded.

The store applies the decision inside the transaction that records the run (store/jobs.py fail);
the settings come from settings.py (max_retries, backoff_base, max_backoff, backoff_jitter).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from .states import JobState


@dataclass(frozen=True)
class Backoff:
    base: float  # the wait after the n-th run is base ** n seconds...
    cap: float  # ...never longer than this (max_backoff)...
    jitter: float  # ...give or take this fraction of it, so that jobs failing together spread out

    @classmethod
    def from_config(cls, cfg: Mapping) -> Backoff:
        return cls(cfg["backoff_base"], cfg["max_backoff"], cfg["backoff_jitter"])

    def delay(self, runs: int, roll: float) -> float:
        """Seconds before the next run of a job that has run `runs` times; `roll` in [-1, 1]
        is the jitter's draw (the caller's, so that this stays pure)."""
        try:
            return min(self.base**runs * (1 + self.jitter * roll), self.cap)
        except OverflowError:  # base ** runs beyond a float: far beyond any cap
            return self.cap


class Verdict(NamedTuple):
    state: JobState  # FAILED: runs again after `delay`; DEAD: in the DLQ
    delay: float | None  # seconds (None when dead)
    error: str  # the job's last_error


def after_failure(
    runs: int,
    max_retries: int,
    exit_code: int | None,
    fatal_exit_codes: Collection[int],
    backoff: Backoff,
    roll: float,
    error: str,
) -> Verdict:
    """The verdict on a job whose `runs`-th run (this one included) failed with `error`."""
    if exit_code is not None and exit_code in fatal_exit_codes:
        return Verdict(JobState.DEAD, None, f"{error} (fatal exit code: not retried)")
    if runs < 1 + max_retries:  # the first run and its retries
        return Verdict(JobState.FAILED, backoff.delay(runs, roll), error)
    return Verdict(JobState.DEAD, None, error)
