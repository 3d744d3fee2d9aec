"""Every operation a person can ask for, once: the `queuectl` commands and the dashboard call
these, so a rule (the local kill after a cancel, the bound of a priority, which dependencies a
blocked job still waits for) lives in one place.

The store does single transitions; an operation here is what a person means by one word:
"cancel" is the store's cancel plus the kill of a command running on this host, "retry this
group" is finding the group and retrying it, "show" is the job with its links and attempts.
No Textual and no click here; errors are QueuectlErrors with one-line messages.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import store
from .errors import InvalidState, NotFound, QueuectlError
from .states import FINISHED, JobState

#: the most of a log `read_output` gives by default (store.logfiles.TAIL_BYTES: the store's modules
#: load only when an operation runs, so that a command that calls one starts quickly)
TAIL_BYTES = 1024 * 1024

if TYPE_CHECKING:
    from .execution.supervisor import Child
    from .paths import Location
    from .spec import JobSpec
    from .store import AttemptView, Enqueued, JobView, LogRead


# -- adding jobs -------------------------------------------------------------------------------
def enqueue_one(spec: JobSpec) -> Enqueued:
    """Add one job (`add`, `enqueue JSON`, the dashboard's new-job form).  One whose unique key
    an unfinished job holds is not added: the entry names that job (duplicate=True)."""
    return store.enqueue([spec])[0]


def enqueue_batch(specs: list[JobSpec]) -> list[Enqueued]:
    """Add jobs in one transaction, all of them or none (`enqueue -`, `enqueue --file`)."""
    return store.enqueue(list(specs))


def enqueue_batches(batches: Iterable[list[JobSpec]], report: Callable[[list[Enqueued]], None]) -> None:
    """Add more jobs than memory should hold (`add --each`, `enqueue -`), in one transaction: each
    batch is inserted as it comes and its entries handed to report."""
    store.enqueue_batches(batches, report)


# -- changing jobs -----------------------------------------------------------------------------
def cancel(job_id: str) -> store.Cancelled:
    """Cancel a job; a command running on this host has its process group killed now (a
    remote worker notices at its next heartbeat and kills it there)."""
    from .execution import runner
    from .execution.worker import host_id

    result = store.cancel(job_id)
    if result.pgid and result.host == host_id():
        runner.kill_group(result.pgid)
    return result


def cancel_jobs(job_ids: list[str]) -> list[str]:
    return each(job_ids, cancel)


def pause(job_ids: list[str]) -> list[str]:
    """Pause jobs: a waiting one is not claimed until resumed (pueue's stash); a running one's
    whole process group is stopped by the worker that runs it, on whatever host (its timeout
    clock stops meanwhile).  Cancelling a paused job kills it."""
    return each(job_ids, lambda job_id: store.set_paused(job_id, True))


def resume(job_ids: list[str]) -> list[str]:
    """Paused jobs go on: a waiting one may be claimed, a running one continues (SIGCONT)."""
    return each(job_ids, lambda job_id: store.set_paused(job_id, False))


def jobs_with_label(label: str, states: Iterable[str] | None = None) -> list[str]:
    """The ids of the jobs with this label (in these states; None: unfinished ones), oldest
    first: what `cancel --label` and `retry --label` act on."""
    from .store import JobFilter

    unfinished = [s.value for s in JobState if s.value not in FINISHED]
    return store.ids_matching(list(states) if states is not None else unfinished, JobFilter(label=label))


def retry(job_ids: list[str], with_dependents: bool = False) -> list[str]:
    """Finished jobs (completed, dead, cancelled) run again, in one transaction; with_dependents,
    the cancelled jobs downstream of them too (listed after them), blocked until their
    dependencies allow them."""
    return store.retry(list(job_ids), with_dependents=with_dependents)


def retry_dead(
    job_ids: list[str] | None = None, contains: str | None = None, with_dependents: bool = False
) -> list[str]:
    """Dead jobs back to pending: these ids, those whose id, command or error contains a text,
    or (neither given) every dead job, in one statement however many there are (with their
    cancelled dependents: see retry)."""
    if job_ids is None and contains is None:
        return store.retry_dead(with_dependents=with_dependents)
    ids = list(job_ids) if job_ids is not None else store.dead_jobs(contains)
    return store.retry(ids, only_state=JobState.DEAD.value, with_dependents=with_dependents) if ids else []


def cancelled_dependents(job_ids: list[str]) -> list[str]:
    """The cancelled jobs downstream of these: what stays cancelled after a retry of them
    without with_dependents (a retry says so)."""
    return store.cancelled_dependents(list(job_ids))


def dead_group(exit_code: int | None, error: str | None) -> list[str]:
    """The dead jobs with this exit code and error (one row of `dlq list --group-by error`)."""
    return store.dead_ids_by_error(exit_code, error)


def retry_dead_group(exit_code: int | None, error: str | None) -> list[str]:
    """The group as it is now (jobs may have left or joined it since it was shown)."""
    return retry_dead(dead_group(exit_code, error))


def set_priority(job_ids: list[str], priority: int) -> list[str]:
    """A new priority for waiting jobs; the store refuses one out of bounds."""
    return each(job_ids, lambda job_id: store.set_priority(job_id, priority))


def edit_job(job_id: str, changes: dict) -> JobView:
    """Change a waiting job (pending, blocked, or failed awaiting its retry); returns it as saved.

    changes: {field: value} for the fields of spec.EDITABLE (command, priority, queue, env, cwd,
    run_at, timeout, max_retries, labels, on_finish), values as in enqueue's JSON (run_at an ISO
    8601 string or "now"; labels a list; None, or an empty env or labels, clears env, cwd,
    labels and on_finish).  Every value is checked before anything is
    written (InputError), and the whole edit is saved in one transaction only if the job is still
    waiting then (InvalidState otherwise, NotFound for an unknown id): nothing is half-saved.
    """
    from .spec import validate_changes

    return store.edit_job(job_id, validate_changes(changes))


def retry_edited(job_id: str, changes: dict, with_dependents: bool = False) -> JobView:
    """A finished job (completed, dead, cancelled) edited as edit_job does and sent back to
    pending, in one transaction (with its cancelled dependents: see retry)."""
    from .spec import validate_changes

    return store.edit_job(
        job_id, validate_changes(changes), states=FINISHED, then_retry=True, with_dependents=with_dependents
    )


def job_to_edit(job_id: str, finished: bool = False) -> JobView:
    """The job, if it may be edited now (waiting; finished ones for retry_edited): checked
    before an editor opens, and again by the save, since the job may start meanwhile."""
    from .store.jobs import not_editable

    job = store.get_job(job_id)
    states = FINISHED if finished else store.WAITING
    if job.state not in states:
        raise not_editable(job_id, job.state, states)
    return job


def editable(job: JobView) -> dict:
    """A job's editable fields as edit_job takes them (run_at as ISO 8601, cwd None if unset)."""
    from .spec import EDITABLE
    from .store.views import iso

    return {name: iso(job.run_at) if name == "run_at" else getattr(job, name) for name in EDITABLE}


def jobs_now(job_ids: Iterable[str]) -> dict[str, JobView]:
    """The jobs as they are now, by id (an unknown id is left out): what an undo puts back."""
    found = {}
    for job_id in job_ids:
        try:
            found[job_id] = store.get_job(job_id)
        except NotFound:
            pass
    return found


def uncancel(job_ids: list[str]) -> list[str]:
    """The undo of a cancel of jobs that had not started: each waits again (blocked while a
    dependency is unfinished; a scheduled one keeps its time), with the jobs the cancel took
    along (its cancelled dependents).  Refused whole (InvalidState) when one of them is not
    cancelled or had started: then a retry runs it again, attempts reset."""
    from .store.views import iso

    jobs = [store.get_job(job_id) for job_id in job_ids]
    for job in jobs:
        if job.state != JobState.CANCELLED.value:
            raise InvalidState(f"job {job.id!r} is {job.state} now, not cancelled")
        if job.attempts:
            raise InvalidState(f"job {job.id!r} had started (attempt {job.attempts}); r retries it instead")
    later = [job for job in jobs if job.run_at > store.now()]
    done = store.retry([j.id for j in jobs if j not in later], with_dependents=True) if len(later) < len(jobs) else []
    for job in later:  # (a retry would make it due now)
        retry_edited(job.id, {"run_at": iso(job.run_at)}, with_dependents=True)
        done.append(job.id)
    return done


def delete(job_ids: list[str]) -> list[str]:
    """Finished jobs, their attempts and their logs, gone; nothing is deleted when one of them
    does not exist or has not finished."""
    states = store.states_of(job_ids)
    for job_id in job_ids:
        if job_id not in states:
            raise NotFound(f"no job {job_id!r}")
        if states[job_id] not in FINISHED:
            raise InvalidState(f"job {job_id!r} is {states[job_id]}; cancel it before deleting it")
    return each(job_ids, store.delete_job)


def prunable(older_than: float, states: list[str] | None = None) -> list[str]:
    """The finished jobs (of these states) a prune would delete now (`prune --dry-run`)."""
    return store.prune(states, older_than, dry_run=True)


def prune_count(older_than: float, states: list[str] | None = None) -> int:
    """How many finished jobs (of these states) a prune would delete now (what the dashboard
    asks about before it prunes)."""
    return len(prunable(older_than, states))


def prune(older_than: float, states: list[str] | None = None) -> list[str]:
    """Delete finished jobs that ended more than older_than seconds ago, attempts and logs too."""
    return store.prune(states, older_than)


def each(job_ids: Iterable[str], op: Callable[[str], object]) -> list[str]:
    """Apply op to each job; one failure does not stop the others, and the first is raised
    (with how many more failed) after all were tried.  Returns the ids that succeeded."""
    done, errors = [], []
    for job_id in job_ids:
        try:
            op(job_id)
            done.append(job_id)
        except QueuectlError as exc:
            errors.append(exc)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise type(errors[0])(f"{errors[0]}{more}")
    return done


def spec_json(spec: JobSpec, job_id: str) -> str:
    """The `queuectl enqueue` argument that adds this job again (the fields that were given)."""
    import json
    from dataclasses import fields

    from .store.views import iso

    data = {"id": job_id}
    for field in fields(spec):
        value = getattr(spec, field.name)
        if field.name != "id" and value != field.default and value not in (None, (), {}):
            data[field.name] = (
                iso(value) if field.name == "run_at" else list(value) if isinstance(value, tuple) else value
            )
    return json.dumps(data, ensure_ascii=False)


# -- reading a job -----------------------------------------------------------------------------
@dataclass(frozen=True)
class JobDetail:
    job: JobView
    depends_on: list[JobView]
    dependents: list[JobView]
    runs: list[AttemptView]


def job_detail(job_id: str, max_links: int | None = None) -> JobDetail:
    """A job, its dependencies and dependents (one query) and its attempt history."""
    job = store.get_job(job_id)
    depends_on, dependents = store.linked_jobs(job_id, max_links)
    return JobDetail(job, depends_on, dependents, store.attempts(job_id))


def waiting_for(jobs: list[JobView]) -> dict[str, list[str]]:
    """For the blocked ones among these jobs, the dependencies not completed yet."""
    return store.waiting_for(jobs)


# -- output ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Output:
    """What one read of an attempt's logs found (runs: every attempt of the job)."""

    job: JobView
    runs: list[AttemptView]
    run: AttemptView | None
    stdout: LogRead
    stderr: LogRead

    @property
    def offsets(self) -> tuple[int | None, int | None]:
        return self.stdout.offset, self.stderr.offset


def read_output(
    job_id: str,
    attempt: int | None = None,
    offsets: tuple[int | None, int | None] = (None, None),
    max_bytes: int | None = TAIL_BYTES,  # (logfiles.TAIL_BYTES; checked equal by tests/test_quick.py)
) -> Output:
    """An attempt's output (the latest when attempt is None) since the offsets a previous read
    returned: the one incremental reader of `logs`, `logs --follow` and the dashboard."""
    job = store.get_job(job_id)
    runs = store.attempts(job_id)
    if attempt is None:
        run = runs[-1] if runs else None
    else:
        run = next((a for a in runs if a.number == attempt), None)
        if run is None:
            raise NotFound(f"job {job_id!r} has no attempt {attempt}")
    if run is None:
        from .store import LogRead

        empty = LogRead(b"", None, False)
        return Output(job, runs, None, empty, empty)
    return Output(
        job,
        runs,
        run,
        store.read_log(run.stdout_path, offsets[0], max_bytes),
        store.read_log(run.stderr_path, offsets[1], max_bytes),
    )


def no_attempt(job: JobView) -> str:
    """What `logs` says of a job without an attempt: a finished one may have none (cancelled
    while waiting, or run before an upgrade that lost its history), so never "has not run"."""
    return f"job {job.id!r} is {job.state}: no attempt recorded"


# -- waiting -----------------------------------------------------------------------------------
#: a safety net: look at the store at least this often, even without a notification
WAIT_POLL_SECONDS = 1.0


def wait_for_jobs(job_ids: list[str], timeout: float | None) -> dict[str, str | None]:
    """Sleep until the jobs end, woken by the store's job-ended notifications: each job's final
    state, or None for those still unfinished when the timeout came."""
    for job_id in job_ids:
        store.get_job(job_id)  # an unknown id is an error now, not after the wait
    deadline = None if timeout is None else time.monotonic() + timeout
    channel = store.wake_channel(f"wait-{os.getpid()}", watcher=True)
    try:
        while True:
            channel.drain()
            states = {job_id: store.get_job(job_id).state for job_id in job_ids}
            if all(state in FINISHED for state in states.values()):
                return states
            left = WAIT_POLL_SECONDS if deadline is None else min(WAIT_POLL_SECONDS, deadline - time.monotonic())
            if left <= 0:
                return {job_id: state if state in FINISHED else None for job_id, state in states.items()}
            channel.wait(left)
    finally:
        channel.close()


@dataclass(frozen=True)
class WaitState:
    job: JobView
    #: a blocked job's dependencies not completed yet, with their states
    waits: list[tuple[str, str | None]]


def wait_state(job_id: str) -> WaitState:
    """One look at a job being waited for (the dashboard's `w`)."""
    job = store.get_job(job_id)
    deps = store.waiting_for([job]).get(job.id, [])
    states = store.states_of(deps)
    return WaitState(job, [(dep, states.get(dep)) for dep in deps])


# -- queues and schedules ------------------------------------------------------------------------
def pause_queue(name: str, paused: bool = True) -> None:
    (store.pause_queue if paused else store.resume_queue)(name)


def limit_queue(name: str, limit: int | str | None) -> int | None:
    """A limit given as a number, None, or typed text ('none' lifts it); returns it."""
    from .spec import parse_queue_limit

    max_running = parse_queue_limit(limit) if isinstance(limit, str) else limit
    store.limit_queue(name, max_running)
    return max_running


def pause_schedule(name: str, paused: bool = True) -> None:
    store.pause_schedule(name, paused=paused)


def run_schedule(name: str) -> str:
    """Enqueue a schedule's job once, now; returns the new job's id."""
    return store.run_schedule_now(name)


def remove_schedule(name: str) -> None:
    store.remove_schedule(name)


def schedule_errors(name: str, cron: str, tz: str, overlap: str) -> dict[str, str]:
    """Each bad field of a schedule and why, all at once (the new-schedule form shows every
    one); the store's rule, the same one add_schedule refuses with."""
    return store.schedule_errors(name, cron, tz, overlap)


def add_schedule(name: str, cron: str, job: dict, tz: str = "UTC", overlap: str = "allow") -> store.ScheduleView:
    """A recurring job: every tick of cron (read in tz) enqueues one; refused whole, with the
    first bad field named, when any field is wrong (a cron with no next run among them)."""
    return store.add_schedule(name, cron, job, tz=tz, overlap=overlap)


# -- workers -----------------------------------------------------------------------------------
def stop_all_workers(host: str | None = None) -> list:
    """Ask every worker (or those of one host) to finish its current job and exit."""
    return store.request_stop(host)


def stop_worker(worker_id: str, now: bool = False) -> store.WorkerView:
    """Ask one worker, on any host, to finish its job and exit (now: its running jobs are
    killed and retried): through the store, so it reads `stopping` everywhere until it has."""
    asked = store.request_stop(worker_id=worker_id, now=now)
    if not asked:
        raise NotFound(
            f"no worker {worker_id!r} is registered (it may have stopped already; see 'queuectl worker list')"
        )
    return asked[0]


def stop_host(host: str) -> list:
    """Ask one machine's workers to finish their jobs and exit: through the store, so it works
    from any host (they see it at their next heartbeat, or at once through a wake-up), and
    their supervisor exits once they have."""
    asked = store.request_stop(host)
    if not asked:
        raise NotFound(f"no worker is registered on host {host!r} (see 'queuectl host list')")
    return asked


class LocalWorkers:
    """Worker processes this process starts and stops (the dashboard's + and -), through the
    Supervisor.  Unlike `worker start`, nothing restarts a worker that dies: reap() reports it,
    and recover_dead_worker() fails its attempt at once.

    Start them from the main thread: on Linux a worker gets a parent-death SIGTERM when the
    thread that forked it ends, so one forked from a short-lived thread would stop with it."""

    def __init__(self, location: Location) -> None:
        from .execution.supervisor import Supervisor

        self.supervisor = Supervisor(location, 0, quiet=True)

    def start(self) -> Child:
        return self.supervisor.spawn()

    def running(self) -> list[Child]:
        return self.supervisor.running()

    def stop(self, worker_id: str | None = None) -> Child | None:
        """Ask one worker started here and not asked yet to finish its job and exit: this one
        (never another), or with no id the newest; None when there is no such worker."""
        left = [child for child in self.running() if not child.signalled and worker_id in (None, child.id)]
        child = left[-1] if left else None
        if child is not None:
            self.supervisor.stop(child)
        return child

    def stop_all(self) -> None:
        """Each running worker gets one more stop signal: the first lets its job finish, the
        second kills the job (recorded as a failed attempt, so it is retried)."""
        for child in self.running():
            self.supervisor.stop(child)

    def reap(self) -> list[tuple[Child, str]]:
        """The workers that exited since the last look and died, with why (a job's last error)."""
        from .execution.supervisor import death_reason

        return [(child, death_reason(code)) for child, code in self.supervisor.reap()]


def recover_dead_worker(worker_id: str, reason: str) -> None:
    """A worker of this host died: kill what it left, fail its attempt (the job is retried)."""
    from .execution.supervisor import recover_dead_worker

    recover_dead_worker(worker_id, reason)


# -- settings --------------------------------------------------------------------------------
def set_setting(key: str, text: str) -> int | float:
    """Validate and store one setting (`config set`); returns its value as stored."""
    return store.set_config(key, text)


def set_config(changes: dict[str, str]) -> dict:
    """Validate and store several settings; returns every setting as stored now."""
    for key, text in changes.items():
        set_setting(key, text)
    return store.get_config()
