from motia import ApiRequest, ApiResponse, http

config = {"name": "Health", "triggers": [http("GET", "/health")], "enqueues": []}


async def handler(request: ApiRequest) -> ApiResponse:
    return ApiResponse(status=200, body={"ok": True})
