"""What only a browser shows of a card, in a real JupyterLab: nothing moves when its run ends
(the live widget and the snapshot that replaces it draw the same sections in the same places,
open or folded alike), the card is live while the run goes on, and a tool that has not
returned is a row with its name, its arguments and a running clock, while the state it wrote
waits for ADK to apply it."""
import re

import pytest
from jupyterlab_browser import (ARTIFACTS, chromium_browser, jupyter_server, require_chromium,
                                run_notebook_in_browser, write_notebook)

pytestmark = pytest.mark.browser

CELLS = [
    "%load_ext agentnb",
    '''import asyncio
from google.adk.agents import LlmAgent
from google.adk.tools import ToolContext
from google.genai import types
from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply

async def slow_lookup(city: str, tool_context: ToolContext) -> dict:
    tool_context.state["city"] = city
    tool_context.state["user:home"] = city
    await asyncio.sleep(10)   # long enough for a loaded page to read the running row twice
    await tool_context.save_artifact("found.txt", types.Part(text=city))
    return {"found": True}

runner = NotebookRunner(LlmAgent(name="slowpoke", tools=[slow_lookup],
                                 model=ScriptedLlm([call("slow_lookup", city="Lyon"), reply("Found Lyon.")])))''',
    'inv = await runner.ask("Find Lyon")',
]

# In the page: after every change to the page, where the card's parts are (relative to the
# card), and whether the card is the live widget or the snapshot (a text/html output).
RECORD_JS = r"""() => {
  window.__anbFrames = [];
  const frame = () => {
    const root = Array.from(document.querySelectorAll('.anb-root'))
      .find(r => r.textContent.includes('Find Lyon'));
    if (!root) return;
    const output = root.closest('[data-mime-type]');
    const top = root.getBoundingClientRect().top;
    const cell = root.closest('.jp-Cell').getBoundingClientRect().top;
    const parts = Array.from(root.querySelectorAll('[data-section], .anb-head, .anb-row'))
      .map(e => { const r = e.getBoundingClientRect();
                  return [e.getAttribute('data-section') || e.className.replace(' anb-fresh', ''),
                          e.hasAttribute('open'),
                          Math.round(r.top - top), Math.round(r.height), Math.round(r.width)]; });
    window.__anbFrames.push({static: !!output && output.dataset.mimeType === 'text/html',
                             status: root.querySelector('.anb-head .anb-chip')?.textContent,
                             fresh: root.querySelectorAll('.anb-fresh').length,
                             offset: Math.round(top - cell),
                             height: Math.round(root.getBoundingClientRect().height),
                             width: Math.round(root.getBoundingClientRect().width),
                             sections: Array.from(root.querySelectorAll('[data-section]'))
                               .map(e => [e.getAttribute('data-section'), e.hasAttribute('open')]),
                             parts});
  };
  new MutationObserver(frame).observe(document.body, {subtree: true, childList: true,
                                                      characterData: true, attributes: true});
}"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    require_chromium()
    path = write_notebook(tmp_path_factory.mktemp("cards") / "cards.ipynb", CELLS)

    def inspect(page):
        from playwright.sync_api import expect
        page.evaluate(RECORD_JS)
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        card = page.locator(".anb-root").filter(has_text="Find Lyon")
        running = card.locator(".anb-running")
        expect(running).to_have_count(1, timeout=60_000)
        clock = running.locator("time")
        expect(clock).to_have_text(re.compile(r"^\d+\.\d s$"), timeout=60_000)   # counting
        first = clock.inner_text()
        expect(clock).not_to_have_text(first, timeout=60_000)                   # and it ticks
        card.screenshot(path=str(ARTIFACTS / "card-running.png"))   # what a person sees then
        during = {"row": running.inner_text(), "clock": [first, clock.inner_text()],
                  "status": card.locator(".anb-head .anb-chip").first.inner_text(),
                  "answer_shown": card.locator(".anb-text", has_text="Found Lyon.").count(),
                  "lanes": card.locator("[data-section^=lane-]").count(),
                  "sections": card.locator("[data-section]").evaluate_all(
                      "els => els.map(e => [e.getAttribute('data-section'), e.hasAttribute('open')])")}
        expect(card.locator(".anb-s-ok")).to_have_count(1, timeout=60_000)
        static = page.locator('[data-mime-type="text/html"] .anb-root').filter(has_text="Find Lyon")
        expect(static).to_have_count(1, timeout=60_000)
        page.wait_for_timeout(500)
        return {"during": during, "frames": page.evaluate("() => window.__anbFrames"),
                "after": {"running": card.locator(".anb-running").count(),
                          "city": card.locator('[data-section="lane-session"] .anb-key').all_inner_texts()}}

    with chromium_browser() as browser, jupyter_server(notebooks=[path]) as server:
        result = run_notebook_in_browser(server, "cards.ipynb", ui="lab", browser=browser,
                                         inspect=inspect, run=False, timeout=150,
                                         screenshot_name="cards-lab")
    assert result.errors == [] and result.xss_hits == []
    return result.inspected


@pytest.mark.timeout(240)
def test_the_card_is_live_before_the_cell_ends(run):
    """The model's call and the running tool are on the page while the tool sleeps: patches
    arrive live (a final snapshot alone would not pass this)."""
    assert (run["during"]["status"], run["during"]["answer_shown"]) == ("running", 0)


@pytest.mark.timeout(240)
def test_a_running_tool_is_a_row_with_its_name_arguments_and_a_running_clock(run):
    during = run["during"]
    assert "slow_lookup #1" in during["row"] and '"city": "Lyon"' in during["row"], during["row"]
    assert "the state it writes shows when ADK applies it" in during["row"]
    before, later = (float(t.removesuffix(" s")) for t in during["clock"])
    assert 0 < before < later < 60, during["clock"]              # it ticks, in seconds
    # the tool has written state, but ADK applies it with the tool's response: no lane yet
    assert during["lanes"] == 0
    assert run["after"] == {"running": 0, "city": ["city"]}      # returned: the row is gone


@pytest.mark.timeout(240)
def test_nothing_moves_when_the_run_ends(run):
    frames = [f for f in run["frames"] if f["parts"]]
    live = [f for f in frames if not f["static"]]
    static = [f for f in frames if f["static"]]
    assert live and static, (len(live), len(static))
    last_live, first_static = live[-1], static[0]
    assert frames.index(first_static) > frames.index(last_live)   # the output became the snapshot
    assert last_live["status"] == first_static["status"] == "ok"
    # the same parts in the same places, the same size, within a pixel
    for key in ("offset", "height", "width"):
        assert abs(last_live[key] - first_static[key]) <= 1, (key, last_live[key], first_static[key])
    assert [p[:2] for p in last_live["parts"]] == [p[:2] for p in first_static["parts"]]
    for a, b in zip(last_live["parts"], first_static["parts"]):
        assert all(abs(x - y) <= 1 for x, y in zip(a[2:], b[2:])), (a, b)
    # while it ran, the sections were in the snapshot's order, open or folded as it draws them
    final = first_static["sections"]
    shown = [s for s in final if s[0] in {name for name, _ in run["during"]["sections"]}]
    assert run["during"]["sections"] == shown, (run["during"]["sections"], final)
    assert ["context", False] in final and final[-1] == ["context", False]


@pytest.mark.timeout(240)
def test_rows_just_added_are_marked_for_a_moment_while_the_card_is_live(run):
    """The live card marks the rows a patch adds, and clears the mark a moment later (the
    tool's 10 s sleep leaves it the time): a still mark, so a page that follows a burst does not
    repaint every row every frame."""
    live = [f for f in run["frames"] if f["parts"] and not f["static"]]
    marked = [i for i, f in enumerate(live) if f["fresh"]]
    assert marked, "no live frame had a row marked fresh"
    assert any(f["fresh"] == 0 for f in live[marked[0]:]), "the fresh marks never cleared"
