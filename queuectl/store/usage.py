"""What each run used, recorded with its end (inside the finish's transaction), and counted for
Prometheus (metric_count: CPU seconds per queue and mode, a histogram of peak memory per
queue), and read back: per attempt, and summed like Slurm's sacct (`queuectl usage`)."""

from __future__ import annotations

from dataclasses import dataclass

from . import dialect
from .postgres import COUNT_SHARDS

#: the upper bounds (bytes) of the peak-memory histogram's buckets; +Inf is implied
MEMORY_BUCKETS = tuple(m << 20 for m in (16, 64, 256, 1024, 4096, 16384, 65536))

#: (attempt id, wall, cpu user, cpu system, peak bytes, signal, note)
UsageRow = tuple


def _memory_bucket(value: str) -> str:
    cases = " ".join(f"WHEN {value} <= {le} THEN '{le}'" for le in MEMORY_BUCKETS)
    return f"CASE {cases} ELSE '+Inf' END"


def record(rows: list[UsageRow]) -> None:
    """Write what the runs used into their attempts, and add it to the metric counters: two
    statements for the whole batch."""
    from .statements import sql

    rows = [row for row in rows if row is not None]
    if not rows:
        return
    values = ", ".join(["({p}, {p}, {p}, {p}, {p}, {p}, {p})"] * len(rows))
    sql(
        "UPDATE attempt SET wall = CAST(v.column2 AS DOUBLE PRECISION), "
        "cpu_user = CAST(v.column3 AS DOUBLE PRECISION), cpu_system = CAST(v.column4 AS DOUBLE PRECISION), "
        "max_rss = CAST(v.column5 AS BIGINT), signal = CAST(v.column6 AS INTEGER), "
        "note = COALESCE(attempt.note, CAST(v.column7 AS TEXT)) "
        f"FROM (VALUES {values}) AS v WHERE attempt.id = CAST(v.column1 AS INTEGER)",
        *[value for row in rows for value in row],
    )
    shard = f"mod(pg_backend_pid(), {COUNT_SHARDS})" if dialect.current().postgres else "0"
    ids = ", ".join(["{p}"] * len(rows))
    run = f"FROM attempt a JOIN job j ON j.seq = a.job_seq WHERE a.id IN ({ids})"
    sql(
        "INSERT INTO metric_count (name, queue, label, shard, n, total) "
        f"SELECT name, queue, label, {shard}, COUNT(*), SUM(v) FROM ("
        f"SELECT 'cpu_seconds' AS name, j.queue AS queue, 'user' AS label, a.cpu_user AS v {run} "
        f"UNION ALL SELECT 'cpu_seconds', j.queue, 'system', a.cpu_system {run} "
        f"UNION ALL SELECT 'peak_memory_bytes', j.queue, {_memory_bucket('a.max_rss')}, a.max_rss {run}"
        ") AS observed WHERE v IS NOT NULL GROUP BY name, queue, label ORDER BY name, queue, label "
        "ON CONFLICT (name, queue, label, shard) DO UPDATE SET n = metric_count.n + EXCLUDED.n, "
        "total = metric_count.total + EXCLUDED.total",
        *[row[0] for row in rows] * 3,
    )


@dataclass(frozen=True)
class UsageLine:
    """One group of `queuectl usage`: runs that ended in the period."""

    key: str
    runs: int
    failed: int
    cpu_hours: float
    wall_hours: float
    max_rss: int | None

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "runs": self.runs,
            "failures": self.failed,
            "cpu_hours": round(self.cpu_hours, 6),
            "wall_hours": round(self.wall_hours, 6),
            "max_rss": self.max_rss,
        }


def summary(by: str, since: float, until: float) -> list[UsageLine]:
    """Runs (attempts) that ended in [since, until), grouped by queue, host or label: how many,
    how many failed, CPU and wall hours, the largest peak memory."""
    from .statements import sql

    measures = (
        "COUNT(*), SUM(CASE WHEN a.error IS NOT NULL THEN 1 ELSE 0 END), "
        "COALESCE(SUM(a.cpu_user + a.cpu_system), 0), COALESCE(SUM(a.wall), 0), MAX(a.max_rss)"
    )
    where = "a.finished_at >= {p} AND a.finished_at < {p}"
    if by == "label":
        # labels are a JSON list of short strings without quotes (spec.LABEL_PATTERN): each run
        # counts once for each of its job's labels
        rows = sql(
            f"SELECT j.labels, a.error IS NOT NULL, a.cpu_user + a.cpu_system, a.wall, a.max_rss "
            f"FROM attempt a JOIN job j ON j.seq = a.job_seq WHERE {where} AND j.labels IS NOT NULL",
            since,
            until,
        ).fetchall()
        import json

        groups: dict[str, list] = {}
        for labels, failed, cpu, wall, rss in rows:
            for label in json.loads(labels or "[]"):
                g = groups.setdefault(label, [0, 0, 0.0, 0.0, None])
                g[0] += 1
                g[1] += int(bool(failed))
                g[2] += cpu or 0.0
                g[3] += wall or 0.0
                g[4] = rss if g[4] is None or (rss or 0) > g[4] else g[4]
        return [
            UsageLine(k, n, f, cpu / 3600, wall / 3600, rss) for k, (n, f, cpu, wall, rss) in sorted(groups.items())
        ]
    column = {"queue": "j.queue", "host": "COALESCE(a.host, '')"}[by]
    rows = sql(
        f"SELECT {column}, {measures} FROM attempt a JOIN job j ON j.seq = a.job_seq WHERE {where} "
        f"GROUP BY {column} ORDER BY {column}",
        since,
        until,
    ).fetchall()
    return [
        UsageLine(key, int(n), int(f or 0), float(cpu) / 3600, float(wall) / 3600, None if rss is None else int(rss))
        for key, n, f, cpu, wall, rss in rows
    ]
