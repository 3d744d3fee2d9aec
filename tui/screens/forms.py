"""The new-job form and the priority prompt: bad values are shown inline and nothing is saved."""
from __future__ import annotations

import re

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from queuectl import store
from queuectl.errors import InputError, QueuectlError
from queuectl.spec import MAX_PRIORITY, JobSpec, spec_from_dict

#: (field, label, placeholder)
FIELDS = (
    ("command", "command", "shell command, e.g. make -j4"),
    ("id", "id", "optional; generated when empty"),
    ("priority", "priority", "integer, higher runs first (default from config)"),
    ("timeout", "timeout", "seconds (default from config)"),
    ("max_retries", "max retries", "integer (default from config)"),
    ("run_at", "run at", "ISO 8601 time, e.g. 2026-11-08T10:00 (empty: now)"),
    ("queue", "queue", "named queue (default: default)"),
    ("depends_on", "depends on", "job ids (comma or space separated); runs after they complete"),
)


def parse_form(values: dict[str, str]) -> tuple[JobSpec | None, dict[str, str]]:
    """Form text -> a validated JobSpec, or an error per field (through spec.py's own checks)."""
    data: dict = {}
    errors: dict[str, str] = {}
    for name, text in values.items():
        text = text.strip() if name != "command" else text
        if name != "command" and not text:
            continue
        try:
            if name in ("priority", "max_retries"):
                try:
                    value = int(text)
                except ValueError:
                    raise InputError(f"{name} must be an integer, not {text[:30]!r}") from None
            elif name == "timeout":
                try:
                    value = float(text)
                except ValueError:
                    raise InputError(f"timeout must be a number of seconds, not {text[:30]!r}") from None
            elif name == "depends_on":
                value = [part for part in re.split(r"[,\s]+", text) if part]
            else:
                value = text
            # each field alone, so every bad field gets its own message
            probe = {"command": "true", name: value} if name != "command" else {"command": value}
            spec_from_dict(probe)
            data[name] = value
        except QueuectlError as exc:
            errors[name] = str(exc)
    if errors:
        return None, errors
    try:
        return spec_from_dict(data), {}
    except QueuectlError as exc:
        return None, {"command": str(exc)}


class NewJobScreen(ModalScreen[str | None]):
    """Enqueue one job; dismisses with its id, or None when abandoned."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "submit", "Enqueue")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="new-job") as box:
            box.border_title = "New job"
            with VerticalScroll(classes="form"):
                for name, label, hint in FIELDS:
                    with Horizontal(classes="form-row"):
                        yield Label(label, classes="form-label")
                        yield Input(placeholder=hint, id=f"f-{name}")
                    yield Static("", id=f"e-{name}", classes="field-error")
            yield Static("", id="e-form", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel  esc", id="cancel")
                yield Button("Enqueue  ctrl+s", id="submit", variant="primary")

    def on_mount(self) -> None:
        for widget in self.query(".field-error"):
            widget.display = False
        self.query_one("#f-command", Input).focus()

    def values(self) -> dict[str, str]:
        return {name: self.query_one(f"#f-{name}", Input).value for name, _, _ in FIELDS}

    def show_errors(self, errors: dict[str, str]) -> None:
        for name, _, _ in (*FIELDS, ("form", "", "")):
            box = self.query_one(f"#e-{name}", Static)
            box.display = name in errors
            box.update(Text(errors.get(name, "")))

    @on(Input.Submitted)
    def _enter(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        spec, errors = parse_form(self.values())
        self.show_errors(errors)
        if spec is not None:
            self.query_one("#submit", Button).disabled = True
            self._enqueue(spec)

    @work(thread=True, exclusive=True, group="enqueue")
    def _enqueue(self, spec: JobSpec) -> None:
        try:
            added = store.enqueue([spec])[0]
            job_id = getattr(added, "id", added)  # the engine returns an id, or a record with one
        except QueuectlError as exc:
            self.app.call_from_thread(self._refused, str(exc))
            return
        self.app.call_from_thread(self.dismiss, job_id)

    def _refused(self, error: str) -> None:
        self.query_one("#submit", Button).disabled = False
        field = "id" if "job id" in error else ("depends_on" if "depends on" in error else "form")
        self.show_errors({field: error})


class PriorityScreen(ModalScreen[int | None]):
    """Ask for a new priority (an integer)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: int, count: int) -> None:
        super().__init__()
        self.current, self.count = current, count

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="priority") as box:
            box.border_title = f"Priority of {self.count} job{'s' * (self.count != 1)}"
            yield Label("higher runs first; enter saves, esc cancels")
            yield Input(str(self.current), id="f-priority")
            yield Static("", id="e-priority", classes="field-error")

    def on_mount(self) -> None:
        self.query_one("#e-priority").display = False
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _enter(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        error = None
        try:
            value = int(text)
            if not -MAX_PRIORITY <= value <= MAX_PRIORITY:
                error = f"priority must be between {-MAX_PRIORITY} and {MAX_PRIORITY}"
        except ValueError:
            error = f"priority must be an integer, not {text[:30]!r}"
        box = self.query_one("#e-priority", Static)
        box.display = error is not None
        if error:
            box.update(Text(error))
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


#: the engine's CLI bounds for `queue limit`
MAX_LIMIT = 100_000


def parse_limit(text: str) -> tuple[int | None, str | None]:
    """`queue limit` text -> (limit or None for no limit, error)."""
    text = text.strip().lower()
    if text in ("", "none", "-"):
        return None, None
    if text.isdigit() and 1 <= int(text) <= MAX_LIMIT:
        return int(text), None
    return None, f"a whole number from 1 to {MAX_LIMIT:,}, or 'none' (empty) for no limit; not {text[:30]!r}"


class LimitScreen(ModalScreen):
    """Ask for a queue's limit on running jobs: dismisses with a number, None (no limit) or False
    (abandoned)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, name: str, current: int | None) -> None:
        super().__init__()
        self.queue_name, self.current = name, current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="limit") as box:
            box.border_title = f"Limit of queue {self.queue_name}"
            yield Label("at most N of its jobs run at once (all hosts); none: no limit")
            yield Input("none" if self.current is None else str(self.current), id="f-limit")
            yield Static("", id="e-limit", classes="field-error")

    def on_mount(self) -> None:
        self.query_one("#e-limit").display = False
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _enter(self, event: Input.Submitted) -> None:
        event.stop()
        value, error = parse_limit(event.value)
        box = self.query_one("#e-limit", Static)
        box.display = error is not None
        if error:
            box.update(Text(error))
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(False)
