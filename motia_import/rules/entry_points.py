"""The signatures of functions the engine (or generated glue) calls, and of functions that lose
Motia's parameters.

- a handler, condition or middleware loses its context parameter; a handler that reads the
  trigger (`ctx.trigger`, `ctx.match`, ...) takes the trigger info as a last parameter; a 0.x
  cron handler that took only the context takes the cron event;
- a handler Motia awaited although it returned an un-awaited coroutine becomes `async`;
- an input validated into a pydantic model is validated at the top (`model_validate`);
- middleware the engine runs takes the engine's middleware input: `return await next()`
  continues, any other return responds with what it returned;
- another function of the project loses the Motia parameters nobody passes any more;
- a context the body still uses is bound to None under a TODO.
"""

import libcst as cst

from motia_import.analysis import all_parameters
from motia_import.model import EntryPlan, Status
from motia_import.payloads import expression
from motia_import.roles import code
from motia_import.rules import TODO, Frame, Rule, Walk
from motia_import.rules.prelude import insert_prelude


class EntryPoints(Rule):
    def __init__(self, walk: Walk) -> None:
        self.walk = walk

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        frame = self.walk.frame
        entry = frame.entry
        node = updated_node
        prelude: list[str] = []
        if entry is not None and entry.make_async and node.asynchronous is None:
            node = node.with_changes(asynchronous=cst.Asynchronous())
            self.walk.note(
                original_node,
                f"def {original_node.name.value}",
                Status.CONVERTED,
                "returned an un-awaited coroutine (Motia awaited it); it is async now",
            )
        dropped = self.walk.dropped(frame.qualname)
        if entry is not None:
            node, prelude = self._signature(node, entry, frame)
        elif dropped:
            node = remove_params(node, dropped)
        removed = frame.ctx_names if entry is not None else frame.ctx_names & dropped
        for name in sorted(removed):
            if references(node.body, name):
                prelude.append(
                    f"{name} = None  {TODO}Motia's context is gone; the code below still uses it"
                )
                self.walk.note(
                    original_node,
                    f"context `{name}`",
                    Status.TODO,
                    "still used after the rewrite (passed on, or a member with no iii equivalent)",
                )
        return insert_prelude(node, prelude) if prelude else node

    def _signature(
        self, node: cst.FunctionDef, entry: EntryPlan, frame: Frame
    ) -> tuple[cst.FunctionDef, list[str]]:
        prelude: list[str] = []
        params = list(node.params.params)
        names = [p.name.value for p in params]
        if entry.kind == "engine-middleware":
            request = names[0] if names else "request"
            middleware_input = self.walk.fresh("middleware_input")
            prelude.append(f'{request} = {middleware_input}.get("request") or {{}}')
            param = cst.Param(
                cst.Name(middleware_input), annotation=cst.Annotation(cst.Name("Any"))
            )
            node = node.with_changes(
                params=node.params.with_changes(params=[param], posonly_params=[])
            )
            self.walk.need(any_type=True)
            returns = MiddlewareReturns(names[2] if len(names) > 2 else "next")
            return node.with_changes(body=returns.rewrite(node.body)), prelude
        kept = [p for p in params if p.name.value not in frame.ctx_names]
        if entry.kind == "handler" and not kept:
            # 0.x cron handlers took only the context; the engine passes the cron event.
            kept = [cst.Param(cst.Name(self.walk.fresh("event")))]
        if frame.trigger is not None:
            self.walk.need(any_type=True)
            annotation = cst.Annotation(expression("dict[str, Any]"))
            kept.append(cst.Param(cst.Name(frame.trigger), annotation=annotation))
        if kept:
            kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        node = node.with_changes(params=node.params.with_changes(params=kept, posonly_params=[]))
        first = kept[0].name.value if kept else None
        if entry.input_model and first:
            prelude.append(f"{first} = {entry.input_model}.model_validate({first})")
        if entry.body_model and first:
            prelude.append(f'body_model = {entry.body_model}.model_validate({first}.get("body"))')
        return node, prelude


class MiddlewareReturns(cst.CSTTransformer):
    """Motia middleware -> engine middleware: `return await next()` continues, any other return
    responds with what it returned."""

    def __init__(self, next_name: str) -> None:
        super().__init__()
        self.next_name = next_name

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
            return updated_node.with_changes(value=expression('{"action": "continue"}'))
        response = code(value) if value is not None else "None"
        return updated_node.with_changes(
            value=expression(f'{{"action": "respond", "response": {response}}}')
        )


def remove_params(node: cst.FunctionDef, names: set[str]) -> cst.FunctionDef:
    params = [p for p in node.params.params if p.name.value not in names]
    if params:
        params[-1] = params[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    posonly = [p for p in node.params.posonly_params if p.name.value not in names]
    return node.with_changes(params=node.params.with_changes(params=params, posonly_params=posonly))


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
