"""Topics a TypeScript/JavaScript step subscribes to or publishes, read with patterns (the
importer does not convert those steps; it only says which topics they share with the Python
ones, since the queue between them stays in the engine)."""

import re
from pathlib import Path

_STRINGS = r"""['"`]([^'"`$]+)['"`]"""
_PATTERNS = {
    "subscribes": re.compile(r"subscribes\s*:\s*\[([^\]]*)\]"),
    "emits": re.compile(r"(?:emits|enqueues)\s*:\s*\[([^\]]*)\]"),
    "queue trigger": re.compile(r"queue\s*\(\s*" + _STRINGS),
    "publishes": re.compile(r"(?:emit|enqueue)\s*\(\s*\{[^}]*?topic\s*:\s*" + _STRINGS, re.DOTALL),
}


def other_language_topics(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    found: dict[str, str] = {}
    for how, pattern in _PATTERNS.items():
        for match in pattern.finditer(text):
            group = match.group(1)
            topics = re.findall(_STRINGS, group) if how in ("subscribes", "emits") else [group]
            for topic in topics:
                found.setdefault(topic, how)
    return found
