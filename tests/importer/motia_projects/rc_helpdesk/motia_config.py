def authenticate_stream(req, context):
    return {"context": {"user": "anonymous"}}
