"""The queuectl dashboard: eight panes over one store.  The panes show what the store holds and
post requests; tui/actions.py carries them out through the engine's operations layer."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from importlib.resources import files
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.markup import escape
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.widgets import TabbedContent, TabPane

from queuectl import ops, store
from queuectl.errors import QueuectlError
from queuectl.paths import Location

from . import keymap
from .actions import DashboardActions
from .base import StorePane
from .messages import JobHighlighted, StatusLoaded
from .palette import JobJumpProvider
from .panes.config import ConfigPane
from .panes.dlq import DlqPane
from .panes.jobs import JobsPane
from .panes.logs import LogsPane
from .panes.metrics import MetricsPane
from .panes.queues import QueuesPane
from .panes.schedules import SchedulesPane
from .panes.workers import WorkersPane
from .screens.help import CommandLogScreen, HelpScreen
from .widgets.footer import KeysFooter
from .widgets.header import StatusHeader

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


class QueuectlApp(DashboardActions, App):
    """`queuectl tui`: watch and steer the queue."""

    TITLE = "queuectl"
    CSS_PATH = _stylesheets()
    COMMANDS = App.COMMANDS | {JobJumpProvider}
    BINDINGS = [
        *[Binding(str(i), f"show_tab('{tab}')", name, show=False) for i, (tab, name, _) in enumerate(TABS, 1)],
        *keymap.bindings("global"),
    ]

    def __init__(
        self,
        location: Location | None = None,
        readonly: bool = False,
        clock: Callable[[], float] | None = None,
        store_label: str | None = None,
        workers: int = 0,
        demo: bool = False,
    ) -> None:
        super().__init__()
        self.location = location or store.location()
        self.readonly = readonly
        if clock is not None:
            store.set_clock(clock)
        self.store_label = store_label or _home_short(self.location.display)
        self.start_count = workers
        #: `queuectl demo`: its workers are the demo's own, so quitting stops them at once
        self.demo = demo
        self.local_workers = ops.LocalWorkers(self.location)
        self.selected_job_id: str | None = None
        self.commands: list[str] = []
        self.undos = []
        self.quitting = False
        self.paused = False  # tests may freeze the polling
        self._status_busy = False
        self._status_seen: tuple = ()
        self._status_every = 1  # like the panes: asked less often while nothing changes
        self._status_ticks = 0
        self._page_told = 0  # workers of this tab the web page was told of

    # -- layout ------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        with TabbedContent(id="tabs", initial="jobs"):
            for i, (tab, name, pane) in enumerate(TABS, 1):
                with TabPane(f"{i} {name}", id=tab):
                    yield pane(id=f"{tab}-pane")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.base_screen.query_one(StatusHeader).update_status(self.store_label, self.readonly, None, None)
        self.set_interval(1.0, self._status_tick)
        self.refresh_status()
        for _ in range(self.start_count):
            self.request("start_worker", True)
        self.call_after_refresh(self._focus_pane)
        # what the app holds once up (widgets, styles, modules) is never garbage: left out of the
        # collector's full passes, which otherwise stalled a followed chatty log for 0.5 s each
        self.call_after_refresh(gc.freeze)

    def on_unmount(self) -> None:
        """What was frozen is garbage again once the app ends: a process that runs the app more
        than once (the tests) would otherwise keep every run's store connections open."""
        gc.unfreeze()

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
        if self.active_tab == "logs" and self.selected_job_id:
            self.base_screen.query_one(LogsPane).follow_selection(self.selected_job_id)
        self.pane().reload()

    def on_job_highlighted(self, message: JobHighlighted) -> None:
        self.selected_job_id = message.job_id

    def _focus_pane(self) -> None:
        """At once, not after a refresh: a key typed right after the pane's number (`2r`, read
        in one go from a terminal) must reach the new pane, never the one that was left."""
        self.base_screen.set_focus(self.pane().focus_target())

    def action_show_tab(self, tab: str) -> None:
        self.base_screen.query_one("#tabs", TabbedContent).active = tab
        self._focus_pane()

    def action_next_pane(self, step: int) -> None:
        if isinstance(self.screen, ModalScreen) or self.pane().editing:  # in a form, tab moves between fields
            self.screen.focus_next() if step > 0 else self.screen.focus_previous()
            return
        ids = [t for t, _, _ in TABS]
        self.action_show_tab(ids[(ids.index(self.active_tab) + step) % len(ids)])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # pane keys do nothing behind a dialog
        if action in ("show_tab", "help", "command_log", "request_quit", "undo") and isinstance(
            self.screen, ModalScreen
        ):
            return False
        return not (action in keymap.writes("global") and self.readonly)

    def show_logs(self, job_id: str, follow: bool = True) -> None:
        self.base_screen.query_one(LogsPane).open(job_id, follow=follow)
        self.action_show_tab("logs")

    # -- header ------------------------------------------------------------------------
    def _status_tick(self) -> None:
        self._status_ticks += 1
        if self._status_ticks >= self._status_every or self.local_workers.running():
            self._status_ticks = 0
            self.refresh_status()

    def refresh_status(self) -> None:
        self.reap_local_workers()
        running = self.local_workers.running()
        if self.quitting and not running:
            self.exit()
            return
        if not self.screen_stack:  # a tick that came while the app was closing: nothing to show
            return
        for pane in self.base_screen.query(WorkersPane):  # none while the app starts
            pane.started_here = {child.id for child in running}
        self._tell_the_page(len(running))
        if not self._status_busy and not self.paused:
            self._status_busy = True
            self._load_status()

    def _tell_the_page(self, workers: int) -> None:
        """In a browser tab: how many workers this tab started, for the page (tui/web.py's
        PAGE_SCRIPT asks before the tab closes while they run), as an OSC 777 sequence that the
        terminal ignores.  Said when it changes."""
        if not self.is_web or workers == self._page_told:
            return
        self._page_told = workers
        self._driver.write(f"\x1b]777;queuectl;workers={workers}\x07")  # (no public way; one write)

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
        seen = (message.counts, message.workers)
        changed = seen != self._status_seen
        self._status_every = 1 if changed else min(self._status_every * 2, 4)
        self._status_seen = seen
        if message.error is None:
            for pane in self.base_screen.query(StorePane):  # data down: one snapshot for all
                pane.counts = message.counts
            if changed:  # the pane on screen may be idling: bring it level with the header now
                self.pane().reload()
            self.base_screen.query_one(StatusHeader).update_status(
                self.store_label, self.readonly, message.counts, message.workers
            )

    # -- help, palette -----------------------------------------------------------------
    def action_help(self) -> None:
        place = "dlq-groups" if self.active_tab == "dlq" and self.pane().grouped else self.active_tab
        self.push_screen(HelpScreen(place, self.readonly))

    def action_command_log(self) -> None:
        self.push_screen(CommandLogScreen(self.commands))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """queuectl's commands, one group per noun ("jobs: …", "workers: …"): the panes, then the
        action table's commands; of Textual's own, the theme, the screenshot and quit, in the
        "app:" group (its "Keys" panel and "Maximize" are left out: `?` is the help here)."""
        for tab, name, _ in TABS:
            yield SystemCommand(f"panes: {name}", f"show the {name} pane", lambda t=tab: self.action_show_tab(t))
        for title, text, run in keymap.palette(self.readonly):
            yield SystemCommand(title, text, lambda r=run: self.run_action(r))
        for command in super().get_system_commands(screen):
            if command.title == "Quit":  # like q: asks first while workers started here run
                yield SystemCommand(
                    "app: quit", "quit (asks first if workers started here are running)", self.action_request_quit
                )
            elif command.title == "Screenshot":  # Textual's default folder (~/Downloads) may not exist
                if not self.readonly:  # (it writes a file)
                    yield SystemCommand(
                        "app: screenshot",
                        "save an SVG of the screen (yours only) in " + escape(str(self.screenshot_folder)),
                        self.action_screenshot,
                    )
            elif command.title == "Theme":
                yield SystemCommand("app: theme", command.help, command.callback)

    def action_request(self, action: str, *args) -> None:
        """A palette command of the action table: a dashboard action."""
        self.request(action, *args)

    def action_filter_state(self, state: str) -> None:
        self._filter(state or None)

    def action_dlq_grouped(self) -> None:
        self._dlq_grouped(not self.base_screen.query_one(DlqPane).grouped)

    def action_wait(self) -> None:
        if self.selected_job_id:
            self.request("wait", self.selected_job_id)

    def action_undo(self) -> None:
        self.request("undo")

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification is plain text, whoever asks for markup (Widget.notify does): they
        carry data (commands, paths, errors that quote input) that Rich would read as markup."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        self.request("screenshot", filename, path)

    def _dlq_grouped(self, grouped: bool) -> None:
        self.action_show_tab("dlq")
        self.base_screen.query_one(DlqPane).grouped = grouped

    def _filter(self, state: str | None) -> None:
        self.action_show_tab("jobs")
        self.base_screen.query_one(JobsPane).state = state


def _home_short(path: str) -> str:
    home = str(Path.home())
    return "~" + path[len(home) :] if home != "/" and path.startswith(home + "/") else path
