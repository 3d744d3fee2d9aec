"""Adding jobs: `enqueue` (JSON, or JSON Lines in one transaction)."""

from __future__ import annotations

import sys

import click

from ..errors import InputError
from .common import echo_json, json_option, open_named_store


@click.command()
@click.argument("job_json", metavar="[JSON|-]", required=False)
@click.option(
    "--file",
    "file_",
    type=click.File("r", encoding="utf-8", errors="surrogateescape"),
    help="Read JSON Lines from this file.",
)
@json_option
@click.pass_context
def enqueue(ctx: click.Context, job_json: str | None, file_, json_: bool) -> None:
    """Add a job, given as JSON: {"id": "job1", "command": "echo hi"}.

    Fields: command (required), id, priority, timeout, max_retries, run_at (ISO 8601 or "now"),
    depends_on, dependency_policy, unique_key, env, cwd, fatal_exit_codes, queue.
    '-' reads JSON Lines from stdin, --file F from F, and adds them all in one transaction.
    To add a shell command without JSON: queuectl add -- COMMAND.
    """
    from .. import spec

    batch = job_json == "-" or file_ is not None
    if job_json is None and file_ is None:
        raise click.UsageError("give the job as JSON, '-' for JSON Lines on stdin, or --file F")
    if file_ is not None and job_json not in (None, "-"):
        raise InputError("give the job as JSON or --file F, not both")
    if batch:
        specs = spec.specs_from_lines(_read_lines(file_ or _stdin_text()))
        if not specs:
            raise InputError("no jobs in the input")
    else:
        specs = [_one_job(job_json)]
    open_named_store(ctx)
    from .. import ops

    added = ops.enqueue_batch(specs) if batch else [ops.enqueue_one(specs[0])]
    report_added(added, batch, json_, "enqueued", "unique_key")


def note_duplicates(added, key: str) -> None:
    """A note (stderr) for each job not added because an unfinished one holds its unique key:
    its id is that job's."""
    for entry in added:
        if entry.duplicate:
            click.echo(f"note: an unfinished job with that {key} exists: {entry.id}", err=True)


def report_added(added, many: bool, json_: bool, verb: str, key: str) -> None:
    """What `enqueue` and `add` print: the ids, one per line, or JSON (a list for a batch), and
    on a terminal how many a batch added.  `key` names the unique key as the command takes it."""
    note_duplicates(added, key)
    if json_:
        objects = [{"id": e.id, "duplicate": e.duplicate} for e in added]
        echo_json(objects if many else objects[0])
    else:
        click.echo("\n".join(e.id for e in added))
        if many and sys.stderr.isatty():
            click.echo(f"{verb} {sum(not e.duplicate for e in added):,} jobs", err=True)
    hint_without_workers()


def hint_without_workers() -> None:
    """On a terminal, when no worker runs anywhere: say how to start one (pueue and tsp start
    their daemon themselves; here the job would wait without a word)."""
    if not sys.stderr.isatty():
        return
    from .. import store

    if not store.live_worker_count():
        click.echo("note: no worker is running; start one with: queuectl worker start", err=True)


def _one_job(text: str):
    """A job from its JSON; text that is no JSON at all is most likely a shell command."""
    from ..spec import load_json, spec_from_json

    if not text.lstrip().startswith(("{", "[", '"')):
        try:
            load_json(text)
        except InputError:
            from ..render import clean

            raise InputError(f"not JSON; to run a shell command use: queuectl add -- {clean(text, 60)}") from None
    return spec_from_json(text)


def _stdin_text():
    """stdin as --file reads a file: bytes that are not UTF-8 reach the validation (which names
    the line) instead of failing the read, whatever the locale's error handler."""
    import io

    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:
        return sys.stdin
    return io.TextIOWrapper(buffer, encoding="utf-8", errors="surrogateescape")


def _read_lines(stream) -> list[str]:
    """All lines, with a progress bar on a terminal (the parsing is what takes time)."""
    return list(counting(stream))


def counting(lines):
    """The lines as they are read, counted on a terminal."""
    if not sys.stderr.isatty():
        yield from lines
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn

    with Progress(SpinnerColumn(), TextColumn("reading jobs: {task.completed:,}"), transient=True) as bar:
        task = bar.add_task("read")
        for count, line in enumerate(lines, start=1):
            yield line
            if count % 5000 == 0:
                bar.update(task, completed=count)
