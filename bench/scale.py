"""How the hot queries grow with the store: 10k, 100k, 1M jobs in a realistic mix of states.

A store is built the fast way (a test fixture, not a use of the engine's transitions): one
`queuectl enqueue -` of N jobs, then direct SQL that moves 90% of them into finished states with
times, exit codes, errors and one attempt row each, as a store that has been in use looks.
"""
from __future__ import annotations

import importlib.util
import json
import sqlite3
import subprocess
import time
from pathlib import Path

from common import BENCH_DIR, PYTHON, Sizes, env_for, fresh_dir, median, note, q, queuectl_cmd, wall_ms, write_jobs_file

SPAN_S = 7 * 24 * 3600  # the jobs' creation times spread over a week
MIX = "pending 10%, completed ~84%, dead 2.7%, cancelled 1.8%, failed (retry due later) 1.8%, processing 2"


def build_store(root: Path, n: int) -> tuple[Path, dict]:
    work = fresh_dir(root, f"scale-{n}")
    db = work / "q.db"
    t = time.perf_counter()
    q(db, "enqueue", "-", input_path=write_jobs_file(work / "jobs.jsonl", n))
    enqueued = time.perf_counter() - t
    (work / "jobs.jsonl").unlink()
    con = sqlite3.connect(db)
    now = time.time()
    cut = int(n * 0.9)
    with con:
        con.execute("UPDATE job SET created_at = ?1 - (?2 - seq) * ?3, updated_at = ?1 - (?2 - seq) * ?3, "
                    "run_at = ?1 - (?2 - seq) * ?3, next_attempt_at = ?1 - (?2 - seq) * ?3",
                    (now, n, SPAN_S / n))  # fmt: skip
        finished = "seq <= ?1 - 2"
        con.execute(f"UPDATE job SET state = CASE WHEN seq % 100 < 3 THEN 'dead' WHEN seq % 100 < 5 THEN 'cancelled' "
                    f"WHEN seq % 100 < 7 THEN 'failed' ELSE 'completed' END, attempts = CASE WHEN seq % 100 < 3 THEN "
                    f"4 ELSE 1 END, started_at = created_at + 1, finished_at = created_at + 1.2 + (seq % 13) * 0.1, "
                    f"updated_at = created_at + 1.2 + (seq % 13) * 0.1, next_attempt_at = NULL, "
                    f"exit_code = CASE WHEN seq % 100 < 3 OR seq % 100 BETWEEN 5 AND 6 THEN 1 ELSE 0 END, "
                    f"last_error = CASE WHEN seq % 100 < 3 OR seq % 100 BETWEEN 5 AND 6 THEN 'exited with code 1' "
                    f"WHEN seq % 100 < 5 THEN 'cancelled' END WHERE {finished}", (cut,))  # fmt: skip
        # failed jobs wait for a retry later on; they hold no finish time
        con.execute("UPDATE job SET finished_at = NULL, next_attempt_at = ?1 + 3600 WHERE state = 'failed'", (now,))
        con.execute("UPDATE job SET state = 'processing', started_at = ?1, worker_id = 'bench-ghost', "
                    "lease_expires_at = ?1 + 3600, next_attempt_at = NULL WHERE seq > ?2 - 2 AND seq <= ?2", (now, cut))
        con.execute("INSERT INTO attempt (job_seq, number, worker_id, host, started_at, finished_at, exit_code, error, "
                    "stdout_path, stderr_path) SELECT seq, attempts, 'bench-ghost', 'bench-host', started_at, "
                    "finished_at, exit_code, last_error, 'logs/' || id || '/1.out', 'logs/' || id || '/1.err' "
                    "FROM job WHERE state <> 'pending'")  # fmt: skip
    con.execute("ANALYZE")  # what a store that has been in use for a while may have; the engine never runs it
    con.close()
    counts = dict(sqlite3.connect(db).execute("SELECT state, count(*) FROM job GROUP BY state").fetchall())
    return db, {"build_s": time.perf_counter() - t, "enqueue_s": enqueued, "states": counts,
                "size_mb": db.stat().st_size / 2**20}  # fmt: skip


CLI_PROBES = {
    "status": ["status"],
    "list_50": ["list", "--limit", "50"],
    "list_dead": ["list", "--state", "dead"],
    "dlq_list": ["dlq", "list"],
    "metrics": ["metrics"],
}


def tui_probe(db: Path, refreshes: int) -> dict:
    """TUI open time, one Jobs-pane refresh (headless run_test) and peak RSS, in a fresh process.

    Skipped while `queuectl.tui.app` does not exist; a probe that breaks (the dashboard's API
    moved) is reported, not fatal.  The probe itself is tui_probe.py.
    """
    if importlib.util.find_spec("queuectl.tui") is None or importlib.util.find_spec("queuectl.tui.app") is None:
        return {"skipped": "queuectl.tui has no app yet"}
    t = time.time()
    proc = subprocess.run([PYTHON, str(BENCH_DIR / "tui_probe.py"), str(db), str(t), str(refreshes)],
                          capture_output=True, text=True, env=env_for(db), timeout=120)  # fmt: skip
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(sizes: Sizes, root: Path) -> dict:
    out = {"mix": MIX}
    for n in sizes.scale_sizes:
        t = time.perf_counter()
        db, built = build_store(root, n)
        note(f"store of {n:,} jobs built in {built['build_s']:.1f}s ({built['size_mb']:.0f} MB)")
        env = env_for(db)
        cli = {}
        for key, args in CLI_PROBES.items():
            wall_ms(queuectl_cmd() + args, env)  # warm
            cli[key] = median(wall_ms(queuectl_cmd() + args, env) for _ in range(sizes.query_runs))
        proc = subprocess.run([PYTHON, str(BENCH_DIR / "scale_probe.py"), str(db), str(sizes.query_runs),
                               str(sizes.claims)], capture_output=True, text=True, env=env)  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"scale probe failed: {proc.stderr[-800:]}")
        inproc = json.loads(proc.stdout)
        out[str(n)] = {"build": built, "cli_ms": cli, "store_ms": inproc, "tui": tui_probe(db, max(3, sizes.query_runs)),
                       "step_s": time.perf_counter() - t}  # fmt: skip
        note(f"{n:,} jobs: store ms " + ", ".join(f"{k} {v:.1f}" for k, v in inproc.items()))
        note(f"{n:,} jobs: TUI {out[str(n)]['tui']}")
        note(f"{n:,} jobs: CLI ms " + ", ".join(f"{k} {v:.0f}" for k, v in cli.items()))
    return out
