"""The read-only store queries behind the dashboard's column sort and metrics, on both backends."""

from conftest import claim_one, finish_one

from queuectl import store
from queuectl.spec import JobSpec


def _ids(rows):
    return [job.id for job in rows]


def test_sorted_listing_by_each_column_both_ways(opened):
    """Priority, id, state, attempts and runtime sort; ties fall back to insertion order."""
    store.enqueue(
        [JobSpec("true", id="b", priority=5), JobSpec("true", id="a", priority=1), JobSpec("true", id="c", priority=5)]
    )
    claim = claim_one("w1", "h")
    assert claim.id == "b"
    assert _ids(store.list_sorted("priority", True)) == ["c", "b", "a"]
    assert _ids(store.list_sorted("priority", False)) == ["a", "b", "c"]
    assert _ids(store.list_sorted("id", False)) == ["a", "b", "c"]
    assert _ids(store.list_sorted("id", True, offset=1, limit=1)) == ["b"]
    assert _ids(store.list_sorted("state", False)) == ["a", "c", "b"]  # pending < processing
    assert _ids(store.list_sorted("attempts", True)) == ["b", "c", "a"]
    assert _ids(store.list_sorted("runtime", True)) == ["b", "c", "a"]  # never run: last
    assert _ids(store.list_sorted("priority", True, state="pending")) == ["c", "a"]


def test_sorted_listing_orders_only_the_newest_window(opened, monkeypatch):
    """list_sorted (the small listings' sort, by offset) orders the newest SORT_WINDOW jobs."""
    from queuectl.store import sorting

    monkeypatch.setattr(sorting, "SORT_WINDOW", 3)
    store.enqueue([JobSpec("true", id=f"j{i}", priority=10 - i) for i in range(5)])
    assert _ids(store.list_sorted("priority", True, limit=10)) == ["j2", "j3", "j4"]


def _mixed_store() -> float:
    """Jobs in every state, with ties in each column; returns a clock after the last change."""
    import time

    store.enqueue([JobSpec("true", id=f"k{i:02}", priority=i % 3, max_retries=i % 2) for i in range(24)])
    for i in range(14):
        claim = claim_one("w1", "h")
        if i < 11:
            finish_one(claim, "w1", None if i % 3 else "boom", None if i % 3 else 1)
    store.cancel(store.list_jobs(state="pending", limit=1)[0].id)
    store.enqueue([JobSpec("true", id="zz-blocked", depends_on=("k21",))])
    return time.time()


def test_keyset_sort_pages_through_every_job_in_order_both_ways(opened):
    """Every column, both ways: pages of 5 by key, forwards and backwards, give the order sort_key
    gives to all the jobs, states in lifecycle order, never-ended jobs last by end time."""
    t = _mixed_store()
    everything = store.list_jobs(limit=None)
    states = {job.state for job in everything}
    assert {"pending", "processing", "completed", "failed", "dead", "cancelled", "blocked"} <= states
    for column in store.SORT_COLUMNS[1:]:
        for descending in (True, False):
            for state in (None, "dead"):
                want = sorted(
                    (j for j in everything if state in (None, j.state)),
                    key=lambda j: store.sort_key(j, column, t),
                    reverse=descending,
                )
                got, key = [], None
                while True:
                    page = store.list_keyset(column, descending, key, 5, state=state, t=t)
                    if not page:
                        break
                    got += page
                    key = store.sort_key(page[-1], column, t)
                assert _ids(got) == _ids(want), (column, descending, state)
                back = store.list_keyset(column, descending, key, 100, state=state, backwards=True, t=t)
                assert _ids(back) == _ids(want[:-1])[::-1], (column, descending, state)
                whole = store.list_sorted(column, descending, 0, 100, state=state)
                if column != "runtime":  # (list_sorted reads its own clock)
                    assert _ids(whole) == _ids(want), (column, descending, state)
    by_state = [j.state for j in store.list_keyset("state", False, None, 100, t=t)]
    assert by_state.index("blocked") < by_state.index("pending") < by_state.index("processing")
    assert by_state.index("failed") < by_state.index("completed") < by_state.index("dead")
    newest_end = store.list_keyset("ended", True, None, 1, state="dead", t=t)[0]
    assert newest_end.finished_at == max(j.finished_at for j in everything if j.state == "dead")


def test_schedule_errors_name_every_bad_field_and_add_saves_nothing_then(opened):
    """croniter and zoneinfo check the form's fields before anything is saved."""
    import pytest

    from queuectl import ops
    from queuectl.errors import InputError

    errors = ops.schedule_errors("nightly", "61 * * * *", "Mars/Olympus", "never")
    assert set(errors) == {"cron", "tz", "overlap"}
    with pytest.raises(InputError, match="invalid cron expression"):
        ops.add_schedule("nightly", "61 * * * *", {"command": "true"})
    assert store.list_schedules() == []
    added = ops.add_schedule("nightly", "30 2 * * *", {"command": "backup.sh"}, tz="Europe/Berlin", overlap="skip")
    assert (added.cron, added.tz, added.overlap, added.job) == (
        "30 2 * * *",
        "Europe/Berlin",
        "skip",
        {"command": "backup.sh"},
    )


def test_prune_count_then_prune(opened):
    """The count the dashboard asks with is what the prune then deletes (unfinished jobs stay)."""
    import time

    from queuectl import ops

    store.enqueue([JobSpec("true", id="old"), JobSpec("true", id="waiting")])
    claim = claim_one("w1", "h")
    finish_one(claim, "w1", None, 0)
    time.sleep(0.05)
    assert ops.prune_count(3600) == 0
    assert ops.prune_count(0.01) == 1
    assert ops.prune(0.01) == ["old"]
    assert ops.prune_count(0) == 0 and store.get_job("waiting").state == "pending"


def test_last_hour_counts_completions_failures_and_times(opened):
    """One completed and one dead job in the current minute: counted, with runtime and wait."""
    store.enqueue([JobSpec("true", id="ok"), JobSpec("false", id="bad", max_retries=0)])
    for error, code in ((None, 0), ("exited with code 1", 1)):
        finish_one(claim_one("w1", "h"), "w1", error, code)
    hour = store.last_hour(60)
    assert len(hour.completed) == 60
    assert (sum(hour.completed), sum(hour.failed)) == (1, 1)
    assert hour.completed[-1] + hour.completed[-2] == 1  # this minute (or the last, at a boundary)
    assert [v for v in hour.runtime_p50 if v is not None] and [v for v in hour.wait_p95 if v is not None]
    day = store.last_hour(48, 1800)  # the day, in half hours
    assert len(day.completed) == 48 and (sum(day.completed), sum(day.failed)) == (1, 1)
    assert day.runtime[0] is not None and day.runtime[0] <= day.runtime[1]
    assert day.wait[1] is not None
    assert 0 <= store.last_ended_span(86400) < 60
