from motia import api

config = {"name": "GetItemAgain", "triggers": [api("GET", "/items/{item_id}")], "enqueues": []}


async def handler(request, ctx):
    return {"status": 200, "body": {"again": True}}
