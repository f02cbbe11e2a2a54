"""A durable queue: a publisher function and the subscriber that processes its jobs.

Topic: `orders-worker.jobs`. Other functions, in this worker or any other, publish a job by calling
`orders-worker::jobs::publish`, which goes through the engine's `iii::durable::publish`. The subscriber is bound with a `durable:subscriber`
trigger and receives the published `data` itself. A subscriber that raises is retried by the
queue (up to `maxRetries`), so a malformed job is dropped instead of raising forever: it is
logged with its content, cut to MAX_LOGGED_JOB characters, so that it can be found and sent again.
"""

import json
from typing import Any, TypedDict

from src.lib.iii_client import iii, logger

TOPIC = "orders-worker.jobs"
PUBLISH_ID = "orders-worker::jobs::publish"
PROCESS_ID = "orders-worker::jobs::process"
MAX_LOGGED_JOB = 2000


class Job(TypedDict):
    kind: str
    payload: dict[str, Any]


class Published(TypedDict):
    topic: str
    published: bool


def validate_job(job: Any) -> str:
    """Why a job is malformed, or "" when it is fine."""
    if not isinstance(job, dict):
        return "a job must be a JSON object"
    if not isinstance(job.get("kind"), str) or not job["kind"]:
        return "'kind' must be a non-empty string"
    if not isinstance(job.get("payload", {}), dict):
        return "'payload' must be an object"
    return ""


def bounded(job: Any) -> str:
    """The job as JSON (repr for what JSON cannot hold), cut to MAX_LOGGED_JOB characters."""
    text = json.dumps(job, default=repr, ensure_ascii=False)
    if len(text) <= MAX_LOGGED_JOB:
        return text
    return f"{text[:MAX_LOGGED_JOB]}... ({len(text) - MAX_LOGGED_JOB} more characters)"


async def publish_job(job: Job) -> Published:
    problem = validate_job(job)
    if problem:
        raise ValueError(problem)
    await iii.trigger_async(
        {"function_id": "iii::durable::publish", "payload": {"topic": TOPIC, "data": job}}
    )
    return {"topic": TOPIC, "published": True}


async def process_job(job: Job) -> None:
    problem = validate_job(job)
    if problem:
        dropped = {"topic": TOPIC, "reason": problem, "job": bounded(job)}
        logger.error("Dropped a malformed job", dropped)
        return
    logger.info("Processing job", {"topic": TOPIC, "kind": job["kind"]})


iii.register_function(PUBLISH_ID, publish_job, description=f"Publish a job to {TOPIC}")
iii.register_function(PROCESS_ID, process_job, description=f"Process jobs from {TOPIC}")
iii.register_trigger(
    {
        "type": "durable:subscriber",
        "function_id": PROCESS_ID,
        # queue_config keys are camelCase on the wire.
        "config": {"topic": TOPIC, "queue_config": {"maxRetries": 3}},
    }
)
