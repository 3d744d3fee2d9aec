"""The job forms (new job, schedule, edit) and the one-value prompts: bad values are shown inline,
the first bad field gets the focus, and nothing is saved until every field is right."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from queuectl import ops
from queuectl.errors import InputError, QueuectlError
from queuectl.render import clean
from queuectl.resources import request_as_text, request_from_text
from queuectl.settings import parse_duration
from queuectl.spec import JobSpec, parse_priority, parse_queue_limit, spec_from_dict

from ..messages import ActionRequested
from ..widgets.footer import KeysFooter

#: (field, label, placeholder): placeholders fit the field at 80 columns
FIELDS = (
    ("command", "command", "shell command, e.g. make -j4"),
    ("id", "id", "optional; generated when empty"),
    ("priority", "priority", "integer, higher runs first (default: config)"),
    ("timeout", "timeout", "seconds (default: config)"),
    ("max_retries", "max retries", "integer (default: config)"),
    ("run_at", "run at", "ISO 8601, e.g. 2026-11-08T10:00 (empty: now)"),
    ("queue", "queue", "named queue (default: default)"),
    ("depends_on", "depends on", "job ids, comma or space separated"),
    ("resources", "resources", "e.g. gpus=1 mem=4G cpus=2 (empty: a slot)"),
)


def job_data(values: dict[str, str]) -> tuple[dict, dict[str, str]]:
    """Form text -> the job's fields as JSON-ready values, and an error per bad field (each
    field checked alone by spec.py, so every bad field gets its own message)."""
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
            elif name == "resources":
                value = request_from_text(text)
            else:
                value = text
            probe = {"command": "true", name: value} if name != "command" else {"command": value}
            spec_from_dict(probe)
            data[name] = value
        except QueuectlError as exc:
            errors[name] = str(exc)
    return data, errors


def parse_form(values: dict[str, str]) -> tuple[JobSpec | None, dict[str, str]]:
    """Form text -> a validated JobSpec, or an error per field."""
    data, errors = job_data(values)
    if errors:
        return None, errors
    try:
        return spec_from_dict(data), {}
    except QueuectlError as exc:
        return None, {"command": str(exc)}


class FormScreen(ModalScreen):
    """A form of labelled one-line fields: bad values are shown under their field, the first
    bad field gets the focus, and nothing is saved until every field is right.  Subclasses say
    which fields, how the text becomes a value (`parse`) and how it is saved (`save`, in a
    thread); the screen dismisses with what `save` returned, or None when abandoned."""

    #: (field, label, placeholder)
    FIELDS: tuple = FIELDS
    TITLE = "New job"
    SUBMIT = "Enqueue"
    FORM_ID = "new-job"
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "submit", "Save")]

    def __init__(self, initial: dict[str, str] | None = None) -> None:
        super().__init__()
        self.initial = initial or {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog job-form", id=self.FORM_ID) as box:
            box.border_title = self.TITLE
            with VerticalScroll(classes="form"):
                for name, label, hint in self.FIELDS:
                    with Horizontal(classes="form-row"):
                        yield Label(label, classes="form-label")
                        # select_on_focus would select a pre-filled value whole, nearly unseen:
                        # one key then wipes it.  The cursor waits at the end instead
                        yield Input(self.initial.get(name, ""), placeholder=hint, id=f"f-{name}", select_on_focus=False)
                    yield Static("", id=f"e-{name}", classes="field-error")
            yield Static("", id="e-form", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel  esc", id="cancel")
                yield Button(f"{self.SUBMIT}  ctrl+s", id="submit", variant="primary")
        yield KeysFooter()

    def on_mount(self) -> None:
        for widget in self.query(".field-error"):
            widget.display = False
        self.query_one(f"#f-{self.FIELDS[0][0]}", Input).focus()

    def values(self) -> dict[str, str]:
        return {name: self.query_one(f"#f-{name}", Input).value for name, _, _ in self.FIELDS}

    def show_errors(self, errors: dict[str, str]) -> None:
        for name, _, _ in (*self.FIELDS, ("form", "", "")):
            box = self.query_one(f"#e-{name}", Static)
            box.display = name in errors
            box.update(Text(errors.get(name, "")))
        first = next((name for name, _, _ in self.FIELDS if name in errors), None)
        if first is not None:
            self.query_one(f"#f-{first}", Input).focus()

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

    def parse(self, values: dict[str, str]) -> tuple[object | None, dict[str, str]]:
        """The fields' text -> (the value to save, {}) or (None, an error per field)."""
        return parse_form(values)

    def save(self, value: object) -> object:
        """Runs in a thread: store the value; a QueuectlError is shown in the form."""
        raise NotImplementedError

    def field_of(self, error: str) -> str:
        """Which field a refusal from the store is about ("form": none of them)."""
        return "id" if "job id" in error else ("depends_on" if "depends on" in error else "form")

    def action_submit(self) -> None:
        value, errors = self.parse(self.values())
        self.show_errors(errors)
        if value is not None:
            self.go(value)

    def go(self, value: object) -> None:
        """Save a value that parsed (a form whose save is hard to undo asks first)."""
        self.query_one("#submit", Button).disabled = True
        self._save(value)

    @work(thread=True, exclusive=True, group="form-save")
    def _save(self, value: object) -> None:
        try:
            saved = self.save(value)
        except QueuectlError as exc:
            self.app.call_from_thread(self._refused, str(exc))
            return
        self.app.call_from_thread(self.dismiss, saved)

    def _refused(self, error: str) -> None:
        self.query_one("#submit", Button).disabled = False
        self.show_errors({self.field_of(error): error})


class NewJobScreen(FormScreen):
    """Enqueue one job; dismisses with (its id, its spec), or None when abandoned."""

    BINDINGS = [Binding("ctrl+s", "submit", "Enqueue")]

    def save(self, spec: JobSpec) -> tuple[str, JobSpec]:
        return ops.enqueue_one(spec).id, spec


#: the schedule's own fields, then the job fields a scheduled job may have (no id, run_at or
#: dependencies: each tick makes its own job)
SCHEDULE_FIELDS = (
    ("name", "name", "schedule name; its jobs are NAME@TICK"),
    ("cron", "cron", "*/5 * * * *  (minute hour day month weekday)"),
    ("tz", "time zone", "UTC, Europe/Berlin … (default: UTC)"),
    ("overlap", "overlap", "allow, or skip: no run while the last is unfinished"),
    *(f for f in FIELDS if f[0] in ("command", "priority", "timeout", "max_retries", "queue")),
)


@dataclass(frozen=True)
class NewSchedule:
    name: str
    cron: str
    tz: str
    overlap: str
    job: dict


class ScheduleFormScreen(FormScreen):
    """Add a schedule; the cron expression and time zone are checked (croniter, zoneinfo) with
    the job's fields before anything is saved.  Dismisses with the NewSchedule, or None."""

    FIELDS = SCHEDULE_FIELDS
    TITLE = "New schedule"
    SUBMIT = "Add"
    FORM_ID = "new-schedule"
    BINDINGS = [Binding("ctrl+s", "submit", "Add")]

    def parse(self, values: dict[str, str]) -> tuple[NewSchedule | None, dict[str, str]]:
        own = {name: values[name].strip() for name in ("name", "cron", "tz", "overlap")}
        own["tz"] = own["tz"] or "UTC"
        own["overlap"] = own["overlap"] or "allow"
        errors = ops.schedule_errors(own["name"], own["cron"], own["tz"], own["overlap"])
        job, job_errors = job_data({name: values[name] for name, _, _ in FIELDS if name in values})
        errors.update(job_errors)
        if errors:
            return None, errors
        return NewSchedule(own["name"], own["cron"], own["tz"], own["overlap"], job), {}

    def field_of(self, error: str) -> str:
        return "name" if "schedule" in error and "exists" in error else "form"

    def save(self, new: NewSchedule) -> NewSchedule:
        ops.add_schedule(new.name, new.cron, new.job, tz=new.tz, overlap=new.overlap)
        return new


#: what the edit form shows: the new-job form's fields that an edit may change
EDIT_FIELDS = tuple(
    f for f in FIELDS if f[0] in ("command", "priority", "timeout", "max_retries", "run_at", "queue", "resources")
)
#: what an edit may empty: the job then asks for nothing (the others always have a value)
EDIT_CLEARABLE = ("resources",)


def edit_values(fields: dict) -> dict[str, str]:
    """ops.editable's values as the form's text (what the fields start with)."""
    shown = {}
    for name, value in fields.items():
        if value is None:
            shown[name] = ""
        elif name == "resources":
            shown[name] = request_as_text(value)
        elif isinstance(value, float):
            shown[name] = f"{value:g}"
        else:
            shown[name] = str(value)
    return shown


@dataclass(frozen=True)
class Edited:
    job_id: str
    changes: dict
    retried: bool


class EditJobScreen(FormScreen):
    """The new-job form, pre-filled with a waiting job's fields (or a finished one's, to edit
    then retry it).  Only the fields changed are saved (ops.edit_job / ops.retry_edited, checked
    by the same spec as an enqueue, saved only if the job is still waiting).  Dismisses with
    Edited, or None."""

    FIELDS = EDIT_FIELDS
    FORM_ID = "edit-job"
    BINDINGS = [Binding("ctrl+s", "submit", "Save")]

    def __init__(self, job_id: str, state: str, fields: dict, retry: bool) -> None:
        super().__init__(edit_values({name: fields.get(name) for name, _, _ in EDIT_FIELDS}))
        self.job_id, self.retry = job_id, retry
        self.TITLE = f"{'Edit and retry' if retry else 'Edit'} {job_id} ({state})"
        self.SUBMIT = "Retry" if retry else "Save"

    def parse(self, values: dict[str, str]) -> tuple[Edited | None, dict[str, str]]:
        changed = {name: text for name, text in values.items() if text != self.initial.get(name, "")}
        data, errors = job_data(changed)
        empty = [name for name, text in changed.items() if not text.strip()]
        for name in empty:
            if name in EDIT_CLEARABLE:
                data[name] = None
            else:
                errors.setdefault(name, f"{dict((n, label) for n, label, _ in FIELDS)[name]} cannot be empty")
        if errors:
            return None, errors
        if not data and not self.retry:
            return None, {"form": "nothing changed (esc leaves the job as it is)"}
        return Edited(self.job_id, data, self.retry), {}

    def field_of(self, error: str) -> str:
        return next((name for name, _, _ in EDIT_FIELDS if name in error), "form")

    def go(self, edited: Edited) -> None:
        """A retry runs the job again at once: first show what changes, and ask."""
        if not self.retry:
            super().go(edited)
            return

        question = (f"Retry {self.job_id}?", self.changes_text(), "Save & retry", lambda: FormScreen.go(self, edited))
        self.app.post_message(ActionRequested("confirm", question))

    def changes_text(self) -> str:
        """Each changed field, before -> after, as the form shows them."""
        labels = {name: label for name, label, _ in EDIT_FIELDS}
        lines = [
            f"{labels[name]}: {clean(self.initial.get(name) or '(unset)', 200)}\n"
            f"{' ' * len(labels[name])}→ {clean(text, 200)}"
            for name, text in self.values().items()
            if text != self.initial.get(name, "")
        ]
        if not lines:
            return f"Retry {self.job_id} as it was? It runs again now; nothing in it changes."
        return f"Save these changes to {self.job_id} and run it again now?\n\n" + "\n".join(lines)

    def save(self, edited: Edited) -> Edited:
        (ops.retry_edited if edited.retried else ops.edit_job)(edited.job_id, edited.changes)
        return edited


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
            yield Static(self.hint, classes="dialog-hint")
            yield Input(self.initial, id=f"f-{self.key}")
            yield Static("", id=f"e-{self.key}", classes="field-error")
        yield KeysFooter()

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
    return ValueScreen(
        "priority",
        f"Priority of {count} job{'s' * (count != 1)}",
        "higher runs first; enter saves, esc cancels",
        str(current),
        parse_priority,
    )


def limit_screen(name: str, current: int | None) -> ValueScreen:
    """Dismisses with a number, None (no limit) or False (abandoned)."""
    return ValueScreen(
        "limit",
        f"Limit of queue {name}",
        "at most N of its jobs run at once (all hosts); none: no limit",
        "none" if current is None else str(current),
        parse_queue_limit,
        abandoned=False,
    )


def older_than_screen() -> ValueScreen:
    """Prune: dismisses with the age in seconds (a finished job older than it goes), or None."""
    return ValueScreen(
        "older-than",
        "Prune finished jobs",
        "finished jobs older than this go (30m, 12h, 7d)",
        "7d",
        lambda text: parse_duration(text, "older than"),
    )
