"""The conversion, in memory: a Motia project in, the files of the converted package and the
report out. Nothing here writes to disk (render.py does), so it is quick to test and to time.
"""

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import libcst as cst

from motia_import.analysis import (
    Entry,
    FunctionKey,
    ImportResolver,
    ModuleUnit,
    ProjectFacts,
    collect_module_facts,
    collect_references,
    find_blocking,
    iterate_scopes,
    names_by_function,
    parameters,
    relevant,
    share_stream_handles,
)
from motia_import.compat import COMPAT_SOURCE
from motia_import.configs import read_step
from motia_import.discovery import Discovered, discover
from motia_import.finish import FinishPlan, finish_module
from motia_import.middleware import engine_middleware_blockers
from motia_import.model import (
    Analysis,
    EntryPlan,
    Finding,
    Loaded,
    Reading,
    RenderedModule,
    Rendering,
    Status,
    Step,
)
from motia_import.model import (
    Converted as Converted,  # re-exported: render.py and report.py take it from here
)
from motia_import.model import (
    Registration as Registration,  # re-exported for testgen.py and the tests
)
from motia_import.modules import (
    PACKAGE_DIR,
    Layout,
    ProjectModules,
    Target,
    closure,
    plan_layout,
)
from motia_import.project import SourceProject
from motia_import.registrations import (
    GluePlan,
    TriggerPlan,
    plan_triggers,
    register_code,
    slug,
)
from motia_import.roles import code
from motia_import.rules import TODO
from motia_import.rules.context import TRIGGER_CHECKS
from motia_import.rules.entry_points import references
from motia_import.rules.file_paths import (
    FileRelative,
    carry_files,
    carry_place,
    file_relative_uses,
    header,
)
from motia_import.static_eval import MISSING, module_constants
from motia_import.topics import other_language_topics
from motia_import.transform import ModuleOptions, ModuleRewriter, rewrite_module

ENGINE_WORKERS = {
    "http": "http",
    "queue": "queue",
    "cron": "cron",
    "state": "state",
    "stream": "stream",
}
DICT_METHODS = {
    "get",
    "keys",
    "items",
    "values",
    "copy",
    "pop",
    "setdefault",
    "update",
    "model_dump",
}


class _Resolver(ImportResolver):
    def __init__(self, modules: ProjectModules) -> None:
        self.modules = modules

    def module_file(self, importer: PurePosixPath, module: str, level: int) -> PurePosixPath | None:
        target = self.modules.find(importer, module, level)
        if target is None:
            return None
        return target.path / "__init__.py" if target.is_package else target.path

    def submodule_file(self, module_file: PurePosixPath, name: str) -> PurePosixPath | None:
        if module_file.name != "__init__.py":
            return None
        found = self.modules.submodule(Target(module_file.parent, True), name)
        if found is None:
            return None
        return found.path / "__init__.py" if found.is_package else found.path


def constant_lookup(modules: ProjectModules, path: PurePosixPath, tree: ast.Module) -> Any:
    """Names a config takes from other project modules (`from .topics import ORDERS`)."""
    imported: dict[str, tuple[str, int, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                imported[alias.asname or alias.name] = (node.module or "", node.level, alias.name)
    seen: set[tuple[PurePosixPath, str]] = set()

    def lookup(name: str) -> Any:
        if name not in imported:
            return MISSING
        module, level, original = imported[name]
        target = modules.find(path, module, level)
        if target is None:
            return MISSING
        file = target.path / "__init__.py" if target.is_package else target.path
        if (file, original) in seen:
            return MISSING
        seen.add((file, original))
        source = modules.source(file)
        if source is None:
            return MISSING
        return module_constants(source.tree, source.text).get(original, MISSING)

    return lookup


def hoist_lambdas(unit: ModuleUnit, step: Step) -> list[str]:
    """Lambda conditions written inside the config become named functions (the config goes)."""
    hoisted: list[str] = []
    for trigger in step.triggers:
        if trigger.condition and trigger.condition.lstrip().startswith("lambda"):
            name = f"{slug(step.name).replace('-', '_')}_condition_{trigger.index}"
            try:
                lam = cst.parse_expression(trigger.condition)
            except cst.ParserSyntaxError:
                continue
            assert isinstance(lam, cst.Lambda)
            params = cst.Module(body=[]).code_for_node(lam.params)
            hoisted.append(f"def {name}({params}):\n    return {code(lam.body)}\n")
            trigger.condition = name
    if hoisted:
        # Parse them into the module so the analysis sees them as functions.
        extra = [
            statement.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()])
            for statement in cst.parse_module("\n\n".join(hoisted)).body
        ]
        unit.tree = unit.tree.with_changes(body=[*unit.tree.body, *extra])
    return hoisted


@dataclass
class _Work:
    source: SourceProject
    worker: str
    findings: list[Finding] = field(default_factory=list)

    def add(self, where: str, what: str, status: Status, detail: str = "", step: str = "") -> None:
        self.findings.append(Finding(where, what, status, detail, step))


def convert(source: SourceProject, worker: str) -> Converted:
    """The conversion as its phases: each returns what the next ones read."""
    work = _Work(source, worker)
    reading = read_source(work, source)
    loaded = load_modules(work, source, reading)
    analysis = analyse(work, loaded.units, reading.modules, worker)
    rendering = render_modules(work, loaded, analysis, reading.modules)
    files = package_files(loaded, analysis, rendering)
    report_discovery(work, reading.found, loaded.units, loaded.unresolved, reading.modules)
    topics = topic_table(
        work, loaded.units, analysis.plans, rendering.published, reading.found, source.root
    )
    needs = rendering.workers | trigger_workers(analysis.plans, rendering.failed)
    return Converted(
        files=files,
        findings=work.findings,
        registration=rendering.registration,
        needs=[n for n in ("http", "cron", "queue", "state", "stream") if n in needs],
        steps=[u.step for u in loaded.units.values() if u.step],
        rule=reading.rule.description,
        topics=topics,
        duplicate_routes=analysis.duplicates,
        carried=rendering.carried,
    )


def read_source(work: _Work, source: SourceProject) -> Reading:
    """Which files Motia would load, and the steps' configs."""
    rule = source.step_rule()
    found = discover(source.root, rule)
    modules = ProjectModules(source.root, found.python_files, source.generation)
    return Reading(rule, found, modules, read_steps(work, found, modules))


def load_modules(work: _Work, source: SourceProject, reading: Reading) -> Loaded:
    """The steps and the project modules they import, parsed, with their place in the new
    layout and what each binds of Motia's."""
    step_paths = [PurePosixPath(s.path.as_posix()) for s in reading.steps]
    kept, unresolved = closure(reading.modules, step_paths)
    layout = plan_layout(kept, set(step_paths), reading.rule.roots)
    units: dict[PurePosixPath, ModuleUnit] = {}
    for path in kept:
        module = reading.modules.source(path)
        text = (
            module.text
            if module
            else (source.root / path).read_text(encoding="utf-8", errors="replace")
        )
        try:
            tree = cst.parse_module(text)
        except cst.ParserSyntaxError as error:
            work.add(
                str(path), "module", Status.TODO, f"libcst could not parse it: {error.message}"
            )
            continue
        step = next((s for s in reading.steps if PurePosixPath(s.path.as_posix()) == path), None)
        units[path] = ModuleUnit(
            path,
            layout.module_name(Target(path, False)),
            tree,
            step,
            text=text,
            names=names_by_function(module.tree) if module else {},
        )
    resolver = _Resolver(reading.modules)
    for unit in units.values():
        if unit.step is not None:
            hoist_lambdas(unit, unit.step)
        collect_module_facts(unit, resolver)
    share_stream_handles(units)
    return Loaded(units, layout, unresolved)


def analyse(
    work: _Work, units: dict[PurePosixPath, ModuleUnit], modules: ProjectModules, worker: str
) -> Analysis:
    """What every trigger registers as, and how each function is rewritten."""
    facts = ProjectFacts(units)
    slugs = step_slugs([u.step for u in units.values() if u.step])
    plans = {
        path: plan_triggers(unit.step, worker, slugs[path])
        for path, unit in units.items()
        if unit.step
    }
    duplicates = refuse_duplicate_routes(plans)
    engine_ids = classify_middleware(work, facts, units)
    declare_entries(facts, units, engine_ids)
    iterate_scopes(facts)
    entry_plans = plan_entries(facts, units)
    blocking = find_blocking(facts)
    droppable = settle_droppable(facts, units, entry_plans, logger_names(units), modules)
    return Analysis(facts, plans, duplicates, engine_ids, entry_plans, blocking, droppable)


def render_modules(
    work: _Work, loaded: Loaded, analysis: Analysis, modules: ProjectModules
) -> Rendering:
    """Every module rewritten; one that fails stays as written under a TODO (not imported)."""
    rendering = Rendering()
    for path, unit in loaded.units.items():
        reported = len(work.findings)
        own_registration = Registration()
        plans = analysis.plans.get(path, [])
        try:
            rendered = render_unit(
                work,
                analysis.facts,
                unit,
                modules,
                loaded.layout,
                analysis.entry_plans,
                analysis.droppable,
                plans,
                analysis.engine_ids,
                own_registration,
                analysis.blocking,
            )
        except Exception as error:  # one module's failure must not stop the rest
            del work.findings[reported:]
            rendering.failed.add(path)
            rendering.files[loaded.layout.new_paths[path]] = left_as_written(unit, error)
            report_unconverted(work, unit, plans, error)
            continue
        rendering.registration.functions.extend(own_registration.functions)
        rendering.registration.triggers.extend(own_registration.triggers)
        rendering.workers |= rendered.workers
        rendering.compat |= rendered.compat
        for place, target in rendered.carried.items():
            if rendering.carried.setdefault(place, target) != target:
                work.add(
                    str(target),
                    "path built from __file__",
                    Status.TODO,
                    f"not carried: {rendering.carried[place]} is already carried to {place}",
                )
        if rendered.published:
            publisher = unit.step.name if unit.step else str(path)
            rendering.published[publisher] = list(rendered.published)
        rendering.files[loaded.layout.new_paths[path]] = rendered.code
    return rendering


def package_files(
    loaded: Loaded, analysis: Analysis, rendering: Rendering
) -> dict[PurePosixPath, str]:
    """The converted modules, the packages' `__init__.py` files, the registry that imports
    every registering module, and the compat helpers when a module uses them."""
    files = dict(rendering.files)
    for directory in sorted({p.parent for p in files} | {PACKAGE_DIR}):
        for parent in [directory, *directory.parents]:
            if len(parent.parts) >= len(PACKAGE_DIR.parts) and parent / "__init__.py" not in files:
                files[parent / "__init__.py"] = ""
    registering = {p for p, u in loaded.units.items() if u.step is not None}
    registering |= {key[0] for key in analysis.engine_ids}
    registering -= rendering.failed
    files[PACKAGE_DIR / "__init__.py"] = registry(
        loaded.units, registering, loaded.layout, files.get(PACKAGE_DIR / "__init__.py", "")
    )
    if rendering.compat:
        files[PACKAGE_DIR / "motia_compat.py"] = COMPAT_SOURCE
    return files


def trigger_workers(
    plans: dict[PurePosixPath, list[TriggerPlan]], failed: set[PurePosixPath]
) -> set[str]:
    """The engine workers the registered triggers need."""
    return {
        ENGINE_WORKERS[plan.trigger.kind]
        for path, plan_list in plans.items()
        if path not in failed
        for plan in plan_list
        if not plan.problem
    }


def route_shape(method: str, path: str) -> str:
    segments = path.strip("/").split("/")
    return f"{method} /" + "/".join(":" if s.startswith(":") else s for s in segments)


# The route of the template's readiness check, rendered whenever the worker uses the engine's
# http worker (kinds.yml, kind `health`; tests check the two agree).
TEMPLATE_ROUTES = {"GET /healthz": "the template's readiness check (src/handlers/health.py)"}


def refuse_duplicate_routes(
    plans: dict[PurePosixPath, list[TriggerPlan]],
) -> list[tuple[str, list[str]]]:
    """Routes of the same method and shape (`/items/:id`, `/items/{item_id}`): the engine
    refuses the second, so only the first (in file order) is registered, and all are reported.
    A route the template's own handlers take is refused too."""
    routes: dict[str, list[TriggerPlan]] = {}
    for path in sorted(plans):
        for plan in plans[path]:
            if plan.trigger.kind == "http" and not plan.problem:
                shape = route_shape(plan.config["http_method"], plan.config["api_path"])
                routes.setdefault(shape, []).append(plan)
    duplicates: list[tuple[str, list[str]]] = []
    for shape, claimants in routes.items():
        if shape in TEMPLATE_ROUTES:
            for plan in claimants:
                plan.problem = f"route {shape} is {TEMPLATE_ROUTES[shape]}'s"
            duplicates.append(
                (shape, [TEMPLATE_ROUTES[shape], *(p.function_id for p in claimants)])
            )
    routes = {
        shape: claimants for shape, claimants in routes.items() if shape not in TEMPLATE_ROUTES
    }
    for shape, claimants in sorted(routes.items()):
        if len(claimants) < 2:
            continue
        duplicates.append((shape, [p.function_id for p in claimants]))
        for plan in claimants[1:]:
            plan.problem = (
                f"duplicate route {shape}: the engine refuses a second route of the same shape "
                f"({claimants[0].function_id} has it)"
            )
    return duplicates


def read_steps(work: _Work, found: Discovered, modules: ProjectModules) -> list[Step]:
    steps: list[Step] = []
    for path in found.steps:
        posix = PurePosixPath(path.as_posix())
        module = modules.source(posix)
        if module is None:
            work.add(
                str(posix),
                "step file",
                Status.TODO,
                "not valid Python: left out (fix it and import again)",
            )
            continue
        read = read_step(
            path, module.text, module.tree, constant_lookup(modules, posix, module.tree)
        )
        if read.step is None:
            work.add(str(posix), "step file", Status.SKIPPED, read.reason)
            continue
        steps.append(read.step)
        for problem in read.step.config_problems:
            work.add(str(posix), "config", Status.TODO, problem, read.step.name)
    return steps


def step_slugs(steps: list[Step | None]) -> dict[PurePosixPath, str]:
    taken: dict[str, int] = {}
    result: dict[PurePosixPath, str] = {}
    for step in sorted((s for s in steps if s), key=lambda s: str(s.path)):
        base = slug(step.name)
        taken[base] = taken.get(base, 0) + 1
        result[PurePosixPath(step.path.as_posix())] = (
            base if taken[base] == 1 else f"{base}-{taken[base]}"
        )
    return result


def resolve_callable(
    facts: ProjectFacts, unit: ModuleUnit, source: str
) -> tuple[FunctionKey, cst.FunctionDef] | None:
    try:
        node = cst.parse_expression(source)
    except cst.ParserSyntaxError:
        return None
    return facts.callee(unit, node)


def classify_middleware(
    work: _Work, facts: ProjectFacts, units: dict[PurePosixPath, ModuleUnit]
) -> dict[FunctionKey, str]:
    """Middleware that becomes engine middleware: function key -> engine function id. Only a
    leading run of a route's middleware can move to the engine (it runs before anything
    in-process), and a function moves only if every route that uses it allows that."""
    usages: list[list[tuple[FunctionKey, cst.FunctionDef] | None]] = []
    for unit in units.values():
        for trigger in unit.step.triggers if unit.step else []:
            usages.append([resolve_callable(facts, unit, m) for m in trigger.middleware])
    candidates: dict[FunctionKey, cst.FunctionDef] = {}
    blockers: dict[FunctionKey, list[str]] = {}
    for usage in usages:
        for found in usage:
            if found is not None and found[0] not in blockers:
                blockers[found[0]] = engine_middleware_blockers(found[1])
                if not blockers[found[0]]:
                    candidates[found[0]] = found[1]
    changed = True
    while changed:
        changed = False
        for usage in usages:
            in_prefix = True
            for found in usage:
                key = found[0] if found else None
                if key is None or key not in candidates:
                    in_prefix = False
                elif not in_prefix:
                    del candidates[key]
                    blockers[key] = ["it runs after middleware that stays in-process"]
                    changed = True
    ids: dict[FunctionKey, str] = {}
    for key in sorted(candidates):
        base = f"{work.worker}::steps::middleware::{slug(key[1])}"
        ids[key] = base if base not in ids.values() else f"{base}-{len(ids) + 1}"
    for key, reasons in blockers.items():
        where = str(key[0])
        if key in ids:
            work.add(
                where, f"middleware {key[1]}", Status.CONVERTED, f"engine middleware {ids[key]}"
            )
        else:
            work.add(
                where,
                f"middleware {key[1]}",
                Status.CONVERTED,
                "runs in-process around the handler: " + "; ".join(reasons),
            )
    return ids


def declare_entries(
    facts: ProjectFacts, units: dict[PurePosixPath, ModuleUnit], engine_ids: dict[FunctionKey, str]
) -> None:
    for unit in units.values():
        step = unit.step
        if step is None:
            continue
        kinds = {t.kind for t in step.triggers}
        input_kind = kinds.pop() if len(kinds) == 1 else "any"
        facts.entries[(unit.path, step.handler)] = Entry("handler", input_kind, step.name)
        for trigger in step.triggers:
            if trigger.condition:
                found = resolve_callable(facts, unit, trigger.condition)
                if found is not None:
                    facts.entries.setdefault(found[0], Entry("condition", trigger.kind, step.name))
            for middleware in trigger.middleware:
                found = resolve_callable(facts, unit, middleware)
                if found is not None:
                    kind = "engine-middleware" if found[0] in engine_ids else "middleware"
                    facts.entries.setdefault(found[0], Entry(kind, "http", step.name))


def plan_entries(
    facts: ProjectFacts, units: dict[PurePosixPath, ModuleUnit]
) -> dict[FunctionKey, EntryPlan]:
    plans: dict[FunctionKey, EntryPlan] = {}
    for key, entry in facts.entries.items():
        unit = units[key[0]]
        function = unit.functions.get(key[1])
        if function is None:
            continue
        params = [p.name.value for p in parameters(function)]
        scope = facts.scopes.get(unit.path, {}).get(key[1])
        ctx = next(
            (
                n
                for n in params
                if scope and scope.names.get(n) is not None and scope.names[n].kind == "ctx"
            ),
            None,
        )
        inputs = [n for n in params if n != ctx]
        if entry.kind in ("middleware", "engine-middleware"):
            inputs = params[:1]
        plan = EntryPlan(
            entry.kind, entry.input_kind, entry.step, input_param=inputs[0] if inputs else None
        )
        body = code(function.body)
        if ctx is not None:
            checks = {"trigger", "match", "get_data", *TRIGGER_CHECKS}
            plan.needs_trigger = entry.kind == "handler" and bool(
                re.search(rf"\b{re.escape(ctx)}\.({'|'.join(checks)})\b", body)
            )
        if entry.kind == "handler" and function.asynchronous is None:
            plan.make_async = returns_coroutine(function, ctx, unit)
        step = unit.step
        if entry.kind == "handler" and step is not None and plan.input_param:
            attribute = rf"\b{re.escape(plan.input_param)}\.(?!({'|'.join(DICT_METHODS)})\b)\w+"
            models = {t.input_schema for t in step.triggers if t.kind == "queue"}
            if (
                len(models) == 1
                and None not in models
                and entry.input_kind == "queue"
                and re.search(attribute, body)
            ):
                plan.input_model = models.pop()
            bodies = {t.body_schema for t in step.triggers if t.kind == "http"}
            body_attribute = (
                rf"\b{re.escape(plan.input_param)}\.body\.(?!({'|'.join(DICT_METHODS)})\b)\w+"
            )
            if len(bodies) == 1 and None not in bodies and re.search(body_attribute, body):
                plan.body_model = bodies.pop()
        plans[key] = plan
    return plans


def returns_coroutine(function: cst.FunctionDef, ctx: str | None, unit: ModuleUnit) -> bool:
    """A sync handler whose return value Motia awaited: `return ctx.match(...)`, an un-awaited
    context call, or a call of an async function of the module."""
    async_functions = {n for n, f in unit.functions.items() if f.asynchronous is not None}
    body = function.body
    statements = body.body if isinstance(body, cst.IndentedBlock) else []

    class Returns(cst.CSTVisitor):
        found = False

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            if node.asynchronous is not None:
                async_functions.add(node.name.value)
            return False

        def visit_Return(self, node: cst.Return) -> None:
            value = node.value
            if not isinstance(value, cst.Call):
                return
            text = code(value.func)
            if (ctx and text.startswith(f"{ctx}.")) or text in async_functions:
                self.found = True

    finder = Returns()
    for statement in statements:
        statement.visit(finder)
    return finder.found


def logger_names(units: dict[PurePosixPath, ModuleUnit]) -> dict[PurePosixPath, str]:
    """How each module refers to the client's logger: motia's import name when it had one,
    else `logger`, unless the module already uses that name for something else."""
    names: dict[PurePosixPath, str] = {}
    for path, unit in units.items():
        motia = next(
            (local for local, export in unit.motia_names.items() if export == "logger"), None
        )
        if motia is not None:
            names[path] = motia
            continue
        names[path] = "iii_logger" if binds_anywhere(unit.text, "logger") else "logger"
    return names


def options_for(unit: ModuleUnit, sync_api: bool, logger_name: str) -> ModuleOptions:
    flows = {unit.step.handler: unit.step.flows} if unit.step else {}
    return ModuleOptions(
        sync_module_api=sync_api,
        logger_name=logger_name,
        flows=flows,
        remove_config=removes_config(unit),
    )


def removes_config(unit: ModuleUnit) -> bool:
    """A step's config goes (the registrations replace it) unless the module reads it; a stream
    definition's config goes too (iii streams need no declaration)."""
    if unit.path.name.endswith(("_stream.py", ".stream.py")):
        return True
    if unit.step is None:
        return False
    try:
        tree = ast.parse(unit.text)
    except SyntaxError:
        return False
    return not reads_name(tree, "config")


def reads_name(tree: ast.Module, name: str) -> bool:
    """Whether a module reads a module-level name (functions that bind it locally do not)."""

    def visit(node: ast.AST, shadowed: bool) -> bool:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                args = child.args
                params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
                stores = {
                    n.id
                    for n in ast.walk(child)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                }
                if visit(child, shadowed or name in params | stores):
                    return True
            elif (
                isinstance(child, ast.Name) and child.id == name and isinstance(child.ctx, ast.Load)
            ):
                if not shadowed:
                    return True
            elif visit(child, shadowed):
                return True
        return False

    return visit(tree, False)


def binds_anywhere(text: str, name: str) -> bool:
    """Whether a module binds `name` anywhere: at its top level, or in a function (as a local,
    `logger = ctx.logger`, or a parameter), where the client's name would clash."""
    if name in module_bindings(text):
        return True
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return True
    return any(
        (isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store))
        or (isinstance(node, ast.arg) and node.arg == name)
        for node in ast.walk(tree)
    )


def module_bindings(text: str) -> set[str]:
    """Names a module binds at its top level (assignments, imports, definitions)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            bound |= {t.id for t in targets if isinstance(t, ast.Name)}
    return bound


def settle_droppable(
    facts: ProjectFacts,
    units: dict[PurePosixPath, ModuleUnit],
    entries: dict[FunctionKey, EntryPlan],
    loggers: dict[PurePosixPath, str],
    modules: ProjectModules,
) -> dict[FunctionKey, set[str]]:
    """Motia-object parameters of helpers (`check_result(ctx, ...)`) that the rewrite leaves
    unused: they leave the signature and every call. Assume all can go, rewrite, and keep
    those still referenced, until nothing changes."""
    droppable: dict[FunctionKey, set[str]] = {}
    for key, roles in facts.param_roles.items():
        if key in facts.entries or "." in key[1]:
            continue
        names = {p for p, r in roles.items() if r.kind in ("ctx", "state", "streams", "enqueue")}
        if names and key[1] in units[key[0]].functions:
            droppable[key] = names
    if droppable:
        trees = {
            path: source.tree for path, source in ((p, modules.source(p)) for p in units) if source
        }
        collect_references(facts, {key[0] for key in droppable}, trees)
        droppable = {k: v for k, v in droppable.items() if k not in facts.referenced}
    sync_api = True
    for _ in range(4):
        if not droppable:
            break
        changed = False
        for path, unit in units.items():
            keys = [k for k in droppable if k[0] == path]
            if not keys:
                continue
            entry_map = {k[1]: v for k, v in entries.items() if k[0] == path}
            try:
                module, _ = rewrite_module(
                    facts,
                    unit,
                    options_for(unit, sync_api, loggers[path]),
                    entry_map,
                    droppable,
                    with_positions=False,
                )
            except Exception:  # reported when the module is rendered
                for key in keys:
                    del droppable[key]
                continue
            functions = {s.name.value: s for s in module.body if isinstance(s, cst.FunctionDef)}
            original = units[path].functions
            for key in keys:
                function = functions.get(key[1])
                names = droppable[key]
                still = {n for n in names if function is None or references(function.body, n)}
                if still or function is None:
                    kept = names - still if function is not None else set()
                    if kept != names:
                        changed = True
                        if kept:
                            droppable[key] = kept
                        else:
                            del droppable[key]
            del original
        if not changed:
            break
    return droppable


def render_unit(
    work: _Work,
    facts: ProjectFacts,
    unit: ModuleUnit,
    modules: ProjectModules,
    layout: Layout,
    entry_plans: dict[FunctionKey, EntryPlan],
    droppable: dict[FunctionKey, set[str]],
    plans: list[TriggerPlan],
    engine_ids: dict[FunctionKey, str],
    registration: Registration,
    blocking: set[FunctionKey],
) -> RenderedModule:
    source = work.source
    sync_api = source.motia_version is None or source.motia_version.release >= (1, 0, 4)
    loggers = logger_names({unit.path: unit})
    entry_map = {k[1]: v for k, v in entry_plans.items() if k[0] == unit.path}
    options = options_for(unit, sync_api, loggers[unit.path])
    if relevant(facts, unit):
        module, rewriter = rewrite_module(
            facts, unit, options, entry_map, droppable, with_positions=True, blocking=blocking
        )
    else:  # nothing of Motia's reaches it: only its imports change
        module, rewriter = unit.tree, ModuleRewriter(facts, unit, options, {}, {}, False)
    step = unit.step
    registrations = ""
    compat: set[str] = set(rewriter.used_compat)
    uses_any = rewriter.uses_any
    client = set(rewriter.used_client)
    if step is not None:
        glue = {}
        for plan in plans:
            glue[plan.suffix] = glue_for(facts, unit, step, plan, entry_plans, engine_ids)
        registered = register_code(step, plans, glue)
        registrations = registered.code
        compat |= registered.compat
        uses_any = uses_any or registered.uses_any
        client.add("iii")
        registration.functions.extend(registered.functions)
        registration.triggers.extend(registered.triggers)
        report_step(work, step, plans)
    own_engine = [(k, i) for k, i in engine_ids.items() if k[0] == unit.path]
    if own_engine:
        registrations += (
            "\n\n# "
            + "-" * 93
            + "\n# iii registrations of the Motia middleware the engine now runs before handlers.\n"
        )
    for key, function_id in own_engine:
        registrations += (
            f'\niii.register_function(\n    "{function_id}",\n    {key[1]},\n'
            f'    description="Motia middleware {key[1]}, run by the engine before the handler",\n)\n'
        )
        client.add("iii")
        uses_any = True
        registration.functions.append(function_id)
    if "logger" in {e for e in unit.motia_names.values()}:
        client.add("logger")
    module_sys_path = modules.source(unit.path)
    sys_path_sources = {
        change.source
        for change in (module_sys_path.sys_path if module_sys_path else [])
        if change.directory
    }
    for change in module_sys_path.sys_path if module_sys_path else []:
        status = Status.CONVERTED if change.directory else Status.TODO
        detail = (
            "removed: its imports go through src.steps now"
            if change.directory
            else "left as it is: the path could not be worked out"
        )
        work.add(f"{unit.path}:{change.lineno}", "sys.path change", status, detail)
    finish_plan = FinishPlan(
        resolve=lambda module_name, level: modules.find(unit.path, module_name, level),
        submodule=lambda target, name: modules.submodule(target, name),
        module_name=layout.module_name,
        sys_path_sources=sys_path_sources,
        remove_config=options.remove_config,
        import_time=rewriter.import_time,
        stream_handles=unit.stream_handles,
        client_names=client,
        logger_name=options.logger_name,
        compat_names=compat,
        uses_any=uses_any,
        registrations=registrations,
        motia_names=unit.motia_names,
    )
    original = modules.source(unit.path)
    original_tree = original.tree if original else ast.parse(unit.text)
    finished = finish_module(module, finish_plan, original_tree)
    for note in rewriter.notes + finished.notes:
        where = f"{unit.path}:{note.line}" if note.line else str(unit.path)
        work.add(where, note.what, note.status, note.detail, step.name if step else "")
    text = finished.code
    uses = file_relative_uses(original_tree, unit.text, unit.path, source.root)
    new_path = layout.new_paths[unit.path]
    taken = {*layout.new_paths, *layout.new_paths.values()}
    carried: dict[PurePosixPath, PurePosixPath] = {}
    left: list[FileRelative] = []
    for use in uses:
        places = {t: carry_place(t, unit.path, new_path, taken) for t in use.targets}
        missing = [t for t, place in places.items() if place is None]
        for target, place in places.items():
            if place is None:
                continue
            files, refused = carry_files(source.root, target, place)
            carried.update(files)
            work.add(
                f"{unit.path}:{use.line}",
                "path built from __file__",
                Status.CONVERTED,
                f"{target} carried to {place}, where the path still reaches it from {new_path}",
                step.name if step else "",
            )
            for outside in refused:
                work.add(
                    outside,
                    "file",
                    Status.TODO,
                    "not carried: its real path is outside the project",
                )
        if missing or not use.targets:
            left.append(FileRelative(use.line, tuple(missing)))
            named = (
                f" ({', '.join(missing)} not carried: outside src/ from there)" if missing else ""
            )
            work.add(
                f"{unit.path}:{use.line}",
                "path built from __file__",
                Status.TODO,
                f"the module moved to {new_path}{named}",
                step.name if step else "",
            )
    if left:
        text = header(left, unit.path, new_path) + text
    for path_module in (m for (p, m) in modules.found_by_name if p == unit.path):
        work.add(
            str(unit.path),
            f"import {path_module}",
            Status.NOTE,
            "found by file name (no search path Motia used explains it); check it is the module you meant",
        )
    return RenderedModule(
        text,
        frozenset(compat),
        frozenset(rewriter.workers),
        tuple(rewriter.published),
        carried,
    )


def left_as_written(unit: ModuleUnit, error: Exception) -> str:
    """A module the rewrite failed on: its source unchanged under a header that says why (the
    package does not import it, so the worker still starts)."""
    reason = " ".join(f"{type(error).__name__}: {error}".split())
    header = (
        f"{TODO}this module could not be converted and is kept as written ({reason}).\n"
        f"{TODO}nothing imports it into the worker; convert it by hand (see MIGRATION.md).\n"
    )
    return header + unit.text


def report_unconverted(
    work: _Work, unit: ModuleUnit, plans: list[TriggerPlan], error: Exception
) -> None:
    step = unit.step
    reason = " ".join(f"{type(error).__name__}: {error}".split())
    name = step.name if step else ""
    work.add(
        str(unit.path), "module", Status.TODO, f"not converted, kept as written: {reason}", name
    )
    if step is not None:
        detail = f"0 of {len(plans)} trigger(s) registered: its module was not converted"
        work.add(str(unit.path), f"step {step.name}", Status.TODO, detail, name)


def glue_for(
    facts: ProjectFacts,
    unit: ModuleUnit,
    step: Step,
    plan: TriggerPlan,
    entry_plans: dict[FunctionKey, EntryPlan],
    engine_ids: dict[FunctionKey, str],
) -> GluePlan:
    handler_key = (unit.path, step.handler)
    entry = entry_plans.get(handler_key)
    function = unit.functions.get(step.handler)
    handler_async = bool(function is not None and function.asynchronous is not None) or bool(
        entry and entry.make_async
    )
    engine: list[str] = []
    in_process: list[str] = []
    for source in plan.trigger.middleware:
        found = resolve_callable(facts, unit, source)
        if found is not None and found[0] in engine_ids and not in_process:
            engine.append(engine_ids[found[0]])
        else:
            in_process.append(source)
    condition = plan.trigger.condition
    condition_async: bool | None = None
    if condition:
        found = resolve_callable(facts, unit, condition)
        if found is not None:
            condition_async = found[1].asynchronous is not None
    return GluePlan(
        handler=step.handler,
        handler_async=handler_async,
        trigger_arg=bool(entry and entry.needs_trigger),
        middleware=in_process,
        condition=condition,
        condition_async=condition_async,
        engine_middleware=engine,
    )


def report_step(work: _Work, step: Step, plans: list[TriggerPlan]) -> None:
    where = str(PurePosixPath(step.path.as_posix()))
    registered = [p for p in plans if not p.problem]
    work.add(
        where,
        f"step {step.name}",
        Status.CONVERTED if registered or not plans else Status.TODO,
        f"{len(registered)} of {len(plans)} trigger(s) registered",
        step.name,
    )
    if not plans:
        work.add(
            where, f"step {step.name}", Status.NOTE, "no triggers: nothing registers it", step.name
        )
    for plan in plans:
        what = f"trigger {plan.trigger.kind} `{plan.trigger.source}`"
        if plan.problem:
            work.add(where, what, Status.TODO, f"not registered: {plan.problem}", step.name)
            continue
        detail = f"{plan.trigger_type} -> {plan.function_id}"
        if plan.notes:
            detail += " (" + "; ".join(plan.notes) + ")"
        work.add(where, what, Status.CONVERTED, detail, step.name)
        if plan.trigger.condition:
            work.add(
                where,
                f"condition `{plan.trigger.condition}`",
                Status.CONVERTED,
                f"condition function {plan.function_id}::condition",
                step.name,
            )


def registry(
    units: dict[PurePosixPath, ModuleUnit],
    registering: set[PurePosixPath],
    layout: Layout,
    existing: str,
) -> str:
    """`src/steps/__init__.py`: importing the package registers every converted step (and the
    modules that register engine middleware)."""
    imports: list[str] = []
    for path in sorted(registering, key=lambda p: layout.new_paths[p].as_posix()):
        parent, _, name = units[path].module_name.rpartition(".")
        imports.append(f"from {parent} import {name}  # noqa: F401")
    header = (
        '"""The steps imported from Motia. Importing this package registers them all (one iii\n'
        'function per trigger); `src/main.py` imports it. See MIGRATION.md."""\n'
    )
    body = existing.strip()
    parts = [header]
    if body:
        parts.append(body + "\n")
    parts.append("\n".join(imports) + "\n" if imports else "")
    return "\n".join(p for p in parts if p)


def report_discovery(
    work: _Work,
    found: Discovered,
    units: dict[PurePosixPath, ModuleUnit],
    unresolved: dict[PurePosixPath, list[str]],
    modules: ProjectModules,
) -> None:
    kept = set(units)
    for path, reason in found.skipped:
        posix = PurePosixPath(path.as_posix())
        if posix not in kept:
            work.add(str(posix), "file", Status.SKIPPED, reason)
    for path in found.streams:
        posix = PurePosixPath(path.as_posix())
        if posix in kept:
            work.add(
                str(posix),
                "stream definition",
                Status.CONVERTED,
                "kept (a step imports it); iii streams need no declaration",
            )
        else:
            work.add(
                str(posix),
                "stream definition",
                Status.SKIPPED,
                "iii streams need no declaration; stream:join/leave hooks and auth are new "
                "code in iii (see the template's stream-join-leave and stream-auth kinds)",
            )
    for kept_path in sorted(kept):
        if units[kept_path].step is None:
            work.add(
                str(kept_path),
                "shared module",
                Status.CONVERTED,
                f"kept as {units[kept_path].module_name}",
            )
    for importer, names in unresolved.items():
        for name in dict.fromkeys(names):
            work.add(
                str(importer),
                f"import {name}",
                Status.TODO,
                "looks like a project module but no file matches it: check the import",
            )
    if (modules.root / "motia_config.py").is_file():
        work.add(
            "motia_config.py",
            "project config",
            Status.TODO,
            "not converted: Motia Python never loaded it; stream authentication "
            "(authenticate_stream) is an iii-stream auth_function now, new code "
            "(see the template's stream-auth kind)",
        )
    if (modules.root / "motia.config.ts").is_file():
        work.add(
            "motia.config.ts",
            "project config",
            Status.NOTE,
            "Node Motia's plugins and adapters; the engine's own run config "
            "(worker-compose.yaml or config.yaml) replaces it",
        )


def topic_table(
    work: _Work,
    units: dict[PurePosixPath, ModuleUnit],
    plans: dict[PurePosixPath, list[TriggerPlan]],
    published: dict[str, list[str]],
    found: Discovered,
    root: Path,
) -> dict[str, dict[str, list[str]]]:
    topics: dict[str, dict[str, list[str]]] = {}

    def entry(topic: str) -> dict[str, list[str]]:
        return topics.setdefault(topic, {"subscribers": [], "publishers": [], "other": []})

    for path, plan_list in plans.items():
        step = units[path].step
        assert step is not None
        for plan in plan_list:
            if plan.trigger.kind == "queue" and plan.trigger.topic:
                entry(plan.trigger.topic)["subscribers"].append(step.name)
        for topic in step.emits:
            entry(topic)["publishers"].append(step.name)
    for publisher, literal_topics in published.items():
        for topic in literal_topics:
            if publisher not in entry(topic)["publishers"]:
                entry(topic)["publishers"].append(publisher)
    for other in found.other_language:
        for topic, how in other_language_topics(root / other).items():
            if topic in topics:
                entry(topic)["other"].append(f"{other.as_posix()} ({how})")
        work.add(
            other.as_posix(),
            "TypeScript/JavaScript step",
            Status.TODO,
            "not converted (only Python steps are); topics it shares with the Python steps "
            "are listed under Topics",
        )
    return topics
