"""The worker's own CPU per job, and where it goes (issue 24).

One worker process with one slot (`python -m queuectl.execution.worker --slots 1 --burst`, as the
supervisor starts it) drains N `true` jobs enqueued up front.  Measured inside that process,
around its main loop only (start-up and shutdown left out):

- whole-process CPU (getrusage RUSAGE_SELF: user + system, every thread), and the CPU of the
  jobs it reaped (RUSAGE_CHILDREN: `/bin/sh -c true` itself), and its guard's (/proc);
- PostgreSQL: the server's CPU over the whole worker process (every `postgres` process of the
  machine, from /proc, with the backends that ended meanwhile through the postmaster's children
  times: the worker's backends, WAL writer, checkpointer and autovacuum together; the worker's
  start-up and shutdown included, so it is an upper bound);
- in a second, profiled run: cProfile with a CPU clock (time.process_time, so blocking in
  select() or in the exec handshake costs nothing), each function's own time attributed to the
  part of the job's life it serves (the nearest caller that is one of PARTS, split between
  callers in proportion).  cProfile slows the process down, so the table shows each part's
  share of the profiled run times the unprofiled run's CPU per job.

The machine is shared: only CPU time is reported, never wall time.  `--engines A,B` measures
several commits' engines (git archive, as run.py --engine; `.` is the working tree), runs
interleaved A B A B, medians per engine.

    python bench/profile_worker.py                       # SQLite, 2,000 jobs, 3 runs
    python bench/profile_worker.py --backend postgres
    python bench/profile_worker.py --engines HEAD~1,. --runs 5 --no-profile
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from common import (
    BENCH_DIR,
    PYTHON,
    PgServer,
    drop_store,
    env_for,
    fresh_dir,
    make_store,
    median,
    note,
    q,
    temp_root,
    write_jobs_file,
)

#: part -> the functions (module file suffix, function name) whose time, and that of everything
#: they call that is not another part, is that part's.  Order: how the table lists them.
PARTS = {
    "claim (SQL)": [("store/claims.py", "_claim")],
    "record: job + attempt rows (SQL, counters by triggers)": [("store/claims.py", "_finish")],
    "transaction (begin, commit, wake-ups)": [("store/claims.py", "finish_batch")],
    "log shipping": [("logship.py", "ship_ended"), ("logship.py", "ship"), ("logship.py", "due_in")],
    "spool files (paths, open, close)": [
        ("store/logfiles.py", "attempt_paths"),
        ("runner.py", "_open"),
        ("runner.py", "write"),
        ("runner.py", "__init__:_CappedLog"),
    ],
    "marker pipe": [
        ("reaper.py", "__init__:Marker"),
        ("reaper.py", "handed_over"),
        ("reaper.py", "held"),
        ("reaper.py", "close:Marker"),
    ],
    "pidfd": [("runner.py", "_exit_fd")],
    "guard records": [("runner.py", "watch"), ("runner.py", "release")],
    "spawn (subprocess.Popen)": [("subprocess.py", "__init__")],
    "job environment (dict)": [("worker.py", "_start")],
    "Running setup / close (rest)": [("runner.py", "__init__:Running"), ("runner.py", "close:Running")],
    "selector (register, select, unregister)": [("runner.py", "add"), ("runner.py", "wait")],
    "pipe reads": [("runner.py", "readable")],
    "exit check (poll, waitpid)": [("runner.py", "check"), ("runner.py", "next_check")],
    "sweep (orphans: /proc children)": [("runner.py", "_sweep")],
    "hooks": [("hooks.py", "job_ended")],
    "progress lines": [("worker.py", "_report"), ("worker.py", "say")],
    "store-file check (stat)": [("store/connection.py", "store_file_changed")],
    "heartbeat, chores": [("worker.py", "_chores")],
    "burst check, next due": [("store/jobs.py", "has_burst_work"), ("worker.py", "_next_look_in")],
    "worker loop (rest)": [("worker.py", "_loop")],
}


# -- the worker process ----------------------------------------------------------------------
def child(out_path: str, profile: bool) -> None:
    """Run one worker like the supervisor does, measuring its main loop; JSON to out_path."""
    import cProfile
    import resource

    from queuectl.execution import worker
    from queuectl.store.drivers import import_peewee_without_drivers

    if "QUEUECTL_DB" in os.environ and "://" not in os.environ["QUEUECTL_DB"]:
        import_peewee_without_drivers()
    result: dict = {}
    loop = worker.Worker._loop

    def measured_loop(self) -> None:
        profiler = cProfile.Profile(time.process_time) if profile else None
        self_0, kids_0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        if profiler:
            profiler.enable()
        try:
            loop(self)
        finally:
            if profiler:
                profiler.disable()
            self_1, kids_1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
            result["self_cpu"] = (self_1.ru_utime - self_0.ru_utime) + (self_1.ru_stime - self_0.ru_stime)
            result["self_user"] = self_1.ru_utime - self_0.ru_utime
            result["jobs_cpu"] = (kids_1.ru_utime - kids_0.ru_utime) + (kids_1.ru_stime - kids_0.ru_stime)
            with open(f"/proc/{self.guard.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            result["guard_cpu"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            if profiler:
                result["parts"] = attribute(profiler)
                result["top"] = top_functions(profiler)

    worker.Worker._loop = measured_loop
    worker_id = f"{worker.host_id()}.{os.getpid()}.bench0"
    os.environ["QUEUECTL_WORKER_ID"] = worker_id
    code = worker.main(["--id", worker_id, "--slots", "1", "--burst", "--quiet"])
    if code:
        raise SystemExit(f"worker exited {code}")
    Path(out_path).write_text(json.dumps(result))


def _part_of(func: tuple) -> str | None:
    filename, _line, name = func
    for part, roots in PARTS.items():
        for suffix, root in roots:
            root_name, _, cls = root.partition(":")
            if name == root_name and filename.endswith(suffix) and (not cls or _defines(filename, cls, _line)):
                return part
    return None


def _defines(filename: str, cls: str, line: int) -> bool:
    """Whether the function at `line` of `filename` belongs to class `cls` (the nearest class
    statement above it)."""
    try:
        lines = Path(filename).read_text().splitlines()[:line]
    except OSError:
        return False
    for text in reversed(lines):
        if text.startswith("class "):
            return text.startswith(f"class {cls}")
    return False


def attribute(profiler) -> dict:
    """Each function's own CPU time, given to the nearest caller that is a part (split between
    callers by the time that went through each); seconds per part."""
    import pstats

    stats = pstats.Stats(profiler).stats  # func -> (cc, nc, tt, ct, callers)
    memo: dict = {}

    def shares(func, seen=frozenset()) -> dict:
        if func in memo:
            return memo[func]
        part = _part_of(func)
        if part is not None:
            result = {part: 1.0}
        else:
            _cc, nc, _tt, ct, callers = stats[func]
            result = {}
            total = sum(edge[3] for caller, edge in callers.items() if caller not in seen) or 0.0
            for caller, edge in callers.items():
                if caller in seen or caller not in stats:
                    continue
                weight = edge[3] / total if total else 1.0 / len(callers)
                for p, s in shares(caller, seen | {func}).items():
                    result[p] = result.get(p, 0.0) + weight * s
            if not result:
                result = {"worker loop (rest)": 1.0}
        memo[func] = result
        return result

    seconds: dict = {}
    for func, (_cc, _nc, tt, _ct, _callers) in stats.items():
        for part, share in shares(func).items():
            seconds[part] = seconds.get(part, 0.0) + tt * share
    return seconds


def top_functions(profiler, n: int = 25) -> list:
    import pstats

    stats = pstats.Stats(profiler).stats
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:n]
    return [[f"{Path(f).name}:{line}({name})", nc, tt] for (f, line, name), (_cc, nc, tt, _ct, _c) in rows]


# -- the bench side --------------------------------------------------------------------------
def export_engine(rev: str, root: Path) -> Path | None:
    """The commit's queuectl/ (git archive) in root; None for the working tree ('.')."""
    if rev == ".":
        return None
    snap = root / f"engine-{rev.replace('/', '_')}"
    if not snap.exists():
        snap.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(BENCH_DIR.parent), "archive", rev, "queuectl"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(snap)], input=archive, check=True)
    return snap


def one_run(root: Path, backend: str, pg, jobs: int, engine: Path | None, profile: bool, tag: str) -> dict:
    work = fresh_dir(root, f"run-{tag}")
    db = make_store(backend, work, f"prof_{tag}", pg)
    try:
        q(db, "enqueue", "-", input_path=write_jobs_file(work / "jobs.jsonl", jobs))
        env = env_for(db)
        if engine is not None:
            env["PYTHONPATH"] = str(engine)
        out = work / "result.json"
        server_0 = _postgres_cpu() if backend == "postgres" else 0.0
        subprocess.run(
            [PYTHON, str(Path(__file__).resolve()), "--child", str(out)] + ["--profile"] * profile,
            env=env,
            cwd=work,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        result = json.loads(out.read_text())
        if backend == "postgres":
            result["server_cpu"] = _postgres_cpu() - server_0
    finally:
        drop_store(db)
    return result


def _postgres_cpu() -> float:
    """The server's CPU so far: every process of this machine named postgres, its own utime +
    stime and its reaped children's (a backend is gone once its connection closes: its CPU is
    then in the postmaster's cutime + cstime)."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        total += sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


def spawn_floor(n: int) -> dict:
    """What spawning and reaping `/bin/sh -c true` costs by itself: the spawning process's CPU
    and the child's, per spawn (subprocess.run in a loop, in a fresh process)."""
    code = (
        "import resource, subprocess, sys\n"
        "s0, c0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "for _ in range(int(sys.argv[1])): subprocess.run(['/bin/sh', '-c', 'true'])\n"
        "s1, c1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(s1.ru_utime - s0.ru_utime + s1.ru_stime - s0.ru_stime, "
        "c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime)"
    )
    out = subprocess.run([PYTHON, "-c", code, str(n)], capture_output=True, text=True, check=True).stdout
    parent, kids = (float(x) for x in out.split())
    return {"parent_ms": 1000 * parent / n, "child_ms": 1000 * kids / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", metavar="OUT", help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3, help="unprofiled runs per engine (whole-process CPU)")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled run (CPU totals only)")
    parser.add_argument("--engines", default=".", help="commits to compare, comma-separated ('.': working tree)")
    parser.add_argument("--json", metavar="PATH", help="also write every figure here")
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.profile)

    pg = None
    if args.backend == "postgres":
        pg = PgServer()
        reason = pg.unreachable()
        if reason:
            raise SystemExit(f"PostgreSQL: {reason}")
    root = temp_root()
    try:
        engines = args.engines.split(",")
        paths = {rev: export_engine(rev, root) for rev in engines}
        runs: dict = {rev: [] for rev in engines}
        profiles: dict = {}
        note(f"load average {os.getloadavg()[0]:.2f}")
        floor = spawn_floor(args.jobs)
        for i in range(args.runs):  # interleaved: A B A B ...
            for rev in engines:
                r = one_run(root, args.backend, pg, args.jobs, paths[rev], False, f"{i}")
                runs[rev].append(r)
                note(
                    f"{rev} run {i + 1}: worker {1000 * r['self_cpu'] / args.jobs:.3f} ms/job, "
                    f"jobs {1000 * r['jobs_cpu'] / args.jobs:.3f} ms/job"
                )
        if not args.no_profile:
            for rev in engines:
                profiles[rev] = one_run(root, args.backend, pg, args.jobs, paths[rev], True, "prof")
        note(f"load average {os.getloadavg()[0]:.2f}")
        report(args, engines, runs, profiles, floor)
        if args.json:
            Path(args.json).write_text(json.dumps({"runs": runs, "profiles": profiles, "floor": floor}, indent=1))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def report(args, engines, runs, profiles, floor) -> None:
    n = args.jobs
    kinds = ("self_cpu", "jobs_cpu", "guard_cpu") + (("server_cpu",) if args.backend == "postgres" else ())
    per_job = {rev: {k: 1000 * median(r[k] for r in runs[rev]) / n for k in kinds} for rev in engines}
    server = args.backend == "postgres"
    print(
        f"### Worker CPU per job: {args.backend}, {n:,} `true`, one worker process, one slot (median of {args.runs})\n"
    )
    # the jobs' own CPU moves with the machine's load as the worker's does: the ratio of the two,
    # run by run, is steadier than either
    print(
        "| engine | worker (ms/job) | its guard | the jobs (`/bin/sh -c true`, ms/job) | worker ÷ jobs "
        + "| the server (ms/job) " * server
        + "| runs (worker ms/job) |"
    )
    print("|---|---:|---:|---:|---:|" + "---:|" * server + "---|")
    for rev in engines:
        p = per_job[rev]
        ratio = median(r["self_cpu"] / r["jobs_cpu"] for r in runs[rev])
        each = ", ".join(f"{1000 * r['self_cpu'] / n:.3f}" for r in runs[rev])
        also = f" {p['server_cpu']:.3f} |" if server else ""
        print(
            f"| {rev} | {p['self_cpu']:.3f} | {p['guard_cpu']:.3f} | {p['jobs_cpu']:.3f} | {ratio:.2f} |{also} {each} |"
        )
    print(
        f"| `subprocess.run(['/bin/sh','-c','true'])` loop | {floor['parent_ms']:.3f} (the spawner) | — | "
        f"{floor['child_ms']:.3f} | {floor['parent_ms'] / floor['child_ms']:.2f} |" + " — |" * server + " |"
    )
    for rev, prof in profiles.items():
        total = sum(prof["parts"].values())
        scale = per_job[rev]["self_cpu"]
        print(
            f"\n#### Where the worker's CPU goes ({rev}): cProfile on a CPU clock, shares of the profiled run "
            f"({1000 * prof['self_cpu'] / n:.3f} ms/job under the profiler), times the unprofiled "
            f"{scale:.3f} ms/job\n"
        )
        print("| part | share | ms/job |")
        print("|---|---:|---:|")
        order = list(PARTS) + sorted(set(prof["parts"]) - set(PARTS))
        for part in order:
            s = prof["parts"].get(part, 0.0) / total if total else 0.0
            print(f"| {part} | {100 * s:.1f}% | {s * scale:.3f} |")
        print("\nFunctions by own CPU time (profiled run):\n")
        print("| function | calls | own ms/job |")
        print("|---|---:|---:|")
        for name, calls, tt in prof["top"][:15]:
            print(f"| `{name}` | {calls} | {1000 * tt / n:.3f} |")


if __name__ == "__main__":
    main()
