"""The room side of an ADK agent on ADK's own LiveKit bridge (`LiveKitRunner`): the agent's
`rtc.Room` -> records, into the trace the ADK observer records into.

Participants, tracks, attributes (history rows of scope `attributes`), data received and the
connection are LiveKit's room mapping (`agentnb.livekit.room.RoomRecording`). What the bridge
itself reads from and writes to the room is recorded where it happens, as events of the
timeline (kinds `room_*`), so each sits in order with the ADK events it starts or follows:

- `room_chat`: a participant's text on `lk.chat`, when the bridge has read it (just before it
  hands it to `run_live`); author: the sender.
- `room_transcript_interim`, `room_transcript`: a text stream the bridge published on
  `lk.transcription` (LiveKit's interim and final captions), once closed; author: the identity
  it was sent as (the agent's, or the caller's for their own speech).
- `room_data`: a data packet the bridge published (tool activity on the `adk` topic).
- `room_text`: a text stream the bridge published on any other topic (keypad entries on
  `lk.chat` are `room_chat`).

Each one's `output` holds its topic and the stream's attributes. To see them, the bridge's own
calls on the room are wrapped on the instances (the `Room` agentnb made, its local participant,
each reader and writer): `register_text_stream_handler` for `lk.chat` (the reader's
`read_all`), `LocalParticipant.stream_text` (the writer's `write` and `aclose`) and
`LocalParticipant.publish_data`. LiveKit's API is public; that the bridge goes through exactly
these is read from ADK 2.13's `integrations/livekit` and pinned by `tests/test_adk_livekit.py`.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ..core.guard import Guard, guarded
from ..core.records import Event, Fact, InvocationEnd, InvocationStart, Record
from ..core.trace import Trace
from ..livekit.mapping import enum_name, new_id, participant_data
from ..livekit.room import CHAT_TEXT_CHARS, DATA_TEXT_CHARS, RoomRecording

log = logging.getLogger("agentnb.adk_livekit")
CHAT_TOPIC = "lk.chat"
TRANSCRIPTION_TOPIC = "lk.transcription"
FINAL_ATTRIBUTE = "lk.transcription_final"


class BridgeRecording(RoomRecording):
    """Records the agent's room for one ADK session. Room records carry the ADK session id,
    and the live invocation running when they happen (followed from the trace: the ADK
    observer records its start and end)."""

    def __init__(self, trace: Trace, session_id: str, server_url: str, identity: str) -> None:
        self.trace, self.session_id = trace, session_id
        self.server_url, self.local_identity = server_url, identity
        self.guard = Guard(log)
        self.invocation: str | None = None
        self._participant_attributes: dict[str, dict[str, Any]] = {}
        self._followed = 0
        self._unfollow = trace.subscribe(self._follow_invocations)

    @property
    def sid(self) -> str:
        return self.session_id or ""

    @property
    def failures(self) -> int:
        """Room handlers whose recording failed (each time, the call went on)."""
        return self.guard.failures

    def append(self, *records: Record) -> None:
        if records:
            self.trace.extend(records)

    def fact(self, topic: str, data: dict[str, Any], invocation_id: str | None = None) -> None:
        self.append(Fact(self.session_id, invocation_id, time.time(), topic, data))

    def close(self) -> None:
        """Stop following the trace."""
        self._unfollow()

    def _follow_invocations(self, length: int) -> None:
        """The live invocation: the ADK run of this session that has started and not ended."""
        for record in self.trace.snapshot(self._followed):
            if isinstance(record, InvocationStart) and record.session_id == self.session_id:
                self.invocation = record.invocation_id
            elif isinstance(record, InvocationEnd) and record.invocation_id == self.invocation:
                self.invocation = None
        self._followed = length

    # -- the room as it is when the agent joins -----------------------------------------------

    @guarded
    def record_present(self, room: Any) -> None:
        """The room and who is in it already, with their attributes and tracks."""
        from livekit import rtc
        participants = [participant_data(p, rtc.ParticipantKind)
                        for p in room.remote_participants.values()]
        self.fact("room", {"name": room.name,
                           "connection_state": enum_name(rtc.ConnectionState,
                                                         room.connection_state),
                           "participants": [p["identity"] for p in participants],
                           "agent_identity": room.local_participant.identity})
        for data in participants:
            self.fact("participant", {"event": "present", **data})
        for participant in room.remote_participants.values():
            self.on_attributes_changed(dict(participant.attributes), participant)
            for publication in participant.track_publications.values():
                self._track("present", publication, participant.identity)

    # -- what the bridge reads and writes ------------------------------------------------------

    @guarded
    def on_bridge_read(self, sender: str, topic: str, text: str) -> None:
        self._room_event("room_chat", sender, text[:CHAT_TEXT_CHARS], {"topic": topic})

    @guarded
    def on_bridge_stream(self, options: dict[str, Any], text: str) -> None:
        topic = options.get("topic") or ""
        attributes = dict(options.get("attributes") or {})
        if topic == TRANSCRIPTION_TOPIC:
            final = attributes.get(FINAL_ATTRIBUTE) == "true"
            kind = "room_transcript" if final else "room_transcript_interim"
        else:
            kind = "room_chat" if topic == CHAT_TOPIC else "room_text"
        sender = options.get("sender_identity") or self.local_identity or ""
        self._room_event(kind, sender, text[:CHAT_TEXT_CHARS], {"topic": topic, **attributes})

    @guarded
    def on_bridge_data(self, payload: bytes, topic: str | None) -> None:
        try:
            text = payload[:DATA_TEXT_CHARS * 4].decode("utf-8")[:DATA_TEXT_CHARS]
        except UnicodeDecodeError:
            text = f"({len(payload)} bytes)"
        self._room_event("room_data", self.local_identity or "", text,
                         {"topic": topic, "bytes": len(payload)})

    def _room_event(self, kind: str, author: str, text: str, output: dict[str, Any]) -> None:
        self.append(Event(self.sid, self.invocation, new_id("room"), time.time(), author, kind,
                          text=text, output=output))


def watch_bridge_io(room: Any, recording: BridgeRecording) -> None:
    """Record what the bridge reads from and writes to `room` (a connected `rtc.Room` that
    agentnb made): see the module's docstring. The wrappers call LiveKit first and always;
    recording runs under the recording's guard."""
    register = room.register_text_stream_handler

    def register_handler(topic: str, handler: Callable[[Any, str], None]) -> None:
        if topic == CHAT_TOPIC:
            register(topic, _reading(handler, topic, recording.on_bridge_read))
        else:
            register(topic, handler)
    room.register_text_stream_handler = register_handler

    local = room.local_participant
    stream_text, publish_data = local.stream_text, local.publish_data

    async def streaming(**options: Any) -> Any:
        writer = await stream_text(**options)
        _recording_writer(writer, lambda text: recording.on_bridge_stream(options, text))
        return writer

    async def publishing(payload: Any, **options: Any) -> Any:
        result = await publish_data(payload, **options)
        recording.on_bridge_data(payload if isinstance(payload, bytes) else str(payload).encode(),
                                 options.get("topic"))
        return result
    local.stream_text, local.publish_data = streaming, publishing


def _reading(handler: Callable[[Any, str], None], topic: str,
             on_read: Callable[[str, str, str], None]) -> Callable[[Any, str], None]:
    """`handler` for a text stream topic, whose readers record the text when it has been read."""
    def handle(reader: Any, sender: str) -> None:
        read_all = reader.read_all

        async def read_and_record() -> str:
            text: str = await read_all()
            on_read(sender, topic, text)
            return text
        reader.read_all = read_and_record
        handler(reader, sender)
    return handle


def _recording_writer(writer: Any, on_closed: Callable[[str], None]) -> None:
    """Collect what is written to a text stream writer; report it once the stream is closed."""
    chunks: list[str] = []
    write, aclose = writer.write, writer.aclose

    async def writing(text: str) -> None:
        await write(text)
        chunks.append(text)

    async def closing(**options: Any) -> None:
        await aclose(**options)
        on_closed("".join(chunks))
    writer.write, writer.aclose = writing, closing
