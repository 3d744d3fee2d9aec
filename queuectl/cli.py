"""The `queuectl` commands: parse, call the engine, render (a table, plain lines, or --json).

Only click is imported at module level: the store (peewee), rich and Textual load inside the
commands that use them, so that short commands start fast.  stdout carries data; notes and
errors go to stderr; every error is one `Error: …` line (exit 2 for bad input, 1 for a failed
operation).
"""
from __future__ import annotations

import json
import os
import sys

import click

from .errors import ExitCode, InputError, QueuectlError
from .paths import Location, private_dir, resolve
from .states import FINISHED, JobState

STATES = [state.value for state in JobState]
DEBUG_ENV = "QUEUECTL_DEBUG"


class QueuectlGroup(click.Group):
    """Reports every error as one line, including click's own usage errors."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(ExitCode.USAGE)
        except click.ClickException as exc:
            hint = ""
            ctx = getattr(exc, "ctx", None)
            if isinstance(exc, click.UsageError) and ctx is not None:
                hint = f" (see '{ctx.command_path} --help')"
            click.echo(f"Error: {_one_line(exc.format_message())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except QueuectlError as exc:
            click.echo(f"Error: {_one_line(exc)}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except (BrokenPipeError, KeyboardInterrupt):
            sys.exit(130)
        except Exception as exc:  # a bug: still one line, the traceback on request
            if os.environ.get(DEBUG_ENV):
                raise
            click.echo(f"Error: internal error: {type(exc).__name__}: {_one_line(exc)} (set {DEBUG_ENV}=1 for details)",
                       err=True)  # fmt: skip
            sys.exit(ExitCode.FAILED)
        sys.exit(code if isinstance(code, int) else 0)


def _one_line(message: object) -> str:
    """An error message that stays one line and cannot drive the terminal, whatever the user
    typed into it (click quotes unknown arguments as given)."""
    from .render import clean

    return clean(message)


def _open(ctx: click.Context, readonly: bool = False, verify: bool = False) -> Location:
    """Open the store named by --db / QUEUECTL_DB / the default, creating it on first use
    unless the command only reads (see store.open_store)."""
    location: Location = ctx.find_root().obj
    if not location.is_postgres:
        _import_peewee_without_drivers()
    from . import store

    store.open_store(location, readonly=readonly, verify=verify)
    return location


#: drivers peewee imports if it finds them; a SQLite command needs none of them
_UNUSED_DRIVERS = ("psycopg2", "psycopg", "psycopg2cffi", "pymysql", "MySQLdb", "cysqlite")


def _import_peewee_without_drivers() -> None:
    """Import peewee as if those drivers were absent (~100 ms less start-up per command).

    Only the first import decides: a process that imported peewee already keeps its drivers.
    """
    if "peewee" in sys.modules:
        return
    hidden = [m for m in _UNUSED_DRIVERS if m not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # "import" fails at once: not installed
    try:
        import peewee  # noqa: F401
    finally:
        for name in hidden:
            del sys.modules[name]


#: characters JSON leaves raw that a terminal may obey (DEL, C1 controls such as CSI) or that
#: break lines; they only ever occur inside strings, where \\uXXXX is the same text
_UNSAFE_IN_JSON = {c: f"\\u{c:04x}" for c in (*range(0x7F, 0xA0), 0x2028, 0x2029)}


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False).translate(_UNSAFE_IN_JSON))


#: the most rows a listing returns (SQLite's LIMIT is a 64-bit integer)
MAX_LIMIT = 1_000_000_000


def _job_id(value: str) -> str:
    """A job id typed by the user: one that can never exist is bad input (exit 2), not 'not found'."""
    from .spec import validate_job_id

    return validate_job_id(value)


def _name_command(group: click.Group, verb: str, doc: str, act, done: str) -> None:
    """A `GROUP VERB NAME` command that calls one store function and says what it did."""

    @group.command(verb, help=doc)
    @click.argument("name")
    @click.pass_context
    def command(ctx: click.Context, name: str) -> None:
        _open(ctx)
        from . import ops

        act(ops, name)
        click.echo(done.format(name=name))


json_option = click.option("json_", "--json", is_flag=True, help="Print one JSON document instead of a table.")


@click.group(cls=QueuectlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    metavar="PATH_OR_URL",
    help="The store: a SQLite file path or sqlite:///PATH URL. [env: QUEUECTL_DB]",
)
@click.version_option(package_name="queuectl", message="queuectl %(version)s")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """queuectl: a durable background job queue for shell commands."""
    ctx.obj = resolve(db)


@cli.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the store and the logs folder (optional: every command does this on first use)."""
    location = _open(ctx, verify=True)
    private_dir(location.logs_dir, "the logs folder")
    click.echo(f"Store: {location.display}")
    click.echo(f"Logs:  {location.logs_dir}")


@cli.command()
@click.argument("job_json", metavar="JSON")
@click.option("--file", "file_", type=click.File("r", encoding="utf-8", errors="surrogateescape"),
              help="Read JSON Lines from this file (with JSON given as '-').")  # fmt: skip
@json_option
@click.pass_context
def enqueue(ctx: click.Context, job_json: str, file_, json_: bool) -> None:
    """Add a job, given as JSON: {"id": "job1", "command": "echo hi"}.

    Fields: command (required), id, priority, timeout, max_retries, run_at (ISO 8601 or "now"),
    depends_on, dependency_policy, unique_key, env, cwd, fatal_exit_codes.
    JSON '-' reads JSON Lines from stdin (or --file) and adds them all in one transaction.
    """
    from . import spec

    if job_json == "-":
        specs = spec.specs_from_lines(_read_lines(file_ or _stdin_text()))
        if not specs:
            raise InputError("no jobs in the input")
    elif file_ is not None:
        raise InputError("--file goes with JSON '-'")
    else:
        specs = [spec.spec_from_json(job_json)]
    _open(ctx)
    from . import store

    added = store.enqueue(specs)
    for entry in added:
        if entry.duplicate:
            click.echo(f"note: an unfinished job with that unique_key exists: {entry.id}", err=True)
    if json_:
        objects = [{"id": e.id, "duplicate": e.duplicate} for e in added]
        _echo_json(objects if job_json == "-" else objects[0])
        return
    click.echo("\n".join(e.id for e in added))
    if job_json == "-" and sys.stderr.isatty():
        click.echo(f"enqueued {sum(not e.duplicate for e in added)} jobs", err=True)


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
    if not sys.stderr.isatty():
        return stream.readlines()
    from rich.progress import Progress, SpinnerColumn, TextColumn

    lines = []
    with Progress(SpinnerColumn(), TextColumn("reading jobs: {task.completed:,}"), transient=True) as bar:
        task = bar.add_task("read")
        for line in stream:
            lines.append(line)
            if len(lines) % 5000 == 0:
                bar.update(task, completed=len(lines))
    return lines


@cli.command("list")
@click.option("--state", type=click.Choice(STATES), help="Only jobs in this state.")
@click.option("--limit", type=click.IntRange(min=1, max=MAX_LIMIT), default=50, show_default=True, help="At most this many jobs.")
@json_option
@click.pass_context
def list_jobs(ctx: click.Context, state: str | None, limit: int, json_: bool) -> None:
    """List jobs, newest first."""
    _open(ctx, readonly=True)
    from . import render, store

    jobs = store.list_jobs(state=state, limit=limit)
    if json_:
        _echo_json([job.as_dict() for job in jobs])
        return
    rows = [
        [job.id, job.state, str(job.priority), f"{job.attempts}/{1 + job.max_retries}",
         render.local_time(job.created_at), render.clean(job.command, 60)]
        for job in jobs
    ]  # fmt: skip
    title = f"Jobs ({len(jobs)}{', ' + state if state else ''})"
    render.print_table(title, ["ID", "State", "Priority", "Attempts", "Created", "Command"], rows,
                       [render.STATE_STYLES.get(job.state) for job in jobs])  # fmt: skip


@cli.command()
@json_option
@click.pass_context
def status(ctx: click.Context, json_: bool) -> None:
    """Jobs per state and the number of live workers."""
    _open(ctx, readonly=True)
    from . import store

    counts = store.counts()
    workers = store.live_worker_count()
    if json_:
        _echo_json({"jobs": counts, "workers": workers})
        return
    labels = {"dead": "Dead (DLQ)"}
    for state, n in counts.items():
        click.echo(f"{labels.get(state, state.capitalize()) + ':':<13}{n}")
    click.echo(f"{'Workers:':<13}{workers}")


@cli.command()
@click.argument("job_id")
@click.option("--attempt", type=click.IntRange(min=1), help="This attempt instead of the latest.")
@click.option("--follow", "-f", is_flag=True, help="Stream a running job's output until it ends.")
@click.option("--raw", is_flag=True, help="The output byte for byte, even to a terminal (whose escape sequences "
              "then act); without it a terminal shows them escaped, colours apart.")  # fmt: skip
@click.pass_context
def logs(ctx: click.Context, job_id: str, attempt: int | None, follow: bool, raw: bool) -> None:
    """Exit code, stdout and stderr of a job's latest (or given) attempt."""
    job_id = _job_id(job_id)
    _open(ctx, readonly=True)
    from . import ops
    from .terminal import Output

    if follow:
        from .follow import follow_job

        follow_job(job_id, attempt, raw)
        return
    output = ops.read_output(job_id, attempt)
    run = output.run
    if run is None:
        click.echo(f"job {job_id!r} is {output.job.state} and has not run yet", err=True)
        return
    stdout, cut_out = output.stdout.text, output.stdout.skipped
    stderr, cut_err = output.stderr.text, output.stderr.skipped
    state = "running" if run.finished_at is None else ("ok" if run.error is None else "failed")
    shown = Output(sys.stdout, raw).text
    click.echo(f"=== ATTEMPT {run.number} ({state}) ===")
    click.echo("=== EXIT CODE ===")
    click.echo("" if run.exit_code is None else str(run.exit_code))
    if run.error:
        click.echo(f"\n=== ERROR ===\n{shown(run.error)}", color=True)
    click.echo("\n=== STDOUT ===" + (" (last 1 MiB)" if cut_out else ""))
    click.echo(shown(stdout), nl=not stdout.endswith("\n"), color=True)
    click.echo("\n=== STDERR ===" + (" (last 1 MiB)" if cut_err else ""))
    click.echo(shown(stderr), nl=not stderr.endswith("\n"), color=True)


@cli.command()
@click.argument("job_id")
@click.pass_context
def cancel(ctx: click.Context, job_id: str) -> None:
    """Cancel a pending or failed job; a running one has its whole process tree killed."""
    job_id = _job_id(job_id)
    _open(ctx)
    from . import ops

    ops.cancel(job_id)
    click.echo(f"cancelled job '{job_id}'")


@cli.command()
@click.argument("job_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--edit", "edit_", is_flag=True, help="Edit the job first (one ID; see 'queuectl edit').")
@click.option("--set", "assignments", metavar="FIELD=VALUE", multiple=True,
              help="With --edit: change this field without an editor (repeatable).")  # fmt: skip
@click.option("--format", "format_", type=click.Choice(["toml", "json"]), default="toml", show_default=True,
              help="With --edit: the document the editor shows.")  # fmt: skip
@click.pass_context
def retry(ctx: click.Context, job_ids: tuple[str, ...], edit_: bool, assignments: tuple[str, ...],
          format_: str) -> None:  # fmt: skip
    """Run finished jobs (completed, dead or cancelled) again, keeping their attempt history."""
    job_ids = tuple(_job_id(j) for j in job_ids)
    if edit_ or assignments:
        if len(job_ids) != 1:
            raise click.UsageError("--edit takes one job id")
        _edit(ctx, job_ids[0], assignments, format_, then_retry=True)
        return
    _open(ctx)
    from . import ops

    for job_id in ops.retry(list(job_ids)):
        click.echo(f"retrying job '{job_id}'")


@cli.command()
@click.argument("job_id", metavar="ID")
@click.option("--set", "assignments", metavar="FIELD=VALUE", multiple=True,
              help="Change this field without an editor (repeatable): command, priority, queue, env (a JSON "
              "object), cwd, run_at, timeout, max_retries; an empty value clears env or cwd.")  # fmt: skip
@click.option("--format", "format_", type=click.Choice(["toml", "json"]), default="toml", show_default=True,
              help="The document the editor shows.")  # fmt: skip
@click.pass_context
def edit(ctx: click.Context, job_id: str, assignments: tuple[str, ...], format_: str) -> None:
    """Edit a waiting job (pending, blocked, or failed awaiting its retry) in $VISUAL or $EDITOR.

    The job is saved only if it is still waiting when the editor closes; quitting without
    saving keeps it as it was.
    """
    _edit(ctx, _job_id(job_id), assignments, format_, then_retry=False)


def _edit(ctx: click.Context, job_id: str, assignments: tuple[str, ...], fmt: str, then_retry: bool) -> None:
    """edit / retry --edit: changes from --set, else from the document the editor saved."""
    from . import jobdoc

    changes = dict(jobdoc.parse_assignment(a) for a in assignments)
    if changes:
        from .spec import validate_changes

        validate_changes(changes)  # bad input is refused before the store is opened
    _open(ctx)
    from . import ops

    if not changes:
        job = ops.job_to_edit(job_id, finished=then_retry)
        original = ops.editable(job)
        text = click.edit(jobdoc.render(original, job.id, job.state, fmt), extension=f".{fmt}", require_save=True)
        changes = jobdoc.changes(original, jobdoc.parse(text, fmt)) if text is not None else {}
        if not changes and not then_retry:
            click.echo(f"job '{job_id}' unchanged", err=True)
            return
    saved = (ops.retry_edited if then_retry else ops.edit_job)(job_id, changes)
    done = f"retrying job '{job_id}'" if then_retry else f"job '{job_id}' edited"
    click.echo(done + (f": {', '.join(changes)}" if changes else "") + f" ({saved.state})")


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("job_id")
@click.argument("value", metavar="N")
@click.pass_context
def priority(ctx: click.Context, job_id: str, value: str) -> None:
    """Change the priority of a waiting job (pending, blocked or failed); higher runs first."""
    job_id = _job_id(job_id)
    from .spec import parse_priority

    number = parse_priority(value)
    _open(ctx)
    from . import ops

    ops.set_priority([job_id], number)
    click.echo(f"job '{job_id}' priority {number}")


@cli.command()
@click.argument("job_ids", metavar="ID...", nargs=-1, required=True)
@click.pass_context
def delete(ctx: click.Context, job_ids: tuple[str, ...]) -> None:
    """Delete finished jobs (completed, dead or cancelled), their attempts and their logs."""
    job_ids = tuple(_job_id(j) for j in job_ids)
    _open(ctx)
    from . import ops

    for job_id in ops.delete(list(dict.fromkeys(job_ids))):
        click.echo(f"deleted job '{job_id}'")


@cli.command()
@click.argument("job_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--timeout", type=click.FloatRange(min=0), help="Give up after this many seconds (exit 124).")
@json_option
@click.pass_context
def wait(ctx: click.Context, job_ids: tuple[str, ...], timeout: float | None, json_: bool) -> None:
    """Block until every given job has ended; exit 0 if all completed, 1 if any did not."""
    job_ids = tuple(_job_id(j) for j in job_ids)
    _open(ctx, readonly=True)
    from .ops import wait_for_jobs

    final = wait_for_jobs(list(dict.fromkeys(job_ids)), timeout)
    if json_:
        _echo_json({job_id: state for job_id, state in final.items()})
    else:
        for job_id, state in final.items():
            click.echo(f"{job_id}: {state or 'still running (timed out)'}")
    if None in final.values():
        sys.exit(ExitCode.TIMEOUT)
    sys.exit(ExitCode.OK if all(state == "completed" for state in final.values()) else ExitCode.FAILED)


@cli.command()
@click.argument("job_id")
@json_option
@click.pass_context
def show(ctx: click.Context, job_id: str, json_: bool) -> None:
    """Every field of one job, its dependencies and dependents, and its attempt history."""
    job_id = _job_id(job_id)
    _open(ctx, readonly=True)
    from . import ops, render

    detail = ops.job_detail(job_id)
    job, runs = detail.job, detail.runs
    depends_on, dependents = [j.id for j in detail.depends_on], [j.id for j in detail.dependents]
    if json_:
        _echo_json(dict(job.as_dict(), depends_on=depends_on, dependents=dependents,
                        attempts=[a.as_dict() for a in runs]))  # fmt: skip
        return
    for key, value in job.as_dict().items():
        if key.endswith("_at") and value is not None:
            value = render.local_time(getattr(job, key))
        click.echo(f"{key + ':':<19}{render.clean(value if value not in (None, [], {}) else '')}")
    click.echo(f"{'depends_on:':<19}{', '.join(depends_on)}")
    click.echo(f"{'dependents:':<19}{', '.join(dependents)}")
    rows = [[str(a.number), a.host or "", render.local_time(a.started_at), render.local_time(a.finished_at),
             "" if a.exit_code is None else str(a.exit_code), render.clean(a.error or "", 50)] for a in runs]  # fmt: skip
    render.print_table("Attempts", ["#", "Host", "Started", "Finished", "Exit", "Error"], rows)


@cli.group(invoke_without_command=True)
@json_option
@click.option("--format", "format_", type=click.Choice(["table", "json", "prometheus"]), default=None,
              help="table (the default), json (as --json), or prometheus: the text exposition format.")
@click.pass_context
def metrics(ctx: click.Context, json_: bool, format_: str | None) -> None:
    """Totals per state, success rate, runtimes and recent throughput ('metrics serve' for Prometheus)."""
    if ctx.invoked_subcommand is not None:
        return
    _open(ctx, readonly=True)
    from . import render, store

    if format_ == "prometheus":
        from .metrics import exposition

        click.echo(exposition().decode(), nl=False)
        return
    m = store.metrics()
    if json_ or format_ == "json":
        _echo_json(m.as_dict())
        return
    rate = "" if m.success_rate is None else f"{m.success_rate * 100:.1f}%"
    rows = [["Total jobs", str(m.total)]]
    rows += [[state.capitalize(), str(n)] for state, n in m.jobs.items()]
    rows += [
        ["Success rate", rate],
        ["Avg runtime", render.duration(m.avg_runtime_s)],
        ["P95 runtime", render.duration(m.p95_runtime_s)],
        ["Completed (last min)", str(m.completed_last_minute)],
        ["Active workers", str(m.workers)],
    ]
    render.print_table("Metrics", ["Metric", "Value"], rows)


# -- workers ---------------------------------------------------------------------------------
@cli.group()
def worker() -> None:
    """Start, stop and list workers."""


@worker.command("start")
@click.option("--count", type=click.IntRange(min=1, max=100_000), default=1, show_default=True,
              help="Job slots on this host: jobs run at once.")
@click.option("--procs", type=click.IntRange(min=1, max=256), default=None,
              help="Worker processes to spread the slots over [default: one per CPU, at most 2].")
@click.option("--burst", is_flag=True, help="Exit once no job is waiting, running or due for a retry.")
@click.option("--quiet", "-q", is_flag=True, help="Do not print a line per job.")
@click.option("--queue", "queues", metavar="NAME", multiple=True, help="Serve only this queue (repeatable).")
@click.pass_context
def worker_start(ctx: click.Context, count: int, procs: int | None, burst: bool, quiet: bool,
                 queues: tuple[str, ...]) -> None:  # fmt: skip
    """Run workers in the foreground until Ctrl+C (first: finish jobs; second: kill them)."""
    from .spec import validate_queue_name
    from .supervisor import Supervisor, default_procs, raise_open_file_limit, split

    for queue in queues:
        validate_queue_name(queue)
    procs = procs or default_procs(count)
    raise_open_file_limit(max(split(count, procs)))
    location = _open(ctx, verify=True)
    private_dir(location.logs_dir, "the logs folder")  # a folder that cannot be made: one line now,
    private_dir(location.run_dir, "the run folder")  # not a failure in every worker
    sys.exit(Supervisor(location, count, burst, quiet, tuple(dict.fromkeys(queues)), procs).run())


@worker.command("stop")
@click.option("--host", metavar="NAME", help="Only the workers of this host (see 'queuectl host list').")
@click.pass_context
def worker_stop(ctx: click.Context, host: str | None) -> None:
    """Ask every running worker (or one host's) to finish its current job and exit."""
    _open(ctx)
    from . import ops

    asked = ops.stop_host(host) if host is not None else ops.stop_all_workers()
    click.echo(f"asked {len(asked)} worker(s){f' on {host}' if host is not None else ''} to stop after their current job")


@worker.command("list")
@json_option
@click.pass_context
def worker_list(ctx: click.Context, json_: bool) -> None:
    """Live worker processes: host, pid, state, slots busy/total, newest job, last heartbeat."""
    _open(ctx, readonly=True)
    from . import render, store

    workers = store.list_workers()
    if json_:
        keys = ("id", "host", "pid", "state", "slots", "busy", "current_job", "heartbeat_at")
        _echo_json([{k: w.as_dict()[k] for k in keys} for w in workers])
        return
    rows = [[w.id, w.host, str(w.pid), w.state, f"{w.busy}/{w.slots}", w.current_job or "",
             render.local_time(w.heartbeat_at)] for w in workers]  # fmt: skip
    render.print_table(f"Workers ({len(workers)})", ["ID", "Host", "PID", "State", "Slots", "Job", "Heartbeat"], rows)


# -- named queues ---------------------------------------------------------------------------
@cli.group()
def queue() -> None:
    """Named queues: pause, resume, limit how many of their jobs run at once."""


@queue.command("list")
@json_option
@click.pass_context
def queue_list(ctx: click.Context, json_: bool) -> None:
    """Every queue: jobs per state, running, limit, paused."""
    _open(ctx, readonly=True)
    from . import render, store

    queues = store.list_queues()
    if json_:
        _echo_json([q.as_dict() for q in queues])
        return
    rows = [[q.name, "paused" if q.paused else "running", str(q.running),
             "none" if q.max_running is None else str(q.max_running), str(q.jobs["pending"]), str(q.jobs["failed"]),
             str(q.jobs["blocked"]), str(q.jobs["completed"]), str(q.jobs["dead"])] for q in queues]  # fmt: skip
    render.print_table(f"Queues ({len(queues)})",
                       ["Queue", "Status", "Running", "Limit", "Pending", "Failed", "Blocked", "Completed", "Dead"],
                       rows)  # fmt: skip


_name_command(queue, "pause", "Keep the queue's waiting jobs waiting (running ones finish).",
              lambda ops, name: ops.pause_queue(name), "queue '{name}' paused")  # fmt: skip
_name_command(queue, "resume", "Let a paused queue's jobs run again.",
              lambda ops, name: ops.pause_queue(name, paused=False), "queue '{name}' resumed")  # fmt: skip


@queue.command("limit")
@click.argument("name")
@click.argument("limit", metavar="N|none")
@click.pass_context
def queue_limit(ctx: click.Context, name: str, limit: str) -> None:
    """Run at most N of the queue's jobs at once, on all workers and hosts ('none' lifts it)."""
    from .spec import parse_queue_limit

    max_running = parse_queue_limit(limit)  # refuse bad input before touching the store
    _open(ctx)
    from . import ops

    ops.limit_queue(name, max_running)
    click.echo(f"queue '{name}' limit: {'none' if max_running is None else max_running}")


# -- schedules ------------------------------------------------------------------------------
@cli.group()
def schedule() -> None:
    """Recurring jobs: one job per cron tick, enqueued by the running workers."""


@schedule.command("add")
@click.argument("name")
@click.argument("job_json", metavar="JOB_JSON")
@click.option("--cron", required=True, help='When: "*/5 * * * *" (a sixth field counts seconds).')
@click.option("--tz", default="UTC", show_default=True, help="The time zone the cron expression is read in.")
@click.option("--overlap", type=click.Choice(["skip", "allow"]), default="allow", show_default=True,
              help="skip: no new run while the previous one is unfinished.")  # fmt: skip
@click.pass_context
def schedule_add(ctx: click.Context, name: str, job_json: str, cron: str, tz: str, overlap: str) -> None:
    """Add a schedule NAME running JOB_JSON (the job's fields, without id and run_at)."""
    from .spec import load_json_object

    job = load_json_object(job_json)
    _open(ctx)
    from . import render, store

    added = store.add_schedule(name, cron, job, tz=tz, overlap=overlap)
    click.echo(f"schedule '{name}' added; next run {render.local_time(added.next_run_at)}")


@schedule.command("list")
@json_option
@click.pass_context
def schedule_list(ctx: click.Context, json_: bool) -> None:
    """Every schedule with its next and last run."""
    _open(ctx, readonly=True)
    from . import render, store

    schedules = store.list_schedules()
    if json_:
        _echo_json([s.as_dict() for s in schedules])
        return
    rows = [[s.name, s.cron, s.tz, "paused" if s.paused else "active", s.overlap, render.local_time(s.next_run_at),
             s.last_job_id or "", str(s.skipped), render.clean(s.job.get("command"))] for s in schedules]  # fmt: skip
    render.print_table(f"Schedules ({len(schedules)})",
                       ["Name", "Cron", "TZ", "Status", "Overlap", "Next run", "Last job", "Skipped", "Command"],
                       rows)  # fmt: skip


_name_command(schedule, "remove", "Delete a schedule (the jobs it enqueued stay).",
              lambda ops, name: ops.remove_schedule(name), "schedule '{name}' removed")  # fmt: skip
_name_command(schedule, "pause", "Stop enqueueing a schedule's jobs until it is resumed.",
              lambda ops, name: ops.pause_schedule(name), "schedule '{name}' paused")  # fmt: skip
_name_command(schedule, "resume", "Resume a schedule from its next tick (ticks missed while paused are not run).",
              lambda ops, name: ops.pause_schedule(name, paused=False), "schedule '{name}' resumed")  # fmt: skip


@schedule.command("run")
@click.argument("name")
@click.pass_context
def schedule_run(ctx: click.Context, name: str) -> None:
    """Enqueue a schedule's job once, now."""
    _open(ctx)
    from . import ops

    click.echo(ops.run_schedule(name))


# -- dead-letter queue ----------------------------------------------------------------------
@cli.group()
def dlq() -> None:
    """The dead-letter queue: jobs that ran out of retries."""


@dlq.command("list")
@click.option("--limit", type=click.IntRange(min=1, max=MAX_LIMIT), default=50, show_default=True)
@click.option("--group-by", type=click.Choice(["error"]), help="One row per exit code and error, largest first.")
@json_option
@click.pass_context
def dlq_list(ctx: click.Context, limit: int, group_by: str | None, json_: bool) -> None:
    """Dead jobs, most recent first, with their last error."""
    _open(ctx, readonly=True)
    from . import render, store

    if group_by:
        groups = store.dead_by_error()
        if json_:
            _echo_json([dict(g, latest=store.iso(g["latest"])) for g in groups])
            return
        rows = [[str(g["count"]), "" if g["exit_code"] is None else str(g["exit_code"]), ", ".join(g["examples"]),
                 render.clean(g["error"])] for g in groups]  # fmt: skip
        render.print_table(f"Dead Letter Queue by error ({len(groups)} groups)", ["Jobs", "Exit", "Examples", "Error"],
                           rows)  # fmt: skip
        return
    jobs = store.list_jobs(state="dead", limit=limit)
    if json_:
        _echo_json([job.as_dict() for job in jobs])
        return
    rows = [[job.id, f"{job.attempts}/{1 + job.max_retries}", render.local_time(job.updated_at),
             render.clean(job.last_error)] for job in jobs]  # fmt: skip
    render.print_table(f"Dead Letter Queue ({len(jobs)})", ["ID", "Attempts", "Updated", "Error"], rows)


@dlq.command("retry")
@click.argument("job_id", required=False)
@click.option("--all", "all_", is_flag=True, help="Retry every dead job.")
@click.option("--filter", "contains", metavar="TEXT", help="Retry the dead jobs whose id, command or error contains TEXT.")
@click.option("--dry-run", is_flag=True, help="Only list what would be retried.")
@click.pass_context
def dlq_retry(ctx: click.Context, job_id: str | None, all_: bool, contains: str | None, dry_run: bool) -> None:
    """Send dead jobs back to pending, with their attempts reset: one ID, --all, or --filter TEXT."""
    if sum((bool(job_id), all_, contains is not None)) != 1:
        raise click.UsageError("give one of: a job id, --all, --filter TEXT")
    if job_id:
        job_id = _job_id(job_id)
    _open(ctx, readonly=dry_run)
    from . import store

    if dry_run:
        ids = [job_id] if job_id else store.dead_jobs(contains)
        click.echo("\n".join(ids) if ids else "no dead job matches", err=not ids)
        return
    from . import ops

    ids = ops.retry_dead([job_id] if job_id else None, contains)
    click.echo(f"retrying job '{job_id}' from the DLQ" if job_id else f"retrying {len(ids)} job(s) from the DLQ")


@dlq.command("purge")
@click.option("--older-than", "older_than", metavar="DURATION", default="0s", show_default=True,
              help="Only jobs dead for longer than this (30m, 12h, 7d).")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.pass_context
def dlq_purge(ctx: click.Context, older_than: str, dry_run: bool) -> None:
    """Delete dead jobs, their attempts and their logs."""
    _prune(ctx, ["dead"], older_than, dry_run)


@cli.command()
@click.option("--state", "states", multiple=True, type=click.Choice(FINISHED),
              help="Only jobs in this state (repeatable; default: all three).")  # fmt: skip
@click.option("--older-than", "older_than", metavar="DURATION", required=True, help="30m, 12h, 7d, 2w …")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.pass_context
def prune(ctx: click.Context, states: tuple[str, ...], older_than: str, dry_run: bool) -> None:
    """Delete finished jobs that ended longer ago than --older-than, with attempts and logs."""
    _prune(ctx, list(states), older_than, dry_run)


def _prune(ctx: click.Context, states: list[str], older_than: str, dry_run: bool) -> None:
    from .settings import parse_duration

    seconds = parse_duration(older_than, "--older-than")
    _open(ctx, readonly=dry_run)
    from . import store

    ids = store.prune(states, seconds, dry_run=dry_run)
    if dry_run:
        click.echo("\n".join(ids) if ids else "nothing to delete", err=not ids)
    else:
        click.echo(f"deleted {len(ids)} job(s)")


# -- configuration --------------------------------------------------------------------------
@cli.group()
def config() -> None:
    """Show and change settings (kept in the store, so every worker sees them)."""


@config.command("show")
@json_option
@click.pass_context
def config_show(ctx: click.Context, json_: bool) -> None:
    """Every setting with its current value."""
    _open(ctx, readonly=True)
    from . import store
    from .settings import SETTINGS

    values = store.get_config()
    if json_:
        _echo_json(values)
        return
    for key, value in values.items():
        click.echo(f"{key:<20} = {SETTINGS[key].show(value):<12}  # {SETTINGS[key].help}")


@config.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("key")
@click.argument("value")
@click.pass_context
def config_set(ctx: click.Context, key: str, value: str) -> None:
    """Change one setting: queuectl config set max_retries 5."""
    from .settings import setting

    setting(key).parse(value)  # refuse bad input before touching the store
    _open(ctx)
    from . import store

    stored = store.set_config(key, value)
    click.echo(f"{key} = {setting(key).show(stored)}")


from .tui_commands import register as _register_tui_commands  # noqa: E402  (click only)
from .fleet_commands import register as _register_fleet_commands  # noqa: E402  (click only)

_register_tui_commands(cli)
_register_fleet_commands(cli, metrics)


def main() -> None:
    cli(prog_name="queuectl")
