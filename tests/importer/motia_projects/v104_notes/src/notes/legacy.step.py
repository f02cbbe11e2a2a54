from motia import http

config = {"name": "Legacy", "triggers": [http("GET", "/legacy")], "enqueues": []}


def handler(request):
    return {"status": 200}
