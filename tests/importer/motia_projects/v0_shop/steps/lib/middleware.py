"""Motia middleware for the order API."""

import os
import time


async def require_api_key(req, context, next_fn):
    # Deny unless the caller sends the shared key.
    expected = os.environ.get("SHOP_API_KEY", "")
    if not expected or req.get("headers", {}).get("x-api-key") != expected:
        return {"status": 401, "body": {"error": "missing or wrong x-api-key"}}
    return await next_fn()


async def log_timing(req, context, next_fn):
    started = time.monotonic()
    response = await next_fn()
    context.logger.info("Request timed", {"ms": round((time.monotonic() - started) * 1000)})
    return response
