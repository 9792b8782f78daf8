"""A tool that needs an API key, like ADK's authentication docs: `tool_context.request_credential`
pauses the run; `runner.answer_credential(secret)` resumes it."""
from fastapi.openapi.models import APIKey, APIKeyIn
from google.adk.agents import LlmAgent
from google.adk.auth import AuthConfig, AuthCredential, AuthCredentialTypes
from google.adk.tools import ToolContext

from agentnb.adk import ScriptedLlm, call, reply

from . import Case, Credential

AUTH = AuthConfig(auth_scheme=APIKey(**{"in": APIKeyIn.header, "name": "X-Api-Key"}),
                  raw_auth_credential=AuthCredential(auth_type=AuthCredentialTypes.API_KEY))


def get_forecast(city: str, tool_context: ToolContext) -> dict:
    """Returns a forecast from a paid weather API."""
    credential = tool_context.get_auth_response(AUTH)
    if credential is None:
        tool_context.request_credential(AUTH)
        return {"status": "waiting for an API key"}
    tool_context.state["forecast_city"] = city
    return {"city": city, "forecast": "rain"}


def build() -> Case:
    agent = LlmAgent(
        name="forecaster",
        model=ScriptedLlm([call("get_forecast", city="Oslo"), reply("Rain in Oslo.")]),
        instruction="Tell forecasts.", tools=[get_forecast])
    return Case(
        name="credential", root=agent,
        turns=["Forecast for Oslo?", Credential("key-0000-4242")],
        statuses=["waiting", "ok"],
        sources=[("forecast_city", "tool:get_forecast")],
        extra={"pending_kind": "credential", "secret": "key-0000-4242"},
    )
