"""The libcst rewrite of one module: Motia's objects become iii calls, everything else stays as
written (comments and formatting included).

What it rewrites, by role (see roles.py):
- context: `ctx.logger` -> the client's `logger` (rules/logger.py); `ctx.trace_id` -> a trace id bound once per
  invocation; `ctx.trigger`, `ctx.match`, `ctx.is_*()`, `ctx.get_data()` -> the `trigger` info the
  registration passes; `ctx.emit`/`ctx.enqueue` -> `iii::durable::publish`;
- state and streams -> `state::*` / `stream::*` triggers;
- the input -> the engine's dict shape (`path_params`, `query_params`, `body`, `headers`);
- responses -> `status_code`; Motia type annotations -> `dict[str, Any]` / `Any`.
Whatever it cannot rewrite stays in place under a `# TODO(motia-import): <why>` comment.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst

from motia_import.analysis import (
    FunctionKey,
    ModuleUnit,
    ProjectFacts,
    all_parameters,
    parameters,
)
from motia_import.model import Status
from motia_import.payloads import (
    expression,
    state_payload,
    stream_payload,
    trigger_call,
)
from motia_import.roles import (
    STATE_OPS,
    STREAM_OPS,
    FunctionScope,
    Role,
    code,
    string_value,
    subscript_key,
)
from motia_import.rules import LeaveAlone, RuleWalk, assigned, awaited, receiver, statement_value
from motia_import.rules.annotations import Annotations
from motia_import.rules.config import ConfigHelpers
from motia_import.rules.logger import Logger
from motia_import.rules.quotes import Quotes
from motia_import.rules.responses import Responses
from motia_import.rules.streams import StreamHandles

TODO = "# TODO(motia-import): "
HTTP_ATTRIBUTES = {
    "body": '{0}.get("body")',
    "path_params": '({0}.get("path_params") or {{}})',
    "query_params": '({0}.get("query_params") or {{}})',
    "headers": '({0}.get("headers") or {{}})',
    "method": '{0}.get("method")',
    "path": '{0}.get("path")',
}
HTTP_KEYS = {
    "pathParams": "path_params",
    "queryParams": "query_params",
    "params": "path_params",
    "query": "query_params",
}
STATE_KEYS = {"groupId": "scope", "group_id": "scope", "itemId": "key", "item_id": "key",
              "oldValue": "old_value", "newValue": "new_value"}  # fmt: skip
STREAM_ATTRIBUTES = {"stream_name": "streamName", "group_id": "groupId", "id": "id",
                     "event": "event", "timestamp": "timestamp", "type": "type"}  # fmt: skip
DICT_METHODS = {"get", "keys", "items", "values", "copy", "pop", "setdefault", "update"}
TRIGGER_CHECKS = {"is_api": "http", "is_queue": "queue", "is_cron": "cron",
                  "is_state": "state", "is_stream": "stream"}  # fmt: skip
RESPONSE_KEYS = {"status", "statusCode", "status_code", "body", "headers"}


@dataclass
class EntryPlan:
    """How a function the engine (or generated glue) calls is rewritten."""

    kind: str  # "handler", "condition", "middleware", "engine-middleware"
    input_kind: str
    step: str = ""
    needs_trigger: bool = False
    make_async: bool = False
    input_model: str | None = None  # validate a queue input into this pydantic model
    input_param: str | None = None  # the name of its input parameter (None: it takes none)
    body_model: str | None = None  # validate an http body into this pydantic model


@dataclass
class Note:
    """Something the rewrite did or could not do, for the report."""

    line: int
    what: str
    status: Status
    detail: str = ""
    anchor: str = ""  # the construct's source, to find its line in the original file


@dataclass
class ModuleOptions:
    sync_module_api: bool  # Motia >= 1.0.4: stateManager, Stream and enqueue were sync
    logger_name: str  # how the converted module refers to the client's logger
    flows: dict[str, list[str]] = field(default_factory=dict)  # handler qualname -> flows
    remove_config: bool = True


@dataclass
class Conversion:
    """A call rewritten to `iii.trigger_async(...)`: how it must end up."""

    payload_fn: str
    payload: cst.BaseExpression
    sync_api: bool  # the Motia call returned a value (1.0.4's module-level API)
    topic_source: str = ""


def fresh(preferred: str, taken: set[str]) -> str:
    name = preferred
    number = 2
    while name in taken:
        name = f"{preferred}_{number}"
        number += 1
    return name


class _Residual(cst.CSTVisitor):
    """References to a name that the rewrite removed (not as an attribute or keyword)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.found = False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return self.name not in {p.name.value for p in all_parameters(node)}

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.name:
            self.found = True


def references(body: cst.CSTNode, name: str) -> bool:
    finder = _Residual(name)
    body.visit(finder)
    return finder.found


def with_todo(
    line: cst.SimpleStatementLine | cst.BaseCompoundStatement, why: str
) -> cst.SimpleStatementLine | cst.BaseCompoundStatement:
    comment = cst.EmptyLine(comment=cst.Comment(TODO + why.replace("\n", " ")))
    if any(
        isinstance(e.comment, cst.Comment) and e.comment.value.startswith(TODO + why[:40])
        for e in line.leading_lines
    ):
        return line
    return line.with_changes(leading_lines=[*line.leading_lines, comment])


def parse_expression(source: str) -> cst.BaseExpression:
    return expression(source)


class ModuleRewriter(RuleWalk):
    def __init__(
        self,
        facts: ProjectFacts,
        unit: ModuleUnit,
        options: ModuleOptions,
        entries: dict[str, EntryPlan],
        droppable: dict[FunctionKey, set[str]],
        with_positions: bool,
        blocking: set[FunctionKey] | None = None,
    ) -> None:
        super().__init__([])
        self.facts = facts
        self.unit = unit
        self.options = options
        self.entries = entries
        self.droppable = droppable
        self.blocking = blocking or set()
        self.with_positions = with_positions
        self.reader = unit.reader
        self.scopes = facts.scopes.get(unit.path, {})
        # Names of project functions whose calls change (dropped parameters, streams passed by
        # name, sync engine calls moved to a thread).
        self.adjusted = adjusted_callees(facts, unit, droppable, self.blocking)
        # Every identifier in the module: new names (trace_id, trigger, event) avoid them all.
        self.module_names = set(re.findall(r"(?<![.\w])[A-Za-z_]\w*", unit.text))
        self.stack: list[FunctionScope] = [FunctionScope(None)]
        self.qualnames: list[str] = []
        self.async_stack: list[bool] = [False]
        self.notes: list[Note] = []
        self.trace_names: list[str | None] = [None]
        self.trigger_names: list[str | None] = [None]
        self.ctx_names: list[set[str]] = [set()]
        self.trace_derived: list[set[str]] = [set()]  # names computed from the trace id
        self.pending_todos: list[list[str]] = [[]]
        self.used_client: set[str] = set()
        self.used_compat: set[str] = set()
        self.uses_any = False
        self.import_time = False  # a Motia call runs at module level
        self.workers: set[str] = set()  # engine workers the rewritten calls use
        self.published: list[str] = []  # literal topics it publishes to, in order
        self.line_todos: list[str] = []
        # The construct families moved to rules/ so far, under this same walk.
        self.rules = [
            ConfigHelpers(self),
            Logger(self),
            Responses(self),
            Annotations(self),
            StreamHandles(self),
            Quotes(),
        ]

    # What rules may ask and tell (rules.Walk) -------------------------------------------------

    @property
    def logger_name(self) -> str:
        return self.options.logger_name

    def motia_name(self, node: cst.BaseExpression) -> str | None:
        return self.reader.motia_name(node, self.scope)

    @property
    def in_function(self) -> bool:
        return len(self.stack) > 1

    @property
    def stream_factory(self) -> str | None:
        return self.unit.stream_factories.get(self.qualname)

    @property
    def module_motia_names(self) -> set[str]:
        return set(self.reader.motia_names)

    def need(self, *, client: str = "", any_type: bool = False) -> None:
        if client:
            self.used_client.add(client)
        self.uses_any = self.uses_any or any_type

    def leave_alone(self, node: cst.CSTNode, why: str) -> None:
        self.todo(node, code(node.func) if isinstance(node, cst.Call) else code(node), why)

    # Reporting --------------------------------------------------------------------------------

    def note(self, node: cst.CSTNode, what: str, status: Status, detail: str = "") -> None:
        if isinstance(node, cst.Call):
            node = node.func  # short, and enough to find the line
        elif isinstance(node, cst.Dict) and node.elements:
            node = node.elements[0]
        anchor = code(node) if self.with_positions else ""
        self.notes.append(Note(0, what, status, detail, anchor))

    def todo(self, node: cst.CSTNode, what: str, why: str) -> None:
        self.note(node, what, Status.TODO, why)
        self.line_todos.append(why)

    # Scopes -----------------------------------------------------------------------------------

    @property
    def scope(self) -> FunctionScope:
        return self.stack[-1]

    @property
    def in_async(self) -> bool:
        return self.async_stack[-1]

    @property
    def qualname(self) -> str:
        return ".".join(self.qualnames)

    def role(self, node: cst.BaseExpression) -> Role | None:
        return self.reader.role(node, self.scope)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.qualnames.append(node.name.value)
        scope = self.scopes.get(self.qualname) or FunctionScope(node, parent=self.scope)
        self.stack.append(scope)
        entry = self.entries.get(self.qualname)
        is_async = node.asynchronous is not None or bool(entry and entry.make_async)
        self.async_stack.append(is_async)
        params = {p.name.value for p in all_parameters(node)}
        ctx_names = {n for n in params if scope.names.get(n) == Role("ctx")}
        self.ctx_names.append(ctx_names)
        taken = self.module_names
        self.trace_names.append(fresh("trace_id", taken) if ctx_names else self.trace_names[-1])
        if entry is not None and entry.needs_trigger:
            self.trigger_names.append(fresh("trigger", taken))
        else:
            self.trigger_names.append(self.trigger_names[-1])
        self.pending_todos.append([])
        self.trace_derived.append(set())
        # A function nothing of Motia's reaches is left as it is (and not walked: big projects
        # have many of them).
        return entry is not None or not self.unit.untouched(self.qualname, scope, self.adjusted)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.qualnames.append(node.name.value)

    def leave_ClassDef(
        self, original_node: cst.ClassDef, updated_node: cst.ClassDef
    ) -> cst.ClassDef:
        self.qualnames.pop()
        return updated_node

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        # The step's config is removed (the registrations replace it): nothing in it to rewrite.
        return not (len(self.stack) == 1 and self.options.remove_config and is_config(node))

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.qualnames.append(f"<lambda@{id(node)}>")
        self.stack.append(FunctionScope(node, parent=self.scope))
        self.async_stack.append(False)

    def leave_Lambda(self, original_node: cst.Lambda, updated_node: cst.Lambda) -> cst.Lambda:
        self.qualnames.pop()
        self.stack.pop()
        self.async_stack.pop()
        return updated_node

    def trace_seen(self) -> bool:
        """Whether the trace id was read so far in the enclosing functions (cheap to ask first)."""
        return any("trace" in todos for todos in self.pending_todos)

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        trace = self.trace_names[-1]
        if trace is not None and len(self.trace_derived) > 1 and self.trace_seen():
            tainted = {trace, *self.trace_derived[-1]}
            value = code(updated_node.value)
            if any(re.search(rf"\b{re.escape(t)}\b", value) for t in tainted):
                for target in updated_node.targets:
                    if isinstance(target.target, cst.Name):
                        self.trace_derived[-1].add(target.target.value)
        return updated_node

    # Calls ------------------------------------------------------------------------------------

    def _finish(self, original: cst.Call, conversion: Conversion) -> cst.BaseExpression:
        """The rewritten call, awaited or not the way its place needs."""
        if len(self.stack) == 1:
            # At import time there is no invocation to run it in: a blocking call here would
            # wait for an engine while the module imports. finish.py comments the statement out.
            raise _ImportTime()
        is_awaited = awaited(self, original)
        statement = statement_value(self, original)
        sync_call = trigger_call(conversion.payload_fn, conversion.payload, sync=True)
        async_call = trigger_call(conversion.payload_fn, conversion.payload, sync=False)
        self.used_client.add("iii")
        if is_awaited:
            return async_call
        if not self.in_async:
            return sync_call
        if conversion.sync_api or statement:
            if not conversion.sync_api:
                self.note(original, "un-awaited Motia call", Status.CONVERTED,
                          "it never ran to completion in Motia (a coroutine nobody awaited); it is awaited now")  # fmt: skip
            parens = receiver(self, original)
            return cst.Await(
                expression=async_call,
                lpar=[cst.LeftParen()] if parens else [],
                rpar=[cst.RightParen()] if parens else [],
            )
        return async_call  # a coroutine where Motia's call gave one too (gather, create_task)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        try:
            return self._call(original_node, updated_node)
        except _ImportTime:
            self.import_time = True
            return updated_node
        except _LeaveAlone as reason:
            self.todo(original_node, code(original_node.func), str(reason))
            return updated_node

    def _call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        func = original.func
        role = self.role(func)
        if role is not None and role.kind == "enqueue":
            return self._publish(original, updated)
        if isinstance(func, cst.Attribute):
            base = self.role(func.value)
            op = func.attr.value
            if base is not None and base.kind == "state":
                return self._state(original, updated, op)
            if base is not None and base.kind == "stream":
                return self._stream(original, updated, op, base.detail)
            if base is not None and base.kind == "ctx":
                return self._context_method(original, updated, op)
            if base is not None and base.kind == "input" and op == "get" and updated.args:
                return self._input_get(updated, base)
        return self._project_call(original, updated)

    def _publish(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if len(updated.args) != 1 or updated.args[0].keyword or updated.args[0].star:
            raise _LeaveAlone("enqueue/emit with arguments other than one {topic, data} dict")
        event = updated.args[0].value
        topic = ""
        if isinstance(event, cst.Dict):
            for element in event.elements:
                if isinstance(element, cst.DictElement) and string_value(element.key) == "topic":
                    topic = code(element.value)
        sync_api = self.reader.motia_name(original.func, self.scope) == "enqueue" and (
            self.options.sync_module_api
        )
        literal = string_value(parse_expression(topic)) if topic else None
        self.workers.add("queue")
        if literal is not None:
            self.published.append(literal)
        self.note(
            original,
            "enqueue/emit",
            Status.CONVERTED if literal is not None else Status.NOTE,
            f"iii::durable::publish to {literal!r}"
            if literal is not None
            else f"iii::durable::publish to a dynamic topic ({topic or 'not a literal dict'}): "
            "check that a subscriber exists",
        )
        return self._finish(original, Conversion("iii::durable::publish", event, sync_api, topic))

    def _sync_module_api(self, func: cst.Attribute) -> bool:
        """Whether the Motia object the call is on returned values (1.0.4's module-level API)
        rather than coroutines (the context's API, and earlier releases)."""
        root = func.value
        while isinstance(root, (cst.Attribute, cst.Subscript, cst.Call)):
            root = root.func if isinstance(root, cst.Call) else root.value
        if isinstance(root, cst.Name):
            role = self.scope.lookup(root.value)
            if role is not None and role.kind == "ctx":
                return False
        return self.options.sync_module_api

    def _state(self, original: cst.Call, updated: cst.Call, op: str) -> cst.BaseExpression:
        assert isinstance(original.func, cst.Attribute)
        payload = state_payload(op, list(updated.args))
        if op not in STATE_OPS or payload is None:
            raise _LeaveAlone(f"state.{op}(...) has no iii equivalent the importer knows")
        self._check_trace(original, updated)
        self.workers.add("state")
        if op == "clear":  # the statement it stands in becomes a loop (leave_SimpleStatementLine)
            self.note(original, "state.clear", Status.CONVERTED,
                      "iii has no state::clear: it lists the group and deletes each item")  # fmt: skip
            return updated
        self.note(original, f"state.{op}", Status.CONVERTED, STATE_OPS[op])
        return self._finish(
            original, Conversion(STATE_OPS[op], payload, self._sync_module_api(original.func))
        )

    def _stream(
        self, original: cst.Call, updated: cst.Call, op: str, stream: str
    ) -> cst.BaseExpression:
        assert isinstance(original.func, cst.Attribute)
        payload = stream_payload(op, stream, list(updated.args))
        if op not in STREAM_OPS or payload is None:
            raise _LeaveAlone(f"stream.{op}(...) could not be matched to stream::*")
        self._check_trace(original, updated)
        self.workers.add("stream")
        self.note(original, f"stream.{op}", Status.CONVERTED, STREAM_OPS[op])
        return self._finish(
            original, Conversion(STREAM_OPS[op], payload, self._sync_module_api(original.func))
        )

    def _context_method(self, original: cst.Call, updated: cst.Call, op: str) -> cst.BaseExpression:
        trigger = self.trigger_names[-1]
        if op in TRIGGER_CHECKS or op in ("match", "get_data"):
            if trigger is None:
                raise _LeaveAlone(
                    f"ctx.{op}() outside the step's handler: the trigger that fired is not "
                    "known here"
                )
            data = self._input_name()
            if op in TRIGGER_CHECKS:
                return parse_expression(f'{trigger}["type"] == "{TRIGGER_CHECKS[op]}"')
            self.used_compat.add("trigger_data" if op == "get_data" else "match_trigger")
            if op == "get_data":
                return parse_expression(f"trigger_data({trigger}, {data})")
            if len(updated.args) != 1:
                raise _LeaveAlone("ctx.match with other than one dict")
            self.note(original, "ctx.match", Status.CONVERTED,
                      "match_trigger(trigger, ...) on the registered trigger's identity")  # fmt: skip
            call = parse_expression(
                f"match_trigger({trigger}, {data}, {code(updated.args[0].value)})"
            )
            if awaited(self, original) or not self.in_async:
                return call
            return cst.Await(expression=call)
        raise _LeaveAlone(f"ctx.{op}() has no iii equivalent")

    def _input_name(self) -> str:
        entry = self.entries.get(self.qualnames[0]) if self.qualnames else None
        return entry.input_param if entry is not None and entry.input_param else "None"

    def _input_get(self, updated: cst.Call, base: Role) -> cst.BaseExpression:
        key = string_value(updated.args[0].value)
        renamed = self._input_key(key, base)
        if key is None or renamed is None:
            return updated
        new_arg = updated.args[0].with_changes(value=cst.SimpleString(f'"{renamed}"'))
        return updated.with_changes(args=[new_arg, *updated.args[1:]])

    def _input_key(self, key: str | None, base: Role) -> str | None:
        if key is None:
            return None
        if base.detail in ("http", "any") and key in HTTP_KEYS:
            return HTTP_KEYS[key]
        if base.detail == "state" and key in STATE_KEYS:
            return STATE_KEYS[key]
        return None

    def _project_call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        """Calls of project functions whose Motia parameters were dropped or changed."""
        found = self.facts.callee(self.unit, original.func)
        if found is None:
            return updated
        key, function = found
        if (
            key in self.blocking
            and self.in_async
            and not awaited(self, original)
            and len(self.stack) > 1
        ):
            return self._on_thread(original, self._adjust_args(original, updated, key, function))
        return self._adjust_args(original, updated, key, function)

    def _on_thread(self, original: cst.Call, call: cst.Call) -> cst.BaseExpression:
        """A sync project function that calls the engine synchronously, called from an async
        function: `iii.trigger` raises on the SDK's event loop, so it runs on a thread."""
        self.used_client.add("asyncio")
        self.note(original, f"{code(original.func)}(...)", Status.CONVERTED,
                  "a sync function that calls the engine: awaited on a thread (asyncio.to_thread)")  # fmt: skip
        args = (
            [cst.Arg(call.func, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))]
            if call.args
            else [cst.Arg(call.func)]
        )
        thread_call = cst.Call(func=parse_expression("asyncio.to_thread"), args=[*args, *call.args])
        parens = receiver(self, original)
        return cst.Await(
            expression=thread_call,
            lpar=[cst.LeftParen()] if parens else [],
            rpar=[cst.RightParen()] if parens else [],
        )

    def _adjust_args(
        self,
        original: cst.Call,
        updated: cst.Call,
        key: FunctionKey,
        function: cst.FunctionDef,
    ) -> cst.Call:
        dropped = self.droppable.get(key, set())
        roles = self.facts.param_roles.get(key, {})
        positional = [p.name.value for p in parameters(function)]
        args: list[cst.Arg] = []
        changed = False
        for index, arg in enumerate(updated.args):
            if arg.star:
                return updated
            pname = (
                arg.keyword.value
                if arg.keyword
                else (positional[index] if index < len(positional) else None)
            )
            if pname in dropped:
                changed = True
                continue
            original_arg = original.args[index]
            if pname is not None and roles.get(pname, Role("ctx")).kind == "stream":
                stream = self.role(original_arg.value)
                if stream is not None and stream.kind == "stream":
                    args.append(arg.with_changes(value=parse_expression(stream.detail)))
                    changed = True
                    continue
            args.append(arg)
        if not changed:
            return updated
        if args:
            args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated.with_changes(args=args)

    def _check_trace(self, original: cst.Call, updated: cst.Call) -> None:
        """Motia passed one trace id along a whole flow, so code keyed state and streams on it
        (a later step read what an earlier one wrote under the same id); iii gives each
        invocation its own trace. Flags a state or stream call whose scope, key or group is the
        trace id, or a name computed from it."""
        trace = self.trace_names[-1]
        if trace is None or not self.trace_seen():
            return
        keys = [
            a
            for a in updated.args
            if not (a.keyword and a.keyword.value in ("value", "data", "ops"))
        ]
        keys = keys[:2] if all(a.keyword is None for a in keys) else keys
        tainted = {trace, *self.trace_derived[-1]}
        pattern = rf"\b({'|'.join(re.escape(t) for t in tainted)})\b"
        if any(re.search(pattern, code(a.value)) for a in keys):
            self.todo(
                original,
                "trace_id as a shared key",
                "keyed on the trace id: Motia shared one along a flow, iii gives every "
                "invocation its own, so a later step will not find this; pass the id in the "
                "message and key on that",
            )

    # Attributes and subscripts ----------------------------------------------------------------

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        base = self.role(original_node.value)
        attribute = original_node.attr.value
        if base is None:
            if self._is_trigger_attribute(original_node.value):
                return self._trigger_field(updated_node, attribute)
            return self._stream_event_field(original_node, updated_node) or updated_node
        if base.kind == "ctx":
            return self._context_attribute(original_node, updated_node, attribute)
        if base.kind == "input" and not assigned(self, original_node):
            return self._input_attribute(original_node, updated_node, attribute, base)
        return updated_node

    def _is_trigger_attribute(self, node: cst.BaseExpression) -> bool:
        if not (isinstance(node, cst.Attribute) and node.attr.value == "trigger"):
            return False
        base = self.role(node.value)
        return base is not None and base.kind == "ctx"

    def _trigger_field(self, updated: cst.Attribute, attribute: str) -> cst.BaseExpression:
        if attribute == "type":
            return parse_expression(f'{code(updated.value)}["type"]')
        return parse_expression(f'{code(updated.value)}.get("{attribute}")')

    def _context_attribute(
        self, original: cst.Attribute, updated: cst.Attribute, attribute: str
    ) -> cst.BaseExpression:
        if attribute in ("trace_id", "traceId"):
            trace = self.trace_names[-1]
            if trace is None:
                raise_later = "ctx.trace_id outside a function"
                self.todo(original, "ctx.trace_id", raise_later)
                return updated
            self.used_compat.add("current_trace_id")
            self.note(original, "ctx.trace_id", Status.CONVERTED,
                      "the invocation's trace id (current_trace_id())")  # fmt: skip
            self.pending_todos[-1].append("trace")
            return cst.Name(trace)
        if attribute == "trigger":
            trigger = self.trigger_names[-1]
            if trigger is None:
                self.todo(
                    original, "ctx.trigger", "the trigger that fired is only known in the handler"
                )
                return updated
            return cst.Name(trigger)
        if attribute == "flows":
            flows = self.options.flows.get(self.qualnames[0] if self.qualnames else "", [])
            return parse_expression(repr(flows))
        if attribute in (
            "logger",  # rules/logger.py
            "state",
            "streams",
            "emit",
            "enqueue",
            "match",
            "get_data",
            *TRIGGER_CHECKS,
        ):
            return updated  # rewritten where they are called
        self.todo(
            original, f"ctx.{attribute}", f"Motia's context has no iii equivalent for {attribute}"
        )
        return updated

    def _input_attribute(
        self, original: cst.Attribute, updated: cst.Attribute, attribute: str, base: Role
    ) -> cst.BaseExpression:
        receiver = code(updated.value)
        kind = base.detail
        if kind in ("http", "any"):
            entry = self.entries.get(self.qualname)
            if attribute == "body" and entry is not None and entry.body_model:
                return cst.Name("body_model")
            if attribute == "request":
                return updated.value  # MotiaHttpArgs.request: the request itself
            if attribute in ("response", "request_body"):
                self.todo(
                    original,
                    f"request.{attribute}",
                    "streaming request/response channels are not converted; write to "
                    "data['response'] with iii's StreamResponse (see iii-sdk)",
                )
                return updated
            if attribute in HTTP_ATTRIBUTES:
                return parse_expression(HTTP_ATTRIBUTES[attribute].format(receiver))
        if kind == "state" and attribute in STATE_KEYS | {
            "old_value": 0,
            "new_value": 0,
            "scope": 0,
            "key": 0,
            "type": 0,
        }:
            key = STATE_KEYS.get(attribute, attribute)
            return parse_expression(f'{receiver}.get("{key}")')
        if kind == "stream" and attribute in STREAM_ATTRIBUTES:
            return parse_expression(f'{receiver}.get("{STREAM_ATTRIBUTES[attribute]}")')
        return updated

    def _stream_event_field(
        self, original: cst.Attribute, updated: cst.Attribute
    ) -> cst.BaseExpression | None:
        """`input.event.type` / `input.event.data` on a stream trigger's input."""
        inner = original.value
        if not (isinstance(inner, cst.Attribute) and inner.attr.value == "event"):
            return None
        base = self.role(inner.value)
        if base is None or base.kind != "input" or base.detail != "stream":
            return None
        return parse_expression(
            f'({code(inner.value)}.get("event") or {{}}).get("{original.attr.value}")'
        )

    def leave_Subscript(
        self, original_node: cst.Subscript, updated_node: cst.Subscript
    ) -> cst.BaseExpression:
        base = self.role(original_node.value)
        key_node = subscript_key(updated_node)
        if base is None or base.kind != "input" or key_node is None:
            return updated_node
        renamed = self._input_key(string_value(key_node), base)
        if renamed is None:
            return updated_node
        return parse_expression(f'{code(updated_node.value)}["{renamed}"]')

    def leave_Await(self, original_node: cst.Await, updated_node: cst.Await) -> cst.BaseExpression:
        if isinstance(updated_node.expression, cst.Await):
            return updated_node.expression.with_changes(
                lpar=updated_node.lpar, rpar=updated_node.rpar
            )
        return updated_node

    # Statements -------------------------------------------------------------------------------

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement] | cst.RemovalSentinel:
        result: cst.SimpleStatementLine | cst.BaseCompoundStatement = updated_node
        statement, original = updated_node.body, original_node.body
        if len(statement) == 1 and isinstance(statement[0], cst.Expr):
            assert isinstance(original[0], cst.Expr)
            clear = self._state_clear(original[0].value, statement[0].value)
            if clear is not None:
                result = self._clear_loop(clear, updated_node)
        todos, self.line_todos = self.line_todos, []
        for why in dict.fromkeys(todos):
            result = with_todo(result, why)
        return result

    def _state_clear(self, original: cst.BaseExpression, updated: cst.BaseExpression) -> str | None:
        """The payload of a `state.clear(...)` a statement consists of (awaited or not)."""
        original = original.expression if isinstance(original, cst.Await) else original
        updated = updated.expression if isinstance(updated, cst.Await) else updated
        if not (isinstance(original, cst.Call) and isinstance(updated, cst.Call)):
            return None
        func = original.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "clear"):
            return None
        base = self.role(func.value)
        payload = state_payload("clear", list(updated.args))
        if base is None or base.kind != "state" or payload is None:
            return None
        return code(payload)

    def _clear_loop(self, payload: str, line: cst.SimpleStatementLine) -> cst.BaseCompoundStatement:
        scope_source = re.match(r'\{"scope": (.*)\}$', payload, re.DOTALL)
        scope = scope_source[1] if scope_source else "None"
        await_ = "await " if self.in_async else ""
        call = "iii.trigger_async" if self.in_async else "iii.trigger"
        self.used_client.add("iii")
        statement = cst.parse_statement(
            f'for item in {await_}{call}({{"function_id": "state::list", "payload": {{"scope": {scope}}}}}) or []:\n'
            f'    if isinstance(item, dict) and "id" in item:\n'
            f'        {await_}{call}({{"function_id": "state::delete", "payload": {{"scope": {scope}, "key": item["id"]}}}})\n'
        )
        assert isinstance(statement, cst.For)
        return statement.with_changes(leading_lines=line.leading_lines)

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        qualname = self.qualname
        entry = self.entries.get(qualname)
        ctx_names = self.ctx_names.pop()
        trace = self.trace_names.pop()
        trigger = self.trigger_names.pop()
        needs = self.pending_todos.pop()
        self.trace_derived.pop()
        self.stack.pop()
        self.async_stack.pop()
        self.qualnames.pop()
        key = (self.unit.path, qualname)
        node = updated_node
        prelude: list[str] = []
        if entry is not None and entry.make_async and node.asynchronous is None:
            node = node.with_changes(asynchronous=cst.Asynchronous())
            self.note(original_node, f"def {original_node.name.value}", Status.CONVERTED,
                      "returned an un-awaited coroutine (Motia awaited it); it is async now")  # fmt: skip
        if "trace" in needs and trace is not None:
            prelude.append(f"{trace} = current_trace_id()")
        if entry is not None:
            node, entry_prelude = self._entry_signature(node, entry, ctx_names, trigger)
            prelude.extend(entry_prelude)
        else:
            dropped = self.droppable.get(key, set())
            if dropped:
                node = remove_params(node, dropped)
        removed = ctx_names if entry is not None else ctx_names & self.droppable.get(key, set())
        for name in sorted(removed):
            if references(node.body, name):
                prelude.append(
                    f"{name} = None  {TODO}Motia's context is gone; the code below still uses it"
                )
                self.note(original_node, f"context `{name}`", Status.TODO,
                          "still used after the rewrite (passed on, or a member with no iii equivalent)")  # fmt: skip
        if prelude:
            node = insert_prelude(node, prelude)
        return node

    def _entry_signature(
        self,
        node: cst.FunctionDef,
        entry: EntryPlan,
        ctx_names: set[str],
        trigger: str | None,
    ) -> tuple[cst.FunctionDef, list[str]]:
        prelude: list[str] = []
        params = list(node.params.params)
        names = [p.name.value for p in params]
        if entry.kind == "engine-middleware":
            request = names[0] if names else "request"
            middleware_input = fresh("middleware_input", self.module_names)
            prelude.append(f'{request} = {middleware_input}.get("request") or {{}}')
            node = node.with_changes(
                params=node.params.with_changes(
                    params=[
                        cst.Param(
                            cst.Name(middleware_input), annotation=cst.Annotation(cst.Name("Any"))
                        )
                    ],
                    posonly_params=[],
                )
            )
            self.uses_any = True
            return node.with_changes(
                body=MiddlewareReturns(names[2] if len(names) > 2 else "next").rewrite(node.body)
            ), prelude
        kept = [p for p in params if p.name.value not in ctx_names]
        if entry.kind == "handler" and not kept:
            # 0.x cron handlers took only the context; the engine passes the cron event.
            kept = [cst.Param(cst.Name(fresh("event", self.module_names)))]
        if trigger is not None:
            self.uses_any = True
            annotation = cst.Annotation(parse_expression("dict[str, Any]"))
            kept.append(cst.Param(cst.Name(trigger), annotation=annotation))
        if kept:
            kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        node = node.with_changes(params=node.params.with_changes(params=kept, posonly_params=[]))
        first = kept[0].name.value if kept else None
        if entry.input_model and first:
            prelude.append(f"{first} = {entry.input_model}.model_validate({first})")
        if entry.body_model and first:
            prelude.append(f'body_model = {entry.body_model}.model_validate({first}.get("body"))')
        return node, prelude


def adjusted_callees(
    facts: ProjectFacts,
    unit: ModuleUnit,
    droppable: dict[FunctionKey, set[str]],
    blocking: set[FunctionKey],
) -> set[str]:
    changed = set(droppable) | set(blocking)
    changed |= {
        k
        for k, roles in facts.param_roles.items()
        if any(r.kind == "stream" for r in roles.values())
    }
    names = {name for name in unit.functions if (unit.path, name) in changed}
    names |= {
        local
        for local, (path, name) in unit.imports.items()
        if (path, name) in changed or (name is None and any(k[0] == path for k in changed))
    }
    return names


def is_config(line: cst.SimpleStatementLine) -> bool:
    return len(line.body) == 1 and assigns_config(line.body[0])


def assigns_config(small: cst.BaseSmallStatement) -> bool:
    """Whether a statement assigns the step's `config` (plainly or annotated)."""
    target = None
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = small.targets[0].target
    elif isinstance(small, cst.AnnAssign):
        target = small.target
    return isinstance(target, cst.Name) and target.value == "config"


_LeaveAlone = LeaveAlone  # a construct the rewrite leaves as written (the message says why)


class _ImportTime(Exception):
    """A Motia call at module level: it ran while Motia loaded the module."""


class MiddlewareReturns(cst.CSTTransformer):
    """Motia middleware -> engine middleware: `return await next()` continues, any other return
    responds with what it returned."""

    def __init__(self, next_name: str) -> None:
        super().__init__()
        self.next_name = next_name
        self.depth = 0

    def rewrite(self, body: cst.BaseSuite) -> cst.BaseSuite:
        result = body.visit(self)
        assert isinstance(result, cst.BaseSuite)
        return result

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def leave_Return(self, original_node: cst.Return, updated_node: cst.Return) -> cst.Return:
        value = updated_node.value
        inner = value.expression if isinstance(value, cst.Await) else value
        if (
            isinstance(inner, cst.Call)
            and isinstance(inner.func, cst.Name)
            and inner.func.value == self.next_name
        ):
            return updated_node.with_changes(value=parse_expression('{"action": "continue"}'))
        response = code(value) if value is not None else "None"
        return updated_node.with_changes(
            value=parse_expression(f'{{"action": "respond", "response": {response}}}')
        )


def empty_block(block: cst.BaseSuite) -> bool:
    return isinstance(block, cst.IndentedBlock) and not block.body


def remove_params(node: cst.FunctionDef, names: set[str]) -> cst.FunctionDef:
    params = [p for p in node.params.params if p.name.value not in names]
    if params:
        params[-1] = params[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    posonly = [p for p in node.params.posonly_params if p.name.value not in names]
    return node.with_changes(params=node.params.with_changes(params=params, posonly_params=posonly))


def insert_prelude(node: cst.FunctionDef, lines: Sequence[str]) -> cst.FunctionDef:
    """Statements at the top of a function body (after its docstring)."""
    body = node.body
    statements = [cst.parse_statement(line + "\n") for line in lines]
    if isinstance(body, cst.SimpleStatementSuite):
        body = cst.IndentedBlock(body=[cst.SimpleStatementLine(body=list(body.body))])
    assert isinstance(body, cst.IndentedBlock)
    existing = list(body.body)
    position = 0
    if existing and isinstance(existing[0], cst.SimpleStatementLine):
        first = existing[0].body[0] if existing[0].body else None
        if isinstance(first, cst.Expr) and isinstance(
            first.value, (cst.SimpleString, cst.ConcatenatedString)
        ):
            position = 1
    new_body = [*existing[:position], *statements, *existing[position:]]
    return node.with_changes(body=body.with_changes(body=new_body))


def rewrite_module(
    facts: ProjectFacts,
    unit: ModuleUnit,
    options: ModuleOptions,
    entries: dict[str, EntryPlan],
    droppable: dict[FunctionKey, set[str]],
    *,
    with_positions: bool,
    blocking: set[FunctionKey] | None = None,
) -> tuple[cst.Module, ModuleRewriter]:
    rewriter = ModuleRewriter(
        facts, unit, options, entries, droppable, with_positions, blocking or set()
    )
    module = unit.tree.visit(rewriter)
    if with_positions:
        place_notes(unit.tree.code, rewriter.notes)
    return module, rewriter


def place_notes(source: str, notes: list[Note]) -> None:
    """Line numbers for notes, found by their source text (notes come in source order, so
    repeated texts are found one after the other). Cheaper than libcst's position metadata,
    which costs a second code generation of the whole module."""
    cursors: dict[str, int] = {}
    for note in notes:
        if not note.anchor:
            continue
        found = source.find(note.anchor, cursors.get(note.anchor, 0))
        if found < 0:
            found = source.find(note.anchor)
        if found >= 0:
            cursors[note.anchor] = found + 1
            note.line = source.count("\n", 0, found) + 1
