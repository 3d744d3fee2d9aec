"""The queuectl dashboard: six panes over one store, every action through the engine's functions."""
from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Callable, Iterable

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from queuectl import ops, store
from queuectl.errors import QueuectlError
from queuectl.paths import Location
from queuectl.render import clean

from .format import ALL_STATES, LABEL, SHORT, shown_states, state_styles
from .messages import ActionDone
from .panes.config import ConfigPane
from .panes.dlq import DlqPane
from .panes.jobs import JobsPane
from .panes.logs import LogsPane
from .panes.metrics import MetricsPane
from .panes.queues import QueuesPane
from .panes.schedules import SchedulesPane
from .panes.workers import WorkersPane
from .screens.confirm import ConfirmScreen
from .screens.forms import NewJobScreen, limit_screen, priority_screen
from .screens.help import CommandLogScreen, HelpScreen
from .screens.job_detail import JobDetailScreen
from .screens.wait import WaitScreen

TABS = [
    ("jobs", "Jobs", JobsPane),
    ("dlq", "DLQ", DlqPane),
    ("logs", "Logs", LogsPane),
    ("metrics", "Metrics", MetricsPane),
    ("workers", "Workers", WorkersPane),
    ("config", "Config", ConfigPane),
    ("queues", "Queues", QueuesPane),
    ("schedules", "Schedules", SchedulesPane),
]


def _stylesheets() -> list[str]:
    folder = files("queuectl.styles")
    return [str(folder / "app.tcss")]


def q(text: str) -> str:
    return shlex.quote(text)


class StatusHeader(Horizontal):
    """Store path, live workers and the counts per state, coloured like the rows."""

    def compose(self) -> ComposeResult:
        yield Static(id="hdr-left")
        yield Static(id="hdr-right")

    _last: tuple = ()

    def on_resize(self) -> None:
        if self._last:
            self.update_status(*self._last)

    def update_status(self, label: str, readonly: bool, counts: dict | None, workers: int | None) -> None:
        self._last = (label, readonly, counts, workers)
        width = self.size.width or self.app.size.width
        left = Text(no_wrap=True, overflow="ellipsis")
        left.append(" queuectl ", style="bold reverse")
        if readonly:
            left.append(" READ-ONLY ", style="bold")
        left.append(" " + label)
        self.query_one("#hdr-left", Static).update(left)
        right = Text(no_wrap=True, justify="right")
        if counts is not None:
            styles = state_styles(self.app.current_theme)
            states = shown_states(counts)
            full = sum(len(LABEL.get(s, s)) + len(f"{counts.get(s, 0):,}") + 3 for s in states) + 14
            narrow = full > width - 30
            right.append("● ", style=styles["completed"] if workers else "dim")
            right.append(f"{workers}{'' if narrow else ' worker' + 's' * (workers != 1)}  ")
            for state in states:
                label = SHORT.get(state, state) if narrow else LABEL.get(state, state)
                right.append(f"{label} ", style=styles.get(state, ""))
                right.append(f"{counts.get(state, 0):,}  ", style=styles.get(state, ""))
        self.query_one("#hdr-right", Static).update(right)


@dataclass
class StatusLoaded(Message):
    counts: dict | None
    workers: int | None
    error: str | None


class JobJumpProvider(Provider):
    """Palette: type part of a job id or command to open that job."""

    async def search(self, query: str) -> Hits:
        text = query.strip()
        if len(text) < 2:
            return
        app = self.app
        try:
            jobs = await asyncio.to_thread(store.list_jobs, None, 8, None, text)
        except QueuectlError:
            return
        matcher = self.matcher(text)
        for job in jobs:
            title = f"jobs: open {clean(job.id)} ({job.state}) — {clean(job.command, 40)}"
            yield Hit(max(matcher.match(title), 0.5), matcher.highlight(title), lambda j=job.id: app.open_job(j),
                      help="job detail: fields, attempts, output")  # fmt: skip


class QueuectlApp(App):
    """`queuectl tui`: watch and steer the queue."""

    TITLE = "queuectl"
    CSS_PATH = _stylesheets()
    COMMANDS = App.COMMANDS | {JobJumpProvider}
    BINDINGS = [
        *[Binding(str(i), f"show_tab('{tab}')", name, show=False) for i, (tab, name, _) in enumerate(TABS, 1)],
        Binding("tab", "next_pane(1)", "Next pane", show=False, priority=True),
        Binding("shift+tab", "next_pane(-1)", "Previous pane", show=False, priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("at", "command_log", "Log", show=False),
        Binding("ctrl+p", "command_palette", "Commands", show=False, priority=True),
        Binding("colon", "command_palette", "Commands", show=False),
        Binding("q", "request_quit", "Quit"),
    ]

    def __init__(
        self,
        location: Location | None = None,
        readonly: bool = False,
        clock: Callable[[], float] | None = None,
        store_label: str | None = None,
        workers: int = 0,
    ) -> None:
        super().__init__()
        self.location = location or store.location()
        self.readonly = readonly
        if clock is not None:
            store.set_clock(clock)
        self.store_label = store_label or _home_short(self.location.display)
        self.start_count = workers
        self.local_workers = ops.LocalWorkers(self.location)
        self.selected_job_id: str | None = None
        self.commands: list[str] = []
        self.quitting = False
        self.paused = False  # tests may freeze the polling
        self._status_busy = False

    # -- layout ------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        with TabbedContent(id="tabs", initial="jobs"):
            for i, (tab, name, pane) in enumerate(TABS, 1):
                with TabPane(f"{i} {name}", id=tab):
                    yield pane(id=f"{tab}-pane")
        yield Footer()

    def on_mount(self) -> None:
        self.base_screen.query_one(StatusHeader).update_status(self.store_label, self.readonly, None, None)
        self.set_interval(1.0, self._status_tick)
        self._status_tick()
        for _ in range(self.start_count):
            self.start_worker(quiet=True)
        self.call_after_refresh(self._focus_pane)

    @property
    def base_screen(self) -> Screen:
        """The screen with the panes (App.query_one would search a dialog when one is open)."""
        return self.screen_stack[0]

    @property
    def active_tab(self) -> str:
        return self.base_screen.query_one("#tabs", TabbedContent).active

    def pane(self, tab: str | None = None):
        return self.base_screen.query_one(f"#{tab or self.active_tab}-pane")

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._focus_pane()
        if self.active_tab == "logs":
            self.base_screen.query_one(LogsPane).follow_selection()
        self.pane().reload()

    def _focus_pane(self) -> None:
        pane = self.pane()
        target = {"jobs": "#jobs-table", "dlq": "#dlq-table", "logs": "#log-out", "workers": "#workers-table",
                  "config": "#config-form", "metrics": None, "queues": "#queues-table",
                  "schedules": "#schedules-table"}[self.active_tab]  # fmt: skip
        if self.active_tab == "dlq" and pane.grouped:
            target = "#dlq-groups"
        if target:
            pane.query(target).first().focus()
        else:
            self.set_focus(None)

    def action_show_tab(self, tab: str) -> None:
        self.base_screen.query_one("#tabs", TabbedContent).active = tab

    def action_next_pane(self, step: int) -> None:
        focused = self.focused
        in_form = isinstance(self.screen, ModalScreen) or (
            self.active_tab == "config" and focused is not None and focused.id not in (None,)
            and (focused.has_class("setting-value") or focused.id in ("config-save", "config-revert"))
        )  # fmt: skip
        if in_form:  # in a form, tab moves between its fields
            self.screen.focus_next() if step > 0 else self.screen.focus_previous()
            return
        ids = [t for t, _, _ in TABS]
        self.action_show_tab(ids[(ids.index(self.active_tab) + step) % len(ids)])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # pane keys do nothing behind a dialog
        if action in ("show_tab", "help", "command_log", "request_quit") and isinstance(self.screen, ModalScreen):
            return False
        return True

    # -- header ------------------------------------------------------------------------
    def _status_tick(self) -> None:
        for child, reason in self.local_workers.reap():
            self._reaped(child.name, child.id, reason)
        if self.quitting and not self.local_workers.running():
            self.exit()
            return
        if not self._status_busy and not self.paused:
            self._status_busy = True
            self._load_status()

    @work(thread=True, group="status")
    def _load_status(self) -> None:
        try:
            self.post_message(StatusLoaded(store.counts(), store.live_worker_count(), None))
        except QueuectlError as exc:
            self.post_message(StatusLoaded(None, None, str(exc)))

    def on_status_loaded(self, message: StatusLoaded) -> None:
        self._status_busy = False
        if not self.screen_stack:  # the answer came while the app was closing
            return
        if message.error is None:
            self.base_screen.query_one(StatusHeader).update_status(self.store_label, self.readonly, message.counts, message.workers)

    # -- running store actions ---------------------------------------------------------
    def act(
        self,
        fn: Callable[..., Any],
        *args: Any,
        done: str | Callable[[Any], str] | None = None,
        cli: str | Callable[[Any], str] | None = None,
        then: Callable[[Any], None] | None = None,
    ) -> None:
        """Run one store action off the UI thread; report it, log its CLI twin, refresh."""
        if self.readonly:
            self.notify("read-only: actions are off", severity="warning")
            return
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
        self._status_tick()

    def log_command(self, line: str) -> None:
        for part in line.split("; "):
            self.commands.append(part)

    # -- job actions (called by the panes and the palette) ------------------------------
    def retry_jobs(self, ids: list[str], dead_only: bool = False) -> None:
        """Run finished jobs again (the DLQ pane: dead ones only), in one transaction."""
        if dead_only:
            self.act(ops.retry_dead, ids, done=f"retrying {_n(ids)} from the DLQ",
                     cli="; ".join(f"queuectl dlq retry {q(i)}" for i in ids))  # fmt: skip
        else:
            self.act(ops.retry, ids, done=f"retrying {_n(ids)}", cli="queuectl retry " + " ".join(map(q, ids)))

    def retry_group(self, exit_code: int | None, error: str | None) -> None:
        """The grouped DLQ's R: every dead job with this exit code and error, after a confirm with the count."""
        if self.readonly:
            return
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
        body = (f"Send {len(ids):,} dead job{'s' * (len(ids) != 1)} back to pending, attempts reset:\n"
                f"{code} · {clean(error or '', 120)}\n" + ", ".join(ids[:8]) + (" …" if len(ids) > 8 else ""))

        def answered(yes: bool | None) -> None:
            if yes:
                self.act(ops.retry_dead_group, exit_code, error, done=lambda got: f"retrying {len(got):,} job(s) from the DLQ",
                         cli=f"queuectl dlq retry {' '.join(map(q, ids[:20]))}{' …' if len(ids) > 20 else ''}")  # fmt: skip

        self.push_screen(ConfirmScreen(f"Retry {len(ids):,} dead jobs?", body, f"Retry {len(ids):,}"), answered)

    def retry_all_dead(self, count: int | None = None) -> None:
        if self.readonly:
            return
        body = "Send every dead job back to pending, attempts reset; they will run again."
        if count:
            body = f"Send all {count:,} dead jobs back to pending, attempts reset; they will run again."

        def answered(yes: bool | None) -> None:
            if yes:
                self.act(ops.retry_dead, done=lambda ids: f"retrying {len(ids):,} job(s) from the DLQ",
                         cli="queuectl dlq retry --all")  # fmt: skip

        self.push_screen(ConfirmScreen("Retry all dead jobs?", body, "Retry all"), answered)

    def cancel_jobs(self, ids: list[str], running: list[str]) -> None:
        if self.readonly:
            return

        def go(yes: bool | None = True) -> None:
            if yes:
                self.act(ops.cancel_jobs, ids, done=f"cancelled {_n(ids)}",
                         cli="; ".join(f"queuectl cancel {q(i)}" for i in ids))  # fmt: skip

        # always asked: a cancelled job cannot be brought back
        lines = [f"Cancel {_n(ids)}? Jobs that depend on it are cancelled too (unless their policy is 'finish')."]
        if running:
            lines.append(f"{len(running)} running: its process tree will be killed ({', '.join(running[:5])}).")
        lines.append("Jobs: " + ", ".join(ids[:10]) + (" …" if len(ids) > 10 else ""))
        self.push_screen(ConfirmScreen("Cancel", "\n".join(lines), "Cancel jobs"), go)

    def delete_jobs(self, ids: list[str]) -> None:
        if self.readonly:
            return

        def go(yes: bool | None) -> None:
            if yes:
                self.act(ops.delete, ids, done=f"deleted {_n(ids)}",
                         cli="; ".join(f"queuectl delete {q(i)}  # no CLI verb yet" for i in ids))  # fmt: skip

        body = f"Delete {_n(ids)}, attempts and logs included? This cannot be undone.\n" + ", ".join(ids[:10])
        self.push_screen(ConfirmScreen("Delete", body, "Delete"), go)

    def new_job(self) -> None:
        if self.readonly:
            return

        def created(job_id: str | None) -> None:
            if job_id:
                self.notify(f"enqueued {job_id}")
                self.log_command(f"queuectl enqueue '{{\"id\": \"{job_id}\", …}}'")
                self.pane().reload()

        self.push_screen(NewJobScreen(), created)

    def change_priority(self, ids: list[str], current: int) -> None:
        if self.readonly:
            return

        def chosen(value: int | None) -> None:
            if value is not None:
                self.act(ops.set_priority, ids, value, done=f"priority {value} for {_n(ids)}",
                         cli="; ".join(f"queuectl priority {q(i)} {value}  # no CLI verb yet" for i in ids))  # fmt: skip

        self.push_screen(priority_screen(current, len(ids)), chosen)

    def open_job(self, job_id: str) -> None:
        self.selected_job_id = job_id
        self.push_screen(JobDetailScreen(job_id))

    def wait_for(self, job_id: str) -> None:
        self.selected_job_id = job_id
        self.push_screen(WaitScreen(job_id))
        self.log_command(f"queuectl wait {q(job_id)}")

    # -- queues and schedules ----------------------------------------------------------
    def pause_queue(self, name: str, paused: bool) -> None:
        if paused:
            self.act(ops.pause_queue, name, False, done=f"queue {name} resumed", cli=f"queuectl queue resume {q(name)}")
            return

        def go(yes: bool | None) -> None:
            if yes:
                self.act(ops.pause_queue, name, done=f"queue {name} paused", cli=f"queuectl queue pause {q(name)}")

        if not self.readonly:
            body = f"Pause queue {name}? Its waiting jobs stay waiting until it is resumed; running ones finish."
            self.push_screen(ConfirmScreen("Pause queue", body, "Pause"), go)

    def limit_queue(self, name: str, current: int | None) -> None:
        if self.readonly:
            return

        def chosen(value: int | None | bool) -> None:
            if value is False:  # abandoned
                return
            shown = "none" if value is None else str(value)
            self.act(ops.limit_queue, name, value, done=f"queue {name}: limit {shown}",
                     cli=f"queuectl queue limit {q(name)} {shown}")  # fmt: skip

        self.push_screen(limit_screen(name, current), chosen)

    def pause_schedule(self, name: str, paused: bool) -> None:
        verb = "resume" if paused else "pause"
        self.act(ops.pause_schedule, name, not paused, done=f"schedule {name} {verb}d",
                 cli=f"queuectl schedule {verb} {q(name)}")  # fmt: skip

    def run_schedule(self, name: str) -> None:
        self.act(ops.run_schedule, name, done=lambda job_id: f"enqueued {job_id}",
                 cli=f"queuectl schedule run {q(name)}")  # fmt: skip

    def remove_schedule(self, name: str) -> None:
        if self.readonly:
            return

        def go(yes: bool | None) -> None:
            if yes:
                self.act(ops.remove_schedule, name, done=f"schedule {name} removed",
                         cli=f"queuectl schedule remove {q(name)}")  # fmt: skip

        body = f"Remove schedule {name}? No more jobs are enqueued for it; jobs it enqueued stay."
        self.push_screen(ConfirmScreen("Remove schedule", body, "Remove"), go)

    def show_logs(self, job_id: str, follow: bool = True) -> None:
        self.selected_job_id = job_id
        self.base_screen.query_one(LogsPane).open(job_id, follow=follow)
        self.action_show_tab("logs")

    # -- workers -----------------------------------------------------------------------
    def start_worker(self, quiet: bool = False) -> None:
        if self.readonly:
            return
        try:
            child = self.local_workers.start()  # on the UI thread: see ops.LocalWorkers
        except OSError as exc:
            self.notify(f"could not start a worker: {exc}", severity="error")
            return
        if not quiet:
            self.notify(f"started {child.name} (pid {child.proc.pid})")
            self.log_command("queuectl worker start --count 1")

    def stop_worker(self, worker_id: str | None = None) -> None:
        if self.readonly:
            return
        child = self.local_workers.stop(worker_id)
        if child is None:
            self.notify("no running worker was started here; s asks every worker to stop", severity="warning")
            return
        self.notify(f"stopping {child.name}: it finishes its current job first")

    def stop_all_workers(self) -> None:
        if self.readonly:
            return

        def go(yes: bool | None) -> None:
            if yes:
                self.act(ops.stop_all_workers, done=lambda asked: f"asked {len(asked)} worker(s) to stop",
                         cli="queuectl worker stop")  # fmt: skip

        body = "Ask every worker (all hosts) to finish its current job and exit?"
        self.push_screen(ConfirmScreen("Stop all workers", body, "Stop all"), go)

    def _reaped(self, name: str, worker_id: str, reason: str) -> None:
        """A worker started here died: fail its attempt now (it is retried) and kill its job."""
        self.notify(f"{name} died ({reason.removeprefix('lost: its worker ')})", severity="warning")
        self._recover(worker_id, reason)

    @work(thread=True, group="recover")
    def _recover(self, worker_id: str, reason: str) -> None:
        try:
            ops.recover_dead_worker(worker_id, reason)
        except QueuectlError:
            pass  # its lease runs out and any worker recovers the job

    # -- help, palette, quit -----------------------------------------------------------
    def action_help(self) -> None:
        panes = []
        for tab, name, pane_cls in TABS:
            bindings = [b for b in pane_cls.BINDINGS if isinstance(b, Binding)]
            if self.readonly:
                bindings = [b for b in bindings if b.action not in pane_cls.WRITES]
            panes.append((name, bindings))
        focused = dict((t, n) for t, n, _ in TABS)[self.active_tab]
        self.push_screen(HelpScreen(panes, focused, self.readonly))

    def action_command_log(self) -> None:
        self.push_screen(CommandLogScreen(self.commands))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for tab, name, _ in TABS:
            yield SystemCommand(f"panes: {name}", f"show the {name} pane", lambda t=tab: self.action_show_tab(t))
        yield SystemCommand("jobs: show all states", "clear the state filter", lambda: self._filter(None))
        for state in ALL_STATES:
            yield SystemCommand(f"jobs: show only {LABEL.get(state, state)}", f"filter the Jobs pane: {state}",
                                lambda s=state: self._filter(s))  # fmt: skip
        if not self.readonly:
            yield SystemCommand("jobs: new job", "enqueue a shell command", self.new_job)
            yield SystemCommand("jobs: retry all dead", "send every DLQ job back to pending", self.retry_all_dead)
            yield SystemCommand("dlq: grouped by error", "one row per exit code and error; R retries a group",
                                lambda: self._dlq_grouped(True))  # fmt: skip
            yield SystemCommand("dlq: every dead job", "the flat DLQ list", lambda: self._dlq_grouped(False))
            yield SystemCommand("jobs: wait for the selected job", "a live state line until it ends (w)",
                                lambda: self.selected_job_id and self.wait_for(self.selected_job_id))  # fmt: skip
            yield SystemCommand("workers: start one", "start a local worker subprocess", self.start_worker)
            yield SystemCommand("workers: stop one started here", "it finishes its current job", self.stop_worker)
            yield SystemCommand("workers: stop all", "ask every worker to stop after its job", self.stop_all_workers)
        yield SystemCommand("help: keys", "every binding", self.action_help)
        yield SystemCommand("help: command log", "the CLI equivalent of what you did", self.action_command_log)
        yield from super().get_system_commands(screen)

    def _dlq_grouped(self, grouped: bool) -> None:
        self.action_show_tab("dlq")
        self.base_screen.query_one(DlqPane).set_grouped(grouped)

    def _filter(self, state: str | None) -> None:
        self.action_show_tab("jobs")
        pane = self.base_screen.query_one(JobsPane)
        pane.state = state
        pane.restart()

    def action_request_quit(self) -> None:
        running = self.local_workers.running()
        if self.quitting:
            # asked twice: the second signal makes each worker kill its job (recorded as a
            # failed attempt, so it is retried) and exit now
            self.local_workers.stop_all()
            self.notify("killing the jobs of the workers started here; they will be retried")
            return
        if not running:
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.quitting = True
                self.local_workers.stop_all()
                self.notify(f"waiting for {len(running)} worker(s) to finish their current job … "
                            "(q again: kill the jobs, which are then retried)", timeout=30)  # fmt: skip
                self._status_tick()

        body = (f"{len(running)} worker(s) started here are running.\nQuitting stops them gracefully: each "
                "finishes its current job, then exits; the dashboard closes when they have.")  # fmt: skip
        self.push_screen(ConfirmScreen("Quit", body, "Stop them and quit"), answered)


def _n(ids: list[str]) -> str:
    return f"job {ids[0]}" if len(ids) == 1 else f"{len(ids)} jobs"


def _home_short(path: str) -> str:
    from pathlib import Path

    home = str(Path.home())
    return "~" + path[len(home):] if home != "/" and path.startswith(home + "/") else path
