import os

from motia import ApiResponse, http, queue

config = {
    "name": "EnvRoute",
    "triggers": [http("GET", os.environ.get("ITEMS_ROUTE", "/env")), queue("items.refresh")],
    "enqueues": [],
}


async def handler(input, ctx):
    if ctx.is_api():
        return ApiResponse(status=200, body={})
    ctx.logger.info("refreshed", {"weird": ctx.something_motia_never_had})
