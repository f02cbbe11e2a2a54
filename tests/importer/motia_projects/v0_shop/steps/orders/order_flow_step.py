config = {
    "type": "noop",
    "name": "OrderFlowNote",
    "description": "A note on the flow diagram",
    "virtualEmits": ["order.paid"],
    "flows": ["orders"],
}


async def handler():
    pass
