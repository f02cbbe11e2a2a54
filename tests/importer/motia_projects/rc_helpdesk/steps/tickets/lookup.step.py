from motia import FlowContext, queue

config = {
    "name": "LookupTicket",
    "triggers": [queue("ticket.lookup")],
    "enqueues": [],
}


def handler(input, ctx: FlowContext):
    # Motia awaited the coroutine this returns.
    return ctx.state.get("tickets", input.get("id"))
