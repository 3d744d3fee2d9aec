"""The configuration keys: their types, defaults and limits (pure; the store keeps the values)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import InputError


class Duration(float):
    """Seconds, typed as 90, 30s, 15m, 12h, 7d or 2w; a setting of this kind may be "forever"."""

    UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str, name: str = "duration") -> float:
    """'7d' -> 604800.0; one-line InputError for anything else."""
    text = text.strip().lower()
    number, unit = (text[:-1], text[-1]) if text[-1:] in Duration.UNITS else (text, "s")
    try:
        value = float(number) * Duration.UNITS[unit]
    except ValueError:
        raise InputError(f"{name} must be a duration like 30s, 15m, 12h or 7d, not {text[:40]!r}") from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"{name} must be a positive duration, not {text[:40]!r}")
    return value


def format_duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class MemLimitMode(str):
    """What a job's memory request does when its processes together use more (`mem_limit`)."""

    CHOICES = ("kill", "warn", "off")


@dataclass(frozen=True)
class SettingSpec:
    key: str
    default: int | float | None
    kind: type  # int, float, Duration, or str (a hook's shell command)
    low: float
    high: float
    help: str

    def parse(self, text: str) -> int | float | str | None:
        """Parse a value typed by a user (`config set`, the TUI form)."""
        if self.kind is str:  # a hook's shell command: '' or 'none' unsets it
            return None if text.strip().lower() in ("", "none") else self.check(text)
        if self.kind is MemLimitMode:
            return self.check(text.strip().lower())
        text = text.strip()
        if self.kind is Duration:
            return None if text.lower() == "forever" else self.check(parse_duration(text, self.key))
        try:
            value: int | float = int(text) if self.kind is int else float(text)
        except ValueError:
            kind = "an integer" if self.kind is int else "a number"
            raise InputError(f"{self.key} must be {kind}, not {text[:40]!r}") from None
        return self.check(value)

    def show(self, value: int | float | None) -> str:
        """A value as a person types it."""
        if self.kind is Duration:
            return "forever" if value is None else format_duration(value)
        if self.kind is str:
            return "none" if value is None else str(value)
        if self.kind is MemLimitMode:
            return str(value)
        return str(int(value)) if float(value).is_integer() else str(value)

    def check(self, value: int | float | str | None) -> int | float | str | None:
        if value is None and self.kind in (Duration, str):
            return None
        if self.kind is MemLimitMode:
            if value not in MemLimitMode.CHOICES:
                raise InputError(
                    f"{self.key} must be one of {', '.join(MemLimitMode.CHOICES)}, not {str(value)[:40]!r}"
                )
            return MemLimitMode(value)
        if self.kind is str:
            from .spec import validate_command

            try:
                return validate_command(value)
            except InputError as exc:
                raise InputError(f"{self.key}: {exc}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{self.key} must be a number")
        if self.kind is int and not isinstance(value, int):
            raise InputError(f"{self.key} must be an integer")
        if not math.isfinite(value) or not self.low <= value <= self.high:
            raise InputError(f"{self.key} must be between {_num(self.low)} and {_num(self.high)}, not {_num(value)}")
        return self.kind(value)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


MiB = 1024 * 1024

SETTINGS: dict[str, SettingSpec] = {
    s.key: s
    for s in (
        SettingSpec("max_retries", 3, int, 0, 1000, "retries after the first run before a job is dead"),
        SettingSpec("backoff_base", 2, float, 1, 1000, "retry n waits backoff_base ** n seconds"),
        SettingSpec("max_backoff", 3600, float, 0, 30 * 24 * 3600, "the longest wait between retries, seconds"),
        SettingSpec("backoff_jitter", 0.1, float, 0, 1, "retry waits vary by up to this fraction, up or down"),
        SettingSpec("default_timeout", 300, float, 0.001, 366 * 24 * 3600, "seconds a job may run"),
        SettingSpec("default_priority", 0, int, -(2**31 - 1), 2**31 - 1, "priority of jobs that name none"),
        SettingSpec("max_log_bytes", 10 * MiB, int, 0, 2**40, "bytes kept per attempt and stream"),
        SettingSpec("lease_seconds", 30, float, 2, 24 * 3600, "a silent worker's job is recovered after this"),
        SettingSpec(
            "retention_completed", None, Duration, 0, 100 * 365 * 86400, "completed jobs are deleted after this"
        ),
        SettingSpec("retention_dead", None, Duration, 0, 100 * 365 * 86400, "dead jobs are deleted after this"),
        SettingSpec(
            "retention_cancelled", None, Duration, 0, 100 * 365 * 86400, "cancelled jobs are deleted after this"
        ),
        SettingSpec("on_finish", None, str, 0, 0, "shell command run when a job ends for good (facts in QUEUECTL_*)"),
        SettingSpec("on_queue_drained", None, str, 0, 0, "shell command run when a queue's last unfinished job ends"),
        SettingSpec("hook_timeout", 60, float, 0.1, 24 * 3600, "seconds a hook may run before it is killed"),
        SettingSpec(
            "mem_limit", "kill", MemLimitMode, 0, 0, "a job over its --mem: kill (it fails), warn (a note) or off"
        ),
    )
}


def setting(key: str) -> SettingSpec:
    try:
        return SETTINGS[key]
    except KeyError:
        raise InputError(f"unknown setting {key[:40]!r} (known: {', '.join(SETTINGS)})") from None


def defaults() -> dict[str, int | float | None]:
    return {key: None if spec.default is None else spec.kind(spec.default) for key, spec in SETTINGS.items()}
