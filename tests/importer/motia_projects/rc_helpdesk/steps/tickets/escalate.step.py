from motia import FlowContext, cron

config = {
    "name": "EscalateStale",
    "description": "Escalate high-priority tickets every 15 minutes",
    "triggers": [cron("0 */15 * * * *")],
    "enqueues": ["ticket.escalated"],
}


async def handler(input: None, ctx: FlowContext) -> None:
    tickets = await ctx.state.list("tickets")
    scopes = await ctx.state.list_groups()
    for ticket in tickets:
        if ticket.get("priority") == "high" and ticket.get("status") == "open":
            await ctx.enqueue({"topic": "ticket.escalated", "data": ticket})
    await ctx.state.update("stats", "escalations", [{"type": "increment", "path": "runs", "by": 1}])
    ctx.logger.info("Escalation run", {"tickets": len(tickets), "scopes": len(scopes)})
