"""The trigger-kind catalogue (kinds.yml) read in Python: which handlers a set of answers gives,
and what each registers. An oracle written apart from copier.yml's Jinja, so the tests compare
two readings of the same facts."""

from typing import Any

import yaml

from harness.projects import TEMPLATE, answers_of

CATALOGUE: dict[str, Any] = yaml.safe_load((TEMPLATE / "kinds.yml").read_text())
KINDS: dict[str, dict[str, Any]] = CATALOGUE["kinds"]
OFFERED = [name for name, kind in KINDS.items() if kind.get("offered", True)]
Trigger = tuple[str, str, dict[str, Any]]


def fill(value: Any, handler: dict[str, Any], worker: str) -> Any:
    """`value` with each {name} placeholder replaced by the handler's value (see kinds.yml)."""
    if isinstance(value, str):
        for name, given in handler.items():
            value = value.replace("{" + name + "}", str(given))
        return value.replace("{worker}", worker)
    if isinstance(value, dict):
        return {key: fill(item, handler, worker) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, handler, worker) for item in value]
    return value


def handler_id(worker: str, name: str) -> str:
    return f"{worker}::{name.replace('_', '-')}"


def chosen_handlers(answers: dict[str, Any]) -> list[dict[str, Any]]:
    """The handlers `triggers` gives, with their parameters, in the catalogue's order."""
    worker = answers["worker_name"]
    wanted = set(answers["triggers"])
    if not wanted and not answers.get("own_modules"):
        wanted = {"function"}
    handlers = []
    for kind_name, kind in KINDS.items():
        if kind_name not in wanted:
            continue
        handler: dict[str, Any] = {"kind": kind_name, "name": kind["module"]}
        for param, source in (kind.get("params") or {}).items():
            question = source.get("question")
            handler[param] = answers[question] if question else fill(source["default"], {}, worker)
        handlers.append(handler)
    return handlers


def all_handlers(answers: dict[str, Any]) -> list[dict[str, Any]]:
    """The chosen and added handlers, then those that come with an engine worker they use."""
    listed = chosen_handlers(answers) + list(answers.get("extra_handlers") or [])
    used = {engine for handler in listed for engine in KINDS[handler["kind"]]["engine"]}
    used |= {engine for own in answers.get("own_modules") or [] for engine in own.get("needs", [])}
    for kind_name, kind in KINDS.items():
        if kind.get("with_engine") in used:
            defaults = {param: source["default"] for param, source in kind["params"].items()}
            listed.append({"kind": kind_name, "name": kind["module"], **defaults})
    return listed


def registrations(answers: dict[str, Any]) -> tuple[set[str], list[Trigger]]:
    """Every function id and (trigger type, function id, config) the answers' worker registers."""
    worker = answers["worker_name"]
    functions: set[str] = set()
    triggers: list[Trigger] = []
    for handler in all_handlers(answers):
        placed = {**handler, "id": handler_id(worker, handler["name"])}
        for function in KINDS[handler["kind"]]["functions"]:
            function_id = fill(function["id"], placed, worker)
            functions.add(function_id)
            if "trigger" in function:
                trigger = function["trigger"]
                triggers.append(
                    (trigger["type"], function_id, fill(trigger["config"], placed, worker))
                )
    return functions, triggers


def expected(name: str) -> tuple[set[str], list[str]]:
    """What a named render (renders.yml) registers, triggers as sorted reprs."""
    functions, triggers = registrations(answers_of(name))
    return functions, sorted(repr(trigger) for trigger in triggers)
