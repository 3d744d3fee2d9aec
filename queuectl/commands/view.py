"""Looking at jobs: `list`, `status`, `show`, `logs`, `wait`."""

from __future__ import annotations

import sys

import click

from .. import complete
from ..errors import ExitCode
from ..states import JobState
from .common import MAX_LIMIT, SECONDS, STATES, checked_job_id, echo_json, json_option, open_named_store


@click.command("list")
@click.option(
    "--state",
    "states",
    type=click.Choice(STATES),
    multiple=True,
    help="Only jobs in this state (repeatable: any of them).",
)
@click.option("--label", "-l", metavar="LABEL", shell_complete=complete.labels, help="Only jobs with this label.")
@click.option(
    "--limit", type=click.IntRange(min=1, max=MAX_LIMIT), default=50, show_default=True, help="At most this many jobs."
)
@json_option
@click.pass_context
def list_jobs(ctx: click.Context, states: tuple[str, ...], label: str | None, limit: int, json_: bool) -> None:
    """List jobs, newest first."""
    where = _label_filter(label)
    open_named_store(ctx, readonly=True, quick=True)
    from .. import render, store

    jobs = store.list_jobs(state=list(dict.fromkeys(states)) or None, limit=limit, where=where)
    # (only jobs that ask for resources can wait for them: the quick path serves a plain list)
    reasons = store.waiting_reasons(jobs) if any(job.resources for job in jobs) else {}
    if json_:
        latest = store.latest_attempts([job.seq for job in jobs])
        echo_json(
            [dict(_with_usage(job.as_dict(), latest.get(job.seq)), waiting_reason=reasons.get(job.id)) for job in jobs]
        )
        return
    rows = [
        [
            job.id,
            job.shown_state,
            str(job.priority),
            f"{job.attempts}/{1 + job.max_retries}",
            render.local_time(job.created_at),
            render.clean(job.command, 60),
        ]
        for job in jobs
    ]
    terms = [", ".join(dict.fromkeys(states))] if states else []
    terms += [f"label {label}"] if label else []
    title = f"Jobs ({', '.join([str(len(jobs))] + terms)})"
    render.print_table(
        title,
        ["ID", "State", "Priority", "Attempts", "Created", "Command"],
        rows,
        [render.STATE_STYLES.get(job.shown_state) for job in jobs],
    )
    for job_id, reason in reasons.items():
        click.echo(f"{job_id} waits: {reason}")


def _with_usage(job: dict, run) -> dict:
    """A job's JSON with what its latest run used (`usage`, None when not recorded)."""
    return dict(job, usage=None if run is None else run.usage())


def _label_filter(label: str | None):
    """--label as the store's filter, checked before the store is opened."""
    if label is None:
        return None
    from ..spec import validate_label
    from ..store.views import JobFilter

    return JobFilter(label=validate_label(label))


@click.command()
@click.option(
    "--label",
    "-l",
    metavar="LABEL",
    shell_complete=complete.labels,
    help="Only jobs with this label (counted by a scan of them).",
)
@json_option
@click.pass_context
def status(ctx: click.Context, label: str | None, json_: bool) -> None:
    """Jobs per state, paused jobs, and the number of live workers."""
    where = _label_filter(label)
    open_named_store(ctx, readonly=True, quick=True)
    from .. import store

    counts = store.counts_matching(where) if where else store.counts()
    workers = store.live_worker_count()
    if json_:  # the contract of DESIGN.md, exactly (paused jobs are counted in their states)
        echo_json({"jobs": counts, "workers": workers})
        return
    paused = store.paused_count(where)
    names = {JobState.DEAD: "Dead (DLQ)"}
    for state, n in counts.items():
        click.echo(f"{names.get(state, state.capitalize()) + ':':<13}{n}")
    click.echo(f"{'Paused:':<13}{paused}")
    click.echo(f"{'Workers:':<13}{workers}")


@click.command()
@click.argument("job_id", shell_complete=complete.job_ids)
@json_option
@click.pass_context
def show(ctx: click.Context, job_id: str, json_: bool) -> None:
    """Every field of one job, its dependencies and dependents, and its attempt history."""
    job_id = checked_job_id(job_id)
    open_named_store(ctx, readonly=True)
    from .. import ops, render, store

    detail = ops.job_detail(job_id)
    job, runs = detail.job, detail.runs
    depends_on, dependents = [j.id for j in detail.depends_on], [j.id for j in detail.dependents]
    reason = store.waiting_reasons([job]).get(job.id)
    if json_:
        echo_json(
            dict(
                job.as_dict(),
                depends_on=depends_on,
                dependents=dependents,
                attempts=[a.as_dict() for a in runs],
                waiting_reason=reason,
            )
        )
        return
    for key, value in job.as_dict().items():
        if key.endswith("_at") and value is not None:
            value = render.local_time(getattr(job, key))
        if key == "resources":
            value = render.resources_text(value)
        click.echo(f"{key + ':':<19}{render.clean(value if value not in (None, [], {}) else '')}")
    click.echo(f"{'depends_on:':<19}{', '.join(depends_on)}")
    click.echo(f"{'dependents:':<19}{', '.join(dependents)}")
    if reason:
        click.echo(f"{'waits:':<19}{reason}")
    rows = [
        [
            str(a.number),
            a.host or "",
            render.local_time(a.started_at),
            render.local_time(a.finished_at),
            "" if a.exit_code is None else str(a.exit_code),
            render.clean(a.error or a.note or "", 50),
        ]
        for a in runs
    ]
    if not rows:
        click.echo("Attempts: no attempt recorded")
        return
    render.print_table("Attempts", ["#", "Host", "Started", "Finished", "Exit", "Error"], rows)
    for a in runs:  # (below the table, whole at any width: a narrow table drops columns)
        if render.usage_line(a):
            click.echo(f"attempt {a.number} used: {render.clean(render.usage_line(a))}")


@click.command()
@click.argument("job_id", shell_complete=complete.job_ids)
@click.option("--attempt", type=click.IntRange(min=1), help="This attempt instead of the latest.")
@click.option("--follow", "-f", is_flag=True, help="Stream a running job's output until it ends.")
@click.option(
    "--raw",
    is_flag=True,
    help="The output byte for byte, even to a terminal (whose escape sequences "
    "then act); without it a terminal shows them escaped, colours apart.",
)
@click.option("--stdout", "stdout_only", is_flag=True, help="Only the job's stdout, as it wrote it (no headers).")
@click.option("--stderr", "stderr_only", is_flag=True, help="Only the job's stderr, as it wrote it, on our stdout.")
@click.pass_context
def logs(
    ctx: click.Context, job_id: str, attempt: int | None, follow: bool, raw: bool, stdout_only: bool, stderr_only: bool
) -> None:
    """Exit code, stdout and stderr of a job's latest (or given) attempt."""
    if stdout_only and stderr_only:
        raise click.UsageError("give --stdout or --stderr, not both")
    only = "stdout" if stdout_only else "stderr" if stderr_only else None
    job_id = checked_job_id(job_id)
    open_named_store(ctx, readonly=True)
    from .. import ops
    from ..terminal import Output

    if follow:
        from ..follow import follow_job

        follow_job(job_id, attempt, raw, only)
        return
    output = ops.read_output(job_id, attempt, max_bytes=None) if only else ops.read_output(job_id, attempt)
    run = output.run
    if run is None:
        click.echo(ops.no_attempt(output.job), err=True)
        return
    if only:  # what `tsp -c` gives: that stream's bytes and nothing else, for `> file`
        out = Output(sys.stdout, raw)
        out.write(getattr(output, only).data)
        out.close()
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
    from .. import render

    used = render.usage_line(run)
    if used:  # (attempts recorded before schema 8 have none: their header is as it was)
        click.echo(f"\n=== USAGE ===\n{shown(used)}", color=True)
    click.echo("\n=== STDOUT ===" + (" (last 1 MiB)" if cut_out else ""))
    click.echo(shown(stdout), nl=not stdout.endswith("\n"), color=True)
    click.echo("\n=== STDERR ===" + (" (last 1 MiB)" if cut_err else ""))
    click.echo(shown(stderr), nl=not stderr.endswith("\n"), color=True)


@click.command()
@click.argument("job_ids", metavar="ID...", nargs=-1, required=True, shell_complete=complete.job_ids)
@click.option(
    "--timeout", type=SECONDS, metavar="DURATION", help="Give up after this long: seconds, or 30s, 15m, 2h (exit 124)."
)
@json_option
@click.pass_context
def wait(ctx: click.Context, job_ids: tuple[str, ...], timeout: float | None, json_: bool) -> None:
    """Block until every given job has ended; exit 0 if all completed, 1 if any did not."""
    job_ids = tuple(checked_job_id(j) for j in job_ids)
    open_named_store(ctx, readonly=True)
    from ..ops import wait_for_jobs

    final = wait_for_jobs(list(dict.fromkeys(job_ids)), timeout)
    if json_:
        echo_json({job_id: state for job_id, state in final.items()})
    else:
        for job_id, state in final.items():
            click.echo(f"{job_id}: {state or 'still running (timed out)'}")
    if None in final.values():
        sys.exit(ExitCode.TIMEOUT)
    sys.exit(ExitCode.OK if all(state == JobState.COMPLETED for state in final.values()) else ExitCode.FAILED)
