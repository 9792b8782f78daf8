"""A tool that fails: the invocation ends in error (ADK's on_run_error), the one before it is ok."""
from google.adk.agents import LlmAgent
from google.adk.tools import ToolContext

from agentnb.adk import ScriptedLlm, call, reply

from . import Case


def charge_card(amount: int, tool_context: ToolContext) -> dict:
    """Charges the customer's card."""
    if amount > 1000:
        raise ValueError("amount over the card limit")
    tool_context.state["charged"] = amount
    return {"charged": amount}


def build() -> Case:
    agent = LlmAgent(
        name="cashier",
        model=ScriptedLlm([call("charge_card", amount=20), reply("Charged 20."),
                           call("charge_card", amount=5000)]),
        instruction="Charge cards.", tools=[charge_card])
    return Case(
        name="tool_error", root=agent, turns=["Charge 20", "Charge 5000"],
        statuses=["ok", "error"],
        sources=[("charged", "tool:charge_card")],
        extra={"raises": ValueError},
    )
