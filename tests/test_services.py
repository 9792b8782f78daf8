"""The real services of services.py work with real parts, no agentnb involved: a LiveKit server that
two livekit.rtc participants (and a LiveKit Agents job) meet on, that can be killed mid-session, and a
PostgreSQL that ADK's DatabaseSessionService keeps state in across processes. Every wait is bounded
and waits for a condition."""
from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import textwrap
import uuid

import pytest
from services import LOOPBACK, sockets_of


def run(coro, timeout: float = 120):
    try:
        return asyncio.run(asyncio.wait_for(coro, timeout))
    finally:
        # Rooms sit in reference cycles; collected only at exit, their native handles would be
        # dropped after LiveKit's FFI is gone (noise: AssertionError in FfiHandle.__del__).
        gc.collect()


async def within(awaitable, what: str, timeout: float = 20):
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"{what}: not within {timeout:g}s") from None


def room_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def only_loopback(sockets: list) -> bool:
    return all(ip == LOOPBACK for _, ip, _ in sockets)


class Seen:
    """What one rtc.Room saw; `until` waits for a condition on it."""

    def __init__(self, room):
        self.changed = asyncio.Event()      # set whenever anything is seen
        self.joined, self.left, self.attributes, self.texts = [], [], [], []
        self.states, self.disconnect_reasons, self.reconnecting = [], [], []

        def note(bucket, value):
            bucket.append(value)
            self.changed.set()

        room.on("participant_connected", lambda p: note(self.joined, p.identity))
        room.on("participant_disconnected", lambda p: note(self.left, p.identity))
        room.on("participant_attributes_changed",
                lambda changed, p: note(self.attributes, (p.identity, dict(changed))))
        room.on("connection_state_changed", lambda state: note(self.states, state))
        room.on("reconnecting", lambda: note(self.reconnecting, True))
        room.on("disconnected", lambda reason: note(self.disconnect_reasons, reason))

        def on_text(reader, sender):
            async def read():
                note(self.texts, (sender, reader.info.topic, await reader.read_all()))
            asyncio.ensure_future(read())
        room.register_text_stream_handler("lk.chat", on_text)

    async def until(self, condition, what: str, timeout: float = 20):
        """Wait until `condition()` holds, re-checking whenever the room sees something."""
        async def loop():
            while not condition():
                self.changed.clear()
                await self.changed.wait()
        await within(loop(), what, timeout)


# ---------------------------------------------------------------------------------------- LiveKit

def test_livekit_server_listens_on_loopback_only(livekit_server):
    sockets = livekit_server.sockets()
    assert ("tcp", LOOPBACK, livekit_server.port) in sockets
    assert ("udp", LOOPBACK, livekit_server.udp_port) in sockets
    assert only_loopback(sockets), sockets
    assert livekit_server.answers()
    assert livekit_server.url == f"ws://{LOOPBACK}:{livekit_server.port}"


def test_two_participants_chat_and_see_attributes_and_presence(livekit_server):
    from livekit import rtc
    room = room_name("chat")

    async def go():
        alice, bob = rtc.Room(), rtc.Room()
        seen_by_alice, seen_by_bob = Seen(alice), Seen(bob)
        await bob.connect(livekit_server.url, livekit_server.token("bob", room))
        await alice.connect(livekit_server.url, livekit_server.token("alice", room))
        try:
            assert "bob" in alice.remote_participants
            await seen_by_bob.until(lambda: "alice" in seen_by_bob.joined,
                                    "bob sees alice join")

            await alice.local_participant.send_text("hello bob", topic="lk.chat")
            await seen_by_bob.until(lambda: seen_by_bob.texts, "bob gets alice's text")
            assert seen_by_bob.texts == [("alice", "lk.chat", "hello bob")]
            await bob.local_participant.send_text("hi alice", topic="lk.chat")
            await seen_by_alice.until(lambda: seen_by_alice.texts,
                                      "alice gets bob's text")
            assert seen_by_alice.texts == [("bob", "lk.chat", "hi alice")]

            await alice.local_participant.set_attributes({"mood": "curious"})
            await seen_by_bob.until(lambda: ("alice", {"mood": "curious"})
                                    in seen_by_bob.attributes, "bob sees alice's attributes")
            assert bob.remote_participants["alice"].attributes == {"mood": "curious"}

            # the server's connections all stay on loopback while a session runs
            server_sockets = sockets_of(livekit_server.pid)
            assert only_loopback(server_sockets), server_sockets
        finally:
            await alice.disconnect()
        try:
            await seen_by_bob.until(lambda: "alice" in seen_by_bob.left,
                                    "bob sees alice leave")
            assert "alice" not in bob.remote_participants
        finally:
            await bob.disconnect()

    run(go())


def test_killing_the_server_disconnects_a_connected_room(livekit_server_factory):
    """The SDK first reconnects (CONN_RECONNECTING at once), then gives up after its retries
    (~25 s here: 10 refused attempts) and reports CONN_DISCONNECTED, reason UNKNOWN_REASON. A
    fresh server from the factory takes new participants."""
    from livekit import rtc
    server = livekit_server_factory()

    async def go():
        room = rtc.Room()
        seen = Seen(room)
        await room.connect(server.url, server.token("alice", room_name("doomed")))
        assert room.connection_state == rtc.ConnectionState.CONN_CONNECTED
        server.kill()
        assert not server.alive()
        await seen.until(lambda: seen.reconnecting, "the room starts reconnecting")
        await seen.until(lambda: seen.disconnect_reasons,
                         "the room reports disconnected", timeout=90)
        assert seen.disconnect_reasons == [rtc.DisconnectReason.UNKNOWN_REASON]
        assert seen.states[-1] == rtc.ConnectionState.CONN_DISCONNECTED
        assert rtc.ConnectionState.CONN_RECONNECTING in seen.states
        assert room.connection_state == rtc.ConnectionState.CONN_DISCONNECTED
        assert not room.isconnected()
        await room.disconnect()         # a no-op now; must not raise

        fresh = livekit_server_factory()
        again = rtc.Room()
        await again.connect(fresh.url, fresh.token("alice", room_name("after")))
        assert again.isconnected()
        await again.disconnect()

    run(go())


@pytest.mark.filterwarnings("ignore:The HMAC key is")     # LiveKitAPI's token: "secret" is short
def test_an_agents_job_joins_a_room_on_the_real_server(livekit_server):
    """What agentnb's NotebookJob does against a real server: an unregistered AgentServer, and
    simulate_job(fake_job=False) with a token and the room's info from the server's RoomService."""
    from livekit import api, rtc
    from livekit.agents import AgentServer, JobContext, JobExecutorType
    room = room_name("job")
    agent_identity = "agent-under-test"

    async def entrypoint(ctx: JobContext):
        await ctx.connect()
        await ctx.room.local_participant.set_attributes({"agent.state": "listening"})
        await ctx.room.local_participant.send_text("hello from the job", topic="lk.chat")

    async def go():
        human = rtc.Room()
        seen = Seen(human)
        await human.connect(livekit_server.url, livekit_server.token("human", room))
        async with api.LiveKitAPI(livekit_server.http_url, livekit_server.api_key,
                                  livekit_server.api_secret) as lkapi:
            listed = await lkapi.room.list_rooms(api.ListRoomsRequest(names=[room]))
        assert [r.name for r in listed.rooms] == [room]

        server = AgentServer(job_executor_type=JobExecutorType.THREAD, host=LOOPBACK, port=0,
                             load_fnc=lambda: 0.0, num_idle_processes=1,
                             ws_url=livekit_server.url, api_key=livekit_server.api_key,
                             api_secret=livekit_server.api_secret)
        server.rtc_session(entrypoint)
        started = asyncio.Event()
        server.once("worker_started", started.set)
        running = asyncio.ensure_future(server.run(devmode=True, unregistered=True))
        try:
            await within(asyncio.wait({asyncio.ensure_future(started.wait()), running},
                                      return_when=asyncio.FIRST_COMPLETED), "AgentServer starts")
            assert started.is_set(), running
            token = livekit_server.token(agent_identity, room, agent=True, kind="agent")
            await server.simulate_job(room, fake_job=False, token=token,
                                      room_info=listed.rooms[0])
            await seen.until(lambda: seen.texts, "the human gets the job's text", 60)
            assert seen.texts == [(agent_identity, "lk.chat", "hello from the job")]
            await seen.until(lambda: agent_identity in seen.joined, "the human sees the job join")
            # the attributes may come with the join itself (no attributes_changed event then)
            agent = human.remote_participants[agent_identity]
            await seen.until(lambda: agent.attributes == {"agent.state": "listening"},
                             "the human sees the job's attributes")
            assert agent.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        finally:
            await server.aclose()
            await within(running, "AgentServer stops", 30)
            await human.disconnect()

    run(go())


# ------------------------------------------------------------------------------------- PostgreSQL

def test_postgres_listens_on_loopback_only(postgres):
    sockets = sockets_of(postgres.pid)
    assert ("tcp", LOOPBACK, postgres.port) in sockets
    assert only_loopback(sockets), sockets


READ_BACK = textwrap.dedent("""
    import asyncio, json, sys
    from google.adk.sessions import DatabaseSessionService

    async def main(url):
        async with DatabaseSessionService(db_url=url) as service:
            s1 = await service.get_session(app_name="nb", user_id="ada", session_id="s1")
            s2 = await service.create_session(app_name="nb", user_id="ada", session_id="s2")
            other = await service.create_session(app_name="nb", user_id="bob", session_id="s3")
            print(json.dumps({
                "s1": dict(s1.state),
                "s1_deltas": [dict(e.actions.state_delta) for e in s1.events],
                "s2": dict(s2.state),
                "other_user": dict(other.state),
            }))

    asyncio.run(main(sys.argv[1]))
""")


def test_adk_database_session_service_state_read_back_by_a_second_process(postgres):
    from google.adk.events import Event, EventActions
    from google.adk.sessions import DatabaseSessionService

    async def write():
        async with DatabaseSessionService(db_url=postgres.url) as service:
            session = await service.create_session(
                app_name="nb", user_id="ada", session_id="s1",
                state={"app:model": "scripted", "user:name": "Ada", "turns": 0})
            await service.append_event(session, Event(
                author="user", invocation_id="inv-1",
                actions=EventActions(state_delta={"app:runs": 1, "user:lang": "en", "turns": 1})))
            assert session.state["turns"] == 1

    run(write())
    out = subprocess.run([sys.executable, "-c", READ_BACK, postgres.url], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["s1"] == {"app:model": "scripted", "app:runs": 1, "user:name": "Ada",
                          "user:lang": "en", "turns": 1}
    assert seen["s1_deltas"] == [{"app:runs": 1, "user:lang": "en", "turns": 1}]
    # a new session of the same user gets the app's and the user's state, not s1's own
    assert seen["s2"] == {"app:model": "scripted", "app:runs": 1, "user:name": "Ada",
                          "user:lang": "en"}
    # another user gets only the app's
    assert seen["other_user"] == {"app:model": "scripted", "app:runs": 1}
