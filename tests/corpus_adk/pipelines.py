"""Sequential, Parallel and Loop agents passing work on through `output_key`, like the docs'
code-pipeline and iterative-refinement examples; the drafter's agent callbacks write state too,
and the loop ends with ADK's `exit_loop` tool."""
from google.adk.agents import LlmAgent, LoopAgent, ParallelAgent, SequentialAgent
from google.adk.agents.callback_context import CallbackContext
from google.adk.tools import exit_loop

from agentnb.adk import ScriptedLlm, call, reply

from . import Case


def mark_started(callback_context: CallbackContext):
    callback_context.state["stage"] = "drafting"
    callback_context.state["temp:drafting_since"] = "now"


def mark_drafted(callback_context: CallbackContext):
    callback_context.state["stage"] = "drafted"


def build() -> Case:
    drafter = LlmAgent(
        name="drafter", model=ScriptedLlm([reply("def add(a, b): return a + b")]),
        instruction="Write a Python function for: {topic}", output_key="draft",
        before_agent_callback=mark_started, after_agent_callback=mark_drafted)
    style_reviewer = LlmAgent(
        name="style_reviewer", model=ScriptedLlm([reply("Add a docstring.")]),
        instruction="Review the style of: {draft}", output_key="style_notes")
    safety_reviewer = LlmAgent(
        name="safety_reviewer", model=ScriptedLlm([reply("No issues.")]),
        instruction="Review the safety of: {draft}", output_key="safety_notes")
    reviews = ParallelAgent(name="reviews", sub_agents=[style_reviewer, safety_reviewer])
    refiner = LlmAgent(
        name="refiner",
        model=ScriptedLlm([reply('def add(a, b):\n    """Add."""\n    return a + b'), call("exit_loop")]),
        instruction="Improve {draft} using {style_notes} and {safety_notes}; call exit_loop when done.",
        tools=[exit_loop], output_key="draft")
    refinement = LoopAgent(name="refinement", sub_agents=[refiner], max_iterations=3)
    root = SequentialAgent(name="code_pipeline", sub_agents=[drafter, reviews, refinement])
    return Case(
        name="pipelines", root=root, turns=["an add function"],
        runner_kwargs={"state": {"topic": "adding two numbers"}},
        statuses=["ok"],
        sources=[("topic", "initial"), ("stage", "before_agent_callback:drafter"),
                 ("stage", "after_agent_callback:drafter"), ("draft", "output_key:drafter"),
                 ("style_notes", "output_key:style_reviewer"),
                 ("safety_notes", "output_key:safety_reviewer"), ("draft", "output_key:refiner")],
    )
