"""What the observer knows of each session (adk/sessions.py): writes made outside the runner,
reconciled at each run and by `sync()`, and the artifact versions a rewind saves."""
import asyncio

import pandas as pd
from google.adk.agents import LlmAgent
from google.adk.events import Event, EventActions
from google.adk.sessions import InMemorySessionService
from google.adk.tools import ToolContext
from google.genai import types

from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply


def run(coro):
    return asyncio.run(coro)


def replay(history: pd.DataFrame) -> dict:
    state = {}
    for _, row in history[history.persisted].sort_values("seq").iterrows():
        state[row.key] = row.new
    return state


def stored(session) -> dict:
    return {k: v for k, v in session.state.items() if not k.startswith("temp:")}


def test_sync_records_appended_events_once_and_the_invariant_holds():
    runner = NotebookRunner(LlmAgent(name="a", model=ScriptedLlm([reply("one"), reply("two")])),
                            display=False)
    run(runner.ask("hi"))
    assert run(runner.sync()) == 0

    async def append(delta):
        session = await runner.get_session()
        await runner.session_service.append_event(session, Event(
            author="ops", invocation_id="ops-1", actions=EventActions(state_delta=delta)))
    run(append({"flag": "on", "temp:x": 1}))
    added = run(runner.sync())
    assert added == 2    # the event and its one persisted key (ADK drops temp: when storing)
    assert run(runner.sync()) == 0
    history = runner.history(reveal=True)
    assert history[history.key == "flag"].source.tolist() == ["external"]
    assert replay(history) == stored(run(runner.get_session()))
    run(runner.ask("again"))   # the next run finds nothing new
    assert (runner.history().source == "external").sum() == 1
    assert replay(runner.history(reveal=True)) == stored(run(runner.get_session()))


def test_user_keys_written_by_another_session_are_reconciled_at_the_next_run():
    def bump(tool_context: ToolContext) -> dict:
        tool_context.state["user:visits"] = tool_context.state.get("user:visits", 0) + 1
        return {}
    agent = LlmAgent(name="a", model=ScriptedLlm([call("bump"), reply("1"), call("bump"), reply("2"),
                                                  reply("3")]), tools=[bump])
    service = InMemorySessionService()
    runner = NotebookRunner(agent, display=False, session_service=service)
    other = NotebookRunner(agent, display=False, session_service=service)
    run(runner.ask("first"))
    run(other.ask("elsewhere"))         # same app and user: user:visits is now 2
    run(runner.ask("back"))
    history = runner.history(reveal=True)
    rows = history[history.key == "user:visits"]
    assert rows.source.tolist() == ["tool:bump", "external"] and rows.new.tolist() == [1, 2]
    assert replay(history) == stored(run(runner.get_session()))


def test_an_existing_session_is_its_starting_state_not_external_events():
    service = InMemorySessionService()
    first = NotebookRunner(LlmAgent(name="a", model=ScriptedLlm([reply("x")])), display=False,
                           session_service=service, state={"k": 1})
    run(first.ask("hi"))
    again = NotebookRunner(LlmAgent(name="a", model=ScriptedLlm([reply("y")])), display=False,
                           session_service=service, session_id=first.session_id)
    run(again.ask("hello"))
    assert "external" not in set(again.history().source)
    assert replay(again.history(reveal=True)) == stored(run(again.get_session()))


async def save(text: str, tool_context: ToolContext) -> dict:
    await tool_context.save_artifact("a.txt", types.Part(text=text))
    if text == "two":
        await tool_context.save_artifact("b.txt", types.Part(text="new"))
    return {}


def test_rewind_records_the_versions_adk_saves_including_tombstones():
    agent = LlmAgent(name="a", model=ScriptedLlm([call("save", text="one"), reply("1"),
                                                  call("save", text="two"), reply("2"), reply("3")]),
                   tools=[save])
    runner = NotebookRunner(agent, display=False)
    run(runner.ask("one"))
    second = run(runner.ask("two"))
    run(runner.rewind(second.invocation_id))
    arts = runner.artifacts()
    rewound = arts[arts.source == "rewind"]
    assert sorted(zip(rewound.filename, rewound.version)) == [("a.txt", 2), ("b.txt", 1)]
    tombstone = next(a for a in runner.trace.of("artifact") if a.source == "rewind" and a.filename == "b.txt")
    assert (tombstone.mime_type, tombstone.size_bytes, tombstone.preview) == (None, 0, "(absent after rewind)")
    restored = next(a for a in runner.trace.of("artifact") if a.source == "rewind" and a.filename == "a.txt")
    assert restored.preview == "one"
    assert "external" not in set(runner.history().source)   # the rewind event is not "unseen"
    run(runner.ask("after"))
    assert "external" not in set(runner.history().source)
