"""Ship paid or approved orders, and tell the shipment page."""

config = {
    "type": "event",
    "name": "ShipOrder",
    "description": "Ship an order once it is paid or approved",
    "subscribes": ["order.paid", "order.approved"],
    "emits": [{"topic": "order.shipped", "label": "Shipped"}],
    "flows": ["orders"],
}


async def handler(input, context):
    shipment = {"order_id": input.get("id"), "status": "shipped"}
    await context.streams.shipments.set("all", input.get("id"), shipment)
    await context.streams.shipments.send({"groupId": "all"}, {"type": "shipped", "data": shipment})
    working = await context.state.get(context.trace_id, "current-order")
    context.logger.info("Shipping", {"order": input.get("id"), "working": bool(working)})
    await context.emit({"topic": "order.shipped", "data": shipment})
