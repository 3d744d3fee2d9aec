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
from queuectl.spec import JobSpec, parse_priority, parse_queue_limit, spec_from_dict

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


class NewJobScreen(ModalScreen[tuple | None]):
    """Enqueue one job; dismisses with (its id, its spec), or None when abandoned."""

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
            job_id = store.enqueue([spec])[0].id
        except QueuectlError as exc:
            self.app.call_from_thread(self._refused, str(exc))
            return
        self.app.call_from_thread(self.dismiss, (job_id, spec))

    def _refused(self, error: str) -> None:
        self.query_one("#submit", Button).disabled = False
        field = "id" if "job id" in error else ("depends_on" if "depends on" in error else "form")
        self.show_errors({field: error})


class ValueScreen(ModalScreen):
    """Ask for one value: `parse` turns the text into it or raises a QueuectlError whose
    message is shown under the field.  Dismisses with the value, or `abandoned` on esc."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, key: str, title: str, hint: str, initial: str, parse, abandoned=None) -> None:
        super().__init__()
        self.key, self.title_text, self.hint, self.initial = key, title, hint, initial
        self.parse, self.abandoned = parse, abandoned

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id=self.key) as box:
            box.border_title = self.title_text
            yield Label(self.hint)
            yield Input(self.initial, id=f"f-{self.key}")
            yield Static("", id=f"e-{self.key}", classes="field-error")

    def on_mount(self) -> None:
        self.query_one(f"#e-{self.key}").display = False
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _enter(self, event: Input.Submitted) -> None:
        event.stop()
        box = self.query_one(f"#e-{self.key}", Static)
        try:
            value = self.parse(event.value)
        except QueuectlError as exc:
            box.display = True
            box.update(Text(str(exc)))
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(self.abandoned)


def priority_screen(current: int, count: int) -> ValueScreen:
    """Dismisses with the new priority, or None."""
    return ValueScreen("priority", f"Priority of {count} job{'s' * (count != 1)}",
                       "higher runs first; enter saves, esc cancels", str(current), parse_priority)  # fmt: skip


def limit_screen(name: str, current: int | None) -> ValueScreen:
    """Dismisses with a number, None (no limit) or False (abandoned)."""
    return ValueScreen("limit", f"Limit of queue {name}", "at most N of its jobs run at once (all hosts); none: no limit",
                       "none" if current is None else str(current), parse_queue_limit, abandoned=False)  # fmt: skip
