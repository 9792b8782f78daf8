"""A custom BaseAgent orchestrating two LLM agents, like the docs' StoryFlowAgent: it yields its
own events carrying `state_delta`, reads state its children wrote, and ends the invocation
(`ctx.end_invocation = True`) when the checker says STOP."""
from collections.abc import AsyncGenerator

from google.adk.agents import BaseAgent, LlmAgent
from google.adk.agents.invocation_context import InvocationContext
from google.adk.events import Event, EventActions
from google.genai import types

from agentnb.adk import ScriptedLlm, reply

from . import Case


class GatekeeperAgent(BaseAgent):
    """Counts visits, asks the checker, and runs the worker only when the checker says GO."""

    checker: LlmAgent
    worker: LlmAgent

    def __init__(self, name: str, checker: LlmAgent, worker: LlmAgent):
        super().__init__(name=name, checker=checker, worker=worker, sub_agents=[checker, worker])

    async def _run_async_impl(self, ctx: InvocationContext) -> AsyncGenerator[Event, None]:
        visits = ctx.session.state.get("visits", 0) + 1
        yield Event(author=self.name, invocation_id=ctx.invocation_id, branch=ctx.branch,
                    actions=EventActions(state_delta={"visits": visits}))
        async for event in self.checker.run_async(ctx):
            yield event
        if ctx.session.state.get("verdict", "").strip() == "STOP":
            yield Event(author=self.name, invocation_id=ctx.invocation_id, branch=ctx.branch,
                        content=types.Content(role="model", parts=[types.Part(text="Stopped.")]),
                        actions=EventActions(state_delta={"stopped_at_visit": visits}))
            ctx.end_invocation = True
            return
        async for event in self.worker.run_async(ctx):
            yield event


def build() -> Case:
    checker = LlmAgent(name="checker", model=ScriptedLlm([reply("GO"), reply("STOP")]),
                       instruction="Reply GO or STOP.", output_key="verdict")
    worker = LlmAgent(name="worker", model=ScriptedLlm([reply("Done the work.")]),
                      instruction="Do the work.", output_key="result")
    root = GatekeeperAgent(name="gatekeeper", checker=checker, worker=worker)
    return Case(
        name="custom_agent", root=root, turns=["first request", "second request"],
        statuses=["ok", "ok"],
        sources=[("visits", "event:gatekeeper"), ("verdict", "output_key:checker"),
                 ("result", "output_key:worker"), ("stopped_at_visit", "event:gatekeeper")],
        extra={"end_invocation_turn": 1},
    )
