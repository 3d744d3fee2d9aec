"""`queuectl wait`: sleep until jobs end, woken by the store's job-ended notifications."""
from __future__ import annotations

import os
import time

from . import store

#: a safety net: look at the store at least this often, even without a notification
POLL_SECONDS = 1.0
_FINISHED = ("completed", "dead", "cancelled")


def wait_for_jobs(job_ids: list[str], timeout: float | None) -> dict[str, str | None]:
    """Each job's final state, or None for those still unfinished when the timeout came."""
    for job_id in job_ids:
        store.get_job(job_id)  # an unknown id is an error now, not after the wait
    deadline = None if timeout is None else time.monotonic() + timeout
    channel = store.wake_channel(f"wait-{os.getpid()}", watcher=True)
    try:
        while True:
            channel.drain()
            states = {job_id: store.get_job(job_id).state for job_id in job_ids}
            if all(state in _FINISHED for state in states.values()):
                return states
            left = POLL_SECONDS if deadline is None else min(POLL_SECONDS, deadline - time.monotonic())
            if left <= 0:
                return {job_id: state if state in _FINISHED else None for job_id, state in states.items()}
            channel.wait(left)
    finally:
        channel.close()
