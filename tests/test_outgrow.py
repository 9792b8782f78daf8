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


ANOTHER_PROCESS = """
import asyncio, sys
from google.adk.agents import LlmAgent
from google.adk.sessions import DatabaseSessionService
from google.adk.tools import ToolContext
from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply

def remember(drink: str, tool_context: ToolContext) -> dict:
    "Remember a drink."
    tool_context.state["user:drink"] = drink
    tool_context.state["app:orders"] = tool_context.state.get("app:orders", 0) + 1
    tool_context.state["last"] = drink
    return {"ok": drink}

async def main(url, session_id, drinks):
    steps = [s for d in drinks for s in (call("remember", drink=d), reply("ok"))]
    runner = NotebookRunner(LlmAgent(name="barista", model=ScriptedLlm(steps), tools=[remember]),
                            app_name="cafe", user_id="ada", session_id=session_id, display=False,
                            session_service=DatabaseSessionService(url))
    for drink in drinks:
        await runner.ask(f"a {drink}")

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
"""


def test_a_new_kernel_rebuilds_a_sessions_history_from_postgresql_and_sees_another_process(postgres, tmp_path):
    """Another process writes a session into PostgreSQL; a runner here rebuilds its history
    from the database alone, and `sync()` shows that process's later app:/user: writes."""
    import subprocess
    import sys

    def other_process(session_id, *drinks):
        script = tmp_path / "other.py"
        script.write_text(ANOTHER_PROCESS)
        done = subprocess.run([sys.executable, str(script), postgres.url, session_id, *drinks],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]

    def replayed(history):
        state = {}
        for row in history[history.persisted].itertuples():
            state[row.key] = row.new
        return state

    other_process("elsewhere-1", "tea", "coffee")

    async def go():
        service = DatabaseSessionService(postgres.url)
        runner = NotebookRunner(LlmAgent(name="barista", model=ScriptedLlm([])), app_name="cafe",
                                user_id="ada", session_id="elsewhere-1", display=False,
                                session_service=service)
        await runner.sync()                      # the database alone
        rebuilt = runner.history(reveal=True)
        first_state = dict((await runner.get_session()).state)
        other_process("elsewhere-2", "cocoa")    # the other process, its own session
        await runner.sync()
        return runner, rebuilt, first_state, dict((await runner.get_session()).state)

    runner, rebuilt, first_state, later_state = run(go())
    assert [(r.key, r.new) for r in rebuilt.itertuples() if r.key == "last"] == \
        [("last", "tea"), ("last", "coffee")]                  # the full history, in order
    assert replayed(rebuilt) == first_state                       # the replay invariant
    history = runner.history(reveal=True)
    assert later_state["user:drink"] == "cocoa" and later_state["app:orders"] == 3
    assert replayed(history) == later_state
    assert set(history.source) <= {"external", "initial"}
