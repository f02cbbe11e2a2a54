"""Statements at the top of a function body (after its docstring), for the rules that bind
names a rewritten function needs (the trace id, a validated input, the request)."""

from collections.abc import Sequence

import libcst as cst


def insert_prelude(node: cst.FunctionDef, lines: Sequence[str]) -> cst.FunctionDef:
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
