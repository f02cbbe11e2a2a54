config = {"type": "api", "name": "OldCheckout", "path": "/checkout", "method": "POST", "emits": []}


async def handler(req, context):
    return {"status": 410, "body": {}}
