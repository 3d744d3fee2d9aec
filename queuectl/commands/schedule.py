"""The `schedule` group, recurring jobs: `schedule add`, `schedule list`, `schedule remove`,
`schedule pause`, `schedule resume`, `schedule run`."""

from __future__ import annotations

import click

from .. import complete
from .common import echo_json, json_option, name_command, open_named_store


@click.group()
def schedule() -> None:
    """Recurring jobs: one job per cron tick, enqueued by the running workers."""


@schedule.command("add")
@click.argument("name")
@click.argument("job_json", metavar="JOB_JSON")
@click.option("--cron", required=True, help='When: "*/5 * * * *" (a sixth field counts seconds).')
@click.option("--tz", default="UTC", show_default=True, help="The time zone the cron expression is read in.")
@click.option(
    "--overlap",
    type=click.Choice(["skip", "allow"]),
    default="allow",
    show_default=True,
    help="skip: no new run while the previous one is unfinished.",
)
@click.pass_context
def schedule_add(ctx: click.Context, name: str, job_json: str, cron: str, tz: str, overlap: str) -> None:
    """Add a schedule NAME running JOB_JSON (the job's fields, without id and run_at)."""
    from ..spec import load_json_object, with_absolute_cwd

    job = with_absolute_cwd(load_json_object(job_json))
    open_named_store(ctx)
    from .. import ops, render

    added = ops.add_schedule(name, cron, job, tz=tz, overlap=overlap)
    click.echo(f"schedule '{name}' added; next run {render.local_time(added.next_run_at)}")


@schedule.command("list")
@json_option
@click.pass_context
def schedule_list(ctx: click.Context, json_: bool) -> None:
    """Every schedule with its next and last run, and the error that paused it, if one did."""
    open_named_store(ctx, readonly=True)
    from .. import render, store

    schedules = store.list_schedules()
    if json_:
        echo_json([s.as_dict() for s in schedules])
        return
    rows = [
        [
            s.name,
            s.cron,
            s.tz,
            _status(s),
            s.overlap,
            render.local_time(s.next_run_at),
            s.last_job_id or "",
            str(s.skipped),
            render.clean(s.job.get("command")),
        ]
        for s in schedules
    ]
    render.print_table(
        f"Schedules ({len(schedules)})",
        ["Name", "Cron", "TZ", "Status", "Overlap", "Next run", "Last job", "Skipped", "Command"],
        rows,
    )
    for s in schedules:
        if s.last_error:  # in full, below the table (a cell would cut it short)
            click.echo(
                f"{render.clean(s.name)}: paused by an error: {render.clean(s.last_error)} "
                f"(once it is fixed: queuectl schedule resume {s.name})"
            )


def _status(s) -> str:
    return "error" if s.last_error else "paused" if s.paused else "active"


name_command(
    schedule,
    "remove",
    "Delete a schedule (the jobs it enqueued stay).",
    lambda ops, name: ops.remove_schedule(name),
    "schedule '{name}' removed",
)
name_command(
    schedule,
    "pause",
    "Stop enqueueing a schedule's jobs until it is resumed.",
    lambda ops, name: ops.pause_schedule(name),
    "schedule '{name}' paused",
)
name_command(
    schedule,
    "resume",
    "Resume a schedule from its next tick (ticks missed while paused are not run).",
    lambda ops, name: ops.pause_schedule(name, paused=False),
    "schedule '{name}' resumed",
)


@schedule.command("run")
@click.argument("name", shell_complete=complete.schedule_names)
@click.pass_context
def schedule_run(ctx: click.Context, name: str) -> None:
    """Enqueue a schedule's job once, now."""
    from ..spec import validate_queue_name

    validate_queue_name(name, "schedule")  # a name that can never exist is bad input, not "not found"
    open_named_store(ctx)
    from .. import ops

    click.echo(ops.run_schedule(name))
