from motia import FlowContext, cron

config = {
    "name": "WeeklyReport",
    "triggers": [cron("0 8 * * 1")],
    "enqueues": ["report.weekly"],
}


async def handler(input, ctx: FlowContext):
    count = len(await ctx.state.list("tickets"))
    await ctx.enqueue({"topic": "report.weekly", "data": {"tickets": count}})
