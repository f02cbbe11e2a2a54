from motia import http

config = {"name": "OldIntake", "triggers": [http("POST", "/intake")], "enqueues": []}


async def handler(request, ctx):
    return {"status": 410}
