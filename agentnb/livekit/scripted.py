"""`ScriptedLLM`: a real LiveKit `llm.LLM` that plays a script (see `agentnb.core.script`).

The class subclasses LiveKit's `llm.LLM`, so it is built on first use, not on import (importing
LiveKit takes seconds).
"""
from __future__ import annotations

import functools
import inspect
import json
from dataclasses import dataclass, field
from typing import Any

from ..core.script import Call, Reply, Script
from .internals import activity_agent


@dataclass
class ModelCall:
    """What one call of the model was given: a callable step gets `chat_ctx` first, then the
    keywords its signature takes of `tools`, `tool_choice` and `agent` (the Agent asking)."""
    chat_ctx: Any
    tools: list[Any] = field(default_factory=list)
    tool_choice: Any = None
    agent: Any = None


def with_model_call(step: Any) -> Any:
    """A callable step as the script's language calls it (`f(request)`): `step(chat_ctx,
    **what it accepts of the model call)`, so `f(chat_ctx)` keeps working."""
    if not callable(step) or isinstance(step, (Reply, Call)):
        return step
    try:
        parameters = inspect.signature(step).parameters.values()
    except (TypeError, ValueError):
        parameters = None
    names = {"tools", "tool_choice", "agent"}
    if parameters is not None and not any(p.kind == p.VAR_KEYWORD for p in parameters):
        names &= {p.name for p in parameters if p.kind in (p.KEYWORD_ONLY,
                                                            p.POSITIONAL_OR_KEYWORD)}

    def scripted(request: ModelCall) -> Any:
        return step(request.chat_ctx, **{name: getattr(request, name) for name in names})
    return scripted


def _steps(steps: Any) -> Any:
    """The script's steps (or its one callable for every call) with callables called as above."""
    if isinstance(steps, (list, tuple)):
        return [with_model_call(s) for s in steps]
    return with_model_call(steps)


@functools.cache
def scripted_llm_class() -> Any:
    from livekit.agents import llm, utils
    from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN

    class ScriptedLLM(llm.LLM):
        """A real LiveKit `llm.LLM` that plays a script instead of calling a model (see `_steps`):
        `reply(text)`, `call(name, **args)`, a list of `call(...)`, or a callable step
        `f(chat_ctx, *, tools, tool_choice, agent) -> step` (it gets the keywords it names).
        No steps (None) echoes the last user text; running out of steps is an error."""

        def __init__(self, steps=None, *, model: str = "scripted"):
            super().__init__()
            self._script = Script(_steps(steps), "ScriptedLLM")
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
            stream = _ScriptedStream(self, chat_ctx=chat_ctx, tools=tools or [],
                                     conn_options=conn_options)
            # Read here, in the task of the agent activity that asks.
            stream.model_call = ModelCall(chat_ctx, list(tools or []),
                                          tool_choice if utils.is_given(tool_choice) else None,
                                          activity_agent())
            return stream

    class _ScriptedStream(llm.LLMStream):
        model_call: ModelCall | None = None

        async def _run(self) -> None:
            # Raised here, a step error takes LiveKit's own path for a failing model: an
            # `error` event, and the run's RunResult raises it.
            request = self.model_call or ModelCall(self._chat_ctx)
            request.chat_ctx = self._chat_ctx
            step = self._llm._script.next(  # type: ignore[attr-defined]
                request, lambda: last_user_text(self._chat_ctx))
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
