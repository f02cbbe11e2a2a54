"""Create an order: POST /orders."""

import os
import sys
import uuid

from pydantic import BaseModel

# Motia runs steps from the project root; services/ lives beside steps/.
sys.path.append(os.path.join(os.path.dirname(__file__), "..", ".."))

from services.pricing import order_total  # noqa: E402

from ..lib.audit import record_event, summarize


class OrderItem(BaseModel):
    sku: str
    price: int
    quantity: int = 1


class CreateOrder(BaseModel):
    customer: str
    items: list[OrderItem]


config = {
    "type": "api",
    "name": "CreateOrder",
    "description": "Create an order and announce it",
    "path": "/orders",
    "method": "POST",
    "emits": ["order.created"],
    "flows": ["orders"],
    "bodySchema": CreateOrder.model_json_schema(),
}


async def handler(req, context):
    body = req.get("body") or {}
    try:
        order_request = CreateOrder(**body)
    except Exception as error:  # pydantic says what is wrong
        context.logger.error("Invalid order", {"error": str(error)})
        return {"status": 400, "body": {"error": "invalid order"}}

    order = {
        "id": uuid.uuid4().hex,
        "customer": order_request.customer,
        "items": [item.model_dump() for item in order_request.items],
        "total": order_total([item.model_dump() for item in order_request.items]),
    }
    await context.state.set("orders", order["id"], order)
    # The flow's trace id keys the working copy the later steps read.
    await context.state.set(context.trace_id, "current-order", order)
    await record_event(context, "created", summarize(order))
    await context.emit({"topic": "order.created", "data": order})
    return {"status": 201, "body": order}
