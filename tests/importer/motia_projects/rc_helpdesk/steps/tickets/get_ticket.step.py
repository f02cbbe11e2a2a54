from motia import ApiRequest, ApiResponse, FlowContext, http

from helpers.notifications import ticket_key

config = {
    "name": "GetTicket",
    "description": "Read a ticket",
    "flows": ["support"],
    "triggers": [http("GET", "/tickets/{ticket_id}")],
    "enqueues": [],
}


async def handler(request: ApiRequest, ctx: FlowContext) -> ApiResponse:
    ticket_id = ticket_key(request.path_params.get("ticket_id", ""))
    ticket = await ctx.state.get("tickets", ticket_id)
    if ticket is None:
        return ApiResponse(status=404, body={"error": "no such ticket"})
    verbose = request.query_params.get("verbose") == "1"
    return ApiResponse(status=200, body=ticket if verbose else {"id": ticket["id"], "status": ticket["status"]})
