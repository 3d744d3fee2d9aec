"""What the dashboard's undo (`u`) calls in the operations layer: the jobs as they are
(ops.jobs_now) and the undo of a cancel of jobs that had not started (ops.uncancel)."""

from __future__ import annotations

import pytest
from conftest import claim_one

from queuectl import ops, store
from queuectl.errors import InvalidState
from queuectl.spec import JobSpec


def test_uncancel_puts_waiting_jobs_back_as_they_were(opened):
    """A cancelled pending job waits again; a scheduled one keeps its time; its dependent,
    cancelled along with it, comes back blocked; a job that had started is refused."""
    later = store.now() + 3600
    store.enqueue(
        [
            JobSpec("echo a", id="a", priority=4),
            JobSpec("echo later", id="later", run_at=later),
            JobSpec("echo b", id="b", depends_on=["a"]),
            JobSpec("echo ran", id="ran", queue="other"),
        ]
    )
    before = ops.jobs_now(["a", "later", "b", "missing"])
    assert set(before) == {"a", "later", "b"} and before["a"].priority == 4
    ops.cancel_jobs(["a", "later"])
    assert store.states_of(["a", "later", "b"]) == {"a": "cancelled", "later": "cancelled", "b": "cancelled"}

    assert sorted(ops.uncancel(["a", "later"])) == ["a", "b", "later"]
    assert store.states_of(["a", "later", "b"]) == {"a": "pending", "later": "pending", "b": "blocked"}
    assert store.get_job("later").run_at == pytest.approx(later, abs=1)
    assert store.get_job("a").priority == 4

    claim = claim_one("w-1", "h", ("other",))
    assert claim is not None and claim.id == "ran"
    ops.cancel_jobs(["ran"])
    with pytest.raises(InvalidState, match="had started"):
        ops.uncancel(["ran"])
    with pytest.raises(InvalidState, match="not cancelled"):
        ops.uncancel(["later"])
