"""A table of jobs that holds only the rows on screen, keyset-paged on the job sequence.

Sorted by another column than created (ended, id, state, priority, attempts, runtime), the table
pages over the whole store: by offset through a listing of at most store.SORT_WINDOW matching jobs,
by keyset (the sort key of a row) past that (queuectl/store/sorting.py says how).

The pane keeps the seq of its top row (None: follow the newest jobs); moving past the first or
last row, paging, `g` and `G` ask the store for the neighbouring rows, so a million jobs cost
what a screenful costs.  Rows are keyed by job id: a refresh updates changed cells in place and
keeps the cursor on its job.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from rich.text import Text
from textual.reactive import reactive

from queuectl import store
from queuectl.render import clean
from queuectl.states import JobState
from queuectl.store import JobFilter, JobView

from ..base import StorePane, cursor_key
from ..format import state_styles
from ..widgets.paged_table import PagedTable
from .keyed import put_rows

#: a filtered listing counts its matches up to this many ("10,000+")
MATCH_COUNT_CAP = 10_000

#: table column key -> the store sort it stands for (a click on its header sorts by it)
SORT_OF_COLUMN = {
    "id": "id",
    "ended": "ended",
    "died": "ended",
    "state": "state",
    "pri": "priority",
    "att": "attempts",
    "created": "created",
    "runtime": "runtime",
}


@dataclass(frozen=True)
class PageQuery:
    state: str | None
    search: str | None
    terms: JobFilter
    sort: tuple[str, bool]  # (column, descending); ("created", True) = newest first
    size: int
    #: the first row shown: its seq (created), its offset (a small sorted listing) or its sort key
    #: (store.sort_key; a large one); None = the first row of the listing
    top: int | tuple | None
    op: str = "refresh"  # refresh | up | down | pgup | pgdown | top | bottom
    ref: int | tuple | None = None  # key the op starts from (first or last row on screen)
    counts: dict | None = None  # the header's snapshot of jobs per state, for the total


@dataclass
class Page:
    query: PageQuery
    top: int | None
    rows: list[JobView]
    total: int | None
    extra: dict = field(default_factory=dict)
    #: each row's key, what a page op starts from (the seq, or the sort key)
    keys: list = field(default_factory=list)


def fetch_page(q: PageQuery) -> Page:
    """Runs in a thread: the rows of the page the op leads to (a few indexed queries)."""
    if q.sort[0] != "created":
        return _sorted_page(q)
    oldest_first = not q.sort[1]

    def after(seq: int | None, n: int) -> list[JobView]:  # rows after seq, in display order
        return store.list_jobs(
            state=q.state, limit=n, before_seq=seq, search=q.search, oldest_first=oldest_first, where=q.terms
        )

    def before(seq: int | None, n: int) -> list[JobView]:  # rows before seq, nearest first
        return store.list_jobs(
            state=q.state, limit=n, before_seq=seq, search=q.search, oldest_first=not oldest_first, where=q.terms
        )

    def from_top(top: int | None) -> list[JobView]:
        if top is None:
            return after(None, q.size)
        return after(top - 1 if oldest_first else top + 1, q.size)  # inclusive of top

    def last_page() -> int | None:
        tail = before(None, q.size)
        return tail[-1].seq if tail else None

    top = q.top if isinstance(q.top, int) else None
    if not isinstance(q.ref, int):
        q = replace(q, op="refresh" if q.op in ("up", "down", "pgup", "pgdown") else q.op)
    if q.op == "top":
        top = None
    elif q.op == "bottom":
        top = last_page()
    elif q.op == "up" and q.ref is not None:
        above = before(q.ref, 1)
        top = above[0].seq if above else top
    elif q.op == "pgup" and q.ref is not None:
        above = before(q.ref, q.size)
        top = above[-1].seq if above else None
    elif q.op == "down" and q.ref is not None:
        below = after(q.ref, 1)  # ref = the top row: shift the page by one
        top = below[0].seq if below else top
    elif q.op == "pgdown" and q.ref is not None:
        below = after(q.ref, 1)  # ref = the last row: the next page starts after it
        top = below[0].seq if below else top
    rows = from_top(top)
    if len(rows) < q.size and top is not None and q.op in ("down", "pgdown", "refresh"):
        top = last_page()  # do not leave a half-empty page at the end
        rows = from_top(top)
    if rows and top is not None and not before(rows[0].seq, 1):
        top = None  # nothing above: follow new jobs as they arrive
    return Page(q, top, rows, _total(q), keys=[job.seq for job in rows])


def _total(q: PageQuery) -> int:
    if q.search or q.terms:  # a filtered listing: its own count, bounded
        return store.count_matching(q.state, q.search, q.terms, MATCH_COUNT_CAP)
    counts = q.counts or store.counts()
    return counts.get(q.state, 0) if q.state else sum(counts.values())


def _sorted_page(q: PageQuery) -> Page:
    """A page of a column sort: by offset when at most SORT_WINDOW jobs match, else by keyset."""
    column, descending = q.sort
    total = _total(q)
    if total > store.SORT_WINDOW or ((q.search or q.terms) and total >= MATCH_COUNT_CAP):  # (a capped count)
        return _keyset_page(q, total)
    last = max(0, total - q.size)
    offset = q.top if isinstance(q.top, int) else 0
    offset = {
        "top": 0,
        "bottom": last,
        "up": offset - 1,
        "down": offset + 1,
        "pgup": offset - q.size,
        "pgdown": offset + q.size,
    }.get(q.op, offset)
    offset = max(0, min(offset, last))
    rows = store.list_sorted(column, descending, offset, q.size, q.state, q.search, q.terms)
    return Page(q, offset or None, rows, total, keys=[offset + i for i in range(len(rows))])


def _keyset_page(q: PageQuery, total: int) -> Page:
    """A page of a large sorted listing: the rows from the key of the top one (the same moves as
    fetch_page's over seq, with sort keys)."""
    column, descending = q.sort
    t = store.now()

    def rows_from(key, n: int, inclusive: bool = False, backwards: bool = False) -> list[JobView]:
        return store.list_keyset(
            column, descending, key, n, q.state, q.search, q.terms, inclusive=inclusive, backwards=backwards, t=t
        )

    def key_of(job: JobView) -> tuple:
        return store.sort_key(job, column, t)

    top = q.top if isinstance(q.top, tuple) else None
    ref = q.ref if isinstance(q.ref, tuple) else None
    op = q.op if ref is not None or q.op in ("top", "bottom") else "refresh"
    rows: list[JobView] | None = None
    if op == "top":
        top = None
    elif op == "up":
        above = rows_from(ref, 1, backwards=True)
        top = key_of(above[0]) if above else None
    elif op == "pgup":
        above = rows_from(ref, q.size, backwards=True)
        top = key_of(above[-1]) if len(above) == q.size else None
        rows = above[::-1] if len(above) == q.size else None
    elif op in ("down", "pgdown"):  # ref: the top row (down) or the last one (pgdown)
        below = rows_from(ref, q.size)  # down: the page moved by a row; pgdown: the next page
        if below:
            top, rows = key_of(below[0]), below
    if rows is None:
        rows = rows_from(top, q.size, inclusive=top is not None)
    if op == "bottom" or (len(rows) < q.size and top is not None):  # no half-empty page at the end
        tail = rows_from(None, q.size, backwards=True)
        rows = tail[::-1]
        top = key_of(rows[0]) if len(rows) == q.size else None
    return Page(q, top, rows, total, keys=[key_of(job) for job in rows])


def first_direction(column: str) -> bool:
    """Descending first (newest, last ended, highest priority, most runs, longest), except the
    names and the states (in lifecycle order)."""
    return column not in ("id", "state")


def sort_phrase(sort: tuple[str, bool], ended: str = "ended") -> str:
    """'newest first', 'last ended first', 'by priority ↓' ... (ended: the word for an end)."""
    column, descending = sort
    if column == "created":
        return "newest first" if descending else "oldest first"
    if column == "ended":
        return f"last {ended} first" if descending else f"first {ended} first"
    return f"by {SORT_WORDS.get(column, column)} {'↓' if descending else '↑'}"


#: a sort's column as its table header says it
SORT_WORDS = {"attempts": "runs"}


#: the narrowest the flexible column (command, error) gets before an id is cut
FLEX_MIN = 12
#: the ID column's narrowest (its mark and 12 cells of id)
ID_MIN = 14


class JobListPane(StorePane):
    """Base of the Jobs and DLQ panes: a paged, keyed job table.  The filters are reactive:
    changing one goes back to the first page."""

    #: state the pane always shows (DLQ: dead), else None
    FIXED_STATE: str | None = None
    #: the sorts `o` cycles through, the first one the pane's own order
    SORTS: tuple[str, ...] = store.SORT_COLUMNS

    state: reactive[str | None] = reactive(None, init=False)
    search: reactive[str | None] = reactive(None, init=False)
    terms: reactive[JobFilter] = reactive(JobFilter, init=False)
    #: (column, descending): ("created", True) is newest first
    sort: reactive[tuple[str, bool]] = reactive(("created", True), init=False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.set_reactive(JobListPane.state, self.FIXED_STATE)
        self.set_reactive(JobListPane.sort, (self.SORTS[0], first_direction(self.SORTS[0])))
        self.top: int | None = None
        self.rows: list[JobView] = []
        #: each row's key (Page.keys): where a move from the first or last row starts
        self.keys: list = []
        self.total: int | None = None
        self.marked: set[str] = set()
        self._ops: list[tuple[str, int | None]] = []
        self._columns_for: tuple | None = None
        self._shown: dict[str, tuple] = {}

    # -- what subclasses define --------------------------------------------------------
    def column_spec(self, width: int) -> list[tuple[str, str, int | None]]:
        """(key, label, width or None for the flexible one) for a table `width` cells wide."""
        raise NotImplementedError

    def cells(self, job: JobView, styles: dict[str, str], widths: dict[str, int]) -> tuple:
        raise NotImplementedError

    def id_width(self, width: int, others: list[tuple[str, str, int | None]]) -> int:
        """The ID column: wide enough for the longest id on the page (never cut while the
        flexible column can give way, down to FLEX_MIN), at least ID_MIN."""
        longest = max((len(clean(job.id)) for job in self.rows), default=0) + 2  # the mark
        room = width - 2 - sum(w for _, _, w in others if w) - 2 * (len(others) + 1) - FLEX_MIN
        return max(ID_MIN, min(longest, room))

    def action_sort(self) -> None:
        """o: sort by the next column of SORTS."""
        columns = self.SORTS
        column = columns[(columns.index(self.sort[0]) + 1) % len(columns)] if self.sort[0] in columns else columns[0]
        self.sort = (column, first_direction(column))

    def action_reverse_sort(self) -> None:
        self.sort = (self.sort[0], not self.sort[1])

    @property
    def table(self) -> PagedTable:
        return self.query_one(PagedTable)

    # -- paging ------------------------------------------------------------------------
    def page_size(self) -> int:
        height = self.table.size.height - 1  # the header row
        return max(3, height) if height > 0 else 20

    def query_args(self) -> PageQuery:
        op, ref = self._ops.pop(0) if self._ops else ("refresh", None)
        return PageQuery(
            self.state, self.search, self.terms, self.sort, self.page_size(), self.top, op, ref, self.counts
        )

    def fetch(self, args: PageQuery) -> Page:
        return fetch_page(args)

    def fingerprint(self, page: Page):
        # a running job's runtime and spinner move on screen: such a page is never idle
        busy = any(job.state == JobState.PROCESSING for job in page.rows)
        return None if busy else (page.rows, page.total, page.extra)

    def on_paged_table_edge(self, message: PagedTable.Edge) -> None:
        message.stop()
        d = message.direction
        ref = None
        if self.keys:
            ref = self.keys[-1] if d == "pgdown" else self.keys[0]
        self._ops.append((d, ref))
        self.reload()

    def on_data_table_header_selected(self, event) -> None:
        """A click on a column header sorts by it; on the sorted column, the other way round."""
        event.stop()
        column = SORT_OF_COLUMN.get(event.column_key.value)
        if column is not None:
            self.sort = (column, not self.sort[1] if column == self.sort[0] else first_direction(column))

    def restart(self) -> None:
        """The filter changed: back to the first page."""
        self.top = None
        self._ops = [("top", None)]
        self.reload()

    def watch_state(self) -> None:
        self.restart()

    def watch_search(self) -> None:
        self.restart()

    def watch_terms(self) -> None:
        self.restart()

    def watch_sort(self) -> None:
        self._columns_for = None  # the sorted column's header shows an arrow
        self.restart()

    # -- showing -----------------------------------------------------------------------
    def _ensure_columns(self) -> dict[str, int]:
        table = self.table
        width = max(20, table.size.width or self.size.width or 80)
        spec = self.column_spec(width)
        fixed = sum(w for _, _, w in spec if w) + 2 * len(spec)  # cell padding
        widths = {key: (w if w else max(8, width - fixed - 2)) for key, _, w in spec}
        if (width, spec) != self._columns_for:
            self._columns_for = (width, spec)
            table.clear(columns=True)
            column, descending = self.sort
            for key, label, _ in spec:
                if SORT_OF_COLUMN.get(key) == column:
                    label += "↓" if descending else "↑"
                table.add_column(label, key=key, width=widths[key])
            self._shown = {}
        return widths

    def show(self, page: Page) -> None:
        table = self.table
        q = page.query
        if (q.state, q.search, q.terms, q.sort) != (self.state, self.search, self.terms, self.sort):
            return  # the filter changed while this query ran; the next one is queued
        selected = self.selected_id
        old_index = table.cursor_row
        old_keys = list(self._shown)
        self.top = page.top
        self.rows = page.rows
        self.keys = page.keys
        self.total = page.total
        widths = self._ensure_columns()
        styles = state_styles(self.app.current_theme)
        keys = [job.id for job in page.rows]
        with self.app.batch_update():
            put_rows(table, self._shown, [(job.id, self.cells(job, styles, widths)) for job in page.rows])
            if keys:
                if q.op in ("top", "up") or (q.op == "pgup" and keys == old_keys):
                    index = 0
                elif q.op in ("bottom", "down") or (q.op == "pgdown" and keys == old_keys):
                    index = len(keys) - 1
                elif q.op in ("pgup", "pgdown"):
                    index = min(old_index, len(keys) - 1)
                elif selected in keys:
                    index = keys.index(selected)
                else:
                    index = min(old_index, len(keys) - 1)
                if index != table.cursor_row:
                    table.move_cursor(row=index, animate=False, scroll=False)
        self.after_show()

    def after_show(self) -> None:
        """Hook: update the status line, the preview..."""

    @property
    def selected_id(self) -> str | None:
        table = self.table
        return cursor_key(table)

    @property
    def selected_job(self) -> JobView | None:
        job_id = self.selected_id
        return next((j for j in self.rows if j.id == job_id), None)

    def targets(self) -> list[str]:
        """The jobs an action applies to: the marked ones, else the selected one."""
        if self.marked:
            return sorted(self.marked)
        return [self.selected_id] if self.selected_id else []

    def action_mark(self) -> None:
        job = self.selected_job
        if job is None:
            return
        self.marked.symmetric_difference_update({job.id})
        cells = self.cells(job, state_styles(self.app.current_theme), self._ensure_columns())
        self.table.update_cell(job.id, "id", cells[0])
        self._shown[job.id] = cells
        self.after_show()
        self.table.action_cursor_down()

    def mark_prefix(self, job: JobView) -> Text:
        return Text("● " if job.id in self.marked else "  ", style="bold")
