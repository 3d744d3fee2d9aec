"""Steps of the wall clock on a SQLite store: due times do not wait out a backward step, and a
clock running an hour ahead does not make live workers look dead."""

import json
import subprocess
import sys
import time
from datetime import datetime

import pytest
from conftest import claim_one, drain, finish_one, qctl, run_cli

from queuectl import store
from queuectl.spec import JobSpec

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


def _in_time_namespace(boottime_offset: int) -> list[str]:
    """The argv prefix that runs a command in a new time namespace (unshare(1), as root)."""
    argv = ["unshare", "--time", "--boottime", str(boottime_offset), "--fork"]
    probe = subprocess.run([*argv, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare --time is refused here: {probe.stderr.strip()}")
    return argv


def _uptime() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


@pytest.mark.parametrize("offset", ["a year ahead", "back half the uptime"])
def test_a_process_in_a_time_namespace_does_not_move_the_store_clock(db_path, offset):
    """Issue 22: `unshare --time --boottime 31536000 queuectl add` re-anchored the store a year
    ahead (the boot id is shared); a job added then was due a year late, one added after it 37
    days late, and a job for next week ran at once.  The host's boot time is used instead."""
    seconds = 365 * 86400 if offset == "a year ahead" else -int(_uptime() / 2)
    slack = HOUR if seconds > 0 else _uptime() / 4  # (before the fix: the whole offset, or half of it)
    if slack < 60:
        pytest.skip("the machine booted too recently to step its boot time back far enough to tell")
    assert qctl("init").returncode == 0  # the store's clock anchor, on the host's boot time
    inside = _in_time_namespace(seconds)
    for args in (["add", "--id", "inside", "--", "true"], ["add", "--id", "next-week", "--at", "7d", "--", "true"]):
        added = subprocess.run([*inside, sys.executable, "-m", "queuectl", *args], capture_output=True, text=True)
        assert added.returncode == 0, added.stderr
    assert qctl("add", "--id", "outside", "--", "true").returncode == 0
    drain()
    times = {j["id"]: j for j in json.loads(qctl("list", "--json").stdout)}
    for job_id in ("inside", "outside"):
        assert times[job_id]["state"] == "completed"
        assert abs(_epoch(times[job_id]["created_at"]) - time.time()) < slack  # a year, or 37 days, before the fix
    assert times["next-week"]["state"] == "pending"
    assert abs(_epoch(times["next-week"]["run_at"]) - time.time() - 7 * 86400) < HOUR


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_boot_time_before_the_anchor_is_not_trusted(db_path, opened, monkeypatch):
    """A process whose boot time reads earlier than the anchor's (a time namespace whose offset
    it could not read) takes the wall clock and leaves the anchor alone."""
    from queuectl.models import Setting
    from queuectl.store import clock

    store.now()
    anchor = Setting.get(Setting.key == clock.KEY).value
    monkeypatch.setattr(clock, "_OFFSET", _uptime() / 2)  # as if inside a namespace half the uptime back
    clock.forget()
    store.set_wall_clock(_stepped(HOUR))  # a wall clock this process would otherwise steer towards
    try:
        assert abs(store.now() - time.time() - HOUR) < 60
    finally:
        store.set_wall_clock()
    assert Setting.get(Setting.key == clock.KEY).value == anchor
