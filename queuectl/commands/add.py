"""`add`: a job from a command line, as pueue and task-spooler take one; `--each` adds one job per
input line, in one transaction, with GNU parallel's placeholders."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator
from typing import IO

import click

from .. import complete
from ..errors import InputError
from .common import SECONDS, json_option, open_named_store

EACH_HELP = (
    "One job per line of stdin, all in one transaction, with GNU parallel's placeholders, each "
    "shell-quoted: {} the line, {.} without its extension, {/} its base name, {//} its folder, "
    "{/.} the base name without extension, {#} the line's number (no placeholder: the line is "
    "added as the last argument). Never quote a placeholder yourself."
)
#: jobs inserted at a time by --each: memory holds one batch, whatever the number of lines
EACH_BATCH = 2000


@click.command(context_settings={"allow_interspersed_args": False})
@click.argument("command", metavar="-- COMMAND [ARG...]", nargs=-1, required=True)
@click.option("--id", "job_id", metavar="ID", help="The job's id (default: a new j-… id).")
@click.option("--priority", "-o", type=int, help="Higher runs first [default: default_priority].")
@click.option(
    "--queue", "-q", metavar="NAME", help="The named queue [default: default].", shell_complete=complete.queue_names
)
@click.option(
    "--after",
    "after",
    metavar="ID",
    multiple=True,
    help="Start only after this job completed (repeatable).",
    shell_complete=complete.job_ids,
)
@click.option(
    "--after-any",
    "after_any",
    metavar="ID",
    multiple=True,
    shell_complete=complete.job_ids,
    help="Start after this job ended, whatever the outcome (repeatable).",
)
@click.option(
    "--after-label",
    "after_labels",
    metavar="LABEL",
    multiple=True,
    shell_complete=complete.labels,
    help="Start only after every job that has this label completed (repeatable).",
)
@click.option(
    "--timeout", type=SECONDS, metavar="SECONDS", help="Kill the job after this long [default: default_timeout]."
)
@click.option("--retries", type=int, metavar="N", help="Retries after the first run [default: max_retries].")
@click.option("--at", "at", metavar="WHEN", help="Not before: 10m, 2h, 'tomorrow 09:00', ISO 8601.")
@click.option("--cwd", metavar="DIR", help="Working directory [default: the current one].")
@click.option("--env", "env", metavar="K=V", multiple=True, help="Set this variable for the job (repeatable).")
@click.option("--unique", metavar="KEY", help="Add nothing while an unfinished job holds KEY (prints that job's id).")
@click.option(
    "--label",
    "-l",
    "labels",
    metavar="LABEL",
    multiple=True,
    shell_complete=complete.labels,
    help="Label the job (repeatable).",
)
@click.option(
    "--fatal-exit-code",
    "fatal_exit_codes",
    metavar="N",
    type=int,
    multiple=True,
    help="This exit code goes to the DLQ at once, without retries (repeatable).",
)
@click.option(
    "--on-finish",
    metavar="COMMAND",
    help="A shell command the worker runs when the job ends for good (the job's facts in QUEUECTL_* variables).",
)
@click.option("--paused", is_flag=True, help="Add it paused: it waits until 'queuectl resume ID' (pueue's stash).")
@click.option("--cpus", metavar="N", help="Run it only where N CPUs are free (README: Resources).")
@click.option("--mem", metavar="SIZE", help="Run it only where SIZE of memory is free (4G, 512M); also its limit.")
@click.option("--gpus", metavar="N", help="Run it only where N GPUs are free; 0.5: half a device (shared).")
@click.option("--resource", "named", metavar="NAME=N", multiple=True, help="Run it only where N of NAME are free.")
@click.option("--each", is_flag=True, help=EACH_HELP)
@click.option("--print-id", is_flag=True, help="Print only the id (for $(…) in scripts).")
@json_option
@click.pass_context
def add(
    ctx: click.Context,
    command: tuple[str, ...],
    job_id: str | None,
    priority: int | None,
    queue: str | None,
    after: tuple[str, ...],
    after_any: tuple[str, ...],
    after_labels: tuple[str, ...],
    timeout: float | None,
    retries: int | None,
    at: str | None,
    cwd: str | None,
    env: tuple[str, ...],
    unique: str | None,
    labels: tuple[str, ...],
    fatal_exit_codes: tuple[int, ...],
    on_finish: str | None,
    paused: bool,
    cpus: str | None,
    mem: str | None,
    gpus: str | None,
    named: tuple[str, ...],
    each: bool,
    print_id: bool,
    json_: bool,
) -> None:
    """Add a job that runs COMMAND: queuectl add -- make -j4 test.

    One argument is the shell command as typed ('sleep 5 && echo done'); several are joined
    with shell quoting, so each reaches the program as one argument.
    """
    from .. import spec

    text = command[0] if len(command) == 1 else shlex.join(command)
    if after_any and (after or after_labels):
        raise InputError("use --after/--after-label or --after-any, not both (a job has one dependency policy)")
    if each and job_id is not None:
        raise InputError("--id names one job; --each adds one per line")
    fields = {
        "command": text,
        "id": job_id,
        "priority": priority,
        "queue": queue,
        "timeout": timeout,
        "max_retries": retries,
        "cwd": os.getcwd() if cwd is None else cwd,
        "env": _env(env) or None,
        "unique_key": unique,
        "depends_on": list(after or after_any),
        "dependency_policy": "finish" if after_any else "success",
        "labels": list(labels) or None,
        "fatal_exit_codes": list(fatal_exit_codes) or None,
        "on_finish": on_finish,
        "paused": paused,
        "resources": _resources(cpus, mem, gpus, named),
    }
    if at is not None:
        import time

        from ..store.views import iso
        from ..when import parse_when

        moment = parse_when(at, time.time())
        fields["run_at"] = "now" if moment is None else iso(moment)
    for label in after_labels:
        spec.validate_label(label)
    base = spec.spec_from_dict({k: v for k, v in fields.items() if v is not None})
    if base.id is not None and base.id in base.depends_on:
        raise InputError(f"job {base.id!r} cannot depend on itself")
    jobs = _checked_jobs(command, unique) if each else None
    open_named_store(ctx, quick=not (each or after_labels))
    from .. import ops

    if after_labels:
        from dataclasses import replace

        base = replace(base, depends_on=_after_labels(base.depends_on, after_labels))
    _warn_unmet(base.resources)
    if jobs is None:
        _report(ops.enqueue_one(base), base, json_, print_id)
        return
    import tempfile

    with jobs, tempfile.TemporaryFile("w+", encoding="utf-8") as added:
        from .enqueue import spool_entries

        ops.enqueue_batches(_batches(_each(base, jobs)), spool_entries(added))
        _report_each(added, json_)


def _resources(cpus: str | None, mem: str | None, gpus: str | None, named: tuple[str, ...]) -> dict | None:
    """--cpus, --mem, --gpus and --resource as the JSON field `resources` (None: none given)."""
    from ..resources import parse_assignment

    asked = {"cpus": cpus, "mem": mem, "gpus": gpus}
    for text in named:
        name, amount = parse_assignment(text)
        asked[name] = amount
    asked = {k: v for k, v in asked.items() if v is not None}
    return asked or None


def _warn_unmet(request: dict | None) -> None:
    """On a terminal: say so when no live host can ever run the job (it waits all the same, for
    one that can)."""
    if not request or not sys.stderr.isatty():
        return
    from .. import store

    reason = store.unmet_reason(request)
    if reason:
        click.echo(f"Warning: no live host can run it yet: {reason}", err=True)


def _after_labels(ids: tuple[str, ...], labels: tuple[str, ...]) -> tuple[str, ...]:
    """--after's ids and those of every job, in any state, that has one of these labels."""
    from .. import ops
    from ..spec import MAX_DEPENDENCIES
    from ..states import JobState

    every_state = [state.value for state in JobState]
    for label in labels:
        found = ops.jobs_with_label(label, every_state)
        if not found:
            raise InputError(f"no job has the label {label!r}")
        ids = tuple(dict.fromkeys([*ids, *found]))
    if len(ids) > MAX_DEPENDENCIES:
        raise InputError(f"--after-label names {len(ids):,} jobs; a job depends on at most {MAX_DEPENDENCIES:,}")
    return ids


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, str]]:
    """The non-empty lines of the input with their numbers.  As in GNU parallel only a newline
    ends a line (a carriage return is part of it).  A line that is not UTF-8 is refused: the
    store holds a command as text."""
    for number, raw in enumerate(stream, start=1):
        raw = raw[:-1] if raw.endswith(b"\n") else raw
        if not raw:
            continue
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"line {number} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at byte {exc.start + 1}: "
                f"{exc.reason}); a job's command is stored as text"
            ) from None


def _checked_jobs(command: tuple[str, ...], unique: str | None) -> IO[str]:
    """Each line of stdin made into its job's command and unique key, every one checked, and
    kept in a temporary file as JSON Lines: a bad line (named by its number) is refused before
    anything is written, the store's transaction never waits on a slow producer, and memory
    holds one line at a time."""
    import json

    from ..placeholders import check, command_filler, expand
    from ..spec import validate_command, validate_unique_key
    from .enqueue import counting

    fill = command_filler(command)
    if unique is not None:
        check(validate_unique_key(unique))
    import tempfile

    jobs = tempfile.TemporaryFile("w+", encoding="utf-8")
    try:
        for number, line in _lines(counting(sys.stdin.buffer)):
            try:
                key = None if unique is None else validate_unique_key(expand(unique, line, number))
                jobs.write(json.dumps([validate_command(fill(line, number)), key], ensure_ascii=False) + "\n")
            except InputError as exc:
                raise InputError(f"line {number}: {exc}") from None
        if not jobs.tell():
            raise InputError("--each read no lines from stdin")
    except BaseException:
        jobs.close()
        raise
    jobs.seek(0)
    return jobs


def _each(base, jobs: IO[str]):
    """The specs of _checked_jobs' file, one per line."""
    import json
    from dataclasses import fields

    from ..spec import JobSpec

    template = {f.name: getattr(base, f.name) for f in fields(base)}
    for entry in jobs:
        command, key = json.loads(entry)
        yield JobSpec(**{**template, "command": command, "unique_key": key})


def _batches(specs, size: int = EACH_BATCH):
    from itertools import islice

    while batch := list(islice(specs, size)):
        yield batch


def _env(pairs: tuple[str, ...]) -> dict:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise InputError(f"--env wants NAME=VALUE, not {pair[:40]!r}")
        env[name] = value
    return env


def _report(added, spec, json_: bool, print_id: bool) -> None:
    from .enqueue import hint_without_workers, note_duplicates, report_added

    if json_ or print_id:
        report_added([added], False, json_, "added", "unique key")
        return
    note_duplicates([added], "unique key")
    click.echo(f"added job '{added.id}'" + _when(spec))
    hint_without_workers()


def _report_each(added: IO[str], json_: bool) -> None:
    from .enqueue import report_spooled

    report_spooled(added, json_, "added", "unique key")


def _when(spec) -> str:
    if spec.depends_on:
        return f", after {', '.join(spec.depends_on)}"
    if spec.run_at is not None:
        from .. import render

        return f", not before {render.local_time(spec.run_at)}"
    return ""
