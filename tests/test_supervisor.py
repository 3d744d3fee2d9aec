"""The supervisor's own API (what `worker start` and the dashboard's workers use): start, stop,
reap, and the recovery of a worker that died."""
import signal

import pytest

from conftest import wait_for
from queuectl import ops, store
from queuectl.spec import JobSpec
from queuectl.supervisor import Supervisor, death_reason, kill_leftovers


@pytest.fixture
def supervisor(opened):
    sup = Supervisor(store.location(), 0, quiet=True)
    yield sup
    for child in sup.children:
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.wait(10)


def _registered(child) -> bool:
    return any(w.id == child.id for w in store.list_workers())


def test_a_started_worker_registers_runs_jobs_and_stops_when_asked(supervisor, tmp_path):
    child = supervisor.spawn()
    assert supervisor.running() == [child]
    store.enqueue([JobSpec(f"touch {tmp_path}/ran", id="j")])
    wait_for(lambda: store.get_job("j").state == "completed")
    supervisor.stop(child)
    assert child.proc.wait(20) == 0
    assert supervisor.reap() == []  # a worker that was asked to stop did not die
    assert supervisor.children == [] and supervisor.running() == []
    wait_for(lambda: not _registered(child))


def test_a_worker_that_dies_is_reaped_and_its_job_recovered_at_once(supervisor):
    store.enqueue([JobSpec("sleep 60", id="long", max_retries=0)])
    child = supervisor.spawn()
    wait_for(lambda: store.get_job("long").state == "processing")
    child.proc.send_signal(signal.SIGKILL)
    child.proc.wait(10)
    died = supervisor.reap()
    assert died == [(child, -signal.SIGKILL)]
    reason = death_reason(-signal.SIGKILL)
    assert reason == "lost: its worker was killed by SIGKILL"
    ops.recover_dead_worker(child.id, reason)
    job = store.get_job("long")
    assert (job.state, job.last_error) == ("dead", reason)
    assert kill_leftovers(child.id) == 0  # its job's processes went with the recovery


def test_local_workers_stop_one_then_all(opened):
    """The dashboard's - picks one worker not asked yet; q asks them all (a second time: kill)."""
    workers = ops.LocalWorkers(store.location())
    try:
        first, second = workers.start(), workers.start()
        wait_for(lambda: _registered(first) and _registered(second))  # their signal handlers are set
        assert workers.stop() is second
        assert workers.stop(first.id) is first
        assert workers.stop() is None  # both asked already
        for child in (first, second):
            assert child.proc.wait(20) == 0
        assert workers.reap() == [] and workers.running() == []
    finally:
        for child in workers.supervisor.children:
            child.proc.kill()


@pytest.mark.parametrize("status, reason", [
    (3, "lost: its worker exited with code 3"),
    (-9, "lost: its worker was killed by SIGKILL"),
    (-200, "lost: its worker was killed by signal 200"),
])  # fmt: skip
def test_death_reasons(status, reason):
    assert death_reason(status) == reason


def test_stop_signals_reach_a_worker_started_after_them(supervisor):
    """A stop that came while a worker was being started reaches it too (run()'s loop relies on it)."""
    supervisor.signals = 1
    child = supervisor.spawn()
    assert child.signalled == 1
    assert child.proc.wait(20) is not None
    assert not supervisor.running()
