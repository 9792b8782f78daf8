"""Issue 18 (1, 5) in a real JupyterLab: the Stop button on a running card cancels the run
(its card ends interrupted, the cell says so in one line), and the state editor under the
dashboard writes state through the runner (validated, escaped, shown in the lanes)."""
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

def note(text: str, tool_context: ToolContext) -> dict:
    tool_context.state["note"] = text
    return {"ok": True}

async def wait_for_ever(tool_context: ToolContext) -> dict:
    await asyncio.Event().wait()
    return {}

runner = NotebookRunner(LlmAgent(name="waiter", tools=[note, wait_for_ever],
                                 model=ScriptedLlm([call("note", text="kept"), call("wait_for_ever"),
                                                    reply("never")])))''',
    "runner.view(edit=True)",
    'inv = await runner.ask("Wait for ever")',
]


@pytest.mark.timeout(240)
def test_stop_a_run_from_its_card_then_edit_state_from_the_dashboard(tmp_path):
    require_chromium()
    path = write_notebook(tmp_path / "edit_stop.ipynb", CELLS)

    def inspect(page):
        from playwright.sync_api import expect
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        card = page.locator(".jp-OutputArea-output").filter(has_text="Wait for ever").filter(
            has=page.locator(".anb-controls")).first
        stop = card.locator(".anb-stop")
        # the run is in its endless tool: the note it wrote before is on the card
        expect(card.locator(".anb-k-function_call")).to_have_count(2, timeout=60_000)
        expect(stop).to_have_text("Stop")
        stop.click()
        cell = page.locator(".jp-Cell").filter(has_text='await runner.ask("Wait for ever")')
        error = cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        expect(error).to_contain_text("agentnb: stopped; invocation", timeout=60_000)
        finished = page.locator(".anb-root").filter(has_text="Wait for ever").filter(
            has=page.locator(".anb-head .anb-s-interrupted"))
        expect(finished).to_have_count(1, timeout=60_000)
        out = {"error_lines": error.first.inner_text().strip().count("\n") + 1,
               "stop_left": page.locator(".anb-stop").count(),
               "note_kept": finished.first.locator(".anb-change", has_text="note").count()}

        editor = page.locator(".anb-editor")
        expect(editor).to_have_count(1)
        key, value = editor.locator("input").nth(0), editor.locator("input").nth(1)
        send = editor.locator("button", has_text="Set state")
        key.fill("pref")
        value.fill("tea")                      # not JSON: refused, nothing written
        send.click()
        expect(editor).to_contain_text("the value is not JSON", timeout=60_000)
        key.fill("temp:scratch")
        value.fill("1")
        send.click()
        expect(editor).to_contain_text("temp: keys live only during one invocation")
        key.fill("pref")
        value.fill('{"drink": "<b>tea</b>"}')
        send.click()
        expect(editor).to_contain_text("Set pref", timeout=60_000)
        dashboard = page.locator(".anb-root").filter(has=page.locator("[data-section='state']")).first
        row = dashboard.locator(".anb-lane .anb-change", has_text="pref")
        expect(row).to_have_count(1, timeout=60_000)
        out["row"] = row.inner_text()
        out["bold_in_row"] = row.locator("b").count()
        out["bold_in_editor"] = editor.locator("b", has_text="tea").count()
        key.fill("user:name")
        value.fill('"Ada"')
        send.click()
        expect(editor).to_contain_text("Set user:name", timeout=60_000)
        # The dashboard draws on its own schedule (a few times a second): wait for the row.
        user_lane = dashboard.locator("[data-section='lane-user'] .anb-change")
        expect(user_lane).to_have_count(1, timeout=60_000)
        out["user_lane"] = user_lane.all_inner_texts()
        return out

    with chromium_browser() as browser, jupyter_server(notebooks=[path]) as server:
        result = run_notebook_in_browser(server, "edit_stop.ipynb", ui="lab", browser=browser,
                                         inspect=inspect, run=False, timeout=200)
    seen = result.inspected
    assert seen["error_lines"] == 1 and seen["stop_left"] == 0 and seen["note_kept"] == 1, seen
    assert '"<b>tea</b>"' in seen["row"] and "notebook" in seen["row"], seen
    assert seen["bold_in_row"] == 0 and seen["bold_in_editor"] == 0, seen
    assert result.errors == []
    assert len(seen["user_lane"]) == 1 and '"Ada"' in seen["user_lane"][0], seen
