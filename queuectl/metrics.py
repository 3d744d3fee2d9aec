"""Prometheus metrics: a collector that reads the store at each scrape, the text exposition of
`queuectl metrics --format prometheus`, and the /metrics server of `queuectl metrics serve`.

The figures come from the store, not from the process that serves them, so every host's
exporter reports the same fleet; the counters are kept in the store too (store/counters.py),
so they survive restarts.  prometheus_client writes the format; its default registry (this
process's CPU, memory, garbage collector) is left out, since it would describe the exporter,
not the fleet.  No label names a job id or a command: series stay as few as queues and hosts.
"""

from __future__ import annotations

from . import store
from .models import JobState
from .store.observed import HISTOGRAM_BUCKETS
from .store.usage import MEMORY_BUCKETS

#: the finished outcomes, each always reported (0 until the first), so that rate() has a start
OUTCOMES = (JobState.COMPLETED.value, JobState.DEAD.value, JobState.CANCELLED.value)
#: how a run can end (it leaves processing)
RUN_OUTCOMES = (JobState.COMPLETED.value, JobState.FAILED.value, JobState.DEAD.value, JobState.CANCELLED.value)
#: a worker's states as the exporter reports them (lost: registered but silent)
WORKER_STATES = ("idle", "busy", "stopping", "lost")
SLOT_STATES = ("busy", "idle")
HISTOGRAMS = {
    "job_duration_seconds": "How long runs took, from their claim to their end (every run, retries included).",
    "job_wait_seconds": "How long jobs waited for their first run: from when they became due (enqueued, "
    "scheduled, retried by hand) to their start.",
}


class StoreCollector:
    """Reads the whole fleet's figures from the store in one transaction per scrape."""

    def describe(self):
        return []  # (no describe-time scrape of the store when the collector is registered)

    def collect(self):
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            InfoMetricFamily,
        )

        from .execution.worker import host_id

        figures = store.figures()
        queues = sorted(figures.queues)
        hosts = sorted(figures.hosts | {host_id()})  # (this host, so that a fleet with no host yet reads 0)
        jobs = GaugeMetricFamily("queuectl_jobs", "Jobs in the store, by queue and state.", labels=["queue", "state"])
        for queue in queues:
            for state in JobState:
                jobs.add_metric([queue, state.value], figures.jobs.get((queue, state.value), 0))
        yield jobs

        finished = CounterMetricFamily(
            "queuectl_jobs_finished",
            "Jobs that finished, by queue and outcome (kept in the store: deleting jobs does not lower it).",
            labels=["queue", "outcome"],
        )
        for queue in queues:
            for outcome in OUTCOMES:
                finished.add_metric(
                    [queue, outcome], figures.counts.get(("jobs_finished", queue, outcome), (0, 0.0))[0]
                )
        yield finished

        runs = CounterMetricFamily(
            "queuectl_runs",
            "Runs that ended, by queue and outcome: completed, failed (a retry follows), dead, cancelled.",
            labels=["queue", "outcome"],
        )
        for queue in queues:
            for outcome in RUN_OUTCOMES:
                runs.add_metric([queue, outcome], figures.counts.get(("runs", queue, outcome), (0, 0.0))[0])
        yield runs

        for name, doc in HISTOGRAMS.items():
            yield _histogram(name, doc, HISTOGRAM_BUCKETS, queues, figures.counts)

        cpu = CounterMetricFamily(
            "queuectl_cpu_seconds",
            "CPU seconds the runs used, by queue and mode (user, system): their shells' rusage and their orphans'.",
            labels=["queue", "mode"],
        )
        for queue in queues:
            for mode in ("user", "system"):
                cpu.add_metric([queue, mode], figures.counts.get(("cpu_seconds", queue, mode), (0, 0.0))[1])
        yield cpu

        yield _histogram(
            "peak_memory_bytes",
            "The peak memory of each run, all its processes together (sampled from /proc), by queue.",
            MEMORY_BUCKETS,
            queues,
            figures.counts,
        )

        oldest = GaugeMetricFamily(
            "queuectl_queue_oldest_ready_age_seconds",
            "Seconds the oldest job ready to run has waited (0: none is ready).",
            labels=["queue"],
        )
        for queue in queues:
            oldest.add_metric([queue], figures.oldest_ready_age.get(queue, 0.0))
        yield oldest

        workers = GaugeMetricFamily(
            "queuectl_workers",
            "Worker processes by host and state (idle, busy, stopping; lost: registered but silent).",
            labels=["host", "state"],
        )
        states = [*WORKER_STATES, *sorted({state for _, state in figures.workers} - set(WORKER_STATES))]
        for host in hosts:
            for state in states:
                workers.add_metric([host, state], figures.workers.get((host, state), 0))
        yield workers

        slots = GaugeMetricFamily(
            "queuectl_worker_slots", "Job slots of live workers by host: busy or idle.", labels=["host", "state"]
        )
        for host in hosts:
            for state in SLOT_STATES:
                slots.add_metric([host, state], figures.slots.get((host, state), 0))
        yield slots

        expired = CounterMetricFamily(
            "queuectl_leases_expired", "Running jobs recovered because their worker stopped renewing their lease."
        )
        expired.add_metric([], figures.counts.get(("leases_expired", "", ""), (0, 0.0))[0])
        yield expired

        info = InfoMetricFamily("queuectl_build", "The queuectl version of this exporter.")
        info.add_metric([], {"version": store.queuectl_version()})
        yield info


def registry():
    """A registry holding only the store's figures."""
    from prometheus_client import CollectorRegistry

    reg = CollectorRegistry(auto_describe=False)
    reg.register(StoreCollector())
    return reg


def exposition() -> bytes:
    """The text exposition format (version 0.0.4) of one scrape."""
    from prometheus_client import generate_latest

    return generate_latest(registry())


#: how long a connection may take to send its request (or stay idle) before it is dropped
REQUEST_TIMEOUT = 10.0


def serve(host: str, port: int, ready=None) -> None:
    """Serve /metrics until interrupted.  Each connection has a thread and a socket timeout, so
    a client that sends half a request (or nothing) holds only its own thread, never a scrape;
    the scrapes themselves take turns on one store connection at a time, closed after each (a
    scrape every few seconds does not need a pool).  `ready(server)` is called once the port is
    bound."""
    import signal
    import threading
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from prometheus_client import make_wsgi_app

    metrics_app = make_wsgi_app(registry())
    one_scrape = threading.Lock()

    def app(environ, start_response):
        if environ.get("PATH_INFO") not in ("/metrics", "/metrics/"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"queuectl serves /metrics\n"]
        with one_scrape:
            try:
                return metrics_app(environ, start_response)
            finally:
                store.close_store()  # this thread's connection: the next scrape comes on another

    class Handler(WSGIRequestHandler):
        timeout = REQUEST_TIMEOUT

        def log_message(self, format, *args):  # noqa: A002  (no line per scrape on stderr)
            pass

    class Server(ThreadingMixIn, WSGIServer):
        allow_reuse_address = True
        daemon_threads = True  # a client still connected does not delay the exit

    if ":" in host:
        import socket

        Server.address_family = socket.AF_INET6
    with make_server(host, port, app, server_class=Server, handler_class=Handler) as server:
        # SIGTERM ends the loop between requests (shutdown() must come from another thread)
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
        if ready is not None:
            ready(server)
        server.serve_forever()


def _histogram(name: str, doc: str, bounds, queues, counts: dict):
    """A histogram by queue from the store's per-bucket counts (each bucket holds only its own
    runs: Prometheus's buckets are cumulative, so they are summed here)."""
    from prometheus_client.core import HistogramMetricFamily

    family = HistogramMetricFamily(f"queuectl_{name}", doc, labels=["queue"])
    for queue in queues:
        buckets, seen, total = [], 0, 0.0
        for le in [*(str(b) for b in bounds), "+Inf"]:
            n, s = counts.get((name, queue, le), (0, 0.0))
            seen, total = seen + n, total + s
            buckets.append((le, seen))
        family.add_metric([queue], buckets, total)
    return family
