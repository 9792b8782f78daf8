"""Callbacks that short-circuit, like ADK's callbacks docs: a before_model guardrail that
answers instead of the model (returning an LlmResponse), a before_tool guard that returns the
tool's result itself (a dict), and an after_model callback that counts model turns."""
from typing import Any

from google.adk.agents import LlmAgent
from google.adk.agents.callback_context import CallbackContext
from google.adk.models import LlmRequest, LlmResponse
from google.adk.tools import BaseTool, ToolContext
from google.genai import types

from agentnb.adk import ScriptedLlm, call, reply

from . import Ask, Case


def block_forbidden(callback_context: CallbackContext, llm_request: LlmRequest) -> LlmResponse | None:
    last = llm_request.contents[-1] if llm_request.contents else None
    text = "".join(p.text or "" for p in (last.parts or [])) if last else ""
    if "forbidden" in text.lower():
        callback_context.state["guardrail_hits"] = callback_context.state.get("guardrail_hits", 0) + 1
        return LlmResponse(content=types.Content(
            role="model", parts=[types.Part(text="I cannot help with that.")]))
    return None


def count_turns(callback_context: CallbackContext, llm_response: LlmResponse) -> LlmResponse | None:
    callback_context.state["model_turns"] = callback_context.state.get("model_turns", 0) + 1
    return None


def guard_city(tool: BaseTool, args: dict[str, Any], tool_context: ToolContext) -> dict | None:
    if tool.name == "get_weather" and args.get("city", "").lower() == "atlantis":
        tool_context.state["blocked_city"] = args["city"]
        return {"status": "error", "message": "That city is not on the map."}
    return None


def get_weather(city: str, tool_context: ToolContext) -> dict:
    """Returns the weather in a city."""
    tool_context.state["last_city"] = city
    return {"city": city, "forecast": "sunny"}


def build() -> Case:
    agent = LlmAgent(
        name="guarded_weather",
        model=ScriptedLlm([call("get_weather", city="Atlantis"), reply("Atlantis is not a real city."),
                           call("get_weather", city="Paris"), reply("Sunny in Paris.")]),
        instruction="Tell the weather.", tools=[get_weather],
        before_model_callback=block_forbidden, after_model_callback=count_turns,
        before_tool_callback=guard_city)
    return Case(
        name="short_circuit", root=agent,
        turns=[Ask("Weather in Atlantis?", state_delta={"units": "metric"}), "Tell me something forbidden", "Weather in Paris?"],
        statuses=["ok", "ok", "ok"],
        sources=[("units", "user"), ("guardrail_hits", "before_model_callback:guarded_weather"),
                 ("model_turns", "after_model_callback:guarded_weather"),
                 ("blocked_city", "before_tool_callback:guarded_weather"),
                 ("last_city", "tool:get_weather")],
        notes="before_tool_callback is not in issue 20's list of writers; named by analogy.",
    )
