"""Tool confirmation, like ADK's human_tool_confirmation sample, in a resumable App: one tool
asks with `tool_context.request_confirmation(hint=, payload=)`, one is
`FunctionTool(..., require_confirmation=True)`; `runner.confirm(...)` answers each."""
from google.adk.agents import LlmAgent
from google.adk.apps import App, ResumabilityConfig
from google.adk.tools import FunctionTool, ToolContext

from agentnb.adk import ScriptedLlm, call, reply

from . import Case, Confirm


def transfer_money(amount: int, to: str, tool_context: ToolContext) -> dict:
    """Sends money; large amounts need a human's approval."""
    if amount > 100:
        confirmation = tool_context.tool_confirmation
        if confirmation is None:
            tool_context.request_confirmation(hint=f"Approve sending {amount} to {to}?",
                                              payload={"approved_amount": amount})
            return {"status": "needs approval"}
        if not confirmation.confirmed:
            return {"status": "rejected"}
        tool_context.state["last_transfer"] = {"amount": amount, "to": to,
                                               "approved": confirmation.payload}
    return {"status": "sent"}


def close_account(name: str) -> dict:
    """Closes an account."""
    return {"closed": name}


def build() -> Case:
    agent = LlmAgent(
        name="bank_teller",
        model=ScriptedLlm([call("transfer_money", amount=500, to="Bob"), reply("Sent 500 to Bob."),
                           call("close_account", name="savings"), reply("I did not close it.")]),
        instruction="Move money and manage accounts.",
        tools=[transfer_money, FunctionTool(close_account, require_confirmation=True)])
    app = App(name="bank_app", root_agent=agent,
              resumability_config=ResumabilityConfig(is_resumable=True))
    return Case(
        name="confirmation", root=app,
        turns=["Send 500 to Bob", Confirm("transfer_money", True, {"approved_amount": 450}),
               "Close my savings account", Confirm("close_account", False)],
        statuses=["waiting", "ok", "waiting", "ok"],
        sources=[("last_transfer", "tool:transfer_money")],
        extra={"pending_kind": "confirmation"},
    )
