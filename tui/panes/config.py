"""The Config pane: every setting as a validated form; saving writes them to the store."""

from __future__ import annotations

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static

from queuectl import store
from queuectl.errors import QueuectlError
from queuectl.settings import SETTINGS

from .. import keymap
from ..base import StorePane


def shown(key: str, value) -> str:
    """A setting's value as a person types it (the engine's own formatting)."""
    return SETTINGS[key].show(value)


class ConfigPane(StorePane):
    """Settings are read once when shown (not every second: that would overwrite typing)."""

    TAB = "config"
    REFRESH_SECONDS = 5.0
    WRITES = keymap.writes("config")
    BINDINGS = keymap.bindings("config")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.values: dict = {}

    def compose(self) -> ComposeResult:
        yield Static("Settings live in the store: every worker on every host reads them.", classes="pane-status")
        with VerticalScroll(id="config-form"):
            for key, spec in SETTINGS.items():
                with Horizontal(classes="setting"):
                    yield Label(key, classes="setting-key")
                    yield Input(id=f"set-{key}", classes="setting-value", disabled=self.app.readonly)
                    yield Label(spec.help, classes="setting-help")
                yield Static("", id=f"err-{key}", classes="field-error")
            with Horizontal(id="config-buttons"):
                yield Button("Save  ctrl+s", id="config-save", variant="primary", disabled=self.app.readonly)
                yield Button("Revert  ctrl+r", id="config-revert")
        yield Static(id="config-help")

    def on_mount(self) -> None:
        for key in SETTINGS:
            self.query_one(f"#err-{key}").display = False
        self.describe(next(iter(SETTINGS)))
        super().on_mount()

    def describe(self, key: str) -> None:
        """The whole description of the selected setting (the row beside it is cut to fit)."""
        box = self.query_one("#config-help", Static)
        box.border_title = key
        spec = SETTINGS[key]
        text = f"{spec.help}\ndefault {shown(key, spec.default)}"
        if spec.kind in (int, float):
            text += f" · from {shown(key, spec.low)} to {shown(key, spec.high)}"
        box.update(Text(text + f" · `queuectl config set {key} VALUE`"))

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        widget_id = event.widget.id or ""
        if widget_id.startswith("set-"):
            self.describe(widget_id.removeprefix("set-"))

    def _tick(self) -> None:
        if self.is_visible_pane and not self.edited():
            self.reload()  # someone else may have changed them (another TUI, `config set`)

    def fetch(self, args) -> dict:
        return store.get_config()

    def show(self, values: dict) -> None:
        if self.edited():
            return
        self.values = values
        for key, value in values.items():
            if key not in SETTINGS:
                continue
            field = self.query_one(f"#set-{key}", Input)
            if key in SETTINGS and field.value != shown(key, value):
                field.value = shown(key, value)

    def edited(self) -> dict[str, str]:
        """Fields whose text differs from the stored value."""
        if not self.values:
            return {}
        out = {}
        for key in SETTINGS:
            text = self.query_one(f"#set-{key}", Input).value
            if text.strip() != shown(key, self.values.get(key)):
                out[key] = text
        return out

    @on(Input.Changed, ".setting-value")
    def _changed(self, event: Input.Changed) -> None:
        key = event.input.id.removeprefix("set-")
        error = self.query_one(f"#err-{key}", Static)
        try:
            SETTINGS[key].parse(event.value)
        except QueuectlError as exc:
            error.update(Text(str(exc)))
            error.display = True
        else:
            error.display = False

    @on(Input.Submitted, ".setting-value")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    @on(Button.Pressed, "#config-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#config-revert")
    def _revert_pressed(self) -> None:
        self.action_revert()

    def action_save(self) -> None:
        changed = self.edited()
        errors = {}
        parsed = {}
        for key, text in changed.items():
            try:
                parsed[key] = SETTINGS[key].parse(text)
            except QueuectlError as exc:
                errors[key] = str(exc)
        for key in SETTINGS:
            box = self.query_one(f"#err-{key}", Static)
            box.display = key in errors
            if key in errors:
                box.update(Text(errors[key]))
        if errors:
            self.notify(f"not saved: {len(errors)} setting(s) invalid", severity="error")
            return
        if not changed:
            self.notify("nothing changed")
            return

        self.request("save_config", changed, [f"queuectl config set {k} {shown(k, v)}" for k, v in parsed.items()])

    def saved(self, values: dict) -> None:
        """The store took the changes: show what it holds now."""
        self.values = {}
        self.show(values)

    def focus_target(self) -> Widget:
        return self.query_one("#config-form")

    @property
    def editing(self) -> bool:
        focused = self.app.focused
        return focused is not None and (
            focused.has_class("setting-value") or focused.id in ("config-save", "config-revert")
        )

    def action_edit(self) -> None:
        if not self.app.readonly:
            self.query(".setting-value").first().focus()

    def action_leave(self) -> None:
        self.query_one("#config-form").focus()

    def action_revert(self) -> None:
        self.values = {}
        for key in SETTINGS:
            self.query_one(f"#err-{key}").display = False
        self.reload()
