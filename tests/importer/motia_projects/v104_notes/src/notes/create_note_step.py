"""POST /notes: store a note and announce it."""

import os
import sys
import uuid

from motia import ApiRequest, ApiResponse, enqueue, http, logger, stateManager

_HERE = os.path.dirname(os.path.abspath(__file__))
_PROJECT_ROOT = os.path.dirname(os.path.dirname(_HERE))
for _p in [os.path.join(_PROJECT_ROOT, "lib")]:
    if _p not in sys.path:
        sys.path.insert(0, _p)

from text import normalize_tags  # noqa: E402

config = {
    "name": "CreateNote",
    "description": "Store a note",
    "triggers": [http("POST", "/notes")],
    "enqueues": ["note.created"],
}


def handler(request: ApiRequest) -> ApiResponse:
    body = request.body or {}
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        return ApiResponse(status=400, body={"error": "text is required"})
    note = {"id": uuid.uuid4().hex[:10], "text": text.strip(), "tags": normalize_tags(body.get("tags", []))}
    stateManager.set("notes", note["id"], note)
    enqueue({"topic": "note.created", "data": note})
    logger.info("Note stored", {"id": note["id"]})
    return ApiResponse(status=201, body=note, headers={"location": f"/notes/{note['id']}"})
