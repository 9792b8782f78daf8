"""Rewind with artifacts, as ADK's `runner.rewind_async` does it: a tool saves artifact
versions and writes state; rewinding to before the second turn restores state and saves new
artifact versions (the old content again, or a tombstone for a file that did not exist)."""
from google.adk.agents import LlmAgent
from google.adk.tools import ToolContext
from google.genai import types

from agentnb.adk import ScriptedLlm, call, reply

from . import Case, Rewind


async def save_note(text: str, tool_context: ToolContext) -> dict:
    """Saves a note as an artifact."""
    version = await tool_context.save_artifact("note.txt", types.Part(text=text))
    tool_context.state["note_count"] = tool_context.state.get("note_count", 0) + 1
    tool_context.state["last_note"] = text
    if "draft" in text:
        await tool_context.save_artifact("draft.md", types.Part(text=f"# {text}"))
    return {"version": version}


def build() -> Case:
    agent = LlmAgent(
        name="note_taker",
        model=ScriptedLlm([call("save_note", text="buy milk"), reply("Saved."),
                           call("save_note", text="draft a letter"), reply("Saved again."),
                           reply("Back to the first note.")]),
        instruction="Save notes.", tools=[save_note])
    return Case(
        name="rewind", root=agent,
        turns=["note: buy milk", "note: draft a letter", Rewind(turn=1), "what is my note?"],
        runner_kwargs={"state": {"owner": "ada"}},
        statuses=["ok", "ok", "ok"],
        sources=[("note_count", "tool:save_note"), ("note_count", "rewind"), ("last_note", "rewind")],
        extra={"versions": {"note.txt": [0, 1, 2], "draft.md": [0, 1]}},
    )
