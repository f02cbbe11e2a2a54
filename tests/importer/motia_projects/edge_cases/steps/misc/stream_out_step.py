from motia import MotiaHttpArgs, http

config = {"name": "StreamOut", "triggers": [http("GET", "/stream-out")], "enqueues": []}


async def handler(args: MotiaHttpArgs, ctx) -> None:
    await args.response.status(200)
    args.response.writer.stream.write(b"hello")
    args.response.close()
