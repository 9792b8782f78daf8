"""Memory across sessions, like ADK's memory sample: a first session is added to an
InMemoryMemoryService; in a second session the agent has `preload_memory` (searched before every
model call) and `load_memory` (a tool the model calls)."""
from google.adk.agents import LlmAgent
from google.adk.memory import InMemoryMemoryService
from google.adk.tools import load_memory, preload_memory

from agentnb.adk import ScriptedLlm, call, reply

from . import Case, Remember


def build() -> Case:
    agent = LlmAgent(
        name="memory_keeper",
        model=ScriptedLlm([reply("Noted: you like oolong tea."),
                           call("load_memory", query="oolong"), reply("You like oolong tea.")]),
        instruction="Use your memory of past conversations.",
        tools=[preload_memory, load_memory])
    return Case(
        name="memory", root=agent,
        turns=["My favourite tea is oolong", Remember(), "Which tea do I like? oolong?"],
        runner_kwargs={"memory_service": InMemoryMemoryService()},
        statuses=["ok", "ok"],
    )
