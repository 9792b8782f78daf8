"""Issue 18 (5): `runner.stop()` cancels the task of a running invocation. ADK stops where it
is; what was recorded stays, and agrees with ADK's session; the run ends `interrupted`."""
from __future__ import annotations

import asyncio

import pytest
from google.adk.agents import LlmAgent
from google.adk.tools import ToolContext

from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply
from agentnb.adk.edits import STOPPED
from agentnb.core.failure import STOPPED_MARK


def slow_agent(started: asyncio.Event) -> LlmAgent:
    def note(text: str, tool_context: ToolContext) -> dict:
        """Notes something."""
        tool_context.state["note"] = text
        return {"ok": True}

    async def wait_forever(tool_context: ToolContext) -> dict:
        """Waits for something that never comes."""
        started.set()
        await asyncio.Event().wait()
        return {}
    return LlmAgent(name="slow", tools=[note, wait_forever], model=ScriptedLlm([
        call("note", text="before the wait"), call("wait_forever"), reply("never said")]))


def test_stop_cancels_the_run_and_keeps_what_it_recorded():
    async def go():
        started = asyncio.Event()
        runner = NotebookRunner(slow_agent(started), display=False)
        run = asyncio.ensure_future(runner.ask("go"))
        await asyncio.wait_for(started.wait(), 30)
        assert len(runner.running()) == 1
        stopped = runner.stop()
        with pytest.raises(asyncio.CancelledError) as caught:
            await run
        return runner, stopped, caught.value, await runner.get_session()
    runner, stopped, error, session = asyncio.run(go())
    assert getattr(error, STOPPED_MARK, False)
    row = runner.invocations().iloc[-1]
    assert (row.invocation_id, row.status, row.error) == (stopped, "interrupted", STOPPED)
    assert runner.running() == []
    # nothing lost: every event ADK stored is recorded, and the state folds to ADK's
    ours = set(runner.events().event_id)
    assert {e.id for e in session.events} <= ours
    history = runner.history(reveal=True)
    assert history[history.key == "note"].new.tolist() == ["before the wait"]
    assert session.state["note"] == "before the wait"
    # the session goes on: the next run works
    runner.agent.model = ScriptedLlm([reply("back")])
    assert asyncio.run(runner.ask("again")).text == "back"


def test_stop_says_what_it_cannot_stop():
    runner = NotebookRunner(LlmAgent(name="idle", model=ScriptedLlm([reply("x")])), display=False)
    with pytest.raises(ValueError, match="no run is going on"):
        runner.stop()
    with pytest.raises(ValueError, match="'e-nope' is not running"):
        runner.stop("e-nope")


def test_set_state_waits_for_the_run_to_end():
    async def go():
        started = asyncio.Event()
        runner = NotebookRunner(slow_agent(started), display=False)
        run = asyncio.ensure_future(runner.ask("go"))
        await asyncio.wait_for(started.wait(), 30)
        with pytest.raises(RuntimeError, match="has a run going on"):
            await runner.set_state({"x": 1})
        runner.stop()
        with pytest.raises(asyncio.CancelledError):
            await run
        await runner.set_state({"x": 1})
        return (await runner.get_session()).state
    assert asyncio.run(go())["x"] == 1
