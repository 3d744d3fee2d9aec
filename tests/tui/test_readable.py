"""Read at 80×24: the header's worker count has its word and zeros go before the title, the limit
dialog's hint is whole, Config describes the selected setting in full."""

from __future__ import annotations

from textual.geometry import Region
from textual.widgets import Static

from queuectl import store
from queuectl.settings import SETTINGS
from queuectl.spec import JobSpec

from .conftest import LABEL, settle


def _text(widget) -> str:
    return str(widget.render())


def _shown(widget) -> str:
    """What the widget shows on screen, its lines joined by spaces."""
    lines = widget.render_lines(Region(0, 0, widget.outer_size.width, widget.outer_size.height))
    return " ".join(" ".join(strip.text.replace("│", " ").split()) for strip in lines).strip()


async def test_header_at_80_columns_says_workers_and_drops_zeros_before_the_title(opened, make_app):
    """Two pending jobs, nothing else: the whole store path, `● 0 workers`, `pending 2`, and
    none of the zero states."""
    store.enqueue([JobSpec("true"), JobSpec("true")])
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        right = _text(app.query_one("#hdr-right", Static))
        assert "● 0 workers" in right and "pending 2" in right
        assert "completed" not in right and "dead" not in right
        assert LABEL in _text(app.query_one("#hdr-left", Static))
    async with make_app().run_test(size=(160, 30)) as pilot:  # room for every state: the zeros too
        await settle(pilot)
        assert "dead 0" in _text(pilot.app.query_one("#hdr-right", Static))


async def test_limit_dialog_hint_is_whole_at_80_columns(ops_seeded, make_app):
    """The queue limit dialog's hint wraps rather than being cut (`none: no li`)."""
    app = make_app(clock=ops_seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("7")
        await settle(pilot)
        await pilot.press("L")
        await settle(pilot)
        hint = app.screen.query_one(".dialog-hint", Static)
        assert _shown(hint).endswith("none: no limit")


async def test_config_shows_the_whole_description_of_the_selected_setting(opened, make_app):
    """Editing a setting (e, then down) shows its whole description under the form."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        first, second = list(SETTINGS)[:2]
        box = app.query_one("#config-help", Static)
        assert box.border_title == first
        await pilot.press("tab")
        await settle(pilot)
        assert box.border_title == second
        assert " ".join(SETTINGS[second].help.split()) in _shown(box)
        assert f"default {SETTINGS[second].show(SETTINGS[second].default)}" in _shown(box)


async def test_metrics_at_80x24_fit_the_data_and_say_runs_and_percentiles(opened, make_app):
    """Jobs that all ended just now: the 10-minute window, t switches to the hour and the day;
    whole, evenly spaced count ticks; the legend and the window's p50/p95 on a line above each
    plot (none drawn on it); 'runs' where runs are counted."""
    from conftest import claim_one, finish_one
    from queuectl.tui.panes.metrics import y_ticks

    store.enqueue([JobSpec("true", id=f"m{i}") for i in range(7)])
    for i in range(7):
        finish_one(claim_one("w1", "h"), "w1", None if i else "boom", None if i else 1)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        pane = app.query_one("#metrics-pane")
        assert pane.shown_window == "10m" and len(pane.series.completed) == 20
        assert sum(pane.series.completed) == 6
        legend = _text(app.query_one("#metrics-throughput-legend", Static))
        assert "runs ended per 30s" in legend and "ok" in legend and "failed" in legend
        runtime = _text(app.query_one("#metrics-runtime-legend", Static))
        assert "p50 " in runtime and "p95 " in runtime
        assert pane.series.runtime[1] is not None
        chart = _shown(app.query_one("#metrics-throughput"))
        assert "ok" not in chart and "failed" not in chart  # no legend on the plot
        assert "-10m" in chart and "-5m" in chart and "now" in chart
        assert "." not in chart.replace("…", "")  # whole numbers
        figures = _shown(app.query_one("#metrics-counts"))
        assert "runs failed 1" in figures and "runs ok 6" in figures
        assert "runs, last 10 minutes" in figures
        await pilot.press("t")
        await settle(pilot)
        assert pane.shown_window == "1h" and len(pane.series.completed) == 60
        await pilot.press("t")
        await settle(pilot)
        assert pane.shown_window == "1d" and "-24h" in _shown(app.query_one("#metrics-wait"))
    assert y_ticks(7, seconds=False) == (10, [0, 5, 10], ["0", "5", "10"])
    for top in (1, 2, 3, 7, 13, 99, 1234):
        ymax, ticks, labels = y_ticks(top, seconds=False)
        assert ymax >= top and all(isinstance(t, int) for t in ticks)
        assert len({b - a for a, b in zip(ticks, ticks[1:])}) == 1  # evenly spaced


def test_counts_shorten_to_fit_a_narrow_header():
    """Past 100,000 a count takes at most 6 cells (the header at 80 columns, the Metrics card)."""
    from queuectl.tui.format import compact_count

    assert [compact_count(n) for n in (0, 99_999, 100_000, 836_999, 999_499, 999_500, 1_000_000, 123_456_789)] == [
        "0",
        "99,999",
        "100k",
        "837k",
        "999k",
        "1.0M",
        "1.0M",
        "123M",
    ]
