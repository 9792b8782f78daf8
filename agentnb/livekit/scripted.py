"""`ScriptedLLM`: a real LiveKit `llm.LLM` that plays a script (see `agentnb.core.script`).

The class subclasses LiveKit's `llm.LLM`, so it is built on first use, not on import (importing
LiveKit takes seconds).
"""
from __future__ import annotations

import functools
import json
from typing import Any

from ..core.script import Call, Script


@functools.cache
def scripted_llm_class() -> Any:
    from livekit.agents import llm, utils
    from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN

    class ScriptedLLM(llm.LLM):
        """A real LiveKit `llm.LLM` that plays a script instead of calling a model (see `_steps`):
        `reply(text)`, `call(name, **args)`, a list of `call(...)`, or `f(chat_ctx) -> step`.
        No steps (None) echoes the last user text; running out of steps is an error."""

        def __init__(self, steps=None, *, model: str = "scripted"):
            super().__init__()
            self._script = Script(steps, "ScriptedLLM")
            self._model = model

        @property
        def model(self) -> str:
            return self._model

        @property
        def provider(self) -> str:
            return "agentnb"

        @property
        def calls(self) -> int:
            """How many times the model has been called."""
            return self._script.calls

        def chat(self, *, chat_ctx, tools=None, conn_options=DEFAULT_API_CONNECT_OPTIONS,
                 parallel_tool_calls=NOT_GIVEN, tool_choice=NOT_GIVEN, extra_kwargs=NOT_GIVEN):
            return _ScriptedStream(self, chat_ctx=chat_ctx, tools=tools or [],
                                   conn_options=conn_options)

    class _ScriptedStream(llm.LLMStream):
        async def _run(self) -> None:
            # Raised here, a step error takes LiveKit's own path for a failing model: an
            # `error` event, and the run's RunResult raises it.
            step = self._llm._script.next(  # type: ignore[attr-defined]
                self._chat_ctx, lambda: last_user_text(self._chat_ctx))
            if isinstance(step[0], Call):
                delta = llm.ChoiceDelta(role="assistant", tool_calls=[
                    llm.FunctionToolCall(name=c.name, arguments=json.dumps(c.args),
                                         call_id=utils.shortuuid("call_"))
                    for c in step])
            else:
                delta = llm.ChoiceDelta(role="assistant", content=step[0].text)
            self._event_ch.send_nowait(llm.ChatChunk(id=utils.shortuuid("scripted_"), delta=delta))

    ScriptedLLM.__module__ = _ScriptedStream.__module__ = "agentnb.livekit"
    ScriptedLLM.__qualname__ = "ScriptedLLM"
    return ScriptedLLM


def last_user_text(chat_ctx: Any) -> str:
    for item in reversed(chat_ctx.items):
        if getattr(item, "type", None) == "message" and item.role == "user" and item.text_content:
            return item.text_content
    return ""
