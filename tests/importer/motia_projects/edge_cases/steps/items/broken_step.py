config = {"name": "Broken", "triggers": [}


async def handler(input, ctx):
    return None
