"""A screening survey, in the shape of LiveKit's `examples/survey/agent.py`: the survey agent's
`on_enter` runs a `TaskGroup` of `AgentTask`s (LiveKit's own `GetEmailTask` among them), each
completing with a typed result; the group summarizes the conversation with `session.llm`, the
agent then evaluates the candidate with `session.llm` directly and keeps the results in
`userdata`. The session is started before `ctx.connect()`, as in the example."""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Annotated

from pydantic import Field

from livekit.agents import (Agent, AgentServer, AgentSession, AgentTask, JobContext, RunContext,
                            llm)
from livekit.agents.beta.workflows import GetEmailTask, TaskGroup
from livekit.agents.llm import function_tool

from ._standins import CloudLLM

logger = logging.getLogger("SurveyAgent")

CommuteMethods = ["driving", "bus", "subway", "none"]


@dataclass
class Userdata:
    candidate_name: str = ""
    task_results: dict = field(default_factory=dict)
    disqualification_reason: str | None = None


@dataclass
class IntroResults:
    name: str
    intro: str


@dataclass
class CommuteResults:
    can_commute: bool
    commute_method: str


@dataclass
class ExperienceResults:
    years_of_experience: int
    experience_description: str


async def evaluate_candidate(llm_model: llm.LLM, summary_text: str) -> str:
    """Asks the model for a verdict on the whole conversation."""
    chat_ctx = llm.ChatContext()
    chat_ctx.add_message(role="system", content="Evaluate whether this candidate is a good fit "
                                                "for the role. Be concise and firm.")
    chat_ctx.add_message(role="user", content=f"Conversation to evaluate:\n\n{summary_text}")
    chunks: list[str] = []
    async with llm_model.chat(chat_ctx=chat_ctx) as stream:
        async for chunk in stream:
            if chunk.delta and chunk.delta.content:
                chunks.append(chunk.delta.content)
    return "".join(chunks).strip()


@function_tool()
async def disqualify(context: RunContext, disqualification_reason: str) -> None:
    """Call if the candidate refuses to cooperate or does not meet the prerequisites.

    Args:
        disqualification_reason: The justification for ending the interview
    """
    context.session.userdata.disqualification_reason = disqualification_reason
    context.session.generate_reply(
        instructions=f"Inform the candidate that the interview ends: {disqualification_reason}")


class IntroTask(AgentTask[IntroResults]):
    def __init__(self) -> None:
        super().__init__(instructions="You are Alex, an interviewer screening a candidate for a "
                                      "software engineering position. Collect their name and "
                                      "introduction.")

    async def on_enter(self) -> None:
        await self.session.generate_reply(
            instructions="Welcome the candidate and gather their name after their introduction.")

    @function_tool()
    async def record_intro(self, context: RunContext, name: str, intro_notes: str) -> None:
        """Call to record the candidate's name and notes about their introduction.

        Args:
            name: The candidate's name
            intro_notes: The candidate's introduction
        """
        self.session.userdata.candidate_name = name
        self.complete(IntroResults(name=name, intro=intro_notes))


class CommuteTask(AgentTask[CommuteResults]):
    def __init__(self) -> None:
        super().__init__(instructions="Record if the candidate can commute to the office three "
                                      "days a week, and how.", tools=[disqualify])

    async def on_enter(self) -> None:
        await self.session.generate_reply(instructions="Ask about their commute.")

    @function_tool()
    async def record_commute_flexibility(
        self, context: RunContext, can_commute: bool,
        commute_method: Annotated[str, Field(json_schema_extra={"enum": CommuteMethods})],
    ) -> None:
        """Call to record whether the candidate can commute, and their method of transport.

        Args:
            can_commute: If the candidate can commute to the office
            commute_method: How the candidate will commute
        """
        self.complete(CommuteResults(can_commute=can_commute, commute_method=commute_method))


class ExperienceTask(AgentTask[ExperienceResults]):
    def __init__(self) -> None:
        super().__init__(instructions="Record the candidate's years of experience and a "
                                      "description of their previous roles.",
                         tools=[disqualify])

    async def on_enter(self) -> None:
        await self.session.generate_reply(instructions="Ask about their work experience.")

    @function_tool()
    async def record_experience(self, context: RunContext, years_of_experience: int,
                                experience_description: str) -> None:
        """Call to record the candidate's work experience.

        Args:
            years_of_experience: The years of experience the candidate has
            experience_description: A description of each role they held
        """
        self.complete(ExperienceResults(years_of_experience=years_of_experience,
                                        experience_description=experience_description))


class SurveyAgent(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You are a survey agent screening candidates for a "
                                      "software engineer position. When the interview is "
                                      "concluded, call end_screening.")

    async def on_enter(self) -> None:
        task_group = TaskGroup()
        task_group.add(lambda: IntroTask(), id="get_name_intro_task",
                       description="Collects name and introduction")
        task_group.add(lambda: GetEmailTask(require_confirmation=False, tools=[disqualify]),
                       id="get_email_task", description="Collects email")
        task_group.add(lambda: CommuteTask(), id="commute_task",
                       description="Asks about commute and method of transportation")
        task_group.add(lambda: ExperienceTask(), id="experience_task",
                       description="Collects years of experience and work history")

        results = (await task_group).task_results
        # the group's summary is the last message it merged into this agent's context
        summary = [item for item in self.chat_ctx.items if item.type == "message"][-1]
        evaluation = await evaluate_candidate(self.session.llm, summary.text_content or "")
        self.session.userdata.task_results = {
            "name": self.session.userdata.candidate_name,
            **{task_id: asdict(r) if hasattr(r, "__dataclass_fields__") else
               {"email_address": r.email_address} for task_id, r in results.items()},
            "summary": summary.text_content,
            "evaluation": evaluation,
        }
        await self.session.generate_reply(
            instructions="The interview is complete: thank the candidate for their time.")

    @function_tool()
    async def end_screening(self) -> None:
        """Call when the interview is concluded to hang up."""
        self.session.shutdown()


server = AgentServer()


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    session = AgentSession[Userdata](
        userdata=Userdata(),
        llm=CloudLLM("google/gemma-4-31b-it"),
    )

    async def log_usage() -> None:
        logger.info("Usage: %s", session.usage)

    ctx.add_shutdown_callback(log_usage)
    await session.start(agent=SurveyAgent(), room=ctx.room)
    await ctx.connect()
