"""Helpers the ticket steps share; they receive Motia's context (or parts of it)."""

from typing import Any

from motia import FlowContext


async def notify_watchers(ctx: FlowContext, ticket: dict[str, Any]) -> None:
    await ctx.streams["ticket-feed"].set("all", ticket["id"], ticket)
    ctx.logger.info("Watchers notified", {"ticket": ticket["id"]})
    await ctx.enqueue({"topic": "ticket.notified", "data": {"id": ticket["id"]}})


async def remember(state, ticket: dict[str, Any]) -> None:
    await state.set("recent", "last-ticket", ticket)


def ticket_key(ticket_id: str) -> str:
    return ticket_id.strip().lower()
