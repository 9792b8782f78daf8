"""A storyteller that hands off between agents, in the shape of LiveKit's
`examples/voice_agents/multi_agent.py`: the intro agent gathers the user's name and location
into `userdata`, then a tool returns the story agent, which brings its own model (the example
gives it a realtime model)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from livekit.agents import (Agent, AgentServer, AgentSession, ChatContext, JobContext,
                            MetricsCollectedEvent, RunContext, metrics)
from livekit.agents.llm import function_tool

from ._standins import CloudLLM

logger = logging.getLogger("multi-agent")

common_instructions = ("Your name is Echo. You are a story teller that interacts with the user "
                       "via voice. You are curious and friendly, with a sense of humor.")


@dataclass
class StoryData:
    # shared by the agents, passed to the tools as context.userdata
    name: str | None = None
    location: str | None = None


class IntroAgent(Agent):
    def __init__(self) -> None:
        super().__init__(
            instructions=f"{common_instructions} Gather the user's name and where they are "
                         "from to make the story personalized. Start with a short introduction.")

    async def on_enter(self) -> None:
        self.session.generate_reply()

    @function_tool
    async def information_gathered(self, context: RunContext[StoryData], name: str,
                                   location: str):
        """Called when the user has provided the information needed to make the story
        personalized and engaging.

        Args:
            name: The name of the user
            location: The location of the user
        """
        context.userdata.name = name
        context.userdata.location = location
        story_agent = StoryAgent(name, location)
        logger.info("switching to the story agent with the provided user data: %s",
                    context.userdata)
        return story_agent


class StoryAgent(Agent):
    def __init__(self, name: str, location: str, *, chat_ctx: ChatContext | None = None) -> None:
        super().__init__(
            instructions=f"{common_instructions} Use the user's information to make the story "
                         f"personalized. The user's name is {name}, from {location}.",
            # each agent may bring its own model (the example: a realtime model)
            llm=CloudLLM("gpt-realtime"),
            chat_ctx=chat_ctx,
        )

    async def on_enter(self) -> None:
        self.session.generate_reply()

    @function_tool
    async def story_finished(self, context: RunContext[StoryData]):
        """When you are finished telling the story (and the user confirms they don't want
        any more), call this function to end the conversation."""
        self.session.interrupt()
        await self.session.generate_reply(
            instructions=f"say goodbye to {context.userdata.name}", allow_interruptions=False)


server = AgentServer()


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    session = AgentSession[StoryData](
        llm=CloudLLM("openai/gpt-4.1-mini"),
        userdata=StoryData(),
    )

    @session.on("metrics_collected")
    def _on_metrics_collected(ev: MetricsCollectedEvent) -> None:
        metrics.log_metrics(ev.metrics)

    async def log_usage() -> None:
        logger.info("Usage: %s", session.usage)

    ctx.add_shutdown_callback(log_usage)

    await session.start(agent=IntroAgent(), room=ctx.room)
