"""Evals and spans in a real JupyterLab: an eval case's card is live while the case runs (its
turn on the page before the evaluation), then shows ADK's verdict; a spans card draws its
waterfall. The sections arrive by live patches, from the shells."""
import pytest
from jupyterlab_browser import (chromium_browser, jupyter_server, require_chromium,
                                run_notebook_in_browser, write_notebook)

pytestmark = pytest.mark.browser

CELLS = [
    "%load_ext agentnb",
    '''import asyncio
from google.adk.agents import LlmAgent
from google.adk.evaluation.eval_case import EvalCase, IntermediateData, Invocation
from google.adk.evaluation.eval_set import EvalSet
from google.genai import types
from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply

async def slow_lookup(city: str) -> dict:
    """Looks a city up, slowly."""
    await asyncio.sleep(5)
    return {"found": city}

def make_agent():
    return LlmAgent(name="finder", tools=[slow_lookup],
                    model=ScriptedLlm([call("slow_lookup", city="Lyon"), reply("Found Lyon.")]))

turn = Invocation(user_content=types.Content(role="user", parts=[types.Part(text="Find Lyon")]),
                  final_response=types.Content(role="model", parts=[types.Part(text="Found Lyon.")]),
                  intermediate_data=IntermediateData(tool_uses=[
                      types.FunctionCall(name="slow_lookup", args={"city": "Lyon"})]))
eval_set = EvalSet(eval_set_id="finder", eval_cases=[EvalCase(eval_id="lyon", conversation=[turn])])''',
    'results = await NotebookRunner(make_agent()).evaluate(eval_set)',
    'inv = await NotebookRunner(make_agent(), spans=True).ask("Find Lyon")',
]


@pytest.mark.timeout(240)
def test_an_eval_cases_card_is_live_then_shows_the_verdict_and_spans_draw(tmp_path):
    require_chromium()
    path = write_notebook(tmp_path / "evals.ipynb", CELLS)

    def inspect(page):
        from playwright.sync_api import expect
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        case = page.locator(".anb-root").filter(has_text="eval case lyon")
        expect(case.locator(".anb-k-function_call")).to_have_count(1, timeout=60_000)
        during = {"status": case.get_attribute("data-status", timeout=5_000),
                  "verdicts": case.locator(".anb-eval").count()}
        expect(case.locator(".anb-eval")).to_have_count(1, timeout=60_000)
        expect(case.locator(".anb-head .anb-s-ok")).to_have_count(1)
        timed = page.locator(".anb-root[data-view=card]").filter(has=page.locator(".anb-wf"))
        expect(timed).to_have_count(1, timeout=45_000)
        expect(timed.locator("svg.anb-wf")).to_be_visible()
        bars = timed.locator("line.anb-wf-bar")
        # a horizontal line has no height for Playwright's visibility: its stroke draws it
        strokes = bars.evaluate_all("ls => ls.map(l => getComputedStyle(l).strokeWidth)")
        return {**during, "bars": bars.count(), "strokes": sorted(set(strokes)),
                "tool_bar": timed.locator("text", has_text="execute_tool slow_lookup").count()}

    with chromium_browser() as browser, jupyter_server(notebooks=[path]) as server:
        result = run_notebook_in_browser(server, "evals.ipynb", ui="lab", browser=browser,
                                         inspect=inspect, run=False, timeout=180)
    inspected = result.inspected
    assert inspected["status"] == "running" and inspected["verdicts"] == 0   # live, mid-case
    assert inspected["bars"] == 5 and inspected["tool_bar"] == 1
    assert inspected["strokes"] == ["8px"]     # agentnb's stylesheet draws the bars
    assert result.errors == []
