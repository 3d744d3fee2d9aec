"""pgqueuer as the PostgreSQL peer: N jobs whose handler runs `/bin/sh -c true` through
asyncio.create_subprocess_exec (a semaphore sets the concurrency), all enqueued before its
QueueManager starts, drained with run(mode=drain) (its `pgq run` CLI crashes on a log-level bug
in 1.6.0).  Prints the rate, first job start to last job end, as JSON.

    python pgqueuer_app.py URL JOBS CONCURRENCY
"""

import asyncio
import json
import sys
import time


async def main(url: str, jobs: int, concurrency: int) -> None:
    import asyncpg
    from pgqueuer.adapters.drivers.asyncpg import AsyncpgDriver
    from pgqueuer.adapters.persistence.queries import Queries
    from pgqueuer.core.qm import QueueManager
    from pgqueuer.domain.types import QueueExecutionMode

    conn = await asyncpg.connect(url)
    queries = Queries(AsyncpgDriver(conn))
    await queries.install()
    for start in range(0, jobs, 1000):
        n = min(1000, jobs - start)
        await queries.enqueue(["sh"] * n, [None] * n, [0] * n)
    spans: list[tuple[float, float]] = []
    slots = asyncio.Semaphore(concurrency)
    manager = QueueManager(queries)

    @manager.entrypoint("sh")
    async def run_true(job) -> None:
        async with slots:
            started = time.time()
            proc = await asyncio.create_subprocess_exec("/bin/sh", "-c", "true")
            await proc.wait()
            spans.append((started, time.time()))

    await manager.run(mode=QueueExecutionMode.drain, batch_size=max(10, concurrency))
    await conn.close()
    print(
        json.dumps(
            {"jobs": len(spans), "jobs_per_s": len(spans) / (max(e for _, e in spans) - min(s for s, _ in spans))}
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
