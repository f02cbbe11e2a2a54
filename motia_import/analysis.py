"""Project-wide facts the rewrite needs before it changes anything.

Per module: the names it imports from motia, its stream handles (`orders = Stream("orders")`),
its imports of other project modules, its functions. Across modules: the roles parameters get
from their call sites (`check_result(ctx, ...)` makes `check_result`'s first parameter a
context), worked out to a fixed point, and which functions each step's triggers enter.
"""

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import libcst as cst

from motia_import.model import Step
from motia_import.roles import FunctionScope, Role, RoleReader, code, string_value

FunctionKey = tuple[PurePosixPath, str]  # (module, qualified name: "handler", "handler.inner")
EntryKind = str  # "handler", "condition", "middleware", "engine-middleware"


@dataclass
class Entry:
    """A function the engine or generated glue calls: its parameters' roles."""

    kind: EntryKind
    input_kind: str  # the trigger kind its input comes from ("http", "queue", "any", ...)
    step: str = ""


@dataclass
class ModuleUnit:
    path: PurePosixPath  # in the source project
    module_name: str  # dotted, in the generated project
    tree: cst.Module
    step: Step | None = None
    motia_names: dict[str, str] = field(default_factory=dict)
    motia_modules: set[str] = field(default_factory=set)
    stream_handles: dict[str, str] = field(default_factory=dict)
    # functions that only return a stream handle (`def scores(): return Stream("scores")`)
    stream_factories: dict[str, str] = field(default_factory=dict)
    # local name -> (module file it comes from, the name imported there or None for a module)
    imports: dict[str, tuple[PurePosixPath, str | None]] = field(default_factory=dict)
    functions: dict[str, cst.FunctionDef] = field(default_factory=dict)
    text: str = ""  # the original source
    names: dict[str, frozenset[str]] = field(default_factory=dict)  # see names_by_function

    def motia_reach(self) -> set[str]:
        """Names through which Motia's objects reach code in this module."""
        return {
            *self.motia_names,
            *self.motia_modules,
            *self.stream_handles,
            *self.stream_factories,
        }

    def untouched(self, qualname: str, scope: "FunctionScope", extra: set[str]) -> bool:
        """Whether nothing in a function can need rewriting: no name with a role (its own or its
        enclosing functions'), no Motia name, no response dict."""
        used = self.names.get(qualname)
        if used is None:
            return False
        reach = self.motia_reach() | extra | STATUS_MARKS
        chain: FunctionScope | None = scope
        while chain is not None:
            reach |= set(chain.names)
            chain = chain.parent
        return not (used & reach)

    @property
    def reader(self) -> RoleReader:
        return RoleReader(
            self.motia_names, self.stream_handles, self.motia_modules, self.stream_factories
        )


def collect_module_facts(unit: ModuleUnit, resolve: "ImportResolver") -> None:
    _collect_bindings(unit, resolve)
    for name, function in unit.functions.items():
        stream = stream_factory(unit, function)
        if stream is not None and name not in unit.motia_reach():
            unit.stream_factories[name] = stream


def _collect_bindings(unit: ModuleUnit, resolve: "ImportResolver") -> None:
    for statement in unit.tree.body:
        if isinstance(statement, cst.FunctionDef):
            unit.functions[statement.name.value] = statement
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.ImportFrom):
                module = dotted_name(small.module) if small.module else ""
                level = len(small.relative)
                if level == 0 and (module == "motia" or module.startswith("motia.")):
                    if isinstance(small.names, cst.ImportStar):
                        continue
                    for alias in small.names:
                        name = dotted_name(alias.name)
                        local = alias_name(alias) or name
                        unit.motia_names[local] = name
                    continue
                target = resolve.module_file(unit.path, module, level)
                if target is None or isinstance(small.names, cst.ImportStar):
                    continue
                for alias in small.names:
                    name = dotted_name(alias.name)
                    local = alias_name(alias) or name
                    sub = resolve.submodule_file(target, name)
                    unit.imports[local] = (sub, None) if sub else (target, name)
            elif isinstance(small, cst.Import):
                for alias in small.names:
                    name = dotted_name(alias.name)
                    if name == "motia" or name.startswith("motia."):
                        unit.motia_modules.add(alias_name(alias) or name.split(".")[0])
                        continue
                    asname = alias_name(alias)
                    target = resolve.module_file(unit.path, name, 0)
                    if target is not None and asname:
                        unit.imports[asname] = (target, None)
            elif (isinstance(small, cst.Assign) and len(small.targets) == 1) or (
                isinstance(small, cst.AnnAssign) and small.value is not None
            ):
                target_node = (
                    small.targets[0].target if isinstance(small, cst.Assign) else small.target
                )
                if isinstance(target_node, cst.Name) and isinstance(small.value, cst.Call):
                    callee = small.value.func
                    if isinstance(callee, cst.Subscript):
                        callee = callee.value  # Stream[dict[str, Any]]("orders")
                    name = (
                        dotted_name(callee) if isinstance(callee, (cst.Name, cst.Attribute)) else ""
                    )
                    is_stream = unit.motia_names.get(name) == "Stream" or (
                        name.endswith(".Stream") and name.split(".")[0] in unit.motia_modules
                    )
                    if is_stream and small.value.args:
                        first = small.value.args[0].value
                        if string_value(first) is not None:
                            unit.stream_handles[target_node.value] = code(first)


def stream_factory(unit: ModuleUnit, function: cst.FunctionDef) -> str | None:
    """The stream a function's only statement returns a new handle of, if that is all it does
    (a docstring aside)."""
    body = function.body.body if isinstance(function.body, cst.IndentedBlock) else ()
    statements = [s for s in body if not _is_docstring(s)]
    if function.params.params or len(statements) != 1:
        return None
    line = statements[0]
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
        return None
    returned = line.body[0]
    if not isinstance(returned, cst.Return) or not isinstance(returned.value, cst.Call):
        return None
    call = returned.value
    callee = call.func.value if isinstance(call.func, cst.Subscript) else call.func
    name = dotted_name(callee) if isinstance(callee, (cst.Name, cst.Attribute)) else ""
    is_stream = unit.motia_names.get(name) == "Stream" or (
        name.endswith(".Stream") and name.split(".")[0] in unit.motia_modules
    )
    if not is_stream or len(call.args) != 1 or call.args[0].keyword or call.args[0].star:
        return None
    first = call.args[0].value
    return code(first) if string_value(first) is not None else None


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def share_stream_handles(units: dict[PurePosixPath, ModuleUnit]) -> None:
    """A stream handle imported from another module (`from .streams import orders`) is a
    handle here too; the name stays (it holds the stream's name after the rewrite)."""
    changed = True
    while changed:
        changed = False
        for unit in units.values():
            for local, (path, name) in unit.imports.items():
                other = units.get(path)
                if other is None or name is None or local in unit.stream_handles:
                    continue
                if name in other.stream_handles:
                    unit.stream_handles[local] = local
                    changed = True


def dotted_name(node: cst.BaseExpression | cst.Attribute | cst.Name) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{dotted_name(node.value)}.{node.attr.value}"
    return ""


def alias_name(alias: cst.ImportAlias) -> str | None:
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    return None


class ImportResolver:
    """Resolves import statements to project files (implemented over ProjectModules)."""

    def module_file(self, importer: PurePosixPath, module: str, level: int) -> PurePosixPath | None:
        raise NotImplementedError

    def submodule_file(self, module_file: PurePosixPath, name: str) -> PurePosixPath | None:
        raise NotImplementedError


def parameters(node: cst.FunctionDef | cst.Lambda) -> list[cst.Param]:
    p = node.params
    return [*p.posonly_params, *p.params]


def all_parameters(node: cst.FunctionDef | cst.Lambda) -> list[cst.Param]:
    p = node.params
    star = [p.star_arg] if isinstance(p.star_arg, cst.Param) else []
    kwargs = [p.star_kwarg] if p.star_kwarg is not None else []
    return [*p.posonly_params, *p.params, *star, *p.kwonly_params, *kwargs]


@dataclass
class ProjectFacts:
    units: dict[PurePosixPath, ModuleUnit]
    entries: dict[FunctionKey, Entry] = field(default_factory=dict)
    param_roles: dict[FunctionKey, dict[str, Role]] = field(default_factory=dict)
    scopes: dict[PurePosixPath, dict[str, FunctionScope]] = field(default_factory=dict)
    # Functions referenced other than by a direct call (their signature must not change).
    referenced: set[FunctionKey] = field(default_factory=set)

    def callee(
        self, unit: ModuleUnit, node: cst.BaseExpression
    ) -> tuple[FunctionKey, cst.FunctionDef] | None:
        """The project function a call's `func` names, if it is a module-level function."""
        if isinstance(node, cst.Name):
            if node.value in unit.functions:
                return (unit.path, node.value), unit.functions[node.value]
            imported = unit.imports.get(node.value)
            if imported and imported[1] is not None and imported[0] in self.units:
                other = self.units[imported[0]]
                if imported[1] in other.functions:
                    return (other.path, imported[1]), other.functions[imported[1]]
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
            imported = unit.imports.get(node.value.value)
            if imported and imported[1] is None and imported[0] in self.units:
                other = self.units[imported[0]]
                if node.attr.value in other.functions:
                    return (other.path, node.attr.value), other.functions[node.attr.value]
        return None


def entry_roles(entry: Entry, node: cst.FunctionDef | cst.Lambda, shape: str) -> dict[str, Role]:
    names = [p.name.value for p in parameters(node)]
    roles: dict[str, Role] = {}
    if not names:
        return roles
    if (
        entry.kind == "handler"
        and shape == "0.x"
        and entry.input_kind == "cron"
        and len(names) == 1
    ):
        return {names[0]: Role("ctx")}  # 0.x cron handlers took only the context
    roles[names[0]] = Role("input", entry.input_kind)
    if len(names) > 1:
        roles[names[1]] = Role("ctx")
    return roles


class ScopeBuilder(cst.CSTVisitor):
    """Builds the scopes of one module's functions and reports the roles its calls give to
    other functions' parameters."""

    def __init__(self, facts: ProjectFacts, unit: ModuleUnit) -> None:
        self.facts = facts
        self.unit = unit
        self.reader = unit.reader
        self.stack: list[FunctionScope] = [FunctionScope(None)]
        self.names: list[str] = []
        self.scopes: dict[str, FunctionScope] = {}
        self.found: dict[FunctionKey, dict[str, Role]] = {}

    @property
    def scope(self) -> FunctionScope:
        return self.stack[-1]

    def _enter(self, node: cst.FunctionDef | cst.Lambda, name: str) -> bool:
        qualname = ".".join([*self.names, name])
        self.names.append(name)
        key = (self.unit.path, qualname)
        scope = FunctionScope(node, parent=self.scope)
        roles = dict(self.facts.param_roles.get(key, {}))
        entry = self.facts.entries.get(key)
        if entry is not None:
            shape = self.unit.step.shape if self.unit.step else "1.x"
            roles = {**entry_roles(entry, node, shape), **roles}
        for param in all_parameters(node):
            pname = param.name.value
            if pname in roles:
                scope.names[pname] = roles[pname]
            else:
                scope.shadowed.add(pname)
        self.stack.append(scope)
        self.scopes[qualname] = scope
        return entry is not None or not self.unit.untouched(qualname, scope, set())

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return self._enter(node, node.name.value)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.stack.pop()
        self.names.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.names.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.names.pop()

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        return len(self.stack) > 1  # module-level statements hold no function scopes

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return self._enter(node, "<lambda>")  # nothing looks a lambda up by name

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.stack.pop()
        self.names.pop()

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(self.stack) == 1:
            return
        role = self.reader.role(node.value, self.scope)
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                name = target.target.value
                if role is not None and role.kind != "input":
                    self.scope.names[name] = role
                elif name not in self.scope.names:
                    self.scope.shadowed.add(name)

    def visit_Call(self, node: cst.Call) -> None:
        if len(self.stack) == 1:
            return
        self._match_dict(node)
        found = self.facts.callee(self.unit, node.func)
        if found is None:
            return
        key, function = found
        positional = [p.name.value for p in parameters(function)]
        for index, arg in enumerate(node.args):
            if arg.star:
                break
            role = self.reader.role(arg.value, self.scope)
            if role is None:
                continue
            if arg.keyword is not None:
                pname = arg.keyword.value
            elif index < len(positional):
                pname = positional[index]
            else:
                continue
            if role.kind == "stream":
                role = Role("stream", pname)  # the helper receives the stream's name
            self.found.setdefault(key, {}).setdefault(pname, role)

    def _match_dict(self, node: cst.Call) -> None:
        """`ctx.match({"http": on_http, ...})`: each handler's input comes from that trigger."""
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "match" and node.args):
            return
        base = self.reader.role(func.value, self.scope)
        mapping = node.args[0].value
        if base is None or base.kind != "ctx" or not isinstance(mapping, cst.Dict):
            return
        for element in mapping.elements:
            if not isinstance(element, cst.DictElement):
                continue
            kind = string_value(element.key)
            if kind is None or not isinstance(element.value, cst.Name):
                continue
            qualname = ".".join([*self.names, element.value.value])
            kinds = {"api": "http"}
            role = Role("input", kinds.get(kind, kind if kind != "default" else "any"))
            if kind != "cron":
                self._found_nested(qualname, role)
            if element.value.value in self.unit.functions:
                self._found_nested(element.value.value, role)

    def _found_nested(self, qualname: str, role: Role) -> None:
        key = (self.unit.path, qualname)
        # The handler's first parameter gets the role; its name is known once visited.
        self.found.setdefault(key, {}).setdefault("<first>", role)

    def visit_Name(self, node: cst.Name) -> None:
        pass


def has_motia(unit: ModuleUnit) -> bool:
    """Whether a module uses Motia itself (its own imports, handles or entry functions)."""
    return bool(unit.motia_names or unit.motia_modules or unit.stream_handles or unit.step)


def iterate_scopes(facts: ProjectFacts) -> None:
    """Scopes of the modules that touch Motia, after the parameter roles have settled: modules
    that use Motia first, then every module whose functions get roles from a call site (until
    no parameter gets a new role). Modules Motia never reaches need no scopes."""
    pending = [path for path, unit in facts.units.items() if has_motia(unit)]
    pending += sorted({key[0] for key in facts.entries} - set(pending))
    while pending:
        path = pending.pop(0)
        unit = facts.units[path]
        builder = ScopeBuilder(facts, unit)
        unit.tree.visit(builder)
        facts.scopes[path] = builder.scopes
        for key, roles in builder.found.items():
            current = facts.param_roles.setdefault(key, {})
            for pname, role in roles.items():
                if pname == "<first>":
                    node = find_function(facts, key)
                    params = parameters(node) if node is not None else []
                    if not params:
                        continue
                    pname = params[0].name.value
                if pname not in current:
                    current[pname] = role
                    if key[0] not in pending:
                        pending.append(key[0])


def relevant(facts: ProjectFacts, unit: ModuleUnit) -> bool:
    """Whether the rewrite has anything to do in a module beyond its imports."""
    return has_motia(unit) or unit.path in facts.scopes


def find_function(facts: ProjectFacts, key: FunctionKey) -> cst.FunctionDef | None:
    unit = facts.units.get(key[0])
    if unit is None:
        return None
    names = key[1].split(".")
    body: list[cst.CSTNode] = list(unit.tree.body)
    found: cst.FunctionDef | None = None
    for name in names:
        found = next(
            (n for n in walk_functions(body) if n.name.value == name),
            None,
        )
        if found is None:
            return None
        inner = found.body
        body = list(inner.body) if isinstance(inner, cst.IndentedBlock) else []
    return found


def walk_functions(body: list[cst.CSTNode]) -> Iterator[cst.FunctionDef]:
    """Function definitions directly in a body (also inside if/try/with blocks)."""
    for statement in body:
        if isinstance(statement, cst.FunctionDef):
            yield statement
        elif isinstance(statement, (cst.If, cst.Try, cst.With)):
            block = statement.body
            if isinstance(block, cst.IndentedBlock):
                yield from walk_functions(list(block.body))


def uncalled_names(tree: ast.Module) -> tuple[set[str], set[tuple[str, str]]]:
    """Names (and `module.name` attributes) a module uses other than by calling them: passed
    as callbacks, stored, decorated. Function definitions and imports do not count."""
    names: set[str] = set()
    attributes: set[tuple[str, str]] = set()
    todo: list[tuple[ast.AST, bool]] = [(tree, False)]  # a node, and whether it is called
    while todo:
        node, called = todo.pop()
        if isinstance(node, ast.Call):
            todo.append((node.func, True))
            todo.extend((child, False) for child in (*node.args, *node.keywords))
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and not called:
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and not called:
            attributes.add((node.value.id, node.attr))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(target, ast.Name):
                    names.add(node.name)  # a decorated function may be wrapped
        todo.extend((child, False) for child in ast.iter_child_nodes(node))
    return names, attributes


def collect_references(
    facts: ProjectFacts, modules: set[PurePosixPath], trees: dict[PurePosixPath, ast.Module]
) -> None:
    """Functions of `modules` used other than by calling them, seen from the modules that can
    see them (themselves and the modules importing from them): their signatures must stay."""
    for unit in facts.units.values():
        if not (unit.path in modules or any(t in modules for t, _ in unit.imports.values())):
            continue
        tree = trees.get(unit.path)
        if tree is None:
            continue
        names, attributes = uncalled_names(tree)
        for name in names:
            if name in unit.functions:
                facts.referenced.add((unit.path, name))
            imported = unit.imports.get(name)
            if imported and imported[1] is not None:
                facts.referenced.add((imported[0], imported[1]))
        for base, attribute in attributes:
            imported = unit.imports.get(base)
            if imported and imported[1] is None:
                facts.referenced.add((imported[0], attribute))


class _BlockingCalls(cst.CSTVisitor):
    """Calls in a sync function that become blocking `iii.trigger(...)` calls, or that call
    another function already known to block."""

    def __init__(
        self,
        facts: ProjectFacts,
        unit: ModuleUnit,
        scope: FunctionScope,
        blocking: set[FunctionKey],
    ) -> None:
        self.facts = facts
        self.unit = unit
        self.scope = scope
        self.reader = unit.reader
        self.blocking = blocking
        self.found = False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # nested functions run when they are called, not here

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        role = self.reader.role(func, self.scope)
        if role is not None and role.kind == "enqueue":
            self.found = True
        if isinstance(func, cst.Attribute):
            base = self.reader.role(func.value, self.scope)
            if base is not None and base.kind in ("state", "stream"):
                self.found = True
        callee = self.facts.callee(self.unit, func)
        if callee is not None and callee[0] in self.blocking:
            self.found = True


def find_blocking(facts: ProjectFacts) -> set[FunctionKey]:
    """Module-level sync functions that will call the engine synchronously (`iii.trigger`):
    called from an async handler, they must run on a thread (the sync call raises on the
    SDK's event loop)."""
    blocking: set[FunctionKey] = set()
    changed = True
    while changed:
        changed = False
        for unit in facts.units.values():
            if not relevant(facts, unit):
                continue
            for name, function in unit.functions.items():
                key = (unit.path, name)
                if key in blocking or function.asynchronous is not None:
                    continue
                scope = facts.scopes.get(unit.path, {}).get(name) or FunctionScope(function)
                finder = _BlockingCalls(facts, unit, scope, blocking)
                function.body.visit(finder)
                if finder.found:
                    blocking.add(key)
                    changed = True
    return blocking


STATUS_MARK = "<status-key>"  # a function builds a dict with a "status"/"statusCode" key
STATUS_MARKS = {STATUS_MARK}


def names_by_function(tree: ast.Module) -> dict[str, frozenset[str]]:
    """For every function (by qualified name, nested ones included): the identifiers its body
    uses, so the rewrite can skip functions nothing of Motia's reaches."""
    found: dict[str, frozenset[str]] = {}

    def visit(node: ast.AST, qualname: list[str]) -> set[str]:
        names: set[str] = set()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = visit(child, [*qualname, child.name])
                if not isinstance(child, ast.ClassDef):
                    found[".".join([*qualname, child.name])] = frozenset(inner)
                names |= inner
                continue
            if isinstance(child, ast.Name):
                names.add(child.id)
            elif isinstance(child, ast.Dict) and any(
                isinstance(k, ast.Constant) and k.value in ("status", "statusCode")
                for k in child.keys
            ):
                names.add(STATUS_MARK)
            names |= visit(child, qualname)
        return names

    visit(tree, [])
    return found
