"""State transitions and their order rules, on a real store, with a controlled clock."""

import pytest
from conftest import claim_one, finish_one

from queuectl import store
from queuectl.errors import InvalidState
from queuectl.spec import JobSpec


class Clock:
    def __init__(self, t=1_800_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


@pytest.fixture
def clock(opened):
    c = Clock()
    store.set_clock(c)
    return c


def _claim_ids(n=100):
    ids = []
    while (c := claim_one("w", "h")) is not None and len(ids) < n:
        ids.append(c.id)
        finish_one(c, "w", None, 0)
    return ids


def test_priority_then_fifo_even_within_one_batch(clock):
    store.enqueue([JobSpec("true", id=i, priority=p) for i, p in [("a", 0), ("b", 5), ("c", 0), ("d", 5), ("e", -1)]])
    store.enqueue([JobSpec("true", id="f", priority=5)])
    assert _claim_ids() == ["b", "d", "f", "a", "c", "e"]


def test_due_retries_and_pending_jobs_are_claimed_together_in_claim_order(clock):
    """Failed jobs come from their own index (by due time), pending ones from the claim index:
    one batch still takes them by priority, then FIFO, and a retry not yet due waits."""
    for key, value in (("backoff_base", "2"), ("backoff_jitter", "0"), ("max_backoff", "100")):
        store.set_config(key, value)
    store.enqueue([JobSpec("false", id=i, priority=p) for i, p in [("r-later", 9), ("r-high", 5), ("r-low", 0)]])
    later, high, low = store.claim_batch("w", "h", 3)
    for claim in (high, low):
        finish_one(claim, "w", "exited with code 1", 1)  # due again in 2 s
    clock.t += 3
    finish_one(later, "w", "exited with code 1", 1)  # due in 2 s from now
    store.enqueue([JobSpec("true", id=i, priority=p) for i, p in [("p-high", 5), ("p-low", 0), ("p-mid", 3)]])
    # r-high and r-low are due, r-later is not
    assert [c.id for c in store.claim_batch("w", "h", 10)] == ["r-high", "p-high", "p-mid", "r-low", "p-low"]
    clock.t += 2
    assert [c.id for c in store.claim_batch("w", "h", 10)] == ["r-later"]


def test_run_at_in_the_future_is_not_claimed_before_it(clock):
    store.enqueue([JobSpec("true", id="later", run_at=clock.t + 60), JobSpec("true", id="now")])
    assert _claim_ids() == ["now"]
    assert store.next_due() == clock.t + 60
    clock.t += 60
    assert _claim_ids() == ["later"]


def test_retry_backoff_schedule_and_dead_after_max_retries(clock):
    store.set_config("backoff_jitter", "0")
    store.enqueue([JobSpec("false", id="f", max_retries=3)])
    delays = []
    for attempt in range(1, 5):
        claim = claim_one("w", "h")
        assert claim is not None and claim.attempt == attempt
        state = finish_one(claim, "w", "exited with code 1", 1)
        if attempt < 4:
            assert state == "failed"
            job = store.get_job("f")
            delays.append(job.next_attempt_at - clock.t)
            assert claim_one("w", "h") is None  # not before its retry time
            clock.t = job.next_attempt_at
        else:
            assert state == "dead"
    assert delays == [2, 4, 8]
    job = store.get_job("f")
    assert (job.attempts, job.last_error, job.exit_code) == (4, "exited with code 1", 1)
    assert [a.number for a in store.attempts("f")] == [1, 2, 3, 4]


def test_backoff_is_capped_by_max_backoff(clock):
    store.set_config("max_backoff", "5")
    store.set_config("backoff_jitter", "0")
    store.enqueue([JobSpec("false", id="f", max_retries=5)])
    delays = []
    for _ in range(4):
        claim = claim_one("w", "h")
        finish_one(claim, "w", "boom", 1)
        job = store.get_job("f")
        delays.append(job.next_attempt_at - clock.t)
        clock.t = job.next_attempt_at
    assert delays == [2, 4, 5, 5]  # 2 ** n seconds, until the cap


def test_dlq_retry_resets_attempts_and_keeps_history(clock):
    store.enqueue([JobSpec("false", id="f", max_retries=0)])
    finish_one(claim_one("w", "h"), "w", "boom", 1)
    assert store.get_job("f").state == "dead"
    assert store.retry_dead("f") == ["f"]
    job = store.get_job("f")
    assert (job.state, job.attempts) == ("pending", 0)
    claim = claim_one("w", "h")
    assert claim.attempt == 2  # attempt numbers continue, so history is not overwritten
    assert len(store.attempts("f")) == 2


def test_cancel_running_job_keeps_worker_from_completing_it(clock):
    store.enqueue([JobSpec("sleep 9", id="s")])
    store.register_worker("w", "h", 1, None)
    claim = claim_one("w", "h")
    store.heartbeat("w", [claim], {claim.attempt_id: 4242})
    cancelled = store.cancel("s")
    assert (cancelled.pgid, cancelled.host, cancelled.job.state) == (4242, "h", "cancelled")
    assert finish_one(claim, "w", None, 0) == "cancelled"
    assert store.get_job("s").state == "cancelled"
    assert store.attempts("s")[0].error == "cancelled"
    with pytest.raises(InvalidState):
        store.cancel("s")


def test_dead_worker_recovery_counts_as_a_failed_attempt(clock):
    store.enqueue([JobSpec("sleep 9", id="s", max_retries=1)])
    store.register_worker("w", "h", 1, None)
    claim = claim_one("w", "h")
    store.heartbeat("w", [claim], {claim.attempt_id: 777})
    assert store.recover_worker("w", "lost: its worker process is gone") == [777]
    job = store.get_job("s")
    assert (job.state, job.last_error) == ("failed", "lost: its worker process is gone")
    clock.t = job.next_attempt_at
    claim_one("w2", "h")
    store.recover_worker("w2", "lost again")
    assert store.get_job("s").state == "dead"  # a job that keeps killing its worker ends in the DLQ


@pytest.mark.parametrize("late_error", [None, "killed by signal SIGKILL"])
def test_a_late_end_of_a_taken_attempt_never_touches_the_next_one(clock, late_error):
    """A worker that lost an attempt (its lease was recovered while the store kept it waiting)
    and then claimed the same job again holds two runs of it: the old run's late end, success
    or failure, is refused, and the heartbeat tells the worker the old run is no longer its own.
    (Ownership by worker id alone let the late failure put the job back in the queue while the
    new run went on, and another worker ran it at the same time.)"""
    store.set_config("max_backoff", "0")
    store.enqueue([JobSpec("sleep 9", id="j")])
    old = claim_one("w", "h")
    store.recover_worker("w", "lost: its worker stopped sending heartbeats (lease expired)")
    new = claim_one("w", "h")
    assert (new.id, new.attempt) == ("j", 2)
    assert finish_one(old, "w", late_error, None if late_error else 0) == "processing"
    job = store.get_job("j")
    assert (job.state, job.worker_id) == ("processing", "w")
    beat = store.heartbeat("w", [old, new])
    assert beat.owns(new) and not beat.owns(old)
    assert finish_one(new, "w", None, 0) == "completed"


def test_lease_expiry_recovers_jobs_of_silent_workers(clock):
    store.enqueue([JobSpec("sleep 9", id="s")])
    store.register_worker("w", "h", 1, None)
    store.register_worker("other", "h", 2, None)
    claim = claim_one("w", "h")
    clock.t += 20
    assert store.heartbeat("w", [claim]).owns(claim)  # heartbeats extend the lease
    clock.t += 25
    store.heartbeat("other")
    assert store.recover_expired() == 0
    clock.t += 31
    store.heartbeat("other")  # another worker is alive and writing; "w" has been silent for 56 s
    assert store.recover_expired() == 1
    assert store.get_job("s").state == "failed"
    assert not store.heartbeat("w", [claim]).owns(claim)
    assert store.live_worker_count() == 1


def test_no_lease_expires_while_nobody_could_write(clock):
    """A store locked (or a machine suspended) for longer than a lease: every heartbeat is
    equally old, so the first writer afterwards takes nobody's job."""
    store.enqueue([JobSpec("sleep 9", id="s")])
    store.register_worker("w", "h", 1, None)
    store.register_worker("other", "h", 2, None)
    claim_one("w", "h")
    clock.t += 300  # no heartbeat from anyone
    assert store.recover_expired() == 0
    assert store.get_job("s").state == "processing"


def test_stop_request_reaches_worker_heartbeat(clock):
    store.register_worker("w", "h", 1, None)
    assert not store.heartbeat("w").stop_requested
    assert [w.id for w in store.request_stop()] == ["w"]
    assert store.heartbeat("w").stop_requested


def test_counts_follow_every_transition(clock):
    store.enqueue([JobSpec("true", id=str(i), max_retries=0) for i in range(4)])
    finish_one(claim_one("w", "h"), "w", None, 0)
    finish_one(claim_one("w", "h"), "w", "x", 1)
    claim_one("w", "h")
    store.cancel("3")
    assert store.counts() == {
        "pending": 0,
        "processing": 1,
        "completed": 1,
        "failed": 0,
        "dead": 1,
        "cancelled": 1,
        "blocked": 0,
    }
    store.delete_job("1")
    assert store.counts()["dead"] == 0


def test_metrics(clock):
    store.enqueue([JobSpec("true", id=str(i), max_retries=0) for i in range(3)])
    for runtime, error in ((1.0, None), (3.0, None), (2.0, "boom")):
        claim = claim_one("w", "h")
        clock.t += runtime
        finish_one(claim, "w", error, 0 if error is None else 1)
    m = store.metrics()
    assert (m.total, m.success_rate, m.avg_runtime_s, m.p95_runtime_s) == (3, round(2 / 3, 4), 2.0, 3.0)
    assert m.completed_last_minute == 2
    clock.t += 120
    assert store.metrics().completed_last_minute == 0


def test_batch_claims_keep_priority_then_fifo_exactly(clock):
    """Claims of 7 at a time, with retries and finishes between them, come out in exactly the
    order one-at-a-time claims would: priority, then insertion order."""
    import random

    rng = random.Random(12)
    specs = [JobSpec("true", id=f"j{i:02d}", priority=rng.choice([-1, 0, 0, 3, 9])) for i in range(40)]
    store.enqueue(specs)
    expected = [s.id for s in sorted(specs, key=lambda s: -s.priority)]  # sorted() is stable: FIFO within
    got = []
    while batch := store.claim_batch("w", "h", 7):
        got += [c.id for c in batch]
        store.finish_batch([store.Finished(c, None, 0) for c in batch], "w", "h")
    assert got == expected


def test_a_batch_gives_a_limited_queue_no_more_than_its_room(clock):
    """A queue limited to 3 with one job running: a claim of 10 takes 2 of its jobs and fills
    the rest from other queues; nothing more of it until one of its jobs ends."""
    store.limit_queue("small", 3)
    store.enqueue([JobSpec("true", id=f"s{i}", queue="small", priority=5) for i in range(6)])
    store.enqueue([JobSpec("true", id=f"d{i}") for i in range(10)])
    first = claim_one("w", "h")
    assert first.id == "s0"
    batch = store.claim_batch("w", "h", 10)
    assert [c.id for c in batch] == ["s1", "s2"] + [f"d{i}" for i in range(8)]
    assert [c.id for c in store.claim_batch("w", "h", 10)] == ["d8", "d9"]
    finish_one(first, "w", None, 0)
    assert [c.id for c in store.claim_batch("w", "h", 10)] == ["s3"]


def test_finish_batch_records_each_run_and_refills_in_the_same_call(clock):
    store.enqueue([JobSpec("true", id=f"j{i}", max_retries=1) for i in range(5)])
    batch = store.claim_batch("w", "h", 3)
    store.cancel("j1")
    outcomes = [
        store.Finished(batch[0], None, 0),
        store.Finished(batch[1], None, 0),
        store.Finished(batch[2], "exited with code 4", 4),
    ]
    states, refill = store.finish_batch(outcomes, "w", "h", 3)
    assert states == ["completed", "cancelled", "failed"]
    assert [c.id for c in refill] == ["j3", "j4"]  # j2 waits for its retry time
    assert [a.error for a in store.attempts("j2")] == ["exited with code 4"]
    assert [(a.number, a.finished_at is None) for a in store.attempts("j3")] == [(1, True)]
