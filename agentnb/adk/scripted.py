"""`ScriptedLlm`: a real ADK model that plays a script (see `agentnb.core.script`)."""
from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any

from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_response import LlmResponse
from google.genai import types

from ..core.script import Call, Script, Step
from .mapping import last_user_text


class ScriptedLlm(BaseLlm):
    """A real ADK `BaseLlm` that plays a script instead of calling a model (see `_steps`)."""

    model: str = "scripted"
    _script: Script   # a pydantic private attribute: not a field of the model

    def __init__(self, steps: Sequence[Step] | None = None, *, model: str = "scripted") -> None:
        super().__init__(model=model)
        self._script = Script(steps, "ScriptedLlm")

    @property
    def calls(self) -> int:
        """How many times the model has been called."""
        return self._script.calls

    async def generate_content_async(self, llm_request: Any, stream: bool = False
                                     ) -> AsyncGenerator[LlmResponse, None]:
        step = self._script.next(llm_request, lambda: last_user_text(llm_request.contents))
        first = step[0]
        if isinstance(first, Call):
            parts = [types.Part(function_call=types.FunctionCall(name=c.name, args=dict(c.args)))
                     for c in step if isinstance(c, Call)]
        else:
            parts = [types.Part(text=first.text)]
        yield LlmResponse(
            content=types.Content(role="model", parts=parts),
            usage_metadata=types.GenerateContentResponseUsageMetadata(
                prompt_token_count=0, candidates_token_count=0, total_token_count=0))

