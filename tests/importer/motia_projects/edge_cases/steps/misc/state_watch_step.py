from motia import FlowContext, state

config = {"name": "StateWatch", "triggers": [state()], "enqueues": []}


async def handler(input, ctx: FlowContext) -> None:
    ctx.logger.info("changed", {"scope": input.group_id, "key": input.item_id, "new": input.new_value})
