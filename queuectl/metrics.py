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
from .models import HISTOGRAM_BUCKETS, JobState

#: the finished outcomes, each always reported (0 until the first), so that rate() has a start
OUTCOMES = (JobState.COMPLETED.value, JobState.DEAD.value, JobState.CANCELLED.value)
HISTOGRAMS = {
    "job_duration_seconds": "How long runs took, from their claim to their end (every run, retries included).",
    "job_wait_seconds": "How long jobs waited for their first run: from when they became due (enqueued, "
                        "scheduled, retried by hand) to their start.",
}  # fmt: skip


class StoreCollector:
    """Reads the whole fleet's figures from the store in one transaction per scrape."""

    def describe(self):
        return []  # (no describe-time scrape of the store when the collector is registered)

    def collect(self):
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
            InfoMetricFamily,
        )

        figures = store.figures()
        queues = sorted({queue for queue, _ in figures.jobs} | {queue for _, queue, _ in figures.counts if queue})
        jobs = GaugeMetricFamily("queuectl_jobs", "Jobs in the store, by queue and state.", labels=["queue", "state"])
        for queue in queues:
            for state in JobState:
                jobs.add_metric([queue, state.value], figures.jobs.get((queue, state.value), 0))
        yield jobs

        finished = CounterMetricFamily("queuectl_jobs_finished", "Jobs that finished, by queue and outcome "
                                       "(kept in the store: deleting jobs does not lower it).",
                                       labels=["queue", "outcome"])  # fmt: skip
        for queue in queues:
            for outcome in OUTCOMES:
                finished.add_metric([queue, outcome], figures.counts.get(("jobs_finished", queue, outcome), (0, 0.0))[0])
        yield finished

        for name, doc in HISTOGRAMS.items():
            family = HistogramMetricFamily(f"queuectl_{name}", doc, labels=["queue"])
            for queue in queues:
                buckets, seen, total = [], 0, 0.0
                for le in [*(str(b) for b in HISTOGRAM_BUCKETS), "+Inf"]:
                    n, s = figures.counts.get((name, queue, le), (0, 0.0))
                    seen, total = seen + n, total + s
                    buckets.append((le, seen))
                family.add_metric([queue], buckets, total)
            yield family

        oldest = GaugeMetricFamily("queuectl_queue_oldest_ready_age_seconds",
                                   "Seconds the oldest job ready to run has waited (0: none is ready).",
                                   labels=["queue"])  # fmt: skip
        for queue in queues:
            oldest.add_metric([queue], figures.oldest_ready_age.get(queue, 0.0))
        yield oldest

        workers = GaugeMetricFamily("queuectl_workers", "Worker processes by host and state (idle, busy, stopping; "
                                    "lost: registered but silent).", labels=["host", "state"])  # fmt: skip
        for (host, state), n in sorted(figures.workers.items()):
            workers.add_metric([host, state], n)
        yield workers

        slots = GaugeMetricFamily("queuectl_worker_slots", "Job slots of live workers by host: busy or idle.",
                                  labels=["host", "state"])  # fmt: skip
        for (host, state), n in sorted(figures.slots.items()):
            slots.add_metric([host, state], n)
        yield slots

        expired = CounterMetricFamily("queuectl_leases_expired", "Running jobs recovered because their worker "
                                      "stopped renewing their lease.")  # fmt: skip
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


def serve(host: str, port: int, ready=None) -> None:
    """Serve /metrics until interrupted: one thread, one store connection, one scrape per
    request (Prometheus scrapes every few seconds; a thread per request would open a connection
    per scrape).  `ready(server)` is called once the port is bound."""
    import signal
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from prometheus_client import make_wsgi_app

    metrics_app = make_wsgi_app(registry())

    def app(environ, start_response):
        if environ.get("PATH_INFO") not in ("/metrics", "/metrics/"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"queuectl serves /metrics\n"]
        return metrics_app(environ, start_response)

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format, *args):  # noqa: A002  (no line per scrape on stderr)
            pass

    class Server(WSGIServer):
        allow_reuse_address = True

    if ":" in host:
        import socket

        Server.address_family = socket.AF_INET6
    with make_server(host, port, app, server_class=Server, handler_class=QuietHandler) as server:
        # SIGTERM ends the loop between requests (shutdown() must come from another thread)
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
        if ready is not None:
            ready(server)
        server.serve_forever()
