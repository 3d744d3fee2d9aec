"""Every screen's own footer, forms that fit 80x24, and one word and colour per state."""

from __future__ import annotations

from textual.widgets import DataTable, Input
from textual.widgets._footer import FooterKey

from queuectl import store

from .conftest import keys_of, settle
from .test_panes import plain


def _footer(app) -> dict[str, bool]:
    """key -> is it on screen (inside the terminal's width) in the active screen's footer."""
    width = app.size.width
    shown = {}
    for key in app.screen.query(FooterKey):
        region = key.region
        shown[key.key] = region.width > 0 and region.x >= 0 and region.right <= width
    return shown


async def test_every_screen_shows_its_own_keys_with_help_quit_and_esc_visible_at_80(seeded, make_app):
    """Jobs, DLQ, job detail, help, a form and a dialog: their own keys; ?/q or esc always in view."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        keys = _footer(app)
        assert keys["question_mark"] and keys["q"] and keys["enter"] and keys["z"]  # the most used first
        await pilot.press("2")
        await settle(pilot)
        keys = _footer(app)
        assert keys["question_mark"] and keys["q"] and "A" in keys and "n" not in keys
        await pilot.press("1", "enter")
        await settle(pilot)
        keys = _footer(app)
        assert keys["escape"] and "l" in keys and "n" not in keys and "question_mark" not in keys
        await pilot.press("escape", "question_mark")
        await settle(pilot)
        assert _footer(app) == {"escape": True, "slash": True}
        await pilot.press("escape", "n")
        await settle(pilot)
        assert set(_footer(app)) == {"escape", "ctrl+s"} and _footer(app)["escape"]
        await pilot.press("escape", "c")
        await settle(pilot)
        assert _footer(app)["escape"] and "y" in _footer(app)


async def test_a_footer_key_that_does_not_fit_whole_is_hidden_not_cut(seeded, make_app):
    """At 80 columns each pane's keys end before the pinned ? : q group: a key is shown whole
    (its trailing blank may sit under the group) or not at all."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        for pane in "12345678":
            await pilot.press(pane)
            await settle(pilot)
            keys = list(app.screen.query(FooterKey))
            pinned_x = min(k.region.x for k in keys if k.key in ("question_mark", "colon", "q"))
            shown = [k for k in keys if k.display and k.key not in ("question_mark", "colon", "q")]
            for key in shown:
                text = key.render().plain.rstrip()
                assert key.region.x + len(text) <= pinned_x, f"pane {pane}: {text!r} is cut"
            hidden = [k for k in keys if not k.display]
            assert not hidden or keys.index(hidden[0]) > keys.index(shown[-1]), "keys hide from the right"
        await pilot.press("2")
        await settle(pilot)
        shown = [k.key for k in app.screen.query(FooterKey) if k.display]
        assert {"e", "x", "v", "l"} <= set(shown)  # the DLQ's most used keys fit first (issue 25)


async def test_new_job_form_fits_80x24_and_focuses_the_first_bad_field(seeded, make_app):
    """The buttons are on screen, placeholders are whole, and a bad priority gets the focus."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        screen = app.screen
        for button in ("#submit", "#cancel"):
            region = screen.query_one(button).region
            assert region.height and region.bottom <= 23, button  # above the footer
        for field in screen.query(Input):
            assert len(field.placeholder) <= field.content_region.width, field.id
        await pilot.press(*"echo hi")
        screen.query_one("#f-priority", Input).value = "high"
        screen.query_one("#f-timeout", Input).value = "soon"
        screen.query_one("#f-command", Input).focus()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert screen.query_one("#f-priority", Input).has_focus
        assert screen.query_one("#e-timeout").display


async def test_enqueue_under_a_filter_shows_the_new_job(seeded, make_app):
    """D (dead only), then n: the filter is cleared and the new job is the first row."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("D")
        await settle(pilot)
        await pilot.press("n", *"echo new")
        app.screen.query_one("#f-id", Input).value = "fresh"
        await pilot.press("ctrl+s")
        await settle(pilot)
        await settle(pilot)
        pane = app.query_one("#jobs-pane")
        assert pane.state is None and keys_of(app.query_one("#jobs-table", DataTable))[0] == "fresh"
        assert store.get_job("fresh").command == "echo new"


async def test_header_and_panes_agree_and_use_the_store_state_names(seeded, make_app):
    """One snapshot of counts for the header, Jobs and Metrics; 'processing', never 'running'."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        header = str(app.query_one("#hdr-right").render())
        assert "processing 1" in header and "running" not in header and "run " not in header
        pane = app.query_one("#jobs-pane")
        assert pane.counts == store.counts() and pane.total == sum(pane.counts.values())
        await pilot.press("4")
        await settle(pilot)
        shown = plain(app.query_one("#metrics-counts").content)
        assert "processing" in shown and "running" not in shown


async def test_header_at_80_columns_keeps_whole_state_names(seeded, make_app):
    """Narrow: the zero states are left out, the others keep the store's word."""
    app = make_app(clock=seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        header = str(app.query_one("#hdr-right").render())
        assert "completed 12" in header and "dead 3" in header and "blkd" not in header


def test_blocked_is_distinct_from_dead_and_zero_counts_are_dim():
    """The blocked colour is not the dead one (nor magenta, which reads as the themes' red)."""
    from queuectl.tui.format import state_styles

    styles = state_styles()
    assert styles["blocked"] not in (styles["dead"], "magenta", "red")


async def test_empty_store_says_what_to_do(opened, make_app):
    """No jobs: the Jobs pane says n adds one; a filter with no match says esc clears it."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "no jobs yet — n adds one" in str(app.query_one("#jobs-status").render())
        await pilot.press("D")
        await settle(pilot)
        assert "esc clears the filter" in str(app.query_one("#jobs-status").render())
