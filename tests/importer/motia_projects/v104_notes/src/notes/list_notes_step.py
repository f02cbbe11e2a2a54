from motia import ApiRequest, ApiResponse, http, stateManager

config = {"name": "ListNotes", "triggers": [http("GET", "/notes")], "enqueues": []}


def handler(request: ApiRequest) -> ApiResponse:
    tag = request.query_params.get("tag")
    if isinstance(tag, list):
        tag = tag[0] if tag else None
    notes = stateManager.list("notes")
    if tag:
        notes = [n for n in notes if tag in n.get("tags", [])]
    return ApiResponse(status=200, body={"notes": notes, "count": len(notes)})
