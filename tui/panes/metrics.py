"""The Metrics pane: counts per state and headline figures, and three charts of the last hour
with labelled axes: completions and failures per minute, queue wait p50/p95, runtime p50/p95.

The charts are textual-plotext widgets (Textualize's wrapper of plotext): real axes with ticks
and labels, bars and lines, the app's theme colours, and it renders at 80x24.  Textual's
Sparkline has no axes, which is what made the old chart unreadable.  The series come from one
store query (store.last_hour) served by the (state, finished_at) index.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Static
from textual_plotext import PlotextPlot

from queuectl import store
from queuectl.states import STATE_COLOURS, JobState
from queuectl.store import Metrics, Series

from ..base import StorePane
from ..format import duration, shown_states, state_styles


@dataclass
class MetricsData:
    metrics: Metrics
    series: Series


#: the runs the throughput chart draws (Series fields, legend labels), in their states' colours
_RUN_ENDS = (JobState.COMPLETED.value, JobState.FAILED.value)
#: (chart id, title, y label, the two series it draws, their legend labels)
CHARTS = (
    ("metrics-throughput", "jobs per minute", "jobs", _RUN_ENDS, _RUN_ENDS),
    ("metrics-wait", "queue wait (enqueue → start)", "seconds", ("wait_p50", "wait_p95"), ("p50", "p95")),
    ("metrics-runtime", "runtime", "seconds", ("runtime_p50", "runtime_p95"), ("p50", "p95")),
)


def _rgb(colour: str) -> tuple[int, int, int]:
    """A "#RRGGBB" colour as plotext takes it."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _ticks(minutes: int) -> tuple[list[int], list[str]]:
    """x ticks every 15 minutes: -60 … now."""
    xs = list(range(-minutes + 1, 1))
    marks = [x for x in xs if x % 15 == 0]
    return marks, [("now" if x == 0 else f"{x}m") for x in marks]


class MetricsPane(StorePane):
    """Totals and the last hour, from cheap store queries (trigger-kept counts, indexed ranges)."""

    TAB = "metrics"
    REFRESH_SECONDS = 2.0

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        #: the last hour as last shown
        self.series: Series | None = None

    def compose(self) -> ComposeResult:
        with Grid(id="metrics-grid"):
            yield Static(id="metrics-counts", classes="card")
            for chart_id, *_ in CHARTS:
                yield PlotextPlot(id=chart_id, classes="chart")

    def fetch(self, args) -> MetricsData:
        return MetricsData(store.metrics(), store.last_hour(60))

    def show(self, data: MetricsData) -> None:
        self.series = data.series
        self._counts(data)
        colours = {"p50": "cyan", "p95": "blue+", **{state: _rgb(STATE_COLOURS[state]) for state in _RUN_ENDS}}
        marks, labels = _ticks(data.series.minutes)
        xs = list(range(-data.series.minutes + 1, 1))
        for chart_id, title, ylabel, fields, names in CHARTS:
            plot = self.query_one(f"#{chart_id}", PlotextPlot)
            plt = plot.plt
            plt.clear_data()
            plt.clear_figure()
            for field, name in zip(fields, names):
                values = getattr(data.series, field)
                if chart_id == "metrics-throughput":
                    plt.plot(xs, values, label=name, color=colours[name], marker="braille")
                else:
                    points = [(x, v) for x, v in zip(xs, values) if v is not None]
                    if points:
                        plt.plot(
                            [x for x, _ in points],
                            [v for _, v in points],
                            label=name,
                            color=colours[name],
                            marker="braille",
                        )
            plt.title(title)
            plt.xlabel("minutes ago")
            plt.ylabel(ylabel)
            plt.xlim(xs[0], xs[-1])
            plt.xticks(marks, labels)
            plt.ylim(0, None)
            plot.refresh()

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
            ("done/min", f"{m.completed_last_minute:,}"),
            ("done/h", f"{sum(data.series.completed):,}"),
            ("failed/h", f"{sum(data.series.failed):,}"),
            ("workers", f"{m.workers}"),
        ]
        states = shown_states(jobs)
        rows = max(len(states) + 1, len(figures))
        for i in range(rows):
            if i < len(states):
                state, n = states[i], jobs.get(states[i], 0)
                left = (
                    Text(state, style=styles.get(state, "") if n else "dim"),
                    Text(f"{n:,}", style="" if n else "dim"),
                )
            elif i == len(states):
                left = (Text("total", style="bold"), Text(f"{sum(jobs.values()):,}", style="bold"))
            else:
                left = ("", "")
            right = (Text(figures[i][0], style="dim"), figures[i][1]) if i < len(figures) else ("", "")
            grid.add_row(*left, *right)
        box = self.query_one("#metrics-counts", Static)
        box.border_title = "jobs · figures"
        box.update(grid)
