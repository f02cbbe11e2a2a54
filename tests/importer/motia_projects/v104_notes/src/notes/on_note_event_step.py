from motia import FlowContext, stream

config = {"name": "OnNoteEvent", "triggers": [stream("notes", group_id="all")], "enqueues": []}


def handler(input, ctx: FlowContext):
    if ctx.is_stream():
        data = ctx.get_data()
        return {"seen": input.get("id"), "has_data": data is not None}
    return None
