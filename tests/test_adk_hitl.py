"""Human in the loop (adk/hitl.py): `pending()`, `answer()`, `confirm()` and the `waiting`
status, against ADK's own definition of what a session waits for."""
import asyncio

import pytest
from google.adk.agents import LlmAgent
from google.adk.events._interrupts import index_open_interrupts
from google.adk.tools import FunctionTool, LongRunningFunctionTool, ToolContext

from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply


def run(coro):
    return asyncio.run(coro)


def start_job(name: str, tool_context: ToolContext) -> dict:
    """Starts a job that finishes later."""
    return {"status": "started", "job": name}


def delete(path: str) -> dict:
    """Deletes a file."""
    return {"deleted": path}


def make(steps):
    agent = LlmAgent(name="ops", model=ScriptedLlm(steps),
                     tools=[LongRunningFunctionTool(func=start_job),
                            FunctionTool(delete, require_confirmation=True)])
    return NotebookRunner(agent, display=False)


def open_ids(runner):
    return sorted(index_open_interrupts(run(runner.get_session()).events))


def test_a_long_running_call_waits_until_answered_with_any_value():
    runner = make([call("start_job", name="build"), reply("Started."), reply("Finished.")])
    first = run(runner.ask("build it"))
    assert first.status == "waiting" and first.error is None
    [row] = runner.pending()
    assert (row["kind"], row["tool"], row["args"]) == ("long_running", "start_job", {"name": "build"})
    assert [row["call_id"]] == open_ids(runner)
    second = run(runner.answer(row["call_id"], "done"))   # not a dict: sent as {"result": ...}
    assert second.invocation_id == first.invocation_id and second.status == "ok"
    assert runner.pending() == [] == open_ids(runner)
    responses = [r for e in runner.events(reveal=True).function_responses for r in e]
    assert responses[-1]["response"] == {"result": "done"}


def test_a_refused_confirmation_never_runs_the_tool():
    runner = make([call("delete", path="/tmp/x"), reply("Not deleted."), reply("ok")])
    assert run(runner.ask("delete /tmp/x")).status == "waiting"
    [row] = runner.pending()
    assert (row["kind"], row["tool"], row["args"]) == ("confirmation", "delete", {"path": "/tmp/x"})
    # the tool call's own id finds the request too
    done = run(runner.confirm(row["function_call_id"], confirmed=False))
    assert done.status == "ok" and runner.pending() == []
    responses = [r for e in runner.events(reveal=True).function_responses for r in e
                 if r["name"] == "delete"]
    assert all("deleted" not in str(r["response"]) for r in responses)


def test_answering_nothing_pending_names_what_waits():
    runner = make([call("start_job", name="x"), reply("Started.")])
    run(runner.ask("go"))
    with pytest.raises(ValueError, match=r"no pending call 'nope'.*waits for .*long_running start_job"):
        run(runner.answer("nope", {}))
    call_id = runner.pending()[0]["call_id"]
    with pytest.raises(ValueError, match="no pending confirmation"):
        run(runner.confirm(call_id))
