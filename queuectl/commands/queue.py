"""The `queue` group, named queues: `queue list`, `queue pause`, `queue resume`, `queue limit`."""

from __future__ import annotations

import click

from .. import complete
from ..states import JobState
from .common import echo_json, json_option, name_command, open_named_store


@click.group()
def queue() -> None:
    """Named queues: pause, resume, limit how many of their jobs run at once."""


@queue.command("list")
@json_option
@click.pass_context
def queue_list(ctx: click.Context, json_: bool) -> None:
    """Every queue: jobs per state, running, limit, paused."""
    open_named_store(ctx, readonly=True)
    from .. import render, store

    queues = store.list_queues()
    if json_:
        echo_json([q.as_dict() for q in queues])
        return
    rows = [
        [
            q.name,
            "paused" if q.paused else "running",
            str(q.running),
            "none" if q.max_running is None else str(q.max_running),
            str(q.jobs[JobState.PENDING]),
            str(q.jobs[JobState.FAILED]),
            str(q.jobs[JobState.BLOCKED]),
            str(q.jobs[JobState.COMPLETED]),
            str(q.jobs[JobState.DEAD]),
        ]
        for q in queues
    ]
    render.print_table(
        f"Queues ({len(queues)})",
        ["Queue", "Status", "Running", "Limit", "Pending", "Failed", "Blocked", "Completed", "Dead"],
        rows,
    )


name_command(
    queue,
    "pause",
    "Keep the queue's waiting jobs waiting (running ones finish).",
    lambda ops, name: ops.pause_queue(name),
    "queue '{name}' paused",
)
name_command(
    queue,
    "resume",
    "Let a paused queue's jobs run again.",
    lambda ops, name: ops.pause_queue(name, paused=False),
    "queue '{name}' resumed",
)


@queue.command("limit")
@click.argument("name", shell_complete=complete.queue_names)
@click.argument("limit", metavar="N|none")
@click.pass_context
def queue_limit(ctx: click.Context, name: str, limit: str) -> None:
    """Run at most N of the queue's jobs at once, on all workers and hosts ('none' lifts it)."""
    from ..spec import parse_queue_limit

    max_running = parse_queue_limit(limit)  # refuse bad input before touching the store
    open_named_store(ctx)
    from .. import ops

    ops.limit_queue(name, max_running)
    click.echo(f"queue '{name}' limit: {'none' if max_running is None else max_running}")
