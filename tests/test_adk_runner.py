"""The spine, with the real ADK: recorder, scripted model, DataFrames, replay invariant."""
import asyncio
import json
import logging
import math
import subprocess
import sys

import pandas as pd
import pytest
from google.adk.agents import LlmAgent
from google.adk.plugins.base_plugin import BasePlugin
from google.adk.tools import ToolContext
from google.genai import types

import agentnb
from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply
from corpus_adk.credential import AUTH   # an API-key AuthConfig, as ADK's authentication docs write it


def run(coro):
    return asyncio.run(coro)


async def remember(drink: str, tool_context: ToolContext) -> dict:
    """Writes every scope and saves a new artifact version."""
    state = tool_context.state
    state["user:drink"] = drink
    state["app:last_tool"] = "remember"
    state["temp:call"] = tool_context.function_call_id
    state["count"] = state.get("count", 0) + 1
    state["api_token"] = f"tok-{drink}"
    version = await tool_context.save_artifact("note.txt", types.Part(text=f"likes {drink}"))
    return {"version": version}


def make_runner(steps, **kw):
    agent = LlmAgent(name="concierge", model=ScriptedLlm(steps), tools=[remember])
    kw.setdefault("state", {"app:theme": "dark", "greeting": "hi"})
    return NotebookRunner(agent, app_name="demo", user_id="u1", display=False, **kw)


def replay(history: pd.DataFrame) -> dict:
    state = {}
    for _, row in history[history.persisted].sort_values("seq").iterrows():
        state[row.key] = row.new
    return state


@pytest.fixture(scope="module")
def scenario():
    """Three invocations: a tool call, two parallel tool calls, a state_delta from the user."""
    runner = make_runner([
        call("remember", drink="tea"), reply("Noted."),
        [call("remember", drink="milk"), call("remember", drink="coffee")], reply("Both."),
        reply("Plain answer."),
    ])

    async def go():
        first = await runner.ask("I like tea")
        second = await runner.ask("milk and coffee")
        third = await runner.ask("hello", state_delta={"mood": "happy"})
        session = await runner.get_session()
        versions = await runner.adk_runner.artifact_service.list_versions(
            app_name="demo", user_id="u1", session_id=runner.session_id, filename="note.txt")
        return first, second, third, session, versions
    return runner, *run(go())


def test_replay_invariant_yields_adk_session_state(scenario):
    runner, *_, session, _ = scenario
    assert replay(runner.history(reveal=True)) == session.state


def test_history_columns_dtypes_and_scopes(scenario):
    runner = scenario[0]
    history = runner.history()
    assert list(history.columns) == ["session_id", "invocation_id", "event_id", "seq", "timestamp",
                                     "author", "source", "key", "scope", "old", "new", "persisted"]
    assert history.seq.tolist() == list(range(len(history)))
    assert str(history.timestamp.dtype) in ("datetime64[ns, UTC]", "datetime64[us, UTC]")
    assert history.persisted.dtype == bool
    scopes = dict(zip(history.key, history.scope))
    assert scopes == {"app:theme": "app", "greeting": "session", "user:drink": "user",
                      "app:last_tool": "app", "temp:call": "temp", "count": "session",
                      "api_token": "session", "mood": "session"}


def test_initial_state_rows(scenario):
    history = scenario[0].history()
    initial = history[history.source == "initial"]
    assert dict(zip(initial.key, initial.new)) == {"app:theme": "dark", "greeting": "hi"}
    assert initial.invocation_id.isna().all() and initial.seq.tolist() == [0, 1]
    # None, as for every other missing value of the frame, not NaN (pandas 3 gives NaN to an
    # object column built from a mix of strings and None unless told otherwise)
    assert [*initial.invocation_id, *initial.event_id] == [None] * 4


def test_temp_rows_recorded_but_not_persisted(scenario):
    runner, *_, session, _ = scenario
    history = runner.history()
    temp = history[history.key == "temp:call"]
    assert len(temp) == 3 and not temp.persisted.any()
    assert all(str(v).startswith("adk-") for v in temp.new)
    assert "temp:call" not in session.state
    # temp: ends with its invocation: the next invocation's write starts from nothing
    assert temp.old.iloc[0] is None and temp.old.iloc[1] is None
    assert temp.old.iloc[2] == temp.new.iloc[1]   # parallel calls share one live state


def test_parallel_tool_writes_each_get_a_row(scenario):
    runner, _, second, *_ = scenario
    rows = runner.history()
    rows = rows[(rows.invocation_id == second.invocation_id) & (rows.key == "user:drink")]
    assert rows.new.tolist() == ["milk", "coffee"]
    assert rows.old.tolist() == ["tea", "milk"]
    assert set(rows.source) == {"tool:remember"}
    assert rows.event_id.nunique() == 1   # ADK merged both responses into one event


def test_state_delta_of_ask_is_a_user_row(scenario):
    runner, _, _, third, *_ = scenario
    rows = runner.history()
    mood = rows[rows.key == "mood"].iloc[0]
    assert (mood.source, mood.author, mood.invocation_id, mood.new) == (
        "user", "user", third.invocation_id, "happy")


def test_artifact_versions_match_list_versions_including_parallel(scenario):
    runner, *_, versions = scenario
    arts = runner.artifacts()
    assert sorted(arts.version.tolist()) == sorted(versions) == [0, 1, 2]
    assert arts.filename.unique().tolist() == ["note.txt"]
    assert arts.size_bytes.tolist() == [len("likes tea"), len("likes milk"), len("likes coffee")]
    assert (arts.mime_type == "text/plain").all()
    # v1 was saved by the first of two parallel calls and appears in no ADK event
    in_events = {v for d in runner.events().artifact_delta for v in d.values()}
    assert 1 not in in_events and 1 in arts.version.tolist()


def test_events_equal_adk_session_events(scenario):
    runner, *_, session, _ = scenario
    events = runner.events()
    assert events.event_id.tolist() == [e.id for e in session.events]
    assert events.author.iloc[0] == "user" and events.kind.iloc[0] == "user"
    calls = events[events.kind == "function_call"].function_calls.tolist()
    assert calls[1][0]["name"] == "remember" and calls[1][1]["args"] == {"drink": "coffee"}
    assert calls[0][0]["id"].startswith("adk-")


def test_invocations_frame(scenario):
    runner, first, second, third, *_ = scenario
    inv = runner.invocations()
    assert inv.invocation_id.tolist() == [first.invocation_id, second.invocation_id,
                                          third.invocation_id]
    assert inv.status.tolist() == ["ok", "ok", "ok"]
    assert inv.user_text.tolist() == ["I like tea", "milk and coffee", "hello"]
    assert inv.n_artifacts.tolist() == [1, 2, 0]
    assert (inv.duration_s > 0).all() and (inv.ended >= inv.started).all()
    assert third.text == "Plain answer." and first.status == "ok"


def test_timeline_is_wide_state_after_each_event(scenario):
    runner = scenario[0]
    timeline = runner.timeline()
    assert list(timeline.columns[:4]) == ["session_id", "invocation_id", "event_id", "seq"]
    assert timeline.iloc[0]["app:theme"] == "dark" and pd.isna(timeline.iloc[0]["invocation_id"])
    assert timeline.iloc[-1]["mood"] == "happy" and timeline.iloc[-1]["user:drink"] == "coffee"
    assert pd.isna(timeline.iloc[-1]["temp:call"])       # temp: ended with invocation 2
    assert str(timeline.iloc[-2]["temp:call"]).startswith("adk-")
    assert timeline.seq.is_monotonic_increasing


def test_context_kinds_recorded(scenario):
    runner, first, *_ = scenario
    contexts = first.contexts
    kinds = {(c.hook, c.context_kind, c.actual_class) for c in contexts}
    assert ("before_run_callback", "InvocationContext", "InvocationContext") in kinds
    assert ("before_model_callback", "CallbackContext", "Context") in kinds
    assert ("before_tool_callback", "ToolContext", "Context") in kinds
    tool = next(c for c in contexts if c.hook == "after_tool_callback")
    assert tool.function_call_id.startswith("adk-") and tool.state["user:drink"] == "tea"
    assert tool.agent == "concierge" and tool.user_text == "I like tea"


def test_secrets_masked_by_default_and_revealed_on_request(scenario, tmp_path):
    runner = scenario[0]
    masked = runner.history()
    token = masked[masked.key == "api_token"]
    assert set(token.new) == {"••••••"}
    assert "tok-" not in runner.events().to_string()
    assert set(runner.history(reveal=True).query("key == 'api_token'").new) == {
        "tok-tea", "tok-milk", "tok-coffee"}
    saved = runner.save(tmp_path / "t.jsonl")
    assert "tok-tea" not in open(saved).read()
    revealed = runner.save(tmp_path / "r.jsonl", reveal=True)
    assert "tok-tea" in open(revealed).read()


def test_save_load_round_trip(scenario, tmp_path):
    runner = scenario[0]
    path = runner.save(tmp_path / "trace.jsonl", reveal=True)
    header = json.loads(open(path).readline())
    assert header["format"] == "agentnb-trace" and header["version"] == 1
    loaded = agentnb.load(path)
    for name in ("history", "events", "artifacts", "invocations", "timeline"):
        pd.testing.assert_frame_equal(getattr(loaded, name)(reveal=True),
                                      getattr(runner, name)(reveal=True))
    assert "user:drink" in loaded.view().html()


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "x.jsonl"
    bad.write_text('{"hello": 1}\n')
    with pytest.raises(ValueError, match="^agentnb: .* is not an agentnb trace"):
        agentnb.load(bad)


def test_odd_values_round_trip(tmp_path):
    from agentnb.core.codec import TypedRepr, decode, encode
    value = {"nan": float("nan"), "b": b"\x00\xff", "t": (1, "a"), 3: {1, 2},
             "$x": [float("inf")], "obj": object()}
    back = decode(json.loads(json.dumps(encode(value))))
    assert math.isnan(back["nan"]) and back["b"] == b"\x00\xff" and back["t"] == (1, "a")
    assert back[3] == {1, 2} and back["$x"] == [float("inf")]
    assert isinstance(back["obj"], TypedRepr) and back["obj"].type == "builtins.object"


def test_scripted_llm_out_of_steps_is_a_clear_error():
    runner = make_runner([reply("only one")])
    run(runner.ask("one"))
    with pytest.raises(Exception, match="ScriptedLlm ran out of steps: it had 1 step and this is model call 2"):
        run(runner.ask("two"))
    assert runner.invocations().status.tolist() == ["ok", "error"]
    assert "ran out of steps" in runner.invocations().error.iloc[1]


def test_scripted_llm_echo_and_callable_steps():
    echo = make_runner(None)
    assert run(echo.ask("say this")).text == "say this"
    seen = []
    dynamic = make_runner([lambda request: seen.append(len(request.contents)) or reply("ok")])
    assert run(dynamic.ask("x")).text == "ok" and seen == [1]
    with pytest.raises(TypeError, match="steps must be a list"):
        ScriptedLlm("not a list")


def test_zero_steps_script_fails_on_first_call():
    runner = make_runner([])
    with pytest.raises(Exception, match="it had 0 steps"):
        run(runner.ask("hi"))


def test_observer_failure_does_not_break_the_run(monkeypatch, caplog):
    runner = make_runner([call("remember", drink="tea"), reply("ok")])

    def broken(*args, **kwargs):
        raise RuntimeError("observer bug")
    monkeypatch.setattr(runner.observer, "_record_after_tool", broken)
    with caplog.at_level(logging.WARNING, logger="agentnb.adk"):
        inv = run(runner.ask("tea"))
    assert inv.status == "ok" and inv.text == "ok"
    assert runner.observer.failures == 1
    assert "could not record after_tool" in caplog.text
    session = run(runner.get_session())
    assert session.state["user:drink"] == "tea"
    # the rows of the failed hook are made good from the event's own delta
    assert replay(runner.history(reveal=True)) == session.state


def test_tool_error_recorded_with_status_and_lost_writes():
    async def boom(tool_context: ToolContext) -> dict:
        tool_context.state["half"] = "written"
        await tool_context.save_artifact("partial.txt", types.Part(text="x"))
        raise ValueError("tool broke")
    agent = LlmAgent(name="a", model=ScriptedLlm([call("boom")]), tools=[boom])
    runner = NotebookRunner(agent, display=False)
    with pytest.raises(ValueError, match="tool broke"):
        run(runner.ask("go"))
    inv = runner.last_invocation
    assert inv.status == "error" and "tool broke" in inv.error
    facts = [f for f in runner.trace.of("fact") if f.topic == "tool_error"]
    assert facts and facts[0].data["lost_state_writes"] == {"half": "written"}
    assert runner.artifacts().filename.tolist() == ["partial.txt"]   # saved, no event names it
    session = run(runner.get_session())
    assert [e.id for e in session.events] == runner.events().event_id.tolist()


def test_sqlite_session_service(tmp_path):
    from google.adk.sessions import DatabaseSessionService
    service = DatabaseSessionService(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    runner = make_runner([call("remember", drink="tea"), reply("ok")], session_service=service)

    async def go():
        await runner.ask("tea")
        return await runner.get_session()
    session = run(go())
    assert replay(runner.history(reveal=True)) == session.state
    assert session.state["user:drink"] == "tea"


def test_bad_arguments_are_one_line_errors():
    agent = LlmAgent(name="a", model=ScriptedLlm())
    with pytest.raises(ValueError, match=r"^agentnb: app name 'bad name'"):
        NotebookRunner(agent, app_name="bad name")
    with pytest.raises(TypeError, match="^agentnb: NotebookRunner needs an ADK agent"):
        NotebookRunner("agent")
    runner = NotebookRunner(agent, display=False)
    with pytest.raises(TypeError, match="^agentnb: ask\\(\\) takes a str"):
        run(runner.ask(42))


def test_import_agentnb_is_light():
    # Modules already there at start-up are not agentnb's doing (a namespace package's .pth,
    # e.g. google-cloud-aiplatform's, makes `google` and `google.cloud` then).
    code = ("import sys; before = set(sys.modules); import agentnb; heavy = [m for m in sys.modules "
            "if m not in before and m.split('.')[0] in "
            "('google', 'livekit', 'IPython', 'pandas', 'ipywidgets', 'anywidget')]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_two_sessions_and_new_session():
    runner = make_runner(None)

    async def go():
        first = runner.session_id
        await runner.ask("one")
        second = await runner.new_session(state={"x": 1})
        await runner.ask("two")
        return first, second
    first, second = run(go())
    assert set(runner.history().session_id) == {first, second}
    # app: state is shared by every session of the app, so the new session starts with it
    assert set(runner.history(second).query("source == 'initial'").key) == {"x", "app:theme"}
    assert runner.invocations(first).user_text.tolist() == ["one"]


def test_ask_sync_outside_and_inside_a_running_loop():
    runner = make_runner(None)
    assert runner.ask_sync("plain").text == "plain"

    async def inside():
        return runner.ask_sync("inside a loop")
    assert asyncio.run(inside()).text == "inside a loop"
    assert runner.invocations().status.tolist() == ["ok", "ok"]


def test_cancelled_invocation_is_interrupted():
    async def stuck(tool_context: ToolContext) -> dict:
        await asyncio.sleep(30)
        return {}
    agent = LlmAgent(name="a", model=ScriptedLlm([call("stuck")]), tools=[stuck])
    runner = NotebookRunner(agent, display=False)

    async def go():
        task = asyncio.ensure_future(runner.ask("wait"))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    asyncio.run(go())
    assert runner.invocations().status.tolist() == ["interrupted"]


def test_memory_search_recorded_with_query_hits_and_call_id():
    async def recall(topic: str, tool_context: ToolContext) -> dict:
        found = await tool_context.search_memory(topic)
        return {"hits": len(found.memories)}
    agent = LlmAgent(name="m", model=ScriptedLlm([reply("I like green tea"), call("recall", topic="tea"),
                                                   reply("found")]), tools=[recall])
    runner = NotebookRunner(agent, app_name="mem", display=False)

    async def go():
        await runner.ask("remember: green tea")
        await runner.adk_runner.memory_service.add_session_to_memory(await runner.get_session())
        return await runner.ask("what do I like?")
    second = asyncio.run(go())
    search = next(f for f in runner.trace.of("fact") if f.topic == "memory_search")
    assert search.data["query"] == "tea" and search.data["tool"] == "recall"
    assert search.invocation_id == second.invocation_id
    assert search.data["function_call_id"].startswith("adk-")
    assert any("green tea" in hit["text"] for hit in search.data["hits"])


def test_credential_request_answered_resumes_the_same_invocation():
    from google.adk.auth import AuthConfig, AuthCredential, AuthCredentialTypes
    config = AUTH

    def weather(city: str, tool_context: ToolContext) -> dict:
        credential = tool_context.get_auth_response(config)
        if credential is None:
            tool_context.request_credential(config)
            return {"status": "waiting for a key"}
        return {"forecast": "sunny", "key_tail": credential.api_key[-4:]}
    runner = NotebookRunner(LlmAgent(name="w", model=ScriptedLlm([call("weather", city="Paris"),
                                                                  reply("Sunny.")]), tools=[weather]),
                            display=False)

    async def go():
        asked = await runner.ask("weather?")
        session = await runner.get_session()
        request = next(c for e in session.events for c in e.get_function_calls()
                       if c.name == "adk_request_credential")
        answer = AuthConfig.model_validate(request.args["authConfig"])
        answer.exchanged_auth_credential = AuthCredential(
            auth_type=AuthCredentialTypes.API_KEY, api_key="secret-key-4242")
        reply_content = types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
            id=request.id, name="adk_request_credential",
            response=answer.model_dump(exclude_none=True, by_alias=True)))])
        resumed = await runner.ask(reply_content)
        return asked, resumed
    asked, resumed = run(go())
    assert resumed.invocation_id == asked.invocation_id
    assert asked.status == "ok" and asked.text == "Sunny."
    table = runner.invocations()
    assert table.invocation_id.tolist() == [asked.invocation_id] and table.status.tolist() == ["ok"]
    assert any(e.auth_requests or any(c["name"] == "adk_request_credential" for c in e.function_calls)
               for e in asked.events)
    assert "secret-key-4242" not in runner.events().to_string()
    assert "secret-key-4242" in runner.events(reveal=True).to_string()


def test_answer_credential_resumes_through_adks_auth_flow():
    config = AUTH
    used = []

    def weather(city: str, tool_context: ToolContext) -> dict:
        credential = tool_context.get_auth_response(config)
        if credential is None:
            tool_context.request_credential(config)
            return {"status": "waiting for a key"}
        used.append(credential.api_key)
        return {"forecast": "sunny"}
    runner = NotebookRunner(LlmAgent(name="w", model=ScriptedLlm([call("weather", city="Paris"),
                                                                  reply("Sunny.")]), tools=[weather]),
                            display=False)

    async def go():
        asked = await runner.ask("weather?")
        pending = runner.pending_credentials()
        with pytest.raises(ValueError, match="^agentnb: no pending credential request 'nope'"):
            await runner.answer_credential("k", request_id="nope")
        resumed = await runner.answer_credential("key-123")
        return asked, pending, resumed
    asked, pending, resumed = run(go())
    assert len(pending) == 1 and pending[0]["auth_type"] == "apiKey"
    assert pending[0]["invocation_id"] == asked.invocation_id == resumed.invocation_id
    assert used == ["key-123"] and resumed.text == "Sunny." and runner.pending_credentials() == []


# --- ADK 2.x entry points (issue 20, item 1) ---------------------------------------------------

class Counting(BasePlugin):
    """A plugin of the user's own App: counts the model calls it sees."""

    def __init__(self):
        super().__init__(name="counting")
        self.model_calls = 0

    async def before_model_callback(self, *, callback_context, llm_request):
        self.model_calls += 1


def test_an_app_keeps_its_name_plugins_and_configs_and_is_not_changed():
    from google.adk.apps import App, ResumabilityConfig
    plugin = Counting()
    app = App(name="shop", root_agent=LlmAgent(name="clerk", model=ScriptedLlm([reply("a"), reply("b")])),
              plugins=[plugin], resumability_config=ResumabilityConfig(is_resumable=True))
    runner = NotebookRunner(app, display=False)
    assert runner.app_name == "shop" and runner.agent is app.root_agent
    assert [p.name for p in runner.adk_runner.plugin_manager.plugins] == ["agentnb", "counting"]
    assert runner.adk_runner.resumability_config.is_resumable
    assert app.plugins == [plugin]            # the user's App keeps its own list
    run(runner.ask("hi"))
    child = run(runner.fork(runner.last_invocation.invocation_id))
    run(child.ask("again"))
    assert plugin.model_calls == 2            # the fork runs the App's plugins too
    assert runner.invocations().agent.tolist() == ["clerk"]


def test_a_workflow_runs_and_its_events_name_their_nodes():
    from google.adk import Event, Workflow

    def shout(node_input: str):
        return Event(output=node_input.upper(), state={"shouted": True})
    flow = Workflow(name="loud", edges=[("START", shout)])
    runner = NotebookRunner(flow, display=False)
    inv = run(runner.ask("hello"))
    assert inv.status == "ok" and runner.invocations().agent.tolist() == ["loud"]
    events = runner.events()
    assert events.node.tolist() == [None, "loud@1/shout@1"]
    assert events.output.tolist() == [None, "HELLO"]
    assert runner.history().source.tolist() == ["event:loud"]


def test_anything_else_is_refused_with_one_line():
    with pytest.raises(TypeError, match="^agentnb: NotebookRunner needs an ADK agent, Workflow or an "
                                        "App with a root_agent, not dict"):
        NotebookRunner({"agent": 1})


def test_a_mixed_step_is_one_model_turn_with_its_parts_in_order():
    from agentnb.adk import thought
    from agentnb.core.script import Script
    llm = ScriptedLlm([[thought("hmm"), reply("Let me look."), call("remember", drink="tea")],
                       reply("Done.")])
    runner = NotebookRunner(LlmAgent(name="a", model=llm, tools=[remember]), display=False)
    run(runner.ask("tea"))
    turn = next(e for e in run(runner.get_session()).events if e.get_function_calls())
    assert [(p.text, p.thought, p.function_call.name if p.function_call else None)
            for p in turn.content.parts] == [("hmm", True, None), ("Let me look.", None, None),
                                             (None, None, "remember")]
    assert runner.events().query("kind == 'function_call'").text.tolist() == ["Let me look."]
    with pytest.raises(TypeError, match=r"a list mixing thought\(\.\.\.\)"):
        ScriptedLlm([[reply("x"), 3]])._script.next(None, lambda: "")
    # LiveKit's script keeps the old forms: a mixed list is refused there
    with pytest.raises(TypeError, match=r"a list of call\(\.\.\.\)"):
        Script([[reply("x"), call("f")]], "ScriptedLLM").next(None, lambda: "")


def test_what_the_hooks_keep_for_the_next_read_holds_no_context_or_tool_alive():
    """Until the trace is read the hooks' captures wait in a backlog: they hold ids and copies,
    not ADK's contexts (each holds its invocation's copy of the session) nor the FunctionTool
    ADK makes per model call (its watcher holds it weakly). Freed at once, with no GC."""
    import gc
    import weakref
    refs = []

    def note(tool_context: ToolContext) -> dict:
        refs.append(weakref.ref(tool_context))
        return {"ok": True}

    def keep_tool(tool, args, tool_context):
        refs.append(weakref.ref(tool))
    agent = LlmAgent(name="n", model=ScriptedLlm([call("note"), reply("done")] * 2), tools=[note],
                     before_tool_callback=keep_tool)
    runner = NotebookRunner(agent, display=False)
    run(runner.ask("warm"))
    gc.collect()
    gc.disable()
    async def ask() -> None:   # returns no Invocation: asyncio's repr of one would read the trace
        await runner.ask("go")
    try:
        refs.clear()
        run(ask())
        assert len(refs) == 2 and [r() for r in refs] == [None, None]
    finally:
        gc.enable()
    assert runner.events().kind.tolist()[-3:] == ["function_call", "function_response", "model"]
    assert runner.last_invocation.status == "ok"


def test_reading_the_trace_while_the_agent_runs_gives_the_records_a_later_read_gives():
    """The hooks keep what they saw and the records are built at the next read: a tool that
    reads the trace mid-run (as a live card does) changes nothing in what is recorded."""
    def make(peek):
        async def note(drink: str, tool_context: ToolContext) -> dict:
            tool_context.state["drink"] = drink
            if peek:
                seen.append(len(runners[-1].trace))
            tool_context.state["drink"] = drink + "!"   # after the read: a later value
            return {"ok": True}
        agent = LlmAgent(name="concierge", model=ScriptedLlm(
            [call("note", drink="tea"), call("note", drink="milk"), reply("ok")]), tools=[note])
        runners.append(NotebookRunner(agent, app_name="demo", user_id="u1", display=False))
        run(runners[-1].ask("go"))
        return runners[-1]
    runners: list = []
    seen: list = []
    quiet, peeking = make(False), make(True)
    assert len(seen) == 2 and 0 < seen[0] < seen[1]   # each read built what the hooks kept

    def plain(r):
        rows = []
        for rec in r.trace:
            d = {k: getattr(rec, k) for k in getattr(rec, "__dataclass_fields__", {})}
            for k in ("session_id", "invocation_id", "event_id", "time", "function_call_id"):
                d.pop(k, None)
            if d.get("exposed"):
                d["exposed"] = {k: v for k, v in d["exposed"].items()
                                if k not in ("invocation_id", "session_id")}
            d["function_calls"] = [{**x, "id": ""} for x in d.get("function_calls", [])]
            d["function_responses"] = [{**x, "id": ""} for x in d.get("function_responses", [])]
            rows.append((rec.kind, d))
        return rows
    assert plain(peeking) == plain(quiet)
    assert [c.new for c in peeking.trace.of("state_change") if c.key == "drink"] == ["tea!", "milk!"]


def test_a_tool_changing_its_arguments_in_place_leaves_the_call_as_the_model_made_it():
    """An event's calls are read when the trace is next read, not in the hook: what makes that
    true is that ADK hands a tool a deep copy of its arguments (and its requests copy an
    event's content and parts). A tool that edits its arguments must not reach the record."""
    async def tag(labels: list[str]) -> dict:
        labels.append("edited by the tool")
        return {"n": len(labels)}

    runner = NotebookRunner(LlmAgent(name="tagger", model=ScriptedLlm(
        [call("tag", labels=["a"]), reply("ok")]), tools=[tag]), display=False)
    run(runner.ask("tag it"))
    session = run(runner.get_session())
    adk_call = next(e for e in session.events if e.get_function_calls()).get_function_calls()[0]
    assert adk_call.args == {"labels": ["a"]}   # ADK's own event: the model's arguments
    events = runner.trace.of("event")
    assert next(e for e in events if e.function_calls).function_calls[0]["args"] == {"labels": ["a"]}
    assert next(e for e in events if e.function_responses).function_responses[0]["response"] == {"n": 2}
