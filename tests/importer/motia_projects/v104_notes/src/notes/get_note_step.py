from motia import ApiRequest, ApiResponse, http, stateManager

config = {"name": "GetNote", "triggers": [http("GET", "/notes/:id")], "enqueues": []}


def handler(request: ApiRequest) -> ApiResponse:
    note = stateManager.get("notes", request.path_params["id"])
    if note is None:
        return ApiResponse(status=404, body={"error": "not found"})
    return ApiResponse(status=200, body=note)
