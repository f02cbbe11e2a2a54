"""Which Motia middleware can become engine middleware.

Motia ran middleware in-process around the handler: `mw(request, ctx, next)` saw the body, could
change the request, answer instead of the handler, or post-process `await next()`. The engine's
middleware sees no body, cannot pass anything to the handler, and answers only
`{"action": "continue"}` or `{"action": "respond", "response": ...}`. So a middleware becomes
an engine function only when it just inspects the request (headers, path and query parameters,
method) and either continues with `return await next()` or returns a response. Anything else
keeps running in-process, in the generated glue around the handler.
"""

import libcst as cst

from motia_import.analysis import parameters
from motia_import.roles import string_value

INSPECTABLE = {"headers", "path_params", "query_params", "pathParams", "queryParams", "method"}


class _Check(cst.CSTVisitor):
    def __init__(self, request: str, ctx: str | None, next_name: str) -> None:
        self.request = request
        self.ctx = ctx
        self.next_name = next_name
        self.reasons: list[str] = []
        self.accounted = False  # some use of the parameters fits the engine's middleware
        self.try_depth = 0
        self.path: list[cst.CSTNode] = []  # the nodes the visit is inside, the current one last

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.path.append(node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        super().on_leave(original_node)
        self.path.pop()

    def visit_Try(self, node: cst.Try) -> None:
        self.try_depth += 1

    def leave_Try(self, original_node: cst.Try) -> None:
        self.try_depth -= 1

    def visit_Yield(self, node: cst.Yield) -> None:
        self.reasons.append("it is a generator")

    def visit_Return(self, node: cst.Return) -> None:
        value = node.value.expression if isinstance(node.value, cst.Await) else node.value
        if (
            isinstance(value, cst.Call)
            and isinstance(value.func, cst.Name)
            and value.func.value == self.next_name
        ):
            if value.args:
                self.reasons.append("it passes arguments to next()")
            if self.try_depth:
                self.reasons.append("it handles errors of the handler (next() inside try)")

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if isinstance(node.value, cst.Name) and node.value.value == self.request:
            if node.attr.value == "get":
                return  # request.get(key): checked where it is called
            if node.attr.value not in INSPECTABLE:
                self.reasons.append(
                    f"it reads request.{node.attr.value} (the engine sends no body)"
                )

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if (
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.value.value == self.request
            and func.attr.value == "get"
            and node.args
        ):
            key = string_value(node.args[0].value)
            if key not in INSPECTABLE:
                self.reasons.append(f"it reads request[{key!r}] (the engine sends no body)")

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if (
            isinstance(node.value, cst.Name)
            and node.value.value == self.request
            and _key(node) not in INSPECTABLE
        ):
            self.reasons.append(f"it reads request[{_key(node)!r}]")

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        target: cst.BaseExpression = node.target
        while isinstance(target, (cst.Attribute, cst.Subscript)):
            target = target.value
        if isinstance(target, cst.Name) and target.value == self.request:
            self.reasons.append("it changes the request (the engine cannot pass that on)")

    def _fits(self, node: cst.Name) -> bool:
        """Whether a use of a parameter fits the engine's middleware: `return await next()`,
        `request.headers` (or another part the engine sends), `ctx.logger`, `ctx.trace_id`."""
        parent, *above = reversed(self.path[:-1])
        if isinstance(parent, cst.Call) and parent.func is node:
            awaited = bool(above) and isinstance(above[0], cst.Await)
            returned = above[1 if awaited else 0] if len(above) > awaited else None
            return node.value == self.next_name and isinstance(returned, cst.Return)
        if isinstance(parent, cst.Subscript) and parent.value is node:
            return node.value == self.request and _key(parent) in INSPECTABLE
        if not (isinstance(parent, cst.Attribute) and parent.value is node):
            return False
        if node.value == self.ctx and parent.attr.value in ("logger", "trace_id", "traceId"):
            return True
        if node.value != self.request:
            return False
        if parent.attr.value != "get":
            return parent.attr.value in INSPECTABLE
        call = above[0] if above else None
        if not (isinstance(call, cst.Call) and call.func is parent and call.args):
            return False
        return string_value(call.args[0].value) in INSPECTABLE

    def visit_Name(self, node: cst.Name) -> None:
        if self._fits(node):
            self.accounted = True
            return
        if node.value == self.next_name:
            self.reasons.append("it uses next() other than as `return await next()`")
        elif node.value == self.request:
            self.reasons.append("it passes the whole request on (it may read the body)")
        elif self.ctx is not None and node.value == self.ctx:
            self.reasons.append("it uses Motia's context beyond the logger")


def _key(node: cst.Subscript) -> str | None:
    key = node.slice[0].slice if len(node.slice) == 1 else None
    return string_value(key.value) if isinstance(key, cst.Index) else None


def engine_middleware_blockers(function: cst.FunctionDef) -> list[str]:
    """Why this middleware cannot run in the engine (empty when it can)."""
    params = [p.name.value for p in parameters(function)]
    if len(params) < 2:
        return ["it does not take (request, ctx, next)"]
    request, next_name = params[0], params[-1]
    ctx = params[1] if len(params) >= 3 else None
    check = _Check(request, ctx, next_name)
    function.body.visit(check)
    body = function.body
    statements = list(body.body) if isinstance(body, cst.IndentedBlock) else []
    last = statements[-1] if statements else None
    ends_with_return = (
        isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], cst.Return)
    ) or isinstance(last, cst.If)
    if not ends_with_return:
        check.reasons.append("it can end without returning (the engine would not know to continue)")
    if not check.accounted or next_name not in cst.Module(body=[]).code_for_node(function.body):
        check.reasons.append("it never continues with next()")
    return list(dict.fromkeys(check.reasons))
