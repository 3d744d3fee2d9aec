"""Shell completion of values (click's machinery calls these while the user presses tab): job
ids, labels, queue and schedule names from the store, config keys.  Each answers fast (job ids: the
newest few hundred, then older ones starting with what was typed) and never fails: a store
that cannot be opened completes nothing."""

from __future__ import annotations

import functools

import click

#: the newest jobs offered for an empty or short prefix
RECENT_JOBS = 300
#: the newest labelled jobs whose labels are offered
RECENT_LABELLED = 2000


def _quietly(fn):
    """A completion callback that opens the store named by --db / QUEUECTL_DB, read-only."""

    @functools.wraps(fn)
    def callback(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
        from click.shell_completion import CompletionItem

        from .errors import QueuectlError
        from .paths import resolve

        try:
            location = resolve(ctx.find_root().params.get("db"))
            from . import store

            store.open_store(location, readonly=True)
            return [CompletionItem(value) for value in fn(incomplete)]
        except (QueuectlError, OSError):
            return []

    return callback


@_quietly
def job_ids(incomplete: str) -> list[str]:
    from .store.completion import job_ids_starting

    return job_ids_starting(incomplete, RECENT_JOBS)


@_quietly
def labels(incomplete: str) -> list[str]:
    from .store.completion import labels_starting

    return labels_starting(incomplete, RECENT_LABELLED)


@_quietly
def queue_names(incomplete: str) -> list[str]:
    from . import store

    return [q.name for q in store.list_queues() if q.name.startswith(incomplete)]


@_quietly
def schedule_names(incomplete: str) -> list[str]:
    from . import store

    return [s.name for s in store.list_schedules() if s.name.startswith(incomplete)]


def config_keys(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    from click.shell_completion import CompletionItem

    from .settings import SETTINGS

    return [CompletionItem(key, help=spec.help) for key, spec in SETTINGS.items() if key.startswith(incomplete)]


def names_of(group: str):
    """The completion of a `GROUP VERB NAME` command's NAME (queue or schedule)."""
    return {"queue": queue_names, "schedule": schedule_names}.get(group)
