"""`queuectl logs --follow`: stream an attempt's output while it runs, then its exit code."""

from __future__ import annotations

import os
import sys
import time

from . import store
from .states import CLAIMABLE_STATES, FINISHED
from .terminal import Output

POLL_SECONDS = 0.2
#: the longest a follower on PostgreSQL waits for a notification before it looks anyway
WAKE_SECONDS = 1.0


class _Tail:
    """Reads what was appended to a log file since the last read."""

    def __init__(self, path: str | None, out: Output):
        self.path, self.out, self.offset = path, out, 0

    def pump(self) -> None:
        read = store.read_log(self.path, self.offset, max_bytes=None)
        data, self.offset = read.data, read.offset
        if data:
            self.out.write(data)


def follow_job(job_id: str, number: int | None = None, raw: bool = False, only: str | None = None) -> None:
    """Wait for the attempt to start (if the job has not run yet), then stream it to its end;
    shown inert on a terminal unless `raw` (see queuectl.terminal).  `only` ("stdout" or
    "stderr"): that stream alone, to our stdout."""
    attempt = _wait_for_attempt(job_id, number)
    err = Output(sys.stderr, raw)
    if only:
        tails = (_Tail(getattr(attempt, f"{only}_path"), Output(sys.stdout, raw)),)
    else:
        tails = (_Tail(attempt.stdout_path, Output(sys.stdout, raw)), _Tail(attempt.stderr_path, err))
    # PostgreSQL: woken by each chunk of output stored and each end of a job, on any host
    # (WAKE_SECONDS is only the safety net); SQLite: the files are here, read every POLL_SECONDS
    woken = store.follower_channel(f"follow-{os.getpid()}", POLL_SECONDS)
    try:
        while True:
            for tail in tails:
                tail.pump()
            attempt = next(a for a in store.attempts(job_id) if a.number == attempt.number)
            if attempt.finished_at is not None:
                time.sleep(POLL_SECONDS)  # the worker closes the files just after recording the end
                for tail in tails:
                    tail.pump()
                    tail.out.close()
                break
            woken.wait(WAKE_SECONDS)
    finally:
        woken.close()
    ending = f"exit code {attempt.exit_code}" if attempt.error is None else attempt.error
    print(f"=== attempt {attempt.number} ended: {err.text(ending)} ===", file=sys.stderr)


def _wait_for_attempt(job_id: str, number: int | None) -> store.AttemptView:
    from .errors import NotFound

    announced = False
    while True:
        runs = store.attempts(job_id)
        if number is not None:
            chosen = [a for a in runs if a.number == number]
            if chosen:
                return chosen[0]
            if not runs or runs[-1].number >= number:
                raise NotFound(f"job {job_id!r} has no attempt {number}")
        job = store.get_job(job_id)
        if runs and (number is None and (job.state not in CLAIMABLE_STATES or runs[-1].finished_at is None)):
            return runs[-1]
        if job.state in FINISHED and not runs:
            from .ops import no_attempt

            raise NotFound(no_attempt(job))
        if not announced:
            print(f"waiting for job '{job_id}' to start…", file=sys.stderr)
            announced = True
        time.sleep(POLL_SECONDS)
