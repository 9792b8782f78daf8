"""LiveKit: `NotebookJob.ask` turns against bare text-only `AgentSession.run` turns.

Both sides get the same agent class, tool and scripted LLM (agentnb's `ScriptedLLM`: three tool
calls, then a reply, per turn) and their own userdata; the job runs on LiveKit's console/fake-job
path (no server), the bare session in this loop with no room. Rounds interleave the two, over
three conversations (fresh sessions on both sides), as a round's cost grows with its
conversation's length; quick mode runs the same (its verdicts must be the full mode's). When
`agentnb.livekit` is not usable the ratio is null with the reason, and the bare side still runs
(with a bench-local scripted LLM) so the baseline is known.
"""
# No `from __future__ import annotations`: LiveKit reads the tool's annotations (RunContext).

import asyncio
import json
import os
import time
import uuid
from dataclasses import dataclass

from _common import Clock, Rounds, median, quiet_logs, rnd

CONVERSATIONS = 3


@dataclass
class Counter:
    count: int = 0


def _steps(turns):
    from agentnb.livekit import call, reply
    return [call("bump", i=0), call("bump", i=1), call("bump", i=2), reply("done")] * turns


def _agent_class():
    from livekit.agents import Agent, RunContext, function_tool

    @function_tool
    async def bump(ctx: RunContext, i: int) -> dict:
        """Add one to the session's counter."""
        ctx.userdata.count += 1
        return {"ok": i, "count": ctx.userdata.count}

    class BenchAgent(Agent):
        def __init__(self):
            super().__init__(instructions="Count.", tools=[bump])
    return BenchAgent


def _local_llm():
    """A scripted LiveKit LLM for the bare baseline when agentnb.livekit is missing."""
    from livekit.agents import llm as lkllm
    from livekit.agents.llm import ChatChunk, ChoiceDelta, FunctionToolCall
    from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS

    class Stream(lkllm.LLMStream):
        def __init__(self, owner, *, chat_ctx, tools, conn_options, step):
            super().__init__(owner, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
            self._step = step

        async def _run(self):
            i = self._step
            if i < 3:
                delta = ChoiceDelta(role="assistant", tool_calls=[FunctionToolCall(
                    name="bump", arguments=json.dumps({"i": i}), call_id=f"c-{uuid.uuid4().hex[:8]}")])
            else:
                delta = ChoiceDelta(role="assistant", content="done")
            self._event_ch.send_nowait(ChatChunk(id=uuid.uuid4().hex, delta=delta))

    class BenchLLM(lkllm.LLM):
        def __init__(self):
            super().__init__()
            self.n = 0

        def chat(self, *, chat_ctx, tools=None, conn_options=DEFAULT_API_CONNECT_OPTIONS, **kw):
            step, self.n = self.n % 4, self.n + 1
            return Stream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options,
                          step=step)
    return BenchLLM()


class BareSide:
    def __init__(self, llm, agent_cls):
        self.llm, self.agent_cls = llm, agent_cls
        self.session = None
        self.userdata = Counter()
        self.turns = 0

    async def start(self):
        from livekit.agents import AgentSession
        self.session = AgentSession(llm=self.llm, vad=None, turn_handling={"turn_detection": None},
                                    userdata=self.userdata)
        await self.session.start(self.agent_cls())

    async def run(self, k):
        for _ in range(k):
            await self.session.run(user_input="go")
        self.turns += k

    async def close(self):
        await self.session.aclose()


class JobSide:
    def __init__(self, llm, agent_cls):
        from agentnb.livekit import NotebookJob
        self.userdata = Counter()
        self.turns = 0
        self.job = NotebookJob(agent=agent_cls(), llm=llm, userdata=self.userdata, room="bench",
                               display=False)

    async def start(self):
        await self.job.start()

    async def run(self, k):
        for _ in range(k):
            await self.job.ask("go")
        self.turns += k

    async def close(self):
        await asyncio.wait_for(self.job.aclose(), 10)


def run_livekit(quick: bool) -> dict:
    quiet_logs()
    for var in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        os.environ.pop(var, None)      # the console/fake-job path, never a server
    # A conversation's turns get dearer as its chat context grows, so more rounds would change
    # the workload: the rounds come instead from CONVERSATIONS pairs of fresh sessions, each
    # 40 rounds long (as in b_adk, quick and full alike: same verdicts).
    rounds, per_round, warm = 40, 4, 3
    total = warm + rounds * per_round + 2
    reason = None
    try:
        from agentnb.livekit import NotebookJob, ScriptedLLM  # noqa: F401
    except Exception as exc:
        reason = f"agentnb.livekit is not usable yet: {type(exc).__name__}: {exc}"

    builds = []   # agentnb's: the records its handlers kept, built at the read after a round

    async def conversation(ab, first_round):
        agent_cls = _agent_class()
        if reason is None:
            sides = {"bare": BareSide(ScriptedLLM(_steps(total)), agent_cls),
                     "agentnb": JobSide(ScriptedLLM(_steps(total)), agent_cls)}
        else:
            sides = {"bare": BareSide(_local_llm(), agent_cls)}
        for side in sides.values():
            await side.start()
            await side.run(warm)
        try:
            for r in range(first_round, first_round + (rounds if reason is None else 8)):
                for name in ab.order(r):
                    with Clock() as c:
                        await sides[name].run(per_round)
                    ab.record(name, c.wall, c.cpu)
                    if name == "agentnb":
                        t = time.perf_counter()
                        len(sides[name].job.trace)
                        builds.append(time.perf_counter() - t)
        finally:
            for side in sides.values():
                try:
                    await side.close()
                except Exception:
                    pass
        return sides

    async def main():
        ab = Rounds(["bare", "agentnb"] if reason is None else ["bare"], "bare")
        conversations = []
        for n in range(CONVERSATIONS if reason is None else 1):
            conversations.append(await conversation(ab, n * rounds))
        bare_ms = rnd(median(ab.wall["bare"]) / per_round * 1e3, 2)
        if reason is not None:
            return {"livekit_overhead_ratio": None,
                    "notes": {"livekit_overhead_ratio": reason},
                    "details": {"livekit": {"reason": reason, "bare_ms_per_turn": bare_ms,
                                            "bare_rounds": len(ab.wall["bare"])}}}
        ratios = ab.ratios("agentnb")
        jobs = [sides["agentnb"] for sides in conversations]
        return {
            "livekit_overhead_ratio": ab.summary("agentnb")["median"],
            "details": {"livekit": {
                "workload": f"{len(conversations)} conversations of {rounds} rounds x "
                            f"{per_round} turns per side, 3 tool calls + reply per turn, "
                            "ScriptedLLM, text only, no room",
                "agentnb": ab.summary("agentnb"), "bare_ms_per_turn": bare_ms,
                # As in b_adk: a turn keeps what it saw, and the trace's next read (a view's
                # refresh, a DataFrame) builds it, outside the turn.
                "build_at_read_us_per_turn": rnd(median(builds) / per_round * 1e6, 1),
                "build_at_read_share": rnd(sum(builds) / sum(ab.wall["agentnb"]), 4),
                "median_per_conversation": [rnd(median(ratios[i * rounds:(i + 1) * rounds]), 4)
                                            for i in range(len(conversations))],
                "records_per_turn": rnd(sum(len(j.job.trace) for j in jobs)
                                        / max(sum(j.turns for j in jobs), 1), 1),
                "tool_calls_per_turn": {n: rnd(s.userdata.count / max(s.turns, 1), 2)
                                        for n, s in conversations[-1].items()},
                "observer_errors": sum(j.job.observer.failures for j in jobs)}},
        }
    return asyncio.run(main())
