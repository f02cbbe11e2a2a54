"""Step configs, read statically in both shapes.

0.x: `config = {"type": "api" | "event" | "cron" | "noop", "name", "path", "method",
"subscribes", "emits", "cron", "middleware", "bodySchema", "input", "flows"}`.
1.x: `config = {"name", "triggers": [http(...), queue(...), cron(...), state(), stream(...)],
"enqueues": [...]}`, also through `step(config, handler)` and `StepConfig(...)`; triggers may be
raw dicts or `ApiTrigger(...)`-style models.
"""

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motia_import.model import Opaque, Step, Trigger, TriggerKind
from motia_import.static_eval import Call, Lookup, evaluate, module_constants

TRIGGER_CALLS: dict[str, TriggerKind] = {
    "http": "http",
    "api": "http",
    "ApiTrigger": "http",
    "queue": "queue",
    "QueueTrigger": "queue",
    "cron": "cron",
    "CronTrigger": "cron",
    "state": "state",
    "StateTrigger": "state",
    "stream": "stream",
    "StreamTrigger": "stream",
}
TRIGGER_TYPES: dict[str, TriggerKind] = {
    "http": "http",
    "api": "http",
    "queue": "queue",
    "event": "queue",
    "cron": "cron",
    "state": "state",
    "stream": "stream",
}
# Positional parameters of the 1.x trigger helpers.
POSITIONAL = {
    "http": ("method", "path"),
    "queue": ("topic",),
    "cron": ("expression",),
    "state": (),
    "stream": ("stream_name",),
}
QUEUE_CONFIG_KEYS = {
    "type": "type",
    "max_retries": "maxRetries",
    "maxRetries": "maxRetries",
    "visibility_timeout": "visibilityTimeout",
    "visibilityTimeout": "visibilityTimeout",
    "delay_seconds": "delaySeconds",
    "delaySeconds": "delaySeconds",
    "concurrency": "concurrency",
    "backoff_type": "backoffType",
    "backoffType": "backoffType",
    "backoff_delay_ms": "backoffDelayMs",
    "backoffDelayMs": "backoffDelayMs",
}


@dataclass
class StepModule:
    """What the config reader found in one step file."""

    step: Step | None
    reason: str = ""  # why it is not a step, when it is not


def text(value: Any) -> str:
    if isinstance(value, Opaque):
        return value.source
    if isinstance(value, Call):
        return value.source
    return repr(value)


def text_of(value: Any) -> str:
    """A config value as the report shows it: strings bare, anything else as written."""
    return value if isinstance(value, str) else text(value)


def source_of(value: Any) -> str | None:
    """The source of a callable or model reference in a config (None when absent)."""
    if value is None:
        return None
    if isinstance(value, Opaque):
        return value.source
    if isinstance(value, Call):
        return value.source
    return repr(value)


def topic_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("topic"), str):
        return str(value["topic"])
    return None


def pydantic_model(value: Any) -> str | None:
    """The class name when a schema is given as a model class (not a JSON schema dict)."""
    if isinstance(value, Opaque) and re.fullmatch(r"[A-Za-z_][\w.]*", value.source):
        return value.source
    if isinstance(value, Call) and value.name == "model_json_schema":
        return value.func.rsplit(".", 1)[0]
    return None


def queue_config(value: Any, problems: list[str]) -> dict[str, object]:
    if value is None:
        return {}
    fields: dict[str, Any]
    if isinstance(value, Call):
        fields = dict(value.kwargs)
    elif isinstance(value, dict):
        fields = value
    else:
        problems.append(f"queue config `{text(value)}` could not be read")
        return {}
    result: dict[str, object] = {}
    for key, item in fields.items():
        if key not in QUEUE_CONFIG_KEYS or isinstance(item, (Opaque, Call)):
            problems.append(f"queue config `{key}` was left out (`{text(item)}`)")
            continue
        result[QUEUE_CONFIG_KEYS[key]] = item
    return result


def trigger_from(value: Any, index: int) -> list[Trigger]:
    """The triggers a 1.x `triggers` entry stands for (none when it cannot be read)."""
    fields: dict[str, Any]
    if isinstance(value, Call) and value.name in TRIGGER_CALLS:
        kind = TRIGGER_CALLS[value.name]
        fields = dict(zip(POSITIONAL[kind], value.args, strict=False)) | dict(value.kwargs)
        source = value.source
    elif isinstance(value, dict) and str(value.get("type")) in TRIGGER_TYPES:
        kind = TRIGGER_TYPES[str(value["type"])]
        fields = dict(value)
        source = repr(value)
    else:
        return []
    trigger = Trigger(kind=kind, index=index, source=source)
    problems = trigger.problems

    def string(*keys: str) -> str:
        for key in keys:
            if key in fields:
                item = fields[key]
                if isinstance(item, str):
                    return item
                problems.append(f"`{key}` is not a plain string (`{text(item)}`)")
        return ""

    trigger.condition = source_of(fields.get("condition"))
    if kind == "http":
        trigger.method = (string("method") or "GET").upper()
        trigger.path = string("path")
        middleware = fields.get("middleware") or []
        if isinstance(middleware, list):
            trigger.middleware = [m for m in (source_of(m) for m in middleware) if m]
        else:
            problems.append(f"middleware `{text(middleware)}` could not be read")
        trigger.body_schema = pydantic_model(fields.get("body_schema", fields.get("bodySchema")))
    elif kind == "queue":
        trigger.topic = string("topic")
        trigger.queue_config = queue_config(fields.get("config"), problems)
        trigger.input_schema = pydantic_model(fields.get("input"))
    elif kind == "cron":
        trigger.expression = string("expression", "cron")
    elif kind == "stream":
        trigger.stream_name = string("stream_name", "streamName")
        for key, attr in (("group_id", "group_id"), ("item_id", "item_id")):
            camel = "groupId" if key == "group_id" else "itemId"
            item = fields.get(key, fields.get(camel))
            if isinstance(item, str):
                setattr(trigger, attr, item)
            elif item is not None:
                problems.append(f"`{key}` is not a plain string (`{text(item)}`)")
    return [trigger]


def triggers_0x(config: dict[Any, Any], problems: list[str]) -> list[Trigger]:
    kind = config.get("type")
    if kind == "api":
        trigger = Trigger(
            kind="http",
            index=0,
            source=f"api {config.get('method', 'GET')} {text_of(config.get('path'))}",
        )
        method = config.get("method", "GET")
        trigger.method = method.upper() if isinstance(method, str) else "GET"
        path = config.get("path")
        trigger.path = path if isinstance(path, str) else ""
        if not isinstance(path, str):
            trigger.problems.append(f"`path` is not a plain string (`{text(path)}`)")
        middleware = config.get("middleware") or []
        if isinstance(middleware, list):
            trigger.middleware = [m for m in (source_of(m) for m in middleware) if m]
        trigger.body_schema = pydantic_model(config.get("bodySchema"))
        return [trigger]
    if kind == "event":
        subscribes = config.get("subscribes") or []
        if not isinstance(subscribes, list):
            problems.append(f"`subscribes` could not be read (`{text(subscribes)}`)")
            return []
        triggers: list[Trigger] = []
        for topic in subscribes:
            trigger = Trigger(kind="queue", index=len(triggers), source=f"event {text_of(topic)}")
            if isinstance(topic, str):
                trigger.topic = topic
            else:
                trigger.problems.append(f"a topic is not a plain string (`{text(topic)}`)")
            trigger.input_schema = pydantic_model(config.get("input"))
            triggers.append(trigger)
        return triggers
    if kind == "cron":
        trigger = Trigger(kind="cron", index=0, source=f"cron {text_of(config.get('cron'))}")
        expression = config.get("cron")
        trigger.expression = expression if isinstance(expression, str) else ""
        if not isinstance(expression, str):
            trigger.problems.append(f"`cron` is not a plain string (`{text(expression)}`)")
        return [trigger]
    if kind == "noop":
        return []
    problems.append(f"unknown step type {kind!r}")
    return []


def find_config(tree: ast.Module) -> ast.expr | None:
    found: ast.expr | None = None
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == "config" for t in statement.targets):
                found = statement.value
        elif (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and statement.target.id == "config"
        ):
            found = statement.value
    return found


def module_functions(tree: ast.Module) -> dict[str, str]:
    """Module-level callables: name -> the function it is (aliases like `handler = run`)."""
    functions: dict[str, str] = {}
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions[statement.name] = statement.name
        elif isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Name):
            for target in statement.targets:
                if isinstance(target, ast.Name) and statement.value.id in functions:
                    functions[target.id] = functions[statement.value.id]
    return functions


def unwrap_step_builder(value: Any) -> tuple[Any, str | None]:
    """`step(config, handler)`, `step(config).handle(handler)` and `StepConfig(...)`."""
    if isinstance(value, Call) and value.name == "StepConfig":
        return dict(value.kwargs), None
    if isinstance(value, Call) and value.name == "step" and value.args:
        handler = value.args[1] if len(value.args) > 1 else value.kwargs.get("handler")
        inner, _ = unwrap_step_builder(value.args[0])
        return inner, source_of(handler)
    if isinstance(value, Call) and value.name == "handle" and value.args:
        # `step(config).handle(handler)`: the receiver is in the source only.
        match = re.match(r"\s*step\((.*)\)\s*\.handle\(", value.source, re.DOTALL)
        if match:
            return Opaque(match[1]), source_of(value.args[0])
    return value, None


def read_step(path: Path, source: str, tree: ast.Module, lookup: Lookup | None) -> StepModule:
    """The step a Motia step file defines, or why it defines none."""
    config_node = find_config(tree)
    if config_node is None:
        return StepModule(None, "no module-level `config`: Motia skipped it")
    env = module_constants(tree, source, lookup)
    config, builder_handler = unwrap_step_builder(evaluate(config_node, source, env, lookup))
    if not isinstance(config, dict):
        return StepModule(None, f"`config` could not be read (`{text(config)}`)")
    functions = module_functions(tree)
    handler_name = builder_handler or "handler"
    if handler_name not in functions:
        return StepModule(None, f"no `{handler_name}` function: Motia skipped it")

    problems: list[str] = []
    name = config.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("the step has no plain-string `name`; the file name stands in")
        name = re.sub(r"[._]step$", "", path.stem)
    if config.get("type") == "noop":
        return StepModule(None, "a noop step (a node of the flow diagram): nothing ran it")
    if "type" in config and "triggers" not in config:
        shape = "0.x"
        triggers = triggers_0x(config, problems)
        emits = [t for t in map(topic_of, config.get("emits") or []) if t]
    else:
        shape = "1.x"
        raw = config.get("triggers") or []
        triggers = []
        if not isinstance(raw, list):
            problems.append(f"`triggers` could not be read (`{text(raw)}`)")
            raw = []
        for entry in raw:
            read = trigger_from(entry, len(triggers))
            if not read:
                problems.append(f"trigger `{text(entry)}` could not be read")
            triggers.extend(read)
        emits = [t for t in map(topic_of, config.get("enqueues") or config.get("emits") or []) if t]
    flows = [f for f in config.get("flows") or [] if isinstance(f, str)]
    description = config.get("description")
    step = Step(
        path=path,
        name=name.strip(),
        shape=shape,  # type: ignore[arg-type]
        triggers=triggers,
        description=description if isinstance(description, str) else "",
        flows=flows,
        emits=emits,
        handler=functions[handler_name],
        config_problems=problems,
    )
    return StepModule(step)
