"""queuectl's benchmark, side by side with its peers and this machine's limits: one command.

    python bench/run.py           full run (several minutes; the 1M-job store dominates)
    python bench/run.py --quick   smoke run for CI: small sizes, missing peers skipped, no assertions

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
from common import BENCH_DIR, Sizes, note, temp_root  # noqa: E402

SECTIONS = ("limits", "peers", "drain", "pickup", "enqueue", "startup", "scale")


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


def engine_source() -> dict:
    """Which queuectl code this run measures: where it was imported from, and the repo's state."""
    import subprocess

    import queuectl.cli

    path = Path(queuectl.cli.__file__).resolve().parent
    out = {"path": str(path)}
    git = lambda *a: subprocess.run(["git", "-C", str(BENCH_DIR.parent), *a], capture_output=True, text=True).stdout.strip()  # noqa: E731
    out["repo_head"] = git("rev-parse", "--short", "HEAD")
    if path == BENCH_DIR.parent / "queuectl":
        out["uncommitted"] = git("status", "--porcelain", "--", "queuectl", "tui", "styles").splitlines()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI (no timing is asserted)")
    parser.add_argument("--runs", type=int, help="repeats per throughput figure (default 3, quick 1)")
    parser.add_argument("--only", help=f"comma-separated sections: {','.join(SECTIONS)}")
    parser.add_argument("--scale", help="store sizes for the scale step, e.g. 10000,100000")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/<time>.json)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary stores")
    args = parser.parse_args(argv)

    sizes = Sizes.make(args.quick, args.runs)
    if args.scale:
        sizes.scale_sizes = [int(x) for x in args.scale.split(",")]
    chosen = args.only.split(",") if args.only else list(SECTIONS)
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (stores, workers, tsp) when stopped
    root = temp_root()
    stamp = datetime.now(timezone.utc)
    result: dict = {"meta": {"date": stamp.strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(), "quick": args.quick,
                             "sizes": sizes.__dict__, "section_s": {},
                             "engine": engine_source()}}  # fmt: skip
    steps = {
        "limits": lambda: limits.measure(sizes),
        "peers": lambda: peers.measure(sizes, root),
        "drain": lambda: engine.measure_drain(sizes, root),
        "pickup": lambda: engine.measure_pickup(sizes, root),
        "enqueue": lambda: engine.measure_enqueue(sizes, root),
        "startup": lambda: engine.measure_startup(sizes, root),
        "scale": lambda: scale.measure(sizes, root),
    }
    out_path = args.out or BENCH_DIR / "results" / f"{stamp.strftime('%Y%m%dT%H%M%SZ')}{'-quick' if args.quick else ''}.json"
    failed = []
    try:
        for name in SECTIONS:
            if name not in chosen:
                continue
            note(f"== {name}")
            t = time.perf_counter()
            try:
                result[name] = steps[name]()
            except Exception as exc:  # one broken section must not lose the others' figures
                failed.append(name)
                result[name] = {"error": f"{type(exc).__name__}: {exc}"}
                note(f"{name} FAILED: {type(exc).__name__}: {exc}")
            result["meta"]["section_s"][name] = time.perf_counter() - t
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            note(f"stores kept in {root}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2))
    print(report.render(result))
    note(f"figures written to {out_path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
