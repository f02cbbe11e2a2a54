"""A scheduled job, fired by the engine's `cron` trigger (0 */5 * * * *).

iii cron expressions have six fields with seconds first (sec min hour day month weekday), or
seven with a year: a five-field crontab line would run at the wrong times. The engine sends
`{"trigger": "cron", "job_id", "scheduled_time", "actual_time"}` and ignores the return value.
This job records its last run in engine state, where other functions (or a health check) can
read it with `state::get`.
"""

from typing import TypedDict

from src.lib.iii_client import iii, logger

EXPRESSION = "0 */5 * * * *"
FUNCTION_ID = "orders-worker::heartbeat"
STATE_SCOPE = "orders-worker::heartbeat"


class CronEvent(TypedDict, total=False):
    trigger: str
    job_id: str
    scheduled_time: str
    actual_time: str


async def run_job(event: CronEvent) -> None:
    last_run = {
        "job_id": event.get("job_id"),
        "scheduled_time": event.get("scheduled_time"),
        "actual_time": event.get("actual_time"),
    }
    logger.info("Scheduled job ran", last_run)
    await iii.trigger_async(
        {
            "function_id": "state::set",
            "payload": {"scope": STATE_SCOPE, "key": "last-run", "value": last_run},
        }
    )


iii.register_function(FUNCTION_ID, run_job, description=f"Scheduled job ({EXPRESSION})")
iii.register_trigger(
    {"type": "cron", "function_id": FUNCTION_ID, "config": {"expression": EXPRESSION}}
)
