"""The long form of the crash-at-any-moment test: many rounds of many jobs under a chaos loop.

    python bench/chaos.py                       # 20 rounds of 2,000 jobs (the issue's bar)
    python bench/chaos.py --rounds 3 --jobs 300 # a quicker look
    python bench/chaos.py --freeze 3            # also freeze workers past their lease (fencing)

Each round: a fresh store, N jobs, several `queuectl worker start` supervisors, and a loop that
SIGKILLs random workers, job processes, supervisors and whole process trees, and stops
supervisors with one or two SIGTERMs, restarting them, until every job has completed.  Then
tests/reliability/harness.py `verify` checks that nothing was lost, that every duplicate run is
explained by a kill that hit it in flight, that no two runs of a job overlapped, and that the
store is intact.  Prints one line per round and a summary; exits 1 if any round found a problem.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "reliability"))

import harness  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--supervisors", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="worker processes per supervisor")
    parser.add_argument("--slots", type=int, default=3, help="job slots per worker process")
    parser.add_argument("--seed", type=int, default=None, help="seed of round 1 (round n uses seed + n - 1)")
    parser.add_argument(
        "--freeze",
        type=int,
        default=0,
        metavar="WEIGHT",
        help="also SIGSTOP workers past their lease (weight among the kills, e.g. 3)",
    )
    parser.add_argument("--keep", action="store_true", help="keep each round's folder (store, logs, run file)")
    parser.add_argument("--json", dest="json_out", metavar="FILE", help="also write the figures here")
    args = parser.parse_args(argv)

    seed = args.seed if args.seed is not None else int(time.time())
    totals = Counter()
    kills = Counter()
    reasons = Counter()
    failures = []
    rounds = []
    started = time.monotonic()
    for n in range(1, args.rounds + 1):
        work = Path(tempfile.mkdtemp(prefix=f"queuectl-chaos-{n}-"))
        cfg = harness.Config(
            jobs=args.jobs,
            supervisors=args.supervisors,
            workers=args.workers,
            slots=args.slots,
            seed=seed + n - 1,
            timeout=max(300.0, args.jobs * 0.5),
        )
        if args.freeze:
            cfg.actions["freeze_worker"] = args.freeze
        t0 = time.monotonic()
        chaos = harness.Chaos(work, cfg, log=lambda s: print(s, flush=True))
        try:
            chaos.run()
            report = harness.verify(chaos)
        except Exception as exc:  # a round that did not finish is a failed round, not the end
            chaos.shutdown()
            report = harness.Report(
                args.jobs, 0, Counter(k.kind for k in chaos.kills), 0, Counter(), 0, 0, [f"{type(exc).__name__}: {exc}"]
            )
        took = time.monotonic() - t0
        print(f"round {n}/{args.rounds} (seed {cfg.seed}, {took:.0f}s): {report.summary()}", flush=True)
        for problem in report.problems[:20]:
            print(f"    {problem}", flush=True)
        if report.problems:
            failures.append((n, cfg.seed, report.problems, str(work)))
        elif not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        totals.update(
            jobs=report.jobs,
            runs=report.runs,
            duplicates=report.duplicates,
            failed_attempts=report.failed_attempts,
            raced=report.raced,
        )
        kills.update(report.kills)
        reasons.update(report.duplicate_reasons)
        rounds.append(
            {
                "round": n,
                "seed": cfg.seed,
                "seconds": round(took, 1),
                "jobs": report.jobs,
                "runs": report.runs,
                "kills": dict(report.kills),
                "duplicates": report.duplicates,
                "duplicate_reasons": dict(report.duplicate_reasons),
                "problems": report.problems,
            }
        )

    elapsed = time.monotonic() - started
    print()
    print(f"chaos: {args.rounds} rounds in {elapsed / 60:.1f} min, {len(failures)} with problems")
    print(f"  jobs run:        {totals['jobs']:,} (every one completed: {'yes' if not failures else 'NO'})")
    print(f"  runs:            {totals['runs']:,}")
    print(f"  kills survived:  {sum(kills.values()):,} ({', '.join(f'{k} {v}' for k, v in sorted(kills.items()))})")
    print(
        f"  duplicates:      {totals['duplicates']:,} jobs ran more than once, each because a kill hit it in "
        f"flight ({', '.join(f'{v} {k}' for k, v in reasons.most_common()) or 'none'})"
    )
    print(f"  failed attempts: {totals['failed_attempts']:,}, every one explained by a kill")
    print(f"  raced kills:     {totals['raced']:,} (the run had finished as its kill landed; not rerun)")
    for n, seed_n, problems, folder in failures:
        print(f"  round {n} (seed {seed_n}) kept in {folder}: {problems[0]}")
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps(
                {"rounds": rounds, "totals": dict(totals), "kills": dict(kills), "duplicate_reasons": dict(reasons)},
                indent=2,
            )
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
