"""`AdkRoomAgent`: an ADK agent answering in a LiveKit room on ADK's own bridge, observed on
both sides into one trace (see docs/api.md)."""
from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any

from ..adk.runner import NotebookRunner
from ..core.recorded import Invocation, Recorded
from ..livekit.mapping import connection_cause, enum_name
from .room_side import BridgeRecording, watch_bridge_io

CONNECT_S = 10.0        # a room that does not connect within this fails start()
# aclose() returns within 5 s: the bridge is stopped, then the room left, each step bounded.
BRIDGE_STOP_S = 2.5
ROOM_LEAVE_S = 2.0
RUNNER_OPTIONS = frozenset({"app_name", "state", "session_service", "artifact_service",
                            "memory_service", "plugins", "credential_service"})


class AdkRoomAgent(Recorded):
    """An ADK agent in a LiveKit room: ADK's `Runner` (agentnb's `NotebookRunner`, observed by
    its plugin) driven by ADK's own `google.adk.integrations.livekit.LiveKitRunner` in an
    `rtc.Room` agentnb connects. `await agent.start()`, participants chat with it on `lk.chat`
    and hear it on `lk.transcription`; `await agent.wait_ended()`, `await agent.aclose()`.
    `history()`, `events()` and `view()` hold both sides, in the order they happened.

    `root` is what `NotebookRunner` takes (an agent, a Workflow or an App); any other keyword
    is `NotebookRunner`'s (`app_name`, `state`, `session_service`, `artifact_service`,
    `memory_service`, `plugins`, `credential_service`). `run_config` and `wait_for_participant` are
    `LiveKitRunner`'s. The ADK session is `session_id` (default: the room's name, as ADK's
    own example has it); LiveKitRunner creates it when the call starts, unless `state` is
    given: then agentnb creates it first, with that state."""

    def __init__(self, root: Any, *, room: str, url: str | None = None,
                 api_key: str | None = None, api_secret: str | None = None,
                 identity: str = "adk-agent", user_id: str = "user",
                 session_id: str | None = None, run_config: Any = None,
                 wait_for_participant: float | None = 30.0, **runner_options: Any) -> None:
        server_url = url or os.environ.get("LIVEKIT_URL")
        api_key = api_key or os.environ.get("LIVEKIT_API_KEY")
        api_secret = api_secret or os.environ.get("LIVEKIT_API_SECRET")
        if not server_url:
            raise ValueError("agentnb: ADK's LiveKitRunner needs a real LiveKit room: give "
                             "url= (or set LIVEKIT_URL) and its api_key= and api_secret=")
        if not (api_key and api_secret):
            raise ValueError(f"agentnb: the LiveKit server at {server_url} needs api_key= "
                             f"and api_secret= (or LIVEKIT_API_KEY and LIVEKIT_API_SECRET)")
        self.server_url: str = server_url
        self._api_key, self._api_secret = api_key, api_secret
        unknown = sorted(set(runner_options) - RUNNER_OPTIONS)
        if unknown:
            raise TypeError(f"agentnb: AdkRoomAgent got unexpected keyword arguments {unknown}; "
                            f"besides its own it takes NotebookRunner's {sorted(RUNNER_OPTIONS)}")
        self._state_given = runner_options.get("state") is not None
        self.runner = NotebookRunner(root, user_id=user_id, session_id=session_id or room,
                                     display=False, **runner_options)
        self.trace = self.runner.trace
        self.room_name, self.identity = room, identity
        self.run_config, self.wait_for_participant = run_config, wait_for_participant
        self.title = (f"ADK agent {getattr(self.runner.agent, 'name', '')} in LiveKit room "
                      f"{room} · {self.server_url}")
        self.recording = BridgeRecording(self.trace, self.runner.session_id, self.server_url,
                                         identity)
        self.room: Any = None             # the agent's rtc.Room, once connected
        self.livekit_runner: Any = None   # ADK's LiveKitRunner, once started
        self.error: BaseException | None = None   # what ended the call, if it failed
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "ended" if self.ended else (
            "in the room" if self._task else "not started")
        return (f"<AdkRoomAgent {self.identity!r} room={self.room_name!r} "
                f"session={self.session_id!r} {state}: {len(self.trace)} records>")

    @property
    def session_id(self) -> str:
        return str(self.runner.session_id)

    @property
    def observer(self) -> Any:
        """The ADK side's observer plugin (`AdkObserver`)."""
        return self.runner.observer

    @property
    def failures(self) -> int:
        """Hooks and room handlers whose recording failed (each time, the call went on)."""
        return int(self.runner.observer.failures) + self.recording.failures

    @property
    def ended(self) -> bool:
        """The call has ended (the last participant left, the room closed, run_live ended)."""
        return self._task is not None and self._task.done()

    @property
    def invocation(self) -> Invocation | None:
        """The live invocation: ADK runs a whole call as one invocation of `run_live`, each
        message a turn inside it. None before it starts."""
        starts = self.trace.of("invocation_start", self.session_id)
        return Invocation(self.trace, self.session_id, starts[-1].invocation_id) if starts else None

    async def start(self) -> None:
        """Join the room and start ADK's `LiveKitRunner` in it (on this event loop). The
        bridge waits for a participant (`wait_for_participant`), then opens `run_live`; it
        reads chat only from then on (its `lk.agent.state` attribute says `listening`)."""
        if self._closed:
            raise RuntimeError("agentnb: this AdkRoomAgent is closed; make a new one")
        if self._task is not None:
            return
        from google.adk.integrations.livekit import LiveKitRunner
        from livekit import api, rtc
        token = (api.AccessToken(self._api_key, self._api_secret).with_identity(self.identity)
                 .with_kind("agent")
                 .with_grants(api.VideoGrants(room_join=True, room=self.room_name, agent=True,
                                              can_update_own_metadata=True)))
        room = rtc.Room()
        try:
            await asyncio.wait_for(room.connect(self.server_url, token.to_jwt()), CONNECT_S)
        except Exception as exc:
            cause = connection_cause(f"{type(exc).__name__}: {exc}")
            self.recording.fact("connection", {"state": "failed", "url": self.server_url,
                                               "cause": cause})
            with contextlib.suppress(Exception):
                await asyncio.wait_for(room.disconnect(), ROOM_LEAVE_S)
            self._closed = True
            self.recording.close()
            raise ConnectionError(f"agentnb: could not connect to the LiveKit server at "
                                  f"{self.server_url}: {cause}") from None
        self.room = room
        self.recording.watch_room(room)
        self.recording.record_present(room)
        watch_bridge_io(room, self.recording)
        if self._state_given:
            await self.runner.sync()   # the session, with its state, before the bridge
        self.livekit_runner = LiveKitRunner(
            runner=self.runner.adk_runner, room=room, user_id=self.runner.user_id,
            session_id=self.session_id, run_config=self.run_config,
            wait_for_participant=self.wait_for_participant)
        self._task = asyncio.create_task(self._run_call(), name=f"agentnb-adk-room-{self.room_name}")

    async def _run_call(self) -> None:
        try:
            await self.livekit_runner.start()
        except asyncio.CancelledError:
            self._call_fact("closed")
            raise
        except Exception as exc:
            self.error = exc
            self._call_fact("failed", f"{type(exc).__name__}: {exc}")
        else:
            self._call_fact("ended")

    def _call_fact(self, event: str, error: str | None = None) -> None:
        room = self.room
        from livekit import rtc
        data: dict[str, Any] = {
            "event": event, "remote_participants": sorted(room.remote_participants),
            "connection_state": enum_name(rtc.ConnectionState, room.connection_state)}
        if error:
            data["error"] = error
        self.recording.fact("call", data)

    async def wait_ended(self, timeout: float | None = 60.0) -> None:
        """Wait until the call ends (the last participant leaves, the room closes, or
        `run_live` ends); raise what ended it if it failed. TimeoutError after `timeout` s."""
        if self._task is None:
            raise RuntimeError("agentnb: the agent is not in a room: await agent.start() first")
        await asyncio.wait_for(asyncio.shield(self._task), timeout)
        if self.error is not None:
            raise self.error

    async def aclose(self) -> None:
        """End the call if it still runs (ADK's bridge is cancelled: it closes `run_live` and
        releases the room) and leave the room. Returns within 5 s."""
        if self._closed:
            return
        self._closed = True
        began = time.monotonic()
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=BRIDGE_STOP_S)
        if self.room is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.room.disconnect(), ROOM_LEAVE_S)
            self.recording.fact("call", {"event": "left the room",
                                         "seconds": round(time.monotonic() - began, 3)})
        self.recording.close()
