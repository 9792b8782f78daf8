"""agentnb.livekit against the real LiveKit packages, offline: the console/fake-job path, real
connection attempts to 127.0.0.1 only."""
from __future__ import annotations

import asyncio
import inspect
import io
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import pandas as pd
import psutil
import pytest
from agentnb.livekit import NotebookJob, call, mint_token, reply

from livekit import api
from livekit.agents import (Agent, AgentSession, JobContext, RunContext, RunResult,
                            function_tool, get_job_context, llm)

from agentnb.livekit import ScriptedLLM  # built on first use: it subclasses LiveKit's llm.LLM

seed_logger = logging.getLogger("my-agent")


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def real_threads() -> set:
    # Foreign threads (LiveKit's native library calling back into Python) show up as dummy
    # threads that Python never removes; they are not Python threads anyone could join.
    return {t for t in threading.enumerate() if not isinstance(t, threading._DummyThread)}


def listening() -> list:
    """This process's listening sockets."""
    return [c for c in psutil.Process().net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN]


def facts(job, topic):
    return [r.data for r in job.trace.of("fact") if r.topic == topic]


@dataclass
class Notes:
    notes: list = field(default_factory=list)
    count: int = 0


class NoteAgent(Agent):
    def __init__(self):
        super().__init__(instructions="Take notes.")

    @function_tool
    async def remember(self, context: RunContext[Notes], note: str) -> str:
        """Remember a note."""
        context.userdata.notes.append(note)
        return f"saved {note} in {get_job_context().job.id}"

    @function_tool
    async def count(self, context: RunContext[Notes]) -> str:
        """Count the notes."""
        context.userdata.count = len(context.userdata.notes)
        return str(context.userdata.count)

    @function_tool
    async def boom(self, context: RunContext[Notes]) -> str:
        """A tool that fails."""
        raise ValueError("the tool exploded")


# --- the seed's JobContext entrypoint -------------------------------------------------------

def test_seed_entrypoint_runs_on_a_real_job_context_and_is_recorded():
    seen, shutdown_reasons = {}, []

    async def entrypoint(ctx: JobContext):
        await ctx.connect()
        seen["room"], seen["job_room"] = ctx.room.name, ctx.job.room.name
        seen["ctx"] = ctx
        ctx.log_context_fields = {"job_id": ctx.job.id}
        seed_logger.info("작업 시작!")

        async def on_shutdown(reason):
            shutdown_reasons.append(reason)
        ctx.add_shutdown_callback(on_shutdown)

    # A handler the user had on the root logger keeps showing what it showed before: the job
    # lowers the root level for its own INFO records, not for everyone's.
    root = logging.getLogger()
    users_output = io.StringIO()
    users_handler = logging.StreamHandler(users_output)
    verbose_logger = logging.getLogger("agentnb-test-verbose")
    verbose_logger.setLevel(logging.INFO)
    level_before, handlers_before = root.level, list(root.handlers)
    root.addHandler(users_handler)

    async def main():
        job = NotebookJob(entrypoint=entrypoint, room="demo", display=False)
        await job.start()
        assert isinstance(job.context, JobContext)
        assert job.context is seen["ctx"]
        verbose_logger.info("a logger set to INFO by its owner")
        logging.getLogger("agentnb-test-quiet").info("an INFO that root's WARNING hid")
        await job.aclose()
        return job

    try:
        job = run(main())
    finally:
        root.removeHandler(users_handler)
    assert "a logger set to INFO by its owner" in users_output.getvalue()
    assert "작업 시작!" not in users_output.getvalue()
    assert "an INFO that root's WARNING hid" not in users_output.getvalue()
    session_id = seen["ctx"].job.id
    assert job.session_id == session_id and session_id.startswith("mock-job-")
    assert seen["job_room"] == "demo" and seen["room"] == "console"  # LiveKit's mock room

    [session] = job.trace.of("session")
    assert (session.app, session.framework, session.user) == ("demo", "livekit",
                                                               job.agent_identity)
    [job_fact] = facts(job, "job")
    assert job_fact["mode"] == "console (no LiveKit server)" and job_fact["fake_job"] is True
    assert job_fact["room"] == "demo" and job_fact["worker_id"] == "unregistered"
    [process] = facts(job, "process")
    assert process["pid"] == os.getpid() and process["executor_type"] == "THREAD"
    [room] = facts(job, "room")
    assert room["name"] == "demo" and room["room_object_name"] == "console" and room["mock"]
    [snapshot] = job.trace.of("context")
    assert snapshot.hook == "entrypoint" and snapshot.context_kind == "JobContext"
    assert snapshot.actual_class == "livekit.agents.job.JobContext"
    assert snapshot.exposed["job.id"] == session_id
    assert snapshot.exposed["local_participant_identity"] == job.agent_identity

    [log] = [d for d in facts(job, "log") if d["logger"] == "my-agent"]
    assert log["message"] == "작업 시작!" and log["level"] == "INFO"
    assert log["fields"] == {"job_id": session_id}

    assert shutdown_reasons == ["parent process shutdown"]
    shutdown = [d for d in facts(job, "shutdown") if d["event"] == "shutdown"]
    assert shutdown[0]["reason"] == "parent process shutdown"
    assert any("on_shutdown" in name for name in shutdown[0]["callbacks"])
    # The root logger and the user's handler are left as they were found.
    assert root.level == level_before and root.handlers == handlers_before
    assert users_handler.filters == []


# --- a built-in text session with a tool that writes userdata -------------------------------

def test_turns_with_a_userdata_tool_give_history_rows_and_run_results():
    model = ScriptedLLM([call("remember", note="milk"), reply("Saved."),
                         call("remember", note="eggs"), reply("Saved too."),
                         [call("remember", note="tea"), call("count")], reply("Both done.")])

    async def main():
        job = NotebookJob(agent=NoteAgent(), llm=model, userdata=Notes(), room="shop",
                          display=False)
        await job.start()
        first = await job.ask("remember milk")
        second = await job.ask("remember eggs")
        third = await job.ask("remember tea and count")
        handlers = [h for hs in job.session._events.values() for h in hs
                    if h.__module__.startswith("agentnb.livekit")]
        await job.aclose()
        return job, first, second, third, handlers

    job, first, second, third, handlers = run(main())
    # LiveKit's emit() runs inspect.signature on every handler at every event: agentnb's carry
    # theirs (a decorated bound method costs ~14 µs there, at every event)
    assert len(handlers) == 6
    assert all(isinstance(h.__dict__.get("__signature__"), inspect.Signature) for h in handlers)
    assert isinstance(first, RunResult) and job.last_result is third
    first.expect.next_event().is_function_call(name="remember", arguments={"note": "milk"})
    first.expect.next_event().is_function_call_output()
    first.expect.next_event().is_message(role="assistant")
    assert second.events[-1].item.text_content == "Saved too."
    assert model.calls == 6

    history = job.history()
    assert list(history.columns) == ["session_id", "invocation_id", "event_id", "seq",
                                     "timestamp", "author", "source", "key", "scope", "old",
                                     "new", "persisted"]
    rows = [(r.source, r.key, r.old, r.new) for r in history.itertuples()]
    assert rows == [
        ("initial", "notes", None, []), ("initial", "count", None, 0),
        ("tool:remember", "notes", [], ["milk"]),
        ("tool:remember", "notes", ["milk"], ["milk", "eggs"]),
        # two tools in one model step: the change is the batch's, not one tool's
        ("userdata", "notes", ["milk", "eggs"], ["milk", "eggs", "tea"]),
        ("userdata", "count", 0, 3),
    ]
    assert set(history["scope"]) == {"userdata"} and history["persisted"].all()
    assert list(history["seq"]) == list(range(6))
    assert set(history["session_id"]) == {job.session_id}

    invocations = job.invocations()
    assert list(invocations["status"]) == ["ok", "ok", "ok"]
    assert list(invocations["user_text"]) == ["remember milk", "remember eggs",
                                              "remember tea and count"]
    assert list(invocations["n_state_changes"]) == [1, 1, 2]
    assert set(invocations["agent"]) == {"note_agent"}
    assert history["invocation_id"].iloc[2] == invocations["invocation_id"].iloc[0]

    events = job.events()
    calls = events[events["kind"] == "function_call"]
    responses = events[events["kind"] == "function_response"]
    assert [c[0]["args"] for c in calls["function_calls"]] == [
        {"note": "milk"}, {"note": "eggs"}, {"note": "tea"}, {}]
    first_call, first_response = calls["function_calls"].iloc[0][0], \
        responses["function_responses"].iloc[0][0]
    assert first_call["id"] == first_response["id"] and first_call["id"].startswith("call_")
    assert first_response["response"] == f"saved milk in {job.session_id}"  # get_job_context()
    assert responses["state_delta"].iloc[0] == {"notes": ["milk"]}
    user_texts = list(events[events["kind"] == "user"]["text"])
    assert user_texts == ["remember milk", "remember eggs", "remember tea and count"]
    assert list(events[events["kind"] == "model"]["text"]) == ["Saved.", "Saved too.",
                                                               "Both done."]
    assert "agent_state" in set(events["kind"])
    [handoff] = events[events["kind"] == "handoff"].itertuples()
    assert handoff.transfer_to_agent == "note_agent"  # the session starting its agent
    assert facts(job, "usage") and facts(job, "usage")[-1]["model_usage"][0]["model"] == \
        "scripted"
    assert job.observer.failures == 0


def test_a_turns_userdata_is_what_it_was_at_the_event_not_at_the_read():
    """The handlers keep what they saw and the trace builds it at its next read: the values
    are taken at the event. A write made by hand after a turn, before anything read the trace,
    is not the turn's tool's: it shows with the next turn's first item."""
    model = ScriptedLLM([call("remember", note="milk"), reply("Saved."), reply("Hello.")])
    notes = Notes()

    async def main():
        job = NotebookJob(agent=NoteAgent(), llm=model, userdata=notes, display=False)
        await job.ask("remember milk")
        notes.notes.append("by hand")   # in place, before anything read the trace
        await job.ask("hello")
        await job.aclose()
        return job

    job = run(main())
    history = job.history()
    rows = [(r.source, r.new) for r in history.itertuples() if r.key == "notes"]
    assert rows == [("initial", []), ("tool:remember", ["milk"]),
                    ("userdata", ["milk", "by hand"])]
    turns = list(job.invocations()["invocation_id"])
    assert list(history[history["key"] == "notes"]["invocation_id"])[1:] == turns
    events = job.events()
    assert list(events[events["kind"] == "function_response"]["state_delta"]) == [
        {"notes": ["milk"]}]


class MeteredLLM(ScriptedLLM):
    """A ScriptedLLM that reports 7 prompt and 5 completion tokens for each call."""

    def chat(self, **kwargs):
        stream = super().chat(**kwargs)
        play = stream._run

        async def run_and_report():
            await play()
            stream._event_ch.send_nowait(llm.ChatChunk(id="usage", usage=llm.CompletionUsage(
                prompt_tokens=7, completion_tokens=5, total_tokens=12)))
        stream._run = run_and_report
        return stream


def test_usage_is_recorded_once_per_turn_with_every_model_call_counted():
    model = MeteredLLM([call("remember", note="milk"), reply("Saved."),
                        call("remember", note="eggs"), reply("Saved too.")])

    async def main():
        job = NotebookJob(agent=NoteAgent(), llm=model, userdata=Notes(), display=False)
        await job.ask("remember milk")
        await job.ask("remember eggs")
        await job.aclose()
        return job

    job = run(main())
    usage = [r for r in job.trace.of("fact") if r.topic == "usage"]
    # two model calls per turn, one record per turn: the session's totals when the turn ended
    assert [r.invocation_id for r in usage] == list(job.invocations()["invocation_id"])
    assert [(r.data["model_usage"][0]["input_tokens"], r.data["model_usage"][0]["output_tokens"])
            for r in usage] == [(14, 10), (28, 20)]
    assert job.observer.failures == 0


def test_a_failing_tool_and_a_failing_model_give_error_invocations_and_the_job_goes_on():
    def explode(chat_ctx):
        raise RuntimeError("the model exploded")

    model = ScriptedLLM([call("boom"), reply("Sorry."), explode, reply("Still here.")])

    async def main():
        job = NotebookJob(agent=NoteAgent(), llm=model, userdata=Notes(), display=False)
        await job.start()
        survived_tool = await job.ask("explode the tool")
        with pytest.raises(RuntimeError, match="the model exploded"):
            await job.ask("explode the model")
        after = await job.ask("are you there?")
        with pytest.raises(RuntimeError, match="it had 4 steps and this is model call 5"):
            await job.ask("one more")
        await job.aclose()
        return job, survived_tool, after

    job, survived_tool, after = run(main())
    assert survived_tool.events[1].item.is_error  # LiveKit hands the tool's error to the model
    assert after.events[-1].item.text_content == "Still here."
    invocations = job.invocations()
    assert list(invocations["status"]) == ["error", "error", "ok", "error"]
    assert invocations["error"].iloc[0] == "boom: the tool exploded"
    assert invocations["error"].iloc[1] == "RuntimeError: the model exploded"
    assert pd.isna(invocations["error"].iloc[2])
    errors = job.events()[lambda e: e["kind"] == "error"]
    assert "RuntimeError: the model exploded" in list(errors["error"])
    # the failed tool wrote nothing
    assert job.history()["source"].tolist() == ["initial", "initial"]
    assert job.observer.failures == 0


def test_a_cancelled_ask_is_interrupted_and_the_next_turn_runs():
    class WaitingAgent(NoteAgent):
        @function_tool
        async def wait(self, context: RunContext[Notes]) -> str:
            """Waits until the turn is interrupted."""
            forever = asyncio.ensure_future(asyncio.sleep(60))
            await context.speech_handle.wait_if_not_interrupted([forever])
            forever.cancel()
            return "interrupted"

    async def main():
        job = NotebookJob(agent=WaitingAgent(), llm=ScriptedLLM([call("wait"), reply("Back.")]),
                          userdata=Notes(), display=False)
        await job.start()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(job.ask("wait for me"), 0.5)
        after = await job.ask("are you back?")
        await job.aclose()
        return job, after

    job, after = run(main())
    assert after.events[-1].item.text_content == "Back."
    invocations = job.invocations()
    assert invocations["status"].tolist() == ["interrupted", "ok"]
    assert invocations["error"].iloc[0] == "CancelledError"


# --- an entrypoint that starts its own session and never returns ----------------------------

def test_ask_talks_to_the_entrypoint_session_and_aclose_is_fast_when_it_never_returns():
    shutdown_reasons = []

    async def entrypoint(ctx: JobContext):
        async def on_shutdown(reason):
            shutdown_reasons.append(reason)
        ctx.add_shutdown_callback(on_shutdown)

        await ctx.connect()
        session = AgentSession(llm=ScriptedLLM(), vad=None, userdata={"mood": "calm"},
                               turn_handling={"turn_detection": None})
        await session.start(Agent(instructions="Echo."))
        await asyncio.Event().wait()  # never returns

    threads_before = real_threads()
    # (a job an earlier test left stuck, on purpose, may still hold its own port)
    others = {c.laddr for c in listening()}

    async def main():
        job = NotebookJob(entrypoint=entrypoint, room="echo", display=False)
        await job.start()
        listeners = [c for c in listening() if c.laddr not in others]
        result = await job.ask("hello there")
        began = time.monotonic()
        await job.aclose()
        return job, result, listeners, time.monotonic() - began

    job, result, listeners, close_seconds = run(main())
    assert result.events[-1].item.text_content == "hello there"  # the echoing ScriptedLLM()
    assert close_seconds < 5
    assert shutdown_reasons == ["parent process shutdown"]
    assert not (real_threads() - threads_before)
    # LiveKit's health server listened while the job ran, on loopback only.
    assert listeners and {c.laddr.ip for c in listeners} <= {"127.0.0.1", "::1"}
    assert not [c for c in listening() if c.laddr not in others]   # this job's port is closed
    initial = job.history()
    assert (initial["key"].tolist(), initial["new"].tolist()) == (["mood"], ["calm"])
    assert job.invocations()["status"].tolist() == ["ok"]
    assert job.observer.failures == 0


def test_an_entrypoint_that_raises_fails_start_and_leaves_nothing_running():
    async def entrypoint(ctx: JobContext):
        await ctx.connect()
        raise ValueError("bad entrypoint")

    threads_before = real_threads()

    async def main():
        job = NotebookJob(entrypoint=entrypoint, display=False)
        with pytest.raises(ValueError, match="bad entrypoint"):
            await job.start()
        return job

    job = run(main())
    assert job.closed and not (real_threads() - threads_before)
    assert {"event": "entrypoint failed", "error": "ValueError: bad entrypoint"} in \
        facts(job, "job")
    assert [d["reason"] for d in facts(job, "shutdown") if d["event"] == "shutdown"] == \
        ["job crashed"]


# --- a real server: tokens and failed connections -------------------------------------------

def test_minted_token_verifies():
    token = mint_token("devkey", "a-secret-of-at-least-32-characters!", identity="agent-7",
                       room="demo")
    claims = api.TokenVerifier("devkey", "a-secret-of-at-least-32-characters!").verify(token)
    assert claims.identity == "agent-7" and claims.kind == "agent"
    assert claims.video.room_join is True and claims.video.room == "demo"
    with pytest.raises(Exception):
        api.TokenVerifier("devkey", "another-secret-of-at-least-32-chars").verify(token)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _failed_start(url):
    env_before = {k: v for k, v in os.environ.items() if k.startswith("LIVEKIT_")}
    threads_before = real_threads()

    async def main():
        job = NotebookJob(agent=NoteAgent(), url=url, api_key="devkey",
                          api_secret="a-secret-of-at-least-32-characters!", display=False)
        began = time.monotonic()
        with pytest.raises(ConnectionError) as failure:
            await job.start()
        return job, failure.value, time.monotonic() - began

    job, error, seconds = run(main())
    assert url in str(error)
    assert job.closed
    assert {k: v for k, v in os.environ.items() if k.startswith("LIVEKIT_")} == env_before
    assert not (real_threads() - threads_before)
    [failed] = [d for d in facts(job, "connection") if d["state"] == "failed"]
    assert failed["url"] == url
    return error, seconds


def test_a_refused_connection_fails_fast_naming_the_url():
    error, seconds = _failed_start(f"ws://127.0.0.1:{_free_port()}")
    assert seconds < 10
    assert "refused" in str(error).lower()


def test_a_silent_server_fails_within_the_bound():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # accepts TCP, never answers the WebSocket handshake
        error, seconds = _failed_start(f"ws://127.0.0.1:{listener.getsockname()[1]}")
    assert seconds < 10
    assert "no answer within" in str(error)


def test_participant_attributes_are_state_rows():
    # Participants exist only on a real server; the handler LiveKit calls is exercised here.
    job = NotebookJob(agent=NoteAgent(), display=False)
    job.observer.session_id = "job-1"
    alice = SimpleNamespace(identity="alice", sid="PA_1", kind=0, attributes={"mood": "happy"})
    job.observer.on_participant_connected(alice)
    job.observer.on_attributes_changed({"mood": "sad"}, alice)
    changes = job.trace.of("state_change")
    assert [(c.source, c.key, c.scope, c.old, c.new, c.persisted) for c in changes] == [
        ("participant:alice", "alice.mood", "attributes", None, "happy", True),
        ("participant:alice", "alice.mood", "attributes", "happy", "sad", True)]
    [connected] = facts(job, "participant")
    assert connected["identity"] == "alice" and connected["event"] == "connected"


# --- configuration, the scripted model, imports ---------------------------------------------

def test_wrong_arguments_say_what_is_wrong():
    with pytest.raises(TypeError, match="exactly one of agent= or entrypoint="):
        NotebookJob()
    with pytest.raises(TypeError, match="async def entrypoint"):
        NotebookJob(entrypoint=lambda ctx: None)
    with pytest.raises(ValueError, match="needs api_key"):
        NotebookJob(agent=NoteAgent(), url="ws://127.0.0.1:7880")


def _chat(model, *texts):
    async def main():
        chat_ctx = llm.ChatContext()
        for text in texts:
            chat_ctx.add_message(role="user", content=text)
        return await model.chat(chat_ctx=chat_ctx).collect()
    return run(main())


def test_scripted_llm_step_language():
    assert isinstance(ScriptedLLM(), llm.LLM) and ScriptedLLM(model="m1").model == "m1"
    assert _chat(ScriptedLLM(), "first", "echo me").text == "echo me"

    model = ScriptedLLM([lambda chat_ctx: reply(f"{len(chat_ctx.items)} items"),
                         [call("a", x=1), call("b")]])
    assert _chat(model, "hi", "there").text == "2 items"
    calls = _chat(model, "go").tool_calls
    assert [(c.name, c.arguments) for c in calls] == [("a", '{"x": 1}'), ("b", "{}")]
    assert len({c.call_id for c in calls}) == 2

    with pytest.raises(RuntimeError, match="it had 0 steps"):
        _chat(ScriptedLLM([]), "hi")


def test_importing_the_adapter_does_not_import_livekit():
    code = ("import sys, agentnb, agentnb.livekit; "
            "assert not [m for m in sys.modules if m.startswith('livekit')], 'livekit imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_job_never_closed_does_not_keep_python_from_exiting():
    # LiveKit's job thread is not a daemon: left running it would hang the interpreter's exit.
    script = """if True:
        import asyncio
        from livekit.agents import Agent
        from agentnb.livekit import NotebookJob

        async def main():
            job = NotebookJob(agent=Agent(instructions="Echo."), display=False)
            result = await job.ask("still here?")
            print(result.events[-1].item.text_content)
        asyncio.run(main())
    """
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "still here?"
