# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""The cron worker: expressions checked as the `cron` crate 0.15 (every line's scheduler) parses
them, and ticks fired on demand with the scheduler's payload."""

import re
from datetime import datetime, timezone
from functools import partial

from .protocol import EngineWorker, InvocationFailed, Message

_CRON_SHORTHANDS = {"@yearly", "@monthly", "@weekly", "@daily", "@hourly"}


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


_LONG_NAMES = {
    "january": 1, "february": 2, "march": 3, "april": 4, "june": 6, "july": 7, "august": 8,
    "september": 9, "october": 10, "november": 11, "december": 12,
}  # fmt: skip


_LONG_DAYS = {
    "sunday": 1, "monday": 2, "tues": 3, "tuesday": 3, "wednesday": 4, "thurs": 5,
    "thursday": 5, "friday": 6, "saturday": 7,
}  # fmt: skip


# (name, inclusive min, inclusive max, accepts `?`), seconds first; years are optional.
_CRON_FIELDS = (
    ("Seconds", 0, 59, False),
    ("Minutes", 0, 59, False),
    ("Hours", 0, 23, False),
    ("Days of Month", 1, 31, True),
    ("Months", 1, 12, False),
    ("Days of Week", 1, 7, True),
    ("Years", 1970, 2100, False),
)


_CRON_TOKEN = re.compile(r"^(?:(\*|\?)|(\d+)-(\d+)|(\d+)|([A-Za-z]+)-([A-Za-z]+)|([A-Za-z]+))$")


class _CronError(ValueError):
    pass


def _cron_name(field_name: str, name: str) -> int:
    lower = name.lower()
    if field_name == "Months":
        if lower in _MONTHS:
            return _MONTHS.index(lower) + 1
        if lower in _LONG_NAMES:
            return _LONG_NAMES[lower]
        raise _CronError(f"'{name}' is not a valid month name.")
    if field_name == "Days of Week":
        if lower in _DAYS:
            return _DAYS.index(lower) + 1
        if lower in _LONG_DAYS:
            return _LONG_DAYS[lower]
        raise _CronError(f"'{name}' is not a valid day of the week.")
    raise _CronError(f"The '{field_name}' field does not support using names. '{name}' specified.")


def _cron_ordinal(field_name: str, low: int, high: int, value: int) -> int:
    if value < low:
        raise _CronError(
            f"{field_name} must be greater than or equal to {low}. ('{value}' specified.)"
        )
    if value > high:
        raise _CronError(f"{field_name} must be less than {high}. ('{value}' specified.)")
    return value


def _cron_item(spec: tuple[str, int, int, bool], item: str) -> None:
    """One comma-separated item of a field: a point, range, name, `*`/`?`, each with `/step`."""
    name, low, high, any_allowed = spec
    base, slash, step = item.partition("/")
    token = _CRON_TOKEN.match(base)
    if token is None or (slash and not step.isdigit()):
        raise _CronError("invalid cron expression syntax")
    star, start, end, point, name_start, name_end, named = token.groups()
    if star == "?" and not any_allowed:
        raise _CronError("invalid cron expression syntax")
    if slash:
        if named:  # a named point takes no step
            raise _CronError("invalid cron expression syntax")
        if int(step) == 0:
            raise _CronError("range step cannot be zero")
        if int(step) > high:
            raise _CronError(f"{name} must be between 1 and {high}. ('{step}' specified.)")
    if point:
        _cron_ordinal(name, low, high, int(point))
    elif start:
        first, last = int(start), int(end)
        if not (low <= first <= high and low <= last <= high and first <= last):
            raise _CronError(f"Invalid range for {name}: {first}-{last}")
    elif name_start:
        first, last = _cron_name(name, name_start), _cron_name(name, name_end)
        if first > last:
            raise _CronError(f"Invalid named range for {name}: {name_start}-{name_end}")
    elif named:
        _cron_name(name, named)


def cron_problem(expression: str) -> str | None:
    """Why the scheduler refuses a cron expression, or None when it accepts it."""
    if expression.strip() in _CRON_SHORTHANDS:
        return None
    fields = expression.split()
    if len(fields) not in (6, 7):
        return "invalid cron expression syntax (6 or 7 fields, seconds first)"
    try:
        for spec, value in zip(_CRON_FIELDS[: len(fields)], fields, strict=True):
            for item in value.split(","):
                _cron_item(spec, item)
    except _CronError as error:
        return str(error)
    return None


class Provider(EngineWorker):
    """The cron worker of the line."""

    def refusal(self, trigger: Message) -> str | None:
        config = trigger.get("config")
        expression = config.get("expression") if isinstance(config, dict) else None
        expression = expression if isinstance(expression, str) else ""
        if not (expression.strip() if self.rules.cron_registry else expression):
            return "Cron expression is required"
        problem = cron_problem(expression)
        if problem is not None:
            invalid = "invalid" if self.rules.cron_registry else "Invalid"
            return f"{invalid} cron expression '{expression}': {problem}"
        return None

    def tick(self, function_id: str) -> None:
        """Fire the cron trigger bound to `function_id` once, as the scheduler would (a false or
        failing condition skips it; a failing handler raises `InvocationFailed` here, where the
        scheduler would log it)."""
        (trigger,) = [t for t in self.engine.triggers_of("cron") if t["function_id"] == function_id]
        now = datetime.now(timezone.utc).isoformat()
        payload = {
            "trigger": "cron",
            "job_id": trigger["id"],
            "scheduled_time": now,
            "actual_time": now,
        }
        self.engine._run(self._tick(trigger, payload))

    async def _tick(self, trigger: Message, payload: Message) -> None:
        try:
            if not await self.engine._passes(trigger, payload):
                self.engine._record(
                    partial(self.engine.skipped.append, (trigger["function_id"], payload))
                )
                return
        except InvocationFailed:
            return  # the scheduler skips a tick whose condition fails
        await self.engine._call(trigger["function_id"], payload, self.engine._sidecar(trigger))
        self.engine._record(partial(self.engine.fired.append, (trigger["function_id"], payload)))
