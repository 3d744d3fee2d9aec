"""The Metrics pane: counts per state, success rate, runtimes, completions per minute, workers."""
from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from queuectl import store
from queuectl.store import Metrics

from ..base import StorePane
from ..format import LABEL, duration, shown_states, state_styles


@dataclass
class MetricsData:
    metrics: Metrics
    per_minute: list[int]


class MetricsPane(StorePane):
    """Totals and throughput, from cheap store queries (trigger-kept counts, indexed ranges)."""

    TAB = "metrics"
    REFRESH_SECONDS = 2.0

    def compose(self) -> ComposeResult:
        with Horizontal(id="metrics-top"):
            yield Static(id="metrics-counts", classes="card")
            yield Static(id="metrics-figures", classes="card")
        with Vertical(id="metrics-spark-box", classes="card"):
            yield Sparkline([0] * 60, id="metrics-spark")
            yield Static(id="metrics-spark-label")

    def fetch(self, args) -> MetricsData:
        return MetricsData(store.metrics(), store.completions_per_minute(60))

    def show(self, data: MetricsData) -> None:
        m = data.metrics
        styles = state_styles(self.app.current_theme)
        counts = Table.grid(padding=(0, 2))
        counts.add_column()
        counts.add_column(justify="right")
        counts.add_column()
        top = max(m.jobs.values()) if m.jobs else 0
        bar_width = 16
        for state in shown_states(m.jobs):
            n = m.jobs.get(state, 0)
            bar = "█" * (round(bar_width * n / top) if top else 0)
            counts.add_row(Text(LABEL.get(state, state), style=styles.get(state, "")), f"{n:,}",
                           Text(bar, style=styles.get(state, "")))  # fmt: skip
        counts.add_row(Text("total", style="bold"), Text(f"{m.total:,}", style="bold"), "")
        box = self.query_one("#metrics-counts", Static)
        box.border_title = "jobs"
        box.update(counts)

        figures = Table.grid(padding=(0, 2))
        figures.add_column()
        figures.add_column(justify="right")
        rate = "–" if m.success_rate is None else f"{m.success_rate * 100:.1f}%"
        figures.add_row("success rate", rate)
        figures.add_row("avg runtime", duration(m.avg_runtime_s) or "–")
        figures.add_row("p95 runtime", duration(m.p95_runtime_s) or "–")
        figures.add_row("done last minute", f"{m.completed_last_minute:,}")
        figures.add_row("done last hour", f"{sum(data.per_minute):,}")
        figures.add_row("live workers", Text(f"● {m.workers}", style=styles["completed"] if m.workers else "dim"))
        box = self.query_one("#metrics-figures", Static)
        box.border_title = "figures"
        box.update(figures)

        self.query_one("#metrics-spark", Sparkline).data = data.per_minute
        peak = max(data.per_minute)
        self.query_one("#metrics-spark-box").border_title = "completions per minute, last hour"
        self.query_one("#metrics-spark-label", Static).update(
            Text(f"-60 min{'':<10}peak {peak:,}/min · now {data.per_minute[-1]:,}/min", style="dim", no_wrap=True)
        )
