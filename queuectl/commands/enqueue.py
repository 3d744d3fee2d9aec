"""Adding jobs: `enqueue` (JSON, or JSON Lines in one transaction)."""

from __future__ import annotations

import contextlib
import io
import itertools
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
    if not batch:
        specs = [_one_job(job_json)]
        open_named_store(ctx, quick=True)
        from .. import ops

        report_added([ops.enqueue_one(specs[0])], False, json_, "enqueued", "unique_key")
        return
    with _seekable(file_.buffer if file_ is not None else sys.stdin.buffer) as source:
        chunks = _chunks(spec.iter_specs(counting(_text(source))), _chunk_size(source))
        first = next(chunks, None)  # the first lines are checked before the store is opened
        if first is None:
            raise InputError("no jobs in the input")
        open_named_store(ctx)
        import tempfile

        from .. import ops

        with tempfile.TemporaryFile("w+", encoding="utf-8") as added:
            ops.enqueue_batches(itertools.chain([first], chunks), spool_entries(added))
            report_spooled(added, json_, "enqueued", "unique_key")


#: jobs validated and inserted at a time by a batch (`enqueue -`): memory holds one chunk
CHUNK = 5000


def _chunks(specs, size: int):
    while chunk := list(itertools.islice(specs, size)):
        yield chunk


def _seekable(stream):
    """The batch's bytes in a file: a regular file as it is, anything else (a pipe, a
    terminal) copied to a temporary file first, so that the store's transaction, which inserts
    the lines as they are read, never waits on a slow producer."""
    import os
    import stat

    try:
        regular = stat.S_ISREG(os.fstat(stream.fileno()).st_mode) and stream.seekable()
    except (OSError, ValueError, AttributeError):
        regular = False
    if regular:
        return contextlib.nullcontext(stream)
    import tempfile

    spool = tempfile.TemporaryFile("w+b")
    try:
        import shutil

        shutil.copyfileobj(stream, spool, 1 << 20)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


def _chunk_size(source) -> int:
    """CHUNK, or the whole batch when a line may name a dependency: a dependency on a line
    further on must be refused as such ("comes later in the batch"), which needs the whole
    batch at hand, as before.  The look is a byte search of the file (\\u escapes could spell
    the field's name otherwise)."""
    import mmap

    try:
        view = mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ, offset=0)
    except (OSError, ValueError):  # an empty file, or one that cannot be mapped: read it
        position = source.tell()
        data = source.read()
        source.seek(position)
        view = None
    else:
        data = view
    try:
        start = source.tell()
        if data.find(b"depends", start) >= 0 or data.find(b"\\u", start) >= 0:
            return sys.maxsize
        return CHUNK
    finally:
        if view is not None:
            view.close()


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


def spool_entries(added):
    """The store's report for a batch: its entries, written to `added` for report_spooled."""

    def write(entries) -> None:
        added.writelines([f"{e.id}\t{'1' if e.duplicate else '0'}\n" for e in entries])

    return write


def report_spooled(added, json_: bool, verb: str, key: str) -> None:
    """report_added's answer for a batch, read back from the file the transaction wrote (one
    `ID\tDUPLICATE` line per job), so that memory holds one entry at a time: notes on stderr,
    then the ids in line order (or a JSON list), then on a terminal how many were added."""
    import json

    from .common import UNSAFE_IN_JSON

    def entries():
        added.seek(0)
        for entry in added:
            job_id, duplicate = entry.rstrip("\n").split("\t")
            yield job_id, duplicate == "1"

    duplicates = 0
    for job_id, duplicate in entries() if _any_duplicate(added) else ():
        if duplicate:
            duplicates += 1
            click.echo(f"note: an unfinished job with that {key} exists: {job_id}", err=True)
    out = sys.stdout
    count = 0
    if not json_ and not duplicates:  # each line is "ID\t0\n": the ids, a block at a time
        added.seek(0)
        while block := added.readlines(1 << 16):
            out.write("".join([line[:-3] + "\n" for line in block]))
            count += len(block)
    for job_id, duplicate in entries() if json_ or duplicates else ():
        if json_:
            item = json.dumps({"id": job_id, "duplicate": duplicate}, indent=2, ensure_ascii=False)
            out.write(("[\n" if count == 0 else ",\n") + "  " + item.replace("\n", "\n  ").translate(UNSAFE_IN_JSON))
        else:
            out.write(job_id + "\n")
        count += 1
    if json_:
        out.write("\n]\n")
    out.flush()
    if sys.stderr.isatty():
        click.echo(f"{verb} {count - duplicates:,} jobs", err=True)
    hint_without_workers()


def _any_duplicate(added) -> bool:
    """Does the spooled report mark a duplicate?  (Ids hold no tab: "\t1" is the mark.)"""
    added.seek(0)
    tail = ""
    while block := added.read(1 << 16):
        if "\t1" in tail + block[:1] or "\t1" in block:
            return True
        tail = block[-1:]
    return False


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


def _text(stream):
    """A batch's bytes as --file reads a file: bytes that are not UTF-8 reach the validation
    (which names the line) instead of failing the read, whatever the locale's error handler."""
    return io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline=None)


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
