"""Schedules: one job per cron tick, whoever runs them and however many of them there are."""

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from conftest import enqueue, job, qctl, run_cli, start_workers, stop, wait_for

T = datetime(2030, 1, 1, 10, 5, 0, tzinfo=timezone.utc).timestamp()  # a */5 tick

_RACER = """
import sys, time
from queuectl import store
from queuectl.paths import resolve
store.open_store(resolve(None))
store.set_clock(lambda: {now})
while time.time() < {start}:
    time.sleep(0.001)
added = []
for _ in range(30):
    added += store.run_due_schedules().enqueued
print(len(added))
"""


def _race(now: float, processes: int = 4) -> int:
    """Several processes (like workers on several hosts) run the due schedules at once."""
    import time

    code = _RACER.format(now=now, start=time.time() + 1.5)
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(processes)
    ]
    return sum(int(p.communicate(timeout=60)[0]) for p in procs)


def _jobs(prefix="nightly@"):
    return sorted(
        j["id"] for j in json.loads(run_cli("list", "--json", "--limit", "1000").stdout) if j["id"].startswith(prefix)
    )


def _add(*args, at=T - 100):
    from queuectl import store

    store.set_clock(lambda: at)
    return run_cli("schedule", "add", *args)


def test_each_tick_is_enqueued_exactly_once_by_four_racing_processes():
    assert _add("nightly", "--cron", "*/5 * * * *", '{"command": "true", "queue": "batch"}').exit_code == 0
    assert _race(T + 1) == 1
    assert _jobs() == ["nightly@2030-01-01T10:05:00Z"]
    assert _race(T + 301) == 1
    assert _jobs() == ["nightly@2030-01-01T10:05:00Z", "nightly@2030-01-01T10:10:00Z"]
    assert job("nightly@2030-01-01T10:10:00Z")["queue"] == "batch"


def test_after_downtime_only_the_latest_missed_tick_runs():
    _add("nightly", "--cron", "*/5 * * * *", '{"command": "true"}')
    assert _race(T + 3600 + 7, processes=2) == 1  # twelve ticks were missed
    assert _jobs() == ["nightly@2030-01-01T11:05:00Z"]
    listed = json.loads(run_cli("schedule", "list", "--json").stdout)[0]
    assert listed["next_run_at"] == "2030-01-01T11:10:00.000Z"


def test_overlap_skip_waits_for_the_previous_run():
    from queuectl import store

    _add("nightly", "--cron", "*/5 * * * *", "--overlap", "skip", '{"command": "true"}')
    store.set_clock(lambda: T + 1)
    assert store.run_due_schedules().enqueued == ["nightly@2030-01-01T10:05:00Z"]
    store.set_clock(lambda: T + 301)
    assert store.run_due_schedules().enqueued == []  # the 10:05 run has not finished
    assert store.get_schedule("nightly").skipped == 1
    store.cancel("nightly@2030-01-01T10:05:00Z")
    store.set_clock(lambda: T + 601)
    assert store.run_due_schedules().enqueued == ["nightly@2030-01-01T10:15:00Z"]


def test_time_zone_decides_the_ticks():
    from queuectl import store

    _add("morning", "--cron", "0 9 * * *", "--tz", "Europe/Berlin", '{"command": "true"}')
    nine_in_berlin = datetime(2030, 1, 2, 8, 0, 0, tzinfo=timezone.utc).timestamp()  # tomorrow; UTC+1 in winter
    assert store.get_schedule("morning").next_run_at == nine_in_berlin


def test_pause_resume_run_now_and_remove():
    from queuectl import store

    _add("nightly", "--cron", "*/5 * * * *", '{"command": "true"}')
    assert run_cli("schedule", "pause", "nightly").exit_code == 0
    store.set_clock(lambda: T + 1)
    assert store.run_due_schedules().enqueued == []
    assert run_cli("schedule", "resume", "nightly").exit_code == 0  # from the next tick on
    assert store.get_schedule("nightly").next_run_at == T + 300
    assert run_cli("schedule", "run", "nightly").stdout == "nightly@2030-01-01T10:05:01Z\n"
    assert run_cli("schedule", "remove", "nightly").exit_code == 0
    assert json.loads(run_cli("schedule", "list", "--json").stdout) == []
    assert job("nightly@2030-01-01T10:05:01Z")["state"] == "pending"  # its jobs stay


@pytest.mark.parametrize(
    "args, message",
    [
        (["--cron", "nope", '{"command": "true"}'], "invalid cron expression"),
        (["--cron", "* * * * *", "--tz", "Mars/Base", '{"command": "true"}'], "unknown time zone"),
        (["--cron", "* * * * *", '{"id": "x", "command": "true"}'], "cannot name 'id'"),
        (["--cron", "* * * * *", '{"command": ""}'], "command must not be empty"),
        (["--cron", "* * * * *", "[1]"], "must be a JSON object"),
        (["--cron", "* * * * *", "--overlap", "never", '{"command": "true"}'], "Invalid value for '--overlap'"),
    ],
)
def test_bad_schedules_are_refused(args, message):
    from conftest import snapshot

    run_cli("init")
    before = snapshot()
    result = run_cli("schedule", "add", "s", *args)
    assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1
    assert snapshot() == before


def test_running_workers_enqueue_and_run_the_ticks():
    assert run_cli("schedule", "add", "often", "--cron", "* * * * * */1", '{"command": "true"}').exit_code == 0
    workers = start_workers("--count", "2")
    try:
        wait_for(lambda: len([j for j in _jobs("often@") if job(j)["state"] == "completed"]) >= 2, timeout=20)
    finally:
        assert stop(workers) == 0
    ids = _jobs("often@")
    assert len(ids) == len(set(ids))


def test_a_cron_with_no_next_run_is_refused():
    """A past one-shot (a year field) or 31 February would never enqueue: refused like a typo."""
    for cron in ("0 0 1 1 * 0 2020", "0 0 31 2 *"):
        result = qctl("schedule", "add", "never", "--cron", cron, '{"command": "true"}')
        assert result.returncode == 2, result.stderr
        assert result.stderr == f"Error: cron expression '{cron}' has no run after " + result.stderr.split("after ")[1]
        assert result.stderr.count("\n") == 1
    assert json.loads(qctl("schedule", "list", "--json").stdout) == []


def test_a_failing_tick_pauses_its_schedule_with_the_reason_and_the_others_go_on():
    """A job naming a deleted dependency: that schedule is paused with why; the next one, due at
    the same moment, still enqueues; resuming clears the error."""
    from queuectl import store

    enqueue(id="base", command="true")
    assert run_cli("cancel", "base").exit_code == 0
    _add("broken", "--cron", "*/5 * * * *", '{"command": "true", "depends_on": ["base"]}')
    _add("nightly", "--cron", "*/5 * * * *", '{"command": "true"}')
    assert run_cli("delete", "base").exit_code == 0
    store.set_clock(lambda: T + 1)
    due = store.run_due_schedules()
    error = "job 'broken@2030-01-01T10:05:00Z' depends on 'base', which does not exist"
    assert due == (["nightly@2030-01-01T10:05:00Z"], {"broken": error})
    assert _jobs("broken@") == []  # the savepoint left no half-made job
    broken = json.loads(run_cli("schedule", "list", "--json").stdout)[0]
    assert (broken["name"], broken["paused"], broken["last_error"]) == ("broken", True, error)
    listed = run_cli("schedule", "list").stdout
    assert f"broken: paused by an error: {error} (once it is fixed: queuectl schedule resume broken)" in listed
    store.set_clock(lambda: T + 301)
    assert store.run_due_schedules() == (["nightly@2030-01-01T10:10:00Z"], {})  # said once, not every tick
    enqueue(id="base", command="true")
    assert run_cli("schedule", "resume", "broken").exit_code == 0
    assert store.get_schedule("broken").last_error is None
    store.set_clock(lambda: T + 601)
    assert sorted(store.run_due_schedules().enqueued) == ["broken@2030-01-01T10:15:00Z", "nightly@2030-01-01T10:15:00Z"]


def test_a_one_shot_runs_its_tick_then_pauses_with_no_next_run():
    from queuectl import store

    _add("once", "--cron", "5 10 1 1 * 0 2030", '{"command": "true"}')
    store.set_clock(lambda: T + 1)
    assert store.run_due_schedules() == (
        ["once@2030-01-01T10:05:00Z"],
        {"once": "cron expression '5 10 1 1 * 0 2030' has no run after 2030-01-01T10:05:01Z"},
    )
    assert store.get_schedule("once").paused
    result = run_cli("schedule", "resume", "once")  # nothing to resume to: refused, still paused
    assert result.exit_code == 2 and result.stderr.startswith("Error: cron expression '5 10 1 1 * 0 2030' has no run")
    assert store.get_schedule("once").last_error is not None


def _worker(workers) -> dict:
    listed = json.loads(run_cli("worker", "list", "--json").stdout)
    return listed[0] if len(listed) == 1 and listed[0]["pid"] != workers.pid else None


def _still(first: dict, workers, beats: set) -> bool:
    """The first worker, not a replacement, is the one alive (its heartbeats are collected)."""
    now = _worker(workers)
    assert now is not None and now["pid"] == first["pid"], now
    beats.add(now["heartbeat_at"])
    return True


def test_a_worker_outlives_poisoned_schedules_and_runs_a_plain_job_once():
    """Issue 22: both triggers, through real processes.  Before the fix every heartbeat raised,
    the worker died and was replaced, and the `true` job ended dead as 'lost: its worker exited'."""
    enqueue(id="base", command="true")
    assert run_cli("cancel", "base").exit_code == 0
    assert (
        run_cli(
            "schedule", "add", "orphan", "--cron", "* * * * * */1", '{"command": "true", "depends_on": ["base"]}'
        ).exit_code
        == 0
    )
    assert run_cli("delete", "base").exit_code == 0
    soon = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=3)
    once = f"{soon.minute} {soon.hour} {soon.day} {soon.month} * {soon.second} {soon.year}"
    assert run_cli("schedule", "add", "once", "--cron", once, '{"command": "true"}').exit_code == 0
    workers = start_workers("--count", "1")
    try:
        first = wait_for(lambda: _worker(workers))
        enqueue(id="plain", command="true")
        wait_for(lambda: all(s["last_error"] for s in json.loads(run_cli("schedule", "list", "--json").stdout)))
        beats = {first["heartbeat_at"]}
        wait_for(lambda: _still(first, workers, beats) and len(beats) > 3)  # several heartbeats on
        wait_for(lambda: job("plain")["state"] == "completed")
    finally:
        assert stop(workers) == 0
    assert (job("plain")["attempts"], job("once@" + soon.strftime("%Y-%m-%dT%H:%M:%SZ"))["state"]) == (1, "completed")
    listed = {s["name"]: s for s in json.loads(run_cli("schedule", "list", "--json").stdout)}
    assert "depends on 'base', which does not exist" in listed["orphan"]["last_error"]
    assert listed["once"]["last_error"] == f"cron expression '{once}' has no run after {soon:%Y-%m-%dT%H:%M:%SZ}"


def test_one_validator_for_the_cli_and_the_form(opened):
    """The form's field errors (ops.schedule_errors) are the words schedule add refuses with."""
    from queuectl import ops, store

    store.set_clock(lambda: T)  # the 'no run after' names the moment

    errors = ops.schedule_errors("bad name", " 0 0 31 2 * ", "Mars/Base", "never")
    assert set(errors) == {"name", "cron", "tz", "overlap"}
    assert errors["cron"].startswith("cron expression '0 0 31 2 *' has no run after ")
    for args, field in (
        (["bad name", "--cron", "* * * * *"], "name"),
        (["s", "--cron", "0 0 31 2 *"], "cron"),
        (["s", "--cron", "* * * * *", "--tz", "Mars/Base"], "tz"),
    ):
        result = run_cli("schedule", "add", *args, '{"command": "true"}')
        expected = ops.schedule_errors(*(args[:1] + [args[2]] + [args[4] if len(args) > 4 else "UTC", "allow"]))
        assert (result.exit_code, result.stderr) == (2, f"Error: {expected[field]}\n")
