"""Crash at any moment: jobs survive SIGKILLs of workers, job processes, supervisors and whole
process trees, and one or two SIGTERMs, for the whole run (the short form of bench/chaos.py)."""

import pytest

from . import harness


@pytest.mark.timeout(300)
def test_nothing_is_lost_and_no_job_runs_twice_at_once_under_chaos(db_path, tmp_path):
    """200 jobs of 0.1-0.8 s, 2 supervisors x 2 worker processes x 3 slots, a kill every 0.1-0.3 s
    for 30 s (or until every job completed; about 150 kills), then the rest drains.  (With the default 0.02-0.3 s
    jobs, 12 slots on a quiet machine drained the 200 before 20 kills had landed; unbounded, the
    kills kept a loaded machine from draining within the test's time.)"""
    config = harness.Config(
        jobs=200, seed=None, job_seconds=(0.1, 0.8), kill_every=(0.1, 0.3), chaos_seconds=30, timeout=240
    )
    chaos = harness.Chaos(tmp_path / "chaos", config)
    chaos.run()
    report = harness.verify(chaos)
    print(report.summary())
    assert not report.problems, "\n".join(report.problems[:30])
    assert sum(report.kills.values()) >= 20  # the chaos really happened
    assert report.duplicates > 0 and report.failed_attempts >= report.duplicates
