"""Audit trail shared by the order steps: helpers that receive Motia's context."""


async def record_event(context, kind, payload):
    # Keep the last event of each kind, for the admin page.
    await context.state.set("audit", kind, payload)
    context.logger.info("Audit event", {"kind": kind})


def summarize(payload):
    return {"id": payload.get("id"), "total": payload.get("total")}
