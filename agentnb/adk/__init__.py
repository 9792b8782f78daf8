"""The ADK adapter: maps a real Google ADK 2.x run onto agentnb's neutral trace.

`NotebookRunner` builds an ADK `App` whose plugins include `AdkObserver`, and runs it on ADK's
own `Runner`. `ScriptedLlm` is a real ADK model that plays a script, offline.
"""
from __future__ import annotations

from ..core.script import call, reply, thought
from .mapping import describe_part
from .observer import AdkObserver
from .runner import NotebookRunner
from .scripted import ScriptedLlm

__all__ = ["AdkObserver", "NotebookRunner", "ScriptedLlm", "call", "describe_part", "reply", "thought"]
