"""What output through the store costs on PostgreSQL: silent jobs beside a job that prints 100 MB
in the same worker process, and the store's size against the cap.

    python bench/output_cost.py                 # 400 silent jobs, 4 slots in 1 process, 100 MB, 3 runs
    python bench/output_cost.py --mb 20 --runs 1

Each run makes two fresh databases and drains them with `worker start --count SLOTS --procs 1
--burst` (one process: the chatty job shares its shipping loop with the silent ones):
  alone   JOBS `true` jobs;
  beside  the same, with one job printing MB megabytes (100-byte lines) claimed first.
For the silent jobs: throughput from their first start to their last end.  For the chatty one:
its run time and the bytes of its output kept in the store (attempt_output, with the table's
own size on disk), against the cap (max_log_bytes per stream).  Pairs the two variants in each
run, so the ratio is read side by side on a noisy machine.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PgServer, fresh_dir, note, q, temp_root, write_jobs_file  # noqa: E402

LINE = "0123456789" * 9 + "abcdefghi"  # 99 characters and the newline: 100-byte lines


def drain(root: Path, pg: PgServer, name: str, jobs: int, slots: int, chatty_mb: int | None) -> dict:
    work = fresh_dir(root, name)
    db = pg.create(work, name)
    try:
        if chatty_mb:
            command = f"yes {LINE} | head -c {chatty_mb * 10**6}"
            q(db, "enqueue", json.dumps({"id": "chatty", "command": command, "priority": 10, "timeout": 600}))
        q(db, "enqueue", "-", input_path=write_jobs_file(work / "jobs.jsonl", jobs, ids="t"))
        t = time.perf_counter()
        q(db, "worker", "start", "--count", str(slots), "--procs", "1", "--burst", "--quiet")
        out = {"wall_s": time.perf_counter() - t}
        (done, first, last), = db.sql("SELECT count(*), min(started_at), max(finished_at) FROM job "
                                      "WHERE id LIKE 't-%' AND state = 'completed'")  # fmt: skip
        if done != jobs:
            raise RuntimeError(f"{name}: {done} of {jobs} silent jobs completed")
        out["silent_jobs_per_s"] = jobs / (last - first)
        if chatty_mb:
            (state, ran), = db.sql("SELECT state, finished_at - started_at FROM job WHERE id = 'chatty'")
            kept, = db.sql("SELECT COALESCE(sum(octet_length(data)), 0), pg_total_relation_size('attempt_output') "
                           "FROM attempt_output")  # fmt: skip
            cap = int(q(db, "config", "get", "max_log_bytes").stdout)
            out.update(chatty_state=state, chatty_s=ran, kept_bytes=kept[0], table_bytes=kept[1], cap_bytes=cap)
        return out
    finally:
        db.drop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    pg = PgServer()
    reason = pg.unreachable()
    if reason:
        raise SystemExit(f"PostgreSQL: {reason}")
    root = temp_root()
    rows = []
    try:
        for n in range(args.runs):
            alone = drain(root, pg, f"alone_{n}", args.jobs, args.slots, None)
            beside = drain(root, pg, f"beside_{n}", args.jobs, args.slots, args.mb)
            ratio = beside["silent_jobs_per_s"] / alone["silent_jobs_per_s"]
            note(f"run {n + 1}: silent {alone['silent_jobs_per_s']:.0f} jobs/s alone, {beside['silent_jobs_per_s']:.0f} "
                 f"beside {args.mb} MB ({ratio:.2f}x); chatty {beside['chatty_state']} in {beside['chatty_s']:.1f}s, "
                 f"{beside['kept_bytes'] / 2**20:.1f} MiB kept ({beside['table_bytes'] / 2**20:.1f} MiB on disk)")  # fmt: skip
            rows.append({"alone": alone, "beside": beside, "ratio": ratio})
    finally:
        shutil.rmtree(root, ignore_errors=True)
    beside = rows[-1]["beside"]
    summary = {
        "runs": rows, "median_ratio": statistics.median(r["ratio"] for r in rows),
        "kept_mib": beside["kept_bytes"] / 2**20, "table_mib": beside["table_bytes"] / 2**20,
        "cap_mib_per_stream": beside["cap_bytes"] / 2**20,
    }  # fmt: skip
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
