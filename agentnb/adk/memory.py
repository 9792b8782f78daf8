"""A memory service wrapper that records what the agent searched for and added."""
from __future__ import annotations

import time
from typing import Any

from google.adk.memory.base_memory_service import BaseMemoryService

from ..core.records import Fact
from ..core.trace import Trace
from .mapping import text_of
from .observer import current_agent
from .provenance import running_tool_call


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
        session_id, invocation_id, call_id, tool = self._searcher()
        hits = [{"author": m.author, "text": text_of(m.content)} for m in response.memories]
        self.trace.append(Fact(session_id, invocation_id, time.time(), "memory_search",
                               {"query": query, "tool": tool, "function_call_id": call_id,
                                "hits": hits}))
        return response

    @staticmethod
    def _searcher() -> tuple[str | None, str | None, str | None, str | None]:
        """Who searches: the tool call running (load_memory), else the agent running, whose
        preload_memory tool searches before each model call (ADK passes only the query)."""
        call = running_tool_call()
        if call is not None:
            return call
        running = current_agent.get()
        if running is None:
            return None, None, None, None
        session_id, invocation_id, agent = running
        tools = getattr(agent, "tools", None) or ()
        preload = any(type(t).__name__ == "PreloadMemoryTool" for t in tools)
        return session_id, invocation_id, None, "preload_memory" if preload else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

