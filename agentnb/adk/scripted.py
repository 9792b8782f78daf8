"""`ScriptedLlm`: a real ADK model that plays a script (see `agentnb.core.script`)."""
from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_response import LlmResponse
from google.genai import types

from ..core.script import Script, Step
from .mapping import last_user_text
from .scripted_live import ScriptedLiveConnection, as_part

# A Gemini-style model id: ADK attaches Gemini's built-in tools (google_search,
# BuiltInCodeExecutor, ...) only for ids matching ^gemini- and refuses them otherwise.
DEFAULT_MODEL = "gemini-scripted"


class ScriptedLlm(BaseLlm):
    """A real ADK `BaseLlm` that plays a script instead of calling a model (see
    `agentnb.core.script`). A step may mix `thought(...)`, `reply(...)` and `call(...)` parts.
    Built-in Gemini tools are attached by ADK and ignored by the script; steps play their
    results. It also plays a live session (`Runner.run_live()`, see `connect`)."""

    model: str = DEFAULT_MODEL
    _script: Script   # a pydantic private attribute: not a field of the model

    def __init__(self, steps: Sequence[Step] | None = None, *, model: str = DEFAULT_MODEL) -> None:
        super().__init__(model=model)
        self._script = Script(steps, "ScriptedLlm", mixed=True)

    @property
    def calls(self) -> int:
        """How many times the model has been called."""
        return self._script.calls

    async def generate_content_async(self, llm_request: Any, stream: bool = False
                                     ) -> AsyncGenerator[LlmResponse, None]:
        step = self._script.next(llm_request, lambda: last_user_text(llm_request.contents))
        yield LlmResponse(
            content=types.Content(role="model", parts=[as_part(p) for p in step]),
            usage_metadata=types.GenerateContentResponseUsageMetadata(
                prompt_token_count=0, candidates_token_count=0, total_token_count=0))

    @contextlib.asynccontextmanager
    async def connect(self, llm_request: Any) -> AsyncIterator[ScriptedLiveConnection]:
        """A live session for `Runner.run_live()`: each user message, batch of tool results
        and end of the caller's speech takes the next step of the same script (see
        `ScriptedLiveConnection`)."""
        connection = ScriptedLiveConnection(self._script, llm_request)
        try:
            yield connection
        finally:
            await connection.close()
