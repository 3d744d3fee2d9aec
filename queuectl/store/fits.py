"""The fits-filter of the claim (issue 26): jobs that ask for resources are claimed here, only by
a host whose free resources fit them, in priority and FIFO order among those that fit; the
claim of claims.py takes only jobs that ask for nothing (`resources IS NULL`).

Inside the claim's transaction:
1. one look through the partial index job_wants: no waiting job asks for anything (the common
   case) -> nothing more is done;
2. _look: the host's row is locked (PostgreSQL: FOR UPDATE, a statement of its own, so that two
   worker processes of one host never grant the same device share; SQLite's write lock already
   serializes), then in one statement what it has free is read (its offer less the grants of its
   open attempts, attempt_granted) with the best runnable jobs that ask and the k best that do not;
3. the jobs that ask are walked in claim order, each granted what it asks while it fits: first
   FIRST_SCAN per free slot, then up to SCAN of them when those few did not fill the slots;
4. those that fall within the k best runnable jobs of either kind are claimed (PostgreSQL: with
   their attempt rows and grants in one statement, claims._fitted_sql).

No starvation: a job that fits the host's whole offer but not what is free now holds back the
resources it is short of: no job after it in claim order is granted any of them on this host.
So a job at the head of the line waits at most until the jobs already running there with those
resources end (bounded by their timeouts), however many smaller jobs keep arriving; only jobs of
a higher priority, or that need none of what it waits for, may pass it.  A grant is part of its
attempt, so it is held until the attempt is closed: by its end, or by the recovery of a dead
worker, whose guard has killed the job's processes by then.
"""

from __future__ import annotations

import functools
import json

from .. import resources
from ..states import CLAIMABLE_STATES, JobState, sql_literals
from . import dialect
from .cached import limited_queues
from .connection import guarded

_PROCESSING = sql_literals(JobState.PROCESSING)
_CLAIMABLE = sql_literals(*CLAIMABLE_STATES)
_NO_NUMBER = "CAST(NULL AS BIGINT)"
#: the most waiting jobs that ask for resources one claim looks at
SCAN = 64
#: the candidates per free slot a claim looks at first (SCAN only when these do not fill them)
FIRST_SCAN = 4

_QUEUE_OPEN = (
    "AND queue NOT IN (SELECT q.name FROM queue q WHERE q.paused OR q.max_running <= "
    f"(SELECT COALESCE(SUM(c.n), 0) FROM job_count c WHERE c.queue = q.name AND c.state = {_PROCESSING})) "
)


def _runnable(state: str, queues: int) -> str:
    """The conditions of a runnable job in this state (parameters: now, then the queues)."""
    only = f"AND queue IN ({', '.join(['{p}'] * queues)}) " if queues else ""
    return f"state = '{state}' AND next_attempt_at <= {{p}} AND NOT paused {only}{_QUEUE_OPEN}"


def host_free(host: str) -> tuple[dict | None, resources.Free]:
    """A host's offer, and what it has free now (read alone: the claim reads it in _look)."""
    from .statements import sql

    rows = sql(
        "SELECT 0, resources FROM host WHERE name = {p} UNION ALL "
        "SELECT 1, granted FROM attempt WHERE host = {p} AND finished_at IS NULL AND granted IS NOT NULL",
        host,
        host,
    ).fetchall()
    offer = next((json.loads(value) for kind, value in rows if kind == 0 and value), None)
    return offer, resources.Free(offer, [json.loads(value) for kind, value in rows if kind == 1])


#: did this process's last look find runnable jobs asking for resources?  Only a hint: while
#: it holds, the next claim looks at once instead of probing first
_asking_seen = False


def choose(host: str, t: float, k: int, queues: tuple[str, ...]) -> dict[int, dict]:
    """The jobs asking for resources this host claims now (job seq -> its grant), at most k."""
    from .statements import prepared

    global _asking_seen
    if k <= 0:
        return {}
    # one look through job_wants: when no waiting job asks for anything, that is all it costs
    # (SQLite: named, or its planner walks every pending job through a sort index: 40 ms at 1M);
    # skipped while the last look found such jobs (a round trip less per claim while they drain)
    wants = dialect.current().wants_index
    if (
        not _asking_seen
        and not prepared(
            f"SELECT 1 FROM job {wants} WHERE state IN ({_CLAIMABLE}) AND resources IS NOT NULL LIMIT 1"
        ).fetchall()
    ):
        return {}
    # a few candidates per free slot first; all SCAN only when those few did not fill the slots
    for scan in dict.fromkeys((min(SCAN, FIRST_SCAN * k), SCAN)):
        offer, free, wanted, plain = _look(host, t, k, queues, scan)
        _asking_seen = bool(offer and wanted)
        if not _asking_seen:
            return {}
        chosen, order = _fit(offer, free, wanted, k)
        if len(chosen) == k or len(wanted) < scan:
            break
    if not chosen:
        return {}
    # the k best runnable jobs of either kind: those asking for nothing may come first
    worst = (-order[-1][0], order[-1][1])
    better = [(p, s) for p, s in plain if (-p, s) < worst]
    keep = {seq for _, seq in sorted([*order, *better], key=lambda ps: (-ps[0], ps[1]))[:k]}
    return {seq: grant for seq, grant in chosen.items() if seq in keep}


def _fit(offer: dict, free: resources.Free, wanted: list, k: int) -> tuple[dict[int, dict], list[tuple[int, int]]]:
    """Walk the jobs that ask in claim order, granting each what it asks while it fits (at most
    k): their grants by seq, and their (priority, seq) in order."""
    whole = resources.Free(offer)
    room = _queue_room({row[2] for row in wanted})
    held: set[str] = set()  # what a job passed over waits for: nobody after it gets any of it
    chosen: dict[int, dict] = {}
    order: list[tuple[int, int]] = []
    for priority, seq, queue, asked in wanted:
        request = _parsed(asked)
        short = free.short_of(request)
        if short or held & set(request):
            if not whole.short_of(request):
                held |= short
            continue
        if queue in room:  # a limited queue: no more than its room
            if room[queue] <= 0:
                continue
            room[queue] -= 1
        chosen[seq] = free.grant(request)
        order.append((priority, seq))
        if len(chosen) == k:
            break
    return chosen, order


def _look(host: str, t: float, k: int, queues: tuple[str, ...], scan: int = SCAN):
    """What a claim of this host needs to know, in one statement (after the lock): its offer and
    what it has free, the best runnable jobs that ask for resources (up to `scan`) and the k best
    that ask for nothing, each in claim order."""
    from .statements import prepared

    store = dialect.current()
    if store.postgres:
        # the host's row is locked first, so that two claims of one host never grant the same
        # device share (SQLite's write lock already serializes them).  The lock is a statement
        # of its own: under READ COMMITTED a statement reads from the snapshot it started with,
        # so one that waited for the lock would still miss the grants of the claim it waited for
        prepared("SELECT 1 FROM host WHERE name = {p} FOR UPDATE", host)
    statement = _look_sql(store.wants_index, store.claim_index, store.retry_index, len(queues), scan)
    params = (host, host, t, *queues) + tuple(value for _ in range(2) for value in (t, *queues, k))
    rows = prepared(statement, *params).fetchall()
    offer = next((_parsed(text) for kind, *_, text in rows if kind == 0 and text), None)
    free = resources.Free(offer, [_parsed(text) for kind, *_, text in rows if kind == 1])
    wanted = sorted((r[1:] for r in rows if r[0] == 2), key=lambda r: (-r[0], r[1]))
    plain_rows = sorted((tuple(r[1:3]) for r in rows if r[0] == 3), key=lambda r: (-r[0], r[1]))[:k]
    return offer, free, wanted, plain_rows


#: the JSON of offers, grants and requests, parsed once per distinct text (a claim reads the
#: same few again and again); the dicts are shared, so they are only ever read
_parsed = functools.lru_cache(maxsize=1024)(json.loads)


@functools.cache
def _look_sql(wants_index: str, claim_index: str, retry_index: str, queues: int, scan: int) -> str:
    """The look's statement (parameters: see _look)."""
    only = f"AND queue IN ({', '.join(['{p}'] * queues)}) " if queues else ""
    plain = " UNION ALL ".join(
        f"SELECT 3, priority, seq, CAST(NULL AS TEXT), CAST(NULL AS TEXT) FROM (SELECT priority, seq FROM job {index} "
        f"WHERE {_runnable(state, queues)}AND resources IS NULL ORDER BY priority DESC, seq LIMIT {{p}}) AS {state}"
        for index, state in ((claim_index, JobState.PENDING.value), (retry_index, JobState.FAILED.value))
    )
    return (
        # (typed NULLs: PostgreSQL types a UNION's columns by its first SELECT)
        f"SELECT 0, {_NO_NUMBER}, {_NO_NUMBER}, CAST(NULL AS TEXT), resources FROM host WHERE name = {{p}} UNION ALL "
        f"SELECT 1, {_NO_NUMBER}, {_NO_NUMBER}, CAST(NULL AS TEXT), granted FROM attempt WHERE host = {{p}} AND finished_at IS NULL "
        "AND granted IS NOT NULL UNION ALL "
        "SELECT 2, priority, seq, queue, resources FROM (SELECT priority, seq, queue, resources FROM job "
        + wants_index
        + " "
        f"WHERE state IN ({_CLAIMABLE}) AND resources IS NOT NULL AND next_attempt_at <= {{p}} AND NOT paused "
        + only
        + _QUEUE_OPEN
        + f"ORDER BY priority DESC, seq LIMIT {int(scan)}) AS wanted UNION ALL "
        + plain
    )


def _queue_room(queues: set[str]) -> dict[str, int]:
    """Room left in the limited queues among these: their limit less their running jobs."""
    from .statements import sql

    limited = [q for q in queues if q in limited_queues()]
    if not limited:
        return {}
    marks = ", ".join(["{p}"] * len(limited))
    return {
        name: int(room)
        for name, room in sql(
            "SELECT q.name, q.max_running - (SELECT COALESCE(SUM(c.n), 0) FROM job_count c "
            f"WHERE c.queue = q.name AND c.state = {_PROCESSING}) FROM queue q WHERE q.name IN ({marks}) "
            "AND q.max_running IS NOT NULL",
            *limited,
        ).fetchall()
    }


TAKE_SQL = (
    f"UPDATE job SET state = {_PROCESSING}, attempts = attempts + 1, worker_id = {{p}}, "
    "started_at = {p}, updated_at = {p}, lease_expires_at = {p}, next_attempt_at = NULL, "
    "finished_at = NULL, exit_code = NULL "
    f"WHERE seq IN ({{seqs}}) AND state IN ({_CLAIMABLE}) "
    "RETURNING seq, id, command, timeout, env, cwd, priority, on_finish"
)


def take(chosen: dict[int, dict], worker_id: str, t: float, lease_until: float) -> list[tuple]:
    """Claim the chosen jobs: rows of the same shape as claims.py's claim returns.  The
    candidates were read without a row lock (locking up to SCAN rows per claim wrote each of
    them on PostgreSQL): a job another host took meanwhile is no longer pending or failed when
    this UPDATE gets its row (PostgreSQL re-reads it after the other commits), so it is not
    returned, and its grant is dropped."""
    from .statements import sql

    if not chosen:
        return []
    seqs = ", ".join(["{p}"] * len(chosen))
    return sql(TAKE_SQL.replace("{seqs}", seqs), worker_id, t, t, lease_until, *chosen).fetchall()


# -- reads: what hosts offer and have free, and why a job waits -----------------------------
@guarded
def live_offers() -> dict[str, dict]:
    """The offers of the hosts that have a live worker, by host."""
    from .connection import now
    from .hosts import LIVENESS_SECONDS
    from .statements import sql

    rows = sql(
        "SELECT h.name, h.resources FROM host h WHERE h.resources IS NOT NULL AND EXISTS "
        "(SELECT 1 FROM worker w WHERE w.host = h.name AND w.heartbeat_at >= {p})",
        now() - LIVENESS_SECONDS,
    ).fetchall()
    return {name: json.loads(offer) for name, offer in rows}


@guarded
def resources_of_hosts(names: list[str]) -> dict[str, dict]:
    """Each host's resources: {"total": counts, "free": counts} (hosts that offer some)."""
    found = {}
    for name in names:
        offer, free = host_free(name)
        if offer:
            counts = dict(free.counts)
            if free.devices:
                counts["gpus"] = round(sum(max(0.0, share) for share in free.devices.values()), 6)
            found[name] = {
                "total": resources.totals(offer),
                "free": {k: (int(v) if float(v).is_integer() else round(v, 6)) for k, v in counts.items()},
            }
    return found


def unmet_reason(request: dict | None) -> str | None:
    """Why no live host can ever run a job asking for this (None: one can, or none is live)."""
    return resources.unmet(request, list(live_offers().values()))


@guarded
def waiting_reasons(jobs) -> dict[str, str]:
    """For the waiting jobs among these that ask for what no live host offers: why (by job id)."""
    asking = [j for j in jobs if j.resources and j.state in CLAIMABLE_STATES]
    if not asking:
        return {}
    offers = list(live_offers().values())
    reasons = {j.id: resources.unmet(j.resources, offers) for j in asking}
    return {k: v for k, v in reasons.items() if v}
