from motia import Stream, cron, stateManager, step

stateManager.set("boot", "started", True)
events = Stream("events")
events.set("all", "boot", {"ok": True})


async def run(input, ctx):
    topic = "misc." + str(input or "tick")
    await ctx.enqueue({"topic": topic, "data": {}})


config = step({"name": "Boot", "triggers": [cron("0 0 0 * * * 2030"), {"type": "state"}]}, run)
