"""BENCHMARKS.md from results.json: the table, then findings (generated from the numbers), then
the hand-written analysis in bench/ANALYSIS.md (profile-based causes and proposed fixes)."""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

HERE = Path(__file__).resolve().parent

# key: (what, goal text, comparison, goal value)
SPEC = {
    "adk_overhead_ratio": ("invocations (200 per variant in full mode) × 3 tool calls, `NotebookRunner(display=False)` ÷ bare ADK `Runner`", "≤ 1.03", "le", 1.03),
    "adk_self_time_share": ("share of invocation time inside agentnb's hooks (instrumented, net of the instrument's own cost per hook, measured on a no-op plugin in the same rounds; the records the hooks keep back are built at the next read, measured beside in the findings)", "≤ 0.02", "le", 0.02),
    "adk_view_overhead_ratio": ("the same with the live dashboard following on a headless comm ÷ bare", "≤ 1.10", "le", 1.10),
    "adk_otel_overhead_ratio": ("peer: ADK's own OpenTelemetry spans (SDK, SimpleSpanProcessor, InMemorySpanExporter) ÷ bare, same rounds", "report", None, None),
    "adk_openinference_overhead_ratio": ("peer: Phoenix's `openinference-instrumentation-google-adk` (SDK, SimpleSpanProcessor, InMemorySpanExporter) ÷ bare, same rounds", "report", None, None),
    "adk_vs_best_peer": ("agentnb's overhead ÷ the cheapest peer's overhead (each as ratio − 1), same rounds", "≤ 0.5", "le", 0.5),
    "view_msgs_per_s": ("comm messages/s of one dashboard while 5,000 records/s are appended for 10 s", "≤ 10", "le", 10),
    "view_bytes_per_s": ("comm bytes/s (JSON payload) in the same burst", "≤ 50,000", "le", 50_000),
    "view_final_state_ok": ("after the burst the widget's html equals a fresh rendering and rows patched = records", "true", "true", True),
    "history_1m_s": ("1,000,000 recorded state changes → `history()` DataFrame, seconds", "≤ 0.3", "le", 0.3),
    "history_bytes_per_change": ("bytes the trace keeps alive per state change (tracemalloc)", "≤ 150", "le", 150),
    "events_100k_s": ("100,000 recorded events → `events()` DataFrame, seconds", "report", None, None),
    "timeline_1m_s": ("the 1,000,000 state changes → `timeline()` (wide: a row per event, a column per key), seconds", "report", None, None),
    "import_s": ("cold `import agentnb` and `%load_ext agentnb`, fresh processes, the slower median", "≤ 0.15", "le", 0.15),
    "notebook_kb_1000_events": ("saved .ipynb after a 1,000-event run with the dashboard shown (nbclient, widget state)", "≤ 200", "le", 200),
    "page_open_s": ("a saved notebook of 200 finished cards opened in JupyterLab in Chromium until every output is in the page ÷ the same notebook with each output plain HTML of the same size", "≤ 1.5", "le", 1.5),
    "page_live_cpu": ("the browser's CPU (every Chromium process, in cores) while a dashboard in JupyterLab follows 5,000 records/s for 10 s", "≤ 0.25", "le", 0.25),
    "livekit_overhead_ratio": ("`NotebookJob.ask` turns ÷ bare text-only `AgentSession.run` turns, same scripted LLM", "≤ 1.05", "le", 1.05),
}


def verdict(key, value):
    what, goal, op, target = SPEC[key]
    if value is None:
        return "n/a"
    if op is None:
        return "—"
    if op == "true":
        return "met" if value is True else "**missed**"
    return "met" if value <= target else "**missed**"


def fmt(value, key=""):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and abs(value) >= 1000 or isinstance(value, int):
        return f"{value:,.0f}"
    if key.endswith("_ratio") or key.endswith("_share"):
        return f"{value:.3f}"
    return f"{value:g}"


def _q(summary):
    """' (p25–p75 …; CPU-only …; wall on clean rounds …; n rounds, k clean)'."""
    if not summary or summary.get("quantiles") is None or summary.get("cpu_p25_ratio") is None:
        return ""
    q = summary["quantiles"]
    clean = summary.get("wall_median_clean_rounds")
    return (f" (p25–p75 {q[1]:.3f}–{q[3]:.3f}; CPU-only {summary['cpu_median']:.3f}, fastest-"
            f"quarter CPU {summary['cpu_p25_ratio']:.3f}; wall-only "
            f"{summary['wall_median_all_rounds']:.3f}"
            + (f", on clean rounds {clean:.3f}" if clean is not None else "")
            + f"; {summary['rounds']} rounds, {summary['clean_rounds']} clean)")


def baseline(key, r):
    d = r.get("details", {})
    adk, view, hist = d.get("adk", {}), d.get("view", {}), d.get("history", {})
    imp, nb, lk = d.get("import", {}), d.get("notebook", {}), d.get("livekit", {})
    if key in ("adk_overhead_ratio", "adk_view_overhead_ratio", "adk_self_time_share") and adk:
        return f"bare ADK {adk.get('bare_ms_per_invocation')} ms/invocation"
    if key in ("adk_otel_overhead_ratio", "adk_openinference_overhead_ratio") and adk:
        peer = "otel" if key == "adk_otel_overhead_ratio" else "openinference"
        spans = (adk.get("spans_per_invocation") or {}).get(peer)
        return f"bare ADK {adk.get('bare_ms_per_invocation')} ms/invocation; {spans} spans/invocation"
    if key == "adk_vs_best_peer" and adk:
        return "0 would be free; 1 costs what the cheapest peer costs"
    if key == "view_msgs_per_s" and view:
        return "5,000/s if every record were a message (server limit 1,000/s)"
    if key == "view_bytes_per_s" and view:
        return "server iopub limit 1,000,000 B/s"
    if key == "view_final_state_ok" and view:
        return f"{view.get('records'):,} records, {view.get('rows_patched'):,} rows patched"
    if key == "history_1m_s" and hist:
        return (f"pandas alone from ready lists {hist.get('baseline_pandas_from_lists_s')} s "
                f"(+ attribute extraction {hist.get('baseline_extract_attrs_s')} s)")
    if key == "history_bytes_per_change" and hist:
        return f"RSS growth {hist.get('rss_bytes_per_change')} B/change"
    if key == "import_s" and imp:
        return (f"`python -c pass` {imp.get('baseline_python_c_pass_wall_s')} s wall; import "
                f"{imp.get('import_agentnb_s')} s, load_ext {imp.get('load_ext_s')} s")
    if key == "notebook_kb_1000_events" and nb:
        bare = nb.get("bare_adk", {}).get("kb")
        cards = nb.get("dashboard+cards", {}).get("kb")
        parts = []
        if bare is not None:
            parts.append(f"bare ADK run {bare} kB")
        if cards is not None:
            parts.append(f"with live cards (display=True) {cards:,} kB")
        return "; ".join(parts) or "—"
    if key == "livekit_overhead_ratio" and lk:
        per = lk.get("median_per_conversation")
        return f"bare {lk.get('bare_ms_per_turn')} ms/turn" + (
            f"; per conversation {' / '.join(map(str, per))}" if per else "")
    return "—"


def measured(key, r):
    value = r.get(key)
    d = r.get("details", {})
    text = fmt(value, key)
    extra = ""
    if key == "adk_overhead_ratio":
        extra = _q(d.get("adk", {}).get("agentnb"))
    elif key == "adk_view_overhead_ratio":
        extra = _q(d.get("adk", {}).get("agentnb+view"))
    elif key == "adk_otel_overhead_ratio":
        extra = _q(d.get("adk", {}).get("otel"))
    elif key == "adk_openinference_overhead_ratio":
        extra = _q(d.get("adk", {}).get("openinference"))
    elif key == "adk_self_time_share":
        q = d.get("adk", {}).get("self_time_share_quantiles")
        if q:
            extra = f" (p25–p75 {q[1]:.3f}–{q[3]:.3f})"
    elif value is None:
        reason = r.get("notes", {}).get(key) or r.get("errors", {}).get(_group_of(key))
        if reason:
            extra = f" — {reason}"
    return text + extra


def _group_of(key):
    from run import GROUPS
    return next((g for g, (_, _, keys) in GROUPS.items() if key in keys), None)


def findings(r):
    d = r.get("details", {})
    out = []
    missed = [k for k in SPEC if verdict(k, r.get(k)) == "**missed**"]
    nulls = [k for k in SPEC if r.get(k) is None]
    out.append(f"- Targets missed: {', '.join(f'`{k}`' for k in missed) or 'none'}."
               + (f" Not measured: {', '.join(f'`{k}`' for k in nulls)}." if nulls else ""))
    adk = d.get("adk")
    if adk:
        hooks = adk.get("hooks", {})
        top = ", ".join(f"`{k}` {v['us_per_call']} µs × {v['calls']}" for k, v in list(hooks.items())[:4])
        out.append(f"- ADK: {adk.get('records_per_invocation')} records per invocation; hook time "
                   f"as the instrument reads it, before its own cost "
                   f"({adk.get('instrument_floor_us_per_hook')} µs a hook) is taken off: median "
                   f"share {adk.get('self_time_share_uncalibrated')}, aggregate "
                   f"{adk.get('self_time_share_aggregate_uncalibrated')}, plus "
                   f"{adk.get('ask_wrapper_share')} in `ask()` outside ADK's `run_async`. "
                   f"Costliest hooks: {top}. Building the records the hooks kept back, at the "
                   f"first read after the run: {adk.get('build_at_read_us_per_invocation')} µs "
                   f"per invocation, a share {adk.get('build_at_read_share')} of the run.")
        floor = (adk.get("noop_plugin") or {}).get("median")
        if floor is not None:
            out.append(f"- ADK's plugin machinery alone (a plugin overriding the same hooks, doing "
                       f"nothing) ÷ bare: {floor}, the floor under agentnb's "
                       f"`adk_overhead_ratio` {r.get('adk_overhead_ratio')}.")
        copies = (adk.get("copy_plugin") or {}).get("median")
        if copies is not None:
            out.append(f"- A plugin that only takes, at the same hooks, the copies agentnb's records "
                       f"need (state, deltas, args, results, times) and keeps them in a list ÷ "
                       f"bare: {copies}, what any recorder of the same facts pays before it builds "
                       f"a record.")
        out.append(f"- ADK + dashboard: {adk.get('view_msgs_per_invocation')} comm messages and "
                   f"{adk.get('view_bytes_per_invocation'):,.0f} bytes per invocation.")
        prof = adk.get("profile_top_agentnb")
        if prof:
            out.append("- cProfile, agentnb functions by own time (share of the profiled run): "
                       + ", ".join(f"`{p['function']}` {p['tottime_share']:.3f}" for p in prof[:6]) + ".")
    live = d.get("page_live")
    if live and live.get("renderer_main_thread_per_s"):
        split = live["renderer_main_thread_per_s"]
        out.append(f"- Live page: Chromium {r.get('page_live_cpu')} of a core during the burst, "
                   f"{live.get('browser_cpu_at_rest')} at rest; the renderer's main thread busy "
                   f"{split.get('TaskDuration')} s/s (script {split.get('ScriptDuration')}, "
                   f"layout {split.get('LayoutDuration')}, style {split.get('RecalcStyleDuration')}).")
    view = d.get("view")
    if view:
        q = view.get("bytes_per_message_quantiles") or [0] * 5
        lag = view.get("loop_lag_ms_quantiles") or [None] * 5
        out.append(f"- Burst: {view.get('records'):,} records at {view.get('achieved_rate'):,.0f}/s → "
                   f"{view.get('messages')} messages, median {q[2]:,.0f} B each; the loop's lag "
                   f"p90 {lag[4]} ms, max {view.get('loop_lag_ms_max')} ms; process CPU "
                   f"{view.get('process_cpu_share_during_burst')} of one core during the burst.")
    hist = d.get("history")
    if hist:
        out.append(f"- history(): runs {hist.get('history_s_runs')} s for {hist.get('shape')}; "
                   f"building the 1M-record trace took {hist.get('trace_build_s')} s.")
    imp = d.get("import")
    if imp:
        out.append(f"- Import: heavy modules after `import agentnb`: "
                   f"{imp.get('heavy_modules_after_import') or 'none'}; added by `%load_ext`: "
                   f"{imp.get('heavy_modules_added_by_load_ext') or 'none'}"
                   + (f"; load_ext error: {imp['load_ext_error']}" if imp.get("load_ext_error") else "") + ".")
    nb = d.get("notebook")
    if nb:
        for name in ("dashboard", "dashboard+cards", "bare_adk"):
            if name in nb:
                v = nb[name]
                out.append(f"- Notebook `{name}`: {v['kb']} kB ({v['widgets']} widget models, "
                           f"widget state {v['widget_state_kb']} kB, outputs {v['outputs_kb']} kB, "
                           f"{v['events']} events).")
    lk = d.get("livekit")
    if lk and lk.get("reason"):
        out.append(f"- LiveKit: {lk['reason']}; the bench code path for `NotebookJob` is written "
                   f"(bench/b_livekit.py) and runs as soon as the module exists.")
    elif lk and lk.get("build_at_read_us_per_turn") is not None:
        out.append(f"- LiveKit: {lk.get('records_per_turn')} records per turn. Building the records "
                   f"the handlers kept back, at the first read after the turns: "
                   f"{lk['build_at_read_us_per_turn']} µs per turn, a share "
                   f"{lk.get('build_at_read_share')} of the turns.")
    if r.get("errors"):
        out.append("- Errors: " + "; ".join(f"{k}: {v}" for k, v in r["errors"].items()))
    return "\n".join(out)


def spread(r):
    """Each key's value in every run of a `--repeat` command, and whether their verdicts agree."""
    runs = r.get("runs") or []
    if len(runs) < 2:
        return ""
    n = len(runs)
    lines = [f"## Spread over {n} {r.get('mode')} runs (one `--repeat {n}` command, the last is the "
             "table above)", "",
             "| key | " + " | ".join(f"run {i}" for i in range(1, n + 1)) + " | min–max | verdicts |",
             "|---|" + "---|" * (n + 2)]
    for key in SPEC:
        values = [run.get(key) for run in runs]
        if all(v is None for v in values) or key not in runs[-1]:
            continue
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        span = (f"{fmt(min(numbers), key)}–{fmt(max(numbers), key)}" if numbers else "—")
        verdicts = {verdict(key, v) for v in values}
        agree = (verdicts.pop() if len(verdicts) == 1
                 else "differ: " + ", ".join(verdict(key, v) for v in values))
        lines.append(f"| `{key}` | " + " | ".join(fmt(v, key) for v in values)
                     + f" | {span} | {agree} |")
    return "\n".join(lines)


def write_report(r, path):
    m = r.get("machine", {})
    pk = m.get("packages", {})
    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    options = (" --quick" if r.get("mode") == "quick" else "") + \
        (f" --repeat {len(r['runs'])}" if r.get("runs") else "")
    lines = [
        "# agentnb benchmarks",
        "",
        f"Measured by `python bench/run.py{options}` "
        f"({r.get('mode')} mode, finished {r.get('finished_utc', 'at a time it did not record')}, "
        f"{r.get('total_seconds')} s; this page written {when}) on {m.get('cpu_count')} CPUs, "
        f"Python {m.get('python')}, agentnb {pk.get('agentnb')} (git {m.get('git')}), google-adk "
        f"{pk.get('google-adk')}, livekit-agents {pk.get('livekit-agents')}, ipywidgets "
        f"{pk.get('ipywidgets')}, anywidget {pk.get('anywidget')}, pandas {pk.get('pandas')}, "
        f"opentelemetry-sdk {pk.get('opentelemetry-sdk')}. Load average at start "
        f"{m.get('loadavg_start')}, at end {m.get('loadavg_end')} (a shared machine). Raw numbers: "
        "`bench/results.json`.",
        "",
        "Ratios compare agentnb with the same framework run without agentnb, in the same process, "
        "interleaved round by round (rotating order, a fresh session per round) so machine noise "
        "hits both alike; each is the median of per-round ratios. A round's ratio is of wall "
        "time when both runs had the CPU for at least 90% of their wall time, else of process "
        "CPU time (another tenant preempted us; for this CPU-bound in-process work, CPU time is "
        "the wall time it would have taken). Pure-CPU and pure-wall medians are given beside it.",
        "",
        "| key | what | goal | measured | bare baseline | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for key, (what, goal, _, _) in SPEC.items():
        lines.append(f"| `{key}` | {what} | {goal} | {measured(key, r)} | {baseline(key, r)} | "
                     f"{verdict(key, r.get(key))} |")
    lines += ["", "## Findings (from this run)", "", findings(r), ""]
    runs = spread(r)
    if runs:
        lines += [runs, ""]
    analysis = HERE / "ANALYSIS.md"
    if analysis.exists():
        lines += [analysis.read_text().rstrip(), ""]
    path.write_text("\n".join(lines))
