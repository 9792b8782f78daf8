"""Issue 20: agentnb is truthful on agents written the way ADK's samples write them.

Each case of `tests/corpus_adk` is played once through `NotebookRunner(..., display=False)`;
then agentnb's frames are checked against ADK itself: the session service's state and events,
the artifact service's versions, the statuses a run really ended in, the writer of every change,
and a lossless save/load. A plugin of the test's own (`Truth`) notes every session ADK runs, so
sessions agentnb never created (AgentTool's inner runs) are checked against ADK too.
"""
from __future__ import annotations

import asyncio
import contextvars
import re
from dataclasses import dataclass, field

import corpus_adk
import pandas as pd
import pytest
from corpus_adk import Answer, Ask, Confirm, Credential, External, Remember, Rewind, SetState
from google.adk.apps import App
from google.adk.events import Event, EventActions
from google.adk.events._interrupts import index_open_interrupts
from google.adk.plugins.base_plugin import BasePlugin
from google.adk.sessions import Session

import agentnb
from agentnb.adk import NotebookRunner

WRITERS = re.compile(
    r"^(initial|user|rewind|external|notebook"
    r"|(output_key|before_agent_callback|after_agent_callback|before_model_callback"
    r"|after_model_callback|before_tool_callback|after_tool_callback|tool|event):.+)$")


# --- ADK's own view --------------------------------------------------------------------------

class Truth(BasePlugin):
    """Notes each session ADK runs an invocation in (with its services), and which AgentTool
    call started a nested run. Never changes anything."""

    def __init__(self):
        super().__init__(name="corpus_truth")
        self.sessions: dict[tuple, dict] = {}     # (app, user, session id) -> services, parent
        self._call = contextvars.ContextVar("corpus_truth_call", default=None)

    async def before_run_callback(self, *, invocation_context):
        ic = invocation_context
        key = (ic.app_name, ic.user_id, ic.session.id)
        self.sessions.setdefault(key, {
            "session_service": ic.session_service, "artifact_service": ic.artifact_service,
            "parent": self._call.get(), "invocations": []})
        if ic.invocation_id not in self.sessions[key]["invocations"]:
            self.sessions[key]["invocations"].append(ic.invocation_id)

    async def before_tool_callback(self, *, tool, tool_args, tool_context):
        self._call.set((tool_context.invocation_id, tool_context.function_call_id, tool.name))

    async def session(self, key):
        app, user, sid = key
        return await self.sessions[key]["session_service"].get_session(
            app_name=app, user_id=user, session_id=sid)


@dataclass
class Played:
    case: corpus_adk.Case
    runner: NotebookRunner | None = None
    truth: Truth | None = None
    invocations: list = field(default_factory=list)   # (turn index, invocation id) per run
    statuses: list = field(default_factory=list)      # status right after each run
    pending: list = field(default_factory=list)       # runner.pending() while a run waited
    open_interrupts: list = field(default_factory=list)  # ADK's own open interrupt ids, per run
    sessions: list = field(default_factory=list)      # the runner's own session ids, in order
    error: BaseException | None = None

    def check(self):
        if self.error is not None:
            raise AssertionError(f"{self.case.name}: playing the case failed: "
                                 f"{type(self.error).__name__}: {self.error}") from self.error


def _rows(pending):
    if isinstance(pending, pd.DataFrame):
        return pending.to_dict("records")
    return list(pending)


def _pending_for(runner, kind, tool=None):
    rows = [p for p in _rows(runner.pending()) if p.get("kind") == kind
            and (tool is None or p.get("tool") == tool)]
    assert rows, f"no pending {kind} for {tool!r} in {_rows(runner.pending())!r}"
    return rows[0]


async def _play(case) -> Played:
    played = Played(case)
    truth = played.truth = Truth()
    kwargs = dict(case.runner_kwargs)
    if isinstance(case.root, App):
        case.root.plugins.append(truth)   # a plugin of the user's own App
    else:
        kwargs["plugins"] = [truth]
    runner = played.runner = NotebookRunner(case.root, display=False, **kwargs)
    played.sessions.append(runner.session_id)
    for index, turn in enumerate(case.turns):
        if isinstance(turn, str):
            turn = Ask(turn)
        invocation = None
        if isinstance(turn, Ask):
            try:
                invocation = await runner.ask(turn.text, state_delta=turn.state_delta)
            except Exception as exc:
                if not isinstance(exc, case.extra.get("raises", ())):
                    raise
                invocation = runner.last_invocation
        elif isinstance(turn, Answer):
            request = _pending_for(runner, "long_running", turn.tool)
            invocation = await runner.answer(request["call_id"], turn.response)
        elif isinstance(turn, Confirm):
            request = _pending_for(runner, "confirmation", turn.tool)
            invocation = await runner.confirm(request["call_id"], confirmed=turn.confirmed,
                                              payload=turn.payload)
        elif isinstance(turn, Credential):
            _pending_for(runner, "credential")
            invocation = await runner.answer_credential(turn.secret)
        elif isinstance(turn, Rewind):
            await runner.rewind(played.invocations[turn.turn][1])
        elif isinstance(turn, External):
            session = await runner.get_session()
            await runner.session_service.append_event(session, Event(
                author=turn.author, invocation_id=f"e-external-{index}",
                actions=EventActions(state_delta=dict(turn.state_delta))))
            if turn.sync:
                await runner.sync()
        elif isinstance(turn, SetState):
            await runner.set_state(dict(turn.delta))
        elif isinstance(turn, Remember):
            session = await runner.get_session()
            await case.runner_kwargs["memory_service"].add_session_to_memory(session)
            played.sessions.append(await runner.new_session())
        else:
            raise TypeError(f"unknown turn {turn!r}")
        if invocation is not None:
            played.invocations.append((index, invocation.invocation_id))
            table = runner.invocations()
            row = table[table.invocation_id == invocation.invocation_id]
            played.statuses.append(row.status.iloc[-1] if len(row) else None)
            session = await runner.get_session()
            played.open_interrupts.append(sorted(index_open_interrupts(session.events)))
            if played.statuses[-1] == "waiting":
                played.pending.append(_rows(runner.pending()))
    return played


_PLAYED: dict[str, Played] = {}


@pytest.fixture(params=corpus_adk.MODULES)
def played(request) -> Played:
    name = request.param
    return _play_once(name)


def _play_once(name) -> Played:
    if name not in _PLAYED:
        case = corpus_adk.load(name)
        try:
            _PLAYED[name] = asyncio.run(_play(case))
        except Exception as exc:  # noqa: BLE001 - each check of the case then fails with it
            _PLAYED[name] = Played(case, error=exc)
    return _PLAYED[name]


def _played(name) -> Played:
    p = _play_once(name)
    p.check()
    return p


def _fold(history: pd.DataFrame) -> dict:
    state = {}
    for _, row in history[history.persisted].sort_values("seq").iterrows():
        state[row.key] = row.new
    return state


def _adk_state(session) -> dict:
    return {k: v for k, v in session.state.items() if not k.startswith("temp:")}


def _sessions(p: Played):
    async def go():
        return {key: await p.truth.session(key) for key in p.truth.sessions}
    return asyncio.run(go())


# --- the generic checks, on every case -------------------------------------------------------

def test_replay_invariant_every_session(played):
    """(a) Folding history() per session gives ADK's get_session().state (minus temp:)."""
    played.check()
    for (app, user, sid), session in _sessions(played).items():
        folded = _fold(played.runner.history(sid, reveal=True))
        # ADK reports a key set to None as present with None; history's fold does the same.
        assert folded == _adk_state(session), f"{played.case.name}: session {sid} ({app})"


def test_every_session_loads_back_from_adk_as_adk_stores_it(played):
    """Issue 18 (2): each session ADK stored, read with agentnb.load (as `adk run
    --save_session` would write it): the fold of its history is the state the file holds
    (JSON: typed values as their JSON), its events are ADK's events, in order."""
    played.check()
    from google.adk.events._internal_metadata import public_session
    for (_, _, sid), session in _sessions(played).items():
        dumped = public_session(session).model_dump_json(exclude_none=True, by_alias=True)
        read = Session.model_validate_json(dumped)
        loaded = agentnb.load(read)
        assert _fold(loaded.history(reveal=True)) == _adk_state(read), f"{played.case.name}: {sid}"
        assert list(loaded.events().event_id) == [e.id for e in session.events], played.case.name


def test_the_user_session_restores_into_a_new_runner(played):
    """Issue 18 (2): from_session puts the stored events into a new runner's session service
    (as `adk run --resume` does); the replay invariant holds there too."""
    played.check()
    session = next(s for (_, _, sid), s in _sessions(played).items() if sid == played.sessions[0])

    async def restore():
        runner = await NotebookRunner.from_session(played.case.root, session, display=False)
        return runner, await runner.get_session()
    runner, restored = asyncio.run(restore())
    assert [e.id for e in restored.events] == [e.id for e in session.events]
    assert _adk_state(restored) == _adk_state(session)
    assert _fold(runner.history(reveal=True)) == _adk_state(restored), played.case.name


def test_every_stored_event_is_in_events(played):
    """(b) Every event ADK stored is in events() by event_id."""
    played.check()
    for (_, _, sid), session in _sessions(played).items():
        ours = set(played.runner.events(sid).event_id)
        missing = [(e.author, e.id) for e in session.events if e.id not in ours]
        assert not missing, f"{played.case.name}: session {sid} lacks ADK events {missing}"


def test_artifact_versions_equal_the_artifact_service(played):
    """(c) Per file, artifacts() versions equal artifact_service.list_versions()."""
    played.check()
    runner = played.runner
    service = runner.adk_runner.artifact_service

    async def truth(sid):
        keys = await service.list_artifact_keys(app_name=runner.app_name, user_id=runner.user_id,
                                                session_id=sid)
        return {f: sorted(await service.list_versions(app_name=runner.app_name,
                                                      user_id=runner.user_id,
                                                      session_id=sid, filename=f))
                for f in keys}
    for sid in played.sessions:
        frame = runner.artifacts(sid)
        ours = {f: sorted(frame[frame.filename == f].version.tolist())
                for f in set(frame.filename)}
        assert ours == asyncio.run(truth(sid)), f"{played.case.name}: session {sid}"
    if "versions" in played.case.extra:
        assert ours == played.case.extra["versions"]


def test_invocation_statuses(played):
    """(d) ok / error / waiting, as the run really ended; error is None where there is none."""
    played.check()
    assert played.statuses == played.case.statuses
    table = played.runner.invocations()
    for status, error in zip(table.status, table.error):
        if status in ("ok", "waiting"):
            assert error is None, f"error of a {status} run is {error!r}, not None"


def test_writer_of_each_change(played):
    """(e) Each change names its real writer, from issue 20's vocabulary."""
    played.check()
    history = played.runner.history(reveal=True)
    bad = sorted({s for s in history.source if not WRITERS.match(s)})
    assert not bad, f"{played.case.name}: writers outside the vocabulary: {bad}"
    have = set(zip(history.key, history.source))
    missing = [pair for pair in played.case.sources if pair not in have]
    assert not missing, f"{played.case.name}: missing (key, writer) rows {missing}; have {sorted(have)}"


def test_save_reveal_load_every_frame_equal(played, tmp_path):
    """(f) save(reveal=True) -> agentnb.load() -> every DataFrame equal, typed values too."""
    played.check()
    path = played.runner.save(tmp_path / f"{played.case.name}.jsonl", reveal=True)
    loaded = agentnb.load(path)
    for frame in ("history", "events", "artifacts", "invocations", "timeline"):
        a = getattr(played.runner, frame)(reveal=True)
        b = getattr(loaded, frame)(reveal=True)
        pd.testing.assert_frame_equal(a, b, obj=f"{played.case.name}.{frame}()")
        for column in a.columns:
            if a[column].dtype == object:
                for x, y in zip(a[column], b[column]):
                    assert type(x) is type(y), (f"{played.case.name}.{frame}().{column}: "
                                                f"{type(x).__name__} came back as {type(y).__name__}")


# --- checks of one shape ---------------------------------------------------------------------

def test_workflow_events_have_branch_node_output():
    """(h) Workflow runs: events() has branch, node (event.node_info.path), output (Event.output)."""
    p = _played("workflow_graph")
    events = p.runner.events(reveal=True)
    for column in ("branch", "node", "output"):
        assert column in events.columns
    by_id = events.set_index("event_id")
    for session in _sessions(p).values():
        for e in session.events:
            assert by_id.loc[e.id, "node"] == (e.node_info.path or None), e.id
            # As ADK stores it: an LLM node's output is its message (node_info.message_as_output)
            # and runners.py:_consume_event_queue stores output=None for it.
            assert by_id.loc[e.id, "output"] == e.output, e.id
            assert by_id.loc[e.id, "branch"] == e.branch, e.id
    assert {"helpdesk@1/classifier@1", "helpdesk@1/route_ticket@1",
            "helpdesk@1/file_bug@1"} <= set(events.node.dropna())
    assert {"ticket": "BUG-1", "label": "BUG"} in list(events.output)
    assert set(p.runner.invocations().agent) == {"helpdesk"}


def test_app_keeps_plugins_and_configs():
    """(1) An App keeps its plugins (they run), resumability and context-cache configs."""
    p = _played("app_plugins")
    plugin = p.case.extra["plugin"]
    assert plugin.agent_count >= 2 and plugin.llm_request_count == 3
    adk = p.runner.adk_runner
    names = [pl.name for pl in adk.plugin_manager.plugins]
    assert "count_invocation" in names and "agentnb" in names
    assert adk.resumability_config is not None and adk.resumability_config.is_resumable
    assert adk.context_cache_config is not None and adk.context_cache_config.ttl_seconds == 600
    assert p.runner.app_name == "order_app"


def test_two_writers_of_one_key_in_one_event_are_two_rows():
    """(2) A before_model callback and output_key both writing a key in one event: two rows."""
    p = _played("app_plugins")
    key, writers = p.case.extra["two_writers"]
    history = p.runner.history(reveal=True)
    rows = history[history.key == key]
    for event_id, group in rows.groupby("event_id", sort=False):
        if "output_key:order_desk" in set(group.source):
            assert group.sort_values("seq").source.tolist() == writers
            break
    else:
        raise AssertionError(f"no output_key row for {key}: {rows[['event_id', 'source']]}")


def test_agent_tool_children_are_linked_to_their_call():
    """(3)(g) Each AgentTool run is a child of the call that started it."""
    p = _played("agent_tools")
    table = p.runner.invocations()
    for column in ("parent_invocation_id", "parent_call_id"):
        assert column in table.columns
    user_sid = p.sessions[0]
    sessions = _sessions(p)
    parent_session = next(s for (_, _, sid), s in sessions.items() if sid == user_sid)
    calls = {c.id: c.name for e in parent_session.events for c in e.get_function_calls()}
    top = table[table.session_id == user_sid]
    assert len(top) == 1 and top.parent_invocation_id.isna().all()
    children = table[table.session_id != user_sid]
    assert sorted(children.agent) == ["flight_agent", "hotel_agent"]
    for _, child in children.iterrows():
        assert child.parent_invocation_id == top.invocation_id.iloc[0]
        assert calls[child.parent_call_id] == child.agent
        key = next(k for k in p.truth.sessions if k[2] == child.session_id)
        assert p.truth.sessions[key]["parent"][1] == child.parent_call_id   # ADK's own call id
    history = p.runner.history(reveal=True)
    for agent, pairs in p.case.extra["children"].items():
        sid = children[children.agent == agent].session_id.iloc[0]
        have = set(zip(history[history.session_id == sid].key,
                       history[history.session_id == sid].source))
        assert set(pairs) <= have, (agent, sorted(have))


def test_code_execution_is_shown():
    """(4) executable_code and code_execution_result parts are events of their own kinds."""
    p = _played("code_executor")
    events = p.runner.events(reveal=True)
    assert p.case.event_kinds <= set(events.kind)
    code = events[events.kind == "executable_code"]
    result = events[events.kind == "code_execution_result"]
    assert p.case.extra["code"] in code.text.iloc[0]
    assert p.case.extra["output"] in result.text.iloc[0]


def test_rewind_artifact_versions():
    """(5) Rewind's restoring versions are in artifacts(), with source 'rewind'."""
    p = _played("rewind")
    arts = p.runner.artifacts()
    rewound = arts[arts.source == "rewind"]
    assert sorted(zip(rewound.filename, rewound.version)) == [("draft.md", 1), ("note.txt", 2)]


def test_memory_searches_are_attributed():
    """(6) preload_memory and load_memory searches name their session and invocation."""
    p = _played("memory")
    table = p.runner.invocations()
    session_of = dict(zip(table.invocation_id, table.session_id))
    searches = [f for f in p.runner.trace.of("fact") if f.topic == "memory_search"]
    # preload_memory searches before each model call (2 + 1 in the second session's two calls
    # ... one per model call), load_memory once:
    assert len(searches) == 4
    for fact in searches:
        assert fact.invocation_id in session_of, fact
        assert fact.session_id == session_of[fact.invocation_id], fact
    assert [f.data.get("tool") for f in searches] == [
        "preload_memory", "preload_memory", "load_memory", "preload_memory"]
    assert [f.session_id for f in searches] == [p.sessions[0]] + [p.sessions[1]] * 3
    assert any("oolong" in hit["text"] for f in searches for hit in f.data["hits"])


def test_load_memory_response_loads_as_data(tmp_path):
    """(6) load_memory's response comes back from load() as data, not an opaque repr."""
    p = _played("memory")
    loaded = agentnb.load(p.runner.save(tmp_path / "memory.jsonl", reveal=True))
    events = loaded.events(reveal=True)
    responses = [r for rs in events.function_responses for r in rs if r["name"] == "load_memory"]
    assert responses
    result = responses[0]["response"]["result"]     # FunctionTool wraps a non-dict return
    from agentnb.core.codec import TypedRepr
    assert not isinstance(result, TypedRepr), result
    # ADK's LoadMemoryResponse again (importable, a pydantic model), or its plain data
    memories = result["memories"] if isinstance(result, dict) else result.memories
    assert isinstance(memories, list) and len(memories) == 2
    first = memories[0]
    text = first["content"]["parts"][0]["text"] if isinstance(first, dict) else first.content.parts[0].text
    assert "oolong" in text


def test_external_append_event_is_reconciled():
    """(7) Events appended outside the runner are recorded with source 'external' (at sync()
    and at the next ask)."""
    p = _played("external_append")
    history = p.runner.history(reveal=True)
    external = history[history.source == "external"]
    assert set(external.key) >= {"task_status", "user:tier"}
    assert external[external.key == "task_status"].new.tolist() == ["active", "done"]
    assert set(external.invocation_id) == {"e-external-1", "e-external-3"}


def test_set_state_goes_where_adk_puts_it():
    """Issue 18 (1): set_state's event is in ADK's session, authored by the user with the
    delta; app:/user: keys reach the user's next session; the tool reads the value set."""
    p = _played("set_state")
    first, second = p.sessions
    sessions = {sid: s for (_, _, sid), s in _sessions(p).items()}
    stored = [e for e in sessions[first].events if e.invocation_id.startswith("e-notebook-")]
    assert [e.author for e in stored] == ["user", "user"]
    assert stored[0].actions.state_delta == {"cart": ["coffee"], "app:currency": "EUR",
                                             "user:name": "Ada"}
    assert sessions[first].state["cart"] == p.case.extra["cart"]   # the tool read "coffee"
    assert {k: sessions[second].state[k] for k in ("app:currency", "user:name")} == {
        "app:currency": "EUR", "user:name": "Ada L."}
    history = p.runner.history(first, reveal=True)
    rows = history[history.source == "notebook"]
    assert rows[rows.key == "cart"][["old", "new"]].values.tolist() == [[["tea"], ["coffee"]]]
    events = p.runner.events(first)
    assert set(events[events.event_id.isin([e.id for e in stored])].kind) == {"state"}


def test_set_state_refuses_temp_keys_and_bad_input():
    runner = NotebookRunner(corpus_adk.load("set_state").root, display=False)
    for delta, error in [({"temp:x": 1}, "temp: keys live only during one invocation"),
                         ({}, "non-empty dict"), ({1: 2}, "non-empty strings")]:
        with pytest.raises((ValueError, TypeError), match=error):
            asyncio.run(runner.set_state(delta))
    assert len(runner.history()) == 0


@pytest.mark.parametrize("name", ["long_running", "confirmation", "credential"])
def test_pending_lists_what_the_session_waits_for(name):
    """(8) pending(): kind, call id, tool, args, hint while waiting; empty once answered."""
    p = _played(name)
    assert p.pending, "no run was waiting"
    # ADK's own definition of what a session waits for: events/_interrupts.index_open_interrupts
    waiting = [ids for status, ids in zip(p.statuses, p.open_interrupts) if status == "waiting"]
    assert [bool(ids) for ids in p.open_interrupts] == [s == "waiting" for s in p.statuses]
    for rows, ids in zip(p.pending, waiting):
        assert len(rows) == 1
        row = rows[0]
        assert {"kind", "call_id", "tool", "args", "hint"} <= set(row)
        assert row["kind"] == p.case.extra["pending_kind"]
        assert [row["call_id"]] == ids
    assert _rows(p.runner.pending()) == []


def test_long_running_answer_resumes_the_waiting_invocation():
    p = _played("long_running")
    (_, first), (_, second) = p.invocations
    assert first == second   # ADK continues the invocation that made the call
    row = p.pending[0][0]
    assert row["tool"] == "ask_for_approval" and row["args"] == {"purpose": "taxi", "amount": 200.0}


def test_confirmation_payload_reaches_the_tool():
    p = _played("confirmation")
    first, second = p.pending[0][0], p.pending[1][0]
    assert first["tool"] == "transfer_money" and first["hint"] == "Approve sending 500 to Bob?"
    assert second["tool"] == "close_account"
    state = _adk_state(next(iter(_sessions(p).values())))
    assert state["last_transfer"]["approved"] == {"approved_amount": 450}


def test_credential_secret_is_masked():
    p = _played("credential")
    secret = p.case.extra["secret"]
    assert secret not in p.runner.events().to_string()
    assert p.pending[0][0]["tool"] == "get_forecast"


def test_custom_agent_end_invocation_is_recorded():
    """A custom agent's ctx.end_invocation (set on its own copy of the context) is recorded."""
    p = _played("custom_agent")
    ended = [f for f in p.runner.trace.of("fact") if f.topic == "end_invocation"]
    turn = p.case.extra["end_invocation_turn"]
    assert [f.invocation_id for f in ended] == [p.invocations[turn][1]]
    assert ended[0].data["agent"] == "gatekeeper"
    assert p.case.root.worker.model.calls == 1    # the worker did not run the second time


def test_typed_state_loads_as_the_same_classes(tmp_path):
    """(9) pydantic model, enum, dataclass, datetime, bytes, set: the same classes after load."""
    p = _played("typed_state")
    loaded = agentnb.load(p.runner.save(tmp_path / "typed.jsonl", reveal=True))
    before = p.runner.history(reveal=True)
    after = loaded.history(reveal=True)
    for x, y in zip(before.new, after.new):
        assert type(x) is type(y) and x == y, (x, y)
    kinds = {type(v).__name__ for v in after.new}
    assert {"Customer", "Priority", "Slot", "datetime", "bytes", "set", "date"} <= kinds


def test_scripted_model_plays_mixed_turns_and_builtin_tools():
    """(10) A step holds a thought, text and a call together; google_search does not raise."""
    p = _played("builtin_tools")
    session = _sessions(p)[next(k for k in p.truth.sessions if k[2] == p.sessions[0])]
    mixed = next(e for e in session.events if e.get_function_calls()
                 and any(part.text for part in e.content.parts))
    assert [part.thought for part in mixed.content.parts if part.text] == [True, None]
    events = p.runner.events(reveal=True).set_index("event_id")
    assert events.loc[mixed.id, "text"] == p.case.extra["mixed_text"]
    assert [c["name"] for c in events.loc[mixed.id, "function_calls"]] == ["get_time"]
    # ADK 2.13 accumulates an agent's text across its turn into output_key
    # (agents/llm_agent.py:__maybe_accumulate_streaming_output), the mixed turn's text included.
    assert _adk_state(session)["answer"] == "Let me check.It is 10:10 in Paris, the capital of France."
    history = p.runner.history(reveal=True)
    answers = history[(history.key == "answer") & (history.session_id == p.sessions[0])]
    assert answers.source.tolist() == ["output_key:assistant"] * 2


def _rename_types(tree, renames):
    """Every string in a saved record that names a corpus type, renamed (keys and values)."""
    if isinstance(tree, str):
        for old, new in renames:
            if tree == old or tree.startswith((old + ".", old + ":")):
                return new + tree[len(old):]
        return tree
    if isinstance(tree, list):
        return [_rename_types(v, renames) for v in tree]
    if isinstance(tree, dict):
        return {_rename_types(k, renames): _rename_types(v, renames) for k, v in tree.items()}
    return tree


@pytest.mark.parametrize("target", ["subprocess.Popen", "os.system",
                                    "agentnb_corpus_never_imported.Thing"])
def test_hostile_type_names_in_a_trace_run_nothing(tmp_path, monkeypatch, target):
    """(9) A trace is input from anywhere: whatever tag format save() uses, a file whose type
    names are rewritten to name a process, a shell or a module never imported loads without
    importing, calling or constructing it; the value stays a typed plain value."""
    import json
    import os
    import subprocess
    import sys
    p = _played("typed_state")
    path = p.runner.save(tmp_path / "typed.jsonl", reveal=True)
    module, _, name = target.rpartition(".")
    renames = [(f"corpus_adk.typed_state.{cls}", target) for cls in ("Customer", "Slot", "Priority")]
    renames += [("corpus_adk.typed_state", module)]
    lines = path.read_text().split("\n")
    hostile = [lines[0]] + [json.dumps(_rename_types(json.loads(line), renames)) if line else line
                            for line in lines[1:]]
    hostile_text = "\n".join(hostile)
    hostile_text = hostile_text.replace('"Customer"', f'"{name}"').replace('"Slot"', f'"{name}"')
    (tmp_path / "hostile.jsonl").write_text(hostile_text)
    assert target in hostile_text or name in hostile_text
    calls = []
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: calls.append(("Popen", a, k)))
    monkeypatch.setattr(os, "system", lambda *a, **k: calls.append(("system", a, k)))
    loaded = agentnb.load(tmp_path / "hostile.jsonl")
    frames = [loaded.history(reveal=True), loaded.events(reveal=True)]
    assert calls == []
    assert "agentnb_corpus_never_imported" not in sys.modules
    for value in frames[0].new:
        assert not callable(value) or (value is None), value
        assert type(value).__module__.split(".")[0] not in ("subprocess", "os",
                                                             "agentnb_corpus_never_imported")


# --- the card ---------------------------------------------------------------------------------

def test_card_groups_workflow_events_by_node_and_nests_agent_tool_runs():
    """(1)(3) The invocation's card: a head row per workflow node, and each AgentTool run under
    its caller's card (and not in a card of its own caller's caller)."""
    from agentnb.core.render.sections import Sections
    from hostile_payloads import check_agentnb_html
    p = _played("workflow_graph")
    card = Sections(p.invocations[0][1])
    card.add(p.runner.trace.snapshot())
    groups = [row for row in card.rows["events"] if "anb-group" in row]
    assert [g.split(">", 1)[1].split("<")[0] for g in groups] == [
        "node helpdesk@1/classifier@1", "node helpdesk@1/route_ticket@1",
        "node helpdesk@1/file_bug@1", "node helpdesk@1/confirm_bug@1"]
    check_agentnb_html(card.html())
    p = _played("agent_tools")
    top = p.invocations[0][1]
    card = Sections(top)
    card.add(p.runner.trace.snapshot())
    nested = [row for row in card.rows["events"] if "anb-child" in row]
    assert sum("nested run" in row for row in nested) == 4     # each child's start and end
    assert any("Hotel Sol" in row for row in nested) and any("find_flight" in row for row in nested)
    hotel = [row for row in card.rows["events"] if "anb-k-model" in row and "Hotel Sol, 80" in row]
    assert len(hotel) == 1 and "anb-child" in hotel[0]   # the child's own answer, nested
    check_agentnb_html(card.html())
    table = p.runner.invocations()
    child = table[table.parent_invocation_id == top].invocation_id.iloc[0]
    child_card = Sections(child)
    child_card.add(p.runner.trace.snapshot())
    assert not any("anb-child" in row for row in child_card.rows.get("events", []))
    assert "nested in" in child_card.head
