"""Index each new note by tag, and show it in the notes stream."""

from motia import FlowContext, logger, queue

from src.shared.indexing import save_index
from src.shared.streams import notes_stream

config = {
    "name": "IndexNote",
    "triggers": [queue("note.created")],
    "enqueues": [],
}


async def handler(note, ctx: FlowContext) -> None:
    for tag in note.get("tags", []):
        save_index(tag, note["id"])
    notes_stream.set("all", note["id"], note)
    logger.info("Note indexed", {"id": note["id"], "trace": ctx.trace_id})
