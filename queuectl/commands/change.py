"""Changing jobs: `cancel`, `retry`, `edit`, `pause`, `resume`, `priority`, `delete`."""

from __future__ import annotations

import click

from .. import complete
from ..states import FINISHED
from .common import checked_job_id, open_named_store, report_retried, with_dependents_option

label_option = click.option(
    "--label", "-l", "label", metavar="LABEL", shell_complete=complete.labels, help="Every such job with this label."
)


def _format_option(help_: str):
    """--format of the document `edit` (and `retry --edit`) opens in the editor."""
    return click.option(
        "--format", "format_", type=click.Choice(["toml", "json"]), default="toml", show_default=True, help=help_
    )


@click.command()
@click.argument("job_ids", metavar="[ID...]", nargs=-1, shell_complete=complete.job_ids)
@label_option
@click.pass_context
def cancel(ctx: click.Context, job_ids: tuple[str, ...], label: str | None) -> None:
    """Cancel jobs that have not finished: pending, blocked, failed (awaiting a retry), paused or
    running (processing); a running one has its whole process tree killed."""
    job_ids = _ids_or_label(job_ids, label)
    open_named_store(ctx)
    from .. import ops

    for job_id in ops.cancel_jobs(_with_label(label, None) if label else job_ids):
        click.echo(f"cancelled job '{job_id}'")


@click.command()
@click.argument("job_ids", metavar="ID...", nargs=-1, required=True, shell_complete=complete.job_ids)
@click.pass_context
def pause(ctx: click.Context, job_ids: tuple[str, ...]) -> None:
    """Pause jobs: a waiting one is not started until resumed; a running one's whole process
    tree is stopped (SIGSTOP) by its worker, on any host, and its timeout clock stops."""
    _pause(ctx, job_ids, paused=True)


@click.command()
@click.argument("job_ids", metavar="ID...", nargs=-1, required=True, shell_complete=complete.job_ids)
@click.pass_context
def resume(ctx: click.Context, job_ids: tuple[str, ...]) -> None:
    """Resume paused jobs: a waiting one may start, a running one continues (SIGCONT)."""
    _pause(ctx, job_ids, paused=False)


def _pause(ctx: click.Context, job_ids: tuple[str, ...], paused: bool) -> None:
    job_ids = tuple(dict.fromkeys(checked_job_id(j) for j in job_ids))
    open_named_store(ctx)
    from .. import ops

    for job_id in (ops.pause if paused else ops.resume)(list(job_ids)):
        click.echo(f"{'paused' if paused else 'resumed'} job '{job_id}'")


def _ids_or_label(job_ids: tuple[str, ...], label: str | None) -> tuple[str, ...]:
    """Job ids typed, or --label: exactly one of the two (checked before the store opens)."""
    if bool(job_ids) == bool(label):
        raise click.UsageError("give job ids or --label LABEL")
    if label:
        from ..spec import validate_label

        validate_label(label)
    return tuple(dict.fromkeys(checked_job_id(j) for j in job_ids))


def _with_label(label: str, states) -> list[str]:
    from .. import ops

    ids = ops.jobs_with_label(label, states)
    if not ids:
        click.echo(f"no job with label {label!r} to act on", err=True)
    return ids


@click.command()
@click.argument("job_ids", metavar="[ID...]", nargs=-1, shell_complete=complete.job_ids)
@label_option
@click.option(
    "--state",
    "states",
    type=click.Choice(FINISHED),
    multiple=True,
    help="With --label: only its jobs in this state (repeatable; default: completed, dead, cancelled).",
)
@with_dependents_option
@click.option("--edit", "edit_", is_flag=True, help="Edit the job first (one ID; see 'queuectl edit').")
@click.option(
    "--set",
    "assignments",
    metavar="FIELD=VALUE",
    multiple=True,
    help="With --edit: change this field without an editor (repeatable).",
)
@_format_option("With --edit: the document the editor shows.")
@click.pass_context
def retry(
    ctx: click.Context,
    job_ids: tuple[str, ...],
    label: str | None,
    states: tuple[str, ...],
    with_dependents: bool,
    edit_: bool,
    assignments: tuple[str, ...],
    format_: str,
) -> None:
    """Run finished jobs (completed, dead or cancelled) again, keeping their attempt history.

    The cancelled jobs downstream of them stay cancelled (the command names them) unless
    --with-dependents brings them back too.
    """
    job_ids = _ids_or_label(job_ids, label)
    if states and not label:
        raise click.UsageError("--state filters --label's jobs; name the jobs to retry instead")
    if edit_ or assignments:
        if len(job_ids) != 1:
            raise click.UsageError("--edit takes one job id")
        _edit(ctx, job_ids[0], assignments, format_, then_retry=True, with_dependents=with_dependents)
        return
    open_named_store(ctx)
    from .. import ops

    ids = _with_label(label, states or FINISHED) if label else list(job_ids)
    retried = ops.retry(ids, with_dependents) if ids else []
    for job_id in retried[: len(ids)]:
        click.echo(f"retrying job '{job_id}'")
    report_retried(retried, ids, with_dependents)


@click.command()
@click.argument("job_id", metavar="ID", shell_complete=complete.job_ids)
@click.option(
    "--set",
    "assignments",
    metavar="FIELD=VALUE",
    multiple=True,
    help="Change this field without an editor (repeatable): command, priority, queue, env (a JSON "
    "object), cwd, run_at, timeout, max_retries, labels (a,b), on_finish, resources (a JSON object: "
    '{"gpus": 1, "mem": "4G"}); an empty value clears env, cwd, labels, on_finish or resources.',
)
@_format_option("The document the editor shows.")
@click.pass_context
def edit(ctx: click.Context, job_id: str, assignments: tuple[str, ...], format_: str) -> None:
    """Edit a waiting job (pending, blocked, or failed awaiting its retry) in $VISUAL or $EDITOR.

    The job is saved only if it is still waiting when the editor closes; quitting without
    saving keeps it as it was.
    """
    _edit(ctx, checked_job_id(job_id), assignments, format_, then_retry=False)


def _edit(
    ctx: click.Context,
    job_id: str,
    assignments: tuple[str, ...],
    fmt: str,
    then_retry: bool,
    with_dependents: bool = False,
) -> None:
    """edit / retry --edit: changes from --set, else from the document the editor saved."""
    from .. import jobdoc

    changes = dict(jobdoc.parse_assignment(a) for a in assignments)
    if changes:
        from ..spec import validate_changes

        validate_changes(changes)  # bad input is refused before the store is opened
    open_named_store(ctx)
    from .. import ops

    if not changes:
        job = ops.job_to_edit(job_id, finished=then_retry)
        original = ops.editable(job)
        document = jobdoc.render(original, job.id, job.state, fmt).encode("utf-8")
        edited = click.edit(document, extension=f".{fmt}", require_save=True)  # bytes: jobdoc decodes them
        changes = jobdoc.changes(original, jobdoc.parse(jobdoc.decode(edited), fmt)) if edited is not None else {}
        if not changes and not then_retry:
            click.echo(f"job '{job_id}' unchanged", err=True)
            return
    if not then_retry:
        saved = ops.edit_job(job_id, changes)
        click.echo(f"job '{job_id}' edited" + (f": {', '.join(changes)}" if changes else "") + f" ({saved.state})")
        return
    coming = ops.cancelled_dependents([job_id]) if with_dependents else []  # (named, not counted on)
    saved = ops.retry_edited(job_id, changes, with_dependents)
    click.echo(f"retrying job '{job_id}'" + (f": {', '.join(changes)}" if changes else "") + f" ({saved.state})")
    report_retried([job_id, *coming], [job_id], with_dependents)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("job_id", shell_complete=complete.job_ids)
@click.argument("value", metavar="N")
@click.pass_context
def priority(ctx: click.Context, job_id: str, value: str) -> None:
    """Change the priority of a waiting job (pending, blocked or failed); higher runs first."""
    job_id = checked_job_id(job_id)
    from ..spec import parse_priority

    number = parse_priority(value)
    open_named_store(ctx)
    from .. import ops

    ops.set_priority([job_id], number)
    click.echo(f"job '{job_id}' priority {number}")


@click.command()
@click.argument("job_ids", metavar="ID...", nargs=-1, required=True, shell_complete=complete.job_ids)
@click.pass_context
def delete(ctx: click.Context, job_ids: tuple[str, ...]) -> None:
    """Delete finished jobs (completed, dead or cancelled), their attempts and their logs."""
    job_ids = tuple(checked_job_id(j) for j in job_ids)
    open_named_store(ctx)
    from .. import ops

    for job_id in ops.delete(list(dict.fromkeys(job_ids))):
        click.echo(f"deleted job '{job_id}'")
