"""`ScriptedLlm` playing a live (bidirectional) session: ADK's own `Runner.run_live()` with a
`LiveRequestQueue`, offline, no key; and what the observer records of a live run (one
invocation for the whole session, the user's messages ADK appends without a hook, the spoken
words as transcription events)."""
import asyncio

import pytest
from google.adk.agents import LlmAgent
from google.adk.agents.live_request_queue import LiveRequest, LiveRequestQueue
from google.adk.agents.run_config import RunConfig
from google.adk.tools import ToolContext
from google.genai import types

from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply, thought


async def remember(drink: str, tool_context: ToolContext) -> dict:
    """Saves the drink in the session and as an artifact."""
    tool_context.state["drink"] = drink
    version = await tool_context.save_artifact("order.txt", types.Part(text=f"one {drink}"))
    return {"saved": drink, "version": version}


def user(text: str) -> types.Content:
    return types.Content(role="user", parts=[types.Part(text=text)])


async def until(condition, what: str, timeout: float = 20.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class Live:
    """One run_live session of a NotebookRunner's ADK Runner, pumped in a task."""

    def __init__(self, steps, modalities=("AUDIO",), **run_config):
        self.llm = ScriptedLlm(steps)
        agent = LlmAgent(name="barista", model=self.llm, tools=[remember])
        self.runner = NotebookRunner(agent, app_name="cafe", user_id="u1", display=False)
        self.queue = LiveRequestQueue()
        self.events = []
        self.config = RunConfig(response_modalities=list(modalities), **run_config)

    async def __aenter__(self):
        await self.runner.sync()   # the session, as NotebookRunner makes it

        async def pump():
            async for event in self.runner.adk_runner.run_live(
                    user_id="u1", session_id=self.runner.session_id,
                    live_request_queue=self.queue, run_config=self.config):
                self.events.append(event)
        self.task = asyncio.create_task(pump())
        return self

    async def __aexit__(self, *exc):
        self.queue.close()
        await asyncio.wait_for(asyncio.shield(self.task), 10)

    def turns(self) -> int:
        return sum(1 for e in self.events if e.turn_complete)

    async def say(self, text: str, turns: int = 1) -> None:
        """Send a user message and wait for the model's next `turns` turns."""
        expected = self.turns() + turns
        self.queue.send_content(user(text))
        await until(lambda: self.turns() >= expected, f"{turns} turn(s) after {text!r}")


def test_an_audio_session_speaks_its_replies_as_transcriptions_and_runs_tools():
    async def go():
        async with Live([call("remember", drink="tea"), reply("One tea."), reply("Bye!")]) as live:
            await live.say("a tea please", turns=2)    # the call's turn, then the reply's
            await live.say("thanks")
        return live

    live = asyncio.run(go())
    spoken = [(e.output_transcription.text, e.output_transcription.finished, e.partial)
              for e in live.events if e.output_transcription]
    # as Gemini's connection: a partial chunk, then the finished transcription
    assert spoken == [("One tea.", False, True), ("One tea.", True, False),
                      ("Bye!", False, True), ("Bye!", True, False)]
    assert not [e for e in live.events if e.content and any(p.text for p in e.content.parts)]
    assert live.llm.calls == 3
    runner = live.runner
    # the whole session is one invocation of run_live
    [inv] = runner.invocations().itertuples()
    assert inv.status == "ok" and inv.agent == "barista"
    ev = runner.events()
    assert set(ev["invocation_id"]) == {inv.invocation_id}
    said = [(r.author, r.kind, r.text) for r in ev.itertuples() if r.kind != "turn_complete"]
    assert said == [("user", "user", "a tea please"),            # appended by ADK, no hook
                    ("barista", "function_call", ""), ("barista", "function_response", ""),
                    ("barista", "partial", "One tea."), ("barista", "model", "One tea."),
                    ("user", "user", "thanks"),
                    ("barista", "partial", "Bye!"), ("barista", "model", "Bye!")]
    assert list(ev["kind"]).count("turn_complete") == 3
    history = runner.history()
    [(source, key, new)] = [(r.source, r.key, r.new) for r in history.itertuples()]
    assert (source, key, new) == ("tool:remember", "drink", "tea")
    [art] = runner.artifacts().itertuples()
    assert (art.filename, art.version, art.source) == ("order.txt", 0, "tool:remember")
    hooks = [c.hook for c in runner.trace.of("context")]
    assert hooks.count("before_model_callback") == 2      # ADK screens each user message
    assert runner.observer.failures == 0


def test_a_text_session_answers_in_model_parts_with_thoughts_in_order():
    async def go():
        async with Live([[thought("They want tea."), reply("Tea it is.")]],
                        modalities=("TEXT",)) as live:
            await live.say("tea?")
        return live

    live = asyncio.run(go())
    parts = [(p.text, bool(p.thought)) for e in live.events if e.content for p in e.content.parts]
    assert parts == [("They want tea.", True), ("Tea it is.", False)]
    assert not [e for e in live.events if e.output_transcription]
    ev = live.runner.events()
    assert list(ev[ev["kind"] == "model"]["text"]) == ["Tea it is."]   # a thought is not text


def test_no_steps_echo_and_a_callable_step_sees_the_conversation():
    seen = []

    def step(request):
        seen.append([c.parts[0].text for c in request.contents if c.parts and c.parts[0].text])
        return reply("noted")

    async def go():
        async with Live(None) as echo:
            await echo.say("hello there")
        async with Live([step]) as called:
            await called.say("first")
        return echo, called

    echo, _ = asyncio.run(go())
    assert [e.output_transcription.text for e in echo.events
            if e.output_transcription and e.output_transcription.finished] == ["hello there"]
    assert seen == [["first"]]


def test_the_end_of_the_callers_speech_is_a_turn_and_a_state_delta_is_the_users():
    async def go():
        async with Live([reply("I heard you."), reply("Mood noted.")]) as live:
            live.queue.send_realtime(types.Blob(mime_type="audio/pcm;rate=16000", data=b"\0" * 320))
            live.queue.send_activity_end()
            await until(lambda: live.turns() == 1, "the answer to the speech")
            live.queue.send(LiveRequest(content=user("I am happy"), state_delta={"mood": "happy"}))
            await until(lambda: live.turns() == 2, "the answer to the message")
        return live

    live = asyncio.run(go())
    assert live.llm.calls == 2                    # an audio chunk alone is not a turn
    rows = [(r.source, r.key, r.new, r.author) for r in live.runner.history().itertuples()]
    assert rows == [("user", "mood", "happy", "user")]


def test_a_script_that_runs_out_fails_the_live_run_with_its_one_line_reason():
    async def go():
        live = Live([reply("only one")])
        await live.__aenter__()
        await live.say("one")
        live.queue.send_content(user("two"))
        with pytest.raises(RuntimeError) as ran_out:
            await asyncio.wait_for(live.task, 10)
        return live, ran_out.value

    live, error = asyncio.run(go())
    assert str(error).startswith("agentnb: ScriptedLlm ran out of steps: it had 1 step and this "
                                 "is model call 2.")
    [inv] = live.runner.invocations().itertuples()
    assert inv.status == "error" and "ran out of steps" in inv.error


def test_an_audio_session_without_output_transcription_is_refused_in_one_line():
    async def go():
        live = Live([reply("unheard")], output_audio_transcription=None)
        await live.__aenter__()
        with pytest.raises(ValueError) as refused:
            await asyncio.wait_for(live.task, 10)
        return live, refused.value

    live, error = asyncio.run(go())
    assert "\n" not in str(error) and "output_audio_transcription" in str(error)
    assert live.llm.calls == 0
