"""Big inputs (issue 7, part 4): a 50 MB artifact, a 1 MB state value, 10,000 keys written by
one tool call, 100,000 characters of user and of model text, through a real ADK run.

The trace keeps everything; what is shown stays bounded (values clipped with a count of what
was cut, sections cut to their last rows with a count of the rest), and a card holding all of
it renders in Chromium with agentnb's own widget script and leaves the page responsive.
"""
import asyncio
import json
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import CapturingComm

N_KEYS = 10_000
ARTIFACT_BYTES = 50 * 2**20
ONE_MB = 2**20
TEXT_CHARS = 100_000

# What "bounded" means here: a view's HTML under 1 MB, its text face under 50 kB, one widget
# message under 1 MB, one row of a section under 16 kB (values are cut to 300-1000 characters).
HTML_LIMIT = 1_000_000
TEXT_LIMIT = 50_000
MESSAGE_LIMIT = 1_000_000
ROW_LIMIT = 16_000

STATIC = Path(__file__).resolve().parent.parent / "agentnb" / "static"



@pytest.fixture(scope="module")
def big():
    from google.adk.agents import LlmAgent
    from google.adk.tools import ToolContext
    from google.genai import types

    from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply

    async def save_big_artifacts(tool_context: ToolContext) -> dict:
        await tool_context.save_artifact("big.bin", types.Part(inline_data=types.Blob(
            mime_type="application/octet-stream", data=bytes(ARTIFACT_BYTES))))
        await tool_context.save_artifact("big.txt", types.Part(text="x" * ARTIFACT_BYTES))
        return {"saved": 2}

    async def write_many_keys(tool_context: ToolContext) -> dict:
        for i in range(N_KEYS):
            tool_context.state[f"preference_{i:05d}"] = i
        tool_context.state["one_mb"] = "m" * ONE_MB
        return {"written": N_KEYS + 1}

    agent = LlmAgent(name="big", model=ScriptedLlm([
        call("save_big_artifacts"), call("write_many_keys"), reply("t" * TEXT_CHARS)]),
        tools=[save_big_artifacts, write_many_keys])
    runner = NotebookRunner(agent, display=False)

    async def go():
        dashboard = runner.view()
        initial = {"uid": dashboard.widget.uid, "html": dashboard.widget.html, "shells": dashboard.widget.shells, "limits": dashboard.widget.limits,
                   "status": dashboard.widget.status}
        dashboard.widget.comm = comm = CapturingComm()
        dashboard.follow(asyncio.get_running_loop(), interval=0.05)
        started = time.monotonic()
        invocation = await runner.ask("u" * TEXT_CHARS)
        took = time.monotonic() - started
        await asyncio.sleep(0.1)
        dashboard.finish()
        return invocation, comm, initial, took
    invocation, comm, initial, took = asyncio.run(go())
    print(f"\nthe big run took {took:.2f}s, {len(runner.trace)} records")
    return SimpleNamespace(runner=runner, invocation=invocation, comm=comm, initial=initial)


def card(big):
    from agentnb.jupyter.views import LiveView
    return LiveView(big.runner.trace, big.invocation.invocation_id)


def dashboard(big):
    from agentnb.jupyter.views import LiveView
    return LiveView(big.runner.trace)


# --- the trace keeps everything -----------------------------------------------------------

def test_the_trace_keeps_everything(big):
    runner = big.runner
    history = runner.history()
    assert len(history) == N_KEYS + 1
    assert history.key.tolist()[:N_KEYS] == [f"preference_{i:05d}" for i in range(N_KEYS)]
    assert history.new.tolist()[:N_KEYS] == list(range(N_KEYS))
    [one_mb] = [c for c in runner.trace.of("state_change") if c.key == "one_mb"]
    assert one_mb.new == "m" * ONE_MB and history.new.iloc[-1] == "m" * ONE_MB
    sizes = {a.filename: a.size_bytes for a in runner.trace.of("artifact")}
    assert sizes == {"big.bin": ARTIFACT_BYTES, "big.txt": ARTIFACT_BYTES}
    assert runner.artifacts().size_bytes.tolist() == [ARTIFACT_BYTES, ARTIFACT_BYTES]
    assert big.invocation.text == "t" * TEXT_CHARS
    assert runner.invocations().user_text.iloc[0] == "u" * TEXT_CHARS
    [delta_event] = [e for e in runner.trace.of("event") if e.state_delta]
    assert len(delta_event.state_delta) == N_KEYS + 1
    timeline = runner.timeline()
    assert timeline.shape[1] == 4 + N_KEYS + 1
    assert runner.observer.failures == 0


def test_a_saved_big_trace_loads_back_whole(big, tmp_path):
    import agentnb
    path = big.runner.save(tmp_path / "big.jsonl", reveal=True)
    # the artifacts' 100 MB are not in it; the 1 MB value is, once per record that holds the
    # state (its change, its event's delta, each context snapshot taken after it)
    assert path.stat().st_size < 32 * ONE_MB, path.stat().st_size
    loaded = agentnb.load(path)
    assert len(loaded.trace) == len(big.runner.trace)
    assert len(loaded.history()) == N_KEYS + 1
    assert loaded.history().new.iloc[-1] == "m" * ONE_MB


# --- what is shown stays bounded ------------------------------------------------------------

def test_html_faces_stay_bounded_and_say_what_they_cut(big):
    from agentnb.core.patch import MAX_ROWS
    for view in (card(big), dashboard(big)):
        html = view.html()
        assert len(html) < HTML_LIMIT, len(html)
        # the 1 MB value, JSON-quoted, cut to 300 characters
        assert f"(+{ONE_MB + 2 - 300:,} chars)" in html
        # the model's text cut to 600, the text artifact's preview to 1,000
        assert f"(+{TEXT_CHARS - 600:,} chars)" in html
        assert f"(+{1000:,} chars)" in html
        assert f"{ARTIFACT_BYTES:,} bytes" in html
        # the session lane keeps its last rows and counts the others
        assert f"… {N_KEYS + 1 - MAX_ROWS:,} earlier rows not shown" in html
    assert f"(+{TEXT_CHARS - 300:,} chars)" in card(big).html()    # the user's text, in the head


def test_views_and_frames_of_a_big_trace_hold_every_record(big):
    """(How fast they are built is measured in bench/, not asserted here.)"""
    from agentnb.jupyter.views import LiveView
    assert LiveView(big.runner.trace).sections.counts["lane-session"] == N_KEYS + 1
    assert LiveView(big.runner.trace, big.invocation.invocation_id).text()
    assert len(big.runner.history()) == len(big.runner.trace.of("state_change"))
    assert len(big.runner.events()) == len(big.runner.trace.of("event"))


def test_dashboard_text_face_stays_bounded(big):
    text = dashboard(big).text()
    assert len(text) < TEXT_LIMIT, len(text)


def test_card_text_face_stays_bounded(big):
    text = card(big).text()
    assert len(text) < TEXT_LIMIT, len(text)


def test_every_row_stays_bounded(big):
    from agentnb.core.render.sections import Sections
    sections = Sections()
    ops = sections.add(big.runner.trace.snapshot())
    sizes = {op["section"]: max(map(len, op["html"])) for op in ops if op["op"] == "append"}
    assert max(sizes.values()) < ROW_LIMIT, sizes


def test_live_widget_messages_stay_bounded(big):
    sizes = [len(json.dumps(m)) for m in big.comm.messages]
    assert max(sizes) < MESSAGE_LIMIT, max(sizes)


# --- in Chromium: agentnb's widget script places the card, the page stays responsive --------

# A stand-in for the anywidget model (get / on / custom messages), driving view.js exactly as
# the widget manager would: initialize, render, then the captured messages in order.
HARNESS_JS = """
window.__anbModel = (state) => {
  const handlers = {};
  return {
    get: (k) => state[k],
    on: (ev, fn) => { (handlers[ev] = handlers[ev] || []).push(fn); },
    set: (k, v) => { state[k] = v; (handlers['change:' + k] || []).forEach(f => f()); },
    custom: (msg) => { (handlers['msg:custom'] || []).forEach(f => f(msg)); },
  };
};
"""


def widget_module() -> str:
    source = (STATIC / "view.js").read_text(encoding="utf-8")
    assert "export default { initialize, render };" in source
    return source.replace("export default { initialize, render };",
                          "window.__anbView = { initialize, render, stores };")


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_a_big_card_renders_and_the_page_stays_responsive(big):
    from jupyterlab_browser import _INIT_SCRIPT, XSS_GLOBAL, chromium_browser, require_chromium
    from agentnb.core.patch import MAX_ROWS, SHOWN_ROWS
    require_chromium()
    updates = [m for m in big.comm.messages if m.get("method") in ("custom", "update")]
    patches = [m["content"] for m in updates if m["method"] == "custom"]
    final_html = [m["state"]["html"] for m in updates if "html" in m.get("state", {})][-1]
    static_html = card(big).html()
    started = time.monotonic()
    with chromium_browser() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.route("**/*", lambda route: route.abort())   # nothing leaves the page
        context.add_init_script(_INIT_SCRIPT)
        page = context.new_page()
        page.set_content('<div id="live" class="jp-OutputArea-output"></div>'
                         '<div id="static" class="jp-OutputArea-output"></div>')
        page.add_script_tag(content=HARNESS_JS + widget_module())
        timings = {}
        t0 = time.monotonic()
        page.evaluate("""(initial) => {
            window.model = window.__anbModel(initial);
            window.__anbView.initialize({model: window.model});
            window.__anbView.render({model: window.model, el: document.getElementById('live')});
        }""", big.initial)
        for patch in patches:          # the live path: fragments appended as they come
            page.evaluate("(msg) => window.model.custom(msg)", patch)
        # a view draws what arrived together, a moment later: wait until it has drawn it all
        page.wait_for_function("""() => [...window.__anbView.stores.get(window.model.get('uid')).views]
            .every(view => !view.timer && view.pending.length === 0)""", timeout=30_000)
        timings["live"] = time.monotonic() - t0
        # the rows a section keeps: the newest shown, the others behind its "show all"
        rows_and_counts = """(root) => Array.from(document.querySelectorAll(root + ' .anb-rows'))
            .map(r => [r.parentElement.dataset.section,
                       [r.children.length + (r.parentElement.querySelector(':scope > .anb-all .anb-older')
                                             ?.children.length ?? 0),
                        r.parentElement.querySelector('.anb-count')?.textContent ?? null]])"""
        shown = """(root) => Array.from(document.querySelectorAll(root + ' [data-section="lane-session"] > .anb-rows > *')).length"""
        live_rows = dict(page.evaluate(rows_and_counts, "#live"))
        patches_kept = page.evaluate(
            "() => window.__anbView.stores.get(window.model.get('uid')).patches.length")
        t0 = time.monotonic()
        page.evaluate("(html) => window.model.set('html', html)", final_html)   # the saved snapshot
        page.evaluate("(html) => { document.getElementById('static').innerHTML = html; }", static_html)
        timings["snapshot"] = time.monotonic() - t0
        saved_rows = dict(page.evaluate(rows_and_counts, "#live"))
        static_rows = dict(page.evaluate(rows_and_counts, "#static"))
        shown_rows = [page.evaluate(shown, "#live"), page.evaluate(shown, "#static")]
        show_all = page.locator('#static [data-section="lane-session"] > .anb-all > summary').inner_text()
        # responsive: a click opens a closed section, a script answers at once
        t0 = time.monotonic()
        summary = page.locator('#static [data-section="context"] > summary')
        summary.click(timeout=5000)
        assert page.locator('#static [data-section="context"]').get_attribute("open") is not None
        page.locator("#live .anb-row").first.click(timeout=5000)
        assert page.evaluate("() => 6 * 7") == 42
        timings["click"] = time.monotonic() - t0
        text = page.evaluate("() => document.body.innerText")
        hits = page.evaluate(f"() => Array.from(window.{XSS_GLOBAL})")
        context.close()
    print(f"\nbrowser: {timings}, {time.monotonic() - started:.1f}s in all; "
          f"{len(patches)} patches, {patches_kept} kept in the page")
    assert hits == []
    # live, a burst sends only the rows that fit a patch, but every count is already right;
    # the saved snapshot then shows the last MAX_ROWS of each section
    assert all(n <= MAX_ROWS for n, _ in live_rows.values()), live_rows
    assert {s: count for s, (_, count) in live_rows.items()} == \
        {s: count for s, (_, count) in saved_rows.items()}, (live_rows, saved_rows)
    assert saved_rows["lane-session"][0] == static_rows["lane-session"][0] == MAX_ROWS, saved_rows
    assert shown_rows == [SHOWN_ROWS, SHOWN_ROWS] and show_all == f"show all {MAX_ROWS}"
    assert f"{N_KEYS - MAX_ROWS + 1:,} earlier rows not shown" in text
    assert f"(+{ONE_MB + 2 - 300:,} chars)" in text and "preference_09999" in text
    assert re.search(r"\(\+99,[47]00 chars\)", text)
