"""An ADK agent answering in a LiveKit room, on ADK's own bridge
(`google.adk.integrations.livekit.LiveKitRunner`), observed on both sides: ADK's invocation,
state, artifacts and tool calls through agentnb's ADK observer plugin, the room's participants,
tracks, attributes and data through agentnb's LiveKit room mapping, into one trace.

This package joins the two adapters (which know nothing of each other), so it sits above both.
"""
from __future__ import annotations

from .agent import AdkRoomAgent

__all__ = ["AdkRoomAgent"]
