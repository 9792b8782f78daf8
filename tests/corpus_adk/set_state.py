"""State the notebook writes between runs (`runner.set_state`, issue 18): session, `app:` and
`user:` keys, read by the agent's next instruction and by a second session of the same user;
one key is written again by a tool after the notebook set it."""
from google.adk.agents import LlmAgent
from google.adk.memory import InMemoryMemoryService
from google.adk.tools import ToolContext

from agentnb.adk import ScriptedLlm, call, reply

from . import Case, Remember, SetState


def add_item(item: str, tool_context: ToolContext) -> dict:
    """Adds an item to the cart."""
    cart = list(tool_context.state.get("cart", []))
    tool_context.state["cart"] = [*cart, item]
    return {"cart": tool_context.state["cart"]}


def build() -> Case:
    agent = LlmAgent(
        name="shop", tools=[add_item], output_key="last_reply",
        instruction="Cart: {cart?}. Currency: {app:currency?}. Name: {user:name?}.",
        model=ScriptedLlm([call("add_item", item="tea"), reply("Added tea."),
                           call("add_item", item="milk"), reply("Added milk."),
                           reply("Hello again.")]))
    return Case(
        name="set_state", root=agent,
        turns=["add tea",
               SetState({"cart": ["coffee"], "app:currency": "EUR", "user:name": "Ada"}),
               "add milk",
               SetState({"user:name": "Ada L.", "note": {"why": "typo"}}),
               Remember(),
               "hello"],
        runner_kwargs={"memory_service": InMemoryMemoryService()},   # for Remember()
        statuses=["ok", "ok", "ok"],
        sources=[("cart", "notebook"), ("app:currency", "notebook"), ("user:name", "notebook"),
                 ("cart", "tool:add_item"), ("note", "notebook"),
                 ("last_reply", "output_key:shop")],
        extra={"cart": ["coffee", "milk"]},
        notes="Issue 18 item 1: set_state writes through append_event, source 'notebook'.")
