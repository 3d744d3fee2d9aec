"""The Metrics pane: jobs per state now and figures of recent runs, and three charts of a window
that fits the data (the last 10 minutes, hour or day; `t` switches): runs that ended per bucket
(ok, failed), queue wait p50/p95, runtime p50/p95, with the window's p50 and p95 as numbers in
each chart's legend line (above the plot, not on it).  Ticks are evenly spaced, whole numbers
for counts.

The charts are textual-plotext widgets (Textualize's wrapper of plotext): real axes with ticks
and labels, bars and lines, the app's theme colours, and it renders at 80x24.  Textual's
Sparkline has no axes, which is what made the old chart unreadable.  The series come from one
store query (store.last_hour) served by the (state, finished_at) index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.widget import Widget
from textual.widgets import Static
from textual_plotext import PlotextPlot

from queuectl import store
from queuectl.states import STATE_COLOURS, JobState
from queuectl.store import Metrics, Series

from .. import keymap
from ..base import StorePane
from ..format import compact_count, duration, shown_states, state_styles


@dataclass
class MetricsData:
    metrics: Metrics
    series: Series
    window: str  # a key of WINDOWS


#: window -> (its name, buckets, seconds per bucket, seconds between x ticks, a tick's unit in
#: seconds and its letter, the bucket in words)
WINDOWS = {
    "10m": ("last 10 minutes", 20, 30, 300, 60, "m", "30s"),
    "1h": ("last hour", 60, 60, 900, 60, "m", "minute"),
    "1d": ("last day", 48, 1800, 6 * 3600, 3600, "h", "30m"),
}
WINDOW_ORDER = tuple(WINDOWS)

#: (chart id, its words, the unit, the two series it draws, their legend words)
CHARTS = (
    (
        "metrics-throughput",
        "runs ended per {bucket}",
        "runs",
        (JobState.COMPLETED.value, JobState.FAILED.value),
        ("ok", JobState.FAILED.value),
    ),
    ("metrics-wait", "queue wait", "s", ("wait_p50", "wait_p95"), ("p50", "p95")),
    ("metrics-runtime", "runtime", "s", ("runtime_p50", "runtime_p95"), ("p50", "p95")),
)


def _rgb(colour: str) -> tuple[int, int, int]:
    """A "#RRGGBB" colour as plotext takes it."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


_OK, _FAILED = STATE_COLOURS[JobState.COMPLETED], STATE_COLOURS[JobState.FAILED]
#: line colours: plotext's and Rich's for the legend, the same colour (runs: their states' colours)
COLOURS = {
    "ok": (_rgb(_OK), _OK),
    JobState.FAILED.value: (_rgb(_FAILED), _FAILED),
    "p50": (6, "color(6)"),
    "p95": (12, "color(12)"),
}

#: a y axis's steps: job counts (whole numbers) and seconds
_COUNT_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 100_000, 1_000_000)
_SECOND_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)


def fit_window(span: float | None) -> str:
    """The narrowest window that holds every job that ended within the last day (span: seconds
    since the oldest of them); the hour when none did."""
    if span is None:
        return "1h"
    return "10m" if span <= 600 else "1h" if span <= 3600 else "1d"


def y_ticks(top: float, seconds: bool, rows: int = 3) -> tuple[float, list[float], list[str]]:
    """(the axis's top, evenly spaced ticks from 0, their labels): whole numbers for counts, at
    most `rows` steps above 0."""
    steps = _SECOND_STEPS if seconds else _COUNT_STEPS
    top = top or 1
    step = next((s for s in steps if s * rows >= top), steps[-1])
    count = max(1, min(rows, math.ceil(top / step - 1e-9)))
    ticks = [i * step for i in range(count + 1)]
    return ticks[-1], ticks, [tick_label(t, seconds) for t in ticks]


def tick_label(value: float, seconds: bool) -> str:
    if not seconds:
        return f"{int(value):,}"
    if value < 1 and value:
        return f"{value:.1f}s"
    return short_duration(value)


def short_duration(value: float) -> str:
    """0s, 45s, 2m, 1.5h, 2d: a tick or a figure in a few cells."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value >= size:
            n = value / size
            return f"{n:.0f}{unit}" if n == int(n) or n >= 10 else f"{n:.1f}{unit}"
    return f"{value:.1f}s" if 0 < value < 10 and value != int(value) else f"{value:.0f}s"


def x_ticks(window: str) -> tuple[list[int], list[str]]:
    """x ticks, evenly spaced, ending at "now", in buckets before now (0 = the bucket now ends)."""
    _, buckets, bucket_s, every, unit_s, unit, _ = WINDOWS[window]
    span = buckets * bucket_s
    marks, labels = [], []
    for ago in range(span - span % every, -1, -every):
        marks.append(-(ago // bucket_s))
        labels.append("now" if ago == 0 else f"-{ago // unit_s}{unit}")
    return marks, labels


def _figure(value: float | None) -> str:
    return "–" if value is None else short_duration(value)


class MetricsPane(StorePane):
    """Totals and a window (10 minutes, an hour, a day: `t`), from cheap store queries
    (trigger-kept counts, indexed ranges)."""

    TAB = "metrics"
    REFRESH_SECONDS = 2.0
    BINDINGS = keymap.bindings("metrics")
    can_focus = True  # (for its key: nothing in it takes the focus)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        #: the window as last shown
        self.series: Series | None = None
        #: the window chosen with `t` (None: the one that fits the data)
        self.window: str | None = None
        self.shown_window: str | None = None

    def compose(self) -> ComposeResult:
        with Grid(id="metrics-grid"):
            yield Static(id="metrics-counts", classes="card")
            for chart_id, *_ in CHARTS:
                with Vertical(classes="chart-box"):
                    yield Static(id=f"{chart_id}-legend", classes="chart-legend")
                    yield PlotextPlot(id=chart_id, classes="chart")

    def focus_target(self) -> Widget:
        return self

    def query_args(self):
        return self.window

    def fetch(self, window: str | None) -> MetricsData:
        if window is None:
            window = fit_window(store.last_ended_span(86400))
        _, buckets, bucket_s, *_ = WINDOWS[window]
        return MetricsData(store.metrics(), store.last_hour(buckets, bucket_s), window)

    def action_window(self) -> None:
        """t: the next window (10 minutes, an hour, a day)."""
        current = self.window or self.shown_window or "1h"
        self.window = WINDOW_ORDER[(WINDOW_ORDER.index(current) + 1) % len(WINDOW_ORDER)]
        self.notify(f"metrics: the {WINDOWS[self.window][0]}")
        self.reload()

    def show(self, data: MetricsData) -> None:
        self.series = data.series
        self.shown_window = data.window
        self._counts(data)
        _, buckets, bucket_s, *_ = WINDOWS[data.window]
        marks, labels = x_ticks(data.window)
        xs = list(range(-buckets + 1, 1))
        figures = {"metrics-wait": data.series.wait, "metrics-runtime": data.series.runtime}
        for chart_id, words, unit, fields, names in CHARTS:
            plot = self.query_one(f"#{chart_id}", PlotextPlot)
            plt = plot.plt
            plt.clear_data()
            plt.clear_figure()
            top = 0.0
            for field, key in zip(fields, names):
                values = getattr(data.series, field)
                points = [(x, v) for x, v in zip(xs, values) if v is not None]
                if points:
                    top = max(top, *(v for _, v in points))
                    plt.plot([x for x, _ in points], [v for _, v in points], color=COLOURS[key][0], marker="braille")
            seconds = unit == "s"
            ymax, ticks, tick_labels = y_ticks(top, seconds)
            plt.xlim(xs[0], xs[-1])
            plt.xticks(marks, labels)
            plt.ylim(0, ymax)
            plt.yticks(ticks, tick_labels)
            plot.refresh()
            legend = Text(no_wrap=True, overflow="ellipsis")
            legend.append(words.format(bucket=WINDOWS[data.window][-1]), style="bold")
            for key in names:
                legend.append("  ━ ", style=COLOURS[key][1])
                legend.append(key)
                if chart_id in figures:
                    value = figures[chart_id][0 if key == "p50" else 1]
                    legend.append(f" {_figure(value)}", style="bold")
            self.query_one(f"#{chart_id}-legend", Static).update(legend)

    def _counts(self, data: MetricsData) -> None:
        m = data.metrics
        jobs = self.counts or m.jobs  # the header's snapshot, so both show the same numbers
        styles = state_styles(self.app.current_theme)
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(justify="right", no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column(justify="right", no_wrap=True)
        figures = [
            ("success", "–" if m.success_rate is None else f"{m.success_rate * 100:.1f}%"),
            ("p95 run", duration(m.p95_runtime_s) or "–"),
            ("runs ok/min", f"{m.completed_last_minute:,}"),
            ("runs ok", compact_count(sum(data.series.completed))),  # (in the window: the card's title)
            ("runs failed", compact_count(sum(data.series.failed))),
            ("workers", f"{m.workers}"),
        ]
        states = shown_states(jobs)
        rows = max(len(states) + 1, len(figures))
        for i in range(rows):
            if i < len(states):
                state, n = states[i], jobs.get(states[i], 0)
                left = (
                    Text(state, style=styles.get(state, "") if n else "dim"),
                    Text(compact_count(n), style="" if n else "dim"),
                )
            elif i == len(states):
                left = (Text("total", style="bold"), Text(compact_count(sum(jobs.values())), style="bold"))
            else:
                left = ("", "")
            right = (Text(figures[i][0], style="dim"), figures[i][1]) if i < len(figures) else ("", "")
            grid.add_row(*left, *right)
        box = self.query_one("#metrics-counts", Static)
        box.border_title = f"jobs now · runs, {WINDOWS[data.window][0]}"
        box.update(grid)
