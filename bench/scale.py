"""How the hot queries grow with the store: 10k, 100k, 1M jobs in a realistic mix of states.

A store is built the fast way (a test fixture, not a use of the engine's transitions): one
`queuectl enqueue -` of N jobs, then direct SQL that moves 90% of them into finished states with
times, exit codes, errors and one attempt row each, as a store that has been in use looks.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sqlite3
import subprocess
import time
from pathlib import Path

from common import (
    ASYNC_COMMIT,
    BENCH_DIR,
    PYTHON,
    PgServer,
    PgStore,
    Sizes,
    as_installed,
    compile_engine,
    drop_store,
    env_for,
    fresh_dir,
    make_store,
    median,
    note,
    q,
    queuectl_cmd,
    sql,
    store_size_mb,
    wall_ms,
    write_jobs_file,
)

SPAN_S = 7 * 24 * 3600  # the jobs' creation times spread over a week
MIX = "pending 10%, completed ~84%, dead 2.7%, cancelled 1.8%, failed (retry due later) 1.8%, processing 2"


# The fixture: :name marks a parameter (sqlite3's style; turned into psycopg2's for PostgreSQL).
FIXTURE = (
    "UPDATE job SET created_at = :now - (:n - seq) * :step, updated_at = :now - (:n - seq) * :step, "
    "run_at = :now - (:n - seq) * :step, next_attempt_at = :now - (:n - seq) * :step",
    "UPDATE job SET state = CASE WHEN seq % 100 < 3 THEN 'dead' WHEN seq % 100 < 5 THEN 'cancelled' "
    "WHEN seq % 100 < 7 THEN 'failed' ELSE 'completed' END, attempts = CASE WHEN seq % 100 < 3 THEN "
    "4 ELSE 1 END, started_at = created_at + 1, finished_at = created_at + 1.2 + (seq % 13) * 0.1, "
    "updated_at = created_at + 1.2 + (seq % 13) * 0.1, next_attempt_at = NULL, "
    "exit_code = CASE WHEN seq % 100 < 3 OR seq % 100 BETWEEN 5 AND 6 THEN 1 ELSE 0 END, "
    "last_error = CASE WHEN seq % 100 < 3 OR seq % 100 BETWEEN 5 AND 6 THEN 'exited with code 1' "
    "WHEN seq % 100 < 5 THEN 'cancelled' END WHERE seq <= :cut - 2",
    # failed jobs wait for a retry later on; they hold no finish time
    "UPDATE job SET finished_at = NULL, next_attempt_at = :now + 3600 WHERE state = 'failed'",
    "UPDATE job SET state = 'processing', started_at = :now, worker_id = 'bench-ghost', "
    "lease_expires_at = :now + 3600, next_attempt_at = NULL WHERE seq > :cut - 2 AND seq <= :cut",
    "INSERT INTO attempt (job_seq, number, worker_id, host, started_at, finished_at, exit_code, error, "
    "stdout_path, stderr_path) SELECT seq, attempts, 'bench-ghost', 'bench-host', started_at, "
    "finished_at, exit_code, last_error, 'logs/' || id || '/1.out', 'logs/' || id || '/1.err' "
    "FROM job WHERE state <> 'pending'",
)


def _pg_style(statement: str) -> str:
    return re.sub(r":(\w+)", r"%(\1)s", statement.replace("%", "%%"))


def build_store(root: Path, n: int, backend: str = "sqlite", pg: PgServer | None = None) -> tuple[object, dict]:
    """The store of n jobs; the caller drops it (drop_store)."""
    work = fresh_dir(root, f"scale-{backend}-{n}")
    db = make_store(backend, work, f"scale_{n}", pg)
    t = time.perf_counter()
    # explicit ids: the engine's random ids (40 bits) collide within a million jobs about one time
    # in three, and a batch holding a duplicate is refused as a whole
    q(db, "enqueue", "-", input_path=write_jobs_file(work / "jobs.jsonl", n, ids="s"))
    enqueued = time.perf_counter() - t
    (work / "jobs.jsonl").unlink()
    params = {"now": time.time(), "n": n, "step": SPAN_S / n, "cut": int(n * 0.9)}
    if isinstance(db, PgStore):
        con = db.connection()
        with con.cursor() as cur:
            cur.execute("BEGIN")
            for statement in FIXTURE:
                cur.execute(_pg_style(statement), params)
            cur.execute("COMMIT")
            # what autovacuum does to a store in use: the fixture's updates leave a dead row behind
            # each live one, which a fresh store's claims and lists would otherwise wade through
            cur.execute("VACUUM ANALYZE")
    else:
        con = sqlite3.connect(db)
        with con:
            for statement in FIXTURE:
                con.execute(statement, params)
        con.execute("ANALYZE")  # what a store that has been in use for a while may have; the engine never runs it
        con.close()
    counts = dict(sql(db, "SELECT state, count(*) FROM job GROUP BY state"))
    return db, {
        "build_s": time.perf_counter() - t,
        "enqueue_s": enqueued,
        "states": counts,
        "size_mb": store_size_mb(db),
    }


CLI_PROBES = {
    "status": ["status"],
    "list_50": ["list", "--limit", "50"],
    "list_dead": ["list", "--state", "dead"],
    "dlq_list": ["dlq", "list"],
    "metrics": ["metrics"],
}


def tui_probe(db, refreshes: int) -> dict:
    """TUI open time, one Jobs-pane refresh (headless run_test) and peak RSS, in a fresh process.

    Skipped while `queuectl.tui.app` does not exist; a probe that breaks (the dashboard's API
    moved) is reported, not fatal.  The probe itself is tui_probe.py.
    """
    if importlib.util.find_spec("queuectl.tui") is None or importlib.util.find_spec("queuectl.tui.app") is None:
        return {"skipped": "queuectl.tui has no app yet"}
    compile_engine()
    t = time.time()
    proc = subprocess.run(
        [PYTHON, str(BENCH_DIR / "tui_probe.py"), str(db), str(t), str(refreshes)],
        capture_output=True,
        text=True,
        env=as_installed(env_for(db)),
        timeout=120,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(sizes: Sizes, root: Path, backend: str = "sqlite", pg: PgServer | None = None) -> dict:
    out = {"mix": MIX}
    errors = []
    for n in sizes.scale_sizes:
        t = time.perf_counter()
        try:
            db, built = build_store(root, n, backend, pg)
            try:
                note(f"{backend} store of {n:,} jobs built in {built['build_s']:.1f}s ({built['size_mb']:.0f} MB)")
                out[str(n)] = probe_store(db, sizes, built)
            finally:
                drop_store(db)
        except Exception as exc:  # the other sizes' figures are kept
            errors.append(f"{n:,} jobs: {type(exc).__name__}: {exc}")
            note(f"{backend} scale at {n:,} FAILED: {errors[-1]}")
            continue
        out[str(n)]["step_s"] = time.perf_counter() - t
    if errors:
        raise PartialFailure("; ".join(errors), out)
    return out


class PartialFailure(Exception):
    """Some sizes broke: `figures` holds the others'."""

    def __init__(self, text: str, figures: dict):
        super().__init__(text)
        self.figures = figures


def probe_store(db, sizes: Sizes, built: dict) -> dict:
    n = sum(built["states"].values())
    env = as_installed(env_for(db))
    cli = {}
    for key, args in CLI_PROBES.items():
        if not sizes.quick:
            wall_ms(queuectl_cmd() + args, env)  # warm
        cli[key] = median(wall_ms(queuectl_cmd() + args, env) for _ in range(sizes.query_runs))
    inproc = _store_probe(db, sizes, env)
    out = {"build": built, "cli_ms": cli, "store_ms": inproc}
    if isinstance(db, PgStore) and sizes.diagnostics:  # the claim without waiting for the WAL flush
        out["store_ms_async"] = _store_probe(db, sizes, dict(env, PGOPTIONS=ASYNC_COMMIT))
        note(f"{n:,} jobs: claim {inproc['claim']:.2f} ms, {out['store_ms_async']['claim']:.2f} ms with {ASYNC_COMMIT}")
    tui = tui_probe(db, max(3, sizes.query_runs))
    note(f"{n:,} jobs: store ms " + ", ".join(f"{k} {v:.1f}" for k, v in inproc.items()))
    sorts = tui.pop("sort_page_ms", None) if isinstance(tui, dict) else None
    note(f"{n:,} jobs: TUI {tui}")
    if sorts:
        worst = max(sorts, key=sorts.get)
        note(
            f"{n:,} jobs: TUI sorts: {len(sorts)} pages, median {median(sorts.values()):.1f} ms, worst {worst} {sorts[worst]:.1f} ms"
        )
        tui["sort_page_ms"] = sorts
    note(f"{n:,} jobs: CLI ms " + ", ".join(f"{k} {v:.0f}" for k, v in cli.items()))
    out["tui"] = tui
    return out


def _store_probe(db, sizes: Sizes, env: dict) -> dict:
    proc = subprocess.run(
        [PYTHON, str(BENCH_DIR / "scale_probe.py"), str(db), str(sizes.query_runs), str(sizes.claims)],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"scale probe failed: {proc.stderr[-800:]}")
    return json.loads(proc.stdout)
