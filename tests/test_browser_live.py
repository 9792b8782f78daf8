"""Live means live: in a real JupyterLab, the card shows the run's first steps while a slow
tool is still running, before the cell ends (a final snapshot alone would not pass this)."""
import pytest
from jupyterlab_browser import (chromium_browser, jupyter_server, require_chromium,
                                run_notebook_in_browser, write_notebook)

pytestmark = pytest.mark.browser

CELLS = [
    "%load_ext agentnb",
    '''import asyncio
from google.adk.agents import LlmAgent
from google.adk.tools import ToolContext
from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply

async def slow_lookup(city: str, tool_context: ToolContext) -> dict:
    tool_context.state["city"] = city
    await asyncio.sleep(6)
    return {"found": True}

runner = NotebookRunner(LlmAgent(name="slowpoke", tools=[slow_lookup],
                                 model=ScriptedLlm([call("slow_lookup", city="Lyon"), reply("Found Lyon.")])))''',
    'inv = await runner.ask("Find Lyon")',
]


@pytest.mark.timeout(180)
def test_card_updates_while_the_tool_runs(tmp_path):
    require_chromium()
    path = write_notebook(tmp_path / "live.ipynb", CELLS)

    def inspect(page):
        from playwright.sync_api import expect
        # not awaited: the command's promise resolves only when every cell has run
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        card = page.locator(".anb-root").filter(has_text="Find Lyon")
        # the model's call is on the page while the tool sleeps: patches arrive live
        expect(card.locator(".anb-k-function_call")).to_have_count(1, timeout=15_000)
        during = {"status": card.locator(".anb-head .anb-chip").first.inner_text(),
                  "answer_shown": card.locator(".anb-text", has_text="Found Lyon.").count()}
        expect(card.locator(".anb-s-ok")).to_have_count(1, timeout=30_000)
        expect(card.locator(".anb-text", has_text="Found Lyon.")).to_have_count(1)
        return during

    with chromium_browser() as browser, jupyter_server(notebooks=[path]) as server:
        result = run_notebook_in_browser(server, "live.ipynb", ui="lab", browser=browser,
                                         inspect=inspect, run=False, timeout=120)
    assert result.inspected == {"status": "running", "answer_shown": 0}
    assert result.errors == []
