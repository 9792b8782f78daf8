"""The README's "Outgrow one notebook" code, run as written against the real services of
services.py: the same LiveKit job on a real server (as on LiveKit Cloud: a URL, a key and a
secret), and the same ADK runner with its sessions in PostgreSQL."""
from __future__ import annotations

import asyncio
import gc

import pytest
from google.adk.agents import LlmAgent
from google.adk.sessions import DatabaseSessionService
from google.adk.tools import ToolContext
from livekit.agents import Agent, AgentSession, JobContext

from agentnb.adk import NotebookRunner, ScriptedLlm
from agentnb.adk import call as adk_call
from agentnb.adk import reply as adk_reply
from agentnb.livekit import NotebookJob, ScriptedLLM, reply


def run(coro, timeout: float = 120):
    try:
        return asyncio.run(asyncio.wait_for(coro, timeout))
    finally:
        gc.collect()


@pytest.mark.filterwarnings("ignore:The HMAC key is")
def test_the_same_livekit_job_on_a_real_server(livekit_server, monkeypatch):
    async def entrypoint(ctx: JobContext):
        session = AgentSession()
        await session.start(agent=Agent(instructions="You are helpful."), room=ctx.room)

    async def go():
        # the README: the URL and keys from the environment, as for LiveKit Cloud
        monkeypatch.setenv("LIVEKIT_URL", livekit_server.url)
        monkeypatch.setenv("LIVEKIT_API_KEY", livekit_server.api_key)
        monkeypatch.setenv("LIVEKIT_API_SECRET", livekit_server.api_secret)
        job = NotebookJob(entrypoint=entrypoint, llm=ScriptedLLM([reply("Hello from the room.")]))
        result = await job.ask("hello")
        room = job.context.room
        await job.aclose()
        return job, result, room

    job, result, room = run(go())
    assert job.mode == f"LiveKit server at {livekit_server.url}"
    assert result.events[-1].item.text_content == "Hello from the room."
    assert room.name == "agentnb" and not job.context.is_fake_job()


def remember(drink: str, tool_context: ToolContext) -> dict:
    """Remember the user's drink."""
    tool_context.state["user:drink"] = drink
    return {"saved": drink}


def test_the_same_adk_runner_with_its_sessions_in_postgresql(postgres):
    def agent(steps):
        return LlmAgent(name="concierge", model=ScriptedLlm(steps), tools=[remember])

    async def go():
        # the README: ADK's own DatabaseSessionService on a PostgreSQL URL
        runner = NotebookRunner(agent([adk_call("remember", drink="tea"), adk_reply("Saved.")]),
                                app_name="demo", user_id="u1", display=False,
                                session_service=DatabaseSessionService(postgres.url))
        await runner.ask("I like tea")
        # another kernel: its own service on the same database, a new session of the same user
        elsewhere = NotebookRunner(agent([adk_reply("You like tea.")]), app_name="demo",
                                   user_id="u1", display=False,
                                   session_service=DatabaseSessionService(postgres.url))
        await elsewhere.new_session()
        seen = dict((await elsewhere.get_session()).state)
        return runner, seen

    runner, seen = run(go())
    history = runner.history()
    assert [(r.key, r.scope, r.new) for r in history.itertuples()] == [("user:drink", "user", "tea")]
    assert seen["user:drink"] == "tea"
