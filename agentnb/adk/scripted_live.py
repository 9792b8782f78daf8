"""`ScriptedLiveConnection`: the live (bidirectional) session of a `ScriptedLlm`, what ADK's
`Runner.run_live()` talks to through `BaseLlm.connect()`.

ADK's live flow sends each user message (`send_content`), each batch of tool results (also
`send_content`) and the caller's audio and video (`send_realtime`), and reads the model's turns
from `receive()`, one turn per call: `receive()` ends after a `turn_complete`, and a `receive()`
that yields nothing tells ADK the connection is done. The connection answers as Gemini's does
(`models/gemini_llm_connection.py`): text is spoken in an AUDIO session, so a reply comes as an
output transcription (a partial chunk, then the finished text) and in a TEXT session as a model
part; tool calls come as function-call parts; each turn ends with `turn_complete`. No audio
bytes are made: a scripted model has words, not a voice.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from google.adk.models.base_llm_connection import BaseLlmConnection
from google.adk.models.llm_response import LlmResponse
from google.genai import types

from ..core.script import Call, Part, Script, Thought
from .mapping import last_user_text

_CLOSED = object()   # put on the turn queue by close(): the next receive() yields nothing


class ScriptedLiveConnection(BaseLlmConnection):
    """Answers each user message, each batch of tool results, and the end of each spell of the
    caller's audio (`ActivityEnd`, `audio_stream_end`) with the next step of `script`. Audio
    and video blobs alone are heard and not answered (a real model waits for the turn to end).
    A step that fails (the script ran out, a callable raised) raises from `receive()`, so the
    live run fails with it."""

    def __init__(self, script: Script, request: Any) -> None:
        config = request.live_connect_config
        modalities = [types.Modality(m) for m in (config.response_modalities or ())]
        self.spoken = types.Modality.AUDIO in modalities
        if self.spoken and config.output_audio_transcription is None:
            raise ValueError(
                "agentnb: ScriptedLlm has no voice: in an AUDIO live session its replies are "
                "the output transcription, so keep RunConfig.output_audio_transcription on "
                "(ADK's default) or ask for response_modalities=['TEXT']")
        self._script, self._request = script, request
        self._contents: list[types.Content] = list(request.contents or [])
        self._turns: asyncio.Queue[Any] = asyncio.Queue()

    async def send_history(self, history: list[types.Content]) -> None:
        # As Gemini: the model answers replayed history only when it ends with the user.
        self._contents = list(history)
        if history and history[-1].role == "user":
            self._answer()

    async def send_content(self, content: types.Content) -> None:
        await self._send_content(content)

    async def _send_content(self, content: types.Content, *, partial: bool = False) -> None:
        self._contents.append(content)
        if not partial:
            self._answer()

    async def send_realtime(self, blob: Any) -> None:
        if isinstance(blob, types.ActivityEnd) or (
                isinstance(blob, types.LiveClientRealtimeInput) and blob.audio_stream_end):
            self._answer()

    async def receive(self) -> AsyncGenerator[LlmResponse, None]:
        turn = await self._turns.get()
        if turn is _CLOSED:
            self._turns.put_nowait(_CLOSED)   # every later receive() ends too
            return
        if isinstance(turn, BaseException):
            raise turn
        for response in turn:
            yield response

    async def close(self) -> None:
        self._turns.put_nowait(_CLOSED)

    def _answer(self) -> None:
        """Play the next step as one model turn, for the next receive()."""
        request = self._request.model_copy(update={"contents": list(self._contents)})
        try:
            parts = self._script.next(request, lambda: last_user_text(self._contents))
        except Exception as exc:
            self._turns.put_nowait(exc)
            return
        turn: list[LlmResponse] = []
        said: list[types.Part] = []
        for part in parts:
            turn += self._responses(part)
            said.append(as_part(part))
        self._contents.append(types.Content(role="model", parts=said))
        turn.append(LlmResponse(turn_complete=True))
        self._turns.put_nowait(turn)

    def _responses(self, part: Part) -> list[LlmResponse]:
        if isinstance(part, Call | Thought) or not self.spoken:
            return [LlmResponse(content=types.Content(role="model", parts=[as_part(part)]),
                                partial=False)]
        # Spoken: the words arrive as transcription chunks, then the finished transcription.
        return [LlmResponse(output_transcription=types.Transcription(text=part.text, finished=False),
                            partial=True),
                LlmResponse(output_transcription=types.Transcription(text=part.text, finished=True),
                            partial=False)]


def as_part(part: Part) -> types.Part:
    """A step's part as a `types.Part`."""
    if isinstance(part, Call):
        return types.Part(function_call=types.FunctionCall(name=part.name, args=dict(part.args)))
    if isinstance(part, Thought):
        return types.Part(text=part.text, thought=True)
    return types.Part(text=part.text)
