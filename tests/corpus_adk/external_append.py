"""State written outside the runner, the docs' own pattern (sessions/state.md):
`session_service.append_event(session, Event(author=..., actions=EventActions(state_delta=...)))`,
then the agent runs again and reads it."""
from google.adk.agents import LlmAgent

from agentnb.adk import ScriptedLlm, reply

from . import Case, External


def build() -> Case:
    agent = LlmAgent(
        name="status_agent",
        model=ScriptedLlm([reply("Logged in."), reply("You are a gold member."), reply("Your task is done.")]),
        instruction="The user's tier is {user:tier?}; their task status is {task_status?}.",
        output_key="last_reply")
    return Case(
        name="external_append", root=agent,
        turns=["log me in",
               External({"task_status": "active", "user:tier": "gold", "temp:scratch": 1}),
               "what is my tier?",
               External({"task_status": "done"}, sync=False),
               "and now?"],
        statuses=["ok", "ok", "ok"],
        sources=[("task_status", "external"), ("user:tier", "external"),
                 ("last_reply", "output_key:status_agent")],
        notes="Issue 20 item 7: the external event is recorded with source='external'.",
    )
