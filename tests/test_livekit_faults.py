"""Faults on the LiveKit side (issue 7): a tool raises, the model raises, the job is closed
while a tool is still running; and hostile text everywhere LiveKit lets a user or a model put
it. For each fault: nothing is lost (turns and events complete and in order, the userdata
history replays to the actual userdata), the status says what happened, `aclose()` returns
within 5 s, no thread and no `LIVEKIT_*` variable is left behind. Offline: LiveKit's own
console/fake-job path with `ScriptedLLM`."""
from __future__ import annotations

import asyncio
import dataclasses
import gc
import html.parser
import logging
import os
import re
import threading
import time
import weakref
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from agentnb.livekit import NotebookJob, call, reply
from jupyterlab_browser import hostile_strings
from livekit.agents import Agent, AgentSession, JobContext, RunContext, RunResult, function_tool

import agentnb
from agentnb.jupyter.views import LiveView
from agentnb.livekit import ScriptedLLM  # built on first use: it subclasses LiveKit's llm.LLM

CLOSE_BOUND_S = 5.0


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def real_threads() -> set:
    # LiveKit's native library calls back on foreign threads: Python keeps them as dummies.
    return {t for t in threading.enumerate() if not isinstance(t, threading._DummyThread)}


def livekit_env() -> dict:
    return {k: v for k, v in os.environ.items() if k.startswith("LIVEKIT_")}


@dataclass
class Notes:
    notes: list = field(default_factory=list)
    last: str | None = None


class NoteAgent(Agent):
    def __init__(self):
        super().__init__(instructions="Take notes.")

    @function_tool
    async def remember(self, context: RunContext[Notes], note: str) -> str:
        """Remember a note."""
        context.userdata.notes.append(note)
        context.userdata.last = note
        return "saved"

    @function_tool
    async def half_remember(self, context: RunContext[Notes], note: str) -> str:
        """Writes userdata, then fails."""
        context.userdata.notes.append(note)
        raise ValueError(f"could not finish {note}")


# --- what every fault must leave intact -----------------------------------------------------

def replayed_userdata(job) -> dict:
    """The userdata that the history's rows rebuild, applied in `seq` order."""
    rows = job.history(reveal=True)
    assert list(rows["seq"]) == sorted(rows["seq"]), "history rows out of seq order"
    state = {}
    for row in rows[rows["scope"] == "userdata"].itertuples():
        state[row.key] = row.new
    return state


def assert_trace_complete(job, asked: list[str]):
    """Every turn has its start, its events and its end, in that order, and nothing is missing."""
    records = job.trace.snapshot()
    starts = [i for i, r in enumerate(records) if r.kind == "invocation_start"]
    ends = {r.invocation_id: i for i, r in enumerate(records) if r.kind == "invocation_end"}
    assert [records[i].user_text for i in starts] == asked
    for i in starts:
        inv = records[i].invocation_id
        assert inv in ends, f"turn {inv} has no end record"
        mine = [j for j, r in enumerate(records)
                if getattr(r, "invocation_id", None) == inv and r.kind == "event"]
        assert all(i < j < ends[inv] for j in mine), f"turn {inv}: events outside start..end"
    events = job.events()
    assert list(events["seq"]) == list(range(len(events)))
    assert list(events[events["kind"] == "user"]["text"]) == asked
    # every tool call that LiveKit finished has its response, with the same call id
    calls = [c["id"] for cs in events["function_calls"] for c in cs]
    answered = [r["id"] for rs in events["function_responses"] for r in rs]
    assert sorted(calls) == sorted(answered)
    invocations = job.invocations()
    assert list(invocations["user_text"]) == asked


def facts(job, topic):
    return [r.data for r in job.trace.of("fact") if r.topic == topic]


def closed_cleanly(job, threads_before, env_before, close_seconds):
    assert close_seconds < CLOSE_BOUND_S
    # On a loaded machine LiveKit's job thread may take a moment longer than aclose() waits
    # for it (agentnb then records a "stuck" fact); it must be gone within the same 5 s.
    for thread in real_threads() - threads_before:
        thread.join(max(0.0, CLOSE_BOUND_S - close_seconds))
    assert not (real_threads() - threads_before)
    assert livekit_env() == env_before
    assert job.observer.failures == 0


# --- a tool raises --------------------------------------------------------------------------

def test_a_tool_that_writes_userdata_then_raises():
    model = ScriptedLLM([call("remember", note="milk"), reply("Saved."),
                         call("half_remember", note="eggs"), reply("Sorry, that failed."),
                         call("remember", note="tea"), reply("Saved tea.")])
    threads_before, env_before = real_threads(), livekit_env()
    asked = ["remember milk", "remember eggs", "remember tea"]

    async def main():
        job = NotebookJob(agent=NoteAgent(), llm=model, userdata=Notes(), display=False)
        results = [await job.ask(text) for text in asked]
        began = time.monotonic()
        await job.aclose()
        return job, results, time.monotonic() - began

    job, results, close_seconds = run(main())
    # LiveKit hands the tool's failure to the model, which answers; the turn still ends.
    assert results[1].events[1].item.is_error
    assert results[1].events[-1].item.text_content == "Sorry, that failed."
    assert_trace_complete(job, asked)
    invocations = job.invocations()
    assert list(invocations["status"]) == ["ok", "error", "ok"]
    assert invocations["error"].iloc[1] == "half_remember: could not finish eggs"
    # the write made before the raise is not lost, and is the failing tool's
    rows = job.history()
    eggs = rows[rows["invocation_id"] == invocations["invocation_id"].iloc[1]]
    assert [(r.source, r.key, r.new) for r in eggs.itertuples()] == [
        ("tool:half_remember", "notes", ["milk", "eggs"])]
    assert replayed_userdata(job) == dataclasses.asdict(job.userdata) == {
        "notes": ["milk", "eggs", "tea"], "last": "tea"}
    closed_cleanly(job, threads_before, env_before, close_seconds)


# --- the model raises -----------------------------------------------------------------------

def test_the_model_raising_after_a_tool_wrote_userdata():
    def explode(chat_ctx):
        raise RuntimeError("the model exploded")

    model = ScriptedLLM([call("remember", note="milk"), explode, reply("Back again.")])
    threads_before, env_before = real_threads(), livekit_env()
    asked = ["remember milk", "are you there?"]

    async def main():
        job = NotebookJob(agent=NoteAgent(), llm=model, userdata=Notes(), display=False)
        with pytest.raises(RuntimeError, match="the model exploded"):
            await job.ask(asked[0])
        after = await job.ask(asked[1])
        began = time.monotonic()
        await job.aclose()
        return job, after, time.monotonic() - began

    job, after, close_seconds = run(main())
    assert after.events[-1].item.text_content == "Back again."
    assert_trace_complete(job, asked)
    invocations = job.invocations()
    assert list(invocations["status"]) == ["error", "ok"]
    assert invocations["error"].iloc[0] == "RuntimeError: the model exploded"
    errors = job.events()[lambda e: e["kind"] == "error"]
    assert list(errors["invocation_id"]) == [invocations["invocation_id"].iloc[0]]
    # the tool ran before the model failed: its write is recorded in the failed turn
    written = job.history()[lambda h: h["source"] != "initial"]
    assert [(r.source, r.key, r.new) for r in written.itertuples()] == [
        ("tool:remember", "notes", ["milk"]), ("tool:remember", "last", "milk")]
    assert set(written["invocation_id"]) == {invocations["invocation_id"].iloc[0]}
    assert replayed_userdata(job) == dataclasses.asdict(job.userdata)
    closed_cleanly(job, threads_before, env_before, close_seconds)


# --- the job is closed while a tool awaits --------------------------------------------------

@pytest.fixture(scope="module")
def closed_mid_turn():
    """aclose() while a tool that has written userdata is still awaiting. What the test sees is
    taken at the moment aclose() returns; then the tool is let go, so that nothing this module
    started outlives it even when agentnb leaves LiveKit's job running."""
    entered, release = threading.Event(), threading.Event()

    class SlowAgent(NoteAgent):
        @function_tool
        async def slow(self, context: RunContext[Notes], note: str) -> str:
            """Writes userdata, then waits."""
            context.userdata.notes.append(note)
            entered.set()
            while not release.is_set():
                await asyncio.sleep(0.02)
            context.userdata.last = "written after the job was closed"
            return "done"

    threads_before, env_before = real_threads(), livekit_env()

    async def main():
        job = NotebookJob(agent=SlowAgent(),
                          llm=ScriptedLLM([call("remember", note="milk"), reply("Saved."),
                                           call("slow", note="half"), reply("Done.")]),
                          userdata=Notes(), display=False)
        await job.ask("remember milk")
        turn = asyncio.create_task(job.ask("take your time"))
        while not entered.is_set():
            await asyncio.sleep(0.01)
        began = time.monotonic()
        await job.aclose()
        at_close = SimpleNamespace(
            seconds=time.monotonic() - began, threads=real_threads(), env=livekit_env(),
            records=job.trace.snapshot(), userdata=dataclasses.asdict(job.userdata),
            replayed=replayed_userdata(job), turn_done=turn.done())
        release.set()
        try:
            outcome = await asyncio.wait_for(turn, 10)
        except BaseException as exc:  # noqa: BLE001 - whatever the turn ended with
            outcome = exc
        return job, at_close, outcome

    try:
        job, at_close, outcome = run(main())
    finally:
        release.set()
        for thread in real_threads() - threads_before:
            thread.join(10)
    return SimpleNamespace(job=job, at_close=at_close, outcome=outcome,
                           threads_before=threads_before, env_before=env_before)


def test_closing_mid_turn_returns_within_bound_and_restores_the_environment(closed_mid_turn):
    at_close = closed_mid_turn.at_close
    assert at_close.seconds < CLOSE_BOUND_S
    assert at_close.env == closed_mid_turn.env_before
    # the tool's call was recorded before the close
    calls = [c["name"] for cs in closed_mid_turn.job.events()["function_calls"] for c in cs]
    assert calls == ["remember", "slow"]


def test_closing_mid_turn_leaves_no_thread(closed_mid_turn):
    at_close = closed_mid_turn.at_close
    assert not (at_close.threads - closed_mid_turn.threads_before)   # none of its own outlives it
    assert not [r for r in at_close.records
                if r.kind == "fact" and r.topic == "shutdown" and r.data["event"] == "stuck"]


def test_closing_mid_turn_is_recorded_as_an_interrupted_turn(closed_mid_turn):
    job = closed_mid_turn.job
    statuses = job.invocations()[["status", "error"]]
    assert statuses["status"].tolist() == ["ok", "interrupted"]
    assert "clos" in statuses["error"].iloc[1]
    # LiveKit ended the cut-off run itself: ask() returned its RunResult
    assert isinstance(closed_mid_turn.outcome, RunResult)
    # what LiveKit reported about the cut-off turn (the cancelled tool's output, the tool's
    # write) is in the turn, between its start and its end
    assert_trace_complete(job, ["remember milk", "take your time"])
    cut_off = job.invocations()["invocation_id"].iloc[1]
    rows = job.history()
    assert [(r.source, r.key, r.new) for r in rows[rows["invocation_id"] == cut_off].itertuples()] \
        == [("tool:slow", "notes", ["milk", "half"])]


def test_closing_while_a_tool_ignores_cancellation_is_still_bounded():
    """A tool that swallows its cancellation keeps LiveKit's job thread busy: aclose() still
    returns within 5 s, says the job was stuck, ends the turn, and records nothing after."""
    entered, release = threading.Event(), threading.Event()

    class StubbornAgent(NoteAgent):
        @function_tool
        async def stubborn(self, context: RunContext[Notes], note: str) -> str:
            """Ignores being cancelled."""
            context.userdata.notes.append(note)
            entered.set()
            while not release.is_set():
                try:
                    await asyncio.sleep(0.02)
                except asyncio.CancelledError:
                    pass
            context.userdata.last = "written after the job was closed"
            return "done"

    threads_before, env_before = real_threads(), livekit_env()

    async def main():
        job = NotebookJob(agent=StubbornAgent(),
                          llm=ScriptedLLM([call("stubborn", note="half"), reply("Done.")]),
                          userdata=Notes(), display=False)
        turn = asyncio.create_task(job.ask("take your time"))
        while not entered.is_set():
            await asyncio.sleep(0.01)
        began = time.monotonic()
        await job.aclose()
        seconds, records = time.monotonic() - began, job.trace.snapshot()
        release.set()
        with pytest.raises(RuntimeError, match="the job closed during the turn"):
            await asyncio.wait_for(turn, 10)
        return job, seconds, records

    try:
        job, seconds, records = run(main())
    finally:
        release.set()
        for thread in real_threads() - threads_before:
            thread.join(10)
    assert seconds < CLOSE_BOUND_S
    events = [r.data["event"] for r in records if r.kind == "fact" and r.topic == "shutdown"]
    assert events[-2:] == ["stuck", "closed"]
    assert [(r.status, r.error) for r in records if r.kind == "invocation_end"] == [
        ("interrupted", "job closed during the turn")]
    # the tool finished after the close: nothing it did reached the closed job's trace
    assert job.userdata.last == "written after the job was closed"
    assert job.trace.snapshot() == records
    assert not (real_threads() - threads_before) and livekit_env() == env_before


def test_closing_mid_turn_loses_nothing_and_nothing_comes_after(closed_mid_turn):
    at_close, job = closed_mid_turn.at_close, closed_mid_turn.job
    kinds = [r.kind for r in at_close.records]
    assert kinds.count("invocation_start") == kinds.count("invocation_end") == 2
    assert at_close.replayed == at_close.userdata == {"notes": ["milk", "half"], "last": "milk"}
    # the trace does not grow after the job said it was closed
    assert job.trace.snapshot() == at_close.records


# --- hostile text in everything a view renders ----------------------------------------------

# What agentnb's renderer writes itself (see _render.py); anything else came from data.
AGENTNB_TAGS = {"div", "span", "b", "i", "time", "details", "summary", "style", "q", "pre", "img", "svg", "text",
                "line", "path", "code", "small"}


class _Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.bad_attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name.lower().startswith("on") or (value or "").strip().lower().startswith(
                    "javascript:"):
                self.bad_attrs.append((tag, name, value))


def assert_inert(markup: str, *, must_show: tuple[str, ...]):
    lowered = markup.lower()
    assert "<script" not in lowered
    assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", lowered), "an on...= attribute in a tag"
    parser = _Tags()
    parser.feed(markup)
    assert set(parser.tags) <= AGENTNB_TAGS, set(parser.tags) - AGENTNB_TAGS
    assert parser.bad_attrs == []
    for text in must_show:  # the hostile text was rendered, escaped, not dropped
        assert text in markup, text


HOSTILE = hostile_strings("lk")


@dataclass
class Profile:
    bio: str = f"userdata {HOSTILE[3]}"
    notes: list = field(default_factory=list)
    last: str | None = None


class HostileAgent(NoteAgent):
    @function_tool
    async def shout(self, context: RunContext[Profile], text: str) -> str:
        """Fails with the text it got."""
        raise ValueError(f"refused {text}")


def test_hostile_text_is_escaped_in_every_livekit_view(tmp_path):
    payloads = HOSTILE
    evil = " ".join(payloads)
    tool_payload, model_payload, log_payload, attr_payload = (
        f"tool {payloads[0]}", f"model {payloads[1]}", f"log {payloads[4]}",
        f"attr {payloads[2]}")
    logger = logging.getLogger("hostile-agent")

    async def entrypoint(ctx: JobContext):
        await ctx.connect()
        ctx.log_context_fields = {"job_id": ctx.job.id, "who": evil}
        logger.info("%s", log_payload)
        session = AgentSession(
            llm=ScriptedLLM([call("remember", note=tool_payload), reply(model_payload),
                             call("shout", text=payloads[5]), reply(payloads[7])]),
            vad=None, turn_handling={"turn_detection": None}, userdata=Profile())
        await session.start(HostileAgent())

    async def main():
        job = NotebookJob(entrypoint=entrypoint, room=f"room {payloads[1]}", display=False)
        await job.start()
        # Participants and their attributes exist only on a real server: the handlers LiveKit
        # calls there are fed a participant whose every field is hostile.
        mallory = SimpleNamespace(identity=f"mallory{payloads[1]}", sid="PA_evil", kind=0,
                                  attributes={payloads[6]: attr_payload})
        job.observer.on_participant_connected(mallory)
        job.observer.on_attributes_changed({"mood": evil}, mallory)
        await job.ask(f"user {payloads[2]}")
        await job.ask(payloads[6])
        await job.aclose()
        return job

    job = run(main())
    assert job.observer.failures == 0
    must_show = ("&lt;script&gt;", "onerror=", "&lt;img src=x")
    views = {"dashboard": job.view().html(), "reveal": job.view(reveal=True).html()}
    for inv in job.invocations()["invocation_id"]:
        views[f"card {inv}"] = LiveView(job.trace, inv).html()
    path = job.save(tmp_path / "hostile.jsonl")
    views["loaded"] = agentnb.load(path).view().html()
    for name, markup in views.items():
        assert_inert(markup, must_show=must_show)
    dashboard = views["dashboard"]
    # each hostile source reached the view (escaped)
    for source in ("tool &lt;script&gt;", "model &lt;img", "userdata &lt;svg&gt;&lt;animate",
                   "log &lt;details", 'attr \\"&gt;&lt;img', "refused &lt;iframe",
                   "mallory&lt;img", "room &lt;img"):
        assert source in dashboard, source
    assert "&lt;script&gt;alert(&#x27;agentnb-xss&#x27;)&lt;/script&gt;" in dashboard
    assert "javascript:" in dashboard and 'href="javascript:' not in dashboard


# --- a closed job -------------------------------------------------------------------------

def test_a_closed_console_job_is_collected():
    """A notebook makes job after job. LiveKit's console path gives every job in the process
    the same mock room, which keeps each call made to it: a closed job, its session and its
    trace must not stay alive through it."""
    async def main():
        job = NotebookJob(agent=NoteAgent(), llm=ScriptedLLM([call("remember", note="milk"),
                                                              reply("Saved.")]),
                          userdata=Notes(), display=False)
        await job.ask("remember milk")
        session = weakref.ref(job.observer.session)
        await job.aclose()
        return weakref.ref(job), weakref.ref(job.trace), session
    left = run(main())
    gc.collect()
    assert [ref() for ref in left] == [None, None, None]


# --- what the LiveKit views say -------------------------------------------------------------

@pytest.fixture(scope="module")
def one_turn_job():
    async def main():
        job = NotebookJob(agent=NoteAgent(), llm=ScriptedLLM([call("remember", note="milk"),
                                                              reply("Saved.")]),
                          userdata=Notes(), room="shop", display=False)
        await job.ask("remember milk")
        await job.aclose()
        return job
    return run(main())


def test_usage_token_counts_are_not_masked_as_secrets(one_turn_job):
    usage = facts(one_turn_job, "usage")[0]
    assert usage["model_usage"][0]["input_tokens"] == 0           # a count, not a credential
    shown = "input 0 tokens, output 0 tokens"     # usage is shown as numbers
    assert shown in one_turn_job.view(reveal=True).html()
    assert shown in one_turn_job.view().html()


def test_the_job_view_does_not_call_the_agent_the_user(one_turn_job):
    markup = one_turn_job.view().html()
    assert f"user {one_turn_job.agent_identity}" not in markup
