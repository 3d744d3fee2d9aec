"""Every key of the dashboard, in one table: where it is bound, what it does, whether it writes,
and its CLI twin.  Everything else is made from it: each pane's BINDINGS (`bindings`), the
read-only guard (`writes`, `WRITE_REQUESTS`), the footer's order (`FOOTER`), the help screen
(`help_rows`), the command palette (`palette`) and the README's keymap (`markdown`;
`python -m queuectl.tui.keymap` prints it, and tests/tui/test_keymap.py checks that they agree).

One meaning per key: a key is bound at most once per place, and a key that asks first (it
deletes, cancels or stops something) never means a safe action anywhere else.

Places: "global" (the app), "table" (every table), the panes by tab id ("jobs", "dlq", "logs",
"metrics", "workers", "config", "queues", "schedules"), "dlq-groups" (the DLQ grouped by error)
and "job" (the job view).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.binding import Binding

from queuectl.states import JobState


@dataclass(frozen=True)
class Key:
    #: Textual key names, comma-separated (the first is the one shown); "" for a palette command
    keys: str
    #: the Textual action the keys run where they are bound
    action: str
    #: the footer's word
    name: str
    #: where the keys are bound
    places: tuple[str, ...]
    #: what it does (help, README)
    doc: str
    #: does it change the store or start and stop processes (off in --readonly)
    writes: bool = False
    #: is it destructive: it asks first (delete, cancel, stop, retry all)
    asks: bool = False
    #: the `queuectl …` command that does the same
    cli: str = ""
    #: the dashboard actions (tui/actions.py do_*) it asks for
    requests: tuple[str, ...] = ()
    #: False: a widget binds the key itself (listed in help and the README only)
    bind: bool = True
    priority: bool = False
    #: the command palette's title for it ("group: verb"), and the app action it runs there
    palette: str = ""
    run: str = ""
    #: place -> (what it does there, its CLI twin there), where that differs
    where: dict[str, tuple[str, str]] = field(default_factory=dict)

    def doc_in(self, place: str) -> tuple[str, str]:
        """(what it does, its CLI twin) in this place."""
        return self.where.get(place, (self.doc, self.cli))


JOB_PLACES = ("jobs", "job")

KEYS: list[Key] = [
    # -- everywhere ------------------------------------------------------------------------
    Key(
        "1,2,3,4,5,6,7,8",
        "show_tab",
        "Panes",
        ("global",),
        "switch pane: Jobs, DLQ, Logs, Metrics, Workers, Config, Queues, Schedules",
        bind=False,
    ),
    Key("tab", "next_pane(1)", "Next pane", ("global",), "the next pane", priority=True),
    Key("shift+tab", "next_pane(-1)", "Previous pane", ("global",), "the previous pane", priority=True),
    Key(
        "question_mark",
        "help",
        "Help",
        ("global",),
        "this help: the focused pane's keys first, then these; / searches every pane's keys",
        palette="help: keys",
        run="help",
    ),
    Key(
        "colon",
        "command_palette",
        "Commands",
        ("global",),
        "the command palette: every action, pane jumps, jump to a job by id or command",
    ),
    Key("ctrl+p", "command_palette", "Commands", ("global",), "the command palette (as :)", priority=True),
    Key(
        "at",
        "command_log",
        "Log",
        ("global",),
        "the command log: the `queuectl …` command equal to each action taken in this session",
        palette="help: command log",
        run="command_log",
    ),
    Key(
        "u",
        "undo",
        "Undo",
        ("global",),
        "undo the last reversible change made here (a priority, an edit of a waiting job, pause/resume, "
        "a queue's pause or limit, a cancel of a job that had not started); says what it undid, or why not",
        writes=True,
        requests=("undo",),
        palette="jobs: undo the last change",
        run="undo",
    ),
    Key(
        "q",
        "request_quit",
        "Quit",
        ("global",),
        "quit (asks first while workers started here run); in a dialog or the job view: close it",
    ),
    # -- every table ---------------------------------------------------------------------------
    Key(
        "enter",
        "select_cursor",
        "Open",
        ("table",),
        "open the row: a job's view (fields, attempts, output, dependencies: enter jumps, backspace comes "
        "back); Queues: the queue's jobs; Schedules: its last job; Workers: a busy worker's job",
    ),
    Key(
        "up,down,pageup,pagedown",
        "cursor_down",
        "Move",
        ("table",),
        "move; the job tables fetch only the rows on screen, so a million jobs scroll like a hundred",
        bind=False,
    ),
    Key("j", "cursor_down", "Down", ("table",), "down (vim)"),
    Key("k", "cursor_up", "Up", ("table",), "up (vim)"),
    Key("g,home", "scroll_top", "Top", ("table",), "first row"),
    Key("G,end", "scroll_bottom", "Bottom", ("table",), "last row"),
    Key("ctrl+d", "half_page_down", "Half page down", ("table",), "half a page down"),
    Key("ctrl+u", "half_page_up", "Half page up", ("table",), "half a page up"),
    # -- jobs (and the same keys in the job view) ---------------------------------------------
    Key(
        "space",
        "mark",
        "Mark",
        ("jobs", "dlq"),
        "mark the row (again: unmark); r, c, p, z then apply to every marked row",
        where={"dlq": ("mark the row (again: unmark); r and x then apply to every marked row", "")},
    ),
    Key(
        "f",
        "follow",
        "Follow",
        ("jobs",),
        "follow the job's output live in Logs",
        cli="queuectl logs ID --follow",
    ),
    Key(
        "z",
        "pause",
        "Pause",
        ("jobs", "job", "queues", "schedules"),
        "pause the job (or the marked ones); on a paused job: resume",
        writes=True,
        cli="queuectl pause ID; queuectl resume ID",
        requests=("pause", "pause_queue", "pause_schedule"),
        where={
            "job": ("pause this job; paused: resume it", "queuectl pause ID; queuectl resume ID"),
            "queues": ("pause the queue (asks) or resume it", "queuectl queue pause NAME; queuectl queue resume NAME"),
            "schedules": (
                "pause or resume the schedule",
                "queuectl schedule pause NAME; queuectl schedule resume NAME",
            ),
        },
    ),
    Key(
        "r",
        "retry",
        "Retry",
        ("jobs", "job", "dlq", "dlq-groups"),
        "retry the finished job (or the marked ones): pending again, attempts reset",
        writes=True,
        cli="queuectl retry ID",
        requests=("retry", "retry_dead", "retry_group"),
        where={
            "job": ("retry this job, if it has finished", "queuectl retry ID"),
            "dlq": ("retry the dead job (or the marked ones)", "queuectl dlq retry ID"),
            "dlq-groups": ("retry the whole group (asks, with the count)", "queuectl dlq retry ID …"),
        },
    ),
    Key(
        "c",
        "cancel",
        "Cancel",
        JOB_PLACES,
        "cancel the job or the marked ones (asks; kills a running job's process tree; jobs that depend on "
        "it are cancelled too)",
        writes=True,
        asks=True,
        cli="queuectl cancel ID",
        requests=("cancel",),
        where={"job": ("cancel this job (asks; as in Jobs)", "queuectl cancel ID")},
    ),
    Key(
        "p",
        "priority",
        "Priority",
        JOB_PLACES,
        "change the priority of the waiting job (or of the marked ones)",
        writes=True,
        cli="queuectl priority ID N",
        requests=("priority",),
        where={"job": ("change this job's priority (while it waits)", "queuectl priority ID N")},
    ),
    Key(
        "slash",
        "search",
        "Filter",
        ("jobs",),
        "filter as you type, terms combined: free text (id or command), state=failed, queue=NAME, label=L, "
        "priority>N, priority<N, error~TEXT, worker=ID, host=NAME; esc clears",
        cli="queuectl list --state STATE --search TEXT",
    ),
    Key(
        "n",
        "new",
        "New",
        ("jobs", "schedules"),
        "a new job (a form: bad values are named under their field, nothing is saved until they are fixed)",
        writes=True,
        cli="queuectl enqueue JSON",
        requests=("new_job", "add_schedule"),
        where={
            "schedules": (
                "a new schedule (name, cron, time zone, overlap allow/skip, the job; checked before it is saved)",
                "queuectl schedule add NAME JSON --cron EXPR",
            )
        },
    ),
    Key(
        "e",
        "edit",
        "Edit",
        ("jobs", "job", "dlq"),
        "edit the job in the new-job form: a waiting one is saved only if still waiting; a finished one "
        "is edited, then retried, after a confirm that shows each change",
        writes=True,
        cli="queuectl edit ID --set F=V",
        requests=("edit_job",),
        where={
            "job": ("edit this job (a finished one: edit, then retry), as e in Jobs", "queuectl edit ID --set F=V"),
            "dlq": (
                "edit the dead job, then retry it, after a confirm that shows each change",
                "queuectl retry ID --set F=V",
            ),
        },
    ),
    Key(
        "o",
        "sort",
        "Sort",
        ("jobs", "dlq"),
        "sort by the next column (ended, created, id, state, priority, runs, runtime); a click on a column "
        "header sorts by it",
        where={"dlq": ("sort by the next column (died, created, id, runs, runtime)", "")},
    ),
    Key("O", "reverse_sort", "Reverse sort", ("jobs", "dlq"), "reverse the order"),
    Key("t", "window", "Time window", ("metrics",), "the charts' window: the last 10 minutes, hour or day"),
    Key(
        "w",
        "wait",
        "Wait",
        JOB_PLACES,
        "wait for the job: a live state line until it ends",
        cli="queuectl wait ID",
        requests=("wait",),
    ),
    Key("s", "cycle_state", "State", ("jobs",), "cycle the state filter"),
    Key("a", "all_states", "All", ("jobs",), "all states (clear the state filter)"),
    *[
        Key(letter, f"state('{state}')", f"Only {state}", ("jobs",), f"only {state} jobs")
        for letter, state in (
            ("P", JobState.PENDING.value),
            ("R", JobState.PROCESSING.value),
            ("C", JobState.COMPLETED.value),
            ("F", JobState.FAILED.value),
            ("D", JobState.DEAD.value),
            ("X", JobState.CANCELLED.value),
            ("B", JobState.BLOCKED.value),
        )
    ],
    Key(
        "x",
        "prune",
        "Prune",
        ("jobs",),
        "prune: asks how old (7d), counts the finished jobs that ended before, asks again with the count, "
        "then deletes them with their attempts and logs",
        writes=True,
        asks=True,
        cli="queuectl prune --older-than 7d",
        requests=("prune",),
        palette="jobs: prune finished jobs",
        run="request('prune')",
    ),
    Key(
        "y",
        "copy",
        "Copy",
        ("jobs", "dlq"),
        "copy the command to the clipboard",
        where={"dlq": ("copy a failure report (id, command, attempts, exit code, error)", "")},
    ),
    Key("escape", "clear_filter", "Clear", ("jobs",), "clear the filter and the marks"),
    # -- the job view ----------------------------------------------------------------------
    # (a priority key: checked as it arrives, so an esc typed just before ctrl+p closes the view
    # and not the palette that opens meanwhile)
    Key("escape,q", "close", "Close", ("job",), "close the job view", priority=True),
    Key(
        "l",
        "logs",
        "Logs",
        ("job", "dlq", "dlq-groups"),
        "the job's whole output in the Logs pane",
        cli="queuectl logs ID",
        requests=("logs",),
    ),
    Key("backspace,b", "back", "Back", ("job",), "back to the job you jumped from"),
    # -- DLQ -------------------------------------------------------------------------------
    Key(
        "x",
        "delete",
        "Delete",
        ("dlq", "dlq-groups"),
        "delete the dead job (or the marked ones), attempts and logs included (asks)",
        where={"dlq-groups": ("(v first: delete works on single jobs)", "")},
        writes=True,
        asks=True,
        cli="queuectl delete ID",
        requests=("delete",),
    ),
    Key(
        "v",
        "toggle_grouped",
        "Group",
        ("dlq", "dlq-groups"),
        "group the DLQ by exit code and error, and back",
        cli="queuectl dlq list --group-by error",
        palette="dlq: grouped by error (or every dead job)",
        run="dlq_grouped",
    ),
    Key(
        "A",
        "retry_all",
        "Retry all",
        ("dlq",),
        "retry every dead job (asks, with the count)",
        writes=True,
        asks=True,
        cli="queuectl dlq retry --all",
        requests=("retry_all_dead",),
        palette="dlq: retry all dead jobs",
        run="request('retry_all_dead')",
    ),
    # -- logs ------------------------------------------------------------------------------
    Key("left_square_bracket", "attempt(-1)", "Older attempt", ("logs",), "the older attempt's output"),
    Key("right_square_bracket", "attempt(1)", "Newer attempt", ("logs",), "the newer attempt's output"),
    Key("slash", "search", "Search", ("logs",), "search: every match highlighted, n/N jump to the next/previous"),
    Key("n", "next_match(1)", "Next match", ("logs",), "the next match of the search"),
    Key("N", "next_match(-1)", "Previous match", ("logs",), "the previous match of the search"),
    Key("ampersand", "filter", "Filter", ("logs",), "keep only the lines that match (as less's &)"),
    Key(
        "F,f",
        "follow",
        "Follow",
        ("logs",),
        "follow the output as it grows (on or off), as less's F",
        cli="queuectl logs ID --follow",
    ),
    Key("w", "wrap", "Wrap", ("logs",), "wrap long lines (on or off)"),
    Key("escape", "clear_search", "Clear", ("logs",), "clear the search, then the filter"),
    Key("ctrl+d", "half_page(1)", "Half page down", ("logs",), "half a page down", bind=False),
    Key("ctrl+u", "half_page(-1)", "Half page up", ("logs",), "half a page up", bind=False),
    # -- workers ---------------------------------------------------------------------------
    Key(
        "plus,equals_sign",
        "start",
        "Start one",
        ("workers",),
        "start a worker here (★; q stops it before quitting)",
        writes=True,
        cli="queuectl worker start --count 1",
        requests=("start_worker",),
        palette="workers: start one",
        run="request('start_worker')",
    ),
    Key(
        "minus",
        "stop",
        "Stop one",
        ("workers",),
        "stop the selected worker gracefully, on any host (it reads `stopping`); again: stop it now (asks)",
        writes=True,
        cli="queuectl worker stop --id ID",
        requests=("stop_worker", "stop_worker_now"),
    ),
    Key(
        "H",
        "stop_host",
        "Stop host",
        ("workers",),
        "stop the selected host's workers (asks; any machine, through the store)",
        writes=True,
        asks=True,
        cli="queuectl worker stop --host NAME",
        requests=("stop_host",),
    ),
    Key(
        "S",
        "stop_all",
        "Stop all",
        ("workers",),
        "ask every worker, on every host, to stop after its job (asks)",
        writes=True,
        asks=True,
        cli="queuectl worker stop",
        requests=("stop_all_workers",),
        palette="workers: stop all",
        run="request('stop_all_workers')",
    ),
    # -- config ----------------------------------------------------------------------------
    Key("e,enter", "edit", "Edit", ("config",), "edit the selected setting"),
    Key(
        "ctrl+s",
        "save",
        "Save",
        ("config",),
        "save the settings (validated)",
        writes=True,
        cli="queuectl config set KEY VALUE",
        requests=("save_config",),
    ),
    Key("ctrl+r", "revert", "Revert", ("config",), "revert unsaved edits"),
    Key("escape", "leave", "Done editing", ("config",), "leave the field"),
    # -- queues ----------------------------------------------------------------------------
    Key(
        "L",
        "limit",
        "Limit",
        ("queues",),
        "set the queue's limit of running jobs (a number, or none)",
        writes=True,
        cli="queuectl queue limit NAME N",
        requests=("limit_queue",),
    ),
    # -- schedules -------------------------------------------------------------------------
    Key(
        "t",
        "run",
        "Run now",
        ("schedules",),
        "run the schedule now (trigger: enqueue its job)",
        writes=True,
        cli="queuectl schedule run NAME",
        requests=("run_schedule",),
    ),
    Key(
        "x",
        "remove",
        "Remove",
        ("schedules",),
        "remove the schedule (asks; the jobs it enqueued stay)",
        writes=True,
        asks=True,
        cli="queuectl schedule remove NAME",
        requests=("remove_schedule",),
    ),
    # -- palette only ----------------------------------------------------------------------
    Key(
        "",
        "",
        "",
        (),
        "enqueue a shell command (n in Jobs)",
        writes=True,
        requests=("new_job",),
        palette="jobs: new job",
        run="request('new_job')",
    ),
    Key(
        "",
        "",
        "",
        (),
        "a cron schedule that enqueues a job each tick (n in Schedules)",
        writes=True,
        requests=("add_schedule",),
        palette="schedules: add a schedule",
        run="request('add_schedule')",
    ),
    Key("", "", "", (), "the selected job: a live state line until it ends (w)", palette="jobs: wait", run="wait"),
    Key(
        "",
        "",
        "",
        (),
        "the newest worker started here finishes its current job, then exits",
        writes=True,
        requests=("stop_worker",),
        palette="workers: stop one started here",
        run="request('stop_worker')",
    ),
    Key("", "", "", (), "clear the state filter", palette="jobs: show all states", run="filter_state('')"),
    *[
        Key(
            "",
            "",
            "",
            (),
            f"filter the Jobs pane: {state}",
            palette=f"jobs: show only {state}",
            run=f"filter_state('{state}')",
        )
        for state in (s.value for s in JobState)
    ],
]

#: dashboard actions that write without a key of their own
OTHER_WRITES = frozenset({"screenshot"})  # (a file beside the store)

#: each place's footer, most used first: the keys left out at 80 columns are the last ones
FOOTER: dict[str, tuple[str, ...]] = {
    "table": ("select_cursor",),
    "metrics": ("window",),
    "jobs": (
        "mark",
        "follow",
        "pause",
        "retry",
        "cancel",
        "priority",
        "search",
        "new",
        "edit",
        "sort",
        "wait",
        "cycle_state",
        "all_states",
        "prune",
    ),
    "dlq": ("retry", "edit", "delete", "toggle_grouped", "logs", "mark", "retry_all"),
    "dlq-groups": ("retry", "toggle_grouped", "logs"),
    "logs": ("search", "filter", "follow", "wrap", "attempt(-1)", "attempt(1)"),
    "workers": ("start", "stop", "stop_host", "stop_all"),
    "config": ("edit", "save", "revert"),
    "queues": ("pause", "limit"),
    "schedules": ("new", "pause", "run", "remove"),
    "job": ("retry", "edit", "cancel", "priority", "pause", "logs", "wait", "close"),
    "global": ("help", "command_palette", "request_quit"),
}

#: the keys whose meaning was settled by the one table (issue 23): old key -> new, per place
CHANGED = [
    ("DLQ", "R", "A", "retry all dead jobs (R is Jobs' 'only processing')"),
    ("DLQ grouped", "R", "r", "retry the group (r only)"),
    ("Workers", "s", "S", "stop all (s is Jobs' state filter)"),
    ("Queues", "p", "z", "pause/resume (p is priority)"),
    ("Queues", "l", "L", "limit (l is logs)"),
    ("Schedules", "p", "z", "pause/resume (p is priority)"),
    ("Schedules", "a", "n", "add a schedule (n is new; a is Jobs' all states)"),
    ("Schedules", "x", "t", "run now (x deletes, and asks, everywhere)"),
    ("Schedules", "d", "x", "remove (x deletes, and asks, everywhere)"),
]

#: the order of the places in help and the README, with their titles
PLACES = [
    ("global", "Everywhere"),
    ("table", "In every table"),
    ("jobs", "Jobs"),
    ("job", "The job view (enter on a job)"),
    ("dlq", "DLQ"),
    ("dlq-groups", "DLQ grouped by error (v)"),
    ("logs", "Logs"),
    ("workers", "Workers"),
    ("config", "Config"),
    ("queues", "Queues"),
    ("schedules", "Schedules"),
]


def rows(place: str) -> list[Key]:
    """The keys of one place, most used first: its footer keys in FOOTER's order, then the
    others in the table's order."""
    order = FOOTER.get(place, ())
    found = [k for k in KEYS if k.keys and place in k.places]
    shown = sorted((k for k in found if k.action in order), key=lambda k: order.index(k.action))
    return shown + [k for k in found if k.action not in order]


def bindings(place: str) -> list[Binding]:
    """A place's BINDINGS, in the footer's order (the keys left out of the footer: hidden)."""
    order = FOOTER.get(place, ())
    return [
        Binding(k.keys, k.action, k.name, show=k.action in order, priority=k.priority) for k in rows(place) if k.bind
    ]


def writes(*places: str) -> frozenset[str]:
    """The actions of these places that write: hidden (and refused) in read-only mode."""
    return frozenset(k.action for place in places for k in rows(place) if k.writes)


#: the dashboard's requests (tui/actions.py do_*) that write: refused in read-only mode
WRITE_REQUESTS = frozenset(r for k in KEYS if k.writes for r in k.requests) | OTHER_WRITES

_NAMES = {
    "slash": "/",
    "ampersand": "&",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "plus": "+",
    "minus": "-",
    "equals_sign": "=",
    "escape": "esc",
    "question_mark": "?",
    "at": "@",
    "colon": ":",
    "pageup": "pgup",
    "pagedown": "pgdn",
    "up": "↑",
    "down": "↓",
}


def key_text(keys: str) -> str:
    """'question_mark' -> '?', 'g,home' -> 'g home', '1,2,…,8' -> '1 … 8'."""
    names = [_NAMES.get(k, k) for k in keys.split(",")]
    if len(names) > 3 and all(n.isdigit() for n in names):
        return f"{names[0]} … {names[-1]}"
    return " ".join(names)


def help_rows(place: str, readonly: bool = False) -> list[tuple[str, str]]:
    """(keys, what they do) of one place (read-only: without the ones that write)."""
    return [(key_text(k.keys), k.doc_in(place)[0]) for k in rows(place) if not (readonly and k.writes)]


def palette(readonly: bool = False) -> list[tuple[str, str, str]]:
    """(title, help, app action) of each palette command of the table."""
    found = []
    for k in KEYS:
        if k.palette and not (readonly and k.writes):
            shown = f" ({key_text(k.keys)})" if k.keys else ""
            found.append((k.palette, k.doc + shown, k.run))
    return sorted(found)


def markdown() -> str:
    """The README's keymap: one table per place, then the keys that changed."""
    out = []
    for place, title in PLACES:
        out += [f"**{title}**", "", "| key | does | CLI twin |", "|---|---|---|"]
        for k in rows(place):
            doc, cli = k.doc_in(place)
            mark = " *(writes)*" if k.writes else ""
            mark += " *(asks)*" if k.asks else ""
            cli = "; ".join(f"`{c}`" for c in cli.split("; ")) if cli else ""
            out.append(f"| `{key_text(k.keys)}` | {doc.replace('|', '/')}{mark} | {cli.replace('|', '/')} |")
        out.append("")
    out += ["**Changed keys** (one meaning per key, issue 23)", ""]
    for where, old, new, why in CHANGED:
        out.append(f"- {where}: `{old}` → `{new}`, {why}")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
