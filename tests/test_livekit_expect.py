"""LiveKit's own `RunResult.expect` checks, made on what `NotebookJob.ask` returns, recorded
and shown in the turn's card: the real LiveKit packages, offline (console room)."""
from __future__ import annotations

import asyncio
import textwrap

import pytest
from livekit.agents import Agent, RunContext, function_tool

from agentnb.jupyter.views import LiveView
from agentnb.livekit import NotebookJob, call, reply
from hostile_payloads import check_agentnb_html


class NoteAgent(Agent):
    def __init__(self):
        super().__init__(instructions="Take notes.")

    @function_tool
    async def remember(self, context: RunContext, note: str) -> str:
        """Remember a note."""
        return f"saved {note}"


def test_checks_run_as_livekit_runs_them_and_are_recorded_in_the_turn():
    from agentnb.livekit import ScriptedLLM

    async def main():
        job = NotebookJob(agent=NoteAgent(), llm=ScriptedLLM([call("remember", note="milk"),
                                                              reply("Saved.")]), display=False)
        await job.start()
        result = await job.ask("remember milk")
        await job.aclose()
        return job, result
    job, result = asyncio.run(asyncio.wait_for(main(), 60))
    call_check = result.expect.next_event().is_function_call(name="remember",
                                                              arguments={"note": "milk"})
    assert call_check.event().item.name == "remember"      # LiveKit's own assert object inside
    with pytest.raises(AssertionError, match="Expected ChatMessageEvent"):
        result.expect.next_event().is_message(role="assistant")   # the call's output is next
    result.expect.next_event().is_message(role="assistant")
    with pytest.raises(AssertionError, match="none left"):
        result.expect.next_event()
    checks = [r.data for r in job.trace.of("fact") if r.topic == "expect"]
    assert [(c["check"], c["passed"]) for c in checks] == [
        ("expect.next_event().is_function_call(name='remember', arguments={'note': 'milk'})", True),
        ("expect.next_event().is_message(role='assistant')", False),
        ("expect.next_event().is_message(role='assistant')", True),
        ("expect.next_event()", False)]
    assert "Context around failure" not in checks[1]["message"]   # the first line(s) only
    [inv] = {r.invocation_id for r in job.trace.of("fact") if r.topic == "expect"}
    assert inv == job.invocations().invocation_id.iloc[-1]
    html = LiveView(job.trace, inv).html()
    text = check_agentnb_html(html)
    assert text.count("held") == 2 and text.count("failed") == 2
    assert "is_function_call(name='remember'" in text


def test_a_check_in_a_later_cell_redraws_the_turns_card_in_a_real_kernel():
    import nbformat
    from nbclient import NotebookClient
    first = textwrap.dedent("""
        import agentnb
        from livekit.agents import Agent
        from agentnb.livekit import NotebookJob, ScriptedLLM, reply
        job = NotebookJob(agent=Agent(instructions="Greet."), llm=ScriptedLLM([reply("Hello!")]))
        await job.start()
        result = await job.ask("hi")
    """)
    second = 'result.expect.next_event().is_message(role="assistant")\nprint("checked")'
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(first),
                                               nbformat.v4.new_code_cell(second),
                                               nbformat.v4.new_code_cell("await job.aclose()")])
    NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    cards = [o["data"]["text/html"] for o in notebook.cells[0].outputs
             if "data" in o and 'data-view="card"' in o["data"].get("text/html", "")]
    assert len(cards) == 1
    text = check_agentnb_html(cards[0])
    assert "held" in text and "expect.next_event().is_message(role='assistant')" in text
