"""`tests/test_imported_steps.py`: the converted registrations, checked exactly over the wire
(the template's own `tests/test_main.py` checks only its own ones once steps are imported)."""

from motia_import.model import Registration
from motia_import.registrations import literal


def imported_steps_test(registration: Registration) -> str:
    names = sorted(set(registration.functions))
    functions = "{\n" + "\n".join(f"    {literal(f)}," for f in names) + "\n}" if names else "set()"
    rows = "\n".join(
        f"    {literal([t, f, c], 4)},"
        for t, f, c in sorted(registration.triggers, key=lambda x: (x[1], x[0], repr(x[2])))
    )
    triggers = f"[\n{rows}\n]" if rows else "[]"
    return f'''"""The steps imported from Motia (`src/steps/`, see MIGRATION.md) register exactly these
functions and triggers. Written by motia_import; regenerate it by importing again, or keep it up
to date by hand as the steps change."""

import json
from typing import Any

import src.steps  # noqa: F401  (importing the package registers every converted step)
from tests.engine_double import EngineDouble

EXPECTED_FUNCTIONS: set[str] = {functions}
EXPECTED_TRIGGERS: list[list[Any]] = {triggers}


def imported_triggers(engine: EngineDouble) -> list[str]:
    """The registered triggers bound to the imported functions."""
    return sorted(
        json.dumps([t["trigger_type"], t["function_id"], t["config"]], sort_keys=True)
        for t in engine.triggers.values()
        if t["function_id"] in EXPECTED_FUNCTIONS
    )


def test_the_imported_steps_register_exactly_their_functions_and_triggers(
    engine: EngineDouble,
) -> None:
    engine.wait_until(
        lambda: (
            set(engine.functions) >= EXPECTED_FUNCTIONS
            and len(imported_triggers(engine)) + len(rejected(engine)) >= len(EXPECTED_TRIGGERS)
        ),
        timeout=30,
    )

    assert set(engine.functions) >= EXPECTED_FUNCTIONS
    assert imported_triggers(engine) == sorted(
        json.dumps(trigger, sort_keys=True) for trigger in EXPECTED_TRIGGERS
    )
    assert rejected(engine) == []


def rejected(engine: EngineDouble) -> list[dict[str, Any]]:
    return [r for r in engine.rejected if r["function_id"] in EXPECTED_FUNCTIONS]
'''
