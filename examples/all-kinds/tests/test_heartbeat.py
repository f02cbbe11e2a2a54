"""The scheduled job records its last run in engine state (invoked through the engine double)."""

from src.handlers import heartbeat as job
from tests.engine_double import EngineDouble


def test_registers_its_functions_and_triggers(engine: EngineDouble) -> None:
    engine.check_registered(
        {
            "orders-worker::heartbeat": [("cron", {"expression": "0 */5 * * * *"})],
        }
    )


def test_records_the_last_run_in_state(engine: EngineDouble) -> None:
    tick: job.CronEvent = {
        "trigger": "cron",
        "job_id": "job-1",
        "scheduled_time": "2026-01-01T00:05:00Z",
        "actual_time": "2026-01-01T00:05:00.012Z",
    }

    engine.wait_for_functions(job.FUNCTION_ID)

    engine.invoke(job.FUNCTION_ID, tick)

    assert engine.state[(job.STATE_SCOPE, "last-run")] == {
        "job_id": "job-1",
        "scheduled_time": "2026-01-01T00:05:00Z",
        "actual_time": "2026-01-01T00:05:00.012Z",
    }


def test_expression_has_seconds_first() -> None:
    assert len(job.EXPRESSION.split()) in (6, 7)
