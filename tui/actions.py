"""Every action of the dashboard, in one place: the panes and the palette post ActionRequested,
this module refuses the ones that write in read-only mode (the one check), asks for confirmation
where an action is hard to undo, runs the engine's operation (queuectl.ops) off the UI thread,
reports it and logs the `queuectl …` command that does the same.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from textual import work

from queuectl import ops
from queuectl.errors import NotFound, QueuectlError
from queuectl.jobdoc import assignment
from queuectl.paths import Location
from queuectl.render import clean
from queuectl.settings import format_duration
from queuectl.states import JobState

from .keymap import WRITE_REQUESTS
from .messages import ActionDone, ActionRequested
from .screens.confirm import ConfirmScreen
from .screens.forms import (
    EditJobScreen,
    NewJobScreen,
    ScheduleFormScreen,
    limit_screen,
    older_than_screen,
    priority_screen,
)
from .screens.job_detail import JobDetailScreen
from .screens.wait import WaitScreen

#: the actions that change the store or start and stop processes: refused in read-only mode
#: (made from the action table, tui/keymap.py)
WRITES = WRITE_REQUESTS


def q(text: str) -> str:
    return shlex.quote(text)


def plural(n: int, word: str) -> str:
    """'1 dead job', '3 dead jobs'."""
    return f"{n:,} {word}{'s' * (n != 1)}"


def jobs_phrase(ids: list[str]) -> str:
    """'job build-1' or '3 jobs'."""
    return f"job {ids[0]}" if len(ids) == 1 else f"{len(ids):,} jobs"


@dataclass
class Undo:
    """How to take back one change made here: `what` it puts back, the operation (through
    queuectl.ops, off the UI thread) and its CLI twin; or, for a change that cannot be taken
    back, why not (`refusal`)."""

    what: str
    fn: Callable[[], Any] | None = None
    cli: str = ""
    refusal: str = ""


def priority_cli(job_id: str, value: int) -> str:
    return f"queuectl priority {q(job_id)} -- {value}" if value < 0 else f"queuectl priority {q(job_id)} {value}"


def _priority_undo(prior: dict, ids: list[str], value: int) -> Undo:
    """Put each job's priority back; jobs sharing a prior value in one call."""
    before = {i: prior[i].priority for i in ids if i in prior}
    groups: dict[int, list[str]] = {}
    for job_id, old in before.items():
        groups.setdefault(old, []).append(job_id)
    shown = ", ".join(f"{i} {old}" for i, old in list(before.items())[:3]) + (" …" if len(before) > 3 else "")
    return Undo(
        f"priority back ({shown})",
        lambda: [ops.set_priority(group, old) for old, group in groups.items()],
        "; ".join(priority_cli(i, old) for i, old in before.items()),
    )


class DashboardActions:
    """Mixed into the App: `readonly`, `commands` (the command log) and `local_workers` are its."""

    readonly: bool
    commands: list[str]
    local_workers: ops.LocalWorkers
    quitting: bool
    location: Location
    #: the changes made here that `u` can take back, the last one last
    undos: list[Undo]

    # -- dispatch --------------------------------------------------------------------------
    def on_action_requested(self, message: ActionRequested) -> None:
        message.stop()
        self.request(message.action, *message.args)

    def request(self, action: str, *args: Any) -> None:
        """Carry out one named action (the one place that knows read-only)."""
        if action in WRITES and self.readonly:
            self.notify("read-only: actions are off", severity="warning")
            return
        getattr(self, f"do_{action}")(*args)

    def act(
        self,
        fn: Callable[..., Any],
        *args: Any,
        done: str | Callable[[Any], str] | None = None,
        cli: str | Callable[[Any], str] | None = None,
        then: Callable[[Any], None] | None = None,
        undo: Callable[[Any], Undo] | None = None,
        refuse: str = "",
    ) -> None:
        """Run one operation off the UI thread; report it, log its CLI twin, refresh.  Once it
        is done, `u` can take it back with undo(result), or says why not (refuse)."""
        if undo or refuse:
            first = then

            def then(result: Any) -> None:
                self.remember(undo(result) if undo else Undo("", refusal=refuse))
                if first:
                    first(result)

        self._act(fn, args, done, cli, then)

    @work(thread=True, group="actions")
    def _act(self, fn, args, done, cli, then) -> None:
        try:
            result, error = fn(*args), None
        except QueuectlError as exc:
            result, error = None, exc
        except Exception as exc:  # never a traceback on screen
            result, error = None, RuntimeError(f"internal error: {type(exc).__name__}: {exc}")
        self.post_message(ActionDone(result, error, then, done, cli))

    def on_action_done(self, message: ActionDone) -> None:
        if message.error is not None:
            self.notify(str(message.error), title="Not done", severity="error")
        else:
            text = message.done(message.result) if callable(message.done) else message.done
            if text:
                self.notify(text)
            line = message.cli(message.result) if callable(message.cli) else message.cli
            if line:
                self.log_command(line)
            if message.then:
                message.then(message.result)
        self.pane().reload()
        for screen in self.screen_stack:  # a job view acted from shows the job as it is now
            if isinstance(screen, JobDetailScreen):
                screen.load()
        self.refresh_status()

    def remember(self, undo: Undo) -> None:
        self.undos.append(undo)
        del self.undos[:-50]

    def do_undo(self) -> None:
        """u: take back the last change made here, or say why it cannot be."""
        if not self.undos:
            self.notify("nothing to undo: no change was made from this dashboard yet", severity="warning")
            return
        last = self.undos.pop()
        if last.refusal:
            self.notify(f"cannot undo: {last.refusal}", title="Not undone", severity="warning")
            return
        self.act(last.fn, done=f"undone: {last.what}", cli=last.cli)

    def log_command(self, line: str) -> None:
        self.commands.extend(line.split("; "))

    def confirm(self, title: str, body: str, yes: str, then: Callable[[], None]) -> None:
        """Ask first (No is the default); then() runs on yes."""
        self.push_screen(ConfirmScreen(title, body, yes), lambda answer: answer and then())

    def do_confirm(self, title: str, body: str, yes: str, then: Callable[[], None]) -> None:
        """A dialog's own question (the edit form's Save & retry), asked over it."""
        self.confirm(title, body, yes, then)

    # -- jobs ------------------------------------------------------------------------------
    def do_retry(self, ids: list[str]) -> None:
        """Run finished jobs again, in one transaction."""
        self.act(
            ops.retry,
            ids,
            done=f"retrying {jobs_phrase(ids)}",
            cli="queuectl retry " + " ".join(map(q, ids)),
            refuse=f"the retry of {jobs_phrase(ids)}: it may have run already (c cancels it)",
        )

    def do_retry_dead(self, ids: list[str]) -> None:
        self.act(
            ops.retry_dead,
            ids,
            done=f"retrying {jobs_phrase(ids)} from the DLQ",
            cli="; ".join(f"queuectl dlq retry {q(i)}" for i in ids),
            refuse=f"the retry of {jobs_phrase(ids)}: it may have run already (c cancels it)",
        )

    def do_retry_group(self, exit_code: int | None, error: str | None) -> None:
        """The grouped DLQ's retry: every dead job with this exit code and error, after a confirm
        with the count."""
        self._group_ids(exit_code, error)

    @work(thread=True, group="actions")
    def _group_ids(self, exit_code: int | None, error: str | None) -> None:
        try:
            ids = ops.dead_group(exit_code, error)
        except QueuectlError as exc:
            self.call_from_thread(self.notify, str(exc), title="Not done", severity="error")
            return
        self.call_from_thread(self._confirm_group, exit_code, error, ids)

    def _confirm_group(self, exit_code: int | None, error: str | None, ids: list[str]) -> None:
        if not ids:
            self.notify("that group has no dead jobs any more", severity="warning")
            return
        code = "no exit code" if exit_code is None else f"exit code {exit_code}"
        body = (
            f"Send {len(ids):,} dead job{'s' * (len(ids) != 1)} back to pending, attempts reset:\n"
            f"{code} · {clean(error or '', 120)}\n" + ", ".join(ids[:8]) + (" …" if len(ids) > 8 else "")
        )

        def go() -> None:
            self.act(
                ops.retry_dead_group,
                exit_code,
                error,
                done=lambda got: f"retrying {plural(len(got), 'job')} from the DLQ",
                cli=lambda got: "; ".join(f"queuectl dlq retry {q(i)}" for i in got),
                refuse="a retry of a DLQ group: its jobs may have run already",
            )

        self.confirm(f"Retry {plural(len(ids), 'dead job')}?", body, f"Retry {len(ids):,}", go)

    def do_retry_all_dead(self, count: int | None = None) -> None:
        body = "Send every dead job back to pending, attempts reset; they will run again."
        if count:
            body = f"Send all {count:,} dead jobs back to pending, attempts reset; they will run again."
        self.confirm(
            "Retry all dead jobs?",
            body,
            "Retry all",
            lambda: self.act(
                ops.retry_dead,
                done=lambda ids: f"retrying {plural(len(ids), 'job')} from the DLQ",
                cli="queuectl dlq retry --all",
                refuse="a retry of every dead job: they may have run already",
            ),
        )

    def do_cancel(self, ids: list[str], running: list[str]) -> None:
        # always asked: a cancelled job cannot be brought back
        lines = [
            f"Cancel {jobs_phrase(ids)}? Jobs that depend on it are cancelled too (unless their policy is 'finish')."
        ]
        if running:
            lines.append(f"{len(running)} running: its process tree will be killed ({', '.join(running[:5])}).")
        lines.append("Jobs: " + ", ".join(ids[:10]) + (" …" if len(ids) > 10 else ""))
        self.confirm(
            "Cancel",
            "\n".join(lines),
            "Cancel jobs",
            lambda: self.act(
                lambda: (ops.jobs_now(ids), ops.cancel_jobs(ids)),
                done=f"cancelled {jobs_phrase(ids)}",
                cli="; ".join(f"queuectl cancel {q(i)}" for i in ids),
                undo=lambda result: _cancel_undo(result[0], ids),
            ),
        )

    def do_delete(self, ids: list[str]) -> None:
        refuse = f"the delete of {jobs_phrase(ids)}: deleted jobs are gone, attempts and logs too"
        body = f"Delete {jobs_phrase(ids)}, attempts and logs included? This cannot be undone.\n" + ", ".join(ids[:10])
        self.confirm(
            "Delete",
            body,
            "Delete",
            lambda: self.act(
                ops.delete,
                ids,
                done=f"deleted {jobs_phrase(ids)}",
                cli="queuectl delete " + " ".join(map(q, ids)),
                refuse=refuse,
            ),
        )

    def do_new_job(self) -> None:
        def created(added: tuple[str, object] | None) -> None:
            if added:
                job_id, spec = added
                self.notify(f"enqueued {job_id}")
                self.log_command("queuectl enqueue " + q(ops.spec_json(spec, job_id)))
                self.remember(Undo("", refusal=f"a new job ({job_id}) is not taken back: c cancels it"))
                self.pane("jobs").show_new(job_id)

        self.push_screen(NewJobScreen(), created)

    def do_edit_job(self, job_id: str, finished: bool) -> None:
        """e: the new-job form pre-filled with a waiting job (a finished one: edit, then retry);
        the job is read off the UI thread and refused at once if it cannot be edited now."""
        self.act(lambda: ops.job_to_edit(job_id, finished=finished), then=self._edit_form)

    def _edit_form(self, job) -> None:
        def edited(done) -> None:
            if done is None:
                return
            verb = "retry" if done.retried else "edit"
            self.notify(f"retrying {done.job_id}" if done.retried else f"{done.job_id} edited")
            self.log_command(f"queuectl {verb} {q(done.job_id)}{_sets(done.changes)}")
            self.remember(_edit_undo(done, prior))
            self.pane().reload()

        finished = job.state in ops.FINISHED
        prior = ops.editable(job)
        self.push_screen(EditJobScreen(job.id, job.state, ops.editable(job), retry=finished), edited)

    def do_prune(self) -> None:
        """Ask how old, count what that deletes (off the UI thread), ask again with the count."""

        def chosen(seconds: float | None) -> None:
            if seconds is not None:
                self.act(ops.prune_count, seconds, then=lambda n: self._confirm_prune(seconds, n))

        self.push_screen(older_than_screen(), chosen)

    def _confirm_prune(self, seconds: float, count: int) -> None:
        age = format_duration(seconds)
        if not count:
            self.notify(f"no finished job ended more than {age} ago: nothing to prune")
            return
        body = (
            f"Delete {plural(count, 'finished job')} (completed, dead, cancelled) that ended more than {age} ago, "
            "with their attempts and logs? This cannot be undone."
        )
        self.confirm(
            f"Prune {plural(count, 'job')}?",
            body,
            f"Delete {count:,}",
            lambda: self.act(
                ops.prune,
                seconds,
                done=lambda ids: f"pruned {plural(len(ids), 'job')}",
                cli=f"queuectl prune --older-than {age}",
                refuse="a prune: the deleted jobs are gone, attempts and logs too",
            ),
        )

    def do_priority(self, ids: list[str], current: int) -> None:
        def chosen(value: int | None) -> None:
            if value is not None:
                self.act(
                    lambda: (ops.jobs_now(ids), ops.set_priority(ids, value)),
                    done=f"priority {value} for {jobs_phrase(ids)}",
                    cli="; ".join(priority_cli(i, value) for i in ids),
                    undo=lambda result: _priority_undo(result[0], result[1], value),
                )

        self.push_screen(priority_screen(current, len(ids)), chosen)

    def do_pause(self, ids: list[str], paused: bool) -> None:
        """Pause (or resume) jobs: waiting ones are not started; running ones are stopped by
        their worker, wherever it runs."""
        verb, back = ("pause", "resume") if paused else ("resume", "pause")

        def undo(done: list[str]) -> Undo:
            return Undo(
                f"{back}d {jobs_phrase(done)}",
                lambda: (ops.resume if paused else ops.pause)(done),
                f"queuectl {back} " + " ".join(map(q, done)),
            )

        self.act(
            ops.pause if paused else ops.resume,
            ids,
            done=f"{verb}d {jobs_phrase(ids)}",
            cli=f"queuectl {verb} " + " ".join(map(q, ids)),
            undo=undo,
        )

    def do_open_job(self, job_id: str) -> None:
        self.selected_job_id = job_id
        self.push_screen(JobDetailScreen(job_id))

    def do_wait(self, job_id: str) -> None:
        self.selected_job_id = job_id
        self.push_screen(WaitScreen(job_id))
        self.log_command(f"queuectl wait {q(job_id)}")

    def do_logs(self, job_id: str, follow: bool = True) -> None:
        self.selected_job_id = job_id
        self.show_logs(job_id, follow)

    def do_show_queue(self, name: str) -> None:
        self.pane("jobs").show_queue(name)
        self.action_show_tab("jobs")

    # -- queues and schedules --------------------------------------------------------------
    def do_pause_queue(self, name: str, paused: bool) -> None:
        """p on a queue: resume a paused one at once; pause an active one after a confirm."""
        if paused:
            self._set_paused("queue", ops.pause_queue, name, False)
            return
        body = f"Pause queue {name}? Its waiting jobs stay waiting until it is resumed; running ones finish."
        self.confirm("Pause queue", body, "Pause", lambda: self._set_paused("queue", ops.pause_queue, name, True))

    def _set_paused(self, kind: str, pause: Callable[[str, bool], Any], name: str, paused: bool) -> None:
        """Pause or resume a queue or a schedule (kind), with its CLI twin and its undo."""

        def verb(p: bool) -> str:
            return "pause" if p else "resume"

        self.act(
            pause,
            name,
            paused,
            done=f"{kind} {name} {verb(paused)}d",
            cli=f"queuectl {kind} {verb(paused)} {q(name)}",
            undo=lambda _: Undo(
                f"{kind} {name} {verb(not paused)}d again",
                lambda: pause(name, not paused),
                f"queuectl {kind} {verb(not paused)} {q(name)}",
            ),
        )

    def do_limit_queue(self, name: str, current: int | None) -> None:
        def chosen(value: int | None | bool) -> None:
            if value is False:  # abandoned
                return
            shown = "none" if value is None else str(value)
            before = "none" if current is None else str(current)
            self.act(
                ops.limit_queue,
                name,
                value,
                done=f"queue {name}: limit {shown}",
                cli=f"queuectl queue limit {q(name)} {shown}",
                undo=lambda _: Undo(
                    f"queue {name}: limit {before} again",
                    lambda: ops.limit_queue(name, current),
                    f"queuectl queue limit {q(name)} {before}",
                ),
            )

        self.push_screen(limit_screen(name, current), chosen)

    def do_pause_schedule(self, name: str, paused: bool) -> None:
        self._set_paused("schedule", ops.pause_schedule, name, not paused)

    def do_run_schedule(self, name: str) -> None:
        self.act(
            ops.run_schedule,
            name,
            done=lambda job_id: f"enqueued {job_id}",
            cli=f"queuectl schedule run {q(name)}",
            refuse=f"a run of schedule {name}: its job was enqueued (c cancels it)",
        )

    def do_remove_schedule(self, name: str) -> None:
        body = f"Remove schedule {name}? No more jobs are enqueued for it; jobs it enqueued stay."
        self.confirm(
            "Remove schedule",
            body,
            "Remove",
            lambda: self.act(
                ops.remove_schedule,
                name,
                done=f"schedule {name} removed",
                cli=f"queuectl schedule remove {q(name)}",
                refuse=f"the removal of schedule {name}: n adds it again",
            ),
        )

    def do_add_schedule(self) -> None:
        def added(new) -> None:
            if new is not None:
                self.notify(f"schedule {new.name} added")
                self.remember(Undo("", refusal=f"a new schedule ({new.name}) is not taken back: x removes it"))
                tz = f" --tz {q(new.tz)}" if new.tz != "UTC" else ""
                overlap = f" --overlap {new.overlap}" if new.overlap != "allow" else ""
                self.log_command(
                    f"queuectl schedule add {q(new.name)} {q(json.dumps(new.job))} --cron {q(new.cron)}" + tz + overlap
                )
                self.pane().reload()

        self.push_screen(ScheduleFormScreen(), added)

    def do_save_config(self, changes: dict[str, str], commands: list[str]) -> None:
        self.act(
            ops.set_config,
            changes,
            done=f"saved {', '.join(changes)}",
            cli="; ".join(commands),
            then=self.pane("config").saved,
            refuse="a change of settings: workers may have read it already; set the old values in Config",
        )

    # -- workers ---------------------------------------------------------------------------
    def do_start_worker(self, quiet: bool = False) -> None:
        try:
            child = self.local_workers.start()  # on the UI thread: see ops.LocalWorkers
        except OSError as exc:
            self.notify(f"could not start a worker: {exc}", severity="error")
            return
        self._tell_the_page(len(self.local_workers.running()))
        if not quiet:
            web = " — it stops when this tab closes (the browser asks first)" if self.is_web else ""
            self.notify(f"started {child.name} (pid {child.proc.pid}){web}")
            self.log_command("queuectl worker start --count 1")

    def do_stop_worker(self, worker_id: str | None = None) -> None:
        """This worker (any host; the palette: the newest started here) finishes its job, then
        exits.  Asked through the store, so that it reads `stopping` everywhere; one started
        here also gets its stop signal at once (first: the signal; a later one kills its jobs)."""
        child = self.local_workers.stop(worker_id)
        if worker_id is None:
            if child is None:
                self.notify("no running worker was started here; s asks every worker to stop", severity="warning")
                return
            worker_id = child.id

        def ask() -> None:
            try:
                ops.stop_worker(worker_id)
            except NotFound:
                if child is None:
                    raise  # (one of ours, idle, may have stopped at its signal already)

        self.act(
            ask,
            done=f"stopping {clean(worker_id)}: it finishes its current job first",
            cli=f"queuectl worker stop --id {q(worker_id)}",
        )

    def do_stop_worker_now(self, worker_id: str) -> None:
        """- again on a worker that is stopping: kill its jobs now, after a confirm."""
        body = (
            f"Stop {clean(worker_id)} now, without waiting for its jobs? They are killed; each attempt counts "
            "as failed, so they are retried (or go to the DLQ when out of retries)."
        )
        self.confirm(
            "Stop a worker now",
            body,
            "Stop now",
            lambda: self.act(
                ops.stop_worker,
                worker_id,
                True,
                done=f"stopping {clean(worker_id)} now: its jobs are killed",
                cli=f"queuectl worker stop --id {q(worker_id)} --now",
            ),
        )

    def do_stop_host(self, host: str) -> None:
        self.confirm(
            "Stop a host",
            f"Ask every worker on {clean(host)} to finish its current job and exit? "
            "(Through the store: it works whatever machine that is.)",
            "Stop host",
            lambda: self.act(
                ops.stop_host,
                host,
                done=lambda asked: f"asked {plural(len(asked), 'worker')} on {clean(host)} to stop",
                cli=f"queuectl worker stop --host {q(host)}",
            ),
        )

    def do_stop_all_workers(self) -> None:
        self.confirm(
            "Stop all workers",
            "Ask every worker (all hosts) to finish its current job and exit?",
            "Stop all",
            lambda: self.act(
                ops.stop_all_workers,
                done=lambda asked: f"asked {plural(len(asked), 'worker')} to stop",
                cli="queuectl worker stop",
            ),
        )

    def reap_local_workers(self) -> None:
        """Workers started here that died: say so, and recover their jobs now (off the UI thread)."""
        for child, reason in self.local_workers.reap():
            self.notify(f"{child.name} died ({reason.removeprefix('lost: its worker ')})", severity="warning")
            self._recover(child.id, reason)

    @work(thread=True, group="recover")
    def _recover(self, worker_id: str, reason: str) -> None:
        try:
            ops.recover_dead_worker(worker_id, reason)
        except QueuectlError:
            pass  # its lease runs out and any worker recovers the job

    # -- the screen ------------------------------------------------------------------------
    @property
    def screenshot_folder(self) -> Path:
        """Beside the store (a server store: beside its logs folder)."""
        return (self.location.sqlite_path or self.location.logs_dir).parent

    def do_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """An SVG of the screen, readable by this user only: it shows commands and their output
        (Textual's save_screenshot writes it 0644).  A new file, never one that is there."""
        name = filename or f"queuectl-{datetime.now():%Y-%m-%dT%H-%M-%S.%f}.svg"
        target = Path(path or self.screenshot_folder) / name
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(self.export_screenshot())
        except OSError as exc:
            self.notify(f"no screenshot: {exc.strerror}: {exc.filename}", severity="error")
            return
        self.notify(f"screenshot saved: {target}")

    def action_request_quit(self) -> None:
        """q: quit; with workers started here still running, ask first, then stop them gracefully
        and close once they have.  Asked again while they stop: kill their jobs (retried)."""
        running = self.local_workers.running()
        if self.quitting:
            self.local_workers.stop_all()  # the second signal: each worker kills its job and exits
            self.notify("killing the jobs of the workers started here; they will be retried")
            return
        if not running:
            self.exit()
            return

        if getattr(self, "demo", False):  # the demo's jobs are samples: not worth a wait

            def end_demo() -> None:
                self.quitting = True
                self.local_workers.stop_all()  # finish your job …
                # … no: kill it now (the demo store keeps it, failed); a moment later, since two
                # signals sent at once may reach a worker as one
                self.set_timer(0.5, self.local_workers.stop_all)
                self.notify(f"stopping the demo's {len(running)} worker(s) …")
                self.refresh_status()

            body = (
                f"The demo's {len(running)} worker(s) stop now: a job they are running is killed "
                "(the demo store keeps it, failed)."
            )
            self.confirm("Quit the demo", body, "Stop them and quit", end_demo)
            return

        def go() -> None:
            self.quitting = True
            for child in running:  # (one asked already with - goes on finishing its job)
                self.local_workers.stop(child.id)
            self.notify(
                f"waiting for {len(running)} worker(s) to finish their current job … "
                "(q again: kill the jobs, which are then retried)",
                timeout=30,
            )
            self.refresh_status()

        body = (
            f"{len(running)} worker(s) started here are running.\nQuitting stops them gracefully: each "
            "finishes its current job, then exits; the dashboard closes when they have."
        )
        self.confirm("Quit", body, "Stop them and quit", go)


def _cancel_undo(before: dict, ids: list[str]) -> Undo:
    """A cancel of jobs that were waiting and had never started can be taken back."""
    started = [j for j in before.values() if j.state not in (JobState.PENDING, JobState.BLOCKED) or j.attempts]
    if started:
        job = started[0]
        why = "was running" if job.state == JobState.PROCESSING else f"had started (attempt {job.attempts})"
        return Undo("", refusal=f"the cancel of {jobs_phrase(ids)}: {job.id} {why}; r retries it instead")
    return Undo(
        f"cancel of {jobs_phrase(ids)} (waiting again)",
        lambda: ops.uncancel(ids),
        "queuectl retry --with-dependents " + " ".join(map(q, ids)),
    )


def _edit_undo(done, prior: dict) -> Undo:
    """An edit of a waiting job: its fields as they were; an edit then retry cannot be undone."""
    if done.retried:
        return Undo("", refusal=f"the edit and retry of {done.job_id}: it is running again (c cancels it)")
    back = {name: prior[name] for name in done.changes}
    return Undo(
        f"edit of {done.job_id} ({', '.join(back)} as before)",
        lambda: ops.edit_job(done.job_id, back),
        f"queuectl edit {q(done.job_id)}{_sets(back)}",
    )


def _sets(changes: dict) -> str:
    """An edit's --set options, each as the shell reads it."""
    return "".join(f" --set {q(assignment(name, value))}" for name, value in changes.items())
