"""Faults, with the real ADK: tools and models that raise, agentnb's own hooks failing,
interrupts, cancellation, concurrent sessions, a 10,000-event session and ADK's sync `Runner.run`.

Every test checks the same three things after the fault: the trace's events are ADK's
`session.events` (same ids, same order), replaying the persisted history rows in `seq` order gives
ADK's `session.state`, and the invocation's status says what happened (ok, error, interrupted).
"""
import asyncio
import os
import signal
import threading

import pytest
from google.adk.agents import BaseAgent, LlmAgent
from google.adk.events import Event as AdkEvent
from google.adk.events import EventActions
from google.adk.tools import ToolContext
from google.genai import types

from agentnb.core.recorded import Invocation
from agentnb.adk import AdkObserver, NotebookRunner, ScriptedLlm, call, reply


def run(coro):
    return asyncio.run(coro)


def replay(history) -> dict:
    rows = history[history.persisted].sort_values("seq")
    return dict(zip(rows.key, rows.new))


def check_consistent(runner, session_id=None):
    """The trace's events are ADK's events; its history replays to ADK's state. Returns the
    ADK session."""
    session = run(runner.get_session(session_id))
    assert runner.events(session_id).event_id.tolist() == [e.id for e in session.events]
    assert replay(runner.history(session_id, reveal=True)) == session.state
    history = runner.history(session_id)
    for sid in history.session_id.unique():
        assert history[history.session_id == sid].seq.tolist() == list(range(
            (history.session_id == sid).sum()))
    return session


def message(text):
    return types.Content(role="user", parts=[types.Part(text=text)])


def tool_errors(runner):
    return [f for f in runner.trace.of("fact") if f.topic == "tool_error"]


async def remember(drink: str, tool_context: ToolContext) -> dict:
    """Writes session and temp: state and saves an artifact version."""
    tool_context.state["drink"] = drink
    tool_context.state["temp:call"] = tool_context.function_call_id
    tool_context.state["count"] = tool_context.state.get("count", 0) + 1
    version = await tool_context.save_artifact("note.txt", types.Part(text=f"likes {drink}"))
    return {"version": version}


async def boom(tool_context: ToolContext) -> dict:
    tool_context.state["half"] = "written"
    raise ValueError("tool broke")


def make_runner(steps, tools=(remember, boom), **kw):
    agent = LlmAgent(name="concierge", model=ScriptedLlm(steps), tools=list(tools))
    kw.setdefault("state", {"greeting": "hi"})
    return NotebookRunner(agent, app_name="faults", user_id="u1", display=False, **kw)


# --- 1. a tool raises -----------------------------------------------------------------------

def test_tool_raises_error_status_error_event_and_consistent_trace():
    runner = make_runner([call("remember", drink="tea"), reply("Noted."), call("boom"),
                          reply("back")])
    assert run(runner.ask("tea")).status == "ok"
    with pytest.raises(ValueError, match="tool broke"):
        run(runner.ask("break it", state_delta={"mood": "curious"}))
    inv = runner.last_invocation
    assert inv.status == "error" and inv.error == "ValueError: tool broke"
    table = runner.invocations()
    assert table.status.tolist() == ["ok", "error"]
    assert table.error.iloc[1] == "ValueError: tool broke"
    # ADK's own error event is in the trace, last of the invocation, with the error text
    assert [e.event_kind for e in inv.events] == ["user", "function_call", "error"]
    assert inv.events[-1].error == "tool broke"
    session = check_consistent(runner)
    assert session.events[-1].error_code == "ValueError"
    assert session.state["mood"] == "curious" and "half" not in session.state
    (fact,) = tool_errors(runner)
    assert fact.invocation_id == inv.invocation_id
    assert fact.data["lost_state_writes"] == {"half": "written"}
    # the runner goes on
    assert run(runner.ask("again")).text == "back"
    check_consistent(runner)


# --- 2. the model raises --------------------------------------------------------------------

def test_model_raises_error_status_and_consistent_trace():
    def model_down(request):
        raise ConnectionError("model down")
    runner = make_runner([reply("first"), model_down, reply("after")])
    run(runner.ask("one"))
    with pytest.raises(ConnectionError, match="model down"):
        run(runner.ask("two", state_delta={"tries": 1}))
    inv = runner.last_invocation
    assert inv.status == "error" and inv.error == "ConnectionError: model down"
    assert [e.event_kind for e in inv.events] == ["user", "error"]
    assert inv.events[-1].error == "model down"
    facts = [f for f in runner.trace.of("fact") if f.topic == "model_error"]
    assert [f.data["error"] for f in facts] == ["ConnectionError: model down"]
    session = check_consistent(runner)
    assert session.state["tries"] == 1
    assert run(runner.ask("three")).text == "after"
    assert runner.invocations().status.tolist() == ["ok", "error", "ok"]
    check_consistent(runner)


# --- 3. agentnb's own code fails inside a hook -----------------------------------------------

def _broken(counter):
    def broken(*args, **kwargs):
        counter.append(args)
        raise RuntimeError("agentnb bug")
    return broken


@pytest.mark.parametrize("method", [
    "_record_user_message",
    "_record_context",
    "_record_after_model",
    "_record_after_tool",
    "_record_artifacts",
    "_record_start",
    "_record_event",
    "_finish",
])
def test_observer_hook_failure_counts_and_run_completes_ok(method, monkeypatch):
    runner = make_runner([call("remember", drink="tea"), reply("Noted."), reply("second")])
    calls = []
    monkeypatch.setattr(runner.observer, method, _broken(calls))
    first = run(runner.ask("tea", state_delta={"mood": "ok"}))
    second = run(runner.ask("more"))
    assert calls, f"{method} was never called"
    assert runner.observer.failures == len(calls)
    assert (first.status, first.error, second.status) == ("ok", None, "ok")
    assert runner.invocations().status.tolist() == ["ok", "ok"]
    session = check_consistent(runner)
    assert session.state["drink"] == "tea" and session.state["mood"] == "ok"
    assert first.text == "Noted." and second.text == "second"


@pytest.mark.parametrize("method", ["_record_tool_error", "_record_fact"])
def test_observer_hook_failure_during_a_tool_error_keeps_the_tools_error(method, monkeypatch):
    runner = make_runner([call("boom"), reply("after")])
    calls = []
    monkeypatch.setattr(runner.observer, method, _broken(calls))
    with pytest.raises(ValueError, match="tool broke"):
        run(runner.ask("go"))
    assert calls and runner.observer.failures == len(calls)
    inv = runner.last_invocation
    assert inv.status == "error" and inv.error == "ValueError: tool broke"
    check_consistent(runner)
    assert run(runner.ask("again")).status == "ok"
    check_consistent(runner)


def test_observer_failures_never_reach_adk_for_every_hook_at_once(monkeypatch):
    """Every _record_* method broken at once: ADK's run is untouched."""
    runner = make_runner([call("remember", drink="tea"), reply("Noted.")])
    calls = []
    for name in dir(AdkObserver):
        if name.startswith("_record_"):
            monkeypatch.setattr(runner.observer, name, _broken(calls))
    run(runner.ask("tea"))
    assert runner.observer.failures == len(calls) > 5
    session = run(runner.get_session())
    assert session.state["drink"] == "tea" and session.events[-1].content.parts[0].text == "Noted."


# --- 4. KeyboardInterrupt mid-invocation -----------------------------------------------------

async def _ouch_async(tool_context: ToolContext) -> dict:
    tool_context.state["lost"] = True
    raise KeyboardInterrupt


def _ouch_sync(tool_context: ToolContext) -> dict:
    tool_context.state["lost"] = True
    raise KeyboardInterrupt


def _as_ouch(fn):
    async def ouch(tool_context: ToolContext) -> dict:
        return await fn(tool_context)

    def ouch_sync(tool_context: ToolContext) -> dict:
        return fn(tool_context)
    chosen = ouch if asyncio.iscoroutinefunction(fn) else ouch_sync
    chosen.__name__ = "ouch"
    return chosen


@pytest.mark.parametrize("tool", [_ouch_async, _ouch_sync], ids=["async-tool", "sync-tool"])
def test_keyboard_interrupt_in_a_tool_is_interrupted_and_runner_stays_usable(tool):
    runner = make_runner([reply("before"), call("ouch"), reply("after")],
                         tools=[_as_ouch(tool)])
    run(runner.ask("one"))
    with pytest.raises(KeyboardInterrupt):
        run(runner.ask("two"))
    inv = runner.last_invocation
    assert inv.status == "interrupted"
    # asyncio.run cancels the ask once the interrupt has left the loop: ask sees CancelledError
    assert inv.error.split(":")[0] in ("KeyboardInterrupt", "CancelledError")
    assert [e.event_kind for e in inv.events] == ["user", "function_call"]
    session = check_consistent(runner)
    assert "lost" not in session.state
    assert run(runner.ask("three")).text == "after"
    assert runner.invocations().status.tolist() == ["ok", "interrupted", "ok"]
    check_consistent(runner)


def test_sigint_while_a_tool_awaits_is_interrupted_and_runner_stays_usable():
    """A real SIGINT (as Ctrl-C or a kernel interrupt delivers it to the main thread)."""
    started = threading.Event()

    async def slow(tool_context: ToolContext) -> dict:
        tool_context.state["lost"] = True
        started.set()
        await asyncio.sleep(10)
        return {}
    runner = make_runner([call("slow"), reply("after")], tools=[slow])

    def interrupt():
        if started.wait(10):
            os.kill(os.getpid(), signal.SIGINT)   # a real signal wakes a blocked wait
    helper = threading.Thread(target=interrupt)
    helper.start()
    with pytest.raises(KeyboardInterrupt):
        run(runner.ask("wait"))
    helper.join()
    assert runner.last_invocation.status == "interrupted"
    session = check_consistent(runner)
    assert "lost" not in session.state
    assert run(runner.ask("again")).text == "after"
    assert runner.invocations().status.tolist() == ["interrupted", "ok"]
    check_consistent(runner)


# --- 5. CancelledError ------------------------------------------------------------------------

def test_cancelled_ask_is_interrupted_and_runner_stays_usable():
    async def stuck(tool_context: ToolContext) -> dict:
        tool_context.state["lost"] = True
        tool_context.state["temp:scratch"] = 1
        waiting.set()
        await asyncio.sleep(30)
        return {}
    runner = make_runner([call("stuck"), reply("after")], tools=[stuck])
    waiting = None

    async def go():
        nonlocal waiting
        waiting = asyncio.Event()
        task = asyncio.ensure_future(runner.ask("wait", state_delta={"asked": 1}))
        await asyncio.wait_for(waiting.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await runner.ask("again")
    after = run(go())
    first = Invocation(runner.trace, runner.session_id,
                       runner.invocations().invocation_id.iloc[0])
    assert first.status == "interrupted" and first.error.startswith("CancelledError")
    assert [e.event_kind for e in first.events] == ["user", "function_call"]
    assert [f.data["error"] for f in tool_errors(runner)] == ["CancelledError: "]
    assert tool_errors(runner)[0].data["lost_state_writes"] == {"lost": True, "temp:scratch": 1}
    assert after.status == "ok" and after.text == "after"
    assert runner.invocations().status.tolist() == ["interrupted", "ok"]
    session = check_consistent(runner)
    assert session.state == {"greeting": "hi", "asked": 1}


# --- 6. two invocations on two sessions at once -----------------------------------------------

def _per_session_step(request):
    """Parallel calls of `work` for the user's text, then an answer naming it."""
    last = request.contents[-1]
    answered = [p.function_response for p in last.parts if p.function_response]
    if answered:
        return reply(f"done {answered[0].response['who']}")
    who = last.parts[0].text
    return [call("work", who=who, n=0), call("work", who=who, n=1)]


async def work(who: str, n: int, tool_context: ToolContext) -> dict:
    state = tool_context.state
    state[f"seen_{n}"] = who
    state["temp:who"] = who
    await asyncio.sleep(0.02)          # the other session's invocation runs meanwhile
    state["count"] = state.get("count", 0) + 1
    state["last"] = f"{who}:{state['temp:who']}:{state['me']}"
    return {"who": who}


def _two_sessions_at_once(rounds=3):
    runner = make_runner([_per_session_step] * (4 * rounds), tools=[work], state={})

    async def go():
        a = await runner.new_session(state={"me": "a"})
        b = await runner.new_session(state={"me": "b"})
        returned = []
        for _ in range(rounds):
            returned.append(await asyncio.gather(runner.ask("a", session_id=a),
                                                 runner.ask("b", session_id=b)))
        return a, b, returned
    return runner, *run(go())


def test_two_sessions_at_once_each_exact_without_cross_talk():
    runner, a, b, _ = _two_sessions_at_once()
    for sid, who in ((a, "a"), (b, "b")):
        session = check_consistent(runner, sid)
        assert session.state == {"me": who, "seen_0": who, "seen_1": who, "count": 6,
                                 "last": f"{who}:{who}:{who}"}
        history = runner.history(sid, reveal=True)
        assert set(history.session_id) == {sid}
        written = history[history.key != "count"]
        assert all(str(v).startswith(who) for v in written.new), written
        assert all(v is None or str(v).startswith(who) for v in written.old)
        table = runner.invocations(sid)
        assert table.status.tolist() == ["ok"] * 3 and table.n_events.tolist() == [4] * 3
        assert table.user_text.tolist() == [who] * 3
        for inv_id in table.invocation_id:
            inv = Invocation(runner.trace, sid, inv_id)
            assert inv.text == f"done {who}"
            assert {e.invocation_id for e in inv.events} == {inv_id}
    # the invocations really overlapped
    both = runner.invocations()
    ia, ib = both[both.session_id == a].iloc[0], both[both.session_id == b].iloc[0]
    assert ia.started < ib.ended and ib.started < ia.ended
    assert {r.session_id for r in runner.trace.of("event")} == {a, b}


def test_concurrent_asks_return_their_own_invocation():
    runner, a, b, returned = _two_sessions_at_once(rounds=1)
    ia, ib = returned[0]
    assert (ia.session_id, ia.text) == (a, "done a")
    assert (ib.session_id, ib.text) == (b, "done b")


# --- 7. a 10,000-event session ------------------------------------------------------------------

class Burst(BaseAgent):
    """A real ADK agent that yields `n` events at once, each with a state delta."""
    n: int = 0

    async def _run_async_impl(self, ctx):
        for i in range(self.n):
            yield AdkEvent(
                invocation_id=ctx.invocation_id, author=self.name,
                content=types.Content(role="model", parts=[types.Part(text=f"event {i}")]),
                actions=EventActions(state_delta={"i": i, f"k{i % 7}": i, "temp:i": i}))


def test_ten_thousand_event_session_nothing_dropped_seq_contiguous():
    asks, per_ask = 4, 2499       # + one user event per ask = 10,000 events
    runner = NotebookRunner(Burst(name="burst", n=per_ask), app_name="burst", display=False,
                            state={"start": 0})
    for k in range(asks):
        inv = run(runner.ask(f"go {k}", state_delta={"round": k}))
        assert inv.status == "ok" and len(inv.events) == per_ask + 1
    session = check_consistent(runner)
    events = runner.events()
    assert len(events) == len(session.events) == 10_000
    assert events.seq.tolist() == list(range(10_000))
    # every delta arrived whole, temp: keys included (ADK strips them from the stored event)
    for recorded, stored in zip(runner.trace.of("event"), session.events):
        assert {k: v for k, v in recorded.state_delta.items() if not k.startswith("temp:")} \
            == dict(stored.actions.state_delta)
    history = runner.history()
    assert len(history) == 1 + asks * (1 + 3 * per_ask)
    assert history.seq.tolist() == list(range(len(history)))
    assert (~history[history.key == "temp:i"].persisted).all()
    table = runner.invocations()
    assert table.status.tolist() == ["ok"] * asks
    assert table.n_events.tolist() == [per_ask + 1] * asks
    assert table.n_state_changes.tolist() == [1 + 3 * per_ask] * asks
    assert session.state["i"] == per_ask - 1 and session.state["round"] == asks - 1


# --- 8. ADK's synchronous Runner.run ------------------------------------------------------------

def test_sync_runner_run_recorded_completely_from_adks_worker_thread():
    threads = []

    async def remember_where(drink: str, tool_context: ToolContext) -> dict:
        threads.append(threading.current_thread())
        return await remember(drink, tool_context)
    remember_where.__name__ = "remember"
    runner = make_runner([call("remember", drink="tea"), reply("Noted."), call("boom")],
                         tools=[remember_where, boom])
    run(runner._ensure_session(runner.session_id))
    sid = runner.session_id
    seen = []
    for event in runner.adk_runner.run(user_id=runner.user_id, session_id=sid,
                                       new_message=message("tea"), state_delta={"mood": "ok"}):
        # recorded on ADK's thread before ADK hands the event over to this one
        assert event.id in set(runner.events().event_id)
        seen.append(event)
    assert threads and threads[0] is not threading.main_thread()
    inv_id = seen[0].invocation_id
    inv = Invocation(runner.trace, sid, inv_id)
    assert len(runner.trace.of("invocation_start", sid)) == 1
    assert [r.invocation_id for r in runner.trace.of("invocation_end", sid)] == [inv_id]
    assert inv.status == "ok" and inv.error is None and inv.text == "Noted."
    assert [e.event_kind for e in inv.events] == ["user", "function_call", "function_response",
                                                  "model"]
    hooks = {c.hook for c in inv.contexts}
    assert {"before_run_callback", "on_user_message_callback", "before_model_callback",
            "before_tool_callback", "after_tool_callback", "after_model_callback"} <= hooks
    history = runner.history(reveal=True)
    assert dict(zip(history.key, history.source))["mood"] == "user"
    temp = history[history.key == "temp:call"]
    assert len(temp) == 1 and not temp.persisted.any()
    versions = run(runner.adk_runner.artifact_service.list_versions(
        app_name=runner.app_name, user_id=runner.user_id, session_id=sid, filename="note.txt"))
    assert runner.artifacts().version.tolist() == versions == [0]
    session = check_consistent(runner)
    assert session.state == {"greeting": "hi", "mood": "ok", "drink": "tea", "count": 1}

    # a failing invocation through Runner.run, then an ask on the same runner
    with pytest.raises(ValueError, match="tool broke"):
        list(runner.adk_runner.run(user_id=runner.user_id, session_id=sid,
                                   new_message=message("break")))
    table = runner.invocations()
    assert table.status.tolist() == ["ok", "error"]
    assert table.error.iloc[1] == "ValueError: tool broke"
    check_consistent(runner)


def test_sync_runner_run_interrupted_on_adks_thread_is_interrupted():
    runner = make_runner([call("ouch"), reply("after")], tools=[_as_ouch(_ouch_async)])
    run(runner._ensure_session(runner.session_id))
    with pytest.raises(RuntimeError, match="terminated by KeyboardInterrupt"):
        list(runner.adk_runner.run(user_id=runner.user_id, session_id=runner.session_id,
                                   new_message=message("go")))
    check_consistent(runner)
    assert runner.invocations().status.tolist() == ["interrupted"]
    assert runner.observer._runs == {}


def test_sync_runner_run_interrupted_in_the_callers_thread_is_interrupted():
    started = threading.Event()

    async def slow(tool_context: ToolContext) -> dict:
        started.set()
        await asyncio.sleep(10)
        return {}
    runner = make_runner([call("slow"), reply("after")], tools=[slow])
    run(runner._ensure_session(runner.session_id))

    def interrupt():
        if started.wait(10):
            os.kill(os.getpid(), signal.SIGINT)   # a real signal wakes a blocked wait
    helper = threading.Thread(target=interrupt)
    helper.start()
    with pytest.raises(KeyboardInterrupt):
        for _ in runner.adk_runner.run(user_id=runner.user_id, session_id=runner.session_id,
                                       new_message=message("wait")):
            pass
    helper.join()
    check_consistent(runner)
    assert [f.data["error"] for f in tool_errors(runner)] == ["CancelledError: "]
    assert runner.invocations().status.tolist() == ["interrupted"]


# --- parallel tool calls, one of which raises ---------------------------------------------------

@pytest.mark.parametrize("bad_first", [True, False], ids=["siblings-cancelled", "siblings-done"])
def test_parallel_tool_calls_one_raises(bad_first):
    async def good(n: int, tool_context: ToolContext) -> dict:
        tool_context.state["good"] = n
        tool_context.state["temp:good"] = n
        await tool_context.save_artifact("good.txt", types.Part(text=str(n)))
        await asyncio.sleep(0.1 if bad_first else 0)
        return {"n": n}

    async def bad(tool_context: ToolContext) -> dict:
        tool_context.state["bad"] = 1
        await asyncio.sleep(0 if bad_first else 0.1)
        raise ValueError("one of three broke")
    runner = make_runner([reply("hi"), [call("good", n=1), call("bad"), call("good", n=2)],
                          reply("after")], tools=[good, bad])
    run(runner.ask("one"))
    with pytest.raises(ValueError, match="one of three broke"):
        run(runner.ask("parallel"))
    inv = runner.last_invocation
    assert inv.status == "error" and inv.error == "ValueError: one of three broke"
    kinds = [e.event_kind for e in inv.events]
    assert kinds == (["user", "function_call", "error"] if bad_first else
                     ["user", "function_call", "function_response", "error"])
    assert inv.events[-1].error == "one of three broke"
    errors = {f.data["function_call_id"]: f.data for f in tool_errors(runner)}
    calls = inv.events[1].function_calls
    assert errors[calls[1]["id"]]["error"] == "ValueError: one of three broke"
    assert errors[calls[1]["id"]]["lost_state_writes"] == {"bad": 1}
    if bad_first:     # the siblings were cancelled: their writes are lost too
        assert {errors[c["id"]]["error"] for c in (calls[0], calls[2])} == {"CancelledError: "}
    session = check_consistent(runner)
    assert session.state.get("good") == (None if bad_first else 2) and "bad" not in session.state
    versions = run(runner.adk_runner.artifact_service.list_versions(
        app_name=runner.app_name, user_id=runner.user_id, session_id=runner.session_id,
        filename="good.txt"))
    assert sorted(runner.artifacts().version.tolist()) == sorted(versions) == [0, 1]
    assert run(runner.ask("again")).text == "after"
    assert runner.invocations().status.tolist() == ["ok", "error", "ok"]
    check_consistent(runner)
