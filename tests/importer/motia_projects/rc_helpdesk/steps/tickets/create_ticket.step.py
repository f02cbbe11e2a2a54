"""POST /tickets: open a ticket."""

import uuid

from pydantic import BaseModel

from helpers.middleware import reject_empty_body, require_json
from helpers.notifications import notify_watchers, remember
from motia import ApiRequest, ApiResponse, FlowContext, http


class NewTicket(BaseModel):
    title: str
    priority: str = "normal"


config = {
    "name": "CreateTicket",
    "description": "Open a support ticket",
    "flows": ["support"],
    "triggers": [
        http("POST", "/tickets", body_schema=NewTicket, middleware=[require_json, reject_empty_body]),
    ],
    "enqueues": ["ticket.created", "ticket.notified"],
}


async def handler(request: ApiRequest[NewTicket], ctx: FlowContext) -> ApiResponse:
    ticket = {
        "id": uuid.uuid4().hex[:8],
        "title": request.body.title,
        "priority": request.body.priority,
        "status": "open",
    }
    await ctx.state.set("tickets", ticket["id"], ticket)
    await remember(ctx.state, ticket)
    await notify_watchers(ctx, ticket)
    # The origin trace id travels with the ticket so later steps can find this request.
    await ctx.enqueue({"topic": "ticket.created", "data": {**ticket, "_trace_id": ctx.trace_id}})
    ctx.logger.info("Ticket created", {"id": ticket["id"], "trace": ctx.trace_id})
    return ApiResponse(status=201, body=ticket)
