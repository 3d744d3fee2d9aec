"""The failure policy (failure.py): its invariants over every setting's whole range, and the
schedule the README promises.  Pure: no store, no backend."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queuectl.failure import Backoff, after_failure
from queuectl.settings import SETTINGS
from queuectl.states import JobState

F, D = JobState.FAILED, JobState.DEAD
DEFAULTS = {key: spec.default for key, spec in SETTINGS.items()}


@pytest.fixture
def store_url():
    """None: these tests open no store (and so run once, not once per backend)."""


def _setting(key: str):
    """Any value `config set` accepts."""
    spec = SETTINGS[key]
    return st.integers(spec.low, spec.high) if spec.kind is int else st.floats(spec.low, spec.high)


backoffs = st.builds(Backoff, _setting("backoff_base"), _setting("max_backoff"), _setting("backoff_jitter"))
max_retries = _setting("max_retries")
rolls = st.floats(-1, 1)
exit_codes = st.one_of(st.none(), st.integers(1, 255))
fatal_codes = st.frozensets(st.integers(1, 255), max_size=5)


@settings(max_examples=200, deadline=None)
@given(max_retries, st.lists(exit_codes, min_size=1, max_size=8), fatal_codes, backoffs, rolls)
def test_a_job_never_runs_more_than_one_plus_max_retries_times(retries, codes, fatal, backoff, roll):
    """Run after run, each failing with the next of `codes` (round and round)."""
    runs, seen = 0, set()
    while True:
        runs += 1
        seen.add(codes[(runs - 1) % len(codes)])
        verdict = after_failure(runs, retries, codes[(runs - 1) % len(codes)], fatal, backoff, roll, "boom")
        if verdict.state is D:
            break
        assert verdict.state is F
    assert runs <= 1 + retries
    if not fatal & seen:
        assert runs == 1 + retries  # and never fewer, unless a fatal code ended it


@settings(max_examples=500, deadline=None)
@given(st.integers(1, 1 + SETTINGS["max_retries"].high), backoffs, rolls)
def test_the_delay_never_exceeds_max_backoff(runs, backoff, roll):
    """Even where backoff_base ** runs is beyond a float (1000 ** 103): that once crashed the
    worker recording the failure (OverflowError) and left its job processing."""
    verdict = after_failure(runs, runs, 1, (), backoff, roll, "boom")
    assert verdict.state is F and 0 <= verdict.delay <= backoff.cap


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 1001), max_retries, fatal_codes.filter(bool), backoffs, rolls, st.data())
def test_a_fatal_exit_code_goes_straight_to_the_dlq(runs, retries, fatal, backoff, roll, data):
    code = data.draw(st.sampled_from(sorted(fatal)))
    verdict = after_failure(runs, retries, code, fatal, backoff, roll, f"exited with code {code}")
    assert verdict == (D, None, f"exited with code {code} (fatal exit code: not retried)")


def test_the_default_schedule_doubles_from_two_seconds_and_stops_at_an_hour():
    backoff = Backoff.from_config(DEFAULTS)
    exact = Backoff(backoff.base, backoff.cap, 0)
    assert [exact.delay(n, 0.9) for n in (1, 2, 3, 11, 12, 500)] == [2, 4, 8, 2048, 3600, 3600]
    assert backoff.delay(1, -1) == pytest.approx(1.8) and backoff.delay(1, 1) == pytest.approx(2.2)  # 10% jitter


def test_the_last_allowed_run_is_dead_with_its_own_error():
    backoff = Backoff.from_config(DEFAULTS)
    assert after_failure(3, 3, 1, (), backoff, 0, "exited with code 1") == (F, 8, "exited with code 1")
    assert after_failure(4, 3, 1, (), backoff, 0, "exited with code 1") == (D, None, "exited with code 1")
    assert after_failure(1, 0, None, (), backoff, 0, "timed out after 1s") == (D, None, "timed out after 1s")


def test_a_failure_without_an_exit_code_is_never_fatal():
    """A lost worker or a command that could not start: retried like any failure."""
    verdict = after_failure(1, 1, None, {1, 2}, Backoff.from_config(DEFAULTS), 0, "lost: its worker process is gone")
    assert verdict == (F, 2, "lost: its worker process is gone")
