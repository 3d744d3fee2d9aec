"""One worker process: wait for work, claim it, run it, record it; heartbeat; stop gracefully.

The first SIGINT/SIGTERM (or `queuectl worker stop`) lets the running job finish, then the worker
exits 0; a second one kills the job, records its attempt as failed, and exits.
Run as `python -m queuectl.worker` by the supervisor.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
import time

from . import fence, reaper, runner, store
from .errors import ExitCode, StoreError, StoreUnusable
from .paths import Location
from .render import clean

HOST_ENV = "QUEUECTL_HOST_ID"
#: the longest an idle worker sleeps without looking at the store (safety net for lost wake-ups)
IDLE_POLL_SECONDS = 1.0
#: how often a --burst worker with nothing to claim checks whether the others are done
BURST_POLL_SECONDS = 0.05
#: how often an idle worker looks for jobs whose worker vanished, and for jobs past retention
RECOVERY_SECONDS = 5.0
#: pause after the store reported an error, before trying again
STORE_RETRY_SECONDS = 0.5


def say(line: str) -> bool:
    """Print one line of progress; False (and stdout silenced) once the terminal is gone.

    A closed terminal (its window closed, an ssh connection dropped) fails every later write
    with EIO; that must not stop the workers, which keep running jobs (SIGHUP is ignored too).
    """
    try:
        print(clean(line), flush=True)  # ids, commands, errors and paths come from jobs
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


class Worker:
    def __init__(self, location: Location, worker_id: str, name: str, burst: bool = False, quiet: bool = False,
                 queues: tuple[str, ...] = ()):  # fmt: skip
        self.location = location
        self.queues = queues  # empty: every queue
        self.id = worker_id
        self.name = name
        self.burst = burst
        self.quiet = quiet
        self.host = host_id()
        self.stopping = False  # finish the current job, then exit
        self.hard_stop = False  # kill the current job, then exit
        self._last_beat = 0.0
        self._last_recovery = 0.0
        # since when this worker's heartbeats have gone through without a gap (None: they fail);
        # it takes other workers' jobs only after a whole lease of that (see _may_recover)
        self._writable_since: float | None = None
        self._last_good_beat = 0.0
        self._call_sent = 0.0  # when the latest store call was sent

    # -- lifecycle ---------------------------------------------------------------------------
    def run(self) -> int:
        store.open_store(self.location, verify=True)
        reaper.become_subreaper()  # a job's orphans come back to us, to be killed with the job
        self.channel = store.wake_channel(self.id)
        signal.set_wakeup_fd(self.channel.signal_fd, warn_on_full_buffer=False)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a closed terminal is not a request to stop
        self._retrying(store.register_worker, self.id, self.host, os.getpid(), os.getppid())
        self.guard = runner.JobGuard()
        self.say("started")
        try:
            self._loop()
        finally:
            self.guard.close()
            signal.set_wakeup_fd(-1)
            self.channel.close()
            try:
                store.unregister_worker(self.id)
            except StoreError:
                pass  # its heartbeat stops; others forget it after the liveness window
        self.say("stopped")
        return 0

    def _on_signal(self, signum, frame) -> None:
        if self.stopping:
            self.hard_stop = True
        self.stopping = True

    def say(self, text: str) -> None:
        if not self.quiet:
            self.quiet = not say(f"[{self.name}] {text}")

    def _loop(self) -> None:
        claim = None
        while claim is not None or not self.stopping:  # a job already claimed is always run
            if claim is None:
                self.channel.drain()
                claim = self._retrying(store.claim, self.id, self.host, self.queues)
            if claim is not None:
                claim = self._run_job(claim)
                continue
            if self.burst and not self._retrying(store.has_burst_work, self.queues):
                return
            self._idle_chores()
            if self.stopping:
                return
            due = self._retrying(store.next_due)
            # a burst worker waiting for others to finish looks often: nothing wakes it for that
            longest = BURST_POLL_SECONDS if self.burst else IDLE_POLL_SECONDS
            pause = longest if due is None else min(longest, max(0.0, due - store.now()))
            self.channel.wait(min(pause, self._next_beat_in()))

    def _next_beat_in(self) -> float:
        return max(0.0, self._last_beat + store.HEARTBEAT_SECONDS - time.monotonic())

    def _idle_chores(self) -> None:
        """Heartbeat; now and then recover jobs of workers that vanished, and delete a batch of
        jobs past their retention."""
        if self._next_beat_in() == 0.0:
            self._beat()
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

    def _beat(self, claim: store.Claim | None = None, pgid: int | None = None) -> store.Heartbeat | None:
        """Every second, idle or busy: I am alive; and enqueue the schedules that are due."""
        self._last_beat = time.monotonic()
        try:
            beat = store.heartbeat(self.id, claim, pgid)
            self._beat_went_through()
            for job_id in store.run_due_schedules():
                self.say(f"scheduled job '{job_id}' enqueued")
        except StoreError as exc:
            self._writable_since = None
            self.say(f"heartbeat failed: {exc}")
            return None
        if beat.stop_requested and not self._registered_again():
            self.stopping = True
        return beat

    def _beat_went_through(self) -> None:
        now = time.monotonic()
        if self._writable_since is None or now - self._last_good_beat > 3 * store.HEARTBEAT_SECONDS:
            self._writable_since = now  # the first, or the first after a gap
        self._last_good_beat = now

    def _registered_again(self) -> bool:
        """A worker the store forgot (declared dead while a lock or a freeze kept its heartbeats
        out) is alive: it registers again, rather than leave its supervisor's pool for good
        (exit 0 is not replaced).  Its job, if another worker took it, is killed via owns_job."""
        try:
            if any(w.id == self.id for w in store.workers_of_host(self.host)):
                return False  # a real stop request
            store.register_worker(self.id, self.host, os.getpid(), os.getppid())
        except StoreError:
            return True  # look again at the next heartbeat
        self.say("registered again: the store had declared this worker dead")
        return True

    def _retrying(self, fn, *args):
        """Call a store function until it succeeds: a busy or briefly failing store never
        kills a worker (unless a hard stop is asked for)."""
        while True:
            self._call_sent = time.monotonic()  # (a claim's lease starts no earlier: see fence.py)
            try:
                return fn(*args)
            except StoreError as exc:
                if self.hard_stop:
                    raise
                self.say(f"store error, retrying: {exc}")
                time.sleep(STORE_RETRY_SECONDS)

    # -- one job -----------------------------------------------------------------------------
    def _run_job(self, claim: store.Claim) -> store.Claim | None:
        """Run one job and record it; returns the next job, claimed in the same transaction."""
        self.say(f"processing job '{claim.id}' (attempt {claim.attempt})")
        self.guard.renew(fence.deadline(self._call_sent, claim.lease_seconds))
        stdout_path, stderr_path = store.attempt_paths(self.location.logs_dir, claim.id, claim.attempt)
        env = dict(os.environ, **(claim.env or {}), QUEUECTL_JOB_ID=claim.id, QUEUECTL_ATTEMPT=str(claim.attempt))
        try:
            running = runner.Running(claim.command, stdout_path, stderr_path, claim.max_log_bytes, env, self.guard,
                                     claim.cwd)  # fmt: skip
        except runner.StartError as exc:  # the attempt fails, not the worker
            outcome = runner.Outcome(None, 0.0, str(exc))
        else:
            self._last_beat = time.monotonic()  # the claim was a heartbeat

            def tick() -> None:
                if self.hard_stop:
                    running.kill("killed: its worker was stopped", grace=1.0)
                    return
                beat = self._beat(claim, running.pgid)
                if beat is not None and beat.owns_job:
                    self.guard.renew(fence.deadline(self._last_beat, claim.lease_seconds))
                elif beat is not None:
                    running.kill("cancelled", grace=1.0)
                if time.monotonic() > self.guard.deadline:
                    running.kill(f"fenced: its lease went {fence.FRACTION * claim.lease_seconds:g}s without renewal",
                                 grace=0.0)  # fmt: skip

            beat_every = fence.beat_every(claim.lease_seconds, store.HEARTBEAT_SECONDS)
            outcome = running.wait(claim.timeout, tick, beat_every, self.channel)
        if self.stopping:
            state, following = self._retrying(store.finish, claim, self.id, outcome.error, outcome.exit_code), None
        else:
            (state,), claims = self._retrying(
                store.finish_batch, [store.Finished(claim, outcome.error, outcome.exit_code)], self.id, self.host, 1,
                self.queues,
            )
            following = claims[0] if claims else None
        self._report(claim, state, outcome)
        return following

    def _report(self, claim: store.Claim, state: str, outcome: runner.Outcome) -> None:
        if state == "completed":
            self.say(f"completed job '{claim.id}' in {outcome.duration:.2f}s")
        elif state == "failed":
            self.say(f"job '{claim.id}' failed ({outcome.error}); it will be retried")
        elif state == "dead":
            self.say(f"job '{claim.id}' failed ({outcome.error}); moved to the dead-letter queue")
        else:
            self.say(f"job '{claim.id}' ended as {state} ({outcome.error})")


def main(argv: list[str] | None = None) -> int:
    import argparse

    from .paths import resolve

    parser = argparse.ArgumentParser(prog="python -m queuectl.worker", description="one queuectl worker")
    parser.add_argument("--id", required=True)
    parser.add_argument("--name", default="worker")
    parser.add_argument("--burst", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--queue", action="append", default=[])
    args = parser.parse_args(argv)
    try:
        return Worker(resolve(), args.id, args.name, args.burst, args.quiet, tuple(args.queue)).run()
    except StoreError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except StoreUnusable as exc:  # damaged, not ours, planted: retrying cannot help
        print(f"Error: {exc}", file=sys.stderr)
        return ExitCode.UNUSABLE


if __name__ == "__main__":
    sys.exit(main())
