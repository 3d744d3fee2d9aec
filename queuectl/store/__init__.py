"""The store: the only package that queries the database.

Every job state transition is one function here, used by the CLI, the workers and the TUI alike.

The names below load their module on first use (PEP 562): a short command such as `queuectl
status` imports the few modules it calls, not every transition, schedule and retention rule
(each dataclass and query module costs start-up time; see bench/ startup).  Add a name here
with the module it lives in.
"""

from __future__ import annotations

import importlib

#: public name -> the module of this package that defines it (or "module:its name there")
_WHERE = {
    **dict.fromkeys(("get_config", "set_config"), "config"),
    **dict.fromkeys(
        (
            "check_schema",
            "close_store",
            "forward_wake_ups",
            "location",
            "now",
            "open_store",
            "set_clock",
            "set_wall_clock",
            "wake_channel",
        ),
        "connection",
    ),
    **dict.fromkeys(
        (
            "Cancelled",
            "Enqueued",
            "WAITING",
            "cancel",
            "cancelled_dependents",
            "delete_job",
            "edit_job",
            "enqueue",
            "enqueue_batches",
            "retry",
            "retry_dead",
            "set_paused",
            "set_priority",
        ),
        "jobs",
    ),
    **dict.fromkeys(("Finished", "claim_batch", "finish_batch"), "claims"),
    **dict.fromkeys(("LogRead", "attempt_paths", "read_log"), "logfiles"),
    **dict.fromkeys(
        (
            "attempts",
            "count_matching",
            "counts",
            "counts_matching",
            "get_job",
            "has_burst_work",
            "ids_matching",
            "linked_jobs",
            "list_jobs",
            "metrics",
            "next_due",
            "paused_count",
            "paused_queues",
            "states_of",
            "unfinished_in_queue",
            "waiting_for",
        ),
        "queries",
    ),
    **dict.fromkeys(("QueueView", "limit_queue", "list_queues", "pause_queue", "resume_queue"), "queues"),
    **dict.fromkeys(
        (
            "DueRun",
            "ScheduleView",
            "add_schedule",
            "get_schedule",
            "list_schedules",
            "pause_schedule",
            "remove_schedule",
            "run_due_schedules",
            "run_schedule_now",
            "schedule_errors",
        ),
        "schedules",
    ),
    **dict.fromkeys(("apply_retention", "dead_by_error", "dead_ids_by_error", "dead_jobs", "prune"), "retention"),
    **dict.fromkeys(("AttemptView", "Claim", "JobFilter", "JobView", "Metrics", "WorkerView", "iso"), "views"),
    **dict.fromkeys(("Figures", "figures"), "counters"),
    **dict.fromkeys(("HostView", "list_hosts", "queuectl_version"), "hosts"),
    **dict.fromkeys(("follower_channel",), "output"),
    "ship_output": "output:ship",
    **dict.fromkeys(
        ("LIFECYCLE", "SORT_COLUMNS", "SORT_WINDOW", "ended_at", "list_keyset", "list_sorted", "sort_key"), "sorting"
    ),
    **dict.fromkeys(("Series", "last_ended_span", "last_hour"), "series"),
    **dict.fromkeys(
        (
            "HEARTBEAT_SECONDS",
            "Heartbeat",
            "heartbeat",
            "list_workers",
            "live_worker_count",
            "recover_expired",
            "recover_worker",
            "register_worker",
            "request_stop",
            "unregister_worker",
            "workers_of_host",
        ),
        "workers",
    ),
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attribute = _WHERE[name].partition(":")  # "module:attribute" where the names differ
    value = getattr(importlib.import_module(f".{module}", __name__), attribute or name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value


def __dir__() -> list[str]:
    return __all__
