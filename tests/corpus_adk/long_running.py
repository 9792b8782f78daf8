"""A human-in-the-loop long-running tool, like ADK's docs: `LongRunningFunctionTool` returns an
initial result (a pending ticket); later the client sends the final FunctionResponse for the
same call id, which `runner.answer(call_id, response)` does."""
from typing import Any

from google.adk.agents import LlmAgent
from google.adk.tools import LongRunningFunctionTool, ToolContext

from agentnb.adk import ScriptedLlm, call, reply

from . import Answer, Case


def ask_for_approval(purpose: str, amount: float, tool_context: ToolContext) -> dict[str, Any]:
    """Asks a manager to approve a reimbursement."""
    tool_context.state["approval_requested"] = amount
    return {"status": "pending", "approver": "Sean", "purpose": purpose, "amount": amount,
            "ticket-id": "approval-ticket-1"}


def reimburse(purpose: str, amount: float) -> dict[str, Any]:
    """Pays the employee."""
    return {"status": "ok"}


def build() -> Case:
    agent = LlmAgent(
        name="reimbursement_agent",
        model=ScriptedLlm([call("ask_for_approval", purpose="taxi", amount=200.0),
                           reply("I asked your manager; waiting for approval."),
                           call("reimburse", purpose="taxi", amount=200.0),
                           reply("Approved and reimbursed.")]),
        instruction="Ask for approval above $100, then reimburse.",
        tools=[reimburse, LongRunningFunctionTool(func=ask_for_approval)])
    return Case(
        name="long_running", root=agent,
        turns=["Please reimburse $200 for a taxi", Answer("ask_for_approval", {"status": "approved"})],
        statuses=["waiting", "ok"],
        sources=[("approval_requested", "tool:ask_for_approval")],
        extra={"pending_kind": "long_running"},
        notes="ADK resumes the invocation that made the call: the answer's invocation id is the first's.",
    )
