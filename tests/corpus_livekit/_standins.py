"""Cheap offline stand-ins for what LiveKit's examples load or call over the network."""
from __future__ import annotations

import threading

from livekit.agents import APIConnectionError, llm, stt, tts, vad


class CloudLLM(llm.LLM):
    """Stands in for `openai.LLM(model=...)` / `inference.LLM(...)`: a hosted model an example
    constructs itself. Offline it must never be used; its prewarm (LiveKit opens DNS/TLS to the
    provider when a session or an agent activity starts) and its calls are counted."""

    made: list = []          # every instance, in order (tests clear it)

    def __init__(self, model: str = "gpt-4.1-mini", **options) -> None:
        super().__init__()
        self._model, self.options = model, options
        self.prewarms = 0
        self.chats = 0
        CloudLLM.made.append(self)

    @property
    def model(self) -> str:
        return self._model

    @property
    def provider(self) -> str:
        return "cloud"

    async def _prewarm_impl(self) -> None:
        self.prewarms += 1

    def chat(self, **kwargs):
        self.chats += 1
        raise APIConnectionError(f"{self._model}: no network here (a cloud model was called)")


class CloudTTS(tts.TTS):
    """Stands in for `inference.TTS("cartesia/sonic-3")` / `openai.TTS(...)`: a hosted voice.
    Offline it must never synthesize; prewarms (a connection) and uses are counted."""

    made: list = []

    def __init__(self, model: str = "cartesia/sonic-3", **options) -> None:
        super().__init__(capabilities=tts.TTSCapabilities(streaming=False), sample_rate=24000,
                         num_channels=1)
        self._model, self.options = model, options
        self.prewarms = self.uses = 0
        CloudTTS.made.append(self)

    @property
    def model(self) -> str:
        return self._model

    @property
    def provider(self) -> str:
        return "cloud"

    def prewarm(self) -> None:
        self.prewarms += 1

    def synthesize(self, text, **kwargs):
        self.uses += 1
        raise APIConnectionError(f"{self._model}: no network here (a cloud voice was used)")


class CloudSTT(stt.STT):
    """Stands in for `inference.STT("deepgram/nova-3")`: hosted speech recognition."""

    made: list = []

    def __init__(self, model: str = "deepgram/nova-3", **options) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False,
                                                          interim_results=False))
        self._model, self.options = model, options
        self.prewarms = self.uses = 0
        CloudSTT.made.append(self)

    @property
    def model(self) -> str:
        return self._model

    @property
    def provider(self) -> str:
        return "cloud"

    def prewarm(self) -> None:
        self.prewarms += 1

    async def _recognize_impl(self, buffer, **kwargs):
        self.uses += 1
        raise APIConnectionError(f"{self._model}: no network here (a cloud STT was used)")

    def stream(self, **kwargs):
        self.uses += 1
        raise APIConnectionError(f"{self._model}: no network here (a cloud STT was used)")


class QuietVAD(vad.VAD):
    """Stands in for `silero.VAD.load()`: a real `vad.VAD` that hears nothing."""

    loads = 0

    @classmethod
    def load(cls, **options) -> QuietVAD:
        cls.loads += 1
        return cls()

    def __init__(self) -> None:
        super().__init__(capabilities=vad.VADCapabilities(update_interval=0.032))

    def stream(self) -> vad.VADStream:
        return _QuietStream(self)


class _QuietStream(vad.VADStream):
    async def _main_task(self) -> None:
        async for _ in self._input_ch:
            pass


class ReservationClient:
    """A client object of the kind examples keep in userdata (an API or database handle):
    it holds a lock and a connection-like state, and cannot be deep-copied."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._lock = threading.Lock()
        self.bookings: list[tuple[str, str]] = []

    async def book(self, name: str, time: str) -> str:
        with self._lock:
            self.bookings.append((name, time))
            return f"R-{len(self.bookings):03d}"

    def __repr__(self) -> str:
        return f"ReservationClient({self.base_url!r}, {len(self.bookings)} bookings)"
