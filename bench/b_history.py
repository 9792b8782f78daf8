"""A million recorded state changes: what the trace holds per change, and `history()` time.

The changes are built the way the ADK adapter builds them (`AdkObserver._changes`): five keys
written per event, forty per invocation, a fresh event id and `tool:<name>` source string per
event, int values (the old value is the previous one of the same key, shared). Memory is
measured with tracemalloc (every block the trace keeps alive, values included) and, as a cross-
check, as the growth of resident memory.
"""
from __future__ import annotations

import gc
import time
import tracemalloc
import uuid

from _common import median, rnd

N = 1_000_000
KEYS = [f"key_{i}" for i in range(20)] + [f"temp:scratch_{i}" for i in range(2)] + \
       [f"user:pref_{i}" for i in range(3)] + [f"app:flag_{i}" for i in range(3)]


def build(trace, n):
    """Append `n` StateChange records to `trace`, as the adapter would."""
    from agentnb.core.records import StateChange, scope_of
    sid = "s-" + uuid.uuid4().hex[:12]
    state = {}
    inv = None
    batch = []
    for i in range(n):
        if i % 5 == 0:
            if batch:
                trace.extend(batch)
                batch = []
            if i % 40 == 0:
                inv = f"e-{uuid.uuid4()}"
            event_id = str(uuid.uuid4())
            now = time.time()
            source = f"tool:{'bump'}"   # a new str per event, as the adapter's f-string makes
        key = KEYS[i % len(KEYS)]
        old = state.get(key)
        state[key] = i
        batch.append(StateChange(sid, inv, event_id, now, "bench_agent", source, key,
                                 scope_of(key), old, i, not key.startswith("temp:"),
                                 "ToolContext"))
    trace.extend(batch)


N_EVENTS = 100_000


def build_events(trace, n):
    """Append `n` Event records as the ADK adapter makes them for the bench's workload: per
    invocation a user message, three function calls with their responses, and a reply."""
    from agentnb.core.records import Event
    sid = "s-" + uuid.uuid4().hex[:12]
    batch = []
    for i in range(n):
        step = i % 8
        if step == 0:
            inv = f"e-{uuid.uuid4()}"
        eid, now = str(uuid.uuid4()), time.time()
        if step == 0:
            e = Event(sid, inv, eid, now, "user", "user", "go")
        elif step == 7:
            e = Event(sid, inv, eid, now, "bench_agent", "model", "done")
        elif step % 2:
            e = Event(sid, inv, eid, now, "bench_agent", "function_call", "",
                      [{"id": f"adk-{eid[:8]}", "name": "bump", "args": {"i": i}}])
        else:
            e = Event(sid, inv, eid, now, "bench_agent", "function_response", "", [],
                      [{"id": f"adk-{eid[:8]}", "name": "bump", "response": {"ok": i}}],
                      {"count": i})
        batch.append(e)
    trace.extend(batch)


def _timed(fn, repeats):
    """Median seconds of `fn()` over `repeats` runs (CPU time for a preempted run: see below)."""
    times = []
    for _ in range(repeats):
        gc.collect()
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        times.append(wall if cpu >= 0.9 * wall else cpu)
    return median(times), times


class _Recorded:
    """The DataFrame methods every runner/job/loaded trace has, over a bare trace."""
    def __init__(self, trace):
        from agentnb.core.recorded import Recorded
        self.obj = type("BenchRecorded", (Recorded,), {})()
        self.obj.trace = trace

    def history(self):
        return self.obj.history()

    def events(self):
        return self.obj.events()

    def timeline(self):
        return self.obj.timeline()


def _rss():
    try:
        import psutil
        return psutil.Process().memory_info().rss
    except Exception:
        return None


def run_history(quick: bool) -> dict:
    from agentnb.core.trace import Trace
    import pandas as pd
    # Three runs in both modes: the first call of a process pays for fresh memory (page
    # faults), which one quick run would quote alone; the first run is reported beside.
    repeats = 3
    mem_n = 200_000   # tracemalloc is slow; bytes per change are flat in n (RSS checks the 1M)

    # 1. bytes per change: tracemalloc while the trace is built (its own fresh trace).
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    probe = Trace()
    build(probe, mem_n)
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del probe
    gc.collect()

    # 2. the million, untraced: build time, RSS growth, then history() several times.
    rss0 = _rss()
    trace = Trace()
    t = time.perf_counter()
    build(trace, N)
    build_s = time.perf_counter() - t
    gc.collect()
    rss1 = _rss()
    rec = _Recorded(trace)
    times, walls, cpus, shape = [], [], [], None
    for _ in range(repeats):
        gc.collect()
        t, c = time.perf_counter(), time.process_time()
        df = rec.history()
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        # A run preempted by another process (CPU < 90% of wall) counts by its CPU time: the
        # call is single-threaded and CPU-bound, so that is its wall time on a quiet machine.
        times.append(wall if cpu >= 0.9 * wall else cpu)
        walls.append(wall)
        cpus.append(cpu)
        shape = df.shape
        del df
    # Baseline: pandas alone building the same 12 columns from ready lists (the floor for any
    # records -> DataFrame path), and the attribute extraction alone.
    records = trace.snapshot()
    t = time.perf_counter()
    cols = {name: [getattr(r, attr) for r in records] for name, attr in (
        ("session_id", "session_id"), ("invocation_id", "invocation_id"), ("event_id", "event_id"),
        ("seq", "seq"), ("timestamp", "time"), ("author", "author"), ("source", "source"),
        ("key", "key"), ("scope", "scope"), ("old", "old"), ("new", "new"),
        ("persisted", "persisted"))}
    extract_s = time.perf_counter() - t
    t = time.perf_counter()
    pd.DataFrame(cols)
    pandas_s = time.perf_counter() - t
    timeline_s, timeline_runs = _timed(rec.timeline, 1)
    del records, cols, trace, rec
    gc.collect()
    ev_trace = Trace()
    build_events(ev_trace, N_EVENTS)
    events_s, events_runs = _timed(_Recorded(ev_trace).events, repeats)
    return {
        "history_1m_s": rnd(median(times), 3),
        "events_100k_s": rnd(events_s, 3),
        "timeline_1m_s": rnd(timeline_s, 3),
        "history_bytes_per_change": rnd(traced / mem_n, 1),
        "details": {"history": {
            "workload": f"{N:,} StateChange records (5 per event, 40 per invocation, int values) "
                        f"-> Recorded.history(); median of {repeats}",
            "history_s_runs": [rnd(x, 3) for x in times], "shape": list(shape),
            "history_first_call_s": rnd(times[0], 3),
            "history_wall_s_runs": [rnd(x, 3) for x in walls],
            "history_cpu_s_runs": [rnd(x, 3) for x in cpus],
            "bytes_per_change_measured_on": mem_n,
            "rss_bytes_per_change": rnd((rss1 - rss0) / N, 1) if rss0 and rss1 else None,
            "trace_build_s": rnd(build_s, 3),
            "baseline_extract_attrs_s": rnd(extract_s, 3),
            "baseline_pandas_from_lists_s": rnd(pandas_s, 3),
            "events_workload": f"{N_EVENTS:,} Event records (user, 3 calls + 3 responses, reply "
                               "per invocation) -> Recorded.events()",
            "events_s_runs": [rnd(x, 3) for x in events_runs],
            "timeline_s_runs": [rnd(x, 3) for x in timeline_runs],
        }},
    }
