from motia import FlowContext, stream

config = {
    "name": "FeedWatch",
    "triggers": [stream("ticket-feed", group_id="all")],
    "enqueues": [],
}


async def handler(input, ctx: FlowContext) -> None:
    ctx.logger.info("Feed changed", {"id": input.id, "change": input.event.type})
