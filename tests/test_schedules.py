"""Schedules: one job per cron tick, whoever runs them and however many of them there are."""
import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from conftest import job, run_cli, start_workers, stop, wait_for

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
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    return sum(int(p.communicate(timeout=60)[0]) for p in procs)


def _jobs(prefix="nightly@"):
    return sorted(j["id"] for j in json.loads(run_cli("list", "--json", "--limit", "1000").stdout)
                  if j["id"].startswith(prefix))  # fmt: skip


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
