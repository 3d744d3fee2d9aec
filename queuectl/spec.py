"""Untrusted input (enqueue JSON, batch lines, TUI form fields) turned into a validated JobSpec.

Everything here is pure: no store access, so a bad batch is refused before anything is written.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import PurePosixPath

from .errors import InputError

JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:-]{0,127}")
#: Linux's limit on one argument of a new program (MAX_ARG_STRLEN), counting the NUL that ends
#: it: a longer command could be stored but never run by `/bin/sh -c COMMAND` (E2BIG)
MAX_COMMAND_BYTES = 128 * 1024 - 1
MAX_PRIORITY = 2**31 - 1
MAX_RETRIES_LIMIT = 1000
MAX_TIMEOUT = 366 * 24 * 3600.0
#: the most jobs a queue's limit lets run at once
MAX_QUEUE_LIMIT = 100_000
FIELDS = (
    "id",
    "command",
    "priority",
    "timeout",
    "max_retries",
    "run_at",
    "depends_on",
    "dependency_policy",
    "unique_key",
    "env",
    "cwd",
    "fatal_exit_codes",
    "queue",
    "labels",
    "on_finish",
    "paused",
    "resources",
)
_FIELD_SET = frozenset(FIELDS)
#: a label: short, and free of quotes and commas (a listing matches it inside the JSON list)
LABEL_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:/=+-]{0,63}")
MAX_LABELS = 32
QUEUE_NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:-]{0,63}")
#: the id of a job a schedule enqueued: its name, @, the tick in UTC (store.schedules)
SCHEDULED_JOB_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:-]{0,63}@\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
DEPENDENCY_POLICIES = ("success", "finish")
MAX_DEPENDENCIES = 1000
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,255}")
#: what a job's env may add to what exec copies (each NAME=VALUE, its NUL and its pointer):
#: Linux takes at most a quarter of the stack limit (2 MiB with the usual 8 MiB) for the
#: arguments and the environment together, and the command and the worker's own environment
#: need their share; beyond it every attempt would fail with "Argument list too long" (E2BIG)
MAX_ENV_BYTES = 1024 * 1024
#: the range of run_at: a day inside the calendar's years 1 to 9999, so that the time shows in any time zone
MIN_RUN_AT = datetime(1, 1, 2, tzinfo=timezone.utc).timestamp()
MAX_RUN_AT = datetime(9999, 12, 31, tzinfo=timezone.utc).timestamp()
RUN_AT_RANGE = "0001-01-02 to 9999-12-31 UTC"


@dataclass(frozen=True)
class JobSpec:
    """A job as asked for; None means "use the configured default"."""

    command: str
    id: str | None = None
    priority: int | None = None
    timeout: float | None = None
    max_retries: int | None = None
    run_at: float | None = None  # UTC epoch seconds; None = now
    depends_on: tuple[str, ...] = ()
    dependency_policy: str = "success"
    unique_key: str | None = None
    env: dict | None = None
    cwd: str | None = None
    fatal_exit_codes: tuple[int, ...] = ()
    queue: str = "default"
    labels: tuple[str, ...] = ()
    on_finish: str | None = None  # a shell command run when the job ends for good (see hooks)
    paused: bool = False  # added paused: not claimed until resumed
    #: what it asks of its host (resources.py: cpus, mem in bytes, gpus, NAME: count); None: a slot
    resources: dict | None = None


def new_job_id() -> str:
    """A short, sortable-enough, collision-resistant id for jobs enqueued without one."""
    import secrets

    return "j-" + secrets.token_hex(8)  # 64 bits: no collision in practice, even among millions


def new_job_ids():
    """Ids as new_job_id makes them, for a batch: consecutive from a random start, so that the
    batch's rows go to one place of the id index instead of one random page each (a 100,000-line
    batch inserts a quarter faster); two batches share an id only if their ranges of 2**64 meet."""
    from itertools import count

    for n in count(int.from_bytes(os.urandom(8), "big")):  # (secrets.randbits: os.urandom too)
        yield f"j-{n & 0xFFFFFFFFFFFFFFFF:016x}"


def validate_job_id(value: object) -> str:
    if not isinstance(value, str) or not JOB_ID_PATTERN.fullmatch(value) or value in (".", ".."):
        raise InputError(
            f"invalid job id {_show(value)}: use 1-128 of A-Z a-z 0-9 _ . : - starting with a letter, digit or _"
        )
    return value


def validate_job_ref(value: object) -> str:
    """A job id typed to name an existing job: any job id, or the NAME@TICK id a schedule gave
    its job (`schedule run` prints it), which no enqueue may take."""
    if isinstance(value, str) and SCHEDULED_JOB_ID.fullmatch(value):
        return value
    return validate_job_id(value)


def validate_queue_name(value: object, kind: str = "queue") -> str:
    if not isinstance(value, str) or not QUEUE_NAME_PATTERN.fullmatch(value):
        raise InputError(
            f"invalid {kind} name {_show(value)}: use 1-64 of A-Z a-z 0-9 _ . : - starting with a letter, digit or _"
        )
    return value


def validate_label(value: object) -> str:
    if not isinstance(value, str) or not LABEL_PATTERN.fullmatch(value):
        raise InputError(
            f"invalid label {_show(value)}: use 1-64 of A-Z a-z 0-9 _ . : / = + - starting with a letter, digit or _"
        )
    return value


def validate_labels(value: object) -> tuple[str, ...]:
    """A list of labels (duplicates dropped, order kept)."""
    if not isinstance(value, list):
        raise InputError(f"labels must be a list of strings, not {_show(value)}")
    if len(value) > MAX_LABELS:
        raise InputError(f"a job has at most {MAX_LABELS} labels")
    return tuple(dict.fromkeys(validate_label(v) for v in value))


def validate_priority(value: object) -> int:
    return _int("priority", value, -MAX_PRIORITY, MAX_PRIORITY)


def parse_priority(text: str) -> int:
    """Typed text (a command argument, a form field) -> a priority."""
    text = text.strip()
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"priority must be an integer, not {_show(text[:30])}") from None
    return validate_priority(value)


def validate_queue_limit(value: object) -> int | None:
    """A queue's limit on running jobs: 1 to MAX_QUEUE_LIMIT, or None for no limit."""
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_QUEUE_LIMIT
    ):
        raise InputError(
            f"a queue's limit must be a whole number from 1 to {MAX_QUEUE_LIMIT:,} or none, not {_show(value)}"
        )
    return value


def parse_queue_limit(text: str) -> int | None:
    """Typed text -> a queue's limit: 'none', '-' or nothing lift it."""
    text = text.strip().lower()
    if text in ("", "none", "-"):
        return None
    return validate_queue_limit(int(text) if text.isdigit() else text[:30])


def parse_time(value: object) -> float | None:
    """ISO 8601 (a naive time is the enqueuing machine's local time) or "now" -> UTC epoch."""
    if not isinstance(value, str):
        raise InputError(f'run_at must be an ISO 8601 string or "now", not {_show(value)}')
    text = value.strip()
    if text.lower() == "now":
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise InputError(f"run_at {_show(value)} is not an ISO 8601 time (e.g. 2026-11-08T10:00:00)") from None
    try:
        if moment.tzinfo is None:
            moment = moment.astimezone()  # the local time zone of this machine
        return validate_run_at(moment.astimezone(timezone.utc).timestamp(), f"run_at {_show(value)}")
    except (OverflowError, OSError, ValueError):  # e.g. year 1 or 9999 pushed past the calendar
        raise InputError(f"run_at {_show(value)} is out of range ({RUN_AT_RANGE})") from None


def validate_run_at(moment: float, what: str) -> float:
    """A start time (UTC epoch seconds) that every later step can show and store."""
    if not math.isfinite(moment) or not MIN_RUN_AT <= moment <= MAX_RUN_AT:
        raise InputError(f"{what} is out of range ({RUN_AT_RANGE})")
    return moment


def _int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{name} must be an integer, not {_show(value)}")
    if not low <= value <= high:
        raise InputError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"timeout must be a number of seconds, not {_show(value)}")
    if not 0 < value <= MAX_TIMEOUT:
        raise InputError(f"timeout must be more than 0 and at most {int(MAX_TIMEOUT)} seconds, not {value}")
    return float(value)


def validate_command(value: object) -> str:
    if not isinstance(value, str):
        raise InputError(f"command must be a string, not {_show(value)}")
    if not value.strip():
        raise InputError("command must not be empty")
    if "\x00" in value:
        raise InputError("command must not contain a NUL character")
    if value.isascii() and len(value) <= MAX_COMMAND_BYTES:  # the usual command: nothing more to check
        return value
    if len(value.encode("utf-8", "surrogatepass")) > MAX_COMMAND_BYTES:
        raise InputError(
            f"command is longer than {MAX_COMMAND_BYTES:,} bytes (the most one argument of a program can be)"
        )
    return _unicode("command", value)


def _unicode(name: str, value: str) -> str:
    """Text the worker can hand to the kernel: a lone surrogate (JSON's "\\ud800", or a byte
    that was not UTF-8 read with surrogateescape) cannot be encoded, and would fail every attempt."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{name} is not valid Unicode text") from None
    return value


def _depends_on(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InputError(f"depends_on must be a list of job ids, not {_show(value)}")
    if len(value) > MAX_DEPENDENCIES:
        raise InputError(f"depends_on names more than {MAX_DEPENDENCIES} jobs")
    ids = tuple(validate_job_ref(v) for v in value)
    if len(set(ids)) != len(ids):
        raise InputError("depends_on names a job twice")
    return ids


def _text(name: str, value: object, limit: int) -> str:
    if not isinstance(value, str) or not value or "\x00" in value or len(value) > limit:
        raise InputError(
            f"{name} must be a non-empty string of at most {limit} characters without NUL, not {_show(value)}"
        )
    return _unicode(name, value)


def _env(value: object) -> dict:
    """Variables for the job, bounded as exec bounds them (see MAX_ENV_BYTES), so that a job
    that could never start is refused here rather than failing every attempt."""
    if not isinstance(value, dict):
        raise InputError(f"env must be an object of strings, not {_show(value)}")
    size = 0
    for key, item in value.items():
        if not _ENV_NAME.fullmatch(key):
            raise InputError(
                f"env name {_show(key)} is not a valid environment variable name "
                "(1-256 of A-Z a-z 0-9 _, not starting with a digit)"
            )
        if not isinstance(item, str) or "\x00" in item:
            raise InputError(f"env value of {key} must be a string without NUL, not {_show(item)}")
        entry = len(key) + 1 + len(_unicode(f"env value of {key}", item).encode("utf-8"))
        if entry > MAX_COMMAND_BYTES:
            raise InputError(
                f"env {key}=… is longer than {MAX_COMMAND_BYTES:,} bytes (the most one variable of a program can be)"
            )
        size += entry + 1 + 8  # its NUL, and its pointer in the new program's envp
    if size > MAX_ENV_BYTES:
        raise InputError(
            f"env takes more than {MAX_ENV_BYTES:,} bytes (the share of a program's arguments and "
            "environment left to it)"
        )
    return dict(value)


def _exit_codes(value: object) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise InputError(f"fatal_exit_codes must be a list of exit codes, not {_show(value)}")
    return tuple(sorted({_int("fatal_exit_codes entry", code, 1, 255) for code in value}))


def spec_from_dict(data: object) -> JobSpec:
    """Validate one decoded JSON value; refuse unknown fields rather than ignore a typo.  The
    fields are checked in _CHECKS' order, so the first bad one named is always the same."""
    if not isinstance(data, dict):
        raise InputError(f"a job must be a JSON object, not {type(data).__name__}")
    unknown = data.keys() - _FIELD_SET
    if unknown:
        raise InputError(f"unknown field {_show(sorted(unknown)[0])} (known: {', '.join(FIELDS)})")
    if "command" not in data:
        raise InputError('missing field "command"')
    if len(data) == 1:  # the usual line of a batch: {"command": …}
        return JobSpec(validate_command(data["command"]))
    fields = {}
    for name, (check, none_is_absent) in _CHECKS.items():
        if name in data:
            value = data[name]
            if value is not None or not none_is_absent:
                fields[name] = check(value)
    return JobSpec(**fields)


def _resources(value: object) -> dict | None:
    from .resources import validate_request

    return validate_request(value)


def validate_unique_key(value: object) -> str:
    """A unique key; one typed with bytes that are not UTF-8 (click keeps them as lone
    surrogates) is refused, as no store can hold it."""
    key = _text("unique_key", value, 200)
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("unique_key is not valid Unicode text") from None
    return key


def _max_retries(value: object) -> int:
    return _int("max_retries", value, 0, MAX_RETRIES_LIMIT)


def _cwd(value: object) -> str:
    """An absolute path: a relative one is read from the current directory of the process that
    enqueues (the job runs wherever a worker runs, maybe long after and on another host)."""
    path = _text("cwd", value, 4096)
    if os.path.isabs(path):
        return path
    try:
        here = os.getcwd()
    except FileNotFoundError:
        raise InputError(f"cwd {_show(path)} is relative, and the current directory no longer exists") from None
    # pathlib drops "." but keeps "..": "a/../b" goes through a as the kernel would, symlink or not
    return _text("cwd", str(PurePosixPath(here, path)), 4096)


def with_absolute_cwd(job: dict) -> dict:
    """A schedule's job as it is kept: a relative cwd read where the schedule is added, not in
    the worker that enqueues each tick."""
    return {**job, "cwd": _cwd(job["cwd"])} if job.get("cwd") is not None else job


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{name} must be true or false, not {_show(value)}")
    return value


def _hook(value: object) -> str:
    try:
        return validate_command(value)
    except InputError as exc:
        raise InputError(f"on_finish: {exc}") from None


#: field -> (its check, whether null means "not given"), in the order spec_from_dict checks them
_CHECKS = {
    "command": (validate_command, False),
    "id": (validate_job_id, True),
    "priority": (validate_priority, False),
    "timeout": (_timeout, False),
    "max_retries": (_max_retries, False),
    "run_at": (parse_time, False),
    "depends_on": (_depends_on, False),
    "dependency_policy": (lambda value: _policy(value), False),
    "unique_key": (validate_unique_key, True),
    "env": (_env, True),
    "cwd": (_cwd, True),
    "fatal_exit_codes": (_exit_codes, False),
    "queue": (validate_queue_name, True),
    "labels": (validate_labels, True),
    "on_finish": (_hook, True),
    "paused": (lambda value: _flag("paused", value), False),
    "resources": (_resources, True),
}

#: the fields of a waiting job that an edit may change, each checked by the rule enqueue uses
EDITABLE = {
    "command": validate_command,
    "priority": validate_priority,
    "queue": validate_queue_name,
    "env": _env,
    "cwd": _cwd,
    "run_at": parse_time,
    "timeout": _timeout,
    "max_retries": _max_retries,
    "labels": validate_labels,
    "on_finish": _hook,
    "resources": _resources,
}
#: fields an edit may clear (None, or an empty env, list or request): the others always have a value
CLEARABLE = ("env", "cwd", "labels", "on_finish", "resources")


def validate_changes(changes: object) -> dict:
    """An edit of a job ({field: value}, values as in enqueue's JSON), checked field by field
    with enqueue's rules before anything is written.  Returns the checked values: run_at as
    UTC epoch seconds (None = now), env and cwd None when cleared."""
    if not isinstance(changes, dict):
        raise InputError(f"an edit must be an object of fields, not {type(changes).__name__}")
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InputError(f"{_show(unknown[0])} cannot be edited (editable: {', '.join(EDITABLE)})")
    checked = {}
    for name, value in changes.items():
        if value is None or (name in ("env", "labels", "resources") and value in ({}, [])):
            if name not in CLEARABLE:
                raise InputError(f"{name} cannot be empty")
            checked[name] = None
        else:
            checked[name] = EDITABLE[name](value)
    return checked


def _policy(value: object) -> str:
    if value not in DEPENDENCY_POLICIES:
        raise InputError(f'dependency_policy must be "success" or "finish", not {_show(value)}')
    return value  # type: ignore[return-value]


def spec_from_json(text: str) -> JobSpec:
    """One job from JSON text (a job cannot depend on itself)."""
    spec = _decode(text)
    if spec.id is not None and spec.id in spec.depends_on:
        raise InputError(f"job {spec.id!r} cannot depend on itself")
    return spec


def _decode(text: str) -> JobSpec:
    return spec_from_dict(load_json(text))


def load_json(text: str) -> object:
    """Any JSON value, with one-line errors (and no NaN or Infinity)."""
    try:
        if isinstance(text, str) and not text.startswith("\ufeff"):
            return _decode_str(text)
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_object)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InputError("invalid JSON: nested too deeply") from None
    except ValueError:  # an integer longer than Python converts (sys.get_int_max_str_digits)
        raise InputError("invalid JSON: a number has too many digits") from None


def _decode_str(text: str) -> object:
    """json.loads(text) with load_json's hooks, as JSONDecoder.decode does it (the same
    errors), without making a decoder for each call: a batch decodes 100,000 lines."""
    scan, space = _scanner()
    try:
        value, end = scan(text, space(text, 0).end())
    except StopIteration as err:
        raise json.JSONDecodeError("Expecting value", text, err.value) from None
    end = space(text, end).end()
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


@functools.cache
def _scanner():
    from json.decoder import WHITESPACE

    decoder = json.JSONDecoder(parse_constant=_refuse_constant, object_pairs_hook=_object)
    return decoder.scan_once, WHITESPACE.match


def load_json_object(text: str) -> dict:
    data = load_json(text)
    if not isinstance(data, dict):
        raise InputError(f"a job must be a JSON object, not {type(data).__name__}")
    return data


def specs_from_lines(lines) -> list[JobSpec]:
    """JSON Lines, blank lines skipped; the first bad line is named by its number.

    A dependency on a job of the same batch must come after that job's line, so a batch can
    never describe a cycle."""
    return list(iter_specs(lines))


def iter_specs(lines):
    """specs_from_lines, one spec at a time as the lines are read (a batch of any size in
    bounded memory: only the explicit ids seen so far are kept, to refuse one given twice)."""
    seen: set[str] = set()
    plain = _PLAIN_LINE.fullmatch
    for number, line in enumerate(lines, start=1):
        if not line or line.isspace():
            continue
        try:
            found = plain(line)
            spec = JobSpec(validate_command(found.group(1))) if found else spec_from_json(line)
        except InputError as exc:
            raise InputError(f"line {number}: {exc}") from None
        if spec.id is not None:
            if spec.id in seen:
                raise InputError(f"line {number}: duplicate job id {spec.id!r} in this batch")
            seen.add(spec.id)
        yield spec


#: the usual line of a batch, {"command": "…"} with no escape in the string: its command is the
#: text between the quotes, as JSON reads it (the JSON whitespace, and a string without a
#: backslash, a quote or a control character), so the line is taken without a JSON decoder
_PLAIN_LINE = re.compile(
    r'[ \t\n\r]*\{[ \t\n\r]*"command"[ \t\n\r]*:[ \t\n\r]*"([^"\\\x00-\x1f]*)"[ \t\n\r]*\}[ \t\n\r]*'
)


def _object(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object whose keys are all different: where a key repeats, the last one would win
    silently, so the first one typed (a command, an env value) would be lost without a word."""
    data = dict(pairs)
    if len(data) < len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise InputError(f"invalid JSON: the key {_show(key)} appears twice in one object")
            seen.add(key)
    return data


def _refuse_constant(name: str) -> None:
    raise InputError(f"invalid JSON: {name} is not a number")


def _show(value: object, limit: int = 40) -> str:
    """A value quoted for an error line: short, and with control characters escaped."""
    try:
        text = json.dumps(value, ensure_ascii=True, default=repr) if not isinstance(value, str) else repr(value)
    except RecursionError:  # parsed, yet nested too deeply to be written back (the stack is deeper here)
        text = f"{type(value).__name__} nested too deeply"
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return text if len(text) <= limit else text[: limit - 1] + "…"
