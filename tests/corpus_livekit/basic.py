"""A basic agent with a tool, in the shape of LiveKit's `examples/voice_agents/basic_agent.py`:
hosted STT, LLM and TTS, a greeting in `on_enter`, a weather tool that raises `ToolError` for
places it does not know, VAD loaded once per process in `prewarm` (as the examples did with
`silero.VAD.load()`), usage logged by a shutdown callback."""
from __future__ import annotations

import logging

from livekit.agents import (Agent, AgentServer, AgentSession, JobContext, JobProcess,
                            MetricsCollectedEvent, RunContext, ToolError, metrics)
from livekit.agents.llm import function_tool

from ._standins import CloudLLM, CloudSTT, CloudTTS, QuietVAD

logger = logging.getLogger("basic-agent")

KNOWN_WEATHER = {"paris": "sunny with a temperature of 70 degrees",
                 "oslo": "snowing, 20 degrees"}


class MyAgent(Agent):
    def __init__(self) -> None:
        super().__init__(
            instructions="Your name is Kelly. You interact with users via voice. Keep your "
                         "responses concise and to the point. You are curious and friendly.")

    async def on_enter(self) -> None:
        # when the agent is added to the session, it generates a reply from its instructions
        self.session.generate_reply(instructions="greet the user and introduce yourself")

    @function_tool
    async def lookup_weather(self, context: RunContext, location: str, latitude: str,
                             longitude: str) -> str:
        """Called when the user asks for weather related information.

        Args:
            location: The location they are asking for
            latitude: The latitude of the location, do not ask user for it
            longitude: The longitude of the location, do not ask user for it
        """
        logger.info("Looking up weather for %s", location)
        weather = KNOWN_WEATHER.get(location.lower())
        if weather is None:
            # LiveKit hands the message to the model, which tells the user
            raise ToolError(f"no weather data for {location}")
        return weather


server = AgentServer()


def prewarm(proc: JobProcess) -> None:
    proc.userdata["vad"] = QuietVAD.load()


server.setup_fnc = prewarm


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    ctx.log_context_fields = {"room": ctx.room.name}
    session = AgentSession(
        # ears, brain and voice, as in the example: hosted models
        stt=CloudSTT("deepgram/nova-3", language="multi"),
        llm=CloudLLM("openai/gpt-4.1-mini"),
        tts=CloudTTS("cartesia/sonic-3", voice="9626c31c-bec5-4cca-baa8-f8ba9e84c8bc"),
        vad=ctx.proc.userdata["vad"],
    )

    @session.on("metrics_collected")
    def _on_metrics_collected(ev: MetricsCollectedEvent) -> None:
        metrics.log_metrics(ev.metrics)

    async def log_usage() -> None:
        logger.info("Usage: %s", session.usage)

    ctx.add_shutdown_callback(log_usage)

    await session.start(agent=MyAgent(), room=ctx.room)
