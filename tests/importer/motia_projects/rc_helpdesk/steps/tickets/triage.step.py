"""Triage tickets when they are created, or by hand over HTTP."""

from typing import Any

from motia import ApiRequest, ApiResponse, FlowContext, QueueConfig, http, queue


def is_open(request: ApiRequest, ctx: FlowContext) -> bool:
    return request.path_params.get("id", "") != "closed"


config = {
    "name": "Triage",
    "description": "Set a ticket's queue",
    "flows": ["support"],
    "triggers": [
        queue("ticket.created", config=QueueConfig(max_retries=5, visibility_timeout=60)),
        http("POST", "/tickets/:id/triage", condition=is_open),
        queue("ticket.escalated", condition=lambda input, ctx: input.get("priority") == "high"),
    ],
    "enqueues": ["ticket.triaged"],
}


async def handler(input: Any, ctx: FlowContext) -> Any:
    ctx.logger.info("Triage", {"trigger": ctx.trigger.type, "index": ctx.trigger.index})

    async def on_queue(ticket: dict[str, Any]) -> None:
        lane = "urgent" if ticket.get("priority") == "high" else "standard"
        await ctx.enqueue({"topic": "ticket.triaged", "data": {"id": ticket.get("id"), "lane": lane}})

    async def on_http(request: ApiRequest) -> ApiResponse:
        if ctx.is_api():
            ticket_id = request.path_params["id"]
            await ctx.state.set("lanes", ticket_id, {"lane": "manual"})
        return ApiResponse(status=202, body={"queued": True})

    return await ctx.match({"queue": on_queue, "http": on_http})
