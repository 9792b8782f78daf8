"""Issue 15: an ADK agent answering in a LiveKit room on ADK's own bridge
(`google.adk.integrations.livekit.LiveKitRunner`), observed on both sides by `AdkRoomAgent`, on
a real LiveKit server (the `livekit_server` fixture: livekit-server v1.13.5 on 127.0.0.1) with
a real text participant (an `rtc.Room` with a token from livekit-api). The model is a
`ScriptedLlm` playing ADK's live session (`BaseLlm.connect`), so `run_live` runs offline.

What cannot run here, and is not tested: speech and video through a real live model (Google's
Live API is not reachable; the scripted model speaks in transcriptions and makes no audio, so
the bridge's output audio track is published and stays silent), and telephony (SIP calls, DTMF,
transfers need a SIP trunk). Every wait is bounded and waits for a condition."""
from __future__ import annotations

import asyncio
import gc
import threading
import time

import pytest
from google.adk.agents import LlmAgent
from google.adk.integrations.livekit import current_call
from google.adk.tools import ToolContext
from google.genai import types
from livekit import rtc

from agentnb.adk import ScriptedLlm, call, reply
from agentnb.adk_livekit import AdkRoomAgent

pytestmark = [pytest.mark.filterwarnings("ignore:The HMAC key is"),   # devkey's secret is short
              pytest.mark.filterwarnings("ignore:.*feature LIVEKIT is enabled")]
CLOSE_BOUND_S = 5.0
AGENT = "adk-agent"


def run(coro, timeout: float = 150):
    try:
        return asyncio.run(asyncio.wait_for(coro, timeout))
    finally:
        gc.collect()   # rooms sit in reference cycles; collect them while LiveKit's FFI lives


def real_threads() -> set:
    return {t for t in threading.enumerate() if not isinstance(t, threading._DummyThread)}


async def wait_for(condition, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} ({timeout:g} s)")
        await asyncio.sleep(0.02)
    return value


async def set_pref(pref: str, tool_context: ToolContext) -> dict:
    """Save the guest's preference, note it as an artifact, and say which room it came from."""
    tool_context.state["pref"] = pref
    await tool_context.save_artifact("pref.txt", types.Part(text=pref))
    return {"saved": pref, "room": current_call(tool_context).room.name}


class Guest:
    """A real participant: chats on lk.chat, and keeps the final captions it gets on
    lk.transcription and who is in the room."""

    def __init__(self, server, room: str, identity: str = "ana"):
        self.server, self.room_name, self.identity = server, room, identity
        self.room = rtc.Room()
        self.heard: list[tuple[str, str]] = []
        self.left: list[str] = []

        def on_caption(reader, sender):
            async def read():
                text = await reader.read_all()
                if reader.info.attributes.get("lk.transcription_final") == "true":
                    self.heard.append((sender, text))
            asyncio.ensure_future(read())
        self.room.register_text_stream_handler("lk.transcription", on_caption)
        self.room.on("participant_disconnected", lambda p: self.left.append(p.identity))

    async def join(self) -> Guest:
        await self.room.connect(self.server.url, self.server.token(self.identity, self.room_name))
        return self

    def agent_state(self) -> str | None:
        agent = self.room.remote_participants.get(AGENT)
        return agent.attributes.get("lk.agent.state") if agent else None

    async def say(self, text: str, then_hear: str) -> None:
        # The bridge reads chat once it listens (it says so in its lk.agent.state attribute).
        await wait_for(lambda: self.agent_state() == "listening", "the agent to listen")
        await self.room.local_participant.send_text(text, topic="lk.chat")
        await wait_for(lambda: (AGENT, then_hear) in self.heard, f"{then_hear!r} to be heard")


def room_agent(server, room: str, steps, **kwargs) -> AdkRoomAgent:
    agent = LlmAgent(name="concierge", model=ScriptedLlm(steps), tools=[set_pref])
    return AdkRoomAgent(agent, room=room, url=server.url, api_key=server.api_key,
                        api_secret=server.api_secret, identity=AGENT, user_id="ana", **kwargs)


def position(rows: list, wanted: tuple, after: int = -1) -> int:
    """The index of the first row equal to `wanted` after index `after`."""
    return next(i for i, row in enumerate(rows) if i > after and row == wanted)


def test_a_guest_chats_with_an_adk_agent_and_both_sides_are_in_one_trace(livekit_server):
    threads_before = real_threads()
    seen: dict = {}

    async def go():
        agent = room_agent(livekit_server, "desk-chat",
                           [call("set_pref", pref="tea"), reply("Saved: tea."), reply("Bye, Ana!")],
                           state={"user:visits": 1})
        await agent.start()
        guest = await Guest(livekit_server, "desk-chat").join()
        try:
            await guest.say("I like tea", then_hear="Saved: tea.")
            await guest.say("thanks", then_hear="Bye, Ana!")
            seen["view"] = agent.view().html()
            seen["card"] = agent.invocation.view().html()   # the live invocation's own card
            await guest.room.disconnect()          # the guest leaves: the call ends
            await agent.wait_ended(timeout=30)
            seen["ended"] = agent.ended
        finally:
            began = time.monotonic()
            await asyncio.wait_for(agent.aclose(), CLOSE_BOUND_S)
            seen["close_s"] = time.monotonic() - began
            await guest.room.disconnect()
        return agent, guest

    agent, guest = run(go())
    assert seen["ended"] and agent.error is None
    assert guest.heard == [(AGENT, "Saved: tea."), (AGENT, "Bye, Ana!")]
    # the ADK side: one live invocation holds the call; the tool's state write and artifact
    [inv] = agent.invocations().itertuples()
    assert inv.agent == "concierge"
    # LiveKitRunner ends a call by cancelling run_live: ADK runs no after_run hook
    assert inv.status == "interrupted"
    history = agent.history()
    adk_rows = [(r.source, r.key, r.old, r.new, r.scope) for r in history.itertuples()
                if r.scope != "attributes"]
    assert adk_rows == [("initial", "user:visits", None, 1, "user"),
                        ("tool:set_pref", "pref", None, "tea", "session")]
    [pref_row] = history[history["key"] == "pref"].itertuples()
    assert pref_row.invocation_id == inv.invocation_id
    [art] = agent.artifacts().itertuples()
    assert (art.filename, art.source) == ("pref.txt", "tool:set_pref")
    # the room side: the agent's lk.agent.state as attribute rows, as LiveKit's UIs read it
    states = [r.new for r in history.itertuples() if r.key == f"{AGENT}.lk.agent.state"]
    assert states[:2] == ["initializing", "listening"] and {"thinking", "speaking"} <= set(states)
    assert set(history[history["scope"] == "attributes"]["source"]) == {f"participant:{AGENT}"}
    # one timeline: the chat message -> ADK's turn -> the tool and its write -> the reply
    # published to the room, in the order they happened
    ev = agent.events()
    rows = [(r.author, r.kind, r.text) for r in ev.itertuples()]
    chain = [("ana", "room_chat", "I like tea"), ("user", "user", "I like tea"),
             ("concierge", "function_call", ""), ("concierge", "function_response", ""),
             ("concierge", "model", "Saved: tea."), (AGENT, "room_transcript", "Saved: tea."),
             ("ana", "room_chat", "thanks"), ("user", "user", "thanks"),
             ("concierge", "model", "Bye, Ana!"), (AGENT, "room_transcript", "Bye, Ana!")]
    at = -1
    for wanted in chain:
        at = position(rows, wanted, at)
    assert list(ev["seq"]) == list(range(len(ev)))
    [response] = ev[ev["kind"] == "function_response"].itertuples()
    assert response.state_delta == {"pref": "tea"}
    assert response.function_responses[0]["response"] == {"saved": "tea", "room": "desk-chat"}
    adk = ev[~ev["kind"].str.startswith("room_")]
    assert set(adk["invocation_id"]) == {inv.invocation_id}
    published = ev[ev["kind"].isin(["room_transcript", "room_data"])]
    assert set(published["invocation_id"]) == {inv.invocation_id}
    # the bridge's tool activity on its `adk` data topic, as it published it
    data = [r.output["topic"] for r in ev.itertuples() if r.kind == "room_data"]
    assert data == ["adk", "adk"]
    transcript = ev[ev["kind"] == "room_transcript"].iloc[0]
    assert transcript.output["topic"] == "lk.transcription"
    assert transcript.output["lk.transcription_final"] == "true"
    # who was in the room, and how the call ended
    facts = [(r.topic, r.data) for r in agent.trace.of("fact")]
    ana = [d["event"] for t, d in facts if t == "participant" and d["identity"] == "ana"]
    assert ana == ["connected", "disconnected"]
    assert [d for t, d in facts if t == "track"][0]["name"] == "adk-agent-audio"
    calls = [d for t, d in facts if t == "call"]
    assert calls[0]["event"] == "ended" and calls[0]["remote_participants"] == []
    # the view shows both sides
    for shown in ("room_chat", "I like tea", "set_pref", "tool:set_pref", "room_transcript",
                  "participant attributes", "lk.agent.state", "ana"):
        assert shown in seen["view"], shown
    for shown in ("room_chat", "I like tea", "set_pref", "room_transcript", "Bye, Ana!"):
        assert shown in seen["card"], shown
    assert agent.failures == 0
    print(f"aclose after the guest left: {seen['close_s']:.3f} s")
    for thread in real_threads() - threads_before:
        thread.join(CLOSE_BOUND_S)
    assert not (real_threads() - threads_before)


def test_aclose_during_a_call_ends_it_within_the_bound_and_the_guest_sees_the_agent_leave(
        livekit_server):
    threads_before = real_threads()

    async def go():
        guest = await Guest(livekit_server, "desk-close").join()   # there before the agent
        agent = room_agent(livekit_server, "desk-close", [reply("Hello.")])
        await agent.start()
        try:
            await guest.say("hi", then_hear="Hello.")
            began = time.monotonic()
            await asyncio.wait_for(agent.aclose(), CLOSE_BOUND_S)
            close_s = time.monotonic() - began
            await wait_for(lambda: AGENT in guest.left, "the guest to see the agent leave")
        finally:
            await guest.room.disconnect()
        return agent, close_s

    agent, close_s = run(go())
    assert agent.ended and agent.error is None
    [inv] = agent.invocations().itertuples()
    assert inv.status == "interrupted"
    [room] = [r.data for r in agent.trace.of("fact") if r.topic == "room"]
    assert room["participants"] == ["ana"]
    [ana] = [r.data for r in agent.trace.of("fact") if r.topic == "participant"]
    assert (ana["event"], ana["identity"]) == ("present", "ana")
    # LiveKitRunner made the session (no state= given): the observer met it at before_run
    assert [(s.session_id, s.state) for s in agent.trace.of("session")] == [("desk-close", {})]
    calls = [r.data["event"] for r in agent.trace.of("fact") if r.topic == "call"]
    assert calls == ["closed", "left the room"]
    print(f"aclose during the call: {close_s:.3f} s")
    for thread in real_threads() - threads_before:
        thread.join(CLOSE_BOUND_S)
    assert not (real_threads() - threads_before)


def test_bad_input_is_one_line_and_nothing_is_left(livekit_server, monkeypatch):
    monkeypatch.delenv("LIVEKIT_URL", raising=False)
    agent = LlmAgent(name="x", model=ScriptedLlm([]))
    with pytest.raises(ValueError, match="needs a real LiveKit room: give url="):
        AdkRoomAgent(agent, room="r", url="", api_key="k", api_secret="s")
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['dispaly'\]"):
        AdkRoomAgent(agent, room="r", url=livekit_server.url, api_key="k", api_secret="s",
                     dispaly=False)
    threads_before = real_threads()

    async def go():
        refused = AdkRoomAgent(agent, room="refused", url=livekit_server.url,
                               api_key=livekit_server.api_key, api_secret="not-the-secret")
        with pytest.raises(ConnectionError) as failed:
            await refused.start()
        with pytest.raises(RuntimeError, match="closed"):
            await refused.start()
        return refused, failed.value

    refused, error = run(go())
    message = str(error)
    assert "\n" not in message and "eyJ" not in message
    assert message.startswith(f"agentnb: could not connect to the LiveKit server at "
                              f"{livekit_server.url}: ") and "401" in message
    [failed] = [r.data for r in refused.trace.of("fact") if r.topic == "connection"]
    assert failed["state"] == "failed"
    assert not (real_threads() - threads_before)
