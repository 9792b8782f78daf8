"""The reliances on LiveKit beyond its documented API that issue 12 added to
`agentnb/livekit/internals.py`, each pinned here on its own (the corpus in
test_livekit_corpus.py shows them at work): class-level wrappers on `AgentSession.__init__`,
`AgentSession.start` and `Agent.__init__` that act only inside a job, `RoomOptions.
_ensure_options` for text output, and `_AgentActivityContextVar` for who is speaking."""
from __future__ import annotations

import asyncio
import contextvars
import threading
from types import SimpleNamespace

import pytest
from livekit.agents import Agent, AgentSession, AgentTask, inference, llm, room_io
from livekit.agents.types import NOT_GIVEN

from agentnb.livekit import internals
from agentnb.livekit import ScriptedLLM  # built on first use: it subclasses LiveKit's llm.LLM


class HostedLLM(llm.LLM):
    """A model an example would build (`openai.LLM(...)`): counts its prewarms."""

    def __init__(self):
        super().__init__()
        self.prewarms = 0

    async def _prewarm_impl(self):
        self.prewarms += 1

    def chat(self, **kwargs):
        raise AssertionError("a hosted model was called")


class Voice(SimpleNamespace):
    """Stands in for a TTS or STT object: only its identity matters here."""


def in_job(hooks, make):
    """`make()` inside a job's context (what its entrypoint and its tasks see), in a loop."""
    async def main():
        internals.current_hooks.set(hooks)
        return make()
    return asyncio.run(main())


def test_the_wrappers_are_installed_once_and_act_only_inside_a_job():
    internals.install_job_hooks()
    wrapped = (AgentSession.__init__, AgentSession.start, Agent.__init__)
    internals.install_job_hooks()
    assert (AgentSession.__init__, AgentSession.start, Agent.__init__) == wrapped
    assert all(hasattr(f, "__wrapped__") for f in wrapped)   # LiveKit's own, called through

    hosted = HostedLLM()

    async def outside():
        return AgentSession(llm=hosted), Agent(instructions="x", llm=hosted)
    session, agent = asyncio.run(outside())
    assert session.llm is hosted and agent.llm is hosted      # no job: LiveKit's own behaviour


def test_inside_a_job_the_models_are_swapped_before_livekit_prewarms_them():
    internals.install_job_hooks()
    script, hosted, notes = ScriptedLLM([]), HostedLLM(), []
    hooks = internals.JobHooks(llm=script, userdata={"n": 1}, replace_agent_models=True,
                               console=True, note=lambda topic, data: notes.append(data))

    class Task(AgentTask[None]):
        def __init__(self):
            super().__init__(instructions="t", llm=hosted)

    session, agent, task = in_job(hooks, lambda: (
        AgentSession(llm=hosted, stt=Voice(), tts=Voice()),
        Agent(instructions="x", llm=hosted, tts=Voice()), Task()))
    assert session.llm is script and agent.llm is script and task.llm is script
    assert session.userdata == {"n": 1}
    assert session.stt is None and session.tts is None     # no audio on the console room
    assert not internals.is_given(agent.tts)
    assert hosted.prewarms == 0
    assert {"event": "llm replaced", "where": "AgentSession", "replaced": "HostedLLM(unknown)"} in notes
    # an agent that names no model keeps none: the session's is used, as LiveKit does
    plain = in_job(hooks, lambda: Agent(instructions="x"))
    assert not internals.is_given(plain.llm)


def test_start_options_give_text_output_where_there_is_no_voice():
    room = object()
    session = SimpleNamespace(tts=None, stt=None, llm=None)
    console = internals.JobHooks(console=True)
    options = internals.start_kwargs(console, session, Agent(instructions="x"),
                                     {"room": room})["room_options"]
    assert isinstance(options, room_io.RoomOptions)
    assert (options.audio_output, options.audio_input) == (False, False)
    # on the console room there is no audio, whatever was asked; the entrypoint's options
    # object is not changed
    mine = room_io.RoomOptions(audio_output=True, text_output=False)
    used = internals.start_kwargs(console, session, None, {"room": room, "room_options": mine})
    assert used["room_options"].audio_output is False and used["room_options"].text_output is False
    assert mine.audio_output is True and mine.audio_input is NOT_GIVEN
    # no room: nothing to choose; a real room with a voice and ears: LiveKit's defaults
    assert internals.start_kwargs(console, session, None, {}) == {}
    online = internals.JobHooks(console=False)
    asked = room_io.RoomOptions(audio_output=True)
    assert internals.start_kwargs(online, session, None, {"room": room, "room_options": asked})[
        "room_options"].audio_output is True          # in a real room the entrypoint's choice
    voiced = SimpleNamespace(tts=Voice(), stt=Voice(), llm=None)
    kept = internals.start_kwargs(online, voiced, Agent(instructions="x"), {"room": room})
    assert (kept["room_options"].audio_output, kept["room_options"].audio_input) == (
        NOT_GIVEN, NOT_GIVEN)
    mute = internals.start_kwargs(online, SimpleNamespace(tts=None, stt=Voice(), llm=None),
                                  Agent(instructions="x"), {"room": room})["room_options"]
    assert mute.audio_output is False and mute.audio_input is NOT_GIVEN


def test_activity_agent_is_the_agent_whose_activity_runs_the_caller():
    from livekit.agents.voice.agent_activity import _AgentActivityContextVar
    speaker = object()

    def inside():
        _AgentActivityContextVar.set(SimpleNamespace(agent=speaker))
        return internals.activity_agent()
    assert contextvars.Context().run(inside) is speaker
    assert contextvars.Context().run(internals.activity_agent) is None


def test_settle_is_bounded_and_never_raises():
    class Busy:
        async def wait_for_idle(self):
            await asyncio.Event().wait()

    class Closing:
        async def wait_for_idle(self):
            raise RuntimeError("AgentSession has no active AgentActivity")

    async def main():
        loop = asyncio.get_running_loop()
        began = loop.time()
        await internals.settle(Busy(), 0.1)
        await internals.settle(Closing(), 5)
        return loop.time() - began
    assert asyncio.run(main()) < 2


def test_inference_models_an_example_builds_need_no_credentials_where_they_are_never_used(
        monkeypatch):
    for name in ("LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "LIVEKIT_INFERENCE_API_KEY",
                 "LIVEKIT_INFERENCE_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    internals.install_job_hooks()
    with pytest.raises(ValueError, match="api_key is required"):   # LiveKit's own rule
        inference.LLM("openai/gpt-4.1-mini")
    notes = []
    console = internals.JobHooks(llm=ScriptedLLM([]), console=True,
                                 note=lambda topic, data: notes.append(data))
    built = in_job(console, lambda: (inference.LLM("openai/gpt-4.1-mini"),
                                     inference.STT("deepgram/nova-3"), inference.TTS("cartesia/sonic-3")))
    assert [type(m).__name__ for m in built] == ["LLM", "STT", "TTS"]
    assert [n["where"] for n in notes] == ["inference.LLM", "inference.STT", "inference.TTS"]
    # no llm= to replace it, in a real room: the model is LiveKit's to refuse
    with pytest.raises(ValueError, match="api_key is required"):
        in_job(internals.JobHooks(console=False), lambda: inference.LLM("openai/gpt-4.1-mini"))


def test_a_real_rooms_chat_is_recorded_on_its_way_to_livekits_text_input():
    """`TextInputOptions.text_input_cb` (LiveKit's default, or the entrypoint's own) is
    wrapped: the text is recorded, and the tasks the callback starts know who sent it."""
    seen, answered = [], []

    async def own_callback(session, ev):
        answered.append((ev.text, internals.input_sender.get()))

    hooks = internals.JobHooks(on_text=lambda *text: seen.append(text))
    options = room_io.RoomOptions(text_input=room_io.TextInputOptions(text_input_cb=own_callback))
    used = internals.start_kwargs(hooks, SimpleNamespace(tts=None, stt=None, llm=None), None,
                                  {"room": object(), "room_options": options})["room_options"]
    event = room_io.TextInputEvent(text="hi", info=SimpleNamespace(topic="lk.chat"),
                                   participant=SimpleNamespace(identity="ana"))
    asyncio.run(used.text_input.text_input_cb(None, event))
    assert seen == [("ana", "lk.chat", "hi")] and answered == [("hi", "ana")]
    assert internals.input_sender.get() is None
    assert options.text_input.text_input_cb is own_callback      # the entrypoint's, unchanged
    # on the console room nobody sends chat: the callback is LiveKit's own
    console = internals.start_kwargs(internals.JobHooks(console=True),
                                     SimpleNamespace(tts=None, stt=None, llm=None), None,
                                     {"room": object()})["room_options"]
    assert console.text_input is NOT_GIVEN


# --- the notebook's thread and the job's loop --------------------------------------------------

def test_a_turns_result_reaches_the_notebook_before_the_job_loop_runs_anything_else():
    """The notebook's thread waits on the job's loop for each turn: it is handed the result as
    soon as the turn returns, not a loop turn later, after whatever the job's loop had ready
    (a done callback of the task would run after it)."""
    from agentnb.livekit import runtime
    worker = runtime.LoopThread("agentnb-test-loop")
    seen: list[bool] = []
    holder: dict = {}

    async def turn():
        # ready on the loop before the turn returns: runs at the loop's next turn
        asyncio.get_running_loop().call_soon(lambda: seen.append(holder["done"].done()))
        return "the result"

    try:
        holder["done"] = runtime.run_in_loop(worker.loop, contextvars.copy_context(), turn)
        assert holder["done"].result(timeout=10) == "the result"
        assert worker.submit(asyncio.sleep(0)).result(timeout=10) is None   # the loop ran on
        assert seen == [True]
    finally:
        worker.stop(5)


def test_a_turn_that_fails_or_is_cancelled_still_reaches_the_notebook():
    from agentnb.livekit import runtime
    worker = runtime.LoopThread("agentnb-test-loop")
    started, stopped = threading.Event(), threading.Event()

    async def fails():
        raise ValueError("the turn failed")

    async def waits():
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            stopped.set()
            raise

    try:
        failed = runtime.run_in_loop(worker.loop, contextvars.copy_context(), fails)
        with pytest.raises(ValueError, match="the turn failed"):
            failed.result(timeout=10)
        waiting = runtime.run_in_loop(worker.loop, contextvars.copy_context(), waits)
        assert started.wait(10)
        waiting.cancel()                     # the notebook gives up: the turn's task stops
        assert stopped.wait(10) and waiting.cancelled()
    finally:
        worker.stop(5)
