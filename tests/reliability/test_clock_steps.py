"""Steps of the wall clock on a SQLite store: due times do not wait out a backward step, and a
clock running an hour ahead does not make live workers look dead."""
import time

from queuectl import store
from queuectl.spec import JobSpec

from conftest import claim_one, finish_one, run_cli

HOUR = 3600.0


def _stepped(offset: float):
    return lambda: time.time() + offset


def test_a_job_enqueued_now_starts_now_after_the_clock_steps_back_an_hour(db_path, opened):
    store.enqueue([JobSpec("true", id="now")])
    store.register_worker("w", "h", 1, None)
    store.set_wall_clock(_stepped(-HOUR))
    try:
        claim = claim_one("w", "h")
        assert claim is not None and claim.id == "now"
        finish_one(claim, "w", "failed once", 1)  # its retry is due in backoff_base seconds
        before = store.now()
        time.sleep(1.2)
        assert 1.0 < store.now() - before < 1.4  # the store's seconds stay seconds
        assert store.next_due() - store.now() < 2.0
    finally:
        store.set_wall_clock()


def test_the_store_clock_follows_a_step_at_a_bounded_rate(db_path, opened):
    from queuectl.store import clock

    start = store.now()
    store.set_wall_clock(_stepped(HOUR))
    try:
        clock.forget()
        t0, m0 = store.now(), time.monotonic()
        assert abs(t0 - start) < 1.0  # no jump
        time.sleep(1.5)
        clock.forget()
        rate = (store.now() - t0) / (time.monotonic() - m0)
        assert 1.0 < rate <= 1.0 + clock.SLEW + 0.01
    finally:
        store.set_wall_clock()


def test_a_worker_whose_clock_runs_an_hour_ahead_takes_no_live_workers_job(db_path, opened):
    """Leases are judged by whether they are renewed, on the observer's monotonic clock."""
    assert run_cli("config", "set", "lease_seconds", "2").exit_code == 0
    store.enqueue([JobSpec("sleep 9", id="held")])
    store.register_worker("live", "h", 1, None)
    claim = claim_one("live", "h")
    store.set_wall_clock(_stepped(HOUR))
    try:
        for _ in range(16):  # two lease lengths, the live worker heartbeating all along
            store.heartbeat("live", [claim])
            assert store.recover_expired() == 0
            time.sleep(0.25)
        assert store.heartbeat("live", [claim]).owns(claim)
        assert store.recover_expired() == 0  # seen renewed
        time.sleep(2.1)  # and then silent for a whole lease: recovered
        assert store.recover_expired() == 1
    finally:
        store.set_wall_clock()
