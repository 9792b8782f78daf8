"""Views and magics without a browser: widget messages on a capturing comm, IPython's shell."""
import asyncio
import threading
import time

import pytest
from google.adk.agents import LlmAgent
from google.adk.tools import ToolContext
from google.genai import types

from agentnb._records import Event, InvocationEnd, InvocationStart, StateChange
from agentnb._render import Sections
from agentnb._throttle import Throttle
from agentnb._trace import Trace
from agentnb._views import SNAPSHOT_EVERY_S, LiveView
from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply
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


def test_live_view_is_incremental_throttled_and_ends_complete():
    in_tool = []

    async def slow_tool(note: str, tool_context: ToolContext) -> dict:
        in_tool.append(asyncio.Event())
        await asyncio.sleep(0.4)   # a slow tool: the view must show the call before it returns
        tool_context.state["note"] = note
        tool_context.state["temp:t"] = 1
        await tool_context.save_artifact("n.txt", types.Part(text=note))
        return {"ok": True}
    agent = LlmAgent(name="a", model=ScriptedLlm([call("slow_tool", note="x"), call("slow_tool", note="y"),
                                                  reply("done")]), tools=[slow_tool])
    runner = NotebookRunner(agent, display=False)

    async def go():
        view = runner.view()
        comm = attach(view)
        view.follow(asyncio.get_running_loop())
        started = time.monotonic()
        task = asyncio.ensure_future(runner.ask("go"))
        while not in_tool:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        mid = [p for p in patches(comm)]
        await task
        await asyncio.sleep(0.25)
        view.finish()
        return view, comm, mid, time.monotonic() - started
    view, comm, mid, took = asyncio.run(go())
    # live: the function call was on the page while the tool still ran
    assert any("slow_tool" in "".join(op["html"]) for p in mid for op in p["ops"] if op["op"] == "append")
    sent = patches(comm)
    assert 2 <= len(sent) <= took / 0.1 + 2         # throttled to ~10 per second
    appended = [row for p in sent for op in p["ops"] if op["op"] == "append" for row in op["html"]]
    assert len(appended) == len(set(appended))      # incremental: no fragment sent twice
    lanes = {op["section"] for p in sent for op in p["ops"]}
    assert {"events", "lane-session", "lane-temp", "artifacts"} <= lanes
    final = updates(comm, "html")[-1]
    fresh = Sections(title=view.sections.title)
    fresh.add(runner.trace.snapshot())
    assert final == fresh.html()                    # the saved state equals the whole trace
    assert "note" in final and "n.txt" in final


def test_a_throttled_dashboard_snapshot_is_saved_once_the_trace_goes_quiet():
    trace = Trace()

    def run(n):
        trace.append(InvocationStart("s", f"i{n}", "a", f"ask {n}", time.time()))
        trace.append(InvocationEnd("s", f"i{n}", time.time(), "ok"))

    async def go():
        view = LiveView(trace)
        comm = attach(view)
        view.follow(asyncio.get_running_loop(), interval=0.01)
        run(1)
        await asyncio.sleep(0.1)
        run(2)                        # its snapshot is due, but the last was 0.1 s ago
        await asyncio.sleep(0.1)
        before = updates(comm, "html")[-1]
        await asyncio.sleep(SNAPSHOT_EVERY_S)
        return before, updates(comm, "html")[-1]
    before, after = asyncio.run(go())
    assert "ask 1" in before and "ask 2" not in before
    assert "ask 2" in after


def test_throttle_coalesces_marks_from_threads():
    flushed = []
    loop_calls = []

    def schedule(delay, fn):
        loop_calls.append(delay)
        threading.Timer(delay, fn).start()
    throttle = Throttle(lambda: flushed.append(time.monotonic()), schedule, interval=0.1)
    workers = [threading.Thread(target=lambda: [throttle.mark() or time.sleep(0.001) for _ in range(300)])
               for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    time.sleep(0.25)
    throttle.close()
    gaps = [b - a for a, b in zip(flushed, flushed[1:-1])]
    assert all(g >= 0.09 for g in gaps), gaps
    assert len(flushed) < 1200 / 10


def test_trace_keeps_order_and_seq_under_threads():
    trace = Trace()

    def writer(n):
        for i in range(500):
            trace.append(StateChange("s", None, None, 0.0, "", "t", f"k{n}", "session", None, i, True))
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    changes = trace.of("state_change")
    assert [c.seq for c in changes] == list(range(2000))
    for n in range(4):
        assert [c.new for c in changes if c.key == f"k{n}"] == list(range(500))


def test_listener_failure_never_reaches_the_appender():
    trace = Trace()
    trace.subscribe(lambda n: 1 / 0)
    trace.append(Event("s", "i", "e", 0.0, "a", "model", "hi"))
    assert len(trace) == 1 and trace.listener_errors == 1


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


def test_author_is_not_a_secret_but_auth_is():
    from agentnb._mask import is_secret_key
    assert not is_secret_key("author") and not is_secret_key("authority")
    for key in ("auth", "api_key", "apiKey", "user:access_token", "client_secret", "password",
                "Authorization", "credentials", "temp:oauth2"):
        assert is_secret_key(key), key


# --- magics, through IPython's own shell ---------------------------------------------------

@pytest.fixture()
def shell():
    from IPython.testing.globalipapp import get_ipython
    ip = get_ipython()
    ip.run_line_magic("load_ext", "agentnb")
    yield ip
    ip.run_line_magic("unload_ext", "agentnb")


def cell(ip, source):
    result = ip.run_cell(source)
    return result


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
    cell(shell, "pass")
    fresh = Sections(title=view.sections.title)
    fresh.add(runner.trace.snapshot())
    assert updates(comm, "html")[-1] == fresh.html() and "two" in fresh.html()
    assert patches(comm)
    view.finish()


def test_adk_magics_run_cells_and_return_frames(shell):
    shell.user_ns["concierge"] = LlmAgent(
        name="concierge", model=ScriptedLlm([call("slow_tool", note="hello"), reply("ok")]),
        tools=[slow_tool])
    result = cell(shell, "runner = %adk concierge --app nb --user ada")
    assert result.success
    runner = shell.user_ns["runner"]
    assert (runner.app_name, runner.user_id) == ("nb", "ada")
    result = cell(shell, "%%adk\nremember hello")
    assert result.success, result.error_in_exec
    assert runner.last_invocation.status == "ok"
    frame = cell(shell, "%agentnb history").result
    assert frame.key.tolist() == ["note", "temp:t"]
    assert cell(shell, "%agentnb invocations").result.user_text.tolist() == ["remember hello"]


@pytest.mark.parametrize("source, message", [
    ("%adk", "agentnb: expected 1 argument, got 0"),
    ("%adk nothing_here", "agentnb: no variable named 'nothing_here'"),
    ("%adk 'os.system(1)'", "agentnb: no variable named"),
    ("%adk concierge --colour red", "agentnb: unknown option '--colour'"),
    ("%agentnb frobnicate", "agentnb: unknown command 'frobnicate'"),
    ("%agentnb load /nonexistent/trace.jsonl", "agentnb: "),
    ("%agentnb compare a", "agentnb: expected 2 arguments, got 1"),
])
def test_magic_errors_are_one_line_usage_errors(shell, source, message, capsys):
    shell.user_ns["concierge"] = LlmAgent(name="c", model=ScriptedLlm())
    result = cell(shell, source)
    assert not result.success
    error = result.error_in_exec
    assert type(error).__name__ == "UsageError" and str(error).startswith(message)
    assert "\n" not in str(error)


def test_unknown_agent_type_and_no_current_runner(shell):
    from agentnb import _magics
    _magics.current.update(adk=None, last=None)
    shell.user_ns["number"] = 3
    assert str(cell(shell, "%adk number").error_in_exec) == (
        "agentnb: 'number' is a int, not an ADK agent or NotebookRunner")
    assert str(cell(shell, "%%adk\nhi").error_in_exec).startswith("agentnb: no current ADK runner")


def test_unload_removes_transformer_and_magics():
    from IPython.testing.globalipapp import get_ipython
    from agentnb._magics import rewrite_async_magics
    ip = get_ipython()
    ip.run_line_magic("load_ext", "agentnb")
    assert rewrite_async_magics in ip.input_transformers_cleanup
    ip.run_line_magic("unload_ext", "agentnb")
    assert rewrite_async_magics not in ip.input_transformers_cleanup
    assert "adk" not in ip.magics_manager.magics["line"]


def test_time_travel_and_save_load_magics(shell, tmp_path):
    from agentnb import _magics
    shell.user_ns["echo"] = LlmAgent(name="echo", model=ScriptedLlm())
    assert cell(shell, "runner = %adk echo").success
    for text in ("one", "two"):
        assert cell(shell, f"%%adk\n{text}").success
    runner = shell.user_ns["runner"]
    first = runner.invocations().invocation_id.iloc[0]
    result = cell(shell, f"child = %agentnb fork {first}")
    assert result.success, result.error_in_exec
    child = shell.user_ns["child"]
    assert child.trace.of("session")[0].forked_at == first and _magics.current["adk"] is child
    shell.user_ns["a"], shell.user_ns["b"] = runner, child
    assert cell(shell, "%agentnb compare a b").result.empty   # echo writes no state
    path = tmp_path / "t.jsonl"
    assert cell(shell, f"%agentnb save {path}").success
    loaded = cell(shell, f"%agentnb load {path}").result
    assert len(loaded.trace) == len(child.trace)
    assert str(cell(shell, "%agentnb rewind nope").error_in_exec).startswith("agentnb: no invocation 'nope'")


def test_sequence_diagram_from_a_real_run():
    agent = LlmAgent(name="a", model=ScriptedLlm([call("slow_tool", note="x"), reply("done <b>bold</b>")]),
                     tools=[slow_tool])
    runner = NotebookRunner(agent, display=False)
    inv = asyncio.run(runner.ask("hi"))
    diagram = inv.diagram()
    lines = diagram.source.splitlines()
    assert lines[0] == "sequenceDiagram"
    assert lines[7:] == ["    U->>R: hi", "    R->>A: run a", "    A->>M: request", "    M-->>A: call slow_tool",
                         "    A->>T: slow_tool   note :  x", "    T-->>A: slow_tool result",
                         "    T->>S: note =  x", "    T->>S: temp:t = 1",
                         "    A->>M: request", "    M-->>A: done  b bold  b", "    R-->>U: ok"]
    bundle = diagram._repr_mimebundle_()
    assert bundle["text/vnd.mermaid"] == diagram.source
    assert "<b>" not in bundle["text/html"] and "done &lt;b&gt;bold&lt;/b&gt;" in bundle["text/html"]
    assert 'data-section="diagram"' in inv.view().html()   # the finished card carries it too


def test_adk_magic_makes_an_existing_runner_current(shell):
    runner = NotebookRunner(LlmAgent(name="e", model=ScriptedLlm()), state={"k": 1}, display=False)
    shell.user_ns["mine"] = runner
    assert cell(shell, "%adk mine").success
    assert cell(shell, "%%adk\nhello").success
    assert runner.last_invocation.text == "hello"
    assert str(cell(shell, "%adk mine --app x").error_in_exec).startswith("agentnb: --app, --user")


def test_card_head_says_when_end_invocation_stopped_the_run():
    def stop_early(callback_context):
        return types.Content(role="model", parts=[types.Part(text="closed")])  # ADK sets end_invocation
    agent = LlmAgent(name="shop", model=ScriptedLlm([]), before_agent_callback=stop_early)
    runner = NotebookRunner(agent, display=False)
    inv = asyncio.run(runner.ask("open?"))
    head = inv.view().html().split('<div class="anb-body">')[0]
    assert "end_invocation" in head and inv.text == "closed"
    assert any(f.topic == "end_invocation" for f in runner.trace.of("fact"))
