"""Issue 14, items 2 and 3: `NotebookJob` in a real room on a real LiveKit server (the
`livekit_server` fixtures of services.py: livekit-server v1.13.5 on 127.0.0.1), with real
participants: `livekit.rtc.Room`s joined with tokens minted by `livekit-api`. They chat with the
agent on LiveKit's text topics (`lk.chat` in, `lk.transcription` out), set attributes, publish a
track and data, join and leave; the server is killed under a running job; a wrong API secret is
refused. Every wait is bounded and waits for a condition.

What cannot work here, and is not tested: speech. No STT or TTS model is reachable offline, so
the agents are text only (agentnb turns RoomIO's audio off where there is no voice). The media
path itself is tested up to that point: a participant's audio track is published and the job's
room subscribes to it over WebRTC on loopback."""
from __future__ import annotations

import asyncio
import gc
import threading
import time
import uuid

import pytest
from livekit import api, rtc
from livekit.agents import Agent, AgentSession, JobContext, RunContext, function_tool, llm

from agentnb.livekit import NotebookJob, call, reply
from agentnb.livekit import ScriptedLLM  # built on first use: it subclasses LiveKit's llm.LLM

pytestmark = pytest.mark.filterwarnings("ignore:The HMAC key is")   # devkey's secret is short
CLOSE_BOUND_S = 5.0


def run(coro, timeout: float = 150):
    try:
        return asyncio.run(asyncio.wait_for(coro, timeout))
    finally:
        # Rooms sit in reference cycles: collected late, their native handles outlive LiveKit's
        # FFI (and the SDK once aborted the process at exit).
        gc.collect()


def real_threads() -> set:
    return {t for t in threading.enumerate() if not isinstance(t, threading._DummyThread)}


def room_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def wait_for(condition, what: str, timeout: float = 20.0):
    """Poll `condition()` on this loop until it holds (the job records from its own thread)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} ({timeout:g} s)")
        await asyncio.sleep(0.05)
    return value


def facts(job, topic: str) -> list:
    return [r.data for r in job.trace.of("fact") if r.topic == topic]


class Human:
    """A real participant: an `rtc.Room` with a token from livekit-api, and the agent text it
    received on `lk.transcription`."""

    def __init__(self, server, room: str, identity: str, attributes: dict | None = None):
        self.server, self.room_name, self.identity = server, room, identity
        self.attributes = attributes or {}
        self.room = rtc.Room()
        self.heard: list[tuple[str, str]] = []

        def on_text(reader, sender):
            async def read():
                self.heard.append((sender, await reader.read_all()))
            asyncio.ensure_future(read())
        self.room.register_text_stream_handler("lk.transcription", on_text)

    async def join(self) -> Human:
        token = (api.AccessToken(self.server.api_key, self.server.api_secret)
                 .with_identity(self.identity).with_attributes(self.attributes)
                 .with_grants(api.VideoGrants(room_join=True, room=self.room_name,
                                              can_update_own_metadata=True)).to_jwt())
        await self.room.connect(self.server.url, token)
        return self

    async def say(self, text: str) -> None:
        await self.room.local_participant.send_text(text, topic="lk.chat")

    def heard_text(self, text: str) -> bool:
        return any(said == text for _, said in self.heard)


def job_in(server, room: str, **kwargs) -> NotebookJob:
    return NotebookJob(url=server.url, api_key=server.api_key, api_secret=server.api_secret,
                       room=room, display=False, **kwargs)


# --- item 2: a job in a real room --------------------------------------------------------------

def test_an_agent_job_chats_with_real_participants_and_records_the_room(livekit_server):
    server, room = livekit_server, room_name("desk")
    threads_before = real_threads()

    async def go():
        human = await Human(server, room, "ana", {"plan": "pro"}).join()
        job = job_in(server, room, agent=Agent(instructions="Answer."),
                     llm=ScriptedLLM([reply("Hello Ana!"), reply("Hello notebook!")]))
        await job.start()
        seen = {"room": job.context.room}
        try:
            # the human chats on lk.chat; the agent's text reply reaches it
            await human.say("hello agent")
            await wait_for(lambda: human.heard_text("Hello Ana!"), "ana hears the reply")
            # the notebook asks in the same room: LiveKit's RunResult, and the room hears it
            result = await job.ask("and the notebook?")
            seen["result"] = result
            await wait_for(lambda: human.heard_text("Hello notebook!"), "ana hears the ask")
            # attributes, a track, data; a second participant comes and goes
            await human.room.local_participant.set_attributes({"plan": "team"})
            source = rtc.AudioSource(48000, 1)
            track = rtc.LocalAudioTrack.create_audio_track("ana-mic", source)
            await human.room.local_participant.publish_track(
                track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
            await human.room.local_participant.publish_data(b"ping", topic="pings")
            guest = await Human(server, room, "bo").join()
            await wait_for(lambda: [p for p in facts(job, "participant")
                                    if p["identity"] == "bo" and p["event"] == "connected"],
                           "bo joins")
            await guest.room.disconnect()
            await wait_for(lambda: [p for p in facts(job, "participant")
                                    if p["identity"] == "bo" and p["event"] == "disconnected"],
                           "bo leaves")
            await wait_for(lambda: any(c.key == "ana.plan" and c.new == "team"
                                       for c in job.trace.of("state_change")), "ana's new plan")
            await wait_for(lambda: {"published", "subscribed"} <= {
                t["event"] for t in facts(job, "track") if t["name"] == "ana-mic"},
                "ana's track published and subscribed to")
            await wait_for(lambda: facts(job, "data"), "ana's data packet")
            seen["view"] = job.view().html()
        finally:
            began = time.monotonic()
            await job.aclose()
            seen["close_seconds"] = time.monotonic() - began
            await human.room.disconnect()
        return job, human, seen

    job, human, seen = run(go())
    assert isinstance(seen["room"], rtc.Room) and seen["room"].name == room   # the real Room
    assert [m.item.text_content for m in seen["result"].events if m.type == "message"] == [
        "Hello notebook!"]
    [agent_identity] = {sender for sender, _ in human.heard}
    assert agent_identity == job.agent_identity
    # the trace: who said what, from where
    ev = job.events()
    said = [(r.author, r.kind, r.text) for r in ev[ev["kind"].isin(["user", "model"])].itertuples()]
    assert said == [("ana", "user", "hello agent"), ("default_agent", "model", "Hello Ana!"),
                    ("user", "user", "and the notebook?"),
                    ("default_agent", "model", "Hello notebook!")]
    [text] = facts(job, "text")
    assert (text["from"], text["topic"], text["text"]) == ("ana", "lk.chat", "hello agent")
    # participants: identity, kind, attributes; attribute changes as history rows
    [ana] = [p for p in facts(job, "participant") if p["identity"] == "ana"]
    assert ana["event"] == "present" and ana["kind"] == "PARTICIPANT_KIND_STANDARD"
    assert ana["attributes"] == {"plan": "pro"}
    bo = [p["event"] for p in facts(job, "participant") if p["identity"] == "bo"]
    assert bo == ["connected", "disconnected"]
    history = job.history()
    rows = history[history["key"] == "ana.plan"]
    assert set(rows["scope"]) == {"attributes"}
    assert [(r.old, r.new, r.source) for r in rows.itertuples()] == [
        (None, "pro", "participant:ana"), ("pro", "team", "participant:ana")]
    # tracks, data, connection
    [published] = [t for t in facts(job, "track") if t["event"] == "published"]
    assert (published["participant"], published["kind"], published["source"]) == (
        "ana", "KIND_AUDIO", "SOURCE_MICROPHONE")
    [data] = facts(job, "data")
    assert (data["from"], data["topic"], data["bytes"], data["text"]) == ("ana", "pings", 4, "ping")
    assert facts(job, "connection")[0] == {"state": "connected", "url": livekit_server.url}
    [room_fact] = facts(job, "room")
    assert room_fact["connection_state"] == "CONN_CONNECTED" and "mock" not in room_fact
    # the view shows all of it, and the connection in its head
    view = seen["view"]
    for shown in ("ana", "bo", "PARTICIPANT_KIND_STANDARD", "ana-mic", "pings", "lk.chat",
                  "participant attributes", "Hello Ana!"):
        assert shown in view, shown
    assert 'anb-s-ok">connected</b>' in view.split('<div class="anb-body">')[0]
    assert seen["close_seconds"] < CLOSE_BOUND_S
    assert job.observer.failures == 0
    for thread in real_threads() - threads_before:
        thread.join(CLOSE_BOUND_S)
    assert not (real_threads() - threads_before)


class Librarian(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You lend books.")

    @function_tool
    async def lend(self, context: RunContext[dict], title: str) -> str:
        """Lend a book."""
        context.userdata.setdefault("lent", []).append(title)
        return f"lent {title}"


class HostedLLM(llm.LLM):
    """The model an example names (`openai.LLM(...)`): must never be used here."""

    def chat(self, **kwargs):
        raise AssertionError("the hosted model was called")


def test_an_example_shaped_entrypoint_runs_in_a_real_room(livekit_server):
    server, room = livekit_server, room_name("library")

    async def entrypoint(ctx: JobContext):
        await ctx.connect()
        session = AgentSession(llm=HostedLLM(), userdata={})
        await session.start(agent=Librarian(), room=ctx.room)

    async def go():
        human = await Human(server, room, "cy").join()
        model = ScriptedLLM([call("lend", title="Dune"), reply("Dune is yours."),
                             reply("You have Dune.")])
        job = job_in(server, room, entrypoint=entrypoint, llm=model)
        await job.start()
        try:
            await human.say("May I borrow Dune?")
            await wait_for(lambda: human.heard_text("Dune is yours."), "cy hears the reply")
            result = await job.ask("What has cy borrowed?")
            await wait_for(lambda: human.heard_text("You have Dune."), "cy hears the ask")
            lent = dict(job.session.userdata)
        finally:
            await job.aclose()
            await human.room.disconnect()
        return job, result, lent

    job, result, lent = run(go())
    assert lent == {"lent": ["Dune"]}
    assert result.events[-1].item.text_content == "You have Dune."
    rows = job.history()[lambda h: h["scope"] == "userdata"]
    assert [(r.source, r.key, r.new) for r in rows.itertuples()] == [("tool:lend", "lent", ["Dune"])]
    ev = job.events()
    assert list(ev[ev["kind"] == "user"]["author"]) == ["cy", "user"]
    [room_io] = facts(job, "room_io")
    assert room_io["audio_output"] is False and room_io["why"] == "no TTS/STT"


# --- item 3: faults on a real server -----------------------------------------------------------

def test_a_wrong_api_secret_is_a_one_line_connection_error_naming_the_url(livekit_server):
    threads_before = real_threads()

    async def go():
        job = NotebookJob(agent=Agent(instructions="x"), url=livekit_server.url,
                          api_key=livekit_server.api_key, api_secret="not-the-secret",
                          room=room_name("refused"), display=False)
        began = time.monotonic()
        with pytest.raises(ConnectionError) as failed:
            await job.start()
        return job, failed.value, time.monotonic() - began

    job, error, seconds = run(go())
    message = str(error)
    assert "\n" not in message and seconds < 10 and job.closed
    assert message.startswith(f"agentnb: could not connect to the LiveKit server at "
                              f"{livekit_server.url}: ")
    assert "401" in message and "check api_key and api_secret" in message
    assert "eyJ" not in message              # the refused token is not quoted
    [failed] = [c for c in facts(job, "connection") if c["state"] == "failed"]
    assert failed["url"] == livekit_server.url
    assert not (real_threads() - threads_before)


def test_a_participant_leaving_is_recorded_and_the_job_ends_as_livekit_ends_it(livekit_server):
    """LiveKit closes the session when the participant it talks to leaves
    (`close_on_disconnect`), and the server closes the room after its departure timeout (~20 s
    here): the job's room is then disconnected (ROOM_CLOSED) and LiveKit shuts the job down."""
    server, room = livekit_server, room_name("leaving")

    async def go():
        human = await Human(server, room, "dee").join()
        job = job_in(server, room, agent=Agent(instructions="x"), llm=ScriptedLLM([reply("Hi.")]))
        await job.start()
        try:
            await human.say("hi")
            await wait_for(lambda: human.heard_text("Hi."), "dee hears the reply")
            await human.room.disconnect()
            await wait_for(lambda: [p for p in facts(job, "participant")
                                    if p["event"] == "disconnected"], "dee leaves")
            await wait_for(lambda: job.observer.session_closed, "LiveKit closes the session")
            with pytest.raises(RuntimeError, match="participant_disconnected"):
                await job.ask("still there?")
            await wait_for(lambda: [s for s in facts(job, "shutdown")
                                    if s["event"] == "shutdown"], "LiveKit ends the job", 60)
            view = job.view().html()
            with pytest.raises(RuntimeError, match="LiveKit ended the job"):
                await job.ask("anyone?")
        finally:
            began = time.monotonic()
            await job.aclose()
            close_seconds = time.monotonic() - began
        return job, view, close_seconds

    job, view, close_seconds = run(go())
    [left] = [p for p in facts(job, "participant") if p["event"] == "disconnected"]
    assert (left["identity"], left["reason"]) == ("dee", "CLIENT_INITIATED")
    assert [s["reason"] for s in facts(job, "session")] == ["participant_disconnected"]
    [shutdown] = [s for s in facts(job, "shutdown") if s["event"] == "shutdown"]
    assert shutdown["reason"] == "room disconnected"
    assert {"state": "disconnected", "reason": "ROOM_CLOSED"} in facts(job, "connection")
    assert "disconnected: ROOM_CLOSED" in view.split('<div class="anb-body">')[0]
    assert close_seconds < CLOSE_BOUND_S


@pytest.mark.parametrize("close_when", ["reconnecting", "disconnected"])
def test_the_server_killed_mid_session(livekit_server_factory, close_when):
    """SIGKILL: the job's room reconnects at once and, its retries refused, reports
    DISCONNECTED with UNKNOWN_REASON after ~25 s; LiveKit then shuts the job down. Closed
    either while it reconnects or once it is disconnected, the job closes within the bound
    and the trace keeps everything recorded before, sealed."""
    server = livekit_server_factory()
    room = room_name("doomed")
    threads_before = real_threads()

    async def go():
        human = await Human(server, room, "eve").join()
        job = job_in(server, room, agent=Agent(instructions="x"),
                     llm=ScriptedLLM([reply("First."), reply("Second.")]))
        await job.start()
        await human.say("one")
        await wait_for(lambda: human.heard_text("First."), "eve hears the reply")
        await job.ask("two")
        before = job.trace.snapshot()
        server.kill()
        await wait_for(lambda: [c for c in facts(job, "connection")
                                if c["state"] == "CONN_RECONNECTING"], "the job's room reconnects")
        if close_when == "disconnected":
            await wait_for(lambda: [c for c in facts(job, "connection")
                                    if c["state"] == "disconnected"], "the room gives up", 90)
            await wait_for(lambda: [s for s in facts(job, "shutdown")
                                    if s["event"] == "shutdown"], "LiveKit ends the job")
        view = job.view().html()
        began = time.monotonic()
        await job.aclose()
        close_seconds = time.monotonic() - began
        after_close = len(job.trace)
        await asyncio.sleep(0.5)
        await human.room.disconnect()
        return job, before, view, close_seconds, after_close

    job, before, view, close_seconds, after_close = run(go())
    records = job.trace.snapshot()
    assert records[:len(before)] == before             # nothing recorded was lost
    assert len(records) == after_close                 # sealed: nothing after the close
    assert records[-1].topic == "shutdown" and records[-1].data["event"] == "closed"
    assert close_seconds < CLOSE_BOUND_S
    for thread in real_threads() - threads_before:
        thread.join(CLOSE_BOUND_S - close_seconds)
    assert not (real_threads() - threads_before)
    head = view.split('<div class="anb-body">')[0]
    if close_when == "disconnected":
        assert "disconnected: UNKNOWN_REASON" in head
        [shutdown] = [s for s in facts(job, "shutdown") if s["event"] == "shutdown"]
        assert shutdown["reason"] == "room disconnected"
    else:
        assert "reconnecting" in head
    assert list(job.invocations()["status"]) == ["ok"]
