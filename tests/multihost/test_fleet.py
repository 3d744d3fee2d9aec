"""A fleet across real network hosts (see conftest.py): every test ends with every job completed
exactly once (one successful attempt each) and no two runs of a job overlapping (its lock)."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from .conftest import LEASE_SECONDS


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"{what}: not within {timeout}s")


def _running_on(fleet, host: str) -> int:
    return fleet.rows(
        f"SELECT COUNT(*) FROM job j JOIN worker w ON w.id = j.worker_id "
        f"WHERE j.state = 'processing' AND w.host = '{host}'"
    )[0][0]


def _hosts(fleet, on: str = "h3") -> dict:
    return {h["host"]: h for h in json.loads(fleet.q(on, "host", "list", "--json").stdout)}


def test_jobs_spread_over_three_hosts_and_their_output_is_read_and_followed_from_another(fleet):
    ids = [f"spread-{i}" for i in range(9)]
    fleet.enqueue([fleet.locked_job(job_id, 1.5) for job_id in ids])
    gate = fleet.root / "gate"
    fleet.enqueue(
        [
            {
                "id": "live",
                "command": f"echo first; while [ ! -e {gate} ]; do sleep 0.1; done; echo second",
                "max_retries": 0,
            }
        ]
    )
    for host in ("h1", "h2", "h3"):
        fleet.workers(host, 2)
    ran_live_on = _wait_for(
        lambda: fleet.rows("SELECT a.host FROM attempt a JOIN job j ON j.seq = a.job_seq WHERE j.id = 'live'"),
        60,
        "the live job started",
    )[0][0]
    elsewhere = next(h for h in ("h1", "h2", "h3") if h != ran_live_on)
    follower = fleet.start(elsewhere, "logs", "live", "--follow", stdout=subprocess.PIPE)
    assert follower.stdout.readline() == "first\n"  # streamed from the store while the job still runs
    gate.touch()
    assert follower.stdout.read() == "second\n"
    assert follower.wait(30) == 0
    fleet.wait_until_done(ids + ["live"], timeout=90)
    hosts = fleet.check_exactly_once(ids + ["live"])
    assert set(hosts.values()) == {"h1", "h2", "h3"}  # every host ran some
    for job_id in ids:  # each job's output, read on a host that did not run it
        reader = next(h for h in ("h1", "h2", "h3") if h != hosts[job_id])
        shown = fleet.q(reader, "logs", job_id).stdout
        assert f"=== STDOUT ===\noutput of {job_id}\n" in shown
    listed = _hosts(fleet)
    assert {listed[h]["state"] for h in ("h1", "h2", "h3")} == {"up"}
    assert all(listed[h]["slots"] == 2 for h in ("h1", "h2", "h3"))


def test_a_partitioned_host_fences_itself_and_the_others_take_over_once(fleet):
    ids = [f"part-{i}" for i in range(6)]
    fleet.workers("h1", 3)
    _wait_for(lambda: _hosts(fleet).get("h1", {}).get("state") == "up", 30, "h1 up")
    fleet.enqueue(
        [
            fleet.locked_job(job_id, 3 * LEASE_SECONDS) if i < 3 else fleet.locked_job(job_id, 2)
            for i, job_id in enumerate(ids)
        ]
    )
    _wait_for(lambda: _running_on(fleet, "h1") == 3, 30, "h1 runs three long jobs")
    fleet.workers("h2", 3)
    fleet.workers("h3", 3)
    fleet.network.link("h1", up=False)
    cut = time.monotonic()
    # the long jobs of h1 are fenced by h1 itself (its lock is free again) before the others
    # take them over after the lease: the lock would catch a second run while the first lives
    long_ones = ", ".join(f"'{job_id}'" for job_id in ids[:3])
    _wait_for(
        lambda: (
            fleet.rows(
                f"SELECT COUNT(*) FROM job WHERE id IN ({long_ones}) AND state = 'processing' "
                "AND worker_id NOT LIKE 'h1%'"
            )[0][0]
            >= 1
        ),
        60,
        "the others took h1's jobs",
    )
    assert time.monotonic() - cut >= LEASE_SECONDS * 0.75
    time.sleep(2)
    fleet.network.link("h1", up=True)  # h1 comes back: its late ends must not count
    fleet.wait_until_done(ids, timeout=180)
    hosts = fleet.check_exactly_once(ids)
    assert all(hosts[job_id] != "h1" for job_id in ids[:3])
    fenced = fleet.rows(
        "SELECT COUNT(*) FROM attempt WHERE host = 'h1' AND (exit_code IS DISTINCT FROM 0 OR error IS NOT NULL)"
    )
    assert fenced[0][0] >= 3


def test_the_database_restarted_during_a_drain_loses_nothing_and_repeats_nothing(fleet):
    ids = [f"restart-{i}" for i in range(30)]
    fleet.enqueue([fleet.locked_job(job_id, 0.5) for job_id in ids])
    fleet.workers("h1", 3)
    fleet.workers("h2", 3)
    _wait_for(lambda: fleet.rows("SELECT COUNT(*) FROM job WHERE state = 'completed'")[0][0] >= 4, 60, "a start")
    fleet.pg.stop()
    time.sleep(2)
    fleet.pg.start()
    fleet.wait_until_done(ids, timeout=150)
    fleet.check_exactly_once(ids)


def test_a_host_killed_with_all_its_processes_has_its_jobs_run_once_elsewhere(fleet):
    ids = [f"kill-{i}" for i in range(6)]
    fleet.workers("h1", 3)
    _wait_for(lambda: _hosts(fleet).get("h1", {}).get("state") == "up", 30, "h1 up")
    fleet.enqueue([fleet.locked_job(job_id, 8 if i < 3 else 1) for i, job_id in enumerate(ids)])
    _wait_for(lambda: _running_on(fleet, "h1") == 3, 30, "h1 runs three jobs")
    fleet.workers("h2", 3)
    fleet.kill_host("h1")
    _wait_for(lambda: _hosts(fleet).get("h1", {}).get("state") == "lost", 30, "h1 shown lost")
    assert _hosts(fleet)["h1"]["since"] is not None
    fleet.enqueue([fleet.locked_job(f"kill-after-{i}", 1) for i in range(3)])
    # the store cannot kill anything on a dead host: the lock of its jobs is free because their
    # processes died with it, and h2 runs them after the lease
    fleet.wait_until_done(ids + [f"kill-after-{i}" for i in range(3)], timeout=150)
    hosts = fleet.check_exactly_once(ids + [f"kill-after-{i}" for i in range(3)])
    assert all(hosts[job_id] == "h2" for job_id in ids[:3])


def test_worker_stop_host_from_a_third_namespace_stops_that_host_only(fleet):
    ids = [f"stop-{i}" for i in range(8)]
    one, two = fleet.workers("h1", 2), fleet.workers("h2", 2)
    _wait_for(lambda: {h for h, v in _hosts(fleet).items() if v["state"] == "up"} >= {"h1", "h2"}, 30, "h1, h2 up")
    fleet.enqueue([fleet.locked_job(job_id, 1) for job_id in ids])
    _wait_for(lambda: _running_on(fleet, "h1") >= 1, 30, "h1 busy")
    stopped = fleet.q("h3", "worker", "stop", "--host", "h1")
    assert "on h1" in stopped.stdout
    assert one.wait(60) == 0  # its running jobs finished first, then its supervisor exited
    assert two.poll() is None
    fleet.wait_until_done(ids, timeout=90)
    fleet.check_exactly_once(ids)
    listed = _hosts(fleet)
    assert (listed["h1"]["state"], listed["h2"]["state"]) == ("stopped", "up")


def test_each_job_runs_only_on_the_host_whose_resources_fit_it(fleet):
    """Three hosts offering different resources (h1: 8 CPUs and a license; h2: 2 CPUs; h3: no
    worker at first): a job asking for the license or for 6 CPUs runs on h1 only, plain jobs run
    anywhere, and a job asking for a resource nobody offers waits with its reason until a host
    that offers it (h3) joins, then runs there."""
    licensed = [fleet.locked_job(f"lic-{i}", 0.3, resources={"license": 1}) for i in range(3)]
    wide = [fleet.locked_job(f"wide-{i}", 0.3, resources={"cpus": 6}) for i in range(2)]
    plain = [fleet.locked_job(f"plain-{i}", 0.3) for i in range(6)]
    rare = fleet.locked_job("rare", 0.1, resources={"fpga": 1})
    fleet.enqueue([*licensed, *wide, *plain, rare])
    fleet.workers("h1", 2, "--cpus", "8", "--resource", "license=1")
    fleet.workers("h2", 2, "--cpus", "2")
    done = [job["id"] for job in (*licensed, *wide, *plain)]
    fleet.wait_until_done(done, timeout=90)
    hosts = fleet.check_exactly_once(done)
    assert {hosts[j["id"]] for j in (*licensed, *wide)} == {"h1"}, hosts
    waiting = json.loads(fleet.q("h2", "show", "rare", "--json").stdout)
    assert waiting["state"] == "pending"
    assert waiting["waiting_reason"] == "needs fpga=1; the largest live host offers 0", waiting
    fleet.workers("h3", 1, "--resource", "fpga=1")
    fleet.wait_until_done(["rare"], timeout=60)
    assert fleet.check_exactly_once([*done, "rare"])["rare"] == "h3"
