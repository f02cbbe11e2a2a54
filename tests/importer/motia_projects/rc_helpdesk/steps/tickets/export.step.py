"""GET /tickets/export streams the tickets as server-sent events."""

import json

from motia import FlowContext, MotiaHttpArgs, http

config = {"name": "ExportTickets", "triggers": [http("GET", "/tickets/export")], "enqueues": []}


async def handler(args: MotiaHttpArgs, ctx: FlowContext) -> None:
    tickets = await ctx.state.list("tickets")
    await args.response.status(200)
    await args.response.headers({"content-type": "text/event-stream"})
    for ticket in tickets:
        args.response.writer.stream.write(f"data: {json.dumps(ticket)}\n\n".encode())
    args.response.close()
