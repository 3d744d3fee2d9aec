"""The `worker` group: `worker start`, `worker stop`, `worker list`."""

from __future__ import annotations

import sys

import click

from ..paths import private_dir
from .common import echo_json, json_option, open_named_store


@click.group()
def worker() -> None:
    """Start, stop and list workers."""


@worker.command("start")
@click.option(
    "--count",
    type=click.IntRange(min=1, max=100_000),
    default=1,
    show_default=True,
    help="Job slots on this host: jobs run at once.",
)
@click.option(
    "--procs",
    type=click.IntRange(min=1, max=256),
    default=None,
    help="Worker processes to spread the slots over [default: one per CPU, at most 2].",
)
@click.option("--burst", is_flag=True, help="Exit once no job is waiting, running or due for a retry.")
@click.option("--quiet", "-q", is_flag=True, help="Do not print a line per job.")
@click.option("--queue", "queues", metavar="NAME", multiple=True, help="Serve only this queue (repeatable).")
@click.option("--cpus", metavar="N", help="CPUs this host offers jobs [default: those this process may use].")
@click.option("--mem", metavar="SIZE", help="Memory this host offers jobs (64G) [default: its physical memory].")
@click.option("--gpus", metavar="N", help="GPUs this host offers [default: nvidia-smi's, by CUDA_VISIBLE_DEVICES].")
@click.option("--resource", "named", metavar="NAME=N", multiple=True, help="Offer N of NAME too (repeatable).")
@click.pass_context
def worker_start(
    ctx: click.Context,
    count: int,
    procs: int | None,
    burst: bool,
    quiet: bool,
    queues: tuple[str, ...],
    cpus: str | None,
    mem: str | None,
    gpus: str | None,
    named: tuple[str, ...],
) -> None:
    """Run workers in the foreground until Ctrl+C (first: finish jobs; second: kill them)."""
    from ..execution.supervisor import Supervisor, default_procs, raise_open_file_limit, split
    from ..execution.worker import host_id, prefetch_setting, validate_host_id
    from ..spec import validate_queue_name

    validate_host_id(host_id())
    prefetch_setting()  # (its workers read it: a bad value is refused here, once)
    for queue in queues:
        validate_queue_name(queue)
    offer = _offer(cpus, mem, gpus, named)
    procs = procs or default_procs(count)
    raise_open_file_limit(max(split(count, procs)))
    location = open_named_store(ctx, verify=True)
    private_dir(location.logs_dir, "the logs folder")  # a folder that cannot be made: one line now,
    private_dir(location.run_dir, "the run folder")  # not a failure in every worker
    sys.exit(Supervisor(location, count, burst, quiet, tuple(dict.fromkeys(queues)), procs, offer).run())


def _offer(cpus: str | None, mem: str | None, gpus: str | None, named: tuple[str, ...]) -> dict:
    """What this host offers: detected, with --cpus, --mem, --gpus and --resource over it."""
    from .. import resources

    asked = resources.validate_request({"cpus": cpus, "mem": mem}) or {}
    whole = resources.validate_request({"gpus": gpus}) if gpus is None or gpus.strip() != "0" else {"gpus": 0}
    whole = whole or {}
    if whole and not float(whole["gpus"]).is_integer():
        raise click.UsageError(f"--gpus takes a whole number of devices, not {gpus}")
    return resources.host_offer(
        asked.get("cpus"),
        asked.get("mem"),
        None if "gpus" not in whole else int(whole["gpus"]),
        [resources.parse_assignment(text) for text in named],
    )


@worker.command("stop")
@click.option("--host", metavar="NAME", help="Only the workers of this host (see 'queuectl host list').")
@click.option("--id", "worker_id", metavar="ID", help="Only this worker (see 'queuectl worker list').")
@click.option("--now", is_flag=True, help="With --id: do not let it finish; its running jobs are killed and retried.")
@click.pass_context
def worker_stop(ctx: click.Context, host: str | None, worker_id: str | None, now: bool) -> None:
    """Ask every running worker (or one host's, or one) to finish its current job and exit.

    Each reads `stopping` in `worker list` until it has."""
    from ..errors import InputError

    if worker_id is not None and host is not None:
        raise InputError("give --id or --host, not both")
    if host is not None and not host.strip():
        raise InputError("--host needs a host name (see 'queuectl host list')")
    if worker_id is not None and not worker_id.strip():
        raise InputError("--id needs a worker id (see 'queuectl worker list')")
    if now and worker_id is None:
        raise InputError("--now needs --id: it stops one worker without letting its jobs finish")
    open_named_store(ctx)
    from .. import ops

    if worker_id is not None:
        ops.stop_worker(worker_id, now)
        click.echo(
            f"asked worker {worker_id} to stop "
            + ("now: its running jobs are killed and retried" if now else "after its current job")
        )
        return
    asked = ops.stop_host(host) if host is not None else ops.stop_all_workers()
    click.echo(
        f"asked {len(asked)} worker(s){f' on {host}' if host is not None else ''} to stop after their current job"
    )


@worker.command("list")
@json_option
@click.pass_context
def worker_list(ctx: click.Context, json_: bool) -> None:
    """Live worker processes: host, pid, state, slots busy/total, newest job, last heartbeat."""
    open_named_store(ctx, readonly=True)
    from .. import render, store

    workers = store.list_workers()
    offered = store.resources_of_hosts(sorted({w.host for w in workers}))  # (shared by a host's workers)
    if json_:
        keys = ("id", "host", "pid", "state", "slots", "busy", "current_job", "heartbeat_at")
        echo_json([dict({k: w.as_dict()[k] for k in keys}, resources=offered.get(w.host)) for w in workers])
        return
    rows = [
        [
            w.id,
            w.host,
            str(w.pid),
            w.state,
            f"{w.busy}/{w.slots}",
            w.current_job or "",
            render.local_time(w.heartbeat_at),
            render.free_of_total(offered.get(w.host)),
        ]
        for w in workers
    ]
    render.print_table(
        f"Workers ({len(workers)})",
        ["ID", "Host", "PID", "State", "Slots", "Job", "Heartbeat", "Free/total (host)"],
        rows,
    )
