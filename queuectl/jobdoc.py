"""A job as a small document a person edits (`queuectl edit`, `retry --edit`): TOML or JSON
out, the changed fields back.  Only text handling here; ops.edit_job checks and saves.

TOML is written by hand: every value is a string, a number or a table of strings, and a JSON
string is also a valid TOML basic string (the same escapes), so nothing here can be misquoted.
"""

from __future__ import annotations

import json

from .errors import InputError


def render(fields: dict, job_id: str, state: str, fmt: str) -> str:
    """The document for these editable fields (ops.editable) of one job."""
    if fmt == "json":
        return json.dumps(fields, indent=2, ensure_ascii=False) + "\n"
    lines = [
        f"# queuectl edit {job_id} ({state}): save to apply, quit without saving to keep the job as it is.",
        '# run_at: ISO 8601 or "now"; remove cwd or on_finish to unset it; env = {} and labels = [] clear them.',
        '# resources: {cpus = 2, mem = "4G", gpus = 0.5, license = 1} (what the job asks of its host; {}: a slot).',
    ]
    for name, value in fields.items():
        unset = "{}" if name == "resources" else '""'
        lines.append(f"# {name} = {unset}  (unset)" if value is None else f"{name} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    """One line of TOML: an inline table for env (a [table] would swallow lines added below it)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} = {_toml_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def decode(data: bytes) -> str:
    """The file the editor saved, as text: a byte that is not UTF-8 is an error naming its line
    (click would raise UnicodeDecodeError), a byte order mark and CRLF line ends are fine."""
    try:
        return data.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"the edited file is not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line}") from None


def parse(text: str, fmt: str) -> dict:
    """The edited document as {field: value}; one-line errors for text that does not parse."""
    if fmt == "json":
        from .spec import load_json

        data = load_json(text)
        if not isinstance(data, dict):
            raise InputError(f"the edited job must be a JSON object, not {type(data).__name__}")
        return data
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}") from None
    # a TOML date-time written without quotes means the same time as its ISO 8601 text
    return {key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in data.items()}


def changes(original: dict, edited: dict) -> dict:
    """The fields whose value differs; a field removed is cleared (None), an unknown one is
    kept so that the validation names it."""
    names = [*original, *(name for name in edited if name not in original)]
    return {name: _value(edited, name) for name in names if _value(edited, name) != _value(original, name)}


def _value(fields: dict, name: str):
    value = fields.get(name)
    if value is None and name in ("env", "labels", "resources"):
        return [] if name == "labels" else {}
    return list(value) if isinstance(value, tuple) else value


def assignment(name: str, value: object) -> str:
    """The `--set FIELD=VALUE` text that parse_assignment reads back as this value (the CLI twin
    of an edit made in the dashboard)."""
    if value is None:
        return f"{name}="
    if isinstance(value, (list, tuple)):
        return f"{name}={','.join(map(str, value))}"
    if isinstance(value, dict):
        return f"{name}={json.dumps(value, ensure_ascii=False)}"
    return f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"


def parse_assignment(text: str) -> tuple[str, object]:
    """`--set FIELD=VALUE`: the value as the field's type (a number for the numeric fields, a
    JSON object for env and resources, labels separated by commas); an empty value clears env,
    cwd, labels, on_finish or resources."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise InputError(f"--set wants FIELD=VALUE, not {text[:40]!r}")
    if value == "" and name in ("env", "cwd", "labels", "on_finish", "resources"):
        return name, None
    if name == "labels":
        return name, [label.strip() for label in value.split(",") if label.strip()]
    if name in ("priority", "max_retries"):
        return name, _number(value, int)
    if name == "timeout":
        return name, _number(value, float)
    if name in ("env", "resources"):  # JSON objects: {"A": "1"}, {"gpus": 1, "mem": "4G"}
        from .spec import load_json

        return name, load_json(value)
    return name, value


def _number(text: str, kind):
    try:
        return kind(text.strip())
    except ValueError:
        return text  # the field's own rule says what it wants
