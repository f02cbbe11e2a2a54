"""The iii registrations of a converted step: one function per trigger.

Motia registered one function per trigger too (`steps::<name>::trigger::<kind>`), so each
trigger keeps its own identity: a handler that asks which trigger fired (`ctx.trigger`,
`ctx.match`) gets it from a small wrapper per trigger, and a condition belongs to exactly one
trigger. One function per step with a dispatcher would have to guess the trigger from the
payload, which an http request and a queue message can share.
"""

import re
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
from libcst.helpers import parse_template_statement

from motia_import.model import Step, Trigger
from motia_import.payloads import expression

TRIGGER_TYPES = {
    "http": "http",
    "queue": "durable:subscriber",
    "cron": "cron",
    "state": "state",
    "stream": "stream",
}


def slug(name: str) -> str:
    """`CreateTicket` / `create_ticket` / `SSE Example` -> `create-ticket` / `sse-example`."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name.strip())
    words = re.split(r"[^A-Za-z0-9]+", spaced.lower())
    return "-".join(w for w in words if w) or "step"


def api_path(path: str) -> str:
    """Motia paths as the engine wants them: `{id}` becomes `:id`, one leading slash."""
    converted = re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", r":\1", path.strip())
    return "/" + converted.lstrip("/")


def cron_expression(expression: str) -> tuple[str, str]:
    """The engine's expression (6 or 7 fields, seconds first) and a note when it changed."""
    fields = expression.split()
    if len(fields) == 5:
        return "0 " + " ".join(fields), "a 5-field crontab line: `0 ` (seconds) was put in front"
    if len(fields) in (6, 7) or (len(fields) == 1 and fields[0].startswith("@")):
        return " ".join(fields), ""
    return "", f"`{expression}` is not a cron expression the engine accepts (6 or 7 fields)"


def literal(value: Any, indent: int = 0, used: int | None = None) -> str:
    """Python source for a JSON-like value, wrapped at 100 columns the way ruff format would
    (`indent`: the indentation of the line; `used`: the columns already taken before it)."""
    used = indent if used is None else used
    flat = repr_flat(value)
    if used + len(flat) + 2 <= 100 or not isinstance(value, (dict, list)) or not value:
        return flat
    pad = " " * (indent + 4)
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            prefix = f"{repr_flat(key)}: "
            items.append(f"{pad}{prefix}{literal(item, indent + 4, indent + 4 + len(prefix))},")
        return "{\n" + "\n".join(items) + "\n" + " " * indent + "}"
    items = [f"{pad}{literal(v, indent + 4)}," for v in value]
    return "[\n" + "\n".join(items) + "\n" + " " * indent + "]"


def repr_flat(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{repr_flat(k)}: {repr_flat(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(repr_flat(v) for v in value) + "]"
    return repr(value)


@dataclass
class TriggerPlan:
    trigger: Trigger
    function_id: str
    trigger_type: str
    config: dict[str, Any]
    suffix: str  # what tells this trigger apart in names ("http", "queue-2", ...)
    notes: list[str] = field(default_factory=list)
    problem: str = ""  # why it is not registered


def trigger_info(trigger: Trigger) -> dict[str, Any]:
    """What Motia's `ctx.trigger` held for this trigger."""
    info: dict[str, Any] = {"type": trigger.kind, "index": trigger.index}
    if trigger.kind == "http":
        info |= {"method": trigger.method, "path": trigger.path}
    elif trigger.kind == "queue":
        info["topic"] = trigger.topic
    elif trigger.kind == "cron":
        info["expression"] = trigger.expression
    return info


def plan_triggers(step: Step, worker: str, step_slug: str) -> list[TriggerPlan]:
    plans: list[TriggerPlan] = []
    kinds = [t.kind for t in step.triggers]
    seen: dict[str, int] = {}
    single = len(step.triggers) == 1
    for trigger in step.triggers:
        seen[trigger.kind] = seen.get(trigger.kind, 0) + 1
        suffix = (
            trigger.kind
            if kinds.count(trigger.kind) == 1
            else f"{trigger.kind}-{seen[trigger.kind]}"
        )
        # Under `steps::`, as Motia named them, so no id can clash with the template's handlers
        # (`<worker>::<module>`, such as the readiness check `<worker>::health`).
        base = f"{worker}::steps::{step_slug}"
        function_id = base if single else f"{base}::{suffix}"
        plan = TriggerPlan(trigger, function_id, TRIGGER_TYPES[trigger.kind], {}, suffix)
        if trigger.problems:
            plan.problem = "; ".join(trigger.problems)
        elif trigger.kind == "http":
            if not trigger.path:
                plan.problem = "no path"
            else:
                plan.config = {"api_path": api_path(trigger.path), "http_method": trigger.method}
                if "{" in trigger.path:
                    plan.notes.append("`{param}` path segments became `:param`")
        elif trigger.kind == "queue":
            if not trigger.topic:
                plan.problem = "no topic"
            plan.config = {"topic": trigger.topic}
            if trigger.queue_config:
                plan.config["queue_config"] = dict(trigger.queue_config)
        elif trigger.kind == "cron":
            expression, note = cron_expression(trigger.expression)
            if not expression:
                plan.problem = note
            else:
                plan.config = {"expression": expression}
                if note:
                    plan.notes.append(note)
        elif trigger.kind == "stream":
            if not trigger.stream_name:
                plan.problem = "no stream name"
            plan.config = {"stream_name": trigger.stream_name}
            if trigger.group_id:
                plan.config["group_id"] = trigger.group_id
            if trigger.item_id:
                plan.config["item_id"] = trigger.item_id
        plans.append(plan)
    return plans


@dataclass
class GluePlan:
    """What the registration of one trigger calls."""

    handler: str
    handler_async: bool
    trigger_arg: bool  # pass the trigger info as a second argument
    middleware: list[str]  # in-process middleware, outermost first
    condition: str | None  # the condition callable (after conversion)
    condition_async: bool | None  # None: not known (awaited only when it gives a coroutine)
    engine_middleware: list[str]  # function ids of engine middleware


@dataclass
class Registered:
    """The code a step's registrations need, and what it registers."""

    code: str
    compat: set[str]  # helpers it uses from motia_compat
    uses_any: bool
    functions: list[str] = field(default_factory=list)
    triggers: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


def register_code(step: Step, plans: list[TriggerPlan], glue: dict[str, GluePlan]) -> Registered:
    """The code appended to the step's module: wrappers where a trigger needs one, then one
    `register_function` + `register_trigger` per trigger."""
    result = Registered("", set(), False)
    lines: list[str] = [
        "",
        "",
        "# " + "-" * 93,
        f"# iii registrations of the Motia step {step.name!r}: one function per trigger.",
    ]
    description = step.description or step.name
    for plan in plans:
        if plan.problem:
            continue
        how = glue[plan.suffix]
        registered = how.handler
        suffix = plan.suffix.replace("-", "_")
        info = trigger_info(plan.trigger)
        if how.trigger_arg or how.middleware:
            result.uses_any = True
            wrapper = f"{how.handler}_on_{suffix}"
            call = (
                f"{how.handler}(data, {literal(info)})"
                if how.trigger_arg
                else f"{how.handler}(data)"
            )
            if how.middleware:
                result.compat.add("run_middleware")
                chain = f"[{', '.join(how.middleware)}]"
                lines += function(MIDDLEWARE_WRAPPER, name=wrapper, chain=chain, call=call)
            else:
                template = ASYNC_WRAPPER if how.handler_async else SYNC_WRAPPER
                lines += function(template, name=wrapper, call=call)
            registered = wrapper
        config = dict(plan.config)
        if how.engine_middleware:
            config["middleware_function_ids"] = list(how.engine_middleware)
        if how.condition:
            result.uses_any = True
            condition_id = f"{plan.function_id}::condition"
            condition_fn = f"{how.handler}_condition_{suffix}"
            if how.condition_async is False:
                lines += function(SYNC_CONDITION, name=condition_fn, condition=how.condition)
            else:
                result.compat.add("settle")
                lines += function(ASYNC_CONDITION, name=condition_fn, condition=how.condition)
            lines += ["", "", f"iii.register_function({repr_flat(condition_id)}, {condition_fn})"]
            config["condition_function_id"] = condition_id
            result.functions.append(condition_id)
        elif lines[-1].startswith(("    return", "def ", "async def ")):
            lines.append("")
        summary = trigger_summary(plan)
        text = f"{description} ({summary})"
        call = f"iii.register_function({repr_flat(plan.function_id)}, {registered}, description={repr_flat(text)})"
        if len(call) > 100:
            call = (
                f"iii.register_function(\n    {repr_flat(plan.function_id)},\n    {registered},\n"
                f"    description={repr_flat(text)},\n)"
            )
        lines += ["", call]
        registration = {
            "type": plan.trigger_type,
            "function_id": plan.function_id,
            "config": config,
        }
        one_line = f"iii.register_trigger({repr_flat(registration)})"
        lines.append(
            one_line
            if len(one_line) <= 100
            else f"iii.register_trigger(\n    {literal(registration, 4)}\n)"
        )
        result.functions.append(plan.function_id)
        result.triggers.append((plan.trigger_type, plan.function_id, config))
    result.code = "\n".join(lines) + "\n"
    return result


# The functions a registration may need around the step's own (libcst templates).
MIDDLEWARE_WRAPPER = """
async def {name}(data: Any) -> Any:
    # Motia middleware that needs the request body or the response runs here, around the handler.
    return await run_middleware({chain}, data, lambda: {call})
"""
ASYNC_WRAPPER = """
async def {name}(data: Any) -> Any:
    return await {call}
"""
SYNC_WRAPPER = """
def {name}(data: Any) -> Any:
    return {call}
"""
SYNC_CONDITION = """
def {name}(data: Any) -> bool:
    return bool({condition}(data))
"""
ASYNC_CONDITION = """
async def {name}(data: Any) -> bool:
    return bool(await settle({condition}(data)))
"""


def function(template: str, name: str, **sources: str) -> list[str]:
    """The lines of a function built from its template (after two blank lines): `name` is its
    name, the other placeholders are filled with the expressions whose sources are given."""
    nodes = {key: expression(value) for key, value in sources.items()}
    config = cst.PartialParserConfig()
    statement = parse_template_statement(
        template.lstrip("\n"), config, name=cst.Name(name), **nodes
    )
    return ["", "", *cst.Module(body=[statement]).code.rstrip("\n").split("\n")]


def trigger_summary(plan: TriggerPlan) -> str:
    config = plan.config
    if plan.trigger.kind == "http":
        return f"{config['http_method']} {config['api_path']}"
    if plan.trigger.kind == "queue":
        return f"queue {config['topic']}"
    if plan.trigger.kind == "cron":
        return f"cron {config['expression']}"
    if plan.trigger.kind == "stream":
        return f"stream {config['stream_name']}"
    return "state"
