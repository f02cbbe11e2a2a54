"""What the importer reads from a Motia project, what each phase of the conversion hands to
the next (convert.py), and what it reports back.

Steps and triggers are read statically (the source project is never imported or run), so values
the reader cannot work out stay as the source text they came from (`Opaque`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the phases' own modules import this one
    from motia_import.analysis import FunctionKey, ModuleUnit, ProjectFacts
    from motia_import.discovery import Discovered, Rule
    from motia_import.modules import Layout, ProjectModules
    from motia_import.registrations import TriggerPlan

# 0.x: steps run by the Node `motia` package (dict configs with "type"); 1.x: the Python `motia`
# package (1.0 release candidates and 1.0.x, configs with "triggers").
Generation = Literal["0.x", "1.x"]
TriggerKind = Literal["http", "queue", "cron", "state", "stream"]


@dataclass(frozen=True)
class Opaque:
    """A config value the reader could not evaluate, kept as its source text."""

    source: str


@dataclass
class Trigger:
    """One trigger of a step, in Motia's terms, before it becomes an iii registration."""

    kind: TriggerKind
    index: int  # position among the step's triggers (what Motia's ctx.trigger.index said)
    source: str  # how the trigger was written, for the report
    method: str = ""  # http
    path: str = ""  # http, as written (`:id` or `{id}`)
    topic: str = ""  # queue: one topic per trigger (a 0.x `subscribes` list gives several)
    queue_config: dict[str, object] = field(default_factory=dict)  # camelCase, as the engine wants
    expression: str = ""  # cron, as written
    stream_name: str = ""
    group_id: str | None = None
    item_id: str | None = None
    condition: str | None = None  # source of the condition callable
    middleware: list[str] = field(default_factory=list)  # sources of middleware callables
    body_schema: str | None = None  # source of a pydantic model given as the body schema
    input_schema: str | None = None  # source of a pydantic model given as the queue input
    problems: list[str] = field(default_factory=list)  # why part of it could not be read


@dataclass
class Step:
    """A Motia step file with a readable config."""

    path: Path  # relative to the project root
    name: str
    shape: Generation  # the shape of its config (a project may mix them during an upgrade)
    triggers: list[Trigger]
    description: str = ""
    flows: list[str] = field(default_factory=list)
    emits: list[str] = field(default_factory=list)  # topics the config declares it publishes
    handler: str = "handler"  # the module-level name Motia called
    config_problems: list[str] = field(default_factory=list)


class Status(str, Enum):  # noqa: UP042 (StrEnum is 3.11+; the importer runs on 3.10)
    CONVERTED = "converted"
    TODO = "TODO"
    SKIPPED = "skipped"
    NOTE = "note"

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


@dataclass(frozen=True)
class Finding:
    """One line of the report: a step, trigger, construct or file and what became of it."""

    where: str  # a file (relative to the source root), with a line when there is one
    what: str  # the construct, in the source's terms
    status: Status
    detail: str = ""
    step: str = ""  # the step it belongs to, when it belongs to one


@dataclass(frozen=True)
class RenderedModule:
    """One converted module and the facts the project-level phases need from it."""

    code: str
    compat: frozenset[str]  # motia_compat helpers it imports
    workers: frozenset[str]  # engine workers its rewritten calls use (state, stream, queue)
    published: tuple[str, ...]  # literal topics it publishes to
    # project files its `__file__` paths read: new place (in DEST) -> path in the source
    carried: dict[PurePosixPath, PurePosixPath] = field(default_factory=dict)


# The conversion's phases (convert.py) ------------------------------------------------------------


@dataclass
class EntryPlan:
    """How a function the engine (or generated glue) calls is rewritten (rules/entry_points.py)."""

    kind: str  # "handler", "condition", "middleware", "engine-middleware"
    input_kind: str
    step: str = ""
    needs_trigger: bool = False
    make_async: bool = False
    input_model: str | None = None  # validate a queue input into this pydantic model
    input_param: str | None = None  # the name of its input parameter (None: it takes none)
    body_model: str | None = None  # validate an http body into this pydantic model


@dataclass
class Registration:
    functions: list[str] = field(default_factory=list)
    triggers: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Converted:
    files: dict[PurePosixPath, str]  # relative to the generated project
    findings: list[Finding]
    registration: Registration
    needs: list[str]  # engine workers the converted code uses
    steps: list[Step]
    rule: str
    topics: dict[str, dict[str, list[str]]]  # topic -> {"subscribers": [...], "publishers": [...]}
    duplicate_routes: list[tuple[str, list[str]]]  # route -> the function ids that wanted it
    # project files read through `__file__` paths: new place (in DEST) -> path in the source
    carried: dict[PurePosixPath, PurePosixPath] = field(default_factory=dict)


@dataclass(frozen=True)
class Reading:
    rule: Rule
    found: Discovered
    modules: ProjectModules
    steps: list[Step]


@dataclass(frozen=True)
class Loaded:
    units: dict[PurePosixPath, ModuleUnit]
    layout: Layout
    unresolved: dict[PurePosixPath, list[str]]


@dataclass(frozen=True)
class Analysis:
    facts: ProjectFacts
    plans: dict[PurePosixPath, list[TriggerPlan]]
    duplicates: list[tuple[str, list[str]]]
    engine_ids: dict[FunctionKey, str]  # middleware the engine runs -> its function id
    entry_plans: dict[FunctionKey, EntryPlan]
    blocking: set[FunctionKey]
    droppable: dict[FunctionKey, set[str]]


@dataclass
class Rendering:
    files: dict[PurePosixPath, str] = field(default_factory=dict)
    registration: Registration = field(default_factory=Registration)
    workers: set[str] = field(default_factory=set)  # engine workers the rewritten calls use
    compat: set[str] = field(default_factory=set)
    failed: set[PurePosixPath] = field(default_factory=set)
    published: dict[str, list[str]] = field(default_factory=dict)  # publisher -> topics
    carried: dict[PurePosixPath, PurePosixPath] = field(default_factory=dict)
