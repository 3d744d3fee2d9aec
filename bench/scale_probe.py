"""In-process timings of the store's hot queries on one store (run by scale.py in a fresh process).

Usage: python scale_probe.py DB RUNS CLAIMS; prints one JSON object of milliseconds (medians).
"""

import json
import statistics
import sys
import time


def timed(fn, runs):
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)


def main() -> None:
    db, runs, claims = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    from queuectl import store
    from queuectl.paths import resolve

    t = time.perf_counter()
    store.open_store(resolve(db))
    out = {"open_store": (time.perf_counter() - t) * 1000}
    out["status"] = timed(lambda: (store.counts(), store.live_worker_count()), runs)
    out["list_50"] = timed(lambda: store.list_jobs(limit=50), runs)
    out["list_dead_50"] = timed(lambda: store.list_jobs(state="dead", limit=50), runs)
    out["metrics"] = timed(store.metrics, runs)
    from queuectl.metrics import exposition

    out["prometheus_scrape"] = timed(exposition, runs)  # what one GET /metrics costs the server
    out["next_due"] = timed(store.next_due, runs)
    out["has_burst_work"] = timed(store.has_burst_work, runs)
    got = []
    out["claim"] = timed(lambda: got.append(store.claim_batch("bench-probe", "bench-host", 1)), claims)
    if not all(got):
        raise SystemExit("claim found no job")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
