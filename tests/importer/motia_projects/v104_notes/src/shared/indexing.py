"""Index upkeep, written sync (Motia 1.0.4's stateManager was sync)."""

from pathlib import Path

from motia import logger, stateManager
from pydantic import BaseModel

# Read at import from beside this module: the worker dies at start if the file is not carried.
STOPWORDS = frozenset((Path(__file__).parent / "stopwords.txt").read_text().split())


class IndexEntry(BaseModel):
    tag: str
    note_id: str

    class Config:  # pydantic v1 style: a deprecation warning at import, which Motia printed
        frozen = True


def save_index(tag: str, note_id: str) -> None:
    if tag in STOPWORDS:
        return
    entry = IndexEntry(tag=tag, note_id=note_id)
    index = stateManager.get("tag-index", entry.tag) or []
    if entry.note_id not in index:
        stateManager.set("tag-index", entry.tag, [*index, entry.note_id])
    logger.info("Indexed", {"tag": entry.tag, "note": entry.note_id})
