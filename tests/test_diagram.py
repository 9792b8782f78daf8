"""The sequence diagram of a real invocation: Mermaid source and SVG, escaped."""
import asyncio

from google.adk.agents import LlmAgent
from google.adk.tools import ToolContext
from google.genai import types

from agentnb.adk import NotebookRunner, ScriptedLlm, call, reply


async def slow_tool(note: str, tool_context: ToolContext) -> dict:
    tool_context.state["note"] = note
    tool_context.state["temp:t"] = 1
    await tool_context.save_artifact("n.txt", types.Part(text=note))
    return {"ok": True}


def test_sequence_diagram_from_a_real_run():
    agent = LlmAgent(name="a", model=ScriptedLlm([call("slow_tool", note="x"), reply("done <b>bold</b>")]),
                     tools=[slow_tool])
    runner = NotebookRunner(agent, display=False)
    inv = asyncio.run(runner.ask("hi"))
    diagram = inv.diagram()
    lines = diagram.source.splitlines()
    assert lines[0] == "sequenceDiagram"
    assert lines[7:] == ["    U->>R: hi", "    R->>A: run a", "    A->>M: request", "    M-->>A: call slow_tool",
                         "    A->>T: slow_tool   note :  x", "    T-->>A: slow_tool result",
                         "    T->>S: note =  x", "    T->>S: temp:t = 1",
                         "    A->>M: request", "    M-->>A: done  b bold  b", "    R-->>U: ok"]
    bundle = diagram._repr_mimebundle_()
    assert bundle["text/vnd.mermaid"] == diagram.source
    assert "<b>" not in bundle["text/html"] and "done &lt;b&gt;bold&lt;/b&gt;" in bundle["text/html"]
    # the card itself has no diagram: a saved card stays small (inv.diagram() draws it)
