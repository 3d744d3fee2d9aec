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


def throughput_table(r: dict) -> list[str]:
    lim, peers, eng = r.get("limits", {}), r.get("peers", {}), r.get("drain", {})
    rows = ["| jobs/s of `true` (median) | 1 process / worker / slot | 2 |", "|---|---:|---:|"]
    def row(name, key1, key2, src):
        rows.append(f"| {name} | {_f(_get(src, key1, 'jobs_per_s'))} | {_f(_get(src, key2, 'jobs_per_s'))} |")
    row("raw spawn `subprocess.run(['/bin/sh','-c','true'])`", "raw_1", "raw_2", lim)
    row("runner-style spawn (pipes, new session, `preexec_fn`)", "engine_1", None, lim)
    row("runner-style spawn without `preexec_fn`", "engine-no-preexec_1", None, lim)
    row("task-spooler (`tsp -S n`)", "tsp_1", "tsp_2", peers)
    row("huey (`SqliteHuey`, `-k process -w n`)", "huey_1", "huey_2", peers)
    row("**queuectl** (`worker start --count n --burst`)", "drain_1", "drain_2", eng)
    for text in peers.get("notes", []):
        rows.append(f"| _{text}_ | | |")
    return rows


def targets_table(r: dict) -> list[str]:
    lim, peers, eng = r.get("limits", {}), r.get("peers", {}), r.get("drain", {})
    pick, enq, st = r.get("pickup", {}), r.get("enqueue", {}), _get(r, "startup", "startup_ms") or {}
    rows = ["| measure | queuectl | measured beside it | ratio | target | verdict |", "|---|---:|---:|---:|---|---|"]
    d1, d2 = _get(eng, "drain_1", "jobs_per_s"), _get(eng, "drain_2", "jobs_per_s")
    raw1, raw2 = _get(lim, "raw_1", "jobs_per_s"), _get(lim, "raw_2", "jobs_per_s")
    if d1 is not None:
        x = _ratio(d1, raw1)
        rows.append(f"| drain, 1 worker (jobs/s) | {_f(d1)} | raw 1-proc {_f(raw1)} | {_f(x, '{:.2f}')} | — | — |")
    if d2 is not None:
        x = _ratio(d2, raw2)
        rows.append(f"| drain, 2 workers (jobs/s) | {_f(d2)} | raw 2-proc {_f(raw2)} | {_f(x, '{:.2f}')} | ≥ 0.70 | "
                    f"{_verdict(None if x is None else x >= 0.70)} |")  # fmt: skip
        for peer, key in (("tsp 2 slots", "tsp_2"), ("huey 2 workers", "huey_2")):
            p = _get(peers, key, "jobs_per_s")
            x = _ratio(d2, p)
            if p is not None:
                rows.append(f"| drain, 2 workers vs {peer} | {_f(d2)} | {_f(p)} | {_f(x, '{:.2f}')} | > 1 | "
                            f"{_verdict(x > 1)} |")  # fmt: skip
    if pick:
        floor = _get(pick, "spawn_floor_ms", "p50")
        p50, p95 = _get(pick, "pickup_ms", "p50"), _get(pick, "pickup_ms", "p95")
        n = _get(pick, "pickup_ms", "n")
        rows.append(f"| pickup p50 (ms, {n} jobs, idle workers) | {_f(p50, '{:.1f}')} | direct spawn {_f(floor, '{:.1f}')} "
                    f"| {_f(_ratio(p50, floor), '{:.1f}')} | < 5 ms | {_verdict(p50 < 5)} |")  # fmt: skip
        rows.append(f"| pickup p95 (ms) | {_f(p95, '{:.1f}')} | direct spawn p95 {_f(_get(pick, 'spawn_floor_ms', 'p95'), '{:.1f}')} "
                    f"| — | < 20 ms | {_verdict(p95 < 20)} |")  # fmt: skip
        idle = pick["pickup_idle_ms"]
        rows.append(f"| pickup after {idle['idle_s']:g} s idle (ms, median / max of {idle['n']}) | "
                    f"{_f(idle['p50'], '{:.1f}')} / {_f(idle['max'], '{:.1f}')} | — | — | < 5 ms / < 20 ms | "
                    f"{_verdict(idle['p50'] < 5 and idle['max'] < 20)} |")  # fmt: skip
        cpu = pick["idle_cpu_pct"]
        rows.append(f"| idle worker CPU (% over {cpu['seconds']:g} s) | {_f(cpu['worker'], '{:.2f}')} | supervisor "
                    f"{_f(cpu['supervisor'], '{:.2f}')} | — | < 1% | {_verdict(cpu['worker'] < 1)} |")  # fmt: skip
        rss = pick["rss_mb"]
        rows.append(f"| RSS of an idle worker / the supervisor (MB) | {_f(rss['worker'], '{:.1f}')} / "
                    f"{_f(rss['supervisor'], '{:.1f}')} | — | — | — | — |")  # fmt: skip
    b = _get(enq, "batch_enqueue")
    if b:
        rows.append(f"| batch `enqueue -` of {b['jobs']:,} (jobs/s, incl. start-up) | {_f(b['jobs_per_s'])} | — | — | "
                    f"≥ 50,000 | {_verdict(b['jobs_per_s'] >= 50_000)} |")  # fmt: skip
    floor = st.get("import_click_sqlite3")
    for key, label in (("queuectl_enqueue", "one `queuectl enqueue`"), ("queuectl_status", "one `queuectl status`")):
        if key in st:
            x = _ratio(st[key], floor)
            rows.append(f"| {label} (wall ms) | {_f(st[key], '{:.0f}')} | `import click, sqlite3` {_f(floor, '{:.0f}')} "
                        f"(`python -c pass` {_f(st.get('python_pass'), '{:.0f}')}) | {_f(x, '{:.2f}')} | ≤ 1.5× | "
                        f"{_verdict(x <= 1.5)} |")  # fmt: skip
    return rows


STORE_ROWS = [("status", "status", "`status`"), ("list_50", "list_50", "`list --limit 50`"),
              ("list_dead_50", "list_dead", "`list --state dead`"), (None, "dlq_list", "`dlq list`"),
              ("metrics", "metrics", "`metrics`"), ("claim", None, "one claim (`store.claim`)"),
              ("next_due", None, "`next_due` (idle worker)"), ("has_burst_work", None, "`has_burst_work`")]  # fmt: skip


def scale_table(r: dict) -> list[str]:
    scale = r.get("scale") or {}
    sizes = [k for k in scale if k.isdigit()]
    if not sizes:
        return []
    head = " | ".join(f"{int(n):,}" for n in sizes)
    rows = [f"| ms at N jobs: in-process (CLI process wall) | {head} | growth | target |",
            "|---|" + "---:|" * len(sizes) + "---:|---|"]  # fmt: skip
    for store_key, cli_key, label in STORE_ROWS:
        cells, firsts = [], []
        for n in sizes:
            s = _get(scale, n, "store_ms", store_key) if store_key else None
            c = _get(scale, n, "cli_ms", cli_key) if cli_key else None
            firsts.append(s if s is not None else c)
            cells.append(" ".join(x for x in (_f(s, "{:.2f}") if store_key else "", f"({_f(c, '{:.0f}')})" if cli_key else "") if x))
        growth = _ratio(firsts[-1], firsts[0]) if len(firsts) > 1 else None
        target = "< 2 ms" if store_key == "claim" else ("< 100 ms" if cli_key else "—")
        rows.append(f"| {label} | " + " | ".join(cells) + f" | {_f(growth, '{:.1f}×')} | {target} |")
    tui = [_get(scale, n, "tui") or {} for n in sizes]
    def tui_cell(t, key, fmt):
        return _f(t.get(key), fmt) if key in t else ("skipped" if "skipped" in t else ("error" if "error" in t else "—"))
    for key, label, fmt, target in (("refresh_ms", "TUI: one Jobs-pane refresh (ms)", "{:.0f}", "< 100 ms"),
                                    ("open_s", "TUI: open to first Jobs rows (s)", "{:.2f}", "< 1.5 s"),
                                    ("peak_rss_mb", "TUI: peak RSS (MB)", "{:.0f}", "< 150 MB")):
        values = [t.get(key) for t in tui]
        growth = _ratio(values[-1], values[0]) if len(values) > 1 and None not in values else None
        rows.append(f"| {label} | " + " | ".join(tui_cell(t, key, fmt) for t in tui) + f" | {_f(growth, '{:.1f}×')} | {target} |")
    build = " | ".join(f"{_get(scale, n, 'build', 'build_s'):.1f} s, {_get(scale, n, 'build', 'size_mb'):.0f} MB" for n in sizes)
    rows.append(f"| (store build time, file size) | {build} | — | — |")
    return rows


def render(r: dict) -> str:
    out = [f"## queuectl bench — {r['meta']['date']} — {r['meta']['machine']}{' (--quick)' if r['meta']['quick'] else ''}", ""]
    eng = r["meta"].get("engine", {})
    dirty = eng.get("uncommitted")
    out += [f"Engine: `{eng.get('path')}` (repo at {eng.get('repo_head')}"
            + (f", {len(dirty)} uncommitted engine/TUI file(s)" if dirty else "") + ")", ""]
    broken = {k: v["error"] for k, v in r.items() if isinstance(v, dict) and "error" in v and k != "meta"}
    for name, text in broken.items():
        out += [f"**Section {name} failed:** {text.strip()}", ""]
    out += ["### Against the targets", ""] + targets_table(r) + [""]
    if any(k in r for k in ("limits", "peers", "drain")):
        out += ["### Drain throughput beside the machine's limit and the peers", ""] + throughput_table(r) + [""]
    st = scale_table(r)
    if st:
        out += [f"### Scale ({_get(r, 'scale', 'mix')})", ""] + st + [""]
        for k, v in r["scale"].items():
            if k.isdigit() and ("skipped" in v["tui"] or "error" in v["tui"]):
                out += [f"TUI at {int(k):,}: {v['tui'].get('skipped') or v['tui'].get('error')}", ""]
    timing = r["meta"].get("section_s", {})
    if timing:
        out += ["Time per section: " + ", ".join(f"{k} {v:.0f} s" for k, v in timing.items()), ""]
    return "\n".join(out)
