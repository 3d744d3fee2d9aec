"""The huey side of the benchmark: a SqliteHuey whose one task runs a shell command like a queuectl job.

Configured through the environment (the consumer imports this module by name):
HUEY_BENCH_DB is the SQLite file, HUEY_BENCH_OUT a file that gets one "start end" line per task.
"""

import os
import subprocess
import time

from huey import SqliteHuey

huey = SqliteHuey("bench", filename=os.environ.get("HUEY_BENCH_DB", "/tmp/huey-bench.db"), results=False)


@huey.task()
def run(command: str) -> None:
    start = time.time()
    subprocess.run(["/bin/sh", "-c", command])
    line = f"{start} {time.time()}\n".encode()
    fd = os.open(os.environ["HUEY_BENCH_OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
