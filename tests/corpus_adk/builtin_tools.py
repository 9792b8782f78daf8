"""What real Gemini turns look like, played by the scripted model: an agent with the built-in
`google_search` tool (which ADK only attaches for Gemini model ids), and one model turn holding a
thought, text and a function call together."""
from google.adk.agents import LlmAgent
from google.adk.tools import google_search
from google.adk.tools.agent_tool import AgentTool

from agentnb import adk
from agentnb.adk import ScriptedLlm, call, reply

from . import Case


def get_time(city: str) -> dict:
    """Returns the local time in a city."""
    return {"city": city, "time": "10:10"}


def _mixed_step():
    """One model turn with a thought, text and a call (issue 20 item 10). `thought` is the
    constructor this corpus proposes; the step is a list mixing part constructors."""
    thought = getattr(adk, "thought", None)
    if thought is None:
        raise AttributeError("agentnb.adk has no thought(...) step constructor (issue 20 item 10)")
    return [thought("The user wants the time; call get_time."), reply("Let me check."),
            call("get_time", city="Paris")]


def build() -> Case:
    searcher = LlmAgent(name="searcher", model=ScriptedLlm([reply("Paris is the capital of France.")]),
                        instruction="Answer with Google Search.", tools=[google_search])
    steps = [lambda request: _mixed_step()] if getattr(adk, "thought", None) is None else [_mixed_step()]
    assistant = LlmAgent(
        name="assistant",
        model=ScriptedLlm([*steps, call("searcher", request="capital of France"),
                           reply("It is 10:10 in Paris, the capital of France.")]),
        instruction="Answer questions.", tools=[get_time, AgentTool(agent=searcher)],
        output_key="answer")
    return Case(
        name="builtin_tools", root=assistant, turns=["What time is it in the capital of France?"],
        statuses=["ok"],
        sources=[("answer", "output_key:assistant")],
        extra={"mixed_text": "Let me check.", "thought": "The user wants the time; call get_time."},
        notes="google_search raises for non-Gemini model ids (tools/google_search_tool.py).",
    )
