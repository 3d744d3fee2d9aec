"""Fencing: a worker that cannot prove it still holds its job kills the job before anyone else
may take it over.

A job's lease is renewed by each heartbeat that goes through.  Its worker's fence deadline is
the moment that heartbeat was sent (or the claim, for the first) plus FRACTION of
`lease_seconds`, on CLOCK_MONOTONIC, which every process of a host shares.  Past the deadline the
job is SIGKILLed, with everything it started (reaper.py): by the worker itself at its next tick,
and by its guard helper, a separate process that polls the deadline every GUARD_POLL_SECONDS, so
a worker that is frozen (SIGSTOP, a stalled VM) or stuck in a hung connection is fenced too.  The
attempt is then recorded as failed if the store still lets this worker record it, never as
completed.

Another worker recovers the job only when it has watched the lease stay unrenewed for a whole
`lease_seconds` of its own monotonic clock (store.recover_expired), which starts no earlier than
the last renewal.  So at most one run of a job is alive at a time provided the kill lands
(GUARD_POLL_SECONDS plus the kill itself) within a tenth of a lease and the two hosts' monotonic
clocks advance at the same rate within 25%: with FRACTION = 0.5 and the smallest lease (2 s) the
old run is dead by 0.5 L (1 + 0.25) + 0.1 L = 0.725 L, before the earliest takeover at
L (1 - 0.25) = 0.75 L; longer leases leave more room.
"""

from __future__ import annotations

#: a job is killed once its worker's last lease renewal that went through is this old, in leases
FRACTION = 0.5
#: how often the guard helper looks at the deadline
GUARD_POLL_SECONDS = 0.1


def beat_every(lease_seconds: float, heartbeat_seconds: float) -> float:
    """How often a worker renews a running job's lease: often enough that two renewals in a
    row may fail or come late before the fence deadline passes (short leases beat faster)."""
    return min(heartbeat_seconds, FRACTION * lease_seconds / 3)


def deadline(renewed_at: float, lease_seconds: float) -> float:
    """The fence deadline (CLOCK_MONOTONIC) after a renewal sent at `renewed_at`."""
    return renewed_at + FRACTION * lease_seconds
