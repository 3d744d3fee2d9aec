"""`add`: a job from a command line, as pueue and task-spooler take one; `--each` adds one job per
input line, in one transaction, with GNU parallel's placeholders."""
from __future__ import annotations

import os
import shlex

import click

from .. import complete
from ..cli import SECONDS, _open, json_option
from ..errors import InputError

EACH_HELP = ("One job per line of stdin, all in one transaction: {} in the command is the line, {.} the line "
             "without its extension, each shell-quoted (no placeholder: the line is added as the last argument).")  # fmt: skip


@click.command(context_settings={"allow_interspersed_args": False})
@click.argument("command", metavar="-- COMMAND [ARG...]", nargs=-1, required=True)
@click.option("--id", "job_id", metavar="ID", help="The job's id (default: a new j-… id).")
@click.option("--priority", "-o", type=int, help="Higher runs first [default: default_priority].")
@click.option("--queue", "-q", metavar="NAME", help="The named queue [default: default].",
              shell_complete=complete.queue_names)  # fmt: skip
@click.option("--after", "after", metavar="ID", multiple=True, help="Start only after this job completed (repeatable).",
              shell_complete=complete.job_ids)  # fmt: skip
@click.option("--after-any", "after_any", metavar="ID", multiple=True, shell_complete=complete.job_ids,
              help="Start after this job ended, whatever the outcome (repeatable).")  # fmt: skip
@click.option("--timeout", type=SECONDS, metavar="SECONDS", help="Kill the job after this long [default: default_timeout].")
@click.option("--retries", type=int, metavar="N", help="Retries after the first run [default: max_retries].")
@click.option("--at", "at", metavar="WHEN", help="Not before: 10m, 2h, 'tomorrow 09:00', ISO 8601.")
@click.option("--cwd", metavar="DIR", help="Working directory [default: the current one].")
@click.option("--env", "env", metavar="K=V", multiple=True, help="Set this variable for the job (repeatable).")
@click.option("--unique", metavar="KEY", help="Add nothing while an unfinished job holds KEY (prints that job's id).")
@click.option("--label", "-l", "labels", metavar="LABEL", multiple=True, shell_complete=complete.labels,
              help="Label the job (repeatable).")  # fmt: skip
@click.option("--on-finish", metavar="COMMAND", help="A shell command the worker runs when the job ends for good "
              "(the job's facts in QUEUECTL_* variables).")  # fmt: skip
@click.option("--paused", is_flag=True, help="Add it paused: it waits until 'queuectl resume ID' (pueue's stash).")
@click.option("--each", is_flag=True, help=EACH_HELP)
@click.option("--print-id", is_flag=True, help="Print only the id (for $(…) in scripts).")
@json_option
@click.pass_context
def add(ctx: click.Context, command: tuple[str, ...], job_id: str | None, priority: int | None, queue: str | None,
        after: tuple[str, ...], after_any: tuple[str, ...], timeout: float | None, retries: int | None,
        at: str | None, cwd: str | None, env: tuple[str, ...], unique: str | None, labels: tuple[str, ...],
        on_finish: str | None, paused: bool, each: bool, print_id: bool, json_: bool) -> None:  # fmt: skip
    """Add a job that runs COMMAND: queuectl add -- make -j4 test.

    One argument is the shell command as typed ('sleep 5 && echo done'); several are joined
    with shell quoting, so each reaches the program as one argument.
    """
    from .. import spec

    text = command[0] if len(command) == 1 else shlex.join(command)
    if after and after_any:
        raise InputError("use --after or --after-any, not both (a job has one dependency policy)")
    if each and job_id is not None:
        raise InputError("--id names one job; --each adds one per line")
    fields = {"command": text, "id": job_id, "priority": priority, "queue": queue, "timeout": timeout,
              "max_retries": retries, "cwd": os.getcwd() if cwd is None else cwd, "env": _env(env) or None, "unique_key": unique,
              "depends_on": list(after or after_any), "dependency_policy": "finish" if after_any else "success",
              "labels": list(labels) or None, "on_finish": on_finish, "paused": paused}  # fmt: skip
    if at is not None:
        import time

        from ..store.views import iso
        from ..when import parse_when

        moment = parse_when(at, time.time())
        fields["run_at"] = "now" if moment is None else iso(moment)
    base = spec.spec_from_dict({k: v for k, v in fields.items() if v is not None})
    if base.id is not None and base.id in base.depends_on:
        raise InputError(f"job {base.id!r} cannot depend on itself")
    specs = _each(base, command, _read_input()) if each else [base]
    _open(ctx)
    from .. import store

    added = store.enqueue(specs)
    _report(added, specs, json_, print_id, each)


def _read_input() -> list[str]:
    from .enqueue import _read_lines, _stdin_text

    return [line.rstrip("\n") for line in _read_lines(_stdin_text()) if line.strip("\n")]


def _each(base, command: tuple[str, ...], lines: list[str]) -> list:
    """One spec per line; a bad line is named by its number and nothing is added."""
    from dataclasses import fields

    from ..spec import JobSpec, validate_command

    if not lines:
        raise InputError("--each read no lines from stdin")
    template = {f.name: getattr(base, f.name) for f in fields(base)}
    fill = substituter(command)
    specs = []
    for number, line in enumerate(lines, start=1):
        try:
            key = base.unique_key and base.unique_key.replace("{}", line)
            specs.append(JobSpec(**{**template, "command": validate_command(fill(line)), "unique_key": key}))
        except InputError as exc:
            raise InputError(f"line {number}: {exc}") from None
    return specs


def substitute(command: tuple[str, ...], line: str) -> str:
    """GNU parallel's {} and {.} in a command, the line shell-quoted wherever it lands: inside
    the one shell text given as one argument, or as (part of) one of several arguments."""
    return substituter(command)(line)


def substituter(command: tuple[str, ...]):
    """substitute() for many lines: the parts without a placeholder are quoted once."""
    def placeholders(text: str) -> bool:
        return "{}" in text or "{.}" in text

    if len(command) == 1:
        text = command[0]
        if not placeholders(text):
            return lambda line: f"{text} {shlex.quote(line)}"
        return lambda line: text.replace("{.}", shlex.quote(os.path.splitext(line)[0])).replace("{}", shlex.quote(line))
    if not any(placeholders(arg) for arg in command):
        head = shlex.join(command)
        return lambda line: f"{head} {shlex.quote(line)}"
    parts = [(arg, placeholders(arg)) for arg in command]
    static = {i: shlex.quote(arg) for i, (arg, has) in enumerate(parts) if not has}

    def fill(line: str) -> str:
        stem = os.path.splitext(line)[0]
        return " ".join(static[i] if i in static else shlex.quote(arg.replace("{.}", stem).replace("{}", line))
                        for i, (arg, _) in enumerate(parts))  # fmt: skip

    return fill


def _env(pairs: tuple[str, ...]) -> dict:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise InputError(f"--env wants NAME=VALUE, not {pair[:40]!r}")
        env[name] = value
    return env


def _report(added, specs, json_: bool, print_id: bool, each: bool) -> None:
    from .enqueue import hint_without_workers, note_duplicates, report_added

    if json_ or print_id or each:
        report_added(added, each, json_, "added", "unique key")
        return
    note_duplicates(added, "unique key")
    click.echo(f"added job '{added[0].id}'" + _when(specs[0]))
    hint_without_workers()


def _when(spec) -> str:
    if spec.depends_on:
        return f", after {', '.join(spec.depends_on)}"
    if spec.run_at is not None:
        from .. import render

        return f", not before {render.local_time(spec.run_at)}"
    return ""
