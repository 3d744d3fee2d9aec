"""The dead-letter queue, `dlq list`, `dlq retry`, `dlq purge`; and `prune`, which deletes
finished jobs as `dlq purge` deletes dead ones."""

from __future__ import annotations

import click

from .. import complete
from ..states import FINISHED, JobState
from .common import (
    MAX_LIMIT,
    checked_job_id,
    echo_json,
    json_option,
    open_named_store,
    report_retried,
    with_dependents_option,
)


@click.group()
def dlq() -> None:
    """The dead-letter queue: jobs that ran out of retries."""


@dlq.command("list")
@click.option(
    "--limit",
    type=click.IntRange(min=1, max=MAX_LIMIT),
    default=50,
    show_default=True,
    help="At most this many jobs (the title says how many of all).",
)
@click.option("--group-by", type=click.Choice(["error"]), help="One row per exit code and error, largest first.")
@json_option
@click.pass_context
def dlq_list(ctx: click.Context, limit: int, group_by: str | None, json_: bool) -> None:
    """Dead jobs, most recent first, with their last error."""
    open_named_store(ctx, readonly=True)
    from .. import render, store

    if group_by:
        groups = store.dead_by_error()
        if json_:
            echo_json([dict(g, latest=store.iso(g["latest"])) for g in groups])
            return
        rows = [
            [
                str(g["count"]),
                "" if g["exit_code"] is None else str(g["exit_code"]),
                ", ".join(g["examples"]),
                render.clean(g["error"]),
            ]
            for g in groups
        ]
        render.print_table(
            f"Dead Letter Queue by error ({len(groups)} groups)", ["Jobs", "Exit", "Examples", "Error"], rows
        )
        return
    jobs = store.list_jobs(state=JobState.DEAD.value, limit=limit)
    if json_:
        echo_json([job.as_dict() for job in jobs])
        return
    rows = [
        [
            job.id,
            f"{job.attempts}/{1 + job.max_retries}",
            render.local_time(job.updated_at),
            render.clean(job.last_error),
        ]
        for job in jobs
    ]
    total = store.counts()[JobState.DEAD]
    shown = f"{len(jobs):,}" if len(jobs) >= total else f"{len(jobs):,} of {total:,}"
    render.print_table(f"Dead Letter Queue ({shown})", ["ID", "Attempts", "Updated", "Error"], rows)


@dlq.command("retry")
@click.argument("job_id", required=False, shell_complete=complete.job_ids)
@click.option("--all", "all_", is_flag=True, help="Retry every dead job.")
@click.option(
    "--filter", "contains", metavar="TEXT", help="Retry the dead jobs whose id, command or error contains TEXT."
)
@with_dependents_option
@click.option("--dry-run", is_flag=True, help="Only list what would be retried.")
@click.pass_context
def dlq_retry(
    ctx: click.Context, job_id: str | None, all_: bool, contains: str | None, with_dependents: bool, dry_run: bool
) -> None:
    """Send dead jobs back to pending, with their attempts reset: one ID, --all, or --filter TEXT."""
    if sum((bool(job_id), all_, contains is not None)) != 1:
        raise click.UsageError("give one of: a job id, --all, --filter TEXT")
    if job_id:
        job_id = checked_job_id(job_id)
    open_named_store(ctx, readonly=dry_run)
    from .. import store

    if dry_run:
        ids = [job_id] if job_id else store.dead_jobs(contains)
        click.echo("\n".join(ids) if ids else "no dead job matches", err=not ids)
        return
    from .. import ops

    ids = ops.retry_dead([job_id] if job_id else None, contains, with_dependents)
    if job_id:
        click.echo(f"retrying job '{job_id}' from the DLQ")
    else:
        click.echo(
            f"retrying {len(ids)} job(s) from the DLQ"
            + (", with their cancelled dependents" if with_dependents else "")
        )
    report_retried(ids, [job_id] if job_id else ids, with_dependents)


@dlq.command("purge")
@click.option(
    "--older-than",
    "older_than",
    metavar="DURATION",
    default="0s",
    show_default=True,
    help="Only jobs dead for longer than this (30m, 12h, 7d).",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.pass_context
def dlq_purge(ctx: click.Context, older_than: str, dry_run: bool) -> None:
    """Delete dead jobs, their attempts and their logs."""
    _prune(ctx, [JobState.DEAD.value], older_than, dry_run)


@click.command()
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(FINISHED),
    help="Only jobs in this state (repeatable; default: all three).",
)
@click.option("--older-than", "older_than", metavar="DURATION", required=True, help="30m, 12h, 7d, 2w …")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.pass_context
def prune(ctx: click.Context, states: tuple[str, ...], older_than: str, dry_run: bool) -> None:
    """Delete finished jobs that ended longer ago than --older-than, with attempts and logs."""
    _prune(ctx, list(states), older_than, dry_run)


def _prune(ctx: click.Context, states: list[str], older_than: str, dry_run: bool) -> None:
    from ..settings import parse_duration

    seconds = parse_duration(older_than, "--older-than")
    open_named_store(ctx, readonly=dry_run)
    from .. import ops

    ids = ops.prunable(seconds, states) if dry_run else ops.prune(seconds, states)
    if dry_run:
        click.echo("\n".join(ids) if ids else "nothing to delete", err=not ids)
    else:
        click.echo(f"deleted {len(ids)} job(s)")
