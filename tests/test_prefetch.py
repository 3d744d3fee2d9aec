"""Prefetch (issue 24): a worker whose jobs are quick claims a few jobs ahead of its free slots and
holds them (processing, under its lease, not started).  Held jobs go back to the queue when the
worker stops or has held them too long, and are recovered as running ones are when it dies."""

import signal
import time

import pytest
from conftest import enqueue, job, qctl, run_cli, start_workers, stop, wait_for

from queuectl import store
from queuectl.paths import resolve
from queuectl.spec import JobSpec


@pytest.fixture(autouse=True)
def fast_retries():
    run_cli("config", "set", "max_backoff", "0")


def _open():
    store.open_store(resolve(None))


def _attempts(job_id):
    _open()
    return store.attempts(job_id)


def _held_setup(monkeypatch, hold: float, first: str, rest: str = "true") -> list[str]:
    """Two quick jobs (the second is claimed with four more once the first has shown the jobs
    are quick), then s1 (`first`) and s2..s4 (`rest`): while s1 runs, s2..s4 are held."""
    monkeypatch.setenv("QUEUECTL_PREFETCH", "4")
    monkeypatch.setenv("QUEUECTL_HOLD_SECONDS", str(hold))
    for name in ("t1", "t2"):
        enqueue(id=name, command="true")
    enqueue(id="s1", command=first)
    held = ["s2", "s3", "s4"]
    for name in held:
        enqueue(id=name, command=rest)
    return held


def test_a_second_host_with_free_slots_gets_held_jobs_within_the_hold(tmp_path, monkeypatch):
    """Host a (1 slot) holds s2..s4 while s1 runs; host b, started then, runs them once a's hold
    of 2 s ends (the bound: the hold, plus b's wake-up), long before s1 frees a's slot."""
    started = tmp_path / "s1.started"
    held = _held_setup(monkeypatch, 2.0, f"touch {started}; sleep 20", "sleep 0.2")
    monkeypatch.setenv("QUEUECTL_HOST_ID", "host-a")
    host_a = start_workers("--count", "1")
    host_b = None
    try:
        wait_for(started.exists)
        assert [job(name)["state"] for name in held] == ["processing"] * 3  # held by host a
        monkeypatch.setenv("QUEUECTL_HOST_ID", "host-b")
        host_b = start_workers("--count", "2")
        wait_for(lambda: all(job(name)["state"] == "completed" for name in held), timeout=15)
        assert job("s1")["state"] == "processing"  # still running on host a
        for name in held:  # handed back without a trace: one attempt, on host b
            assert [(a.number, a.host) for a in _attempts(name)] == [(1, "host-b")]
            assert job(name)["attempts"] == 1
    finally:
        if host_b is not None:  # (first: else it would take s1 up, once host a is stopped)
            assert stop(host_b) == 0
        host_a.send_signal(signal.SIGTERM)  # twice: s1 is killed, not waited for
        time.sleep(0.3)
        host_a.send_signal(signal.SIGTERM)
        assert host_a.wait(20) == 0


def test_held_jobs_of_a_sigkilled_worker_are_recovered_as_its_running_job_is(monkeypatch):
    """s1 kills its own worker (SIGKILL) at once: s1 was running, s2..s4 were held.  All four
    lose their first attempt the same way and run again."""
    held = _held_setup(
        monkeypatch, 30.0, 'if [ "$QUEUECTL_ATTEMPT" = 1 ]; then kill -9 $PPID; exec sleep 30; fi', "true"
    )
    workers = start_workers("--count", "1")
    try:
        wait_for(lambda: all(job(name)["state"] == "completed" for name in ["s1", *held]), timeout=40)
        for name in ["s1", *held]:
            first, second = _attempts(name)
            assert first.error.startswith("lost: its worker was killed by SIGKILL"), (name, first.error)
            assert second.error is None and job(name)["attempts"] == 2
    finally:
        assert stop(workers) == 0


def test_worker_stop_hands_held_jobs_back_at_once(tmp_path, monkeypatch):
    """`worker stop` while s1 runs and s2..s4 are held (for up to 30 s): they wait again at once,
    as before their claim, while s1 is let finish."""
    started = tmp_path / "s1.started"
    held = _held_setup(monkeypatch, 30.0, f"touch {started}; sleep 4")
    workers = start_workers("--count", "1")
    wait_for(started.exists)
    assert [job(name)["state"] for name in held] == ["processing"] * 3
    assert qctl("worker", "stop").returncode == 0
    wait_for(lambda: all(job(name)["state"] == "pending" for name in held), timeout=10)
    assert job("s1")["state"] == "processing"  # let finish
    assert workers.wait(20) == 0
    assert job("s1")["state"] == "completed"
    for name in held:
        assert job(name)["attempts"] == 0 and _attempts(name) == []


def test_a_held_job_starts_when_it_starts_not_when_it_was_claimed(monkeypatch):
    """s1..s4 are claimed together, and s2..s4 held while s1 runs in the one slot: each records
    the time it really started, in its attempt and its job, whether a heartbeat recorded it
    while it ran (s2 runs 1.5 s) or the record of its end did (s3, s4 run at once).  So the
    order in which they ran, and how long each ran, read back true."""
    monkeypatch.setenv("QUEUECTL_PREFETCH", "4")
    monkeypatch.setenv("QUEUECTL_HOLD_SECONDS", "30")
    for name in ("t1", "t2"):
        enqueue(id=name, command="true")
    runs = {"s1": "sleep 1", "s2": "sleep 1.5", "s3": "true", "s4": "true"}
    for name, command in runs.items():
        enqueue(id=name, command=command)
    workers = start_workers("--count", "1")
    try:
        wait_for(lambda: all(job(name)["state"] == "completed" for name in runs), timeout=30)
    finally:
        assert stop(workers) == 0
    (s1, s2, s3, s4) = (_attempts(name)[0] for name in runs)
    assert len({a.started_at for a in (s1, s2, s3, s4)}) == 4  # (not one claim's time)
    assert s2.started_at >= s1.started_at + 1.0  # one slot: s2 waited for s1's second
    assert s3.started_at >= s2.started_at + 1.5
    assert s4.started_at > s3.started_at
    for name, attempt in zip(runs, (s1, s2, s3, s4)):
        ran = store.get_job(name)
        assert ran.started_at == attempt.started_at, name
        assert ran.finished_at - ran.started_at < {"s1": 1.9, "s2": 2.4}.get(name, 0.9), name


def test_released_claims_wait_again_as_before_their_claim(opened):
    """store.release_claims: pending jobs go back to pending, a failed one (awaiting its retry)
    to failed with the retry due now; no attempt row, the attempt count as before, and the
    metric counters as if there had been no claim; a claim no longer the worker's (cancelled)
    is left alone."""
    store.enqueue([JobSpec("false", id=name, max_retries=3) for name in "abc"])
    (first,) = store.claim_batch("w1", "h", 1)
    store.finish_batch([store.Finished(first, "exit 1", 1)], "w1", "h")
    assert store.get_job("a").state == "failed"
    claims = store.claim_batch("w1", "h", 3)  # a (its retry), b, c
    assert sorted(c.id for c in claims) == ["a", "b", "c"]
    store.cancel("c")
    before = {k: v[0] for k, v in store.figures().counts.items() if v[0]}
    assert store.release_claims(claims, "w1") == 2
    a, b, c = (store.get_job(name) for name in "abc")
    assert (a.state, a.attempts, b.state, b.attempts, c.state) == ("failed", 1, "pending", 0, "cancelled")
    assert [x.number for x in store.attempts("a")] == [1] and store.attempts("b") == []
    assert a.worker_id is None and b.worker_id is None and a.next_attempt_at <= store.now()
    assert {k: v[0] for k, v in store.figures().counts.items() if v[0]} == before
    again = store.claim_batch("w2", "h", 2)
    assert sorted((c.id, c.attempt) for c in again) == [("a", 2), ("b", 1)]


@pytest.mark.parametrize(
    "name, value", [("QUEUECTL_PREFETCH", "abc"), ("QUEUECTL_PREFETCH", "1001"), ("QUEUECTL_HOLD_SECONDS", "nan")]
)
def test_worker_start_refuses_a_bad_prefetch_setting_in_one_line(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    result = run_cli("worker", "start", "--burst")
    assert result.exit_code == 2
    assert result.stderr.strip() == result.stderr.strip().splitlines()[0] and f"invalid {name}" in result.stderr
