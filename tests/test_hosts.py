"""Hosts of a fleet: `host list`, `worker stop --host` through the store, lost hosts (both
backends; hosts are told apart by QUEUECTL_HOST_ID, the network ones are tests/multihost/)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import qctl, run_cli, wait_for
from test_store import Clock

from queuectl import store


def _workers(host: str, count: int) -> subprocess.Popen:
    assert run_cli("init").exit_code == 0
    return subprocess.Popen(
        [sys.executable, "-m", "queuectl", "worker", "start", "--quiet", "--count", str(count)],
        env=dict(os.environ, QUEUECTL_HOST_ID=host),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _hosts() -> dict:
    result = qctl("host", "list", "--json")
    assert result.returncode == 0, result.stderr
    return {h["host"]: h for h in json.loads(result.stdout)}


def test_stop_host_stops_that_machines_workers_only_and_host_list_says_so(backend):
    alpha, beta = _workers("alpha", 3), _workers("beta", 2)
    try:
        hosts = wait_for(
            lambda: (
                (h := _hosts())
                and {"alpha", "beta"} <= set(h)
                and h["alpha"]["slots"] == 3
                and h["beta"]["slots"] == 2
                and h
            )
        )
        assert hosts["alpha"]["state"] == hosts["beta"]["state"] == "up"
        assert hosts["alpha"]["version"] == store.queuectl_version()
        assert hosts["alpha"]["heartbeat_at"].endswith("Z") and hosts["alpha"]["since"] is None
        stopped = qctl("worker", "stop", "--host", "alpha")
        assert stopped.returncode == 0 and "on alpha" in stopped.stdout, stopped.stderr
        assert alpha.wait(30) == 0  # its supervisor exits once its workers have
        assert beta.poll() is None
        hosts = _hosts()
        assert (hosts["alpha"]["state"], hosts["alpha"]["workers"]) == ("stopped", 0)
        assert hosts["alpha"]["since"] is not None
        assert (hosts["beta"]["state"], hosts["beta"]["slots"]) == ("up", 2)
        table = qctl("host", "list")
        assert "alpha" in table.stdout and "stopped since" in table.stdout
    finally:
        for proc in (alpha, beta):
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)


def test_stopping_an_unknown_host_is_one_line_and_changes_nothing(backend):
    assert run_cli("init").exit_code == 0
    result = qctl("worker", "stop", "--host", "nosuch")
    assert result.returncode == 1
    assert (
        result.stderr.startswith("Error: no worker is registered on host 'nosuch'")
        and len(result.stderr.splitlines()) == 1
    )


def test_a_host_whose_workers_went_silent_is_lost_since_their_last_heartbeat(opened):
    clock = Clock()
    store.set_clock(clock)
    store.register_worker("g1-hosts", "gamma", 11, None, slots=2)
    store.register_worker("d1-hosts", "delta", 12, None)
    last_beat = clock.t + 3
    clock.t = last_beat
    store.heartbeat("g1-hosts")
    hosts = {h.name: h for h in store.list_hosts()}
    assert (hosts["gamma"].state, hosts["gamma"].slots) == ("up", 2)
    clock.t += 10  # gamma is silent; delta too, but delta is declared dead below
    hosts = {h.name: h for h in store.list_hosts()}
    assert (hosts["gamma"].state, hosts["gamma"].since, hosts["gamma"].workers) == ("lost", last_beat, 0)
    # once another worker forgets the silent ones, the host row still says when
    store.register_worker("e1-hosts", "epsilon", 13, None)
    store.recover_expired()
    for _ in range(4):
        clock.t += 10
        store.heartbeat("e1-hosts")
    store.recover_expired()
    hosts = {h.name: h for h in store.list_hosts()}
    assert not any(w.host == "gamma" for w in store.list_workers(live_only=False))
    assert (hosts["gamma"].state, hosts["gamma"].since) == ("lost", last_beat)
    assert hosts["epsilon"].state == "up"
    # a worker starting there again brings it back
    store.register_worker("g2", "gamma", 14, None)
    assert {h.name: h for h in store.list_hosts()}["gamma"].state == "up"
