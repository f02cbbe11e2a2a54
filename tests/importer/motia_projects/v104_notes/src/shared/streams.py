"""The streams the notes steps write to."""

from typing import Any

from motia import Stream

notes_stream: Stream[dict[str, Any]] = Stream("notes")
