"""The markdown tables: each queuectl figure beside what was measured with it, and its target."""

from __future__ import annotations


def _f(value, fmt="{:,.0f}", unit=""):
    return "—" if value is None else fmt.format(value) + unit


def _ratio(a, b):
    return None if a is None or not b else a / b


def _verdict(ok):
    return "—" if ok is None else ("met" if ok else "**MISSED**")


def _get(d, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
#: DESIGN.md: pickup p50 under 3 ms on SQLite, 5 ms on PostgreSQL (also after a long idle spell)
PICKUP_P50_MS = {"sqlite": 3.0, "postgres": 5.0}


def _backends(r: dict) -> list[str]:
    return r["meta"].get("backends") or ["sqlite"]


def _measured(section: dict | None) -> bool:
    """Measured, at least in part (a section whose every figure broke holds only its error)."""
    return isinstance(section, dict) and "skipped" not in section and set(section) - {"error", "mix"} != set()


def throughput_table(r: dict) -> list[str]:
    lim, peers, drain = r.get("limits", {}), r.get("peers", {}), r.get("drain", {})
    counts = (1, 2, 4)
    rows = [
        "| jobs/s of `true` (median) | " + " | ".join(str(n) for n in counts) + " |",
        "|---|" + "---:|" * len(counts),
    ]

    def row(name, prefix, src, only=counts):
        cells = [_f(_get(src, f"{prefix}_{n}", "jobs_per_s")) if n in only else "" for n in counts]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")

    rows[0] = rows[0].replace("| 1 |", "| 1 process / worker / slot |", 1)
    row("raw spawn `subprocess.run(['/bin/sh','-c','true'])`, N Python processes", "raw", lim)
    row("runner-style spawn (pipes, new session, `preexec_fn`)", "engine", lim, (1,))
    row("runner-style spawn without `preexec_fn`", "engine-no-preexec", lim, (1,))
    row("task-spooler (`tsp -S n`)", "tsp", peers, (1, 2))
    row("huey (`SqliteHuey`, `-k process -w n`)", "huey", peers, (1, 2))
    for backend in _backends(r):
        src = drain.get(backend)
        if _measured(src):
            row(f"**queuectl, {NAMES[backend]}** (`worker start --count n --burst`)", "drain", src)
            raw = [_get(lim, f"raw_{n}", "jobs_per_s") for n in counts]
            ratios = [_ratio(_get(src, f"drain_{n}", "jobs_per_s"), x) for n, x in zip(counts, raw)]
            rows.append(
                f"| _queuectl, {NAMES[backend]}: ratio to raw spawn_ | "
                + " | ".join(_f(x, "{:.2f}") for x in ratios)
                + " |"
            )
    for text in peers.get("notes", []) if isinstance(peers, dict) else []:
        rows.append(f"| _{text}_ |" + " |" * len(counts))
    return rows


def targets_table(r: dict) -> list[str]:
    lim, peers = r.get("limits", {}), r.get("peers", {})
    backends = [
        b
        for b in _backends(r)
        if any(_measured(_get(r, s, b)) for s in ("drain", "pickup", "enqueue", "startup", "scale"))
    ]
    head = " | ".join(f"{NAMES[b]} | ratio | verdict" for b in backends)
    rows = [f"| measure | target | measured beside it | {head} |", "|---|---|---|" + "---:|---:|---|" * len(backends)]

    def add(label, target, beside, cell):
        """cell(backend) -> (value text, ratio or None, ok or None), or None when not measured."""
        cells = [cell(b) if _measured(_get(r, *section_of[label], b)) else None for b in backends]
        if all(c is None for c in cells):
            return
        parts = []
        for c in cells:
            if c is None:
                parts.append("— | — | —")
            else:
                value, ratio, ok = c
                parts.append(f"{value} | {_f(ratio, '{:.2f}')} | {_verdict(ok)}")
        rows.append(f"| {label} | {target} | {beside} | " + " | ".join(parts) + " |")

    section_of: dict[str, tuple] = {}

    def drain_rate(b, n):
        return _get(r, "drain", b, f"drain_{n}", "jobs_per_s")

    raw = {n: _get(lim, f"raw_{n}", "jobs_per_s") for n in (1, 2, 4)}
    for n, target, goal in ((1, "—", None), (2, "≥ 0.70 of raw", 0.70), (4, "≥ 0.70 of raw", 0.70)):
        label = f"drain, {n} worker{'s' if n > 1 else ''} (jobs/s)"
        section_of[label] = ("drain",)
        add(
            label,
            target,
            f"raw {n}-proc {_f(raw[n])}",
            lambda b, n=n, goal=goal: (
                _f(drain_rate(b, n)),
                _ratio(drain_rate(b, n), raw[n]),
                None if goal is None or drain_rate(b, n) is None or not raw[n] else drain_rate(b, n) / raw[n] >= goal,
            ),
        )
    for peer, key, target, goal in (("tsp 2 slots", "tsp_2", "> 1", 1.0), ("huey 2 workers", "huey_2", "≥ 1.5", 1.5)):
        p = _get(peers, key, "jobs_per_s")
        if p is None:
            continue
        label = f"drain, 2 workers vs {peer}"
        section_of[label] = ("drain",)
        add(
            label,
            target,
            _f(p),
            lambda b, p=p, goal=goal: (
                _f(drain_rate(b, 2)),
                _ratio(drain_rate(b, 2), p),
                None if drain_rate(b, 2) is None else drain_rate(b, 2) / p >= goal and drain_rate(b, 2) > p,
            ),
        )

    def pick(b, *keys):
        return _get(r, "pickup", b, *keys)

    first = next((b for b in backends if _measured(pick(b))), None)
    if first:
        n = pick(first, "pickup_ms", "n")
        floors = " / ".join(_f(pick(b, "spawn_floor_ms", "p50"), "{:.1f}") for b in backends if _measured(pick(b)))
        floors95 = " / ".join(_f(pick(b, "spawn_floor_ms", "p95"), "{:.1f}") for b in backends if _measured(pick(b)))
        for label, target, beside, fn in (
            (
                f"pickup p50 (ms, {n} jobs, idle workers)",
                "< 3 ms SQLite / < 5 ms PostgreSQL",
                f"direct spawn {floors}",
                lambda b: (
                    _f(pick(b, "pickup_ms", "p50"), "{:.1f}"),
                    _ratio(pick(b, "pickup_ms", "p50"), pick(b, "spawn_floor_ms", "p50")),
                    pick(b, "pickup_ms", "p50") < PICKUP_P50_MS[b],
                ),
            ),
            (
                "pickup p95 (ms)",
                "< 20 ms",
                f"direct spawn p95 {floors95}",
                lambda b: (_f(pick(b, "pickup_ms", "p95"), "{:.1f}"), None, pick(b, "pickup_ms", "p95") < 20),
            ),
            (
                f"pickup after {pick(first, 'pickup_idle_ms', 'idle_s'):g} s idle (ms, median / max of "
                f"{pick(first, 'pickup_idle_ms', 'n')})",
                "as p50 and p95 above",
                "—",
                lambda b: (
                    f"{_f(pick(b, 'pickup_idle_ms', 'p50'), '{:.1f}')} / {_f(pick(b, 'pickup_idle_ms', 'max'), '{:.1f}')}",
                    None,
                    pick(b, "pickup_idle_ms", "p50") < PICKUP_P50_MS[b] and pick(b, "pickup_idle_ms", "max") < 20,
                ),
            ),
            (
                f"idle worker CPU (% over {pick(first, 'idle_cpu_pct', 'seconds'):g} s; supervisor's)",
                "< 1%",
                "—",
                lambda b: (
                    f"{_f(pick(b, 'idle_cpu_pct', 'worker'), '{:.2f}')} ({_f(pick(b, 'idle_cpu_pct', 'supervisor'), '{:.2f}')})",
                    None,
                    pick(b, "idle_cpu_pct", "worker") < 1,
                ),
            ),
            (
                "RSS of an idle worker / the supervisor (MB)",
                "—",
                "—",
                lambda b: (
                    f"{_f(pick(b, 'rss_mb', 'worker'), '{:.1f}')} / {_f(pick(b, 'rss_mb', 'supervisor'), '{:.1f}')}",
                    None,
                    None,
                ),
            ),
        ):
            section_of[label] = ("pickup",)
            add(label, target, beside, fn)

    first = next((b for b in backends if _measured(_get(r, "enqueue", b))), None)
    if first:
        jobs = _get(r, "enqueue", first, "batch_enqueue", "jobs")
        label = f"batch `enqueue -` of {jobs:,} (jobs/s, incl. start-up)"
        section_of[label] = ("enqueue",)
        goal = {"sqlite": 100_000, "postgres": 50_000}
        add(
            label,
            "≥ 100,000 SQLite / ≥ 50,000 PostgreSQL",
            "—",
            lambda b: (
                _f(_get(r, "enqueue", b, "batch_enqueue", "jobs_per_s")),
                None,
                _get(r, "enqueue", b, "batch_enqueue", "jobs_per_s") >= goal.get(b, 50_000),
            ),
        )
        if _get(r, "enqueue", first, "batch_enqueue", "peak_rss_mb"):
            label = "peak RSS of that batch `enqueue -` (MB)"
            section_of[label] = ("enqueue",)
            add(
                label,
                "bounded",
                "—",
                lambda b: (_f(max(_get(r, "enqueue", b, "batch_enqueue", "peak_rss_mb") or [0]), "{:.0f}"), None, None),
            )
        if _get(r, "enqueue", first, "batch_enqueue", "cpu_s"):
            label = "that batch per CPU second of the `enqueue` process (jobs)"
            section_of[label] = ("enqueue",)

            def per_cpu(b):
                cpus = _get(r, "enqueue", b, "batch_enqueue", "cpu_s")
                return jobs / sorted(cpus)[len(cpus) // 2] if cpus else None

            add(label, "—", "—", lambda b: (_f(per_cpu(b)), None, None))

    def st(b, key):
        return _get(r, "startup", b, "startup_ms", key)

    def paired(b, key):
        """The median of each round's ratio to the floor beside it (older runs: of the medians)."""
        return _get(r, "startup", b, "paired_ratio", key) or _ratio(st(b, key), st(b, "import_click_sqlite3"))

    on = [b for b in backends if _measured(_get(r, "startup", b))]
    if on:
        floor = " / ".join(_f(st(b, "import_click_sqlite3"), "{:.0f}") for b in on)
        bare = " / ".join(_f(st(b, "python_pass"), "{:.0f}") for b in on)
        for key, text in (
            ("queuectl_enqueue", "one `queuectl enqueue`"),
            ("queuectl_status", "one `queuectl status`"),
            ("queuectl_add", "one `queuectl add`"),
            ("queuectl_list", "one `queuectl list` (piped)"),
        ):
            label = f"{text} (wall ms)"
            section_of[label] = ("startup",)
            add(
                label,
                "≤ 1.5× floor",
                f"`import click, sqlite3` {floor} (`python -c pass` {bare})",
                lambda b, key=key: (
                    _f(st(b, key), "{:.0f}"),
                    paired(b, key),
                    None if paired(b, key) is None else paired(b, key) <= 1.5,
                ),
            )

    def largest(b):
        sc = _get(r, "scale", b) or {}
        sizes = sorted(int(k) for k in sc if k.isdigit())
        return (sizes[-1], sc[str(sizes[-1])]) if sizes else (None, None)

    on = [b for b in backends if _measured(_get(r, "scale", b)) and largest(b)[0]]
    if on:
        n = largest(on[0])[0]
        for key, text, limit, cli in (
            ("claim", "one claim (`store.claim_batch`, ms)", 1, None),
            ("status", "`status` (ms in-process; CLI wall)", 100, "status"),
            ("list_50", "`list --limit 50` (ms in-process; CLI wall)", 100, "list_50"),
            ("metrics", "`metrics` (ms in-process; CLI wall)", 100, "metrics"),
        ):
            label = f"at {n:,} jobs: {text}"
            section_of[label] = ("scale",)

            def cell(b, key=key, limit=limit, cli=cli):
                _, at = largest(b)
                v = _get(at, "store_ms", key)
                c = _get(at, "cli_ms", cli) if cli else None
                return (
                    _f(v, "{:.2f}") + (f" ({_f(c, '{:.0f}')})" if cli else ""),
                    None,
                    None if v is None else v < limit,
                )

            add(label, f"< {limit} ms", "—", cell)
    return rows


def pg_commit_table(r: dict) -> list[str]:
    """PostgreSQL's figures beside the same run without a WAL flush per commit (a diagnostic)."""
    c = _get(r, "limits", "pg_commit_ms")
    drain, pick, sc = _get(r, "drain", "postgres"), _get(r, "pickup", "postgres"), _get(r, "scale", "postgres")
    if not c and not _get(drain, "drain_async_2"):
        return []
    rows = ["| PostgreSQL | durable commit (default) | `synchronous_commit=off` | ratio |", "|---|---:|---:|---:|"]
    if c:
        rows.append(
            f"| commit of a one-row INSERT, p50 / p95 (ms) | {_f(c['sync']['p50'], '{:.2f}')} / "
            f"{_f(c['sync']['p95'], '{:.2f}')} | {_f(c['async']['p50'], '{:.2f}')} / {_f(c['async']['p95'], '{:.2f}')} "
            f"| {_f(_ratio(c['sync']['p50'], c['async']['p50']), '{:.0f}×')} |"
        )
    for n in (2, 4):
        a, b = _get(drain, f"drain_{n}", "jobs_per_s"), _get(drain, f"drain_async_{n}", "jobs_per_s")
        if b is not None:
            rows.append(f"| drain, {n} workers (jobs/s) | {_f(a)} | {_f(b)} | {_f(_ratio(b, a), '{:.2f}×')} |")
    a, b = _get(pick, "pickup_ms"), _get(pick, "async", "pickup_ms")
    if a and b:
        rows.append(
            f"| pickup p50 / p95 (ms, {b['n']} jobs) | {_f(a['p50'], '{:.1f}')} / {_f(a['p95'], '{:.1f}')} | "
            f"{_f(b['p50'], '{:.1f}')} / {_f(b['p95'], '{:.1f}')} | {_f(_ratio(a['p50'], b['p50']), '{:.1f}×')} |"
        )
    for k in [k for k in (sc or {}) if k.isdigit()]:
        a, b = _get(sc, k, "store_ms", "claim"), _get(sc, k, "store_ms_async", "claim")
        if b is not None:
            rows.append(
                f"| one claim at {int(k):,} jobs (ms) | {_f(a, '{:.2f}')} | {_f(b, '{:.2f}')} | "
                f"{_f(_ratio(a, b), '{:.1f}×')} |"
            )
    return rows


STORE_ROWS = [
    ("status", "status", "`status`"),
    ("list_50", "list_50", "`list --limit 50`"),
    ("list_dead_50", "list_dead", "`list --state dead`"),
    (None, "dlq_list", "`dlq list`"),
    ("metrics", "metrics", "`metrics`"),
    ("claim", None, "one claim (`store.claim_batch`)"),
    ("next_due", None, "`next_due` (idle worker)"),
    ("has_burst_work", None, "`has_burst_work`"),
]


def scale_table(scale: dict) -> list[str]:
    sizes = [k for k in scale if k.isdigit()]
    if not sizes:
        return []
    head = " | ".join(f"{int(n):,}" for n in sizes)
    rows = [
        f"| ms at N jobs: in-process (CLI process wall) | {head} | growth | target |",
        "|---|" + "---:|" * len(sizes) + "---:|---|",
    ]
    for store_key, cli_key, label in STORE_ROWS:
        cells, firsts = [], []
        for n in sizes:
            s = _get(scale, n, "store_ms", store_key) if store_key else None
            c = _get(scale, n, "cli_ms", cli_key) if cli_key else None
            firsts.append(s if s is not None else c)
            cells.append(
                " ".join(
                    x for x in (_f(s, "{:.2f}") if store_key else "", f"({_f(c, '{:.0f}')})" if cli_key else "") if x
                )
            )
        growth = _ratio(firsts[-1], firsts[0]) if len(firsts) > 1 else None
        target = "< 1 ms" if store_key == "claim" else ("< 100 ms" if cli_key else "—")
        rows.append(f"| {label} | " + " | ".join(cells) + f" | {_f(growth, '{:.1f}×')} | {target} |")
    tui = [_get(scale, n, "tui") or {} for n in sizes]

    def tui_cell(t, key, fmt):
        return (
            _f(t.get(key), fmt) if key in t else ("skipped" if "skipped" in t else ("error" if "error" in t else "—"))
        )

    for key, label, fmt, target in (
        ("refresh_ms", "TUI: one Jobs-pane refresh (ms)", "{:.0f}", "< 100 ms"),
        ("open_s", "TUI: open to first Jobs rows (s)", "{:.2f}", "< 1.5 s"),
        ("peak_rss_mb", "TUI: peak RSS (MB)", "{:.0f}", "< 150 MB"),
    ):
        values = [t.get(key) for t in tui]
        growth = _ratio(values[-1], values[0]) if len(values) > 1 and None not in values else None
        rows.append(
            f"| {label} | "
            + " | ".join(tui_cell(t, key, fmt) for t in tui)
            + f" | {_f(growth, '{:.1f}×')} | {target} |"
        )
    build = " | ".join(
        f"{_get(scale, n, 'build', 'build_s'):.1f} s, {_get(scale, n, 'build', 'size_mb'):.0f} MB" for n in sizes
    )
    rows.append(f"| (store build time, size on disk) | {build} | — | — |")
    return rows


def slots_table(r: dict) -> list[str]:
    """DESIGN.md's targets for drains (beside the peers), pickup and one host at scale, each a
    ratio to what ran beside it (or a bound)."""
    lim, peers, drain = r.get("limits", {}), r.get("peers", {}), r.get("drain", {})
    rows = ["| figure | measured | beside it | ratio | target | verdict |", "|---|---:|---|---:|---|---|"]

    def add(label, value, fmt, beside, ratio, target, ok):
        rows.append(
            f"| {label} | {_f(value, fmt)} | {beside} | {_f(ratio, '{:.2f}')}× | {target} | {_verdict(ok)} |"
            if ratio is not None
            else f"| {label} | {_f(value, fmt)} | {beside} | — | {target} | {_verdict(ok)} |"
        )

    raw2, huey2 = _get(lim, "raw_2", "jobs_per_s"), _get(peers, "huey_2", "jobs_per_s")
    for n in (2, 4):
        rate = _get(drain, "sqlite", f"drain_{n}", "jobs_per_s")
        ratio = _ratio(rate, raw2)
        add(
            f"SQLite drain, --count {n} (jobs/s)",
            rate,
            "{:,.0f}",
            f"raw 2-process spawn {_f(raw2)}",
            ratio,
            "≥ 0.70× (goal 0.90×)",
            None if ratio is None else ratio >= 0.70,
        )
        ratio = _ratio(rate, huey2)
        add(
            f"SQLite drain, --count {n} (jobs/s)",
            rate,
            "{:,.0f}",
            f"huey, 2 workers {_f(huey2)}",
            ratio,
            "≥ 1.5×",
            None if ratio is None else ratio >= 1.5,
        )
    for n in (2, 8):
        rate, peer = _get(drain, "postgres", f"drain_{n}", "jobs_per_s"), _get(peers, f"pgqueuer_{n}", "jobs_per_s")
        ratio = _ratio(rate, peer)
        add(
            f"PostgreSQL drain, --count {n} (jobs/s)",
            rate,
            "{:,.0f}",
            f"pgqueuer, concurrency {n} {_f(peer)}",
            ratio,
            "≥ 1.5×",
            None if ratio is None else ratio >= 1.5,
        )
    for backend, bound in (("sqlite", 3), ("postgres", 5)):
        p = r.get("pickup", {}).get(backend, {})
        for key, text in (("pickup_ms", "pickup p50 (ms)"), ("pickup_idle_ms", "pickup p50 after idle (ms)")):
            v = _get(p, key, "p50")
            add(f"{NAMES[backend]} {text}", v, "{:.1f}", "", None, f"< {bound}", None if v is None else v < bound)
        v = _get(p, "idle_cpu_pct", "worker")
        add(f"{NAMES[backend]} idle worker CPU (%)", v, "{:.2f}", "", None, "< 1", None if v is None else v < 1)
        v = _get(r, "scale", backend, "1000000", "store_ms", "claim")
        add(f"{NAMES[backend]} one claim at 1M jobs (ms)", v, "{:.2f}", "", None, "< 1", None if v is None else v < 1)
        s = r.get("slots", {}).get(backend, {})
        v = _get(s, "count_64", "rss_mb")
        add(
            f"{NAMES[backend]} RSS of all queuectl processes, 64 running jobs (MB)",
            v,
            "{:.0f}",
            f"{_get(s, 'count_64', 'processes')} processes",
            None,
            "< 150",
            None if v is None else v < 150,
        )
        if backend == "postgres":
            v = _get(s, "count_64", "connections")
            add(
                "PostgreSQL connections from one host, --count 64",
                v,
                "{:.0f}",
                "",
                None,
                "≤ 3",
                None if v is None else v <= 3,
            )
        v = _get(s, "count_500", "all_running_s")
        add(
            f"{NAMES[backend]} --count 500: all 500 running after (s)",
            v,
            "{:.2f}",
            "from the supervisor's start",
            None,
            "≤ 2",
            None if v is None else v <= 2,
        )
        v = _get(s, "count_500", "record_lag_max_s")
        add(
            f"{NAMES[backend]} --count 500: longest end-to-record gap (s)",
            v,
            "{:.2f}",
            "upper bound: from claim + 5 s",
            None,
            "≤ 2",
            None if v is None else v <= 2,
        )
    return rows


def render(r: dict) -> str:
    meta = r["meta"]
    out = [f"## queuectl bench — {meta['date']} — {meta['machine']}{' (--quick)' if meta['quick'] else ''}", ""]
    eng = meta.get("engine", {})
    dirty = eng.get("uncommitted")
    where = f"commit {eng['commit']}, " if eng.get("commit") else ""
    out += [
        f"Engine: `{eng.get('path')}` ({where}repo at {eng.get('repo_head')}"
        + (f", {len(dirty)} uncommitted engine/TUI file(s)" if dirty else "")
        + ")"
    ]
    pgm = meta.get("postgres") or {}
    if "postgres" in _backends(r):
        skipped = (meta.get("skipped_backends") or {}).get("postgres")
        out += [
            f"PostgreSQL: {'skipped: ' + skipped if skipped else (pgm.get('server') or '') + ' (server ' + str(pgm.get('version')) + ')'}"
        ]
    if meta.get("load_avg"):
        out += [
            "Load average (1/5/15 min) at the start: "
            + " / ".join(f"{x:.2f}" for x in meta["load_avg"])
            + (
                ", at the end: " + " / ".join(f"{x:.2f}" for x in meta["load_avg_end"])
                if meta.get("load_avg_end")
                else ""
            )
        ]
    out += [""]
    for name, v in r.items():
        if name == "meta" or not isinstance(v, dict):
            continue
        if "error" in v:
            out += [f"**Section {name} failed:** {v['error'].strip()}", ""]
        for backend in BACKEND_KEYS:
            if isinstance(v.get(backend), dict) and "error" in v[backend]:
                out += [f"**Section {name} ({NAMES[backend]}) failed:** {v[backend]['error'].strip()}", ""]
    out += ["### Against the targets (DESIGN.md): drains beside the peers, pickup, one host at scale", ""]
    out += slots_table(r) + [""]
    out += ["### Against the targets, per backend", ""] + targets_table(r) + [""]
    if any(k in r for k in ("limits", "peers", "drain")):
        out += ["### Drain throughput beside the machine's limit and the peers", ""] + throughput_table(r) + [""]
    pgc = pg_commit_table(r)
    if pgc:
        out += ["### PostgreSQL: what the durable commit costs (diagnostic, not a setting to use)", ""] + pgc + [""]
    for backend in _backends(r):
        sc = _get(r, "scale", backend)
        if not _measured(sc):
            continue
        st = scale_table(sc)
        if st:
            out += [f"### Scale, {NAMES[backend]} ({sc.get('mix')})", ""] + st + [""]
            for k, v in sc.items():
                if k.isdigit() and ("skipped" in v["tui"] or "error" in v["tui"]):
                    out += [f"TUI at {int(k):,}: {v['tui'].get('skipped') or v['tui'].get('error')}", ""]
    timing = meta.get("section_s", {})
    if timing:
        out += ["Time per section: " + ", ".join(f"{k} {v:.0f} s" for k, v in timing.items()), ""]
    return "\n".join(out)


BACKEND_KEYS = tuple(NAMES)
