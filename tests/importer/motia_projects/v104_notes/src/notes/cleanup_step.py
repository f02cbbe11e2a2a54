from motia import cron, logger, stateManager

config = {
    "name": "CleanupEmptyTags",
    "description": "Drop tags that index no note any more",
    "triggers": [cron("0 0 3 * * * *")],
    "enqueues": [],
}


def handler(input, ctx):
    for scope in stateManager.list_groups():
        logger.debug("Scope", {"scope": scope})
    for index in stateManager.list("tag-index"):
        if not index:
            logger.warning("Empty tag index")
