"""State holding typed Python values, as real tools write them: a pydantic model, an enum, a
dataclass, a datetime, bytes and a set (in the starting state and written by a tool)."""
import datetime as dt
import enum
from dataclasses import dataclass

from google.adk.agents import LlmAgent
from google.adk.tools import ToolContext
from pydantic import BaseModel

from agentnb.adk import ScriptedLlm, call, reply

from . import Case


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


class Customer(BaseModel):
    name: str
    tier: str = "basic"
    tags: list[str] = []


@dataclass
class Slot:
    day: str
    hour: int


def book_slot(day: str, hour: int, tool_context: ToolContext) -> dict:
    """Books a support slot."""
    tool_context.state["slot"] = Slot(day, hour)
    tool_context.state["priority"] = Priority.HIGH
    tool_context.state["customer"] = Customer(name="Ada", tier="gold", tags=["vip"])
    tool_context.state["booked_at"] = dt.datetime(2026, 3, 15, 9, 30, tzinfo=dt.UTC)
    tool_context.state["receipt"] = b"\x00\x01receipt"
    tool_context.state["seen_days"] = {day, "monday"}
    return {"booked": f"{day} {hour}:00"}


def build() -> Case:
    agent = LlmAgent(
        name="scheduler",
        model=ScriptedLlm([call("book_slot", day="friday", hour=10), reply("Booked Friday 10:00.")]),
        instruction="Book support slots.", tools=[book_slot])
    return Case(
        name="typed_state", root=agent, turns=["Book me Friday at ten"],
        runner_kwargs={"state": {"customer": Customer(name="Ada"), "priority": Priority.LOW,
                                 "created": dt.date(2026, 1, 2)}},
        statuses=["ok"],
        sources=[("slot", "tool:book_slot"), ("customer", "initial"), ("customer", "tool:book_slot")],
        extra={"typed": True},
    )
