"""List orders: GET /orders?customer=..."""

from ..lib.middleware import require_api_key

config = {
    "type": "api",
    "name": "ListOrders",
    "path": "/orders",
    "method": "GET",
    "emits": [],
    "flows": ["orders"],
    "middleware": [require_api_key],
}


async def handler(req, context):
    customer = req["queryParams"].get("customer")
    orders = await context.state.get_group("orders") or []
    if customer:
        orders = [o for o in orders if o.get("customer") == customer]
    return {"status": 200, "body": {"orders": orders}}
