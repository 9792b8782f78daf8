"""agentnb's benchmark suite.

    python bench/run.py                 # everything: bench/results.json and BENCHMARKS.md
    python bench/run.py --quick         # the same keys; A/B ratios at full rounds, the rest shorter (~9 min)
    python bench/run.py --only adk_overhead_ratio,import_s
    python bench/run.py --out DIR       # write results.json and BENCHMARKS.md into DIR
    python bench/run.py --repeat 3      # three runs one after another: the table is the last
                                        # run's, BENCHMARKS.md gives each key's three values

Each group runs in its own fresh process (`--group NAME --emit FILE`), so one group's imports,
heap and global patches (headless comms, a tracer provider) never touch another's numbers.
A/B groups interleave agentnb and the bare framework round by round in one process and quote
the median of per-round ratios. Benchmarks are measurements, not tests: nothing here asserts.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import REPO, SRC, machine  # noqa: E402

# group -> (module, function, keys it writes)
GROUPS = {
    "adk": ("b_adk", "run_adk", ["adk_overhead_ratio", "adk_self_time_share",
                                 "adk_view_overhead_ratio", "adk_otel_overhead_ratio",
                                 "adk_openinference_overhead_ratio", "adk_vs_best_peer"]),
    "view": ("b_view", "run_view", ["view_msgs_per_s", "view_bytes_per_s", "view_final_state_ok"]),
    "history": ("b_history", "run_history", ["history_1m_s", "history_bytes_per_change",
                                             "events_100k_s", "timeline_1m_s"]),
    "import": ("b_import", "run_import", ["import_s"]),
    "notebook": ("b_notebook", "run_notebook", ["notebook_kb_1000_events"]),
    "livekit": ("b_livekit", "run_livekit", ["livekit_overhead_ratio"]),
    "page": ("b_page", "run_page", ["page_open_s"]),
    "page_live": ("b_page", "run_page_live", ["page_live_cpu"]),
}
KEYS = [k for _, _, keys in GROUPS.values() for k in keys]

# Per group, the most a group may take before it is stopped and its keys recorded as null.
TIMEOUT = {"quick": 900, "full": 900}   # generous: the machine is shared (quick runs full A/B rounds)


def run_group(name: str, quick: bool) -> dict:
    """Run one group in a fresh interpreter and return what it emitted."""
    with tempfile.TemporaryDirectory(prefix="agentnb-bench-") as tmp:
        out = Path(tmp) / "out.json"
        cmd = [sys.executable, str(HERE / "run.py"), "--group", name, "--emit", str(out)]
        if quick:
            cmd.append("--quick")
        started = time.perf_counter()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(SRC), str(HERE), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO,
                                  timeout=TIMEOUT["quick" if quick else "full"])
            error = None if proc.returncode == 0 else (proc.stderr.strip().splitlines() or ["?"])[-1]
            stderr = proc.stderr
        except subprocess.TimeoutExpired as exc:
            error, stderr = f"timed out after {exc.timeout} s", ""
        took = time.perf_counter() - started
        if out.exists():
            result = json.loads(out.read_text())
        else:
            result = {}
        if error or not out.exists():
            result.setdefault("errors", {})[name] = error or "no output"
            result.setdefault("details", {})[f"{name}_stderr_tail"] = stderr[-2000:]
        result.setdefault("seconds", {})[name] = round(took, 1)
        return result


def group_main(name: str, quick: bool, emit: Path):
    import importlib
    module, fn, keys = GROUPS[name]
    result = getattr(importlib.import_module(module), fn)(quick)
    for key in keys:
        result.setdefault(key, None)
    emit.write_text(json.dumps(result, indent=1, default=repr))


def merge(into: dict, part: dict):
    for key, value in part.items():
        if key in ("details", "errors", "seconds", "notes"):
            into.setdefault(key, {}).update(value)
        else:
            into[key] = value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the A/B ratios at full rounds, the rest shorter (~9 min)")
    parser.add_argument("--only", help="comma-separated keys (or group names) to run")
    parser.add_argument("--out", help="directory for results.json and BENCHMARKS.md "
                                      "(default: bench/ and the repo root)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run the selection N times; the report gives each key's spread")
    parser.add_argument("--group", help=argparse.SUPPRESS)
    parser.add_argument("--emit", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat takes a number of runs, 1 or more")

    if args.group:
        group_main(args.group, args.quick, Path(args.emit))
        return 0

    wanted = list(GROUPS)
    if args.only:
        names = [x.strip() for x in args.only.split(",") if x.strip()]
        unknown = [n for n in names if n not in KEYS and n not in GROUPS]
        if unknown:
            parser.error(f"unknown key(s): {', '.join(unknown)}; keys: {', '.join(KEYS)}")
        wanted = [g for g, (_, _, keys) in GROUPS.items() if g in names or set(keys) & set(names)]

    results_path = Path(args.out) / "results.json" if args.out else HERE / "results.json"
    report_path = Path(args.out) / "BENCHMARKS.md" if args.out else REPO / "BENCHMARKS.md"
    results_path.parent.mkdir(parents=True, exist_ok=True)

    # --only updates an existing results file instead of dropping the other keys.
    results: dict = {}
    if args.only and results_path.exists():
        try:
            results = json.loads(results_path.read_text())
        except ValueError:
            results = {}
    results["mode"] = "quick" if args.quick else "full"
    results["machine"] = machine()
    started = time.perf_counter()
    runs = []
    for run in range(1, args.repeat + 1):
        for name in wanted:
            print(f"[bench] {name} (run {run} of {args.repeat}) ...", flush=True)
            results.get("errors", {}).pop(name, None)          # stale from an earlier run
            results.get("details", {}).pop(f"{name}_stderr_tail", None)
            part = run_group(name, args.quick)
            merge(results, part)
            for key in GROUPS[name][2]:
                results.setdefault(key, None)
            shown = {k: results.get(k) for k in GROUPS[name][2]}
            print(f"[bench] {name}: {shown} ({part['seconds'][name]} s)"
                  + (f" ERROR {part['errors'][name]}" if part.get("errors", {}).get(name) else ""),
                  flush=True)
        runs.append({k: results.get(k) for _, _, keys in (GROUPS[g] for g in wanted) for k in keys})
    # Only runs of one command are of the same code: an earlier spread is dropped.
    results.pop("runs", None)
    if args.repeat > 1:
        results["runs"] = runs
    for key in KEYS:
        results.setdefault(key, None)
    try:
        results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["finished_utc"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    ordered = {k: results[k] for k in KEYS}
    ordered.update({k: v for k, v in results.items() if k not in ordered})
    results_path.write_text(json.dumps(ordered, indent=1, default=repr) + "\n")
    from report import write_report
    write_report(ordered, report_path)
    print(f"[bench] wrote {results_path} and {report_path} in {ordered['total_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
