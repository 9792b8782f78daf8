"""Issue 18 (2): ADK sessions read back. The session file is written by ADK's own code path:
`google.adk.cli.cli.run_cli(..., save_session=True)` (what `adk run --save_session` runs) on an
agent folder, with a scripted model. `agentnb.load` reads it into the usual DataFrames and
view; `NotebookRunner.from_session` puts it into a runner's session service to go on live."""
from __future__ import annotations

import asyncio
import json
import textwrap

import pandas as pd
import pytest
from google.adk.agents import LlmAgent
from google.adk.runners import Runner
from google.adk.sessions import InMemorySessionService, Session
from google.genai import types

import agentnb
from agentnb.adk import NotebookRunner, ScriptedLlm, reply

AGENT = '''
from google.adk.agents import LlmAgent
from google.adk.tools import ToolContext
from agentnb.adk import ScriptedLlm, call, reply

def add_item(item: str, tool_context: ToolContext) -> dict:
    """Adds an item to the cart."""
    tool_context.state["cart"] = [*tool_context.state.get("cart", []), item]
    tool_context.state["user:visits"] = tool_context.state.get("user:visits", 0) + 1
    return {"cart": tool_context.state["cart"]}

root_agent = LlmAgent(name="shop", tools=[add_item], output_key="last_reply",
                      model=ScriptedLlm([call("add_item", item="tea"),
                                         reply("Added <b>tea</b>."), reply("Bye.")]))
'''


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> str:
    """The session file `adk run --save_session` writes, made by ADK's own run_cli."""
    from google.adk.cli.cli import run_cli
    root = tmp_path_factory.mktemp("agents")
    folder = root / "shop_import"
    folder.mkdir()
    (folder / "__init__.py").write_text("from . import agent\n")
    (folder / "agent.py").write_text(textwrap.dedent(AGENT))
    queries = root / "input.json"
    queries.write_text(json.dumps({"state": {"app:currency": "EUR"}, "queries": ["add tea", "bye"]}))
    asyncio.run(run_cli(agent_parent_dir=str(root), agent_folder_name="shop_import",
                        input_file=str(queries), save_session=True, session_id="saved",
                        in_memory=True))
    return str(folder / "saved.session.json")


def _fold(history: pd.DataFrame) -> dict:
    state = {}
    for _, row in history[history.persisted].sort_values("seq").iterrows():
        state[row.key] = row.new
    return state


def test_load_reads_the_session_adk_run_saved(saved):
    stored = Session.model_validate_json(open(saved).read())
    loaded = agentnb.load(saved)
    history = loaded.history(reveal=True)
    assert _fold(history) == stored.state        # the replay invariant, on ADK's own file
    assert list(loaded.events().event_id) == [e.id for e in stored.events]
    sources = set(zip(history.key, history.source, strict=True))
    assert {("app:currency", "initial"), ("_time", "initial"), ("cart", "event:shop"),
            ("user:visits", "event:shop"), ("last_reply", "event:shop")} <= sources
    # times are the events' own, not the time of loading
    stamps = {e.id: e.timestamp for e in stored.events}
    written = history[history.source != "initial"]
    assert [t.timestamp() for t in written.timestamp] == pytest.approx(
        [stamps[e] for e in written.event_id], abs=1e-5)
    runs = loaded.invocations()
    assert runs.user_text.tolist() == ["add tea", "bye"]
    assert runs.status.tolist() == ["ok", "ok"] and set(runs.agent) == {"shop"}
    assert runs.n_events.tolist() == [4, 2]
    html = loaded.view()._repr_mimebundle_()["text/html"]
    assert "Added &lt;b&gt;tea&lt;/b&gt;." in html and "<b>tea</b>" not in html


def test_load_takes_a_session_object_or_its_field_names(saved):
    stored = Session.model_validate_json(open(saved).read())
    a = agentnb.load(stored)
    snake = saved.replace(".session.json", ".snake.json")
    with open(snake, "w") as out:   # dumped by field name, not alias
        out.write(stored.model_dump_json())
    b = agentnb.load(snake)
    for frame in ("history", "events", "invocations"):
        pd.testing.assert_frame_equal(getattr(a, frame)(reveal=True), getattr(b, frame)(reveal=True))


def test_a_session_of_a_live_runner_loads_too():
    """A `Session` from ADK's Runner with a user state_delta: the user's rows are `user`."""
    async def run():
        service = InMemorySessionService()
        agent = LlmAgent(name="echo", model=ScriptedLlm([reply("hi")]), output_key="said")
        runner = Runner(agent=agent, app_name="demo", session_service=service)
        session = await service.create_session(app_name="demo", user_id="u")
        async for _ in runner.run_async(user_id="u", session_id=session.id, state_delta={"mood": "ok"},
                                        new_message=types.Content(role="user", parts=[types.Part(text="x")])):
            pass
        return await service.get_session(app_name="demo", user_id="u", session_id=session.id)
    session = asyncio.run(run())
    history = agentnb.load(session).history()
    assert list(zip(history.key, history.source, strict=True)) == [("mood", "user"), ("said", "event:echo")]


def test_bad_files_say_what_they_are(tmp_path):
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "bad.json").write_text(json.dumps({"id": "s", "events": [{"actions": 3}]}))
    (tmp_path / "text.txt").write_text("not json at all")
    for name, message in [("list.json", "is not an agentnb trace .* nor an ADK session"),
                          ("bad.json", "is not an ADK session: "),
                          ("text.txt", "cannot read .* as an ADK session")]:
        with pytest.raises(ValueError, match=message) as caught:
            agentnb.load(tmp_path / name)
        assert "\n" not in str(caught.value)
    with pytest.raises(FileNotFoundError):
        agentnb.load(tmp_path / "missing.jsonl")


def test_from_session_goes_on_live(saved):
    stored = Session.model_validate_json(open(saved).read())
    seen = []

    def answer(request):
        seen.append([(c.role, "".join(p.text or "" for p in c.parts or ())) for c in request.contents])
        return reply("Welcome back.")
    agent = LlmAgent(name="shop", model=ScriptedLlm([answer]), output_key="last_reply")

    async def go():
        runner = await NotebookRunner.from_session(agent, saved, display=False)
        before = await runner.get_session()
        inv = await runner.ask("I am back")
        return runner, before, inv, await runner.get_session()
    runner, before, inv, after = asyncio.run(go())
    assert (runner.app_name, runner.user_id, runner.session_id) == ("shop_import", "test_user", stored.id)
    assert before.state == stored.state                    # as `adk run --resume` restores it
    assert [e.id for e in before.events] == [e.id for e in stored.events]
    # the model is shown the stored conversation before the new message
    assert ("user", "add tea") in seen[0] and ("model", "Added <b>tea</b>.") in seen[0]
    assert seen[0][-1] == ("user", "I am back")
    assert inv.status == "ok" and inv.text == "Welcome back."
    history = runner.history(reveal=True)
    assert _fold(history) == after.state                   # the replay invariant, live
    assert runner.invocations().user_text.tolist() == ["add tea", "bye", "I am back"]
    assert history[history.key == "last_reply"].source.tolist() == [
        "event:shop", "event:shop", "output_key:shop"]


def test_from_session_refuses_a_session_id_the_service_has(saved):
    async def go():
        runner = await NotebookRunner.from_session(LlmAgent(name="shop", model=ScriptedLlm([])),
                                                   saved, display=False)
        with pytest.raises(ValueError, match="already has session"):
            await NotebookRunner.from_session(LlmAgent(name="shop", model=ScriptedLlm([])), saved,
                                              session_service=runner.session_service, display=False)
        other = await NotebookRunner.from_session(LlmAgent(name="shop", model=ScriptedLlm([])), saved,
                                                  session_id="copy", display=False,
                                                  session_service=runner.session_service)
        return (await other.get_session()).state
    state = asyncio.run(go())
    assert state["cart"] == ["tea"]


def test_the_load_magic_reads_a_session_file(saved):
    from IPython.testing.globalipapp import get_ipython
    shell = get_ipython()
    shell.run_line_magic("load_ext", "agentnb")
    try:
        loaded = shell.run_line_magic("agentnb", f"load {saved}")
        assert loaded.invocations().user_text.tolist() == ["add tea", "bye"]
    finally:
        shell.run_line_magic("unload_ext", "agentnb")
