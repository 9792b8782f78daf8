"""A memory service wrapper that records what the agent searched for and added."""
from __future__ import annotations

import time
from typing import Any

from google.adk.memory.base_memory_service import BaseMemoryService

from ..core.records import Fact
from ..core.trace import Trace
from .mapping import text_of
from .observer import current_tool_call


class ObservedMemory(BaseMemoryService):
    """A memory service that records each search (query and hits) and each session added,
    then hands the call to the real service."""

    def __init__(self, inner: BaseMemoryService, trace: Trace) -> None:
        self.inner, self.trace = inner, trace

    async def add_session_to_memory(self, session: Any) -> None:
        await self.inner.add_session_to_memory(session)
        self.trace.append(Fact(session.id, None, time.time(), "memory_add",
                               {"session_id": session.id, "events": len(session.events)}))

    async def search_memory(self, *, app_name: str, user_id: str, query: str) -> Any:
        response = await self.inner.search_memory(app_name=app_name, user_id=user_id, query=query)
        session_id, invocation_id, call_id, tool = current_tool_call.get() or (None, None, None, None)
        hits = [{"author": m.author, "text": text_of(m.content)} for m in response.memories]
        self.trace.append(Fact(session_id, invocation_id, time.time(), "memory_search",
                               {"query": query, "tool": tool, "function_call_id": call_id,
                                "hits": hits}))
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

