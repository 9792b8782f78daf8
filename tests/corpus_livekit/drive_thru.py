"""A drive-thru order taker, in the shape of LiveKit's `examples/drive_thru/agent.py`: the menu
is loaded into `userdata` from a fake database, the order tools are built per menu (enums of
the item ids), unknown items and order ids raise `ToolError`, and the order state calls a
change hook that the entrypoint wires to "push the cart". Like the example, no
`from __future__ import annotations`: LiveKit reads the tools' annotations at runtime, and the
per-menu enums are locals of the tool builders."""
import logging
import secrets
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from livekit.agents import (Agent, AgentServer, AgentSession, FunctionTool, JobContext,
                            RunContext, ToolError, function_tool)

from ._standins import CloudLLM

logger = logging.getLogger("drive-thru")


class MenuItem(BaseModel):
    id: str
    name: str
    price: float
    category: Literal["combo_meal", "regular", "drink"]
    available: bool = True


class FakeDB:
    async def list_combo_meals(self) -> list[MenuItem]:
        return [MenuItem(id="combo_big_mac", name="Big Mac Combo", price=9.5,
                         category="combo_meal"),
                MenuItem(id="combo_nuggets", name="10 McNuggets Combo", price=8.0,
                         category="combo_meal")]

    async def list_regulars(self) -> list[MenuItem]:
        return [MenuItem(id="fries", name="Fries", price=2.5, category="regular"),
                MenuItem(id="apple_pie", name="Apple Pie", price=1.5, category="regular",
                         available=False)]

    async def list_drinks(self) -> list[MenuItem]:
        return [MenuItem(id="coke", name="Coca-Cola", price=1.8, category="drink"),
                MenuItem(id="sprite", name="Sprite", price=1.8, category="drink")]


def order_uid() -> str:
    return "O_" + "".join(secrets.choice(string.ascii_uppercase + string.digits)
                          for _ in range(6))


class OrderedCombo(BaseModel):
    type: Literal["combo_meal"] = "combo_meal"
    order_id: str = Field(default_factory=order_uid)
    meal_id: str
    drink_id: str
    drink_size: Literal["M", "L"] | None
    fries_size: Literal["M", "L"]


class OrderedRegular(BaseModel):
    type: Literal["regular"] = "regular"
    order_id: str = Field(default_factory=order_uid)
    item_id: str
    size: Literal["S", "M", "L"] | None = None


@dataclass
class OrderState:
    items: dict[str, OrderedCombo | OrderedRegular]
    # fired after every add/remove; the entrypoint pushes the cart from it
    on_change: Callable[[], Awaitable[None]] | None = field(default=None)

    async def _fire(self) -> None:
        if self.on_change is not None:
            try:
                await self.on_change()
            except Exception:
                logger.exception("OrderState.on_change failed")

    async def add(self, item) -> None:
        self.items[item.order_id] = item
        await self._fire()

    async def remove(self, order_id: str):
        removed = self.items.pop(order_id)
        await self._fire()
        return removed


@dataclass
class Userdata:
    order: OrderState
    combo_items: list[MenuItem]
    regular_items: list[MenuItem]
    drink_items: list[MenuItem]


class DriveThruAgent(Agent):
    def __init__(self, *, userdata: Userdata) -> None:
        menu = "\n".join(f"{i.id}: {i.name} ${i.price}" for i in
                         [*userdata.combo_items, *userdata.regular_items, *userdata.drink_items])
        super().__init__(
            instructions=f"You are a drive-thru order taker. The menu:\n{menu}",
            tools=[self.build_combo_order_tool(userdata.combo_items, userdata.drink_items),
                   self.build_regular_order_tool(userdata.regular_items)])

    def build_combo_order_tool(self, combo_items: list[MenuItem],
                               drink_items: list[MenuItem]) -> FunctionTool:
        combo_ids = [item.id for item in combo_items]
        drink_ids = [item.id for item in drink_items]

        @function_tool
        async def order_combo_meal(
            ctx: RunContext[Userdata],
            meal_id: Annotated[str, Field(description="The ID of the combo meal the user "
                                                      "requested.",
                                          json_schema_extra={"enum": combo_ids})],
            drink_id: Annotated[str, Field(description="The ID of the drink the user "
                                                       "requested.",
                                           json_schema_extra={"enum": drink_ids})],
            drink_size: Literal["M", "L", "null"] | None,
            fries_size: Literal["M", "L"],
        ) -> str:
            """Call this when the user orders a combo meal."""
            if meal_id not in combo_ids:
                raise ToolError(f"error: the meal {meal_id} was not found")
            if drink_id not in drink_ids:
                raise ToolError(f"error: the drink {drink_id} was not found")
            item = OrderedCombo(meal_id=meal_id, drink_id=drink_id,
                                drink_size=None if drink_size == "null" else drink_size,
                                fries_size=fries_size)
            await ctx.userdata.order.add(item)
            return f"The item was added: {item.model_dump_json()}"

        return order_combo_meal

    def build_regular_order_tool(self, regular_items: list[MenuItem]) -> FunctionTool:
        by_id = {item.id: item for item in regular_items}

        @function_tool
        async def order_regular_item(
            ctx: RunContext[Userdata],
            item_id: Annotated[str, Field(description="The ID of the item the user requested.",
                                          json_schema_extra={"enum": list(by_id)})],
            size: Literal["S", "M", "L", "null"] | None,
        ) -> str:
            """Call this when the user orders a regular item."""
            item = by_id.get(item_id)
            if item is None:
                raise ToolError(f"error: {item_id} was not found.")
            if not item.available:
                raise ToolError(f"error: {item.name} is not available today.")
            ordered = OrderedRegular(item_id=item_id, size=None if size == "null" else size)
            await ctx.userdata.order.add(ordered)
            return f"The item was added: {ordered.model_dump_json()}"

        return order_regular_item

    @function_tool
    async def remove_order_item(
        self,
        ctx: RunContext[Userdata],
        order_id: Annotated[list[str], Field(description="The order_ids of the items to "
                                                         "remove.")],
    ) -> str:
        """Removes one or more items from the user's order using their `order_id`s."""
        not_found = [oid for oid in order_id if oid not in ctx.userdata.order.items]
        if not_found:
            raise ToolError(f"error: no item(s) found with order_id(s): {', '.join(not_found)}")
        removed = [await ctx.userdata.order.remove(oid) for oid in order_id]
        return "Removed items:\n" + "\n".join(item.model_dump_json() for item in removed)

    @function_tool
    async def list_order_items(self, ctx: RunContext[Userdata]) -> str:
        """Retrieves the current list of items in the user's order, with their order_ids."""
        items = ctx.userdata.order.items.values()
        if not items:
            return "The order is empty"
        return "\n".join(item.model_dump_json() for item in items)


async def new_userdata() -> Userdata:
    db = FakeDB()
    return Userdata(order=OrderState(items={}), combo_items=await db.list_combo_meals(),
                    regular_items=await db.list_regulars(), drink_items=await db.list_drinks())


server = AgentServer()


@server.rtc_session()
async def drive_thru_agent(ctx: JobContext) -> None:
    userdata = await new_userdata()
    session = AgentSession[Userdata](
        userdata=userdata,
        llm=CloudLLM("google/gemma-4-31b-it"),
        max_tool_steps=10,
    )
    pushed: list[int] = []

    async def push_cart() -> None:
        # the example sends the cart to the playground over RPC; here it only counts
        pushed.append(len(userdata.order.items))
        logger.info("push_cart: %d items", len(userdata.order.items))

    userdata.order.on_change = push_cart
    await session.start(agent=DriveThruAgent(userdata=userdata), room=ctx.room)


entrypoint = drive_thru_agent
