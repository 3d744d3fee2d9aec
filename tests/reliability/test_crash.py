"""Crash at any moment: jobs survive SIGKILLs of workers, job processes, supervisors and whole
process trees, and one or two SIGTERMs, for the whole run (the short form of bench/chaos.py)."""
import pytest

from . import harness


@pytest.mark.timeout(240)
def test_nothing_is_lost_and_no_job_runs_twice_at_once_under_chaos(db_path, tmp_path):
    """200 jobs, 2 supervisors x 2 worker processes x 3 slots, a kill every 0.15-0.5 s until every
    job completed."""
    chaos = harness.Chaos(tmp_path / "chaos", harness.Config(jobs=200, seed=None))
    chaos.run()
    report = harness.verify(chaos)
    print(report.summary())
    assert not report.problems, "\n".join(report.problems[:30])
    assert sum(report.kills.values()) >= 20  # the chaos really happened
    assert report.duplicates > 0 and report.failed_attempts >= report.duplicates
