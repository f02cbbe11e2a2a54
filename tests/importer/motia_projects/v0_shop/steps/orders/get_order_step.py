"""Read an order: GET /orders/:id, behind the API key."""

from ..lib.middleware import log_timing, require_api_key

config = {
    "type": "api",
    "name": "GetOrder",
    "description": "Read one order",
    "path": "/orders/:id",
    "method": "GET",
    "emits": [],
    "flows": ["orders"],
    "middleware": [require_api_key, log_timing],
}


async def handler(req, context):
    order_id = req.get("pathParams", {}).get("id")
    order = await context.state.get("orders", order_id)
    if not order:
        return {"status": 404, "body": {"error": f"no order {order_id}"}}
    return {"status": 200, "body": order}
