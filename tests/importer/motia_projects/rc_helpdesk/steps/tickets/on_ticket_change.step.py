from motia import FlowContext, StateTriggerInput, state

config = {
    "name": "OnTicketChange",
    "triggers": [state()],
    "enqueues": [],
}


async def handler(input: StateTriggerInput, ctx: FlowContext) -> None:
    if input.get("groupId") != "tickets":
        return
    ctx.logger.info("Ticket changed", {"key": input.get("itemId"), "new": input.get("newValue")})
