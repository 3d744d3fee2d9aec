"""What following a chatty job costs the dashboard: the real `queuectl tui` in a pseudo-terminal,
the Logs pane following a job that prints RATE lines a second, each line stamped with the time it
was printed.

    python bench/follow_cost.py                      # 5,000 lines/s for 10 s, 80x24, 3 runs
    python bench/follow_cost.py --rate 20000 --seconds 6 --size 120x40 --runs 1

A worker (its own process, not counted) runs the job; the dashboard opens on it and `f` follows
it.  Everything the dashboard draws is read from the terminal as it comes; the newest stamp drawn
so far is what the screen shows.  Over the window where the job writes (from WARMUP seconds after
the first stamp is drawn, which leaves out opening the pane, to the job's last line):
  worst_age_ms  the oldest the newest line on screen ever got: at each moment, now minus the
                stamp of the newest line drawn (a stall, or a slow poll, shows here); the goal
                is under 200 ms;
  worst_behind_log_ms  the same, counted from when a newer line reached the log file (the
                dashboard's own share: the worker's shipping and the machine's load left out);
  p95_age_ms    the same as worst_age_ms at each redraw, 95th percentile;
  frames        redraws that brought newer lines;
  first_draw_ms from `f` to the first line of the job on screen (opening the pane);
  cpu_pct       the dashboard process's CPU (utime+stime from /proc) over the window, in % of one
                CPU; the goal is under 30%.
Prints one JSON object per run and the medians.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import cpu_seconds, env_for, q, queuectl_cmd, temp_root  # noqa: E402

ESCAPES = re.compile(rb"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78])")
STAMP = re.compile(rb"T(\d{13})\b")

#: the chatty job: RATE lines a second for SECONDS, in batches every 10 ms, each line starting
#: with the wall-clock time (ms) it was printed
JOB = r"""
import sys, time
rate, seconds = int(sys.argv[1]), float(sys.argv[2])
start = time.time(); n = 0; pad = "x" * 50
while True:
    now = time.time()
    if now - start >= seconds:
        break
    due = int((now - start) * rate)
    stamp = int(now * 1000)
    while n < due:
        sys.stdout.write(f"T{stamp} line {n:07d} {pad}\n"); n += 1
    sys.stdout.flush()
    time.sleep(0.01)
"""


def one_run(root: Path, rate: int, seconds: float, cols: int, rows: int, warmup: float) -> dict:
    work = root / f"run-{time.monotonic_ns()}"
    work.mkdir()
    db = work / "q.db"
    script = work / "chatty.py"
    script.write_text(JOB)
    q(db, "add", "--id", "chatty", "--", sys.executable, str(script), str(rate), str(seconds + warmup + 1))
    env = env_for(db)
    worker = subprocess.Popen(
        queuectl_cmd() + ["worker", "start", "--count", "1", "--burst", "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    tui_env = dict(env, TERM="xterm-256color", COLORTERM="truecolor")
    tui_env.pop("NO_COLOR", None)
    tui = subprocess.Popen(
        queuectl_cmd() + ["tui"], stdin=slave, stdout=slave, stderr=slave, env=tui_env, start_new_session=True
    )
    os.close(slave)
    raw = b""
    events: list[tuple[float, int]] = []  # (when read, newest stamp in what was read), ms
    log = {"path": None, "offset": 0, "newest": 0, "since": None, "worst": 0.0, "drawn": 0, "on": False}

    def watch_log(now: float) -> None:
        """The newest line in the attempt's log file, and how long the screen has been behind it
        (what the worker's shipping and the machine's load add is left out of this figure)."""
        if log["path"] is None:
            found = list((work / "logs").rglob("*.stdout"))
            if not found:
                return
            log["path"] = found[0]
        with open(log["path"], "rb") as f:
            f.seek(max(log["offset"], f.seek(0, 2) - 4096))
            data = f.read()
        log["offset"] += len(data)
        stamps = [int(s) for s in STAMP.findall(data[: data.rfind(b"\n") + 1])]
        if stamps and max(stamps) > log["newest"]:
            log["newest"] = max(stamps)
        if log["newest"] > log["drawn"]:
            if log["since"] is None:
                log["since"] = now
            if log["on"]:
                log["worst"] = max(log["worst"], now - log["since"])
        else:
            log["since"] = None

    def pump(timeout: float) -> None:
        nonlocal raw
        watch_log(time.time() * 1000)
        if not select.select([master], [], [], timeout)[0]:
            return
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:
            return
        now = time.time() * 1000
        raw += chunk
        tail = ESCAPES.sub(b"", raw[-len(chunk) - 64 :])  # (a stamp may straddle two reads)
        stamps = [int(s) for s in STAMP.findall(tail)]
        if stamps:
            events.append((now, max(stamps)))
            if max(stamps) > log["drawn"]:
                log["drawn"] = max(stamps)
                if log["newest"] <= log["drawn"]:
                    log["since"] = None
                elif log["since"] is not None:  # behind still, but only since the file got newer
                    log["since"] = now

    try:
        deadline = time.monotonic() + 30
        while b"chatty" not in ESCAPES.sub(b"", raw) and time.monotonic() < deadline:
            pump(0.1)
        os.write(master, b"f")  # follow the selected (only) job in Logs
        start = time.monotonic()
        pressed = time.time() * 1000
        events.clear()  # (the Jobs pane's preview of the job drew stamps too)
        while not events and time.monotonic() - start < 30:
            pump(0.05)
        if not events:
            raise RuntimeError("the dashboard never drew a stamped line")
        first_draw = events[0][0] - pressed
        t0 = events[0][0] + warmup * 1000  # opening the pane (a first read of the log's tail) is not following
        while time.time() * 1000 < t0:
            pump(0.02)
        cpu0, wall0 = cpu_seconds(tui.pid), time.monotonic()
        log["on"], log["worst"] = True, 0.0
        if log["since"] is not None:  # behind at the window's start: counted from there
            log["since"] = time.time() * 1000
        job_end = events[0][1] + (seconds + warmup) * 1000  # (the job writes seconds+warmup+1 s)
        while time.time() * 1000 < job_end:
            pump(0.02)
        cpu1, wall1 = cpu_seconds(tui.pid), time.monotonic()
        log["on"] = False
        t1 = time.time() * 1000
    finally:
        os.write(master, b"\x11")  # ctrl+q
        time.sleep(0.3)
        for proc in (tui, worker):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    window = [(t, s) for t, s in events if t0 <= t <= t1]
    before = [s for t, s in events if t < t0]
    newest = max(before) if before else window[0][1]
    ages, last_t, worst = [], t0, 0.0
    for t, s in window:
        worst = max(worst, t - newest)  # how old the screen was just before this redraw
        if s > newest:
            newest = s
            ages.append(t - s)
        last_t = t
    worst = max(worst, t1 - newest)
    return {
        "rate": rate,
        "size": f"{cols}x{rows}",
        "worst_age_ms": round(worst),
        "worst_behind_log_ms": round(log["worst"]),
        "p95_age_ms": round(statistics.quantiles(ages, n=20)[-1]) if len(ages) >= 2 else None,
        "frames": len(ages),
        "cpu_pct": round(100 * (cpu1 - cpu0) / (wall1 - wall0), 1),
        "first_draw_ms": round(first_draw),
        "window_s": round((t1 - t0) / 1000, 1),
        "screen_idle_at_end_ms": round(t1 - last_t),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=5000, help="lines a second (default 5000)")
    parser.add_argument("--seconds", type=float, default=10, help="how long the job writes (default 10)")
    parser.add_argument("--size", default="80x24", help="terminal size (default 80x24)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=3, help="seconds after the first line drawn (default 3)")
    args = parser.parse_args()
    cols, rows = map(int, args.size.split("x"))
    root = temp_root()
    results = []
    for _ in range(args.runs):
        result = one_run(root, args.rate, args.seconds, cols, rows, args.warmup)
        print(json.dumps(result), flush=True)
        results.append(result)
    summary = {
        key: statistics.median([r[key] for r in results if r[key] is not None] or [None])
        for key in ("worst_age_ms", "worst_behind_log_ms", "p95_age_ms", "cpu_pct", "frames")
    }
    summary["loadavg"] = os.getloadavg()[0]
    print(json.dumps({"median": summary}))


if __name__ == "__main__":
    main()
