"""Route middleware, as Motia 1.0 ran it: (request, ctx, next)."""

from motia import ApiResponse


async def require_json(request, ctx, next):
    content_type = request.headers.get("content-type", "")
    if "application/json" not in content_type:
        ctx.logger.warn("Rejected a non-JSON request")
        return ApiResponse(status=415, body={"error": "send application/json"})
    return await next()


async def reject_empty_body(request, ctx, next):
    if not request.body:
        return ApiResponse(status=400, body={"error": "empty body"})
    return await next()
