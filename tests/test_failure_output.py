"""What a failing run puts in the cell, in a real kernel: the card with the error, then a few
lines naming the user's own frame and the exception; the full traceback folded in the card;
ADK's own log records in the card, not on stderr; an interrupt in one line. A LiveKit turn
alike."""
import asyncio
import re

import nbformat
import pytest
from nbclient import NotebookClient

SETUP = """\
%load_ext agentnb
import asyncio
from google.adk.agents import LlmAgent
from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply

def order(drink: str) -> dict:
    \"\"\"Order a drink.\"\"\"
    if drink == "tea":
        raise ValueError("the kettle is broken")
    return {"ok": drink}

async def slow(seconds: float) -> dict:
    \"\"\"Wait a while.\"\"\"
    await asyncio.sleep(seconds)
    return {"waited": seconds}

def broken_model_step(request):
    raise RuntimeError("the model is unreachable")

def runner_with(steps):
    agent = LlmAgent(name="barista", model=ScriptedLlm(steps), tools=[order, slow])
    return NotebookRunner(agent, app_name="cafe")
"""
CELLS = {
    "tool": 'tool_runner = runner_with([call("order", drink="tea"), reply("sorry")])\n'
            'await tool_runner.ask("tea please")',
    "model": "model_runner = runner_with([broken_model_step])\nawait model_runner.ask('hello')",
    "script": "script_runner = runner_with([reply('one')])\nawait script_runner.ask('first')\n"
              "await script_runner.ask('second')",
    "slow": 'slow_runner = runner_with([call("slow", seconds=60), reply("done")])\n'
            'await slow_runner.ask("wait")',
    "livekit": "from livekit.agents import Agent\n"
               "from agentnb.livekit import NotebookJob, ScriptedLLM\n"
               "def unplugged_model(chat_ctx):\n"
               "    raise RuntimeError('the speaker is unplugged')\n"
               "job = NotebookJob(agent=Agent(instructions='Talk.'), llm=ScriptedLLM([unplugged_model]))\n"
               "await job.ask('hello?')",
    "after": "print(tool_runner.last_invocation.status, model_runner.last_invocation.status, "
             "script_runner.last_invocation.status, slow_runner.last_invocation.status, "
             "job.invocations().status.tolist())",
    # LiveKit may warn here that its loop was blocked (a loaded machine): not what is tested
    "close": "await job.aclose()",
}


def text_lines(outputs) -> list[str]:
    """Every line the cell shows that is not a view: stream text and the error's traceback."""
    lines = []
    for out in outputs:
        if out.output_type == "stream":
            lines += out.text.splitlines()
        elif out.output_type == "error":
            for chunk in out.traceback:
                lines += re.sub(r"\x1b\[[0-9;]*m", "", chunk).splitlines()
    return [line for line in lines if line.strip()]


def card_html(outputs) -> str:
    return "".join(out.get("data", {}).get("text/html", "") for out in outputs
                   if 'data-view="card"' in out.get("data", {}).get("text/html", ""))


@pytest.fixture(scope="module")
def ran():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SETUP)] + [
        nbformat.v4.new_code_cell(source, metadata={"tags": [name]}) for name, source in CELLS.items()])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True)

    async def run_all():
        async with client.async_setup_kernel():
            for index, cell in enumerate(notebook.cells):
                if cell.metadata.get("tags") == ["slow"]:
                    task = asyncio.ensure_future(client.async_execute_cell(cell, index))
                    for _ in range(600):   # the card is on the page: the tool runs; interrupt it
                        if card_html(cell.outputs) or task.done():
                            break
                        await asyncio.sleep(0.05)
                    await client.km.interrupt_kernel()
                    await task
                else:
                    await client.async_execute_cell(cell, index)
    asyncio.run(run_all())
    return {cell.metadata["tags"][0]: cell for cell in notebook.cells[1:]}


def test_a_failing_tool_shows_its_frame_and_the_error_in_a_few_lines(ran):
    lines = text_lines(ran["tool"].outputs)
    text = "\n".join(lines)
    assert len(lines) <= 15, text
    assert "ValueError: the kettle is broken" in text
    assert 'raise ValueError("the kettle is broken")' in text and "order" in text  # the user's frame
    assert "google/adk" not in text and "site-packages" not in text               # not ADK's
    card = card_html(ran["tool"].outputs)
    assert 'data-status="error"' in card and "full traceback" in card
    assert "google/adk" in card          # the whole traceback is there, folded
    assert "kettle is broken" in card and "Logs" in card   # ADK's own records, in the card


def test_a_failing_model_shows_the_users_step(ran):
    lines = text_lines(ran["model"].outputs)
    text = "\n".join(lines)
    assert len(lines) <= 15, text
    assert "RuntimeError: the model is unreachable" in text and "broken_model_step" in text
    assert "site-packages" not in text


def test_a_script_that_ran_out_says_how_to_go_on(ran):
    lines = text_lines(ran["script"].outputs)
    text = "\n".join(lines)
    assert len(lines) <= 15, text
    assert "ran out of steps" in text and "new ScriptedLlm" in text and "from the top" in text


def test_an_interrupt_is_one_line(ran):
    lines = text_lines(ran["slow"].outputs)
    assert len(lines) == 1 and "interrupted" in lines[0], lines
    assert 'data-status="interrupted"' in card_html(ran["slow"].outputs)


def test_a_failing_livekit_turn_shows_the_users_step_not_livekits_frames(ran):
    lines = text_lines(ran["livekit"].outputs)
    text = "\n".join(lines)
    assert len(lines) <= 15, text
    assert "RuntimeError: the speaker is unplugged" in text and "unplugged_model" in text
    assert "site-packages" not in text and "livekit/agents" not in text
    card = card_html(ran["livekit"].outputs)
    assert 'data-status="error"' in card and "full traceback" in card and "livekit" in card


def test_the_kernel_goes_on_and_every_run_is_recorded(ran):
    assert text_lines(ran["after"].outputs) == ["error error error interrupted ['error']"]
