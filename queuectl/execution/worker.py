"""One worker process with N slots: claim a batch for the free slots, run the jobs side by side,
record the ones that end close together in one transaction with the claims that refill their
slots; one heartbeat, one lease renewal, one fence deadline and one guard for all of them;
stop gracefully.

The first SIGINT/SIGTERM (or `queuectl worker stop`) lets the running jobs finish, then the
worker exits 0; a second one kills them, records their attempts as failed, and exits.  While
the store fails, the first one ends the worker at once (exit 1: see _retrying).
Started by the supervisor.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections import deque

from .. import resources, store
from ..errors import ExitCode, InputError, StoreError, StoreUnusable
from ..paths import Location
from ..render import clean
from ..states import FINISHED, JobState
from ..store.cached import current_config
from ..store.connection import store_file_changed
from . import fence, reaper, runner
from .hooks import Hooks, usage_facts

HOST_ENV = "QUEUECTL_HOST_ID"
#: the longest an idle worker sleeps without looking at the store (safety net for lost wake-ups)
IDLE_POLL_SECONDS = 1.0
#: how often a --burst worker with nothing to claim checks whether the others are done
BURST_POLL_SECONDS = 0.05
#: how often a worker looks for jobs whose worker vanished, and for jobs past retention
RECOVERY_SECONDS = 5.0
#: pause after the store reported an error, before trying again; doubled after each failure
#: in a row, up to STORE_RETRY_MAX_SECONDS (a full disk fails every try while it is full)
STORE_RETRY_SECONDS = 0.5
STORE_RETRY_MAX_SECONDS = 8.0
#: the longest a finished job waits to be recorded together with others that end soon after
#: (it is recorded at once when no other job runs, or when half the slots are waiting)
RECORD_DELAY_SECONDS = 0.002
#: while held jobs keep every slot busy, ends are recorded in batches: when half of what the
#: worker runs and holds has ended, or when the oldest end has waited this long
RECORD_BATCH_SECONDS = 0.02
#: a wake-up (a cancel, a stop request) makes a busy worker heartbeat, at most this often
WAKE_BEAT_SECONDS = 0.05
#: prefetch: a worker whose jobs are quick claims up to this many jobs ahead of its free slots
#: and holds them (processing, under its lease, not started), so that a slot that frees is
#: refilled at once, without a transaction, and the ends are recorded in batches
#: (bench/profile_worker.py).  4 is what the bench chose: drains of 2,000 `true` at --count 2,
#: SQLite 568 -> 774 jobs/s, PostgreSQL 197 -> 401, 2026-12-07.  A held job's start is noted
#: when it starts and recorded by the next heartbeat or with its end (store.record_starts).
#: QUEUECTL_PREFETCH sets it; 0 turns it off
PREFETCH = 4
PREFETCH_ENV = "QUEUECTL_PREFETCH"
PREFETCH_MAX = 1000
#: a worker prefetches only while its latest job ran at most this long: for longer jobs the
#: transaction it saves is a small part of a job, and held jobs would wait for others' slots
QUICK_SECONDS = 0.05
#: the longest a job is held without starting: then every held job is handed back, for any
#: worker to take (fairness: another host with free slots waits no longer than this, plus
#: its wake-up), and the worker stops prefetching until a job ends quickly again.
#: QUEUECTL_HOLD_SECONDS overrides it
HOLD_SECONDS = 0.5
HOLD_ENV = "QUEUECTL_HOLD_SECONDS"
HOLD_MAX = 3600.0


def say(line: str) -> bool:
    """Print one line of progress; False (and stdout silenced) once the terminal is gone.

    A closed terminal (its window closed, an ssh connection dropped) fails every later write
    with EIO; that must not stop the workers, which keep running jobs (SIGHUP is ignored too).
    """
    try:  # one write per line: another process's line never lands inside it (unbuffered stdout
        # writes print()'s text and its newline apart)
        sys.stdout.write(clean(line) + "\n")  # ids, commands, errors and paths come from jobs
        sys.stdout.flush()
        return True
    except OSError:
        try:  # what is still buffered, and anything printed later, goes nowhere without failing
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass
        return False


def host_id() -> str:
    """This machine's name in the store (overridable, e.g. to run several 'hosts' on one)."""
    return os.environ.get(HOST_ENV) or socket.gethostname()


#: a worker's id (host id, supervisor pid, 6 hex digits) must fit the store's 200 characters
HOST_ID_MAX = 180


def validate_host_id(host: str) -> None:
    """`worker start` refuses, in one line, a host id its workers could not work under."""
    if "/" in host or len(host) > HOST_ID_MAX or not host.isprintable():
        shown = host if len(host) <= 40 else host[:40] + "…"
        raise InputError(
            f"invalid host id {shown!r} (from {HOST_ENV} or the machine's name): use at most "
            f"{HOST_ID_MAX} printable characters, without '/'"
        )


def retry_pauses():
    """The pauses between tries of a store call that keeps failing: STORE_RETRY_SECONDS, doubled
    after each failure up to STORE_RETRY_MAX_SECONDS."""
    pause = STORE_RETRY_SECONDS
    while True:
        yield pause
        pause = min(2 * pause, STORE_RETRY_MAX_SECONDS)


def prefetch_setting() -> tuple[int, float]:
    """QUEUECTL_PREFETCH (jobs held ahead of a worker process's free slots, else PREFETCH) and
    QUEUECTL_HOLD_SECONDS (else HOLD_SECONDS); `worker start` refuses, in one line, a value out
    of range."""
    raw = os.environ.get(PREFETCH_ENV, "").strip()
    if raw and (not raw.isdigit() or int(raw) > PREFETCH_MAX):
        raise InputError(f"invalid {PREFETCH_ENV} {raw[:40]!r}: use a whole number from 0 to {PREFETCH_MAX}")
    prefetch = int(raw) if raw else PREFETCH
    raw = os.environ.get(HOLD_ENV, "").strip()
    try:
        hold = float(raw) if raw else HOLD_SECONDS
    except ValueError:
        hold = -1.0
    if not 0 < hold <= HOLD_MAX:  # (NaN too)
        raise InputError(f"invalid {HOLD_ENV} {raw[:40]!r}: use seconds above 0, at most {HOLD_MAX:g}")
    return prefetch, hold


class StoreTrouble:
    """What is said about a failing store: each error once, not at every try (a full disk made
    2,400 identical lines in ten minutes, which hid everything else), and that the store works
    again once a call that failed goes through.  (Not once any call does: on a full disk reads
    and some heartbeats still go through, and each would say so once more.)"""

    def __init__(self, say) -> None:
        self._say = say
        self._said: str | None = None  # the error said last (None: nothing said since it worked)

    def failed(self, what: str, exc: StoreError) -> None:
        if str(exc) != self._said:
            self._say(f"{what}, retrying: {exc}")
            self._said = str(exc)

    def recovered(self) -> None:
        if self._said is not None:
            self._say("the store works again")
            self._said = None


class Worker:
    def __init__(
        self,
        location: Location,
        worker_id: str,
        name: str,
        slots: int = 1,
        burst: bool = False,
        quiet: bool = False,
        queues: tuple[str, ...] = (),
        forwarded_wake_ups: bool = False,
        offer: dict | None = None,
        prefetch: int = PREFETCH,
        hold_seconds: float = HOLD_SECONDS,
    ):
        self.location = location
        self.offer = offer  # what its host offers jobs that ask for resources (resources.py)
        self.forwarded_wake_ups = forwarded_wake_ups  # see store.wake_channel
        self.queues = queues  # empty: every queue
        self.id = worker_id
        self.name = name
        self.slots = slots
        self.prefetch = prefetch
        self.hold_seconds = hold_seconds
        # claimed ahead of the free slots, not started yet, oldest first: (when claimed, claim)
        self._held: deque[tuple[float, store.Claim]] = deque()
        self._quick = False  # the latest job ran at most QUICK_SECONDS: prefetching pays
        self.burst = burst
        self.quiet = quiet
        self.host = host_id()
        self.stopping = False  # finish the running jobs, then exit
        self.hard_stop = False  # kill the running jobs, then exit
        self._last_beat = 0.0
        self._next_beat_at = 0.0
        self._last_recovery = 0.0
        # since when this worker's heartbeats have gone through without a gap (None: they fail);
        # it takes other workers' jobs only after a whole lease of that (see _may_recover)
        self._writable_since: float | None = None
        self._last_good_beat = 0.0
        self._ended: list[store.Finished] = []  # finished, not yet recorded
        self._ended_since = 0.0  # when the oldest of them ended
        self._outcomes: dict[int, runner.Outcome] = {}  # by attempt id, for the progress lines
        self._unreported_pgids: dict[int, int] = {}  # attempt id -> process group, for the next beat
        # attempt id -> (claim, its start on the store's clock): held jobs that started after
        # their claim, for the next beat, or for the record of their end (store.record_starts)
        self._unreported_starts: dict[int, tuple[store.Claim, float]] = {}
        self._look = True  # there may be work to claim (a wake-up, an end, a timeout, a full batch)
        # after a look that found too little: when to look again unwoken (monotonic; None: not
        # asked yet).  Asked once per such look, not once per wake-up of a job's output
        self._look_at: float | None = None
        self._call_sent = 0.0  # when the latest store call was sent
        self._lease_seconds = 0.0  # as granted with the latest claim
        self.hooks = Hooks(self.say)  # on_finish, on_queue_drained (hooks.py)
        # every job's environment starts as this process's, encoded once: decoding os.environ and
        # Popen encoding it back was a fifth of the worker's CPU per job (bench/profile_worker.py)
        self._environ = dict(os.environb)
        self.trouble = StoreTrouble(self.warn)

    # -- lifecycle ---------------------------------------------------------------------------
    def run(self) -> int:
        store.open_store(self.location, verify=True)
        reaper.become_subreaper()  # a job's orphans come back to us, to be killed with the job
        self.channel = store.wake_channel(self.id, forwarded=self.forwarded_wake_ups)
        signal.set_wakeup_fd(self.channel.signal_fd, warn_on_full_buffer=False)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a closed terminal is not a request to stop
        runner.start_jobs_with_default_signals()  # (after the line above, which it turns into a no-op handler)
        self.guard = runner.JobGuard()
        self.jobs = runner.Jobs(self.channel, self.guard)
        self._retrying(store.register_worker, self.id, self.host, os.getpid(), os.getppid(), self.slots, self.offer)
        from . import logship  # (SQLite: a no-op; not imported before peewee is: see main)

        self.output = logship.for_store(self.location.logs_dir)  # (PostgreSQL: into the store)
        self.say(f"started ({self.slots} slot{'s' * (self.slots != 1)})")
        try:
            self._loop()
        finally:
            if self._held:  # (an error on the way out: else they were handed back at the stop)
                try:
                    store.release_claims([claim for _, claim in self._held], self.id)
                except StoreError:
                    pass  # recovered as lost once their leases run out, as running jobs are
                self._held.clear()
            self.jobs.close()
            self.guard.close()
            signal.set_wakeup_fd(-1)
            self.channel.close()
            try:
                store.unregister_worker(self.id)
            except StoreError:
                pass  # its heartbeat stops; others forget it after the liveness window
            self.hooks.wait()
        self.say("stopped")
        return 0

    def _on_signal(self, signum, frame) -> None:
        if self.stopping:
            self.hard_stop = True
        self.stopping = True

    def say(self, text: str) -> None:
        if not self.quiet:
            self.quiet = not say(f"[{self.name}] {text}")

    def warn(self, text: str) -> None:
        """Trouble with the store: said even with --quiet (once per error: see StoreTrouble)."""
        say(f"[{self.name}] {text}")

    def _loop(self) -> None:
        while True:
            if self.hard_stop:
                for running in self.jobs.running:
                    running.kill("killed: its worker was stopped", grace=1.0)
            if self._held and (self.stopping or time.monotonic() - self._held[0][0] >= self.hold_seconds):
                self._hand_back()
            self._start_held()
            free = self.slots - len(self.jobs)  # (an ended job's slot is free: its record waits)
            ahead = self.prefetch if self._quick else 0
            want = 0 if self.stopping or not self._look else max(0, free + ahead - len(self._held))
            if self._ended and self._record_due(free) or not self._ended and free and want:
                self._record_and_claim(want)
                continue
            if not self.jobs.running and not self._ended and not self._held:
                if self.stopping:
                    return
                if self.burst and not self._retrying(store.has_burst_work, self.queues, self.offer):
                    return
            self._chores()
            self._fence()  # (after the heartbeat that was due: it may have renewed the deadline)
            self._wait(self._pause())

    def _fence(self) -> None:
        """Past the fence deadline (no renewal went through for FRACTION of a lease), every
        running job is killed before another worker may take it over (fence.py)."""
        if self.jobs.running and time.monotonic() > self.guard.deadline:
            for running in self.jobs.running:
                running.kill(
                    f"fenced: its lease went {fence.FRACTION * self._lease_seconds:g}s without renewal", grace=0.0
                )

    def _renewed(self, sent: float) -> None:
        """All running jobs' leases now count from `sent` (fence.py): the latest heartbeat that
        went through, or the claim that ended an idle spell."""
        if self._lease_seconds:
            self.guard.renew(fence.deadline(sent, self._lease_seconds))

    def _record_due(self, free: int) -> bool:
        """Record now: no other job runs (nothing to wait for), half the slots wait to be
        refilled, or the oldest end waited long enough.  While held jobs fill the freed slots,
        in batches (RECORD_BATCH_SECONDS)."""
        if not self.jobs.running or self.stopping:
            return True
        waited = time.monotonic() - self._ended_since
        if free and not self._held:
            return 2 * min(len(self._ended), free) >= self.slots or waited >= RECORD_DELAY_SECONDS
        return 2 * len(self._ended) >= self.slots + self.prefetch or waited >= RECORD_BATCH_SECONDS

    def _record_and_claim(self, k: int) -> None:
        """One transaction: the runs that ended, and up to k new jobs for the freed slots."""
        self._check_store_file()  # (never recorded into a file nobody reads)
        ended, self._ended = self._ended, []
        idle = not self.jobs.running
        self._retrying(self.output.ship_ended, ended)  # their output is all in before their end
        states, claims = self._retrying(store.finish_batch, ended, self.id, self.host, k, self.queues, len(self.jobs))
        if claims:
            self._lease_seconds = claims[0].lease_seconds
            if idle:  # the new jobs' leases count from this claim; running ones' from the last beat
                self._renewed(self._call_sent)
        outcomes = [self._outcomes.pop(finished.claim.attempt_id) for finished in ended]
        for finished, state, outcome in zip(ended, states, outcomes):
            self._report(finished, state, outcome)
        # hooks, latest first: of a batch that emptied a queue, its last job runs on_queue_drained
        drained: set[str] = set()
        for finished, state, outcome in reversed(list(zip(ended, states, outcomes))):
            if state in FINISHED:
                claim = finished.claim
                self.hooks.job_ended(claim.id, state, claim.on_finish, usage_facts(outcome), drained)
        self._look = len(claims) == k  # fewer than asked: nothing more to claim until woken
        held_at = time.monotonic()
        self._held.extend((held_at, claim) for claim in claims)
        self._start_held(claimed_at=held_at)

    def _start_held(self, claimed_at: float | None = None) -> None:
        """Start held jobs in the free slots, oldest claim first (never past the fence
        deadline: a lease not renewed is not ours to start under).  A job claimed by this very
        turn (`claimed_at`) starts at its claim's time; one that was held has its start noted,
        for the store (store.record_starts)."""
        while self._held and len(self.jobs) < self.slots and not self.stopping:
            if time.monotonic() > self.guard.deadline:
                return
            at, claim = self._held.popleft()
            if at != claimed_at:
                self._unreported_starts[claim.attempt_id] = (claim, store.now())
            self._start(claim)

    def _hand_back(self) -> None:
        """Give the held jobs back for any worker to take (a stop, or held too long), and stop
        prefetching until a job ends quickly again."""
        held = [claim for _, claim in self._held]
        self._held.clear()
        self._quick = False
        n = self._retrying(store.release_claims, held, self.id)
        if n:
            self.say(f"handed back {n} held job{'s' * (n != 1)}")

    def _pause(self) -> float:
        """How long to wait for events: until the next heartbeat, the oldest unrecorded end's
        deadline, or (with free slots) the next job that becomes due."""
        pause = min(self._next_beat_in(), self.output.due_in(self.jobs.running))
        if self._ended:
            delay = RECORD_BATCH_SECONDS if self._held and len(self.jobs) >= self.slots else RECORD_DELAY_SECONDS
            pause = min(pause, max(0.0, self._ended_since + delay - time.monotonic()))
        if self._held:
            pause = min(pause, max(0.0, self._held[0][0] + self.hold_seconds - time.monotonic()))
        if not self.stopping and not self._look and len(self.jobs) + len(self._ended) < self.slots:
            if self._look_at is None:
                self._look_at = time.monotonic() + self._next_look_in()
            pause = min(pause, max(0.0, self._look_at - time.monotonic()))
        return pause

    def _next_look_in(self) -> float:
        """Seconds until the earliest waiting job becomes due; a poll's length when none is, or
        when one is due already but was not claimable (its queue is paused or at its limit:
        looking again at once would spin)."""
        longest = BURST_POLL_SECONDS if self.burst else IDLE_POLL_SECONDS
        due = self._retrying(store.next_due)
        wait = None if due is None else due - store.now()
        return longest if wait is None or wait <= 0 else wait

    def _wait(self, pause: float) -> None:
        ended, woke, timed_out = self.jobs.wait(pause)
        now = time.monotonic()
        for running, outcome in ended:
            if not self._ended:
                self._ended_since = now
            attempt_id = running.claim.attempt_id
            self.output.ended(running)
            self._ended.append(
                store.Finished(
                    running.claim, outcome.error, outcome.exit_code, _usage_row(outcome), self._started_at(attempt_id)
                )
            )
            self._outcomes[attempt_id] = outcome
            self._quick = outcome.duration <= QUICK_SECONDS
            self._unreported_pgids.pop(attempt_id, None)
        # look for work again on a wake-up, a slot freed (its claim shares the record's
        # transaction), a timeout or the moment a job is due; never for a job's output alone
        if woke or ended or timed_out or self._look_at is not None and now >= self._look_at:
            self._look, self._look_at = True, None
        if woke and self.jobs.running:  # a running job may have been cancelled: look soon
            self._next_beat_at = min(self._next_beat_at, self._last_beat + WAKE_BEAT_SECONDS)

    def _started_at(self, attempt_id: int) -> float | None:
        """A held job's start, for the record of its end, unless a heartbeat recorded it."""
        started = self._unreported_starts.pop(attempt_id, None)
        return None if started is None else started[1]

    def _beat_interval(self) -> float:
        """Every second, and faster for a short lease (fence.beat_every): a renewal due exactly
        when the deadline passes would leave the guard a moment to fence the jobs of a healthy
        worker."""
        if not self._lease_seconds:
            return store.HEARTBEAT_SECONDS
        return fence.beat_every(self._lease_seconds, store.HEARTBEAT_SECONDS)

    def _next_beat_in(self) -> float:
        return max(0.0, self._next_beat_at - time.monotonic())

    def _chores(self) -> None:
        """Heartbeat; now and then recover jobs of workers that vanished, and delete a batch of
        jobs past their retention."""
        if self._next_beat_in() == 0.0:
            self._beat()
        if self.output.due_in(self.jobs.running) == 0.0:
            try:
                self.output.ship(self.jobs.running)
            except StoreError as exc:  # kept in the spool files: sent with the next shipment
                self.say(f"could not send output: {exc}")
        if time.monotonic() - self._last_recovery >= RECOVERY_SECONDS:
            self._last_recovery = time.monotonic()
            if self._may_recover():
                self._retrying(store.recover_expired)
            self._retrying(store.apply_retention)

    def _may_recover(self) -> bool:
        """Only a worker that has been able to write for a whole lease judges others' leases.

        Right after the store was locked (or this machine was suspended), or right after this
        worker started, the other workers may not have had their turn to heartbeat yet: their
        old heartbeats prove nothing, and taking their jobs would run them twice at once."""
        if self._writable_since is None:
            return False
        lease = self._retrying(store.get_config)["lease_seconds"]
        return time.monotonic() - self._writable_since >= lease

    def _beat(self) -> None:
        """Every second, idle or busy: I am alive, and so are my running jobs (their leases);
        kill those that are no longer mine (cancelled, taken away); enqueue due schedules."""
        self._check_store_file()
        self._last_beat = time.monotonic()
        self._next_beat_at = self._last_beat + self._beat_interval()
        running = list(self.jobs.running)
        held = [claim for _, claim in self._held]  # (their leases are renewed as running jobs' are)
        try:
            sent = time.monotonic()
            store.check_schema()  # another host upgraded the store: stop here if we must (SchemaTooNew)
            claims = held + [r.claim for r in running]  # (the last one is the worker's current job)
            started = list(self._unreported_starts.values())
            beat = store.heartbeat(self.id, claims, self._unreported_pgids, self.stopping, started)
            self._unreported_pgids = {}
            self._unreported_starts = {}
            self._renewed(sent)
            self._beat_went_through()
            due = store.run_due_schedules()
            for job_id in due.enqueued:
                self.say(f"scheduled job '{job_id}' enqueued")
            for name, error in due.failed.items():  # said once: the schedule is paused now
                self.say(f"schedule '{name}' paused: {error}")
        except StoreError as exc:
            self._writable_since = None
            self.trouble.failed("heartbeat failed", exc)
            return
        if any(not beat.owns(claim) for claim in held):  # cancelled, or recovered: never started
            self._held = deque((at, claim) for at, claim in self._held if beat.owns(claim))
        for job in running:
            if not beat.owns(job.claim):
                job.kill("cancelled", grace=1.0)
            else:
                job.hold(job.claim.seq in beat.paused)  # queuectl pause / resume, from any host
        if beat.stop_requested and not self._registered_again():
            self.stopping = True

    def _beat_went_through(self) -> None:
        now = time.monotonic()
        if self._writable_since is None or now - self._last_good_beat > 3 * store.HEARTBEAT_SECONDS:
            self._writable_since = now  # the first, or the first after a gap
        self._last_good_beat = now

    def _registered_again(self) -> bool:
        """A worker the store forgot (declared dead while a lock or a freeze kept its heartbeats
        out) is alive: it registers again, rather than leave its supervisor's pool for good
        (exit 0 is not replaced).  Its jobs, if another worker took them, are killed (lost)."""
        try:
            if any(w.id == self.id for w in store.workers_of_host(self.host)):
                return False  # a real stop request
            store.register_worker(self.id, self.host, os.getpid(), os.getppid(), self.slots, self.offer)
        except StoreError:
            return True  # look again at the next heartbeat
        self.say("registered again: the store had declared this worker dead")
        return True

    def _retrying(self, fn, *args):
        """Call a store function until it succeeds: a busy or failing store never kills a
        worker, but a stop request is always honoured.  A stop that comes while the store fails
        gets one more try, then the worker gives up (StoreError): what it could not record
        stays running in the store, and is recovered as lost once the store works."""
        pauses = None
        while True:
            self._call_sent = time.monotonic()  # (a claim's lease starts no earlier: see fence.py)
            try:
                result = fn(*args)
            except StoreError as exc:
                if self.stopping:
                    raise self._giving_up(exc) from exc
                self._check_store_file()  # (a file deleted under a retrying worker)
                self.trouble.failed("store error", exc)
                pauses = pauses or retry_pauses()
                self._pause_unless_stopped(next(pauses))
                continue
            if pauses is not None:
                self.trouble.recovered()
            return result

    def _pause_unless_stopped(self, seconds: float) -> None:
        """Sleep, cut short by a stop signal (it pokes the wake-up channel)."""
        end = time.monotonic() + seconds
        while not self.stopping and (left := end - time.monotonic()) > 0:
            self.channel.wait(left)
        self._look = True  # a wake-up taken here may have been about work

    def _giving_up(self, exc: StoreError) -> StoreError:
        left = len(self.jobs) + len(self._outcomes) + len(self._held)  # running, ended but not recorded, held
        lost = f"; {left} job(s) not recorded, recovered as lost by the next worker once it works" if left else ""
        return StoreError(f"stopped as asked while the store failed: {exc}{lost}")

    def _check_store_file(self) -> None:
        """A SQLite file deleted or replaced (`rm`, `mv backup.db q.db`) under the worker stops
        it (StoreUnusable: its supervisor restarts nothing).  Its connection would go on recording
        into the old file, which nobody else reads: its running jobs are killed on the way out
        (the file now at the path, if any, decides what runs again).  One stat, before each
        record and each heartbeat."""
        changed = store_file_changed()
        if changed:
            raise StoreUnusable(
                f"the store file {self.location.sqlite_path} was {changed} while the worker ran; stopping"
            )

    # -- one job -----------------------------------------------------------------------------
    def _start(self, claim: store.Claim) -> None:
        """Start a claimed job in a slot (a job that cannot start is an attempt that failed)."""
        self.say(f"processing job '{claim.id}' (attempt {claim.attempt})")
        stdout_path, stderr_path = store.attempt_paths(self.location.logs_dir, claim.id, claim.attempt)
        env = {
            **self._environ,
            **{os.fsencode(k): os.fsencode(v) for k, v in (claim.env or {}).items()},
            b"QUEUECTL_JOB_ID": os.fsencode(claim.id),
            b"QUEUECTL_ATTEMPT": b"%d" % claim.attempt,
        }
        granted = claim.granted
        mem_limit = mem_mode = None
        if granted:  # its devices and counts (resources.environment), and its memory limit
            env.update({k.encode(): v.encode() for k, v in resources.environment(granted).items()})
            mem_limit = granted.get("mem")
            mem_mode = current_config()["mem_limit"] if mem_limit else None
        try:
            running = runner.Running(
                claim.command,
                stdout_path,
                stderr_path,
                claim.max_log_bytes,
                env,
                self.guard,
                claim.cwd,
                claim.timeout,
                claim,
                mem_limit,
                mem_mode or "off",
            )
        except runner.StartError as exc:  # the attempt fails, not the worker
            if not self._ended:
                self._ended_since = time.monotonic()
            self._ended.append(store.Finished(claim, str(exc), None, None, self._started_at(claim.attempt_id)))
            self._outcomes[claim.attempt_id] = runner.Outcome(None, 0.0, str(exc))
            return
        self.jobs.add(running)
        self._unreported_pgids[claim.attempt_id] = running.pgid

    def _report(self, finished: store.Finished, state: str, outcome: runner.Outcome) -> None:
        claim = finished.claim
        if state == JobState.COMPLETED:
            self.say(f"completed job '{claim.id}' in {outcome.duration:.2f}s")
        elif state == JobState.FAILED:
            self.say(f"job '{claim.id}' failed ({outcome.error}); it will be retried")
        elif state == JobState.DEAD:
            self.say(f"job '{claim.id}' failed ({outcome.error}); moved to the dead-letter queue")
        else:
            self.say(f"job '{claim.id}' ended as {state} ({outcome.error})")


def _usage_row(outcome: runner.Outcome) -> tuple | None:
    """What the store records of a run's usage (store.usage.record, less the attempt id)."""
    used = outcome.usage
    if used is None:
        return None
    return (
        round(outcome.duration, 6),
        round(used.cpu_user, 6),
        round(used.cpu_system, 6),
        used.max_rss or None,
        outcome.signal,
        outcome.note,
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    from ..paths import resolve

    parser = argparse.ArgumentParser(prog="python -m queuectl.worker", description="one queuectl worker process")
    parser.add_argument("--id", required=True)
    parser.add_argument("--name", default="worker")
    parser.add_argument("--slots", type=int, default=1)
    parser.add_argument("--burst", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--queue", action="append", default=[])
    parser.add_argument("--forwarded-wake-ups", action="store_true", help="this host's supervisor listens for them")
    parser.add_argument("--offer", help="what this host offers jobs, JSON (default: detected)")
    args = parser.parse_args(argv)
    location = resolve()
    try:
        prefetch, hold = prefetch_setting()
        if args.offer is not None:
            import json

            offer = json.loads(args.offer)
        else:
            from ..resources import host_offer

            offer = host_offer()
    except InputError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    try:
        return Worker(
            location,
            args.id,
            args.name,
            args.slots,
            args.burst,
            args.quiet,
            tuple(args.queue),
            args.forwarded_wake_ups,
            offer,
            prefetch,
            hold,
        ).run()
    except StoreError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except StoreUnusable as exc:  # damaged, not ours, planted: retrying cannot help
        print(f"Error: {exc}", file=sys.stderr)
        return ExitCode.UNUSABLE


if __name__ == "__main__":
    sys.exit(main())
