"""queuectl's benchmark, side by side with its peers and this machine's limits: one command.

    python bench/run.py           full run (several minutes; the 1M-job store dominates)
    python bench/run.py --quick   smoke run for CI: small sizes, missing peers skipped, no assertions
    python bench/run.py --backend sqlite          one backend (default: sqlite,postgres)
    python bench/run.py --engine HEAD             measure a commit's engine, not the working tree

Prints a markdown table on stdout (progress notes go to stderr) and writes every figure as JSON
to bench/results/ (git-ignored).  Timings on shared machines are noisy: each figure is a median
of several runs, and queuectl is judged by ratios to what was measured beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine  # noqa: E402
import limits  # noqa: E402
import peers  # noqa: E402
import report  # noqa: E402
import scale  # noqa: E402
import slots  # noqa: E402
from common import BACKENDS, BENCH_DIR, PgServer, Sizes, note, temp_root  # noqa: E402

SECTIONS = ("limits", "peers", "drain", "pickup", "slots", "enqueue", "startup", "scale")
#: sections measured once per backend (the others do not touch a store)
PER_BACKEND = {"drain", "pickup", "slots", "enqueue", "startup", "scale"}


def machine() -> str:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.node()}: {os.cpu_count()} CPU {cpu}, {mem:.0f} GiB, Linux {platform.release()}, Python {platform.python_version()}"


def snapshot_engine(rev: str, root: Path) -> Path:
    """Export the engine (queuectl, tui, styles) of commit `rev` and put it first on every path.

    tui/ and styles/ go inside the exported queuectl/ (the editable install maps them there), so
    that none of the working tree's engine is imported: this process and every queuectl process
    it starts (through PYTHONPATH) run the commit's code.
    """
    import subprocess

    snap = root / "engine"
    snap.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(BENCH_DIR.parent), "archive", rev, "queuectl", "tui", "styles"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(snap)], input=archive, check=True)
    for sub in ("tui", "styles"):
        if (snap / sub).exists():
            (snap / sub).rename(snap / "queuectl" / sub)
    os.environ["PYTHONPATH"] = str(snap) + (
        os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""
    )
    sys.path.insert(0, str(snap))
    return snap


def engine_source(rev: str | None = None) -> dict:
    """Which queuectl code this run measures: where it was imported from, and the repo's state."""
    import subprocess

    import queuectl.cli

    path = Path(queuectl.cli.__file__).resolve().parent
    out = {"path": str(path)}

    def git(*a):
        return subprocess.run(["git", "-C", str(BENCH_DIR.parent), *a], capture_output=True, text=True).stdout.strip()  # noqa: E731

    out["repo_head"] = git("rev-parse", "--short", "HEAD")
    if rev:
        out["commit"] = git("rev-parse", "--short", rev)
    elif path == BENCH_DIR.parent / "queuectl":
        out["uncommitted"] = git("status", "--porcelain", "--", "queuectl", "tui", "styles").splitlines()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI (no timing is asserted)")
    parser.add_argument("--runs", type=int, help="repeats per throughput figure (default 3, quick 1)")
    parser.add_argument("--only", help=f"comma-separated sections: {','.join(SECTIONS)}")
    parser.add_argument("--scale", help="store sizes for the scale step, e.g. 10000,100000")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/<time>.json)")
    parser.add_argument(
        "--backend",
        default=",".join(BACKENDS),
        help="comma-separated store backends: sqlite,postgres (default both; PostgreSQL is skipped "
        "with a note when its server does not answer)",
    )
    parser.add_argument(
        "--pg",
        help="PostgreSQL server to create the bench's databases on (default "
        "$QUEUECTL_BENCH_PG or postgresql://postgres@127.0.0.1:5432/postgres)",
    )
    parser.add_argument(
        "--engine", metavar="REV", help="measure the engine of this commit (git archive), not the working tree"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary stores")
    args = parser.parse_args(argv)
    if args.out:
        args.out = args.out.resolve()  # before the chdir below
    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    if not backends or set(backends) - set(BACKENDS):
        parser.error(f"--backend takes {' and/or '.join(BACKENDS)}")

    sizes = Sizes.make(args.quick, args.runs)
    if args.scale:
        sizes.scale_sizes = [int(x) for x in args.scale.split(",")]
    chosen = args.only.split(",") if args.only else list(SECTIONS)
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (stores, workers, tsp) when stopped
    root = temp_root()
    # not the repo: `python -m`/`-c` children (the supervisor's workers) put their cwd first on
    # sys.path, which would import the working tree's engine instead of the one measured
    os.chdir(root)
    if args.engine:
        snapshot_engine(args.engine, root)
    stamp = datetime.now(timezone.utc)
    pg = PgServer(args.pg) if args.pg else PgServer()
    skipped = {}
    if "postgres" in backends:
        reason = pg.unreachable()
        if reason:
            skipped["postgres"] = reason
            note(f"PostgreSQL skipped: {reason}")
    result: dict = {
        "meta": {
            "date": stamp.strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "quick": args.quick,
            "sizes": sizes.__dict__,
            "section_s": {},
            "backends": backends,
            "skipped_backends": skipped,
            "postgres": {"server": pg.display, "version": pg.version},
            "load_avg": os.getloadavg(),
            "engine": engine_source(args.engine),
        }
    }
    steps = {
        "limits": lambda b: limits.measure(
            sizes, root, pg if "postgres" in backends and "postgres" not in skipped else None
        ),
        "peers": lambda b: peers.measure(
            sizes, root, pg if "postgres" in backends and "postgres" not in skipped else None
        ),
        "drain": lambda b: engine.measure_drain(sizes, root, b, pg),
        "pickup": lambda b: engine.measure_pickup(sizes, root, b, pg),
        "slots": lambda b: slots.measure(sizes, root, b, pg),
        "enqueue": lambda b: engine.measure_enqueue(sizes, root, b, pg),
        "startup": lambda b: engine.measure_startup(sizes, root, b, pg),
        "scale": lambda b: scale.measure(sizes, root, b, pg),
    }
    out_path = (
        args.out or BENCH_DIR / "results" / f"{stamp.strftime('%Y%m%dT%H%M%SZ')}{'-quick' if args.quick else ''}.json"
    )
    failed = []
    try:
        for name in SECTIONS:
            if name not in chosen:
                continue
            t = time.perf_counter()
            for backend in backends if name in PER_BACKEND else [None]:
                note(f"== {name}" + (f" ({backend})" if backend else ""))
                if backend in skipped:
                    result.setdefault(name, {})[backend] = {"skipped": skipped[backend]}
                    continue
                try:
                    figures = steps[name](backend)
                except Exception as exc:  # one broken section must not lose the others' figures
                    failed.append(f"{name} ({backend})" if backend else name)
                    figures = dict(getattr(exc, "figures", {}), error=f"{type(exc).__name__}: {exc}")
                    note(f"{name}{f' ({backend})' if backend else ''} FAILED: {type(exc).__name__}: {exc}")
                if backend:
                    result.setdefault(name, {})[backend] = figures
                else:
                    result[name] = figures
            result["meta"]["section_s"][name] = time.perf_counter() - t
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            note(f"stores kept in {root}")
    result["meta"]["load_avg_end"] = os.getloadavg()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2))
    print(report.render(result))
    note(f"figures written to {out_path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
