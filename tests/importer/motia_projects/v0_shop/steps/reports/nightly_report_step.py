"""Nightly order report (a 5-field crontab line: Motia 0.x ran node-cron)."""

config = {
    "type": "cron",
    "name": "NightlyReport",
    "description": "Count the day's orders",
    "cron": "0 2 * * *",
    "emits": ["report.ready"],
    "flows": ["reports"],
}


async def handler(context):
    orders = await context.state.get_group("orders") or []
    context.logger.info("Nightly report", {"orders": len(orders)})
    await context.state.clear("reports")
    await context.emit({"topic": "report.ready", "data": {"orders": len(orders)}})
