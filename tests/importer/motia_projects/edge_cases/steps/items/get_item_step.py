from motia import ApiRequest, ApiResponse, FlowContext, http

config = {"name": "GetItem", "triggers": [http("GET", "/items/:id")], "enqueues": []}


async def handler(request: ApiRequest, ctx: FlowContext) -> ApiResponse:
    # The step reads its own config: the config stays (as plain dicts).
    return ApiResponse(status=200, body={"id": request.path_params["id"], "step": config["name"]})
