"""The machine's own limits, measured in the same run as everything else."""

from __future__ import annotations

import subprocess
import time

from common import BENCH_DIR, PYTHON, Sizes, drop_store, fresh_dir, median, note


def spawn_rate(total: int, procs: int, mode: str = "raw") -> float:
    """Jobs/s of `total` spawns of `/bin/sh -c true` shared by `procs` Python loops started together."""
    start_at = time.time() + 0.5
    children = [
        subprocess.Popen(
            [PYTHON, str(BENCH_DIR / "spawn_loop.py"), str(total // procs), str(start_at), mode],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(procs)
    ]
    spans = []
    for child in children:
        out, _ = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"spawn loop failed ({child.returncode})")
        spans.append([float(x) for x in out.split()])
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    return (total // procs) * procs / (last - first)


def measure(sizes: Sizes, root=None, pg=None) -> dict:
    """pg: the PostgreSQL server when that backend is measured (its commit latency is one of its limits)."""
    out: dict = {}
    if pg is not None:
        db = pg.create(fresh_dir(root, "pg-commit"), "commit")
        try:
            out["pg_commit_ms"] = db.commit_latency_ms(100 if sizes.quick else 500)
        finally:
            drop_store(db)
        c = out["pg_commit_ms"]
        note(
            f"PostgreSQL commit of one row: p50 {c['sync']['p50']:.2f} ms, p95 {c['sync']['p95']:.2f} ms "
            f"(without the WAL flush: {c['async']['p50']:.2f} / {c['async']['p95']:.2f})"
        )
    for procs in (1, 2, 4):  # 4: beside the 4-worker drains
        rates = [spawn_rate(sizes.raw_jobs, procs) for _ in range(sizes.runs)]
        out[f"raw_{procs}"] = {"jobs_per_s": median(rates), "runs": rates}
        note(f"raw spawn, {procs} process(es): {median(rates):.0f} jobs/s")
    # the runner's way of starting a job (diagnostic: what the engine's spawn costs by itself)
    for mode in ("engine", "engine-no-preexec"):
        rates = [spawn_rate(sizes.raw_jobs, 1, mode) for _ in range(sizes.runs)]
        out[f"{mode}_1"] = {"jobs_per_s": median(rates), "runs": rates}
        note(f"{mode} spawn, 1 process: {median(rates):.0f} jobs/s")
    return out
