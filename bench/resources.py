"""What the claim with resources costs (issue 26): the drain rate of `true` jobs that ask for
nothing, beside the same jobs each asking for one CPU (so that every claim goes through the
fits-filter: the host's row, its open grants, the candidates, a grant per attempt), on a host
offering plenty.  The target: the second costs at most 10% of the first's rate.

    python bench/resources.py [--jobs 1000] [--count 2] [--runs 3] [--backend sqlite,postgres]

Runs are interleaved (plain, asking, plain, asking, ...), as the machine is shared: the medians
of each kind are reported, and the cost is the median of the pairs' costs (each pair ran side by
side), with their range; the rate is jobs / (last end - first claim), read from the store.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    PgServer,
    drop_store,
    fresh_dir,
    make_store,
    note,
    q,
    sql,
    temp_root,
)


def _jobs_file(path: Path, n: int, asking: bool) -> Path:
    line = {"command": "true"}
    if asking:
        line["resources"] = {"cpus": 1}
    path.write_text((json.dumps(line) + "\n") * n)
    return path


def drain_rate(backend: str, root: Path, n: int, count: int, asking: bool, pg) -> float:
    work = fresh_dir(root, f"{backend}-{'asking' if asking else 'plain'}")
    db = make_store(backend, work, "resources", pg)
    try:
        q(db, "init")
        q(db, "enqueue", "-", input_path=_jobs_file(work / "jobs.jsonl", n, asking))
        # plenty to offer: the fits-filter is walked for every claim, and nothing waits for CPUs
        q(db, "worker", "start", "--burst", "--quiet", "--count", str(count), "--cpus", "64")
        first, last, done = sql(
            db, "SELECT MIN(started_at), MAX(finished_at), COUNT(*) FROM job WHERE state = 'completed'"
        )[0]
        if done != n:
            raise RuntimeError(f"{done} of {n} jobs completed")
        return n / (last - first)
    finally:
        drop_store(db)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--count", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", default="sqlite,postgres")
    parser.add_argument("--pg", default=None, help="PostgreSQL admin URL (default: as bench/run.py)")
    args = parser.parse_args(argv)
    root = temp_root()
    results = {}
    for backend in args.backend.split(","):
        pg = None
        if backend == "postgres":
            try:
                pg = PgServer(args.pg) if args.pg else PgServer()
            except Exception as exc:  # (no server, no driver: skipped, as bench/run.py does)
                note(f"postgres skipped: {exc}")
                continue
        plain, asking = [], []
        for _ in range(args.runs):
            plain.append(drain_rate(backend, root, args.jobs, args.count, False, pg))
            asking.append(drain_rate(backend, root, args.jobs, args.count, True, pg))
        # each pair ran side by side: the cost of each pair, then their median and spread
        costs = sorted(1 - a / p for p, a in zip(plain, asking))
        results[backend] = {
            "plain_jobs_per_s": round(statistics.median(plain), 1),
            "asking_jobs_per_s": round(statistics.median(asking), 1),
            "cost": statistics.median(costs),
            "pair_costs": [round(c, 4) for c in costs],
        }
    print(
        f"| backend | asking for nothing (jobs/s) | each asking for a CPU (jobs/s) | cost, median of pairs (range) "
        f"| ({time.strftime('%F %T')})"
    )
    print("|---|---|---|---|")
    for backend, r in results.items():
        spread = f"{100 * r['pair_costs'][0]:.1f}% to {100 * r['pair_costs'][-1]:.1f}%"
        print(f"| {backend} | {r['plain_jobs_per_s']} | {r['asking_jobs_per_s']} | {100 * r['cost']:.1f}% ({spread}) |")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
