"""What output through the store costs on PostgreSQL: silent jobs beside a job that prints 100 MB
in the same worker process, and the store's size against the cap.

    python bench/output_cost.py                 # 400 silent jobs, 4 slots in 1 process, 100 MB, 3 runs
    python bench/output_cost.py --mb 20 --runs 1

Each run makes three fresh databases and drains them with `worker start --count SLOTS --procs 1
--burst` (one process: the chatty job shares its shipping loop with the silent ones):
  alone   JOBS `true` jobs;
  quiet   the same, beside one job that makes MB megabytes (100-byte lines) into /dev/null:
          the same CPU for the job itself on this machine's cores, nothing for the worker to read;
  beside  the same, beside that job printing its MB megabytes, claimed first.
For the silent jobs: throughput from their first start to their last end; beside / quiet is
what the worker's reading, capping and shipping of the output costs them, beside / alone what
they lose in all (on 2 CPUs the chatty pipeline itself takes a core).  For the chatty one: its
run time and the bytes of its output kept in the store (attempt_output, with the table's own
size on disk), against the cap (max_log_bytes per stream).  The variants run in turn in each
run, so the ratios are read side by side on a noisy machine.
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


def drain(
    root: Path, pg: PgServer, name: str, jobs: int, slots: int, chatty_mb: int | None, shown: bool = True
) -> dict:
    work = fresh_dir(root, name)
    db = pg.create(work, name)
    try:
        if chatty_mb:
            command = f"yes {LINE} | head -c {chatty_mb * 10**6}" + ("" if shown else " > /dev/null")
            q(db, "enqueue", json.dumps({"id": "chatty", "command": command, "priority": 10, "timeout": 600}))
        q(db, "enqueue", "-", input_path=write_jobs_file(work / "jobs.jsonl", jobs, ids="t"))
        t = time.perf_counter()
        q(db, "worker", "start", "--count", str(slots), "--procs", "1", "--burst", "--quiet")
        out = {"wall_s": time.perf_counter() - t}
        ((done, first, last),) = db.sql(
            "SELECT count(*), min(started_at), max(finished_at) FROM job WHERE id LIKE 't-%' AND state = 'completed'"
        )
        if done != jobs:
            raise RuntimeError(f"{name}: {done} of {jobs} silent jobs completed")
        out["silent_jobs_per_s"] = jobs / (last - first)
        if chatty_mb:
            ((state, ran),) = db.sql("SELECT state, finished_at - started_at FROM job WHERE id = 'chatty'")
            (kept,) = db.sql(
                "SELECT COALESCE(sum(octet_length(data)), 0), pg_total_relation_size('attempt_output') "
                "FROM attempt_output"
            )
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
            quiet = drain(root, pg, f"quiet_{n}", args.jobs, args.slots, args.mb, shown=False)
            beside = drain(root, pg, f"beside_{n}", args.jobs, args.slots, args.mb)
            rate = {
                name: v["silent_jobs_per_s"] for name, v in (("alone", alone), ("quiet", quiet), ("beside", beside))
            }
            ratio, total = rate["beside"] / rate["quiet"], rate["beside"] / rate["alone"]
            note(
                f"run {n + 1}: silent jobs/s {rate['alone']:.0f} alone, {rate['quiet']:.0f} beside {args.mb} MB into "
                f"/dev/null, {rate['beside']:.0f} beside {args.mb} MB printed ({ratio:.2f}x of quiet, {total:.2f}x of "
                f"alone); chatty {beside['chatty_state']} in {beside['chatty_s']:.1f}s (quiet: {quiet['chatty_s']:.1f}s), "
                f"{beside['kept_bytes'] / 2**20:.1f} MiB kept ({beside['table_bytes'] / 2**20:.1f} MiB on disk)"
            )
            rows.append({"alone": alone, "quiet": quiet, "beside": beside, "ratio": ratio, "ratio_to_alone": total})
    finally:
        shutil.rmtree(root, ignore_errors=True)
    beside = rows[-1]["beside"]
    summary = {
        "runs": rows,
        "median_ratio": statistics.median(r["ratio"] for r in rows),
        "median_ratio_to_alone": statistics.median(r["ratio_to_alone"] for r in rows),
        "kept_mib": beside["kept_bytes"] / 2**20,
        "table_mib": beside["table_bytes"] / 2**20,
        "cap_mib_per_stream": beside["cap_bytes"] / 2**20,
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
