"""Views without a browser: widget messages on a capturing comm, IPython's shell, injected
clocks and schedulers where timing matters."""
import asyncio

from google.adk.agents import LlmAgent
from google.adk.tools import ToolContext
from google.genai import types

from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply
from agentnb.core.records import Event, InvocationEnd, InvocationStart, StateChange
from agentnb.core.render.sections import Sections
from agentnb.core.trace import Trace
from agentnb.jupyter.views import SNAPSHOT_EVERY_S, LiveView
from conftest import attach


def patches(comm):
    return [m["content"] for m in comm.messages
            if m.get("method") == "custom" and m["content"].get("kind") == "agentnb-patch"]


def updates(comm, name):
    return [m["state"][name] for m in comm.messages if m.get("method") == "update" and name in m.get("state", {})]


async def slow_tool(note: str, tool_context: ToolContext) -> dict:
    await asyncio.sleep(0.01)
    tool_context.state["note"] = note
    tool_context.state["temp:t"] = 1
    await tool_context.save_artifact("n.txt", types.Part(text=note))
    return {"ok": True}


class Timers:
    """A scheduler that only records; the test runs what is due."""

    def __init__(self):
        self.pending = []

    def __call__(self, delay, fn):
        self.pending.append((delay, fn))

    def run_all(self):
        while self.pending:
            self.pending.pop(0)[1]()


def test_live_view_follows_a_run_incrementally_and_ends_complete():
    """The tool waits until the page has its call: the view is live while the tool runs."""
    release = asyncio.Event()

    async def slow_tool(note: str, tool_context: ToolContext) -> dict:
        await asyncio.wait_for(release.wait(), 30)
        tool_context.state["note"] = note
        tool_context.state["temp:t"] = 1
        await tool_context.save_artifact("n.txt", types.Part(text=note))
        return {"ok": True}
    agent = LlmAgent(name="a", model=ScriptedLlm([call("slow_tool", note="x"), call("slow_tool", note="y"),
                                                  reply("done")]), tools=[slow_tool])
    runner = NotebookRunner(agent, display=False)

    def call_on_page(comm):
        return any("slow_tool" in "".join(op["html"]) for p in patches(comm) for op in p["ops"]
                   if op["op"] == "append")

    async def go():
        view = runner.view()
        comm = attach(view)
        view.follow(asyncio.get_running_loop())
        task = asyncio.ensure_future(runner.ask("go"))
        for _ in range(3000):              # the call reaches the page while the tool waits
            if call_on_page(comm):
                break
            await asyncio.sleep(0.01)
        seen_while_running = call_on_page(comm) and not task.done()
        release.set()
        await task
        view.finish()
        return view, comm, seen_while_running
    view, comm, seen_while_running = asyncio.run(go())
    assert seen_while_running
    sent = patches(comm)
    appended = [row for p in sent for op in p["ops"] if op["op"] == "append" for row in op["html"]]
    assert len(appended) == len(set(appended))      # incremental: no fragment sent twice
    lanes = {op["section"] for p in sent for op in p["ops"]}
    assert {"events", "lane-session", "lane-temp", "artifacts"} <= lanes
    final = updates(comm, "html")[-1]
    fresh = Sections(title=view.sections.title)
    fresh.add(runner.trace.snapshot())
    assert final == fresh.html(style=False)         # the saved state equals the whole trace
    assert "note" in final and "n.txt" in final


def test_a_dashboard_snapshot_is_saved_at_most_every_interval_and_once_the_trace_goes_quiet():
    trace, timers, now = Trace(), Timers(), [1000.0]

    def run(n):
        trace.append(InvocationStart("s", f"i{n}", "a", f"ask {n}", now[0]))
        trace.append(InvocationEnd("s", f"i{n}", now[0], "ok"))

    view = LiveView(trace, clock=lambda: now[0])
    comm = attach(view)
    view.follow(schedule=timers, interval=0.01)
    run(1)
    timers.run_all()
    assert "ask 1" in updates(comm, "html")[-1]     # the first snapshot at once
    now[0] += 0.1
    run(2)
    flush = timers.pending.pop(0)[1]
    flush()                                         # sent, but its snapshot waits its turn
    assert "ask 2" not in updates(comm, "html")[-1]
    assert [round(d, 6) for d, _ in timers.pending] == [round(SNAPSHOT_EVERY_S - 0.1, 6)]
    now[0] += SNAPSHOT_EVERY_S
    timers.run_all()                                # the trace went quiet: saved anyway
    assert "ask 2" in updates(comm, "html")[-1]
    view.finish()


def test_every_view_escapes_what_it_renders():
    payload = '<script>alert(1)</script><img src=x onerror=alert(2)>\u202e'
    trace = Trace([Event("s", "i", "e", 0.0, payload, "model", payload,
                         [{"id": payload, "name": payload, "args": {payload: payload}}]),
                   StateChange("s", "i", "e", 0.0, payload, payload, payload, "session", payload, payload, True)])
    view = LiveView(trace)
    html = view.html()
    assert "<script>" not in html and "<img" not in html and "\u202e" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "\\u202e" in html
    assert payload.replace("\u202e", "\\u202e") in view.text()   # text face: codes too

def test_masked_in_views():
    trace = Trace([StateChange("s", "i", "e", 0.0, "a", "tool:x", "user:password", "user", None, "hunter2", True)])
    assert "hunter2" not in LiveView(trace).html() and "hunter2" not in LiveView(trace).text()
    assert "hunter2" in LiveView(trace, reveal=True).html()

def test_each_cell_ends_with_following_views_saved_whole(shell):
    """Runs with no card of their own, their dashboard's snapshot throttled to one per 2 s and
    its loop not running: the end of the cell still sends what is new and saves it whole."""
    runner = NotebookRunner(LlmAgent(name="a", model=ScriptedLlm([reply("one"), reply("two")])),
                            display=False)
    view = runner.view()
    comm = attach(view)
    view.follow(asyncio.new_event_loop())     # never runs: no timer of the view's will fire
    asyncio.run(runner.ask("first"))
    asyncio.run(runner.ask("second"))
    assert updates(comm, "html") == []
    shell.run_cell("pass")
    fresh = Sections(title=view.sections.title)
    fresh.add(runner.trace.snapshot())
    assert updates(comm, "html")[-1] == fresh.html(style=False) and "two" in fresh.html()
    assert patches(comm)
    view.finish()

def test_card_head_says_when_end_invocation_stopped_the_run():
    def stop_early(callback_context):
        return types.Content(role="model", parts=[types.Part(text="closed")])  # ADK sets end_invocation
    agent = LlmAgent(name="shop", model=ScriptedLlm([]), before_agent_callback=stop_early)
    runner = NotebookRunner(agent, display=False)
    inv = asyncio.run(runner.ask("open?"))
    head = inv.view().html().split('<div class="anb-body">')[0]
    assert "end_invocation" in head and inv.text == "closed"
    assert any(f.topic == "end_invocation" for f in runner.trace.of("fact"))


# --- what a card says, and where (core/render) -------------------------------------------

def card_of(runner, invocation):
    sections = Sections(invocation.invocation_id)
    sections.add(runner.trace.snapshot())
    return sections


def test_live_shells_are_the_snapshot_sections_in_its_order_and_fold():
    from agentnb.core.render.sections import CLOSED, ORDER, shells
    drawn = shells()
    assert list(drawn)[:len(ORDER)] == list(ORDER)        # the page places new sections by it
    assert [k for k in drawn if k.startswith("lane-")] == [f"lane-{s}" for s in
                                                            ("app", "user", "session", "temp", "userdata", "attributes")]
    for name in ORDER:
        assert (" open" not in drawn[name].split("<summary>")[0]) == (name in CLOSED), name
    assert Sections("i").section("context") == drawn["context"]   # an empty section, as drawn


def test_a_running_tool_is_the_timeline_tail_until_it_returns():
    from agentnb.core.records import ContextSnapshot
    sections = Sections("i")
    call_event = Event("s", "i", "e1", 1.0, "a", "function_call",
                       function_calls=[{"id": "c1", "name": "lookup", "args": {"city": "Lyon"}}])
    started = ContextSnapshot("s", "i", 1.5, "before_tool_callback", "ToolContext", "Context",
                              "a", "c1", exposed={"tool": "lookup", "args": {"city": "Lyon"}})
    ops = sections.add([InvocationStart("s", "i", "a", "go", 1.0), call_event, started])
    (tail,) = [op for op in ops if op["op"] == "tail"]
    assert tail["section"] == "events" and 'data-started="1.500"' in tail["html"]
    assert "lookup #1" in tail["html"] and '"city": "Lyon"' in tail["html"]
    assert "the state it writes shows when ADK applies it" in tail["html"]
    assert "anb-tail" in sections.html()                  # a snapshot taken now shows it too
    returned = ContextSnapshot("s", "i", 2.0, "after_tool_callback", "ToolContext", "Context",
                               "a", "c1", exposed={"tool": "lookup", "result": {}})
    ops = sections.add([returned])
    assert [op for op in ops if op["op"] == "tail"] == [{"op": "tail", "section": "events", "html": ""}]
    assert "anb-tail" not in sections.html()
    assert sections.add([Event("s", "i", "e2", 2.1, "a", "model", "ok")])[-1]["op"] == "append"


def test_a_write_of_an_equal_value_is_in_history_not_in_the_lanes():
    def keep(value: str, tool_context: ToolContext) -> dict:
        tool_context.state["drink"] = value
        return {"ok": True}
    runner = NotebookRunner(LlmAgent(name="a", tools=[keep], model=ScriptedLlm(
        [call("keep", value="tea"), reply("one"), call("keep", value="tea"), reply("two")])),
        display=False)
    asyncio.run(runner.ask("first"))
    second = asyncio.run(runner.ask("second"))
    assert list(runner.history().new) == ["tea", "tea"]
    assert 'lane-session' not in card_of(runner, second).html()
    assert card_of(runner, second).html().count("anb-change") == 0
    assert LiveView(runner.trace).html().count("anb-change") == 1


def test_labels_say_what_they_mean():
    from agentnb.core.records import ContextSnapshot, Fact
    from agentnb.core.render.rows import context_line, event_text, fact_html
    runner = NotebookRunner(LlmAgent(name="a", tools=[slow_tool], model=ScriptedLlm(
        [call("slow_tool", note="x"), reply("done")])), user_id="user", display=False)
    inv = asyncio.run(runner.ask("I like tea"))
    card = card_of(runner, inv)
    html, text = card.html(), LiveView(runner.trace).text()
    assert "user user" not in html and "user user" not in text
    assert "user_id user" in html                          # the head names ADK's user_id
    assert "ToolContext · seq 1" in html and "seq: order in the session" in html
    assert "ToolContext (class Context)" in html          # what ADK really passed
    assert "NoneType" not in html and "Facts" not in html
    line = context_line(ContextSnapshot("s", "i", 0.0, "before_run_callback",
                                        "InvocationContext", "InvocationContext"))
    assert "agent=" not in line and "received" not in line
    assert event_text(Event("s", "i", "e", 0.0, "user", "user", "hi")).split() == ["user", "'hi'"]
    usage = fact_html(Fact("s", "i", 0.0, "usage", {"model_usage": [
        {"type": "llm_usage", "provider": "openai", "model": "gpt-x", "input_tokens": 1200,
         "output_tokens": 30, "input_cached_tokens": 0, "session_duration": 0.0}]}))
    assert "usage</b>" in usage and "llm gpt-x</b> input 1,200 tokens, output 30 tokens" in usage
    assert "cached" not in usage and "{" not in usage      # numbers, not a cut JSON string
    memory = fact_html(Fact("s", "i", 0.0, "memory_search", {
        "query": "cat name", "tool": "recall", "function_call_id": "c1",
        "hits": [{"author": "user", "text": "My cat is called Miso"}]}), calls={"c1": 2})
    assert "memory search</b>" in memory and "<q>cat name</q> by recall #2 → 1 hit" in memory
    assert '"My cat is called Miso"' in memory
    auth = fact_html(Fact("s", "i", 0.0, "auth_request", {
        "function_call_id": "c1", "tool": "weather",
        "auth_config": {"auth_scheme": {"type_": "apiKey", "in_": "header", "name": "X-Api-Key"}}}))
    assert "auth request</b> a credential (apiKey header X-Api-Key) asked by weather" in auth
    ended = fact_html(Fact("s", "i", 0.0, "end_invocation", {"agent": "shop", "branch": None}))
    assert "end_invocation</b> set by agent shop" in ended


def test_a_section_shows_its_newest_rows_and_the_rest_behind_show_all():
    from agentnb.core.patch import SHOWN_ROWS
    trace = Trace([Event("s", "i", f"e{n}", float(n), "a", "model", f"row {n}")
                   for n in range(SHOWN_ROWS + 5)])
    html = LiveView(trace).html()
    older, newest = html.split("<div class=anb-rows>")
    assert f"<summary>show all {SHOWN_ROWS + 5}</summary>" in older
    assert "row 4<" in older and "row 5<" in newest and f"row {SHOWN_ROWS + 4}<" in newest
    assert newest.count("class=anb-row>") == SHOWN_ROWS


def test_a_run_that_waits_for_an_answer_says_so_and_resumes_in_its_card():
    from google.adk.tools import FunctionTool

    def refund(amount: int) -> dict:
        """Give money back."""
        return {"refunded": amount}
    runner = NotebookRunner(LlmAgent(name="clerk", tools=[FunctionTool(refund, require_confirmation=True)],
                                     model=ScriptedLlm([call("refund", amount=5), reply("Refunded.")])),
                            display=False)
    asked = asyncio.run(runner.ask("refund 5"))
    waiting = card_of(runner, asked)
    assert waiting.status() == "waiting" and asked.status == "waiting"
    assert "waiting for a confirmation" in waiting.head and 'data-status="waiting"' in waiting.html()
    assert "waiting for a confirmation" in LiveView(runner.trace).html()   # the dashboard's row
    from agentnb.jupyter.forms import pending_confirmations
    (request,) = pending_confirmations(runner.trace, asked.invocation_id)
    assert request["tool"] == "refund" and request["args"] == {"amount": 5}
    card = LiveView(runner.trace, asked.invocation_id)
    assert not card.can_change()
    card.run_coming = True                   # a live card for the run that resumes it
    assert card.can_change()
    answer = types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
        id=request["id"], name="adk_request_confirmation", response={"confirmed": True}))])
    resumed = asyncio.run(runner.ask(answer))
    assert resumed.invocation_id == asked.invocation_id
    done = card_of(runner, asked)
    assert done.status() == "ok" and "resumed after an answer" in done.head
    assert "end_invocation" not in done.head      # what paused it is history: a row, not the head
    assert pending_confirmations(runner.trace, asked.invocation_id) == []


def test_a_rows_clock_is_what_datetime_shows_to_the_millisecond():
    import datetime as dt
    import random

    from agentnb.core.render.escape import clock
    rng = random.Random(7)
    times = [rng.uniform(0, 2e9) for _ in range(20_000)]
    times += [1.9999995, 1.9999996, 1.0000005, 1.0000015, 59.9999999, 0.0, 1796133223.9999996]
    for t in times:
        assert clock(t) == dt.datetime.fromtimestamp(t, dt.UTC).strftime("%H:%M:%S.%f")[:-3], t
