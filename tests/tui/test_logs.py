"""The Logs pane read like less (issue 25): search, filter, follow, wrap, moves, and job output
that stays inert on screen."""

from __future__ import annotations

from conftest import claim_one
from queuectl.tui.format import ESCAPED_STYLE, log_plain, safe_ansi
from queuectl.tui.widgets.log_view import CURRENT_STYLE, MATCH_STYLE, LogView

from queuectl import store
from queuectl.spec import JobSpec

from .conftest import settle


def _job_with_output(job_id: str, out: str, err: str = "", finished: bool = False) -> None:
    """A running attempt (a claimed job) whose logs hold `out` and `err`."""
    store.enqueue([JobSpec("x", id=job_id, max_retries=0)])
    claim = claim_one("w", "h")
    stdout, stderr = store.attempt_paths(store.location().logs_dir, job_id, claim.attempt)
    stdout.parent.mkdir(parents=True, exist_ok=True)
    stdout.write_text(out)
    stderr.write_text(err)
    if finished:
        from conftest import finish_one

        finish_one(claim, "w", None, 0)


def _styles_at(view: LogView, y: int) -> list[tuple[str, object]]:
    """The text and style of each segment of screen row y of the view."""
    return [(seg.text, seg.style) for seg in view.render_line(y)]


def _find(app) -> str:
    return str(app.query_one("#logs-find").render())


async def _type(pilot, *keys: str) -> None:
    await pilot.press(*keys)
    await settle(pilot, 1)


OUT = "".join(f"line {i:03} {'ERROR disk full' if i % 25 == 7 else 'ok'}\n" for i in range(200))


async def test_search_highlights_every_match_and_n_N_step_through_them(opened, make_app):
    """/ERROR: every match highlighted, the first one from the top of the screen is current
    ("match 1 of 8", over stdout then stderr), n/N step (wrapping), one esc clears it all."""
    _job_with_output("chatty", OUT, "ERROR on stderr\n", finished=True)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.show_logs("chatty")
        await settle(pilot)
        out, err = app.query_one("#log-out", LogView), app.query_one("#log-err", LogView)
        assert len(out.lines) == 200
        out.action_top()
        await _type(pilot, "slash", *"ERROR", "enter")
        assert "/ERROR  match 1 of 9" in _find(app)  # 8 in stdout, 1 in stderr
        assert not out.following
        row = 7 - out.scroll_offset.y  # line 007 holds the first match
        assert any(t == "ERROR" and s.bgcolor == CURRENT_STYLE.bgcolor for t, s in _styles_at(out, row) if s)
        await _type(pilot, "n")
        assert "match 2 of 9" in _find(app)
        n, start, end = out.matches[1]
        assert (n, start, end) == (32, 9, 14)
        shown = out.scroll_offset.y
        assert shown <= 32 < shown + out.scrollable_content_region.height
        line = _styles_at(out, 32 - shown)
        assert any(t == "ERROR" and s.bgcolor == CURRENT_STYLE.bgcolor for t, s in line if s)
        first = _styles_at(out, 7 - shown) if shown <= 7 else []
        assert all(s.bgcolor != CURRENT_STYLE.bgcolor for t, s in first if s and t == "ERROR")
        for _ in range(7):
            await _type(pilot, "n")
        assert "match 9 of 9" in _find(app) and err.current == 0 and err.has_focus
        await _type(pilot, "n")
        assert "match 1 of 9" in _find(app) and out.current == 0
        await _type(pilot, "N")
        assert "match 9 of 9" in _find(app)
        await _type(pilot, "escape")
        assert not app.query_one("#logs-find").display
        assert (out.matches, err.matches) == ([], [])
        assert all(not (s and s.bgcolor in (MATCH_STYLE.bgcolor, CURRENT_STYLE.bgcolor)) for _, s in _styles_at(out, 0))


async def test_search_is_case_blind_in_lower_case_and_counts_only_filtered_lines(opened, make_app):
    """less -i: /error finds ERROR; & keeps the lines holding a word and the search then counts
    what is shown; esc clears the search first, then the filter."""
    _job_with_output("chatty", OUT + "error in lower case\n", finished=True)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.show_logs("chatty")
        await settle(pilot)
        out = app.query_one("#log-out", LogView)
        await _type(pilot, "ampersand", *"line 0", "enter")
        assert out.shown_count == 100  # line 000 … line 099
        assert "&line 0  100 lines" in _find(app)
        await _type(pilot, "slash", *"error", "enter")
        # 007, 032, 057, 082 (the filter hides the rest); the view was at the bottom, past them
        # all: the search lands on the nearest one above
        assert "match 4 of 4" in _find(app)
        await _type(pilot, "slash", *"Error", "enter")
        assert "/Error  no match" in _find(app)  # a capital letter: case counts
        await _type(pilot, "escape")
        assert "&line 0" in _find(app) and out.shown_count == 100
        await _type(pilot, "escape")
        assert out.shown_count == 201 and not app.query_one("#logs-find").display


async def test_follow_moves_wrap_and_half_pages(opened, make_app):
    """A live attempt is followed (the newest line at the bottom as lines come); k stops it and
    the status says so, F resumes; ctrl+d/ctrl+u move half a screen, g/G to either end; w wraps
    long lines (more rows, no horizontal scrolling)."""
    long = "x" * 250
    _job_with_output("live", "".join(f"line {i:03} {long if i == 150 else ''}\n" for i in range(160)))
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.show_logs("live")
        await settle(pilot)
        out = app.query_one("#log-out", LogView)
        pane = app.query_one("#logs-pane")
        height = out.scrollable_content_region.height
        assert out.following and out.render_line(height - 1).text.startswith("line 159")
        out.append([f"more {i}" for i in range(25)])
        await settle(pilot, 1)
        size = out.virtual_size
        assert size.height == height  # one screen: the tail
        out.append([f"more {i}" for i in range(25, 50)])  # while following: no new layout
        assert out.virtual_size == size
        await settle(pilot, 1)
        assert out.render_line(height - 1).text.startswith("more 49")
        await _type(pilot, "k")
        assert not out.following and not pane.following
        assert "paused (F follows)" in str(app.query_one("#logs-status").render())
        bottom = out.scroll_offset.y
        assert bottom == 210 - height - 1
        await _type(pilot, "ctrl+u")
        assert out.scroll_offset.y == bottom - height // 2
        await _type(pilot, "ctrl+d")
        assert out.scroll_offset.y == bottom
        await _type(pilot, "g")
        assert out.scroll_offset.y == 0 and out.render_line(0).text.startswith("line 000")
        await _type(pilot, "G")
        assert out.scroll_offset.y == 210 - height
        await _type(pilot, "F")
        assert out.following and "live, following" in str(app.query_one("#logs-status").render())
        await _type(pilot, "F", "g", "w")
        assert out.wrap and "wrapped" in str(app.query_one("#logs-status").render())
        width = out.scrollable_content_region.width
        assert out.virtual_size.width == width
        assert out.virtual_size.height == 210 + -(-(len("line 150 ") + 250) // width) - 1
        await _type(pilot, "w")
        assert not out.wrap and out.virtual_size.height == 210
        await _type(pilot, "slash", *"later", "enter", "F")  # nothing matches yet; follow again
        assert "/later  no match" in _find(app) and out.following
        stdout, _ = store.attempt_paths(store.location().logs_dir, "live", 1)
        with stdout.open("a") as f:
            f.write("later on\n")
        await pilot.pause(0.5)
        await settle(pilot, 1)
        assert "/later  1 match" in _find(app) and out.following  # counted, not jumped to
        assert out.render_line(height - 1).text.startswith("later on")


async def test_escapes_stay_inert_and_an_escaped_st_reads_unlike_text(opened, make_app):
    """A job that prints ESC \\ ESC ]52 (an ST, then an OSC 52 clipboard write) and one that
    prints that as text: the first is drawn ␛\\␛]52… with its pictures in reverse, the second as
    typed; no control character reaches the screen; colours (SGR) still render."""
    hostile = "\x1b\\\x1b]52;c;aGk=\x07 \x9b2J \u202eevil"
    text = "\\x1b\\\\x1b]52"
    _job_with_output("odd", f"{hostile}\n{text}\n\x1b[31mred\x1b[0m\n", finished=True)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.show_logs("odd")
        await settle(pilot)
        out = app.query_one("#log-out", LogView)
        out.action_top()
        await settle(pilot, 1)
        drawn = [out.render_line(y) for y in range(3)]
        assert drawn[0].text.startswith("␛\\␛]52;c;aGk=␇ <9B>2J <U+202E>evil")
        assert drawn[1].text.startswith("\\x1b\\\\x1b]52")
        for strip in drawn:
            assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in strip.text)
        reversed_ = [seg.text for seg in drawn[0] if seg.style and seg.style.reverse]
        assert reversed_ == ["␛", "␛", "␇", "<9B>", "<U+202E>"]
        assert not [seg for seg in drawn[1] if seg.style and seg.style.reverse]
        red = [seg for seg in drawn[2] if seg.text == "red"]
        assert red and red[0].style.color is not None


def test_safe_ansi_markers_and_plain_agree():
    """log_plain (the cheap path used for widths and search) is the text safe_ansi draws; each
    escaped character is its own marker in ESCAPED_STYLE, a control picture printed by a job is
    escaped too (so ␛ on screen is always an escape), tabs expand past colour codes."""
    cases = [
        "plain ascii",
        "\x1b\\\x1b]52;c;aGk=\x07",
        "a\tb\x1b[31mred\tx\x1b[0m",
        "10%\r50%\r",
        "\x00\x7f\x85 \u2028 \u241b literal picture",
        "tab\tafter\ttabs",
        "naïve ünïcode \u200b zero width",
    ]
    for raw in cases:
        assert log_plain(raw) == safe_ansi(raw).plain, raw
    text = safe_ansi("\u241b\x1b")
    assert text.plain == "<U+241B>␛"
    assert [(s.start, s.end) for s in text.spans if s.style == ESCAPED_STYLE] == [(0, 8), (8, 9)]
    assert safe_ansi("a\tb\x1b[31mred\tx\x1b[0m").plain == "a       bred    x"
    assert safe_ansi("10%\r50%\r").plain == "50%"
