"""The store: the only package that queries the database.

Every job state transition is one function here, used by the CLI, the workers and the TUI alike.
"""
from .config import get_config, set_config
from .connection import close_store, forward_wake_ups, location, now, open_store, set_clock, set_wall_clock, wake_channel
from .jobs import (
    Cancelled,
    WAITING,
    Enqueued,
    cancel,
    delete_job,
    edit_job,
    enqueue,
    retry,
    retry_dead,
    set_priority,
)
from .claims import Finished, claim, claim_batch, finish, finish_batch
from .counters import Figures, figures
from .hosts import HostView, list_hosts, queuectl_version
from .logfiles import LogRead, attempt_paths, read_log
from .output import follower_channel
from .output import ship as ship_output
from .queries import (
    attempts,
    count_matching,
    counts,
    get_job,
    has_burst_work,
    linked_jobs,
    list_jobs,
    metrics,
    next_due,
    paused_queues,
    states_of,
    waiting_for,
)
from .sorting import SORT_COLUMNS, SORT_WINDOW, list_sorted
from .series import Series, last_hour
from .queues import QueueView, limit_queue, list_queues, pause_queue, resume_queue
from .schedules import (
    ScheduleView,
    add_schedule,
    get_schedule,
    list_schedules,
    pause_schedule,
    remove_schedule,
    run_due_schedules,
    run_schedule_now,
)
from .retention import apply_retention, dead_by_error, dead_ids_by_error, dead_jobs, prune
from .views import AttemptView, Claim, JobFilter, JobView, Metrics, WorkerView, iso
from .workers import (
    HEARTBEAT_SECONDS,
    Heartbeat,
    heartbeat,
    list_workers,
    live_worker_count,
    recover_expired,
    recover_worker,
    register_worker,
    request_stop,
    unregister_worker,
    workers_of_host,
)

__all__ = [
    "AttemptView", "Cancelled", "ScheduleView", "add_schedule", "get_schedule", "list_schedules",
    "pause_schedule", "remove_schedule", "run_due_schedules", "run_schedule_now", "QueueView", "limit_queue", "list_queues", "pause_queue", "resume_queue", "Enqueued", "WAITING", "Claim", "HEARTBEAT_SECONDS", "Heartbeat", "JobView", "Metrics",
    "WorkerView", "apply_retention", "attempt_paths", "attempts", "cancel", "claim", "close_store", "counts", "count_matching", "paused_queues", "JobFilter",
    "dead_by_error", "dead_jobs", "delete_job", "edit_job", "enqueue", "finish", "finish_batch", "claim_batch", "Finished", "get_config", "get_job", "has_burst_work", "heartbeat",
    "iso", "linked_jobs", "list_jobs", "list_sorted", "Series", "last_hour", "SORT_COLUMNS", "SORT_WINDOW", "list_workers", "live_worker_count", "location", "metrics", "next_due",
    "now", "open_store", "prune", "read_log", "LogRead", "recover_expired", "recover_worker",
    "register_worker", "request_stop", "retry", "retry_dead", "set_clock", "set_wall_clock", "set_config", "set_priority",
    "unregister_worker", "waiting_for", "states_of", "dead_ids_by_error", "wake_channel", "forward_wake_ups", "workers_of_host",
    "Figures", "figures", "HostView", "list_hosts", "queuectl_version", "follower_channel", "ship_output",
]  # fmt: skip
