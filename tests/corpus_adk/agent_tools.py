"""A coordinator calling two specialist agents through `AgentTool`, like ADK's agent-as-a-tool
samples. Both are called in one model turn (parallel calls); one specialist uses its own tool
and `output_key`, whose writes ADK forwards to the caller's session."""
from google.adk.agents import LlmAgent
from google.adk.tools import ToolContext
from google.adk.tools.agent_tool import AgentTool

from agentnb.adk import ScriptedLlm, call, reply

from . import Case


def find_flight(destination: str, tool_context: ToolContext) -> dict:
    """Finds a flight to a destination."""
    tool_context.state["flight_ref"] = f"FL-{destination[:3].upper()}"
    return {"flight": f"FL-{destination[:3].upper()}", "price": 120}


def build() -> Case:
    flight_agent = LlmAgent(
        name="flight_agent", description="Books flights.",
        model=ScriptedLlm([call("find_flight", destination="Lisbon"), reply("Flight FL-LIS, 120 EUR.")]),
        instruction="Find a flight with find_flight.", tools=[find_flight], output_key="flight")
    hotel_agent = LlmAgent(
        name="hotel_agent", description="Books hotels.",
        model=ScriptedLlm([reply("Hotel Sol, 80 EUR a night.")]),
        instruction="Suggest a hotel.")
    planner = LlmAgent(
        name="trip_planner",
        model=ScriptedLlm([[call("flight_agent", request="a flight to Lisbon"),
                            call("hotel_agent", request="a hotel in Lisbon")],
                           reply("Flight FL-LIS and Hotel Sol are booked.")]),
        instruction="Plan trips using the flight and hotel agents.",
        tools=[AgentTool(agent=flight_agent), AgentTool(agent=hotel_agent)])
    return Case(
        name="agent_tools", root=planner, turns=["Plan a trip to Lisbon"],
        runner_kwargs={"state": {"traveller": "Ada", "user:home": "Porto"}},
        statuses=["ok"],
        sources=[("flight", "tool:flight_agent"), ("flight_ref", "tool:flight_agent")],
        extra={"children": {"flight_agent": [("traveller", "initial"), ("flight_ref", "tool:find_flight"),
                                             ("flight", "output_key:flight_agent")],
                            "hotel_agent": []}},
        notes="AgentTool runs each child on a new Runner with its own InMemorySessionService.",
    )
