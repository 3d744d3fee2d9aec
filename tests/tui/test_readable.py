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
        await pilot.press("l")
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
