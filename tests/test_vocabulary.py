"""One vocabulary for job states (issue 23): outside queuectl/states.py no code compares, lists or
keys by a state's literal name; it names JobState (or the tuples states.py defines), and SQL text
spells a state through states.sql_literals.  Read from the source itself (ast), so that a new
`if job.state == "failed"` anywhere in the engine or the dashboard fails here."""

import ast
from pathlib import Path

import pytest

from queuectl.states import STATE_COLOURS, JobState, sql_literals

ROOT = Path(__file__).resolve().parent.parent
NAMES = {state.value for state in JobState}
#: a state written inside SQL text: 'pending'
QUOTED = tuple(f"'{name}'" for name in NAMES)


def state_literals(source: str) -> list[tuple[int, str]]:
    """(line, what) for every state literal where code compares, lists or keys by it: a string
    constant that is a state's name inside a comparison, a tuple, list or set, a dict key or a
    subscript; and any string constant holding a quoted state ('failed'), which is SQL text."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        places: list[ast.AST] = []
        if isinstance(node, ast.Compare):
            places = [node.left, *node.comparators]
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            places = node.elts
        elif isinstance(node, ast.Dict):
            places = [key for key in node.keys if key is not None]
        elif isinstance(node, ast.Subscript):
            places = [node.slice]
        for place in places:  # (a tuple inside a comparison is a tuple: seen as one)
            if isinstance(place, ast.Constant) and place.value in NAMES:
                found.append((place.lineno, f"{type(node).__name__.lower()} of {place.value!r}"))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            quoted = [q for q in QUOTED if q in node.value]
            if quoted:
                found.append((node.lineno, f"SQL text with {quoted[0]}"))
    return sorted(set(found))


def _sources() -> list[Path]:
    files = sorted((ROOT / "queuectl").rglob("*.py")) + sorted((ROOT / "tui").rglob("*.py"))
    return [path for path in files if path != ROOT / "queuectl" / "states.py"]


def test_no_state_literal_outside_states_py():
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in _sources()
        for line, what in state_literals(path.read_text())
    ]
    assert len(_sources()) > 100
    assert not found, "state literals outside queuectl/states.py (use JobState):\n" + "\n".join(found)


def test_the_scan_sees_state_literals():
    """The test above would pass on a scan that finds nothing: it must find each kind."""
    source = """
if job.state == "failed": pass
waiting = state in ("pending", "blocked")
styles = {"dead": "red"}
colour = styles["completed"]
sql = "SELECT 1 FROM job WHERE state = 'processing'"
label = "cancelled"  # a word, not compared or listed: allowed
"""
    assert [line for line, _ in state_literals(source)] == [2, 3, 3, 4, 5, 6]
    assert sql_literals(JobState.PENDING, JobState.FAILED) == "'pending', 'failed'"
    with pytest.raises(ValueError):
        sql_literals("paused")


def test_one_distinct_colour_per_state_shared_by_the_cli_and_the_dashboard():
    """Every state has its own colour (issue 25: processing and failed were both orange), and the
    CLI's tables and the dashboard use the same map."""
    from queuectl.tui.format import state_styles

    from queuectl.render import STATE_STYLES

    assert set(STATE_COLOURS) == set(JobState)
    assert len(set(STATE_COLOURS.values())) == len(JobState)
    assert STATE_STYLES == state_styles() == {state.value: colour for state, colour in STATE_COLOURS.items()}


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_every_state_colour_reads_on_dark_and_light_backgrounds():
    """At least WCAG's 3:1 (large or bold text) on Textual's dark and light themes' backgrounds
    and on a plain black or white terminal."""
    for background in ("#121212", "#E0E0E0", "#FFFFFF", "#000000"):
        low = {state.value: round(_contrast(colour, background), 2) for state, colour in STATE_COLOURS.items()}
        assert min(low.values()) >= 3.0, (background, low)
