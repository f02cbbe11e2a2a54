"""Calls of the project's own functions whose parameters changed.

- an argument for a parameter the function lost (Motia's context, nobody passes it now) goes;
- a stream handle passed to a function that takes it becomes the stream's name (what the
  function's `stream::*` calls take now);
- a sync function that calls the engine, called from an async one, is awaited on a thread
  (`await asyncio.to_thread(f, ...)`): `iii.trigger` raises on the SDK's event loop.
"""

import libcst as cst

from motia_import.analysis import parameters
from motia_import.model import Status
from motia_import.payloads import expression
from motia_import.roles import Role, code
from motia_import.rules import Callee, Rule, Walk, awaited
from motia_import.rules.engine_calls import awaited_call


class ProjectCalls(Rule):
    def __init__(self, walk: Walk) -> None:
        self.walk = walk

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        callee = self.walk.callee(original_node.func)
        if callee is None or self._motias(original_node):
            return updated_node
        call = self._adjust_args(original_node, updated_node, callee)
        if (
            callee.blocking
            and self.walk.frame.is_async
            and self.walk.in_function
            and not awaited(self.walk, original_node)
        ):
            return self._on_thread(original_node, call)
        return call

    def _motias(self, call: cst.Call) -> bool:
        """Whether a call is one of Motia's (the other rules rewrite those)."""
        role = self.walk.role(call.func)
        if role is not None and role.kind == "enqueue":
            return True
        if isinstance(call.func, cst.Attribute):
            base = self.walk.role(call.func.value)
            return base is not None and base.kind in ("state", "stream", "ctx", "input")
        return False

    def _on_thread(self, original: cst.Call, call: cst.Call) -> cst.BaseExpression:
        self.walk.need(client="asyncio")
        self.walk.note(
            original,
            f"{code(original.func)}(...)",
            Status.CONVERTED,
            "a sync function that calls the engine: awaited on a thread (asyncio.to_thread)",
        )
        args = (
            [cst.Arg(call.func, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))]
            if call.args
            else [cst.Arg(call.func)]
        )
        thread_call = cst.Call(func=expression("asyncio.to_thread"), args=[*args, *call.args])
        return awaited_call(self.walk, original, thread_call)

    def _adjust_args(self, original: cst.Call, updated: cst.Call, callee: Callee) -> cst.Call:
        positional = [p.name.value for p in parameters(callee.function)]
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
            if pname in callee.dropped:
                changed = True
                continue
            original_arg = original.args[index]
            if pname is not None and callee.roles.get(pname, Role("ctx")).kind == "stream":
                stream = self.walk.role(original_arg.value)
                if stream is not None and stream.kind == "stream":
                    args.append(arg.with_changes(value=expression(stream.detail)))
                    changed = True
                    continue
            args.append(arg)
        if not changed:
            return updated
        if args:
            args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated.with_changes(args=args)
