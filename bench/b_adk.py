"""ADK: agentnb's recording, its live dashboard, and the peers (ADK's OpenTelemetry spans, Phoenix's
OpenInference), each against bare ADK in the same rounds.

Every variant gets its own identical agent, scripted model and in-memory services. A round runs
`per_round` invocations of each variant (3 tool calls and a reply each) in a fresh session, in a
rotating order; ratios are per round against bare ADK, then the median over rounds.
"""
from __future__ import annotations

import asyncio
import cProfile
import gc
import io
import pstats
import time

from _peers import make_peer_sides
from _common import Clock, Rounds, install_headless_comm, quantiles, quiet_logs, rnd, median

APP = "bench"
TOOL_CALLS = 3


def bump(i: int, tool_context) -> dict:
    """Add one to the session's counter and say which call this was."""
    tool_context.state["count"] = tool_context.state.get("count", 0) + 1
    return {"ok": i, "count": tool_context.state["count"]}


def make_agent(invocations):
    """A fresh LlmAgent whose ScriptedLlm has steps for `invocations` invocations (each: three
    tool calls, then a reply)."""
    from google.adk.agents import LlmAgent
    from agentnb.adk import ScriptedLlm, call, reply
    steps = [call("bump", i=0), call("bump", i=1), call("bump", i=2), reply("done")] * invocations
    return LlmAgent(name="bench_agent", model=ScriptedLlm(steps), instruction="Count.", tools=[bump])


def make_bare(invocations, plugins=()):
    """The baseline of the issue: ADK's own Runner on an App, same services, no agentnb."""
    from google.adk.apps.app import App
    from google.adk.artifacts import InMemoryArtifactService
    from google.adk.runners import Runner
    from google.adk.sessions import InMemorySessionService
    return Runner(app=App(name=APP, root_agent=make_agent(invocations), plugins=list(plugins)),
                  session_service=InMemorySessionService(),
                  artifact_service=InMemoryArtifactService())


def make_noop_plugin():
    """A plugin overriding the hooks agentnb's observer overrides, each doing nothing: what
    ADK's plugin machinery alone costs any recorder built on it (the floor under agentnb's
    overhead)."""
    from google.adk.plugins.base_plugin import BasePlugin
    from agentnb.adk import AdkObserver

    async def nothing(self, **kwargs):
        return None
    hooks = {n: nothing for n in dir(BasePlugin)
             if n.endswith("_callback") and getattr(AdkObserver, n) is not getattr(BasePlugin, n)}
    return type("NoopPlugin", (BasePlugin,), hooks)(name="noop")


def make_copy_plugin():
    """A plugin that, at each hook agentnb's observer overrides, only takes the copies its
    records need (the time, the state, the delta a provenance mark compares, a tool's args
    and result, an event's delta) and keeps them in a list: what any recorder of the same
    facts pays before it builds a single record (a floor under agentnb's overhead)."""
    from google.adk.plugins.base_plugin import BasePlugin
    from agentnb.core.values import copy_value
    now = time.time

    class CopyPlugin(BasePlugin):
        def __init__(self):
            super().__init__(name="copies")
            self.kept = []

        async def on_user_message_callback(self, *, invocation_context, user_message):
            ic = invocation_context
            self.kept.append((now(), dict(ic.session.state), ic.end_invocation,
                              len(ic.session.events)))

        async def before_run_callback(self, *, invocation_context):
            self.kept.append((now(), dict(invocation_context.session.state)))

        async def after_run_callback(self, *, invocation_context):
            self.kept.append((now(), invocation_context.end_invocation))

        async def on_event_callback(self, *, invocation_context, event):
            actions = event.actions
            self.kept.append((now(), event, copy_value(dict(actions.state_delta)),
                              dict(actions.artifact_delta)))

        async def before_agent_callback(self, *, agent, callback_context):
            self._context(callback_context)

        after_agent_callback = before_agent_callback

        async def before_model_callback(self, *, callback_context, llm_request):
            self._context(callback_context, len(llm_request.contents or ()),
                          list(getattr(llm_request, "tools_dict", None) or ()))

        async def after_model_callback(self, *, callback_context, llm_response):
            self._context(callback_context)

        async def before_tool_callback(self, *, tool, tool_args, tool_context):
            self._context(tool_context, copy_value(tool_args))

        async def after_tool_callback(self, *, tool, tool_args, tool_context, result):
            self._context(tool_context, copy_value(result))

        def _context(self, ctx, *extra):
            # The session's state, as agentnb reads it (not through ADK's `State`).
            state = dict(ctx._invocation_context.session.state)
            self.kept.append((now(), ctx, state, dict(ctx.actions.state_delta), *extra))
    return CopyPlugin()


def make_nb(invocations):
    from google.adk.artifacts import InMemoryArtifactService
    from google.adk.sessions import InMemorySessionService
    from agentnb.adk import NotebookRunner
    return NotebookRunner(make_agent(invocations), app_name=APP, user_id="u", display=False,
                          session_service=InMemorySessionService(),
                          artifact_service=InMemoryArtifactService())


class BareSide:
    def __init__(self, runner):
        self.runner = runner
        self.sid = None

    async def new_session(self):
        s = await self.runner.session_service.create_session(app_name=APP, user_id="u")
        self.sid = s.id

    async def run(self, k):
        from google.genai import types
        for _ in range(k):
            # Built per invocation, as NotebookRunner.ask builds it from the str.
            msg = types.Content(role="user", parts=[types.Part(text="go")])
            async for _ in self.runner.run_async(user_id="u", session_id=self.sid, new_message=msg):
                pass

    async def count(self):
        """The counter the tool keeps in this side's current session (3 per invocation)."""
        s = await self.runner.session_service.get_session(app_name=APP, user_id="u",
                                                          session_id=self.sid)
        return s.state.get("count", 0)


class NbSide:
    def __init__(self, nb, view=None):
        self.nb, self.view = nb, view

    async def new_session(self):
        await self.nb.new_session()

    async def count(self):
        return (await self.nb.get_session()).state.get("count", 0)

    async def run(self, k):
        for _ in range(k):
            await self.nb.ask("go")
        if self.view is not None:
            # Inside the timing: whatever the throttle has not flushed yet is this variant's work.
            self.view.flush()


# --- instrumentation for the self-time share -----------------------------------------------------

class SelfTime:
    """Wraps a plugin's hook methods (on the instance), and optionally a trace's `extend` and a
    runner's `run_async`, with perf_counter accumulation; nested calls count once (the
    outermost). Counts only while `on`: the side turns it on around its timed runs, so the
    builds and appends at the reads between them (outside the run) are not counted as time
    inside it. On a no-op plugin it measures its own cost per hook (the floor `run_adk`
    subtracts, as cProfile's calibration does)."""

    def __init__(self, plugin, trace=None, adk_runner=None):
        from agentnb.adk import AdkObserver
        from google.adk.plugins.base_plugin import BasePlugin
        self.total = 0.0
        self.per_hook: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.run_async = 0.0
        self.on = False
        self._depth = 0
        # Collections of the GC that start inside a hook (counted in its time, and set off by
        # whichever allocation crosses the threshold, ADK's garbage included).
        self.gc_in_hooks, self.gc_runs_in_hooks = 0.0, 0
        self._gc_started = None
        gc.callbacks.append(self._gc)
        hooks = [n for n in dir(BasePlugin) if n.endswith("_callback")]
        for name in hooks:
            if getattr(AdkObserver, name) is getattr(BasePlugin, name):
                continue   # not overridden: ADK's own no-op
            setattr(plugin, name, self._wrap_async(getattr(plugin, name), name))
        if trace is not None:
            trace.extend = self._wrap_sync(trace.extend, "Trace.extend")
        if adk_runner is not None:
            self._time_run_async(adk_runner)

    def _time_run_async(self, adk):
        """Time inside ADK's run_async too: ask() minus that is the wrapper's own cost."""
        orig = adk.run_async
        outer = self

        async def run_async(**kwargs):
            agen = orig(**kwargs)
            pc = time.perf_counter
            while True:
                t = pc()
                try:
                    event = await agen.__anext__()
                except StopAsyncIteration:
                    event = None
                if outer.on:
                    outer.run_async += pc() - t
                if event is None:
                    return
                yield event
        adk.run_async = run_async

    def _gc(self, phase, info):
        if phase == "start":
            self._gc_started = time.perf_counter() if self.on and self._depth else None
        elif self._gc_started is not None:
            self.gc_in_hooks += time.perf_counter() - self._gc_started
            self.gc_runs_in_hooks += 1

    def start(self):
        self.on = True

    def stop(self):
        self.on = False

    def _account(self, name, dt):
        if not self.on:
            return
        self.per_hook[name] = self.per_hook.get(name, 0.0) + dt
        self.calls[name] = self.calls.get(name, 0) + 1
        if self._depth == 0:
            self.total += dt

    def _wrap_async(self, fn, name):
        pc = time.perf_counter

        async def hook(*args, **kwargs):
            t = pc()
            self._depth += 1
            try:
                return await fn(*args, **kwargs)
            finally:
                self._depth -= 1
                self._account(name, pc() - t)
        return hook

    def _wrap_sync(self, fn, name):
        pc = time.perf_counter

        def wrapped(*args, **kwargs):
            t = pc()
            self._depth += 1
            try:
                return fn(*args, **kwargs)
            finally:
                self._depth -= 1
                self._account(name, pc() - t)
        return wrapped

    def reset(self):
        self.total, self.run_async = 0.0, 0.0
        self.gc_in_hooks, self.gc_runs_in_hooks = 0.0, 0
        self.per_hook.clear()
        self.calls.clear()


# --- the groups ----------------------------------------------------------------------------------

async def _timed(side, k):
    """Run `k` invocations of a side in a fresh session; (wall, cpu) of the runs alone (a peer's
    instrumenting and its exporter's draining are outside the clock)."""
    await side.new_session()
    getattr(side, "prepare", lambda: None)()
    try:
        with Clock() as c:
            await side.run(k)
    finally:
        getattr(side, "done", lambda: None)()
    getattr(side, "drain", lambda: None)()
    return c


def _overhead_vs(ours, peers):
    """agentnb's overhead ÷ the cheapest peer's (both as ratio − 1); None when no peer costs
    anything measurable (a ratio at or below 1 cannot be divided by)."""
    best = min((p for p in peers if p is not None), default=None)
    if ours is None or best is None or best <= 1.0:
        return None
    return (ours - 1.0) / (best - 1.0)


def run_adk(quick: bool) -> dict:
    quiet_logs()
    install_headless_comm()
    import _common
    # Quick mode keeps the full rounds: with fewer, its verdicts on these ratios were not the
    # full mode's (8 rounds gave 1.018-1.12 where 50 gave 1.07-1.09). It skips the profile.
    rounds, per_round, warm = (50, 4, 3) if quick else (50, 4, 5)
    total = warm + rounds * per_round + 2

    async def main():
        from agentnb.jupyter.views import DashboardView
        bare = BareSide(make_bare(total))
        nb = NbSide(make_nb(total))
        nb_view_runner = make_nb(total)
        view = DashboardView(nb_view_runner.trace, title="bench")
        _ = view.widget                   # opens its comm (a CountingComm)
        view.follow(asyncio.get_running_loop())
        nbv = NbSide(nb_view_runner, view)
        instr_runner = make_nb(total)
        selftime = SelfTime(instr_runner.observer, instr_runner.trace, instr_runner.adk_runner)
        instr = NbSide(instr_runner)
        instr.prepare, instr.done = selftime.start, selftime.stop   # `_timed` calls these around its clock
        # The instrument's own cost per hook: the same wrappers around a plugin doing nothing.
        floor_plugin = make_noop_plugin()
        floor = SelfTime(floor_plugin)
        calibration = BareSide(make_bare(total, plugins=[floor_plugin]))
        calibration.prepare, calibration.done = floor.start, floor.stop
        sides = {"bare": bare, "agentnb": nb, "agentnb+view": nbv, "agentnb(instrumented)": instr,
                 "noop_plugin": BareSide(make_bare(total, plugins=[make_noop_plugin()])),
                 "copy_plugin": BareSide(make_bare(total, plugins=[make_copy_plugin()])),
                 "noop_plugin(instrumented)": calibration,
                 **make_peer_sides(BareSide, make_bare, total)}
        for side in sides.values():       # the first invocation costs ~0.6 s: not measured
            await _timed(side, warm)
            getattr(side, "reset", lambda: None)()
        selftime.reset()
        floor.reset()
        comm = _common.COMMS[-1]
        sent_before = len(comm.sent)
        instr_rounds, instr_walls, builds = [], [], []
        floor_rounds: dict[str, list[float]] = {}   # hook -> its floor per call, each round
        ab = Rounds(list(sides), "bare")
        for r in range(rounds):
            for name in ab.order(r):
                side = sides[name]
                if side is instr:
                    before_self, before_async = selftime.total, selftime.run_async
                    before_calls = dict(selftime.calls)
                elif side is calibration:
                    before_floor = dict(floor.per_hook), dict(floor.calls)
                c = await _timed(side, per_round)
                ab.record(name, c.wall, c.cpu)
                if side is instr:
                    # The hooks keep what they saw; the records are built at the next read.
                    t = time.perf_counter()
                    len(instr_runner.trace)
                    builds.append(time.perf_counter() - t)
                    instr_rounds.append((c.wall, selftime.total - before_self, {
                        k: n - before_calls.get(k, 0) for k, n in selftime.calls.items()}))
                    instr_walls.append((c.wall, selftime.run_async - before_async,
                                        selftime.total - before_self))
                elif side is calibration:
                    for k, n in floor.calls.items():
                        if n > before_floor[1].get(k, 0):
                            floor_rounds.setdefault(k, []).append(
                                (floor.per_hook[k] - before_floor[0].get(k, 0.0))
                                / (n - before_floor[1].get(k, 0)))
        # Per hook, the median over rounds: a GC pass or a stall of the machine inside one
        # no-op hook would make a mean of the floor larger than the hooks it is taken from.
        floor_s = {k: median(v) for k, v in floor_rounds.items()}
        raw_shares = [spent / wall for wall, spent, _ in instr_rounds]
        shares = [(spent - sum(n * floor_s.get(k, 0.0) for k, n in calls.items())) / wall
                  for wall, spent, calls in instr_rounds]
        floor_calls = sum(floor.calls.values())
        tool_calls = {n: await s.count() / per_round for n, s in sides.items()}
        msgs = comm.sent[sent_before:]
        n_inv = rounds * per_round
        timed_instr = sum(w for w, _, _ in instr_walls)
        outside = sum(w - a for w, a, _ in instr_walls)
        hooks = {k: {"calls": selftime.calls[k], "us_per_call": rnd(v / selftime.calls[k] * 1e6, 1),
                     "share": rnd(v / timed_instr)}
                 for k, v in sorted(selftime.per_hook.items(), key=lambda kv: -kv[1])}
        profile = await _profile_nb(make_nb(40), 30) if not quick else None
        records_per_inv = len(nb.nb.trace) / (warm + n_inv)
        ours = ab.summary("agentnb")["median"]
        peers = {name: ab.summary(name)["median"] for name in ("otel", "openinference")}
        return {
            "adk_overhead_ratio": ours,
            "adk_self_time_share": rnd(median(shares)),
            "adk_view_overhead_ratio": ab.summary("agentnb+view")["median"],
            "adk_otel_overhead_ratio": peers["otel"],
            "adk_openinference_overhead_ratio": peers["openinference"],
            "adk_vs_best_peer": rnd(_overhead_vs(ours, peers.values()), 3),
            "details": {
                "adk": {
                    "workload": f"{n_inv} invocations per variant ({rounds} rounds x {per_round}, "
                                f"fresh session per round), {TOOL_CALLS} tool calls + 1 reply each, "
                                f"ScriptedLlm, in-memory services",
                    "bare_ms_per_invocation": rnd(median(ab.wall["bare"]) / per_round * 1e3, 2),
                    "agentnb": ab.summary("agentnb"),
                    "agentnb+view": ab.summary("agentnb+view"),
                    "agentnb(instrumented)": ab.summary("agentnb(instrumented)"),
                    "noop_plugin": ab.summary("noop_plugin"),
                    "copy_plugin": ab.summary("copy_plugin"),
                    **{name: ab.summary(name) for name in peers},
                    "spans_per_invocation": {name: rnd(sides[name].spans / max(
                        sides[name].invocations, 1), 1) for name in peers},
                    "self_time_share_quantiles": quantiles(shares),
                    "self_time_share_uncalibrated": rnd(median(raw_shares)),
                    "instrument_floor_us_per_hook": rnd(sum(
                        floor_s.get(k, 0.0) * n for k, n in floor.calls.items())
                        / floor_calls * 1e6, 2) if floor_calls else None,
                    "self_time_share_aggregate_uncalibrated": rnd(selftime.total / timed_instr),
                    "gc_in_hooks_share": rnd(selftime.gc_in_hooks / timed_instr),
                    "gc_runs_in_hooks_per_invocation": rnd(selftime.gc_runs_in_hooks / n_inv, 2),
                    "build_at_read_share": rnd(sum(builds) / timed_instr),
                    "build_at_read_us_per_invocation": rnd(sum(builds) / n_inv * 1e6, 0),
                    "ask_wrapper_share": rnd((outside) / timed_instr),
                    "hooks": hooks,
                    "records_per_invocation": rnd(records_per_inv, 1),
                    "tool_calls_per_invocation": tool_calls,
                    "view_msgs_per_invocation": rnd(len(msgs) / n_inv, 3),
                    "view_bytes_per_invocation": rnd(sum(b for _, b, _ in msgs) / n_inv, 0),
                    "profile_top_agentnb": profile,
                }
            },
        }
    return asyncio.run(main())


async def _profile_nb(nb, invocations):
    """cProfile of agentnb's functions during `invocations` recorded invocations (cProfile
    inflates call-heavy code: read it for where, not how much)."""
    await nb.new_session()
    await nb.ask("go")
    prof = cProfile.Profile()
    await nb.new_session()
    prof.enable()
    for i in range(invocations - 1):
        if i % 4 == 3:
            prof.disable()
            await nb.new_session()
            prof.enable()
        await nb.ask("go")
    prof.disable()
    stats = pstats.Stats(prof, stream=io.StringIO())
    total = stats.total_tt
    rows = []
    for (path, line, fn), (cc, nc, tt, ct, callers) in stats.stats.items():
        if "/agentnb/" in path and "/bench/" not in path:
            rows.append({"function": f"{path.split('/agentnb/')[-1]}:{line}({fn})",
                         "calls": nc, "tottime_share": rnd(tt / total), "cumtime_share": rnd(ct / total)})
    rows.sort(key=lambda r: -r["tottime_share"])
    return rows[:12]
