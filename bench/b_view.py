"""One live dashboard while a synthetic source appends records to its trace from a thread.

The source appends `Event` and `StateChange` records one by one at a steady rate; the view
follows on this process's asyncio loop, its widget on a CountingComm. We count what the widget
sends during the burst, how late the loop ran meanwhile (what a kernel user would feel), and
check that the final state equals a fresh rendering of the whole trace.
"""
from __future__ import annotations

import asyncio
import threading
import time
import uuid

from _common import COMMS, install_headless_comm, quantiles, rnd

RATE = 5000   # records per second
TAIL_S = 0.25  # after the burst: the throttle's last message is sent within it


def _source(trace, seconds, rate, stop, counter):
    from agentnb.core.records import Event, StateChange
    sid = "s-bench"
    start = time.perf_counter()
    n = 0
    inv = event_id = None
    values = {}
    while not stop.is_set():
        due = int((time.perf_counter() - start) * rate)
        if n >= seconds * rate:
            break
        while n < min(due, seconds * rate):
            now = time.time()
            if n % 50 == 0:
                inv = f"e-{uuid.uuid4()}"
            if n % 2 == 0:
                event_id = str(uuid.uuid4())
                trace.append(Event(sid, inv, event_id, now, "bench_agent", "function_call",
                                   "", [{"id": f"adk-{event_id[:8]}", "name": "bump",
                                         "args": {"i": n}}]))
            else:
                key = f"counter_{n % 20}"
                old = values.get(key)
                values[key] = n
                trace.append(StateChange(sid, inv, event_id, now, "bench_agent", "tool:bump", key,
                                         "session", old, n, True, "ToolContext"))
            n += 1
        counter[0] = n
        time.sleep(0.001)
    counter[0] = n


def run_view(quick: bool) -> dict:
    install_headless_comm()
    seconds = 3 if quick else 10
    from agentnb.core.render.sections import Sections
    from agentnb.core.trace import Trace
    from agentnb.jupyter.views import DashboardView

    async def main():
        loop = asyncio.get_running_loop()
        trace = Trace()
        view = DashboardView(trace, title="bench")
        widget = view.widget
        comm = COMMS[-1]
        open_bytes = comm.open_bytes
        view.follow(loop)
        # Loop lag: a 10 ms ticker; how late it runs is how long the loop was busy.
        lags = []
        ticking = True

        async def ticker():
            while ticking:
                t = time.perf_counter()
                await asyncio.sleep(0.01)
                lags.append(time.perf_counter() - t - 0.01)
        tick_task = asyncio.create_task(ticker())
        stop, counter = threading.Event(), [0]
        thread = threading.Thread(target=_source, args=(trace, seconds, RATE, stop, counter),
                                  name="bench-source")
        cpu0, t0 = time.process_time(), time.perf_counter()
        thread.start()
        while thread.is_alive():
            await asyncio.sleep(0.02)
        t_end = time.perf_counter()
        await asyncio.sleep(TAIL_S)        # the throttle's last tick
        cpu = time.process_time() - cpu0
        ticking = False
        await tick_task
        burst = [(t, b, d) for t, b, d in comm.sent if t0 <= t <= t_end + TAIL_S]
        duration = t_end - t0
        # The rates are of the messages sent in the burst and its tail, over that same window:
        # over the burst alone, the tail's message made a 3 s burst 10.3 msgs/s (10 s: 9.8).
        window = duration + TAIL_S
        view.finish()
        final = list(comm.sent)

        rows_patched = 0
        for _, _, data in final:
            if data.get("method") == "custom" and data.get("content", {}).get("kind") == "agentnb-patch":
                for op in data["content"]["ops"]:
                    if op.get("op") == "append":
                        rows_patched += len(op["html"]) + int(op.get("skipped", 0))
        fresh = Sections(None, "bench")
        fresh.add(trace.snapshot())
        n = len(trace)
        html_ok = widget.html == fresh.html(style=False)   # the page's stylesheet is separate
        counts_ok = sum(view.sections.counts.values()) == n and view.cursor == n
        ok = bool(html_ok and counts_ok and rows_patched == n)
        sizes = [b for _, b, _ in burst]
        return {
            "view_msgs_per_s": rnd(len(burst) / window, 2),
            "view_bytes_per_s": rnd(sum(sizes) / window, 0),
            "view_final_state_ok": ok,
            "details": {"view": {
                "workload": f"{RATE} records/s (Event and StateChange alternating, one append "
                            f"each) for {seconds} s from a thread; DashboardView following on "
                            f"an asyncio loop; widget on a counting comm",
                "records": n, "achieved_rate": rnd(n / duration, 0),
                "messages": len(burst), "bytes": sum(sizes),
                "bytes_per_message_quantiles": quantiles(sizes),
                "widget_open_bytes": open_bytes,
                "rows_patched": rows_patched,
                "final_html_equals_fresh_render": html_ok,
                "view_counted_every_record": counts_ok,
                "loop_lag_ms_quantiles": [rnd(x * 1e3, 2) for x in quantiles(lags) or []],
                "loop_lag_ms_max": rnd(max(lags) * 1e3, 1) if lags else None,
                "process_cpu_share_during_burst": rnd(cpu / window, 3),
                "baseline": "unthrottled, one message per record would be "
                            f"{RATE} msgs/s; the Jupyter server drops iopub above 1000 msgs/s "
                            "or 1 MB/s",
            }},
        }
    return asyncio.run(main())
