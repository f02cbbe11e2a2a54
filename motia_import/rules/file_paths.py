"""Paths built from `__file__`: the converted module lives elsewhere (`steps/a_step.py` ->
`src/steps/a.py`), so `os.path.dirname(__file__) + "../x"` now points somewhere else. The project
files its string literals point to from the old place are carried to the same place relative to
the new module when that place is inside the new project's `src/` (the wheel and the image carry
`src/`); a use whose files cannot all be carried gets a TODO at the module's top naming them.
"""

import ast
import os
import posixpath
from collections import deque
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from motia_import.project import within
from motia_import.static_eval import evaluate_path

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
        targets = _evaluated(statement, old, root)
        for node in ast.walk(statement):
            if targets:  # the whole path was worked out: its pieces are not paths of their own
                break
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
                found = _project_path(root, old.parent, node.value)
                if found is not None and found not in targets:
                    targets.append(found)
        uses.append(FileRelative(statement.lineno, tuple(targets)))
    return sorted(uses, key=lambda use: use.line)


def _evaluated(statement: ast.stmt, old: PurePosixPath, root: Path) -> list[str]:
    """The project files the statement's `__file__` expressions evaluate to as a whole
    (`os.path.join(os.path.dirname(__file__), "..", "data", "x.json")`), outermost first. A
    folder holding the module is where a path starts from, not a file it reads."""
    real_root = root.resolve()
    module = real_root / old
    found: list[str] = []
    todo: deque[ast.AST] = deque([statement])  # ast.walk's order, minus what was evaluated
    while todo:
        node = todo.popleft()
        value = None
        if isinstance(node, ast.expr) and any(
            isinstance(n, ast.Name) and n.id == "__file__" for n in ast.walk(node)
        ):
            value = evaluate_path(node, {}, module.as_posix(), real_root.as_posix())
        if value is None:
            todo.extend(ast.iter_child_nodes(node))
            continue
        path = Path(value)
        if path == module or path in module.parents:
            continue
        try:
            real = path.resolve()
            relative = real.relative_to(real_root).as_posix()
        except (OSError, ValueError):  # outside the project: never carried
            continue
        if real.exists() and relative != "." and relative not in found:
            found.append(relative)
    return found


def _project_path(root: Path, folder: PurePosixPath, literal: str) -> str | None:
    if "\n" in literal or len(literal) > 300:
        return None
    try:
        resolved = (root / folder / literal.lstrip("/")).resolve()
        relative = resolved.relative_to(root.resolve())
    except (OSError, ValueError):
        return None
    return relative.as_posix() if resolved.exists() and relative.parts else None


# Template-owned places under src/ that a carried file must never replace.
RESERVED = (
    PurePosixPath("src/__init__.py"),
    PurePosixPath("src/main.py"),
    PurePosixPath("src/handlers"),
    PurePosixPath("src/lib"),
)


def carry_place(
    target: str, old: PurePosixPath, new: PurePosixPath, taken: set[PurePosixPath]
) -> PurePosixPath | None:
    """Where `target` (a project path) goes so that the module's path, unchanged, still reaches
    it from `new`; None when that place is outside `src/` or overlaps the converted modules
    (`taken`, paths in both projects) or the template's own files."""
    relative = posixpath.relpath(target, old.parent.as_posix() or ".")
    place = PurePosixPath(posixpath.normpath(posixpath.join(new.parent.as_posix(), relative)))
    if place.parts[:1] != ("src",) or len(place.parts) < 2:
        return None
    source = PurePosixPath(target)
    for path in taken:
        if _overlaps(path, place) or _overlaps(path, source):
            return None
    if any(_overlaps(reserved, place) for reserved in RESERVED):
        return None
    return place


def carry_files(
    root: Path, target: str, place: PurePosixPath
) -> tuple[dict[PurePosixPath, PurePosixPath], list[str]]:
    """The files a carried target holds (new place -> source path), and those refused: their
    real path lies outside SOURCE (links are not followed out of it)."""
    source = root / target
    if not source.is_dir():
        return ({place: PurePosixPath(target)}, []) if within(root, source) else ({}, [target])
    files: dict[PurePosixPath, PurePosixPath] = {}
    refused: list[str] = []
    for folder, folders, names in os.walk(source):  # links to folders are not walked into
        here = Path(folder)
        for name in sorted([*names, *(f for f in folders if (here / f).is_symlink())]):
            path = here / name
            relative = path.relative_to(root).as_posix()
            if not within(root, path):
                refused.append(relative)
            elif path.is_file():
                files[place / path.relative_to(source).as_posix()] = PurePosixPath(relative)
    return files, refused


def _overlaps(a: PurePosixPath, b: PurePosixPath) -> bool:
    return a == b or a in b.parents or b in a.parents


def header(uses: list[FileRelative], old: PurePosixPath, new: PurePosixPath) -> str:
    lines = [
        f"{TODO}paths built from __file__ (line {', '.join(str(u.line) for u in uses)} of "
        f"{old}) now start from {new}, and not every file they read could be carried:"
    ]
    targets = [t for use in uses for t in use.targets]
    if targets:
        lines.append(
            f"{TODO}copy {', '.join(dict.fromkeys(targets))} into src/ and fix the path(s)."
        )
    else:
        lines.append(f"{TODO}check the files they read.")
    return "\n".join(lines) + "\n"
