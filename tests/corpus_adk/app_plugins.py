"""An App as ADK's samples ship one: `App(name=..., root_agent=..., plugins=[...],
resumability_config=..., context_cache_config=...)`, with a plugin that counts what it sees and
an agent whose tool and callbacks write state."""
from google.adk.agents import LlmAgent
from google.adk.agents.callback_context import CallbackContext
from google.adk.agents.context_cache_config import ContextCacheConfig
from google.adk.apps import App, ResumabilityConfig
from google.adk.plugins.base_plugin import BasePlugin
from google.adk.tools import ToolContext

from agentnb.adk import ScriptedLlm, call, reply

from . import Case


class CountInvocationPlugin(BasePlugin):
    """Counts agent runs and model calls, like ADK's plugin sample."""

    def __init__(self):
        super().__init__(name="count_invocation")
        self.agent_count = 0
        self.llm_request_count = 0

    async def before_agent_callback(self, *, agent, callback_context):
        self.agent_count += 1

    async def before_model_callback(self, *, callback_context, llm_request):
        self.llm_request_count += 1


def lookup_order(order_id: str, tool_context: ToolContext) -> dict:
    """Looks up an order's status."""
    tool_context.state["last_order"] = order_id
    tool_context.state["user:orders_looked_up"] = tool_context.state.get("user:orders_looked_up", 0) + 1
    return {"order_id": order_id, "status": "shipped"}


def greet_once(callback_context: CallbackContext):
    if not callback_context.state.get("greeted"):
        callback_context.state["greeted"] = True


def note_thinking(callback_context: CallbackContext, llm_request):
    callback_context.state["last_answer"] = "(thinking)"


def build() -> Case:
    plugin = CountInvocationPlugin()
    agent = LlmAgent(
        name="order_desk",
        model=ScriptedLlm([call("lookup_order", order_id="A-17"), reply("Order A-17 has shipped."),
                           reply("You're welcome.")]),
        instruction="Answer questions about orders. Use lookup_order.",
        tools=[lookup_order],
        before_agent_callback=greet_once,
        before_model_callback=note_thinking,
        output_key="last_answer",
    )
    app = App(
        name="order_app",
        root_agent=agent,
        plugins=[plugin],
        resumability_config=ResumabilityConfig(is_resumable=True),
        context_cache_config=ContextCacheConfig(min_tokens=4096, ttl_seconds=600, cache_intervals=5),
    )
    return Case(
        name="app_plugins", root=app, turns=["Where is order A-17?", "Thanks!"],
        statuses=["ok", "ok"],
        sources=[("greeted", "before_agent_callback:order_desk"),
                 ("last_order", "tool:lookup_order"), ("user:orders_looked_up", "tool:lookup_order"),
                 ("last_answer", "output_key:order_desk"),
                 ("last_answer", "before_model_callback:order_desk")],
        notes="The App's plugin must still run; its resumability/context-cache configs kept.",
        extra={"plugin": plugin, "two_writers": ("last_answer", ["before_model_callback:order_desk",
                                                             "output_key:order_desk"])},
    )
