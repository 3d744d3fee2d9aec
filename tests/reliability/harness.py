"""The crash-at-any-moment experiment, shared by the short form (tests/reliability) and the long
form (`python bench/chaos.py`).

N jobs run under several `queuectl worker start` supervisors while a chaos loop SIGKILLs random
workers, job processes, supervisors and whole process trees (and stops supervisors with one or
two SIGTERMs), restarting supervisors as it goes.  Each job appends `ID ATTEMPT s|e TIME` lines to
one file and holds a per-job `flock` while it runs, so a second run of a job that starts while an
earlier one is still alive is caught by the job itself, whatever the timestamps say.

At the end, `verify` checks: every job completed; every id ran (start and end) at least once;
every run that was not a job's last, and every failed attempt in the store, is explained by a
kill that hit that very worker or job process while the attempt was open; every run that a kill
hit while in flight failed (or had already finished before the kill landed); no two runs of one
job overlapped; the store passes `storecheck` (integrity_check and the engine's invariants); no
process is left behind; no traceback in any supervisor's output.
"""

from __future__ import annotations

import bisect
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from queuectl.execution.fence import FRACTION as FENCE_FRACTION

try:
    from . import storecheck
except ImportError:  # run as a plain module (bench/chaos.py)
    import storecheck  # type: ignore[no-redef]

PYTHON = sys.executable


@dataclass
class Config:
    jobs: int = 200
    supervisors: int = 2
    workers: int = 2  # worker processes per supervisor
    slots: int = 3  # job slots per worker process
    job_seconds: tuple[float, float] = (0.02, 0.3)
    kill_every: tuple[float, float] = (0.15, 0.5)
    lease_seconds: float = 3
    timeout: float = 240.0
    #: strike only this long, then let the jobs drain (None: until every job completed); a
    #: bound keeps a test's length independent of how fast a loaded machine drains under fire
    chaos_seconds: float | None = None
    seed: int | None = None
    #: relative weights of the chaos actions
    actions: dict = field(
        default_factory=lambda: {
            "kill_worker": 5,
            "kill_job": 5,
            "kill_supervisor": 1,
            "kill_tree": 1,
            "term_supervisor": 1,
            "hard_stop": 1,
        }
    )
    #: how long freeze_worker (SIGSTOP, then SIGCONT) holds a worker: past its lease, so that
    #: its job is fenced by its guard and taken over by another worker
    freeze_seconds: float = 10.0


@dataclass
class Kill:
    t: float  # just after the signal was sent
    kind: str
    pid: int
    workers: list[str]  # worker ids that this kill ends (hard or graceful)
    inflight: list[tuple[str, int]]  # (job id, attempt) whose process ran at the kill


@dataclass
class Proc:
    pid: int
    ppid: int
    argv: list[str]
    env: dict[str, str]


def snapshot(db: str) -> dict[int, Proc]:
    """Every process that belongs to the store at `db` (by its QUEUECTL_DB)."""
    procs = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                raw = f.read()
            if f"QUEUECTL_DB={db}".encode() not in raw:
                continue
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        rest = stat.rsplit(")", 1)[1].split()
        if rest[0] == "Z":
            continue
        env = dict(kv.decode(errors="replace").split("=", 1) for kv in raw.split(b"\0") if b"=" in kv)
        env = {k: v for k, v in env.items() if k.startswith("QUEUECTL_")}
        procs[int(name)] = Proc(int(name), int(rest[1]), argv, env)
    return procs


def _arg(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv and argv.index(flag) + 1 < len(argv) else None


def is_worker(p: Proc) -> bool:
    return "queuectl.execution.worker" in p.argv


def is_guard(p: Proc) -> bool:
    return "queuectl.execution.guard" in p.argv


def is_job_shell(p: Proc, procs: dict[int, Proc]) -> bool:
    parent = procs.get(p.ppid)
    return "QUEUECTL_JOB_ID" in p.env and parent is not None and is_worker(parent)


def job_command(work: Path, seconds: float) -> str:
    """Append start and end lines; hold the job's lock for the whole run (an overlap is logged)."""
    locks, runs, over = work / "locks", work / "runs.log", work / "overlaps.log"
    me = '"$QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT'
    return (
        f'exec 9>>{locks}/$QUEUECTL_JOB_ID; flock -n 9 || echo {me}" >>{over}; '
        f'echo {me} s $(date +%s.%N)" >>{runs}; sleep {seconds:.3f}; echo {me} e $(date +%s.%N)" >>{runs}'
    )


class Chaos:
    def __init__(self, work: Path, config: Config, log=print):
        self.work = work
        self.cfg = config
        self.log = log
        self.db = str(work / "queuectl.db")
        self.env = dict(os.environ, QUEUECTL_DB=self.db)
        self.env.pop("QUEUECTL_LOGS", None)
        self.env.pop("QUEUECTL_HOST_ID", None)
        self.rng = random.Random(config.seed)
        self.sups: list[subprocess.Popen] = []
        self.all_sups: list[subprocess.Popen] = []
        self.stopping: list[subprocess.Popen] = []  # asked to stop gracefully; replaced once gone
        self.restart_at: list[float] = []
        self.kills: list[Kill] = []
        self.failed_attempts_seen = 0
        self.thaw_at: list[tuple[float, int]] = []  # (when, pid) of frozen workers

    # -- set-up --------------------------------------------------------------------------------
    def qctl(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [PYTHON, "-m", "queuectl", *args], input=input, capture_output=True, text=True, env=self.env, timeout=120
        )
        if result.returncode != 0:
            raise RuntimeError(f"queuectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def prepare(self) -> None:
        (self.work / "locks").mkdir(parents=True, exist_ok=True)
        self.qctl("config", "set", "max_backoff", "0")
        self.qctl("config", "set", "lease_seconds", str(self.cfg.lease_seconds))
        lo, hi = self.cfg.job_seconds
        lines = [
            json.dumps(
                {"id": f"c{i:05d}", "command": job_command(self.work, self.rng.uniform(lo, hi)), "max_retries": 1000}
            )
            for i in range(self.cfg.jobs)
        ]
        self.qctl("enqueue", "-", input="\n".join(lines) + "\n")

    def start_supervisor(self) -> None:
        n = len(self.all_sups)
        out = open(self.work / f"supervisor-{n}.out", "w")
        slots = str(self.cfg.workers * self.cfg.slots)
        proc = subprocess.Popen(
            [PYTHON, "-m", "queuectl", "worker", "start", "--count", slots, "--procs", str(self.cfg.workers)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )
        out.close()
        self.sups.append(proc)
        self.all_sups.append(proc)

    # -- the chaos loop ------------------------------------------------------------------------
    def completed(self) -> int:
        return storecheck.state_counts(self.db).get("completed", 0)

    def run(self) -> None:
        self.prepare()
        for _ in range(self.cfg.supervisors):
            self.start_supervisor()
        deadline = time.monotonic() + self.cfg.timeout
        ceasefire = math.inf if self.cfg.chaos_seconds is None else time.monotonic() + self.cfg.chaos_seconds
        next_kill = time.monotonic() + self.rng.uniform(*self.cfg.kill_every)
        last_report = time.monotonic()
        while self.completed() < self.cfg.jobs:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"not done after {self.cfg.timeout}s: {storecheck.state_counts(self.db)}; "
                    f"kills: {Counter(k.kind for k in self.kills)}\n{self.tails()}"
                )
            self._keep_supervisors()
            self._thaw(due_only=True)
            if time.monotonic() >= next_kill and time.monotonic() < ceasefire:
                self.strike()
                next_kill = time.monotonic() + self.rng.uniform(*self.cfg.kill_every)
            if time.monotonic() - last_report > 10:
                last_report = time.monotonic()
                self.log(f"  ... {storecheck.state_counts(self.db)}, {len(self.kills)} kills")
            time.sleep(0.02)
        self.shutdown()

    def _keep_supervisors(self) -> None:
        for proc in list(self.stopping):
            if proc.poll() is not None:
                self.stopping.remove(proc)
                self.restart_at.append(time.monotonic() + self.rng.uniform(0, 0.5))
        now = time.monotonic()
        for at in [a for a in self.restart_at if a <= now]:
            self.restart_at.remove(at)
            self.start_supervisor()

    def strike(self) -> None:
        kinds, weights = zip(*self.cfg.actions.items())
        getattr(self, "_" + self.rng.choices(kinds, weights)[0])(snapshot(self.db))

    def _record(self, kind: str, pid: int, workers: list[Proc], procs: dict[int, Proc]) -> None:
        ids = [_arg(w.argv, "--id") for w in workers]
        inflight = [
            (p.env["QUEUECTL_JOB_ID"], int(p.env["QUEUECTL_ATTEMPT"]))
            for p in procs.values()
            if is_job_shell(p, procs) and p.ppid in {w.pid for w in workers}
        ]
        self.kills.append(Kill(time.time(), kind, pid, ids, inflight))

    def _live_sup(self) -> subprocess.Popen | None:
        live = [s for s in self.sups if s.poll() is None]
        return self.rng.choice(live) if live else None

    def _kill_worker(self, procs) -> None:
        # (not a worker's child between fork and exec: it still looks like its worker)
        workers = [p for p in procs.values() if is_worker(p) and not (p.ppid in procs and is_worker(procs[p.ppid]))]
        if workers:
            w = self.rng.choice(workers)
            _kill(w.pid)
            self._record("kill_worker", w.pid, [w], procs)

    def _freeze_worker(self, procs) -> None:
        """SIGSTOP a worker past its lease (SIGCONT later): a frozen worker cannot stop its job,
        so its guard must, before another worker takes the job over."""
        frozen = {pid for _, pid in self.thaw_at}
        workers = [
            p
            for p in procs.values()
            if is_worker(p) and p.pid not in frozen and not (p.ppid in procs and is_worker(procs[p.ppid]))
        ]
        if workers:
            w = self.rng.choice(workers)
            try:
                os.kill(w.pid, signal.SIGSTOP)
            except ProcessLookupError:
                return
            self._record("freeze_worker", w.pid, [w], procs)
            self.thaw_at.append((time.monotonic() + self.cfg.freeze_seconds, w.pid))

    def _thaw(self, due_only: bool) -> None:
        for at, pid in list(self.thaw_at):
            if not due_only or at <= time.monotonic():
                self.thaw_at.remove((at, pid))
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass

    def _kill_job(self, procs) -> None:
        shells = [p for p in procs.values() if is_job_shell(p, procs)]
        if shells:
            p = self.rng.choice(shells)
            _kill(p.pid)
            self.kills.append(
                Kill(time.time(), "kill_job", p.pid, [], [(p.env["QUEUECTL_JOB_ID"], int(p.env["QUEUECTL_ATTEMPT"]))])
            )

    def _children(self, procs, pid: int) -> list[Proc]:
        return [p for p in procs.values() if p.ppid == pid and is_worker(p)]

    def _kill_supervisor(self, procs) -> None:
        """SIGKILL a supervisor alone: its workers are told to finish their job and exit."""
        sup = self._live_sup()
        if sup:
            _kill(sup.pid)
            sup.wait()
            self.sups.remove(sup)
            self.kills.append(Kill(time.time(), "kill_supervisor", sup.pid, [], []))
            self.restart_at.append(time.monotonic() + self.rng.uniform(0, 0.5))

    def _kill_tree(self, procs) -> None:
        """SIGKILL a supervisor, its workers, their guards and their jobs, as a power cut would."""
        sup = self._live_sup()
        if not sup:
            return
        workers = self._children(procs, sup.pid)
        wpids = {w.pid for w in workers}
        rest = [p.pid for p in procs.values() if p.ppid in wpids]  # guards and job shells
        for pid in [sup.pid, *wpids, *rest]:
            _kill(pid)
        for pid in rest:  # what the job shells had started (their process groups)
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        sup.wait()
        self.sups.remove(sup)
        self._record("kill_tree", sup.pid, workers, procs)
        self.restart_at.append(time.monotonic() + self.rng.uniform(0, 1.0))

    def _term_supervisor(self, procs) -> None:
        sup = self._live_sup()
        if sup:
            sup.send_signal(signal.SIGTERM)
            self.sups.remove(sup)
            self.stopping.append(sup)
            self.kills.append(Kill(time.time(), "term_supervisor", sup.pid, [], []))

    def _hard_stop(self, procs) -> None:
        """Two SIGTERMs: running jobs are killed and their attempts recorded as failed."""
        sup = self._live_sup()
        if not sup:
            return
        sup.send_signal(signal.SIGTERM)
        time.sleep(0.05)
        sup.send_signal(signal.SIGTERM)
        self.sups.remove(sup)
        self.stopping.append(sup)
        self._record("hard_stop", sup.pid, self._children(procs, sup.pid), procs)

    # -- the end -------------------------------------------------------------------------------
    def save_kills(self) -> None:
        """The kill log beside the store, for a post-mortem of a failed round."""
        with open(self.work / "kills.log", "w") as f:
            for k in self.kills:
                f.write(
                    json.dumps({"t": k.t, "kind": k.kind, "pid": k.pid, "workers": k.workers, "inflight": k.inflight})
                    + "\n"
                )

    def shutdown(self) -> None:
        self._thaw(due_only=False)
        self.save_kills()
        for sup in self.sups + self.stopping:
            if sup.poll() is None:
                sup.send_signal(signal.SIGTERM)
        for sup in self.sups + self.stopping:
            sup.wait(60)
        self.sups, self.stopping = [], []
        deadline = time.monotonic() + 15
        while snapshot(self.db) and time.monotonic() < deadline:
            time.sleep(0.1)
        # a last start on this host finds the workers a kill left registered and forgets them
        self.final_start = subprocess.run(
            [PYTHON, "-m", "queuectl", "worker", "start", "--burst", "--quiet"],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )
        self.final_status = subprocess.run(
            [PYTHON, "-m", "queuectl", "status", "--json"], capture_output=True, text=True, env=self.env, timeout=60
        )

    def tails(self) -> str:
        out = []
        for path in sorted(self.work.glob("supervisor-*.out")):
            lines = path.read_text(errors="replace").splitlines()
            if lines:
                out.append(f"--- {path.name}\n" + "\n".join(lines[-15:]))
        return "\n".join(out)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# -- verification --------------------------------------------------------------------------------
EXPLAINED_BY = {
    # the error an attempt ends with -> the kinds of kill that can cause it
    "lost:": ("kill_worker", "kill_tree", "freeze_worker"),
    "killed by signal SIGKILL": ("kill_job", "freeze_worker"),  # (a frozen worker's guard fenced it)
    "fenced:": ("freeze_worker",),
    "killed: its worker was stopped": ("hard_stop",),
}
SLACK = 0.5  # seconds between the clock of a kill and those the store wrote


@dataclass
class Report:
    jobs: int
    runs: int
    kills: Counter
    duplicates: int
    duplicate_reasons: Counter
    failed_attempts: int
    raced: int  # in flight at a kill, but had already finished (succeeded) as it landed
    problems: list[str]

    def summary(self) -> str:
        kills = ", ".join(f"{k} {n}" for k, n in sorted(self.kills.items()))
        why = ", ".join(f"{n} {k}" for k, n in self.duplicate_reasons.most_common())
        return (
            f"{self.jobs} jobs, {self.runs} runs, {sum(self.kills.values())} kills ({kills}); "
            f"{self.duplicates} jobs ran more than once ({why or 'none'}); {self.failed_attempts} failed attempts, "
            f"all explained by a kill; {self.raced} in-flight runs had finished just before their kill landed; "
            f"problems: {len(self.problems)}"
        )


def verify(chaos: Chaos) -> Report:
    work, cfg = chaos.work, chaos.cfg
    problems = ["store: " + p for p in storecheck.problems(chaos.db)]
    conn = storecheck.connect(chaos.db)
    jobs = dict(conn.execute("SELECT id, state FROM job").fetchall())
    attempts: dict[str, dict[int, tuple]] = defaultdict(dict)
    for job_id, number, worker, started, finished, code, error in conn.execute(
        "SELECT j.id, a.number, a.worker_id, a.started_at, a.finished_at, a.exit_code, a.error "
        "FROM attempt a JOIN job j ON j.seq = a.job_seq"
    ):
        attempts[job_id][number] = (worker, started, finished, code, error)
    leftover_workers = conn.execute("SELECT id, pid FROM worker").fetchall()
    conn.close()

    if len(jobs) != cfg.jobs:
        problems.append(f"{len(jobs)} jobs in the store, {cfg.jobs} enqueued")
    not_done = {j: s for j, s in jobs.items() if s != "completed"}
    if not_done:
        problems.append(f"{len(not_done)} jobs not completed: {list(not_done.items())[:5]}")

    runs: dict[str, dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    runs_file = work / "runs.log"
    for line in runs_file.read_text().splitlines() if runs_file.exists() else []:
        parts = line.split()
        if len(parts) != 4 or parts[2] not in "se":
            problems.append(f"garbled run line {line!r}")
            continue
        runs[parts[0]][int(parts[1])][parts[2]] = float(parts[3])
    overlaps = (work / "overlaps.log").read_text().splitlines() if (work / "overlaps.log").exists() else []
    for line in overlaps:
        problems.append(f"overlap: run {line} started while an earlier run of the job held its lock")

    by_job_attempt: dict[tuple[str, int], list[Kill]] = defaultdict(list)
    by_worker: dict[str, list[Kill]] = defaultdict(list)
    for kill in chaos.kills:
        for ja in kill.inflight:
            by_job_attempt[ja].append(kill)
        for w in kill.workers:
            by_worker[w].append(kill)

    def explains(kill: Kill, started: float, finished: float | None) -> bool:
        return started - SLACK <= kill.t <= (finished if finished is not None else float("inf")) + SLACK

    # SQLite has one writer: a worker frozen inside a write transaction stalls every other
    # worker's renewals too, and their guards fence their jobs (which nobody can take over
    # meanwhile: nobody can write).  Such a fence is explained by that freeze when the store
    # shows no write at all from the freeze until the fenced run's own record.
    writes = sorted(t for runs_of in attempts.values() for a in runs_of.values() for t in (a[1], a[2]) if t)
    fence_after = FENCE_FRACTION * cfg.lease_seconds

    def stalled_by_a_freeze(started: float, finished: float | None) -> bool:
        if finished is None:
            return False
        for kill in chaos.kills:
            if kill.kind != "freeze_worker" or not started - SLACK <= kill.t <= finished - fence_after:
                continue
            first = bisect.bisect_right(writes, kill.t + SLACK)
            if first >= len(writes) or writes[first] >= finished - SLACK:
                return True
        return False

    failed = 0
    reasons: Counter = Counter()
    duplicates = 0
    total_runs = 0
    for job_id in jobs:
        job_runs = runs.get(job_id, {})
        total_runs += len(job_runs)
        tried = attempts.get(job_id, {})
        ok = [n for n, a in tried.items() if a[4] is None and a[2] is not None]
        if len(ok) != 1:
            problems.append(f"job {job_id}: {len(ok)} successful attempts {ok}")
            continue
        final = ok[0]
        if max(tried) != final:
            problems.append(f"job {job_id}: attempt {max(tried)} follows the successful attempt {final}")
        if "s" not in job_runs.get(final, {}) or "e" not in job_runs.get(final, {}):
            problems.append(f"job {job_id}: its successful attempt {final} did not run to its end")
        for number in job_runs:
            if number not in tried:
                problems.append(f"job {job_id}: ran as attempt {number}, which the store never recorded")
        # every failed attempt was caused by a kill that hit it while it was open
        why = None
        for number, (worker, started, finished, _code, error) in sorted(tried.items()):
            if number == final:
                continue
            failed += 1
            kinds = next((v for k, v in EXPLAINED_BY.items() if error and error.startswith(k)), None)
            if kinds is None:
                problems.append(f"job {job_id} attempt {number} failed for no injected reason: {error!r}")
                continue
            candidates = by_job_attempt[(job_id, number)] + by_worker.get(worker, [])
            if not any(k.kind in kinds and explains(k, started, finished) for k in candidates) and not (
                error.startswith("fenced:") and stalled_by_a_freeze(started, finished)
            ):
                problems.append(
                    f"job {job_id} attempt {number} ({worker}) failed with {error!r} but no {'/'.join(kinds)} hit it"
                )
            if number in job_runs and why is None:
                why = error.split(" (")[0].split(":")[0] if error.startswith("lost") else error
        if len(job_runs) > 1:
            duplicates += 1
            reasons[why or "?"] += 1
        # runs of one job never overlap in time
        spans = sorted((r["s"], r.get("e")) for r in job_runs.values() if "s" in r)
        for (_s1, e1), (s2, _) in zip(spans, spans[1:]):
            if e1 is not None and s2 < e1:
                problems.append(f"job {job_id}: a run started at {s2:.3f} before the previous ended at {e1:.3f}")
    # every run a kill hit in flight failed, unless it had already finished as the kill landed
    raced = 0
    for kill in chaos.kills:
        # (a frozen worker may be thawed early, by the kernel's SIGCONT to a stopped process
        # group orphaned when a kill ends its supervisor, and then finish its run: only the
        # overlap check says anything about freezes)
        if kill.kind in ("kill_supervisor", "term_supervisor", "freeze_worker"):
            continue
        for job_id, number in kill.inflight:
            worker, started, finished, code, error = attempts.get(job_id, {}).get(number, (None,) * 5)
            if started is None:
                problems.append(f"{kill.kind} hit job {job_id} attempt {number}, which the store does not know")
            elif error is None:
                # SIGKILL lands at once; a hard stop only kills a job still running when the
                # worker handles the signal, so a job that was just ending may still succeed
                # a SIGKILL that lands on a shell already exiting leaves its exit status 0
                grace = SLACK if kill.kind == "hard_stop" else 0.05 if kill.kind == "kill_job" else 0.0
                # (or the run had written its end line before the kill was sent: it was exiting,
                # and the worker, on a loaded machine, recorded it later than the grace)
                ended = runs.get(job_id, {}).get(number, {}).get("e")
                if finished is not None and (finished <= kill.t + grace or ended is not None and ended <= kill.t):
                    raced += 1
                else:
                    problems.append(
                        f"{kill.kind} at {kill.t:.3f} hit job {job_id} attempt {number}, "
                        f"which still succeeded at {finished}"
                    )
    if leftover_workers:
        problems.append(f"workers still registered after a restart and a stop: {leftover_workers}")
    final = getattr(chaos, "final_start", None)
    if final is not None and (final.returncode != 0 or final.stderr):
        problems.append(f"the final `worker start --burst` said: {final.returncode} {final.stderr[-500:]}")
    status = getattr(chaos, "final_status", None)
    if status is not None and (status.returncode != 0 or json.loads(status.stdout)["workers"] != 0):
        problems.append(f"`status` after everything stopped: {status.stdout.strip()} {status.stderr.strip()}")
    left = snapshot(chaos.db)
    if left:
        problems.append(f"processes left behind: {[(p.pid, p.argv[:4]) for p in left.values()]}")
    for path in sorted(work.glob("supervisor-*.out")):
        text = path.read_text(errors="replace")
        if "Traceback" in text or "internal error" in text:
            problems.append(
                f"{path.name}: {text[text.find('Traceback') :][:1500] if 'Traceback' in text else text[-800:]}"
            )
    return Report(
        cfg.jobs, total_runs, Counter(k.kind for k in chaos.kills), duplicates, reasons, failed, raced, problems
    )
