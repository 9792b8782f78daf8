"""Hostile text everywhere an agent run can put it (issue 7, part 2).

Payloads (tests/hostile_payloads.py) go into state keys and values, artifact names, contents
and MIME types, tool names, arguments and results, user and model text, error messages, the
session and user ids, and LiveKit userdata and participant attributes. Without a browser every
view's HTML must hold only agentnb's own tags and attributes, and show each payload as text;
in real Chromium nothing may execute, in JupyterLab and in the notebook's nbconvert HTML.

What ADK does not allow: an agent's name must be an identifier (so `author` is never hostile in
an ADK run) and so must an app name (agentnb checks). Everything else takes any text: a
FunctionTool's name comes from its function's `__name__`, which Python lets us set to a
payload, and a ScriptedLlm may call a tool name nobody registered (ADK answers the model with
an error and agentnb records a `tool_error` fact).
"""
import asyncio
import json
import logging
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import CapturingComm

import hostile_payloads as hp
from hostile_payloads import (ADK_PLACES, TEMPLATES, check_agentnb_html, check_pandas_html,
                              corpus, shown, texts)

from agentnb.core.render.escape import stylesheet
from agentnb.core.render.sections import shells as _shells
from agentnb.jupyter.views import LiveView

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module", autouse=True)
def quiet_adk():
    """ADK logs a traceback for each failing tool; 25 of them are expected here."""
    logger = logging.getLogger("google_adk")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)



@pytest.fixture(scope="module")
def adk_run(tmp_path_factory):
    """The whole corpus through a real ADK run, with a dashboard following live; the trace
    saved masked and loaded back."""
    import agentnb
    runner, asks = hp.hostile_runner()

    async def go():
        loop = asyncio.get_running_loop()
        dashboard = runner.view()
        dashboard.widget.comm = dash_comm = CapturingComm()
        dashboard.follow(loop, interval=0.02)
        await hp.run_asks(runner, asks)
        await asyncio.sleep(0.05)
        dashboard.finish()
        return dash_comm, dashboard
    comm, dashboard = asyncio.run(go())
    loaded = agentnb.load(runner.save(tmp_path_factory.mktemp("hostile") / "trace.jsonl"))
    return SimpleNamespace(runner=runner, asks=asks, comm=comm, loaded=loaded, dashboard=dashboard)


def visible_text(runner, reveal=False, others=()) -> str:
    """The text of the dashboard, of every invocation's card and diagram, and of a comparison
    with `others`, checked on the way."""
    import agentnb
    from agentnb.core.recorded import Invocation
    css = stylesheet()
    pages = [LiveView(runner.trace, reveal=reveal).html()]
    for inv in runner.invocations().invocation_id:
        pages.append(LiveView(runner.trace, inv, reveal=reveal).html())
        pages.append(Invocation(runner.trace, runner.session_id, inv).diagram()
                     ._repr_mimebundle_()["text/html"])
    pages += [agentnb.compare_view(runner, other, reveal=reveal).html for other in others]
    return "\n".join(check_agentnb_html(html, css) for html in pages)


def expected(place: str, how: str) -> list[str]:
    if how == "json":
        return [shown(json.dumps(t, ensure_ascii=False)) for t in texts(place)]
    if place == "err":
        return [shown(hp.ERROR_TYPE + t) for t in hp.chunks(texts(place), hp.ERROR_CHUNK - len(hp.ERROR_TYPE))]
    return [shown(t) for t in texts(place)]


# --- the corpus itself --------------------------------------------------------------------

def test_corpus_has_every_family_and_a_tag_per_payload():
    payloads = corpus("x")
    assert len(payloads) >= 40
    assert len({p.tag for p in payloads}) == len(payloads) == len({p.text for p in payloads})
    for p in payloads:
        assert hp.js(p.tag) in p.text or f"agentnb-xss-{p.tag}" in p.text, p
    kinds = " ".join(p.kind for p in payloads)
    for family in ("script", "img-onerror", "svg", "body-onload", "details-ontoggle", "video",
                   "js-href", "math", "css-close", "css-expression", "css-import", "comment",
                   "cdata", "unclosed", "rtl", "zero-width", "md-fence", "mermaid-init",
                   "mermaid-click", "template-curly", "template-dollar", "alert"):
        assert family in kinds, family
    assert any("\u202e" in p.text for p in payloads) and any("```" in p.text for p in payloads)
    assert any("%%{init" in p.text for p in payloads) and any("click A" in p.text for p in payloads)
    assert corpus("a")[0].text != corpus("b")[0].text


def test_the_run_put_payloads_everywhere(adk_run):
    trace = adk_run.runner.trace
    changes = trace.of("state_change")
    assert {c.key for c in changes} >= set(texts("skey")) | set(texts("ikey")) | set(texts("dkey"))
    assert {c.new for c in changes} >= set(texts("sval")) | set(texts("ival")) | set(texts("dval"))
    artifacts = trace.of("artifact")
    assert {a.filename for a in artifacts} >= set(texts("afil"))
    assert {a.preview for a in artifacts} >= set(texts("atxt"))
    assert {a.mime_type for a in artifacts} >= set(texts("mime")) | {"image/svg+xml"}
    calls = [c for e in trace.of("event") for c in e.function_calls]
    assert {c["name"] for c in calls} >= set(texts("tool")) | set(texts("unkn"))
    responses = [r["response"] for e in trace.of("event") for r in e.function_responses]
    assert all(any(r.get(k) == v for r in responses) for k, v in zip(texts("rkey"), texts("rval")))
    assert {e.text for e in trace.of("event") if e.event_kind == "model"} == set(
        hp.chunks(texts("mtxt"), hp.MODEL_CHUNK))
    ends = trace.of("invocation_end")
    assert sum(e.status == "error" for e in ends) == sum(a["fails"] for a in adk_run.asks)
    tool_errors = [f for f in trace.of("fact") if f.topic == "tool_error"]
    assert {f.data["tool"] for f in tool_errors} >= set(texts("unkn"))
    assert adk_run.runner.observer.failures == 0


# --- (a) without a browser: only agentnb's own HTML, every payload shown as text ------------

@pytest.mark.parametrize("reveal", [False, True])
def test_every_view_holds_only_agentnb_html_and_shows_each_payload(adk_run, reveal):
    text = visible_text(adk_run.runner, reveal, others=[adk_run.loaded])
    assert len(adk_run.loaded.trace) == len(adk_run.runner.trace)
    missing = [(place, t) for place, how in ADK_PLACES.items() for t in expected(place, how)
               if t not in text]
    assert not missing, missing[:5]
    for one in (corpus("user")[5].text, corpus("sess")[19].text):
        assert shown(one) in text


def test_live_widget_messages_hold_only_agentnb_html(adk_run):
    css = stylesheet()
    sent = [m["content"] for m in adk_run.comm.messages
            if m.get("method") == "custom" and m["content"].get("kind") == "agentnb-patch"]
    fragments = [row for p in sent for op in p["ops"] for row in
                 (op["html"] if op["op"] == "append" else [op["html"]])]
    # A byte budget per patch sends the newest rows and counts the rest: however the run was
    # timed, every row of every section was either sent live or counted as skipped.
    sent_or_skipped = {}
    for p in sent:
        for op in p["ops"]:
            if op["op"] == "append":
                sent_or_skipped[op["section"]] = (sent_or_skipped.get(op["section"], 0)
                                                  + len(op["html"]) + op.get("skipped", 0))
    assert sent_or_skipped == adk_run.dashboard.sections.counts
    assert {"events", "lane-session", "artifacts"} <= set(sent_or_skipped)
    for fragment in fragments:
        check_agentnb_html(fragment, css)
    snapshots = [m["state"]["html"] for m in adk_run.comm.messages
                 if m.get("method") == "update" and "html" in m.get("state", {})]
    assert snapshots
    for html in snapshots:
        check_agentnb_html(html, css)
    for shell in _shells().values():
        check_agentnb_html(shell)


def test_invocation_bundles_hold_only_agentnb_html(adk_run):
    runner = adk_run.runner
    from agentnb.core.recorded import Invocation
    for inv in runner.invocations().invocation_id:
        bundle = Invocation(runner.trace, runner.session_id, inv)._repr_mimebundle_()
        check_agentnb_html(bundle["text/html"], stylesheet())
        shown_live = Invocation(runner.trace, runner.session_id, inv)
        shown_live.shown_live = True
        check_agentnb_html(shown_live._repr_mimebundle_()["text/html"])


def test_dataframes_hold_only_pandas_html(adk_run):
    runner = adk_run.runner
    frames = {"history": runner.history(), "events": runner.events(),
              "artifacts": runner.artifacts(), "invocations": runner.invocations(),
              "timeline": runner.timeline()}
    for name, frame in frames.items():
        for html in (frame._repr_html_(), frame.to_html()):
            check_pandas_html(html)
    def words(text):   # pandas writes a line break as `\\n`; HTML collapses white space
        return " ".join(text.replace("\n", "\\n").split())
    full = words(check_pandas_html(frames["history"].to_html()))
    assert all(words(t) in full for t in texts("skey") + texts("sval")), "history shows keys and values"
    full = words(check_pandas_html(frames["artifacts"].to_html()))
    assert all(words(t) in full for t in texts("afil"))


def test_mermaid_source_keeps_only_inert_words(adk_run):
    """Mermaid has no escaping: labels keep letters, digits and ` _-.:=` only, so no payload can
    add a directive (`%%{init}%%`), a `click` line, HTML or a line break."""
    from agentnb.core.recorded import Invocation
    runner = adk_run.runner
    line = re.compile(r"    (participant [A-Z] as \w+|[URAMTS]-{1,2}>>[URAMTS]: [\w .:=-]*)")
    for inv in runner.invocations().invocation_id:
        source = Invocation(runner.trace, runner.session_id, inv).mermaid()
        lines = source.splitlines()
        assert lines[0] == "sequenceDiagram" and len(lines) > 7
        bad = [l for l in lines[1:] if not line.fullmatch(l)]
        assert not bad, bad[:3]


# --- LiveKit: userdata, participant attributes, tool names, text, errors --------------------

LIVEKIT_PLACES = {"lkey": "raw", "lval": "json", "lwk": "raw", "lwv": "json", "patk": "raw",
                  "patv": "json", "lutx": "raw", "lmtx": "raw", "ltol": "raw"}


def livekit_job():
    from livekit.agents import Agent, RunContext, function_tool

    from agentnb.livekit import NotebookJob, ScriptedLLM, call, reply

    def writer(name, key, value):
        async def write(context: RunContext) -> str:
            context.userdata[key] = value
            return value
        return function_tool(write, name=name, description="writes userdata")

    async def explode(context: RunContext, message: str) -> str:
        raise ValueError(message)

    class HostileAgent(Agent):
        def __init__(self):
            tools = [writer(n, k, v) for n, k, v in zip(texts("ltol"), texts("lwk"), texts("lwv"))]
            super().__init__(instructions="hostile", tools=[*tools, function_tool(
                explode, name="explode", description="fails")])

    user_texts = hp.chunks(texts("lutx"), hp.USER_CHUNK)
    model_texts = hp.chunks(texts("lmtx"), hp.MODEL_CHUNK)
    n_asks = max(len(user_texts), len(model_texts))
    steps = [[call(name) for name in texts("ltol")]]
    steps += [reply(model_texts[n % len(model_texts)]) for n in range(n_asks)]
    steps += [call("explode", message=texts("lerr")[0]), reply("after the error")]
    job = NotebookJob(agent=HostileAgent(), llm=ScriptedLLM(steps), display=False,
                      userdata=dict(zip(texts("lkey"), texts("lval"))), room="hostile")
    asks = [user_texts[n % len(user_texts)] for n in range(n_asks)] + ["explode"]
    return job, asks


def participant_attributes(job):
    """Participants exist only on a real LiveKit server: LiveKit's handler is called directly,
    as LiveKit would, with a participant whose identity and attributes are hostile."""
    who = SimpleNamespace(identity=corpus("pid")[5].text, sid="PA_hostile", kind=0,
                          attributes=dict(zip(texts("patk"), texts("patv"))))
    job.observer.on_participant_connected(who)
    job.observer.on_attributes_changed({texts("patk")[0]: texts("patv")[1]}, who)


@pytest.fixture(scope="module")
def livekit_run():
    job, asks = livekit_job()

    async def go():
        await job.start()
        for text in asks:
            await job.ask(text)
        participant_attributes(job)
        await job.aclose()
    asyncio.run(asyncio.wait_for(go(), 60))
    return job


def test_livekit_views_hold_only_agentnb_html(livekit_run):
    job = livekit_run
    keys = {c.key for c in job.trace.of("state_change")}
    assert set(texts("lkey")) <= keys and set(texts("lwk")) <= keys
    text = "\n".join(check_agentnb_html(v.html(), stylesheet()) for v in
                     [LiveView(job.trace)] + [LiveView(job.trace, i) for i in job.invocations().invocation_id])
    prefix = corpus("pid")[5].text + "."
    missing = []
    for place, how in LIVEKIT_PLACES.items():
        if place == "lutx":
            continue                 # the asks chunk them: checked below
        for t in texts(place):
            if place == "patk":      # attributes are keyed `identity.name`, cut at 120
                want = shown((prefix + t)[:120])
            else:
                want = shown(json.dumps(t, ensure_ascii=False) if how == "json" else t)
            if want not in text:
                missing.append((place, t))
    assert not missing, missing[:5]
    for chunk in hp.chunks(texts("lutx"), hp.USER_CHUNK):
        assert shown(chunk) in text
    assert shown(texts("lerr")[0]) in text
    for frame in (job.history(), job.events(), job.invocations(), job.timeline()):
        check_pandas_html(frame._repr_html_())


# --- artifacts, invisible characters and odd values that once got through ------------------

def _artifact_html(filename, mime, data):
    from agentnb.core.records import ArtifactVersion
    from agentnb.core.trace import Trace
    from agentnb.adk import describe_part
    from google.genai import types
    part = (types.Part(text=data) if mime is None
            else types.Part(inline_data=types.Blob(mime_type=mime, data=data)))
    mime, size, preview = describe_part(part)
    return LiveView(Trace([ArtifactVersion("s", "i", "e", 0.0, filename, 1, mime, size, preview)])).html()


def test_text_artifact_that_looks_like_a_data_url_stays_text():
    payload = f'data:image/svg+xml,<svg xmlns="http://www.w3.org/2000/svg" onload="{hp.js("dtxt-00")}"/>'
    html = _artifact_html("note.txt", None, payload)
    check_agentnb_html(html, stylesheet())   # fails: src is not a base64 raster data URL


@pytest.mark.parametrize("mime", ["image/svg+xml; charset=utf-8",
                                  'image/png" onerror="x', "image/<b>"])
def test_only_raster_images_become_img_previews(mime):
    svg = f'<svg xmlns="http://www.w3.org/2000/svg"><script>{hp.js("mime-99")}</script></svg>'
    html = _artifact_html("picture", mime, svg.encode())
    check_agentnb_html(html, stylesheet())


# Characters that reorder or hide text and that SECURITY.md promises to show as visible codes.
MORE_INVISIBLE = {0x061C: "ARABIC LETTER MARK", 0x180E: "MONGOLIAN VOWEL SEPARATOR",
                  0x2060: "WORD JOINER", 0x2061: "FUNCTION APPLICATION", 0x2062: "INVISIBLE TIMES",
                  0x2063: "INVISIBLE SEPARATOR", 0x2064: "INVISIBLE PLUS",
                  0x206A: "INHIBIT SYMMETRIC SWAPPING", 0x206F: "NOMINAL DIGIT SHAPES",
                  0xE0001: "LANGUAGE TAG", 0xE0041: "TAG LATIN CAPITAL LETTER A",
                  0xE007F: "CANCEL TAG"}


def test_listed_invisible_characters_are_shown_as_codes():
    from agentnb.core.render.escape import esc
    for code in hp.INVISIBLE:
        assert esc(chr(code)) == f"\\u{code:04x}"


def test_every_format_character_is_shown_as_a_code():
    from agentnb.core.render.escape import esc
    hidden = "".join(chr(c) for c in MORE_INVISIBLE)
    smuggled = "ok" + "".join(chr(0xE0000 + ord(c)) for c in "ignore previous instructions")
    for text in (hidden, smuggled):
        assert hp.format_chars(esc(text)) == [], hp.format_chars(esc(text))


def test_text_face_shows_reordering_characters_as_codes():
    from agentnb.core.records import Event, InvocationEnd, InvocationStart, StateChange
    from agentnb.core.trace import Trace
    rtl = "\u202eexe.txt"
    trace = Trace([InvocationStart("s", "i", "a", "hi", 0.0),
                   StateChange("s", "i", "e", 0.0, "a", "tool:x", rtl, "session", None, 1, True),
                   Event("s", "i", "e", 0.0, "a", "error", error=rtl),
                   InvocationEnd("s", "i", 0.0, "error", rtl)])
    for view in (LiveView(trace), LiveView(trace, "i")):
        assert "\u202e" not in view.text()


class BrokenRepr:
    def __repr__(self):
        raise RuntimeError("repr failed")


@pytest.mark.parametrize("value", [__import__("collections").namedtuple("Point", "x y")(1, 2),
                                   BrokenRepr()], ids=["namedtuple", "repr-raises"])
def test_one_odd_state_value_does_not_break_the_views(value):
    from agentnb.core.recorded import Recorded
    from agentnb.core.records import StateChange
    from agentnb.core.trace import Trace
    trace = Trace([StateChange("s", "i", "e", 0.0, "a", "tool:x", "k", "session", None, value, True)])
    recorded = Recorded()
    recorded.trace = trace
    for view in (LiveView(trace), LiveView(trace, "i")):
        check_agentnb_html(view.html(), stylesheet())
        view.text()
    assert len(recorded.history()) == 1


def test_a_view_that_cannot_render_never_reaches_ask(monkeypatch):
    import collections

    import IPython.display
    from google.adk.agents import LlmAgent
    from google.adk.tools import ToolContext

    from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply
    Point = collections.namedtuple("Point", "x y")

    def remember_spot(tool_context: ToolContext) -> dict:
        tool_context.state["spot"] = Point(1, 2)
        return {"ok": True}
    # as in a notebook: a kernel is running and the card is displayed (nowhere, here)
    monkeypatch.setattr("agentnb.jupyter.views.in_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda *args, **kwargs: None)
    runner = NotebookRunner(LlmAgent(name="a", model=ScriptedLlm([call("remember_spot"), reply("ok")]),
                                     tools=[remember_spot]), display=True)
    invocation = asyncio.run(runner.ask("where?"))
    assert invocation.status == "ok"


# --- (b) in real Chromium: JupyterLab, Run All, and the nbconvert HTML ------------------------

NOTEBOOK_CELLS = [
    # 0: set up
    """
    import logging
    logging.getLogger("google_adk").setLevel(logging.CRITICAL)  # 25 expected tool tracebacks
    import hostile_payloads as hp
    runner, asks = hp.hostile_runner(display=True)
    len(asks)
    """,
    # 1: the dashboard, live
    "dash = runner.view()\ndash",
    # 2-5: live cards (top-level await) for the first asks and the first failing one; the
    # others without cards (the dashboard shows them). The model's script is in ask order.
    "inv = await runner.ask(**{k: v for k, v in asks[0].items() if k != 'fails'})\ninv",
    "await runner.ask(asks[1]['message'])",
    """
    first_failing = next(n for n, ask in enumerate(asks) if ask["fails"])
    runner.display = False
    await hp.run_asks(runner, asks[2:first_failing])
    runner.display = True
    """,
    """
    try:
        await runner.ask(asks[first_failing]['message'])
    except ValueError as exc:
        print("the tool failed as scripted")
    runner.display = False
    await hp.run_asks(runner, asks[first_failing + 1:])
    len(runner.trace)
    """,
    # 6: DataFrames
    """
    from IPython.display import display
    for frame in (runner.history(), runner.events(), runner.artifacts(), runner.invocations(),
                  runner.timeline()):
        display(frame)
    """,
    # 7: Mermaid, rendered by JupyterLab's Markdown
    """
    from IPython.display import Markdown
    Markdown("```mermaid\\n" + inv.mermaid() + "\\n```")
    """,
    # 8: LiveKit: userdata, attributes, tool names, text, an error
    """
    import test_hostile as th
    job, job_asks = th.livekit_job()
    for n, text in enumerate(job_asks):
        job.display = n in (0, len(job_asks) - 1)   # a live card for the first and the last
        await job.ask(text)
    th.participant_attributes(job)
    await job.aclose()
    job.view()
    """,
    # 9: positive control: the same payloads as trusted HTML output do run
    """
    from IPython.display import HTML
    for p in hp.corpus("ctl"):
        if p.kind in hp.SELF_FIRING:
            display(HTML('<div class="hostile-control">' + p.text + "</div>"))
    """,
]


# Every element of every card gets the events a person's mouse and keyboard would send.
INTERACT_JS = """() => {
  for (const el of document.querySelectorAll('.anb-root *')) {
    for (const type of ['mouseover', 'mouseenter', 'mousemove', 'focus', 'click', 'dblclick'])
      el.dispatchEvent(new Event(type, {bubbles: true}));
  }
}"""


def own_hits(hits):
    return sorted(h for h in hits if not h.startswith("ctl-"))


def control_hits_expected():
    return {p.tag for p in corpus("ctl") if p.kind in hp.SELF_FIRING and not p.kind.startswith("alert")}


def audit(page):
    return page.evaluate(hp.DOM_AUDIT_JS, [
        ".anb-root", ".jp-OutputArea-output:not(:has(.hostile-control))",
        sorted(hp.AGENTNB_TAGS), sorted(hp.AGENTNB_ATTRS | {"data-status"})])


def cards_text(page):
    return page.evaluate("() => Array.from(document.querySelectorAll('.anb-root'))"
                         ".map(e => e.textContent).join('\\n')")


def missing_payloads(text):
    missing = [(place, t) for place, how in ADK_PLACES.items() for t in expected(place, how)
               if t not in text]
    missing += [("livekit", t) for t in map(shown, texts("lkey") + texts("ltol")) if t not in text]
    return missing


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory, browser):
    """The notebook run in JupyterLab (Run All), inspected, and saved with its widget state."""
    from jupyterlab_browser import jupyter_server, run_notebook_in_browser, write_notebook
    from playwright.sync_api import expect

    notebook = write_notebook(tmp_path_factory.mktemp("hostile") / "hostile_run.ipynb", NOTEBOOK_CELLS)
    saved = {}

    def inspect(page):
        cards = page.locator(".anb-root")
        expect(cards.first).to_be_visible(timeout=60_000)
        # open every closed section, hover and click rows: nothing may fire on interaction
        page.evaluate("() => document.querySelectorAll('.anb-root details').forEach(d => d.open = true)")
        page.evaluate(INTERACT_JS)
        for row in cards.first.locator(".anb-row").all()[:20]:
            row.hover(timeout=2000, force=True)
        cards.first.locator(".anb-artifact").first.click(timeout=2000, force=True)
        visible = []
        for p in corpus("skey")[:6] + corpus("afil")[:3]:
            row = page.locator(".anb-key", has_text=shown(p.text)).first
            row.scroll_into_view_if_needed(timeout=5000)
            visible.append(row.is_visible())
        for p in corpus("tool")[5:8]:
            visible.append(page.get_by_text(p.text, exact=False).first.is_visible())
        inspected = {"audit": audit(page), "text": cards_text(page), "visible": visible,
                     "n_cards": cards.count()}
        # save, with the widget state (jupyterlab-manager's saveState), for nbconvert
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        path = server.root_dir / notebook.name
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            data = json.loads(path.read_text())
            if WIDGET_STATE in data.get("metadata", {}).get("widgets", {}):
                saved["notebook"] = data
                break
            page.wait_for_timeout(200)
        return inspected

    started = time.monotonic()
    with jupyter_server(notebooks=[notebook], files=[TESTS / "hostile_payloads.py", TESTS / "services.py",
                                                     TESTS / "jupyterlab_browser.py",
                                                     TESTS / "test_hostile.py",
                                                     TESTS / "conftest.py",
                                                     TESTS / "services.py"],   # conftest's
                        lab_settings={"@jupyter-widgets/jupyterlab-manager:plugin":
                                      {"saveState": True}}) as server:
        result = run_notebook_in_browser(server, notebook.name, browser=browser,
                                         inspect=inspect, timeout=150)
    print(f"\nJupyterLab run: {time.monotonic() - started:.1f}s, timings {result.timings}")
    return SimpleNamespace(result=result, saved=saved.get("notebook"))


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_jupyterlab_run_all_executes_nothing_and_shows_payloads_as_text(lab_run):
    result = lab_run.result
    assert result.errors == [], result.errors
    counts = [c["execution_count"] for c in result.cells if c["cell_type"] == "code"]
    assert counts == list(range(1, len(NOTEBOOK_CELLS) + 1)), counts
    # nothing of ours ran; the control (trusted HTML output) did, so the detector was live
    assert own_hits(result.xss_hits) == [], own_hits(result.xss_hits)
    assert control_hits_expected() <= set(result.xss_hits), sorted(result.xss_hits)
    assert [d for d in result.dialogs if "ctl-" not in d["message"]] == [], result.dialogs
    assert result.page_errors == [], result.page_errors
    assert result.blocked_requests == [], result.blocked_requests
    inspected = result.inspected
    assert inspected["n_cards"] >= 6 and inspected["audit"]["roots"] >= 6, inspected["audit"]
    assert inspected["audit"]["problems"] == [], inspected["audit"]["problems"][:10]
    assert all(inspected["visible"]), inspected["visible"]
    missing = missing_payloads(inspected["text"])
    assert not missing, missing[:5]
    assert "Error displaying widget" not in result.page_text


# Inserts the saved html of every agentnb widget into the page, as the widget's script would:
# the nbconvert page cannot load the widget manager offline.
@pytest.mark.browser
@pytest.mark.timeout(120)
def test_nbconvert_html_of_the_executed_notebook_executes_nothing(lab_run, browser, tmp_path):
    import nbformat
    from nbconvert import HTMLExporter

    from jupyterlab_browser import XSS_GLOBAL, _INIT_SCRIPT

    assert lab_run.saved is not None, "JupyterLab saved no notebook"
    nb = nbformat.reads(json.dumps(lab_run.saved), as_version=4)
    html, _ = HTMLExporter().from_notebook_node(nb)
    page_file = tmp_path / "hostile_run.html"
    page_file.write_text(html, encoding="utf-8")

    dialogs, blocked = [], []
    context = browser.new_context(service_workers="block")
    try:
        context.route(lambda url: not url.startswith("file://"),
                      lambda route: (blocked.append(route.request.url), route.abort()))
        context.add_init_script(_INIT_SCRIPT)
        page = context.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(page_file.as_uri(), wait_until="load", timeout=60_000)
        page.wait_for_timeout(500)
        # the saved views are the outputs' own static HTML (no widget to render)
        rendered = page.locator(".anb-root").count()
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        page.evaluate(INTERACT_JS)
        page.wait_for_timeout(500)
        hits = [h for f in page.frames for h in f.evaluate(f"() => Array.from(window.{XSS_GLOBAL} || [])")]
        body = page.evaluate("() => document.body.innerText")
        found = audit(page)
        text = cards_text(page)
    finally:
        context.close()
    print(f"\nnbconvert page: {rendered} saved views, {len(blocked)} requests blocked")
    assert own_hits(hits) == [], own_hits(hits)
    assert control_hits_expected() <= set(hits), sorted(hits)
    assert [d for d in dialogs if "ctl-" not in d] == [], dialogs
    # the finished views are in the outputs; the widgets' saved state is audited as well
    assert found["roots"] >= 6 and rendered >= 1 and found["problems"] == [], found["problems"][:10]
    missing = missing_payloads(text)
    assert not missing, missing[:5]
    # the DataFrames are plain HTML in the page: payloads show there as text
    assert sum(t.split("\n")[0] in body for t in texts("skey")) >= len(TEMPLATES) // 2
