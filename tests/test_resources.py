"""Resources (issue 26): what each run used (CPU, peak memory, signal, wall), the memory limit,
and the claim that fits jobs' requests to what hosts offer.  Real processes and both stores;
GPUs are a fake `nvidia-smi` on PATH."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import pytest
from conftest import drain, enqueue, finish_one, run_cli, start_workers, stop, wait_for

from queuectl import store
from queuectl.resources import Free, detect_gpus, validate_request
from queuectl.states import JobState

#: a busy loop of 1 CPU second of the whole process, however loaded the machine
BUSY = "import time\nwhile time.process_time() < 1.0: pass\n"

FAKE_SMI = """#!/bin/sh
echo "0, GPU-00000000-aaaa, 16384 MiB"
echo "1, GPU-11111111-bbbb, 16384 MiB"
echo "2, GPU-22222222-cccc, 16384 MiB"
"""


def _attempts(job_id: str) -> list[dict]:
    result = run_cli("show", job_id, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["attempts"]


def test_a_run_records_its_cpu_its_orphans_cpu_peak_memory_and_a_memory_limit_stops_it(tmp_path, monkeypatch):
    """A 1 s busy loop records 0.8-1.2 CPU seconds; a job whose child orphans itself (the busy
    loop in a background subshell whose parent exits) still has the orphan's CPU; a Python job
    allocating past its --mem is killed, its attempt saying so, and fails like any failure.
    All of it in `show`, `list --json`, the `logs` header and on_finish hooks."""
    flag = tmp_path / "orphan-done"
    facts = tmp_path / "facts"
    (tmp_path / "busy.py").write_text(BUSY)
    busy_loop = f"python3 {tmp_path / 'busy.py'}"
    assert run_cli("config", "set", "on_finish", f'echo "$QUEUECTL_JOB_ID $QUEUECTL_CPU_USER_SECONDS" >> {facts}')
    enqueue(id="busy", command=busy_loop)
    enqueue(
        id="orphan",
        command=f"sh -c '({busy_loop}; touch {flag}) &'; while [ ! -e {flag} ]; do sleep 0.05; done",
        max_retries=0,
    )
    hog = "python3 -c 'import time\nx = b\"x\" * (300 << 20)\ntime.sleep(5)'"
    assert run_cli("add", "--id", "hog", "--mem", "100M", "--retries", "0", "--", hog).exit_code == 0
    enqueue(id="tiny", command="echo hi")
    drain("--count", "4")

    # a run too short to sample has no peak, not the worker's own (its ru_maxrss at the spawn)
    tiny = _attempts("tiny")[0]
    assert tiny["max_rss"] is None or tiny["max_rss"] < 8 << 20, tiny
    busy = _attempts("busy")[0]
    assert 0.8 <= busy["cpu_user"] + busy["cpu_system"] <= 1.2, busy
    assert busy["max_rss"] > 1 << 20 and busy["wall"] > 0 and busy["signal"] is None
    orphan = _attempts("orphan")[0]
    assert orphan["cpu_user"] + orphan["cpu_system"] >= 0.8, orphan

    hog_run = _attempts("hog")[0]
    assert json.loads(run_cli("show", "hog", "--json").stdout)["state"] == "dead"
    assert hog_run["error"].startswith("killed: used ") and ", limit 100.0 MiB" in hog_run["error"], hog_run
    assert hog_run["max_rss"] > 100 << 20 and hog_run["signal"] in ("SIGTERM", "SIGKILL")
    assert hog_run["granted"] == {"mem": 100 << 20}

    listed = {j["id"]: j for j in json.loads(run_cli("list", "--json").stdout)}
    assert listed["busy"]["usage"]["cpu_user"] == busy["cpu_user"]
    assert listed["hog"]["resources"] == {"mem": 100 << 20}
    header = run_cli("logs", "busy").stdout
    assert "=== USAGE ===\nwall " in header and "cpu user " in header and "peak memory " in header
    assert "attempt 1 used: wall " in run_cli("show", "busy").stdout
    lines = dict(line.split(" ", 1) for line in facts.read_text().splitlines())
    assert float(lines["busy"]) == pytest.approx(busy["cpu_user"], abs=0.002)
    # `usage`, as sacct sums it: runs, failures, CPU hours and peak memory per queue
    (default,) = json.loads(run_cli("usage", "--json").stdout)["groups"]
    assert (default["key"], default["runs"], default["failures"]) == ("default", 4, 1)
    assert default["cpu_hours"] >= 1.6 / 3600 and default["max_rss"] == hog_run["max_rss"]
    assert run_cli("usage", "--since", "soon-ish").exit_code == 2


def test_mem_limit_warn_notes_it_and_lets_the_job_finish():
    assert run_cli("config", "set", "mem_limit", "warn").exit_code == 0
    hog = "python3 -c 'x = b\"x\" * (64 << 20)\nimport time\ntime.sleep(0.6)'"
    assert run_cli("add", "--id", "w", "--mem", "16M", "--", hog).exit_code == 0
    drain()
    run = _attempts("w")[0]
    assert run["error"] is None and "limit 16.0 MiB (mem_limit = warn: not stopped)" in run["note"]
    assert run_cli("config", "set", "mem_limit", "sometimes").exit_code == 2


@pytest.mark.parametrize(
    "args, says",
    [
        (["--gpus", "1.5"], "gpus must be a fraction of one device or whole devices"),
        (["--gpus", "-1"], "gpus must be more than 0"),
        (["--mem", "4X"], "mem must be a size like 4G"),
        (["--cpus", "many"], "cpus must be a number"),
        (["--resource", "Bad Name=1"], "--resource takes NAME=N"),
        (["--resource", "license=0"], "license must be more than 0"),
    ],
)
def test_nonsense_requests_are_refused_with_one_line(args, says):
    result = run_cli("add", *args, "true")
    assert result.exit_code == 2 and says in result.stderr and result.stderr.count("\n") == 1, result.stderr
    refused = run_cli("enqueue", json.dumps({"command": "true", "resources": {"gpus": "lots"}}))
    assert refused.exit_code == 2 and "gpus must be a number" in refused.stderr


def test_requests_offers_and_grants_are_plain_data():
    assert validate_request({"cpus": 2, "mem": "4G", "gpus": 0.5, "license": 1}) == {
        "cpus": 2,
        "mem": 4 << 30,
        "gpus": 0.5,
        "license": 1,
    }
    assert validate_request({}) is None
    free = Free({"cpus": 8, "gpus": [{"index": 0}, {"index": 1}]})
    halves = [free.grant({"gpus": 0.5}) for _ in range(4)]  # fractions pack: two per device
    assert [h["gpus"] for h in halves] == [{"0": 0.5}, {"0": 0.5}, {"1": 0.5}, {"1": 0.5}]
    assert free.short_of({"gpus": 0.5}) == {"gpus"}


def test_gpus_come_from_nvidia_smi_restricted_by_cuda_visible_devices(tmp_path):
    (tmp_path / "nvidia-smi").write_text(FAKE_SMI)
    (tmp_path / "nvidia-smi").chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    assert [g["index"] for g in detect_gpus(env)] == [0, 1, 2]
    assert detect_gpus(env)[0] == {"index": 0, "uuid": "GPU-00000000-aaaa", "mem": 16384 << 20}
    assert [g["index"] for g in detect_gpus(dict(env, CUDA_VISIBLE_DEVICES="2,GPU-00000000-aaaa"))] == [0, 2]
    assert detect_gpus({"PATH": "/nonexistent"}) == []


def test_devices_are_assigned_not_just_counted(tmp_path, monkeypatch):
    """A fake nvidia-smi with three GPUs: four 0.5-GPU jobs run two per device, at once; then
    two 1-GPU jobs, at once, get different CUDA_VISIBLE_DEVICES and QUEUECTL_GPUS."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "nvidia-smi").write_text(FAKE_SMI)
    (tmp_path / "bin" / "nvidia-smi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")  # the third is not ours
    marks = tmp_path / "marks"
    marks.mkdir()
    # each waits until all four halves run at once (or gives up after 10 s, and the test fails)
    half = f"touch {marks}/$QUEUECTL_JOB_ID; n=0; while [ $(ls {marks} | wc -l) -lt 4 ] && [ $n -lt 200 ]; "
    half += "do sleep 0.05; n=$((n+1)); done; echo $CUDA_VISIBLE_DEVICES $QUEUECTL_GPU_SHARES"
    for i in range(4):
        assert run_cli("add", "--id", f"half{i}", "--gpus", "0.5", "--", half).exit_code == 0
    whole = "echo $CUDA_VISIBLE_DEVICES $QUEUECTL_GPUS; sleep 0.5"
    for i in range(2):
        assert run_cli("add", "--id", f"one{i}", "--gpus", "1", "--", whole).exit_code == 0
    drain("--count", "6")
    halves = sorted(run_cli("logs", f"half{i}", "--stdout").stdout.strip() for i in range(4))
    assert halves == ["0 0:0.5", "0 0:0.5", "1 1:0.5", "1 1:0.5"]
    ones = sorted(run_cli("logs", f"one{i}", "--stdout").stdout.strip() for i in range(2))
    assert ones == ["0 0", "1 1"]
    runs = [_attempts(f"one{i}")[0] for i in range(2)]
    assert runs[0]["started_at"] < runs[1]["finished_at"] and runs[1]["started_at"] < runs[0]["finished_at"]
    assert "; granted gpus=" in run_cli("show", "one0").stdout


def _host(opened_name: str, offer: dict) -> str:
    worker_id = f"{opened_name}.1.w"
    store.register_worker(worker_id, opened_name, os.getpid(), None, 8, offer)
    return worker_id


def _claim(worker_id: str, host: str, k: int = 8) -> list[str]:
    return [c.id for c in store.claim_batch(worker_id, host, k)]


def test_each_job_runs_only_on_a_host_where_it_fits(opened):
    """Two hosts on one store: a GPU box and a CPU box with a license; priority and FIFO among
    the jobs that fit; a job that asks for nothing is claimed by either, as today."""
    gpu = _host("gpubox", {"cpus": 4, "mem": 8 << 30, "gpus": [{"index": 0}, {"index": 1}]})
    cpu = _host("cpubox", {"cpus": 16, "mem": 64 << 30, "license": 1})
    enqueue(id="train", command="true", resources={"gpus": 1})
    enqueue(id="big-cpu", command="true", resources={"cpus": 12})
    enqueue(id="licensed", command="true", resources={"license": 1})
    enqueue(id="licensed-2", command="true", resources={"license": 1})
    enqueue(id="urgent", command="true", resources={"gpus": 1}, priority=5)
    enqueue(id="plain", command="true")
    assert _claim(gpu, "gpubox", 3) == ["urgent", "train", "plain"]
    assert _claim(cpu, "cpubox") == ["big-cpu", "licensed"]  # one license: the second waits
    assert _claim(gpu, "gpubox") == []


def test_a_job_needing_every_gpu_is_not_starved_by_a_stream_of_small_ones(opened):
    """The bound: a job at the head that fits the host holds back what it is short of, so it
    starts once the GPU jobs running when it came to the head have ended, however many 1-GPU
    jobs keep arriving behind it; jobs that need none of it still run."""
    host = _host("box", {"cpus": 8, "gpus": [{"index": i} for i in range(4)]})
    enqueue(id="small-0", command="true", resources={"gpus": 1})
    first = store.claim_batch(host, "box", 1)
    enqueue(id="all-four", command="true", resources={"gpus": 4})
    for round_ in range(1, 4):  # smaller jobs keep arriving; none passes the big one
        enqueue(id=f"small-{round_}", command="true", resources={"gpus": 1})
        enqueue(id=f"cpu-{round_}", command="true", resources={"cpus": 1})
        assert _claim(host, "box") == [f"cpu-{round_}"]
    assert finish_one(first[0], host, None, 0) == "completed"
    claims = store.claim_batch(host, "box", 8)
    assert [c.id for c in claims] == ["all-four"]
    assert claims[0].granted == {"gpus": {"0": 1, "1": 1, "2": 1, "3": 1}}


def test_a_request_nobody_can_meet_says_why_then_starts_when_a_fitting_host_joins(opened):
    small = _host("small", {"cpus": 2, "gpus": [{"index": i} for i in range(4)]})
    enqueue(id="huge", command="true", resources={"gpus": 8})
    says = "needs gpus=8; the largest live host offers 4"
    assert json.loads(run_cli("show", "huge", "--json").stdout)["waiting_reason"] == says
    assert f"huge waits: {says}" in run_cli("list").stdout
    assert _claim(small, "small") == []
    big = _host("big", {"cpus": 64, "gpus": [{"index": i} for i in range(8)]})
    assert json.loads(run_cli("list", "--json").stdout)[0]["waiting_reason"] is None
    assert _claim(big, "big") == ["huge"]


def test_no_device_share_is_granted_twice_while_a_dead_workers_attempts_are_open(opened):
    """A worker holding both GPUs dies: its grants stay held until its attempts are closed by
    the recovery (by then its guard has killed the jobs), and no two open attempts ever share a
    device; after the recovery the retries get the devices again."""
    dead = _host("box", {"gpus": [{"index": 0}, {"index": 1}]})
    for i in range(3):
        enqueue(id=f"g{i}", command="true", resources={"gpus": 1}, max_retries=1)
    assert run_cli("config", "set", "max_backoff", "0").exit_code == 0
    assert _claim(dead, "box") == ["g0", "g1"]
    other = "box.2.w"
    store.register_worker(other, "box", os.getpid(), None, 8, {"gpus": [{"index": 0}, {"index": 1}]})
    assert _claim(other, "box") == []
    store.recover_worker(dead, "lost: its worker process is gone")
    again = wait_for(lambda: store.claim_batch(other, "box", 8), timeout=10)
    held = [device for c in again for device in c.granted["gpus"]]
    assert len(held) == len(set(held)) == 2


@pytest.mark.postgres_only
def test_a_claim_that_waited_for_the_host_lock_sees_the_grants_it_waited_for(opened):
    """Another claim of the same host holds its row lock and commits a grant of the only GPU
    while this claim waits for that lock: this claim then sees the grant (the lock is taken in
    a statement of its own, so the reads after it are not from a snapshot older than the wait)."""
    import threading

    import psycopg2
    from playhouse.db_url import parse

    worker = _host("box", {"gpus": [{"index": 0}]})
    for i in range(2):
        enqueue(id=f"g{i}", command="true", resources={"gpus": 1})
    other = psycopg2.connect(**parse(opened))
    with other.cursor() as cursor:  # the other claim, by hand: lock, take g0, record its grant
        cursor.execute("SELECT 1 FROM host WHERE name = 'box' FOR UPDATE")
        cursor.execute(
            "UPDATE job SET state = %s, worker_id = 'box.9.w', attempts = 1 WHERE id = 'g0' RETURNING seq",
            (JobState.PROCESSING.value,),
        )
        (seq,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO attempt (job_seq, number, worker_id, host, started_at, granted) "
            "VALUES (%s, 1, 'box.9.w', 'box', 0, %s)",
            (seq, json.dumps({"gpus": {"0": 1}})),
        )
    got: list = []
    waiting = threading.Thread(target=lambda: got.append(_claim(worker, "box")))
    waiting.start()
    time.sleep(0.5)  # (it waits for the lock: its statement has started)
    assert waiting.is_alive()
    other.commit()
    waiting.join(10)
    other.close()
    assert got == [[]]  # g1 waits: the one device is g0's


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_sigkill_of_a_worker_holding_gpus_never_grants_a_device_twice(opened, tmp_path, monkeypatch):
    """The real thing: a worker with both (fake) GPUs busy is SIGKILLed; its supervisor
    recovers its jobs and starts another; at no moment do two open attempts hold one device."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "nvidia-smi").write_text(FAKE_SMI.replace('echo "2, GPU-22222222-cccc, 16384 MiB"\n', ""))
    (tmp_path / "bin" / "nvidia-smi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    for i in range(4):
        enqueue(id=f"g{i}", command="sleep 1", resources={"gpus": 1}, max_retries=2)
    assert run_cli("config", "set", "max_backoff", "0").exit_code == 0
    workers = start_workers("--count", "4", "--procs", "1")
    try:
        from queuectl.models import Attempt, Worker

        pid = wait_for(lambda: Attempt.select().where(Attempt.finished_at.is_null()).count() == 2 and Worker.get().pid)
        (listed,) = json.loads(run_cli("worker", "list", "--json").stdout)
        assert listed["resources"]["total"]["gpus"] == 2 and listed["resources"]["free"]["gpus"] == 0
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            held = [
                d
                for (g,) in Attempt.select(Attempt.granted).where(Attempt.finished_at.is_null()).tuples()
                for d in json.loads(g)["gpus"]
            ]
            assert len(held) == len(set(held)), held
            if all(j["state"] == "completed" for j in json.loads(run_cli("list", "--json").stdout)):
                break
            time.sleep(0.05)
        states = {j["id"]: j["state"] for j in json.loads(run_cli("list", "--json").stdout)}
        assert set(states.values()) == {"completed"}, states
    finally:
        stop(workers)


def test_worker_start_refuses_a_nonsense_offer():
    for args, says in (
        (["--gpus", "0.5"], "--gpus takes a whole number"),
        (["--mem", "lots"], "mem must be a size"),
        (["--resource", "x"], "--resource takes NAME=N"),
    ):
        result = run_cli("worker", "start", "--burst", *args)
        assert result.exit_code == 2 and says in result.stderr, result.stderr


def test_a_burst_worker_ends_beside_a_job_this_host_could_never_run():
    """`worker start --burst` runs what fits and exits: a job asking for 8 GPUs on a host with
    none is not work it waits for (it stays pending, with its reason), but one that fits the
    host's whole offer is (a retry of it to come, too)."""
    enqueue(id="huge", command="true", resources={"gpus": 8})
    enqueue(id="plain", command="true")
    enqueue(id="two-cpus", command="true", resources={"cpus": 2})
    drain("--count", "2", "--cpus", "4", "--gpus", "0", timeout=30)
    states = {j["id"]: j["state"] for j in json.loads(run_cli("list", "--json").stdout)}
    assert states == {"huge": "pending", "plain": "completed", "two-cpus": "completed"}, states
    assert not store.has_burst_work((), {"cpus": 4, "gpus": [{"index": 0}]})
    assert store.has_burst_work((), {"gpus": [{"index": i} for i in range(8)]})


def test_edit_sets_and_clears_a_request_with_the_rules_of_add():
    """`edit --set resources=JSON`: checked as `add --gpus` is (exit 2, the job unchanged),
    saved normalized, cleared by an empty value; the TOML document shows it as a table."""
    assert run_cli("add", "--id", "t", "--gpus", "1", "--", "true").exit_code == 0
    bad = run_cli("edit", "t", "--set", 'resources={"gpus": 1.5}')
    assert bad.exit_code == 2 and "gpus must be a fraction of one device" in bad.stderr
    assert run_cli("edit", "t", "--set", 'resources={"gpus": 0.5, "mem": "2G"}').exit_code == 0
    assert store.get_job("t").resources == {"gpus": 0.5, "mem": 2 << 30}
    from queuectl import jobdoc, ops

    assert "resources = {gpus = 0.5, mem = 2147483648}" in jobdoc.render(
        ops.editable(store.get_job("t")), "t", "pending", "toml"
    )
    assert run_cli("edit", "t", "--set", "resources=").exit_code == 0
    assert store.get_job("t").resources is None
