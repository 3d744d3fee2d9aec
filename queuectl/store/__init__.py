"""The store: the only package that queries the database.

Every job state transition is one function here, called by the workers and by queuectl/ops.py
(through which the CLI and the dashboard make every change: see WRITES below).

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
            "forward_wake_ups",
            "location",
            "now",
            "set_clock",
            "set_wall_clock",
            "wake_channel",
        ),
        "connection",
    ),
    **dict.fromkeys(
        (
            "Cancelled",
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
    **dict.fromkeys(("Finished", "claim_batch", "finish_batch", "release_claims"), "claims"),
    **dict.fromkeys(("attempt_paths", "read_log"), "logfiles"),
    **dict.fromkeys(
        (
            "attempts",
            "count_matching",
            "counts",
            "counts_matching",
            "get_job",
            "has_burst_work",
            "ids_matching",
            "latest_attempts",
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
    **dict.fromkeys(
        ("AttemptView", "Claim", "JobFilter", "JobView", "LogRead", "Metrics", "WorkerView", "iso"), "views"
    ),
    "Enqueued": "sqltext",
    **dict.fromkeys(("open_store", "close_store"), "quick"),
    **dict.fromkeys(("Figures", "figures"), "counters"),
    "UsageLine": "usage",
    **dict.fromkeys(("live_offers", "resources_of_hosts", "unmet_reason", "waiting_reasons"), "fits"),
    "usage_summary": "usage:summary",
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

#: Every public function above by what it does to the data, so that the import contract
#: (tests/test_import_contract.py) can hold: the CLI's commands and the dashboard call READS and
#: CONNECTION freely, and make every change through queuectl/ops.py, the one door for writes.
#: A test checks that each function is in exactly one of the three.
WRITES = frozenset(
    (
        "add_schedule",
        "apply_retention",
        "release_claims",
        "cancel",
        "claim_batch",
        "delete_job",
        "edit_job",
        "enqueue",
        "enqueue_batches",
        "finish_batch",
        "heartbeat",
        "limit_queue",
        "pause_queue",
        "pause_schedule",
        "prune",
        "recover_expired",
        "recover_worker",
        "register_worker",
        "remove_schedule",
        "request_stop",
        "resume_queue",
        "retry",
        "retry_dead",
        "run_due_schedules",
        "run_schedule_now",
        "set_config",
        "set_paused",
        "set_priority",
        "ship_output",
        "unregister_worker",
    )
)
#: functions that change nothing: queries, and pure helpers (validation, paths, time format)
READS = frozenset(
    (
        "ended_at",
        "last_ended_span",
        "list_keyset",
        "sort_key",
        "latest_attempts",
        "live_offers",
        "resources_of_hosts",
        "unmet_reason",
        "usage_summary",
        "waiting_reasons",
        "attempt_paths",
        "attempts",
        "cancelled_dependents",
        "check_schema",
        "count_matching",
        "counts",
        "counts_matching",
        "dead_by_error",
        "dead_ids_by_error",
        "dead_jobs",
        "figures",
        "get_config",
        "get_job",
        "get_schedule",
        "has_burst_work",
        "ids_matching",
        "iso",
        "last_hour",
        "linked_jobs",
        "list_hosts",
        "list_jobs",
        "list_queues",
        "list_schedules",
        "list_sorted",
        "list_workers",
        "live_worker_count",
        "metrics",
        "next_due",
        "paused_count",
        "paused_queues",
        "queuectl_version",
        "read_log",
        "schedule_errors",
        "states_of",
        "unfinished_in_queue",
        "waiting_for",
        "workers_of_host",
    )
)
#: opening and closing the store, this process's clock, and the wake-up channels: they change
#: no job, queue, schedule, worker or setting (opening creates or upgrades the schema)
CONNECTION = frozenset(
    (
        "close_store",
        "follower_channel",
        "forward_wake_ups",
        "location",
        "now",
        "open_store",
        "set_clock",
        "set_wall_clock",
        "wake_channel",
    )
)

__all__ = sorted(_WHERE)


#: what the quick path (store/quick.py) serves while it has the store open
_QUICK = ("counts", "enqueue", "list_jobs", "live_worker_count", "paused_count")


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attribute = _WHERE[name].partition(":")  # "module:attribute" where the names differ
    if name in _QUICK:
        value = _quick_or_full(name, module)
    else:
        value = getattr(importlib.import_module(f".{module}", __name__), attribute or name)
        if callable(value) and not isinstance(value, type) and module != "quick":
            from . import quick

            quick.leave()  # the full store serves the other functions (a class or a constant needs no store)
    globals()[name] = value  # the next look-up is a plain attribute
    return value


def _quick_or_full(name: str, module: str):
    """store.NAME: the quick path's answer while it has the store open, else the full store's."""

    def call(*args, **kwargs):
        from . import quick

        if quick.is_open():
            answer = quick.serve(name, args, kwargs)
            if answer is not quick.NOT_SERVED:
                return answer
        return getattr(importlib.import_module(f".{module}", __name__), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def __dir__() -> list[str]:
    return __all__
