"""Kill during writes: SIGKILL a command or a worker in the middle of its transaction, many
times; the store stays consistent and every batch is all or nothing."""

import json
import os
import random
import signal
import subprocess
import sys
import time

from conftest import job, run_cli, start_workers, stop

from . import storecheck

rng = random.Random()


def _spawn(*args: str, stdin=None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "queuectl", *args], stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _kill_after(proc: subprocess.Popen, seconds: float) -> int:
    try:
        return proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        return proc.wait()


def _timed(*args: str, **kw) -> float:
    """How long the command takes when nothing kills it (the window the kills aim at)."""
    started = time.monotonic()
    assert _spawn(*args, **kw).wait(120) == 0
    return time.monotonic() - started


def test_killed_batch_enqueue_is_all_or_nothing(db_path, tmp_path):
    """A 20,000-line `enqueue -` killed at random moments leaves all of its jobs or none."""
    n = 20_000
    batches = []
    for b in range(13):
        path = tmp_path / f"batch{b}.jsonl"
        path.write_text(
            "".join(json.dumps({"id": f"b{b}-{i}", "command": f"echo {i} " + "x" * 200}) + "\n" for i in range(n))
        )
        batches.append(path)
    with open(batches[0]) as f:
        full = _timed("enqueue", "-", stdin=f)
    outcomes = []
    for b, path in enumerate(batches[1:], start=1):
        with open(path) as f:
            _kill_after(_spawn("enqueue", "-", stdin=f), rng.uniform(0.3 * full, 1.1 * full))
        conn = storecheck.connect(db_path)
        stored = conn.execute("SELECT COUNT(*) FROM job WHERE id LIKE ?", (f"b{b}-%",)).fetchone()[0]
        conn.close()
        assert stored in (0, n), f"batch {b}: {stored} of {n} jobs were stored"
        outcomes.append(stored == n)
        assert storecheck.problems(db_path) == []
    # both outcomes happened, so the kills did land around the commit
    print(f"batch of {n} took {full:.2f}s; killed batches kept: {outcomes}")
    assert not all(outcomes)


def test_killed_config_set_keeps_old_or_new_value(db_path):
    values = [str(v) for v in range(1, 25)]
    full = _timed("config", "set", "max_retries", "0")
    current = "0"
    for value in values:
        _kill_after(_spawn("config", "set", "max_retries", value), rng.uniform(0.3 * full, 1.2 * full))
        now = str(json.loads(run_cli("config", "show", "--json").stdout)["max_retries"])
        assert now in (current, value)
        current = now
        assert storecheck.problems(db_path) == []


def _make_dead(db_path, prefix: str, n: int) -> None:
    """n dead jobs (set up directly in SQL: the jobs' history does not matter here)."""
    lines = "".join(json.dumps({"id": f"{prefix}{i}", "command": "false", "max_retries": 0}) + "\n" for i in range(n))
    assert run_cli("enqueue", "-", input=lines).exit_code == 0
    _deaden(db_path)


def _deaden(db_path) -> None:
    conn = storecheck.connect(db_path)
    conn.execute(
        "UPDATE job SET state = 'dead', next_attempt_at = NULL, finished_at = 1.0, last_error = 'x' "
        "WHERE state = 'pending'"
    )
    conn.close()


def test_killed_dlq_retry_all_is_all_or_nothing(db_path):
    n = 5_000
    _make_dead(db_path, "d", n)
    full = _timed("dlq", "retry", "--all")
    kept = []
    for _ in range(12):
        _deaden(db_path)
        _kill_after(_spawn("dlq", "retry", "--all"), rng.uniform(0.3 * full, 1.1 * full))
        counts = storecheck.state_counts(db_path)
        assert counts in ({"dead": n}, {"pending": n}), counts
        kept.append("pending" in counts)
        assert storecheck.problems(db_path) == []
    print(f"dlq retry --all of {n} took {full:.2f}s; retried: {kept}")
    assert not all(kept)


def test_killed_first_open_leaves_a_usable_store(db_path, tmp_path):
    """A command killed while it creates the store: the next one creates or finds it whole."""
    for i in range(10):
        path = tmp_path / f"fresh{i}.db"
        proc = _spawn("--db", str(path), "enqueue", '{"id": "a", "command": "true"}')
        _kill_after(proc, rng.uniform(0.05, 0.5))
        again = subprocess.run(
            [sys.executable, "-m", "queuectl", "--db", str(path), "init"], capture_output=True, text=True, timeout=60
        )
        assert again.returncode == 0, again.stderr
        assert storecheck.problems(path) == []


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def test_workers_killed_mid_transaction_lose_nothing(db_path, tmp_path):
    """Jobs that do nothing keep workers in their claim and finish transactions most of the
    time; SIGKILLing them there, over and over, loses no job and breaks no invariant."""
    run_cli("config", "set", "max_backoff", "0")
    n = 400
    lines = "".join(json.dumps({"id": f"t{i}", "command": "true", "max_retries": 1000}) + "\n" for i in range(n))
    assert run_cli("enqueue", "-", input=lines).exit_code == 0
    workers = start_workers("--count", "2")
    kills = 0
    try:
        deadline = time.monotonic() + 90
        while storecheck.state_counts(db_path).get("completed", 0) < n:
            assert time.monotonic() < deadline, storecheck.state_counts(db_path)
            time.sleep(rng.uniform(0.02, 0.2))
            pids = [
                w["pid"]
                for w in json.loads(run_cli("worker", "list", "--json").stdout)
                if _parent(w["pid"]) == workers.pid
            ]  # never a recycled pid
            if pids:
                try:
                    os.kill(rng.choice(pids), signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    pass
    finally:
        assert stop(workers) == 0
    assert storecheck.problems(db_path) == []
    assert kills >= 10
    # every lost attempt counted; every job completed exactly once in the end
    assert all(job(f"t{i}")["state"] == "completed" for i in range(0, n, 37))
    assert "Traceback" not in workers.stderr.read()
