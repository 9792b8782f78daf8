"""`RoomRecording`: a job's room events -> records, a part of `JobObserver`. Participants
joining and leaving (identity, kind, attributes; attribute changes are state rows of scope
`attributes`), tracks published and subscribed, data packets and chat text received, and the
connection's state. On the console room only what is there at the start is recorded (the mock
room emits nothing)."""
from __future__ import annotations

import time
from typing import Any

from ..core.guard import Guard, guarded
from ..core.records import Fact, Record, StateChange
from .internals import emitted
from .mapping import enum_name, participant_data, track_data

DATA_TEXT_CHARS = 1000      # of a data packet, kept as text when it decodes as UTF-8
CHAT_TEXT_CHARS = 4000


class RoomRecording:
    """The room's handlers of `JobObserver` (which provides what is declared here)."""

    guard: Guard
    session_id: str | None
    invocation: str | None
    _participant_attributes: dict[str, dict[str, Any]]

    @property
    def sid(self) -> str:
        raise NotImplementedError

    def append(self, *records: Record) -> None:
        raise NotImplementedError

    def fact(self, topic: str, data: dict[str, Any], invocation_id: str | None = None) -> None:
        raise NotImplementedError

    @guarded
    def record_room(self, ctx: Any) -> None:
        from livekit import rtc
        room, now = ctx.room, time.time()
        participants = [participant_data(p, rtc.ParticipantKind)
                        for p in room.remote_participants.values()]
        data = {"name": ctx.job.room.name, "room_object_name": room.name,
                "connection_state": enum_name(rtc.ConnectionState, room.connection_state),
                "participants": [p["identity"] for p in participants]}
        if ctx.is_fake_job():
            data["mock"] = True
            data["note"] = ("LiveKit's console mock room: ctx.room.name is always 'console'; "
                            "the job's room is ctx.job.room.name")
        sid = self.session_id
        self.append(Fact(sid, None, now, "room", data),
                    *[Fact(sid, None, now, "participant",
                           {"event": "present", **p, "mock": ctx.is_fake_job()})
                      for p in participants])
        if not ctx.is_fake_job():
            for participant in room.remote_participants.values():
                self.on_attributes_changed(dict(participant.attributes), participant)
                for publication in participant.track_publications.values():
                    self._track("present", publication, participant.identity)

    def watch_room(self, room: Any) -> None:
        """Follow a real room (not the console's mock room, which emits nothing)."""
        for name, handler in (
                ("connection_state_changed", self.on_connection_state),
                ("disconnected", self.on_disconnected),
                ("participant_connected", self.on_participant_connected),
                ("participant_disconnected", self.on_participant_disconnected),
                ("participant_attributes_changed", self.on_attributes_changed),
                ("track_published", self.on_track_published),
                ("track_unpublished", self.on_track_unpublished),
                ("track_subscribed", self.on_track_subscribed),
                ("local_track_published", self.on_local_track_published),
                ("data_received", self.on_data)):
            room.on(name, emitted(handler))
        self.fact("connection", {"state": "connected", "url": getattr(self, "server_url", None)})

    @guarded
    def on_connection_state(self, state: Any) -> None:
        from livekit import rtc
        self.fact("connection", {"state": enum_name(rtc.ConnectionState, state)})

    @guarded
    def on_disconnected(self, reason: Any) -> None:
        from livekit import rtc
        self.fact("connection", {"state": "disconnected",
                                 "reason": enum_name(rtc.DisconnectReason, reason)})

    @guarded
    def on_participant_connected(self, participant: Any) -> None:
        from livekit import rtc
        self.fact("participant", {"event": "connected",
                                  **participant_data(participant, rtc.ParticipantKind)})
        self.on_attributes_changed(dict(participant.attributes), participant)

    @guarded
    def on_participant_disconnected(self, participant: Any) -> None:
        from livekit import rtc
        data = participant_data(participant, rtc.ParticipantKind)
        reason = getattr(participant, "disconnect_reason", None)
        if reason is not None:
            data["reason"] = enum_name(rtc.DisconnectReason, reason)
        self.fact("participant", {"event": "disconnected", **data})

    @guarded
    def on_attributes_changed(self, changed: dict[str, str], participant: Any) -> None:
        """Participant attributes as state: scope `attributes`, key `identity.name`."""
        known = self._participant_attributes.setdefault(participant.identity, {})
        now, records = time.time(), []
        for name, value in changed.items():
            key = f"{participant.identity}.{name}"
            records.append(StateChange(self.sid, self.invocation, None, now,
                                       participant.identity, f"participant:{participant.identity}",
                                       key, "attributes", known.get(name), value or None, True))
            known[name] = value or None
        self.append(*records)

    @guarded
    def on_track_published(self, publication: Any, participant: Any) -> None:
        self._track("published", publication, participant.identity)

    @guarded
    def on_track_unpublished(self, publication: Any, participant: Any) -> None:
        self._track("unpublished", publication, participant.identity)

    @guarded
    def on_track_subscribed(self, track: Any, publication: Any, participant: Any) -> None:
        self._track("subscribed", publication, participant.identity)

    @guarded
    def on_local_track_published(self, publication: Any, track: Any) -> None:
        self._track("published", publication, getattr(self, "local_identity", None))

    def _track(self, event: str, publication: Any, identity: str | None) -> None:
        from livekit import rtc
        self.fact("track", {"event": event, "participant": identity,
                            **track_data(publication, rtc.TrackKind, rtc.TrackSource)})

    @guarded
    def on_data(self, packet: Any) -> None:
        from livekit import rtc
        payload = bytes(packet.data)
        try:
            text: str | None = payload[:DATA_TEXT_CHARS * 4].decode("utf-8")[:DATA_TEXT_CHARS]
        except UnicodeDecodeError:
            text = None
        sender = getattr(packet.participant, "identity", None)
        self.fact("data", {"event": "received", "from": sender, "topic": packet.topic or None,
                           "kind": enum_name(rtc.DataPacketKind, packet.kind),
                           "bytes": len(payload), "text": text})

    @guarded
    def on_text(self, sender: str | None, topic: str | None, text: str) -> None:
        """Chat text a participant sent (LiveKit's text input, on `lk.chat`)."""
        self.fact("text", {"event": "received", "from": sender, "topic": topic,
                           "text": text[:CHAT_TEXT_CHARS]}, self.invocation)
