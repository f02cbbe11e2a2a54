config = {
    "type": "event",
    "name": "AuditLog",
    "subscribes": ["order.shipped", "order.created"],
    "emits": [],
    "flows": ["orders"],
}


async def handler(input, context):
    topic = "audit." + str(input.get("status", "created"))
    context.logger.info("Audit", {"order": input.get("order_id") or input.get("id")})
    await context.emit({"topic": topic, "data": input})
