"""Rewind, fork and compare with the real ADK."""
import asyncio

import pytest
from google.adk.agents import LlmAgent
from google.adk.tools import ToolContext

import agentnb
from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply


def set_drink(drink: str, tool_context: ToolContext) -> dict:
    tool_context.state["drink"] = drink
    tool_context.state["turns"] = tool_context.state.get("turns", 0) + 1
    return {"ok": True}


def conversation():
    """Three turns: tea, coffee, water."""
    steps = []
    for drink in ("tea", "coffee", "water", "juice", "milk"):
        steps += [call("set_drink", drink=drink), reply(f"{drink} noted")]
    agent = LlmAgent(name="barista", model=ScriptedLlm(steps), tools=[set_drink])
    runner = NotebookRunner(agent, app_name="tt", display=False, state={"size": "large"})

    async def go():
        return [await runner.ask(f"I want {d}") for d in ("tea", "coffee", "water")]
    return runner, asyncio.run(go())


def test_rewind_restores_pre_invocation_state():
    runner, (first, second, third) = conversation()

    async def go():
        before = dict((await runner.get_session()).state)
        await runner.rewind(before=second.invocation_id)
        return before, await runner.get_session()
    before, session = asyncio.run(go())
    assert before["drink"] == "water" and session.state["drink"] == "tea"
    assert session.state["turns"] == 1
    # the trace records the rewind and history follows ADK's session
    assert runner.events().kind.iloc[-1] == "rewind"
    state = {}
    for _, row in runner.history(reveal=True).query("persisted").iterrows():
        state[row.key] = row.new
    assert state == session.state
    rewind_rows = runner.history().query("source == 'rewind'")
    assert set(rewind_rows.key) >= {"drink", "turns"}


def test_fork_starts_from_state_after_invocation_plus_overrides():
    runner, (first, second, third) = conversation()

    async def go():
        child = await runner.fork(at=first.invocation_id, state_overrides={"size": "small"})
        fork_state = dict((await child.get_session()).state)
        await child.ask("Then juice")
        return child, fork_state
    child, fork_state = asyncio.run(go())
    assert fork_state == {"size": "small", "drink": "tea", "turns": 1}
    assert child.session_id != runner.session_id
    session_record = child.trace.of("session")[0]
    assert (session_record.parent_session_id, session_record.forked_at) == (
        runner.session_id, first.invocation_id)
    assert child.history().query("source != 'initial'").new.tolist() == ["juice", 2]
    assert any(f.topic == "fork" for f in runner.trace.of("fact"))


def test_compare_finds_exactly_the_differing_keys(tmp_path):
    runner, (first, *_) = conversation()
    child = asyncio.run(runner.fork(at=first.invocation_id))
    diff = agentnb.compare(runner, child)
    assert diff.to_dict("records") == [
        {"key": "drink", "scope": "session", "a": "water", "b": "tea"},
        {"key": "turns", "scope": "session", "a": 3, "b": 1}]
    saved = agentnb.load(runner.save(tmp_path / "a.jsonl"))
    assert agentnb.compare(saved, runner).empty
    with pytest.raises(TypeError, match="^agentnb: compare"):
        agentnb.compare(runner, {"drink": "tea"})


def test_unknown_invocation_is_a_clear_error():
    runner, _ = conversation()
    with pytest.raises(ValueError, match="^agentnb: no invocation 'nope'"):
        asyncio.run(runner.rewind(before="nope"))


def test_compare_view_aligns_turns_and_marks_differences():
    runner, (first, *_) = conversation()
    child = asyncio.run(runner.fork(at=first.invocation_id, state_overrides={"size": "<b>small</b>"}))
    asyncio.run(child.ask("Then juice"))
    view = agentnb.compare_view(runner, child)
    assert view.text.splitlines()[0] == f"{runner.session_id} vs {child.session_id}: 6 differing values"
    assert "turn 1: drink: 'tea' | 'juice'" in view.text and "turn 0: size: 'large' | '<b>small</b>'" in view.text
    html = view._repr_mimebundle_()["text/html"]
    assert html.count('class="anb-cmp-turn"') == 4          # start + three turns of the longer side
    assert "&lt;b&gt;small&lt;/b&gt;" in html and "<b>small" not in html
    assert 'anb-cmp-row anb-diff' in html
