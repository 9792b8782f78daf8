"""A graph Workflow (ADK 2.x `google.adk.Workflow`), written like the docs' routing example:
an LLM node that classifies (with `output_key`), a function node that routes and writes state,
function nodes that pass typed `output` on and send `message`s to the user."""
from google.adk import Agent, Event, Workflow

from agentnb.adk import ScriptedLlm, reply

from . import Case


def build() -> Case:
    classifier = Agent(
        name="classifier",
        model=ScriptedLlm([reply("BUG"), reply("SUPPORT")]),
        instruction='Classify the message as "BUG" or "SUPPORT". Reply with the label only.',
        output_key="category",
    )

    def route_ticket(node_input: str):
        label = node_input.strip().upper()
        return Event(output=label, route=label, state={"route": label})

    def file_bug(node_input: str):
        return Event(output={"ticket": "BUG-1", "label": node_input}, state={"open_tickets": 1})

    def confirm_bug(node_input: dict):
        return Event(message=f"Filed {node_input['ticket']}.")

    def answer_support():
        return Event(message="Support will call you back.")

    root = Workflow(
        name="helpdesk",
        edges=[
            ("START", classifier, route_ticket),
            (route_ticket, {"BUG": file_bug, "SUPPORT": answer_support}),
            (file_bug, confirm_bug),
        ],
    )
    return Case(
        name="workflow_graph", root=root,
        turns=["The app crashes on start", "How do I reset my password?"],
        runner_kwargs={"app_name": "helpdesk_app"},
        statuses=["ok", "ok"],
        sources=[("category", "output_key:classifier"), ("route", "event:helpdesk"),
                 ("open_tickets", "event:helpdesk")],
        notes="Workflow is a BaseNode, not a BaseAgent; invocation_context.agent is None for it.",
    )
