"""Paths built from `__file__`: the converted module lives elsewhere (`steps/a_step.py` ->
`src/steps/a.py`), so `os.path.dirname(__file__) + "../x"` now points somewhere else, and only
Python modules are carried. Such a module gets a TODO at its top naming each use and the project
files its string literals point to from the old place (the human copies them or fixes the path).
"""

import ast
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

TODO = "# TODO(motia-import): "
# Statements whose body holds other statements: their own lines are looked at one by one.
COMPOUND = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.If,
    ast.With,
    ast.AsyncWith,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.Try,
)


@dataclass(frozen=True)
class FileRelative:
    line: int  # in the source module
    targets: tuple[str, ...]  # project files or folders the statement's literals name


def file_relative_uses(
    tree: ast.Module, text: str, old: PurePosixPath, root: Path
) -> list[FileRelative]:
    """Statements that read `__file__`, with the project paths their literals resolve to from
    the module's old folder."""
    if "__file__" not in text:
        return []
    uses: list[FileRelative] = []
    seen: set[int] = set()
    for statement in ast.walk(tree):
        if not isinstance(statement, ast.stmt) or isinstance(statement, COMPOUND):
            continue
        names = [n for n in ast.walk(statement) if isinstance(n, ast.Name)]
        if not any(n.id == "__file__" for n in names) or statement.lineno in seen:
            continue
        seen.add(statement.lineno)
        targets: list[str] = []
        for node in ast.walk(statement):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
                found = _project_path(root, old.parent, node.value)
                if found is not None and found not in targets:
                    targets.append(found)
        uses.append(FileRelative(statement.lineno, tuple(targets)))
    return sorted(uses, key=lambda use: use.line)


def _project_path(root: Path, folder: PurePosixPath, literal: str) -> str | None:
    if "\n" in literal or len(literal) > 300:
        return None
    try:
        resolved = (root / folder / literal.lstrip("/")).resolve()
        relative = resolved.relative_to(root.resolve())
    except (OSError, ValueError):
        return None
    return relative.as_posix() if resolved.exists() and relative.parts else None


def header(uses: list[FileRelative], old: PurePosixPath, new: PurePosixPath) -> str:
    lines = [
        f"{TODO}paths built from __file__ (line {', '.join(str(u.line) for u in uses)} of "
        f"{old}) now start from {new}, and only Python modules were carried:"
    ]
    targets = [t for use in uses for t in use.targets]
    if targets:
        lines.append(f"{TODO}copy {', '.join(dict.fromkeys(targets))} and fix the path(s).")
    else:
        lines.append(f"{TODO}check the files they read.")
    return "\n".join(lines) + "\n"
