"""A restaurant front desk, in the shape of LiveKit's `examples/voice_agents/restaurant_agent.py`:
a greeter hands the caller to reservation, takeaway and checkout agents kept in
`userdata.agents`; every agent's `on_enter` carries the previous agent's recent history over and
replies with `tool_choice="none"`; the userdata holds nested dataclasses, the agents
themselves, the previous agent, a client object and card data."""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Annotated

from pydantic import Field

from livekit.agents import Agent, AgentServer, AgentSession, JobContext, RunContext
from livekit.agents.llm import function_tool

from ._standins import CloudLLM, ReservationClient

logger = logging.getLogger("restaurant-example")

MENU = "Pizza: $10, Salad: $5, Ice Cream: $3, Coffee: $2"


@dataclass
class Customer:
    name: str | None = None
    phone: str | None = None


@dataclass
class CardDetails:
    card_number: str | None = None
    expiry: str | None = None
    cvv: str | None = None


@dataclass
class UserData:
    customer: Customer = field(default_factory=Customer)
    reservation_time: str | None = None
    reservation_id: str | None = None
    order: list[str] | None = None
    card: CardDetails = field(default_factory=CardDetails)
    expense: float | None = None
    checked_out: bool | None = None

    agents: dict[str, Agent] = field(default_factory=dict)
    prev_agent: Agent | None = None
    client: ReservationClient | None = None

    def summarize(self) -> str:
        data = {
            "customer": asdict(self.customer),
            "reservation_time": self.reservation_time or "unknown",
            "order": self.order or "unknown",
            "credit_card": asdict(self.card) if self.card.card_number else None,
            "expense": self.expense or "unknown",
            "checked_out": self.checked_out or False,
        }
        return json.dumps(data)


RunContext_T = RunContext[UserData]


# common tools

@function_tool()
async def update_name(name: Annotated[str, Field(description="The customer's name")],
                      context: RunContext_T) -> str:
    """Called when the user provides their name."""
    context.userdata.customer.name = name
    return f"The name is updated to {name}"


@function_tool()
async def update_phone(phone: Annotated[str, Field(description="The customer's phone number")],
                       context: RunContext_T) -> str:
    """Called when the user provides their phone number."""
    context.userdata.customer.phone = phone
    return f"The phone number is updated to {phone}"


@function_tool()
async def to_greeter(context: RunContext_T) -> tuple[Agent, str]:
    """Called when user asks any unrelated questions or requests any other services not in
    your job description."""
    curr_agent: BaseAgent = context.session.current_agent
    return await curr_agent._transfer_to_agent("greeter", context)


class BaseAgent(Agent):
    async def on_enter(self) -> None:
        agent_name = self.__class__.__name__
        logger.info("entering task %s", agent_name)
        userdata: UserData = self.session.userdata
        chat_ctx = self.chat_ctx.copy()
        # add the previous agent's recent history to this agent's
        if isinstance(userdata.prev_agent, Agent):
            truncated = userdata.prev_agent.chat_ctx.copy(
                exclude_instructions=True, exclude_function_call=False).truncate(max_items=6)
            existing_ids = {item.id for item in chat_ctx.items}
            chat_ctx.items.extend(item for item in truncated.items if item.id not in existing_ids)
        chat_ctx.add_message(
            role="system",
            content=f"You are {agent_name} agent. Current user data is {userdata.summarize()}")
        await self.update_chat_ctx(chat_ctx)
        self.session.generate_reply(tool_choice="none")

    async def _transfer_to_agent(self, name: str, context: RunContext_T) -> tuple[Agent, str]:
        userdata = context.userdata
        current_agent = context.session.current_agent
        next_agent = userdata.agents[name]
        userdata.prev_agent = current_agent
        return next_agent, f"Transferring to {name}."


class Greeter(BaseAgent):
    def __init__(self, menu: str) -> None:
        super().__init__(
            instructions=f"You are a friendly restaurant receptionist. The menu is: {menu}\n"
                         "Greet the caller and understand if they want to make a reservation "
                         "or order takeaway. Guide them to the right agent using tools.")
        self.menu = menu

    @function_tool()
    async def to_reservation(self, context: RunContext_T) -> tuple[Agent, str]:
        """Called when user wants to make or update a reservation."""
        return await self._transfer_to_agent("reservation", context)

    @function_tool()
    async def to_takeaway(self, context: RunContext_T) -> tuple[Agent, str]:
        """Called when the user wants to place a takeaway order."""
        return await self._transfer_to_agent("takeaway", context)


class Reservation(BaseAgent):
    def __init__(self) -> None:
        super().__init__(
            instructions="You are a reservation agent at a restaurant. Ask for the reservation "
                         "time, then the customer's name and phone number, then confirm.",
            tools=[update_name, update_phone, to_greeter])

    @function_tool()
    async def update_reservation_time(
            self, time: Annotated[str, Field(description="The reservation time")],
            context: RunContext_T) -> str:
        """Called when the user provides their reservation time."""
        context.userdata.reservation_time = time
        return f"The reservation time is updated to {time}"

    @function_tool()
    async def confirm_reservation(self, context: RunContext_T) -> str | tuple[Agent, str]:
        """Called when the user confirms the reservation."""
        userdata = context.userdata
        if not userdata.customer.name or not userdata.customer.phone:
            return "Please provide your name and phone number first."
        if not userdata.reservation_time:
            return "Please provide reservation time first."
        userdata.reservation_id = await userdata.client.book(userdata.customer.name,
                                                             userdata.reservation_time)
        return await self._transfer_to_agent("greeter", context)


class Takeaway(BaseAgent):
    def __init__(self, menu: str) -> None:
        super().__init__(
            instructions=f"You are a takeaway agent that takes orders from the customer. "
                         f"Our menu is: {menu}\nConfirm the order with the customer.",
            tools=[to_greeter])

    @function_tool()
    async def update_order(
            self,
            items: Annotated[list[str], Field(description="The items of the full order")],
            context: RunContext_T) -> str:
        """Called when the user creates or updates their order."""
        context.userdata.order = items
        return f"The order is updated to {items}"

    @function_tool()
    async def to_checkout(self, context: RunContext_T) -> str | tuple[Agent, str]:
        """Called when the user confirms the order."""
        if not context.userdata.order:
            return "No takeaway order found. Please make an order first."
        return await self._transfer_to_agent("checkout", context)


class Checkout(BaseAgent):
    def __init__(self, menu: str) -> None:
        super().__init__(
            instructions=f"You are a checkout agent at a restaurant. The menu is: {menu}\n"
                         "Confirm the expense, then collect the customer's name, phone number "
                         "and credit card information: number, expiry date and CVV.",
            tools=[update_name, update_phone, to_greeter])

    @function_tool()
    async def confirm_expense(
            self, expense: Annotated[float, Field(description="The expense of the order")],
            context: RunContext_T) -> str:
        """Called when the user confirms the expense."""
        context.userdata.expense = expense
        return f"The expense is confirmed to be {expense}"

    @function_tool()
    async def update_credit_card(
            self,
            number: Annotated[str, Field(description="The credit card number")],
            expiry: Annotated[str, Field(description="The expiry date of the credit card")],
            cvv: Annotated[str, Field(description="The CVV of the credit card")],
            context: RunContext_T) -> str:
        """Called when the user provides their credit card number, expiry date, and CVV."""
        card = context.userdata.card
        card.card_number, card.expiry, card.cvv = number, expiry, cvv
        return f"The credit card number is updated to {number}"

    @function_tool()
    async def confirm_checkout(self, context: RunContext_T) -> str | tuple[Agent, str]:
        """Called when the user confirms the checkout."""
        userdata = context.userdata
        if not userdata.expense:
            return "Please confirm the expense first."
        if not (userdata.card.card_number and userdata.card.expiry and userdata.card.cvv):
            return "Please provide the credit card information first."
        userdata.checked_out = True
        return await to_greeter(context)

    @function_tool()
    async def to_takeaway(self, context: RunContext_T) -> tuple[Agent, str]:
        """Called when the user wants to update their order."""
        return await self._transfer_to_agent("takeaway", context)


server = AgentServer()


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    userdata = UserData(client=ReservationClient("https://bookings.example.invalid"))
    userdata.agents.update({
        "greeter": Greeter(MENU),
        "reservation": Reservation(),
        "takeaway": Takeaway(MENU),
        "checkout": Checkout(MENU),
    })
    session = AgentSession[UserData](
        userdata=userdata,
        llm=CloudLLM("openai/gpt-4.1-mini"),
        max_tool_steps=5,
    )
    await session.start(agent=userdata.agents["greeter"], room=ctx.room)
