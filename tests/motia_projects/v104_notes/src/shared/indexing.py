"""Index upkeep, written sync (Motia 1.0.4's stateManager was sync)."""

from motia import logger, stateManager


def save_index(tag: str, note_id: str) -> None:
    index = stateManager.get("tag-index", tag) or []
    if note_id not in index:
        stateManager.set("tag-index", tag, [*index, note_id])
    logger.info("Indexed", {"tag": tag, "note": note_id})
