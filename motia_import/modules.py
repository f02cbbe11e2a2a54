"""The project's own Python modules: which ones the steps import, where they come from, and where
they go in the new layout.

At runtime Motia found a step's imports through the project root on `sys.path` (plus, for 0.x,
the project's parent and the step's package for relative imports) and through whatever the
modules themselves put on `sys.path`. The importer reproduces that search statically, then maps
every kept file to one package, `src/steps/`, so every import becomes an absolute
`src.steps...` import and no `sys.path` change is needed any more.
"""

import ast
import keyword
import posixpath
import re
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from motia_import.model import Generation
from motia_import.static_eval import dotted, evaluate_path, segment

PACKAGE = "src.steps"  # where converted code lives in the generated project
PACKAGE_DIR = PurePosixPath("src/steps")
STDLIB = frozenset(sys.stdlib_module_names)


@dataclass(frozen=True)
class Target:
    """What an import name found: a module file, or a package (a directory, with or without
    an `__init__.py`)."""

    path: PurePosixPath  # relative to the project root: a .py file, or a directory
    is_package: bool


@dataclass
class SysPathChange:
    lineno: int
    directory: PurePosixPath | None  # None when the path could not be worked out
    first: bool  # inserted at the front (it wins over everything else)
    source: str


@dataclass
class ModuleSource:
    path: PurePosixPath
    text: str
    tree: ast.Module
    sys_path: list[SysPathChange] = field(default_factory=list)


def identifier(name: str) -> str:
    """A valid, readable module name for a file or folder name."""
    cleaned = re.sub(r"\W+", "_", name).strip("_") or "module"
    if cleaned[0].isdigit():
        cleaned = "m_" + cleaned
    if keyword.iskeyword(cleaned) or cleaned in ("src", "steps_registry"):
        cleaned += "_"
    return cleaned


def step_stem(name: str) -> str:
    """`create_order_step.py` / `create-order.step.py` -> `create_order`."""
    stem = re.sub(r"([._]step)?\.py$", "", name)
    return identifier(stem) if stem else "step"


def parse(root: Path, path: PurePosixPath) -> ModuleSource | None:
    try:
        text = (root / path).read_text(encoding="utf-8")
        tree = ast.parse(text, filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None
    return ModuleSource(path, text, tree)


def sys_path_changes(module: ModuleSource, root: Path) -> list[SysPathChange]:
    """`sys.path.insert/append/extend` at module level (also inside `if`, `for` over a literal
    list, and `try`), with the directories worked out where they can be."""
    absolute_file = str(PurePosixPath(root.resolve().as_posix()) / module.path)
    cwd = root.resolve().as_posix()
    env: dict[str, str] = {}
    changes: list[SysPathChange] = []

    def record(call: ast.Call, loop_values: dict[str, str]) -> None:
        method = call.func.attr if isinstance(call.func, ast.Attribute) else ""
        arg = call.args[-1] if call.args else None
        if arg is None:
            return
        candidates = [arg.elts] if method == "extend" and isinstance(arg, ast.List) else [[arg]]
        for group in candidates:
            for element in group:
                value = evaluate_path(element, {**env, **loop_values}, absolute_file, cwd)
                directory = None
                if value is not None:
                    relative = posixpath.relpath(value, cwd)
                    if not relative.startswith(".."):
                        directory = PurePosixPath(relative)
                changes.append(
                    SysPathChange(
                        call.lineno,
                        directory,
                        method == "insert",
                        segment(module.text, call),
                    )
                )

    def visit(statements: list[ast.stmt], loop_values: dict[str, str]) -> None:
        for statement in statements:
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                target = statement.targets[0]
                if isinstance(target, ast.Name):
                    value = evaluate_path(statement.value, env, absolute_file, cwd)
                    if value is not None:
                        env[target.id] = value
            elif isinstance(statement, ast.Expr) and is_sys_path_call(statement.value):
                assert isinstance(statement.value, ast.Call)
                record(statement.value, loop_values)
            elif isinstance(statement, ast.If):
                visit(statement.body, loop_values)
                visit(statement.orelse, loop_values)
            elif isinstance(statement, ast.Try):
                visit(statement.body, loop_values)
            elif (
                isinstance(statement, ast.For)
                and isinstance(statement.target, ast.Name)
                and isinstance(statement.iter, (ast.List, ast.Tuple))
            ):
                for element in statement.iter.elts:
                    value = evaluate_path(element, env, absolute_file, cwd)
                    if value is not None:
                        visit(statement.body, {**loop_values, statement.target.id: value})

    visit(module.tree.body, {})
    return changes


def is_sys_path_call(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("insert", "append", "extend")
        and dotted(node.func.value) == "sys.path"
    )


class ProjectModules:
    """Import resolution over the project's files, the way Motia's runtime found them."""

    def __init__(self, root: Path, files: list[Path], generation: Generation) -> None:
        self.root = root
        self.files = {PurePosixPath(p.as_posix()) for p in files}
        self.dirs = {parent for f in self.files for parent in f.parents if str(parent) != "."}
        self.generation = generation
        self.sources: dict[PurePosixPath, ModuleSource | None] = {}
        # Directories every module sees: the project root (Motia's working directory), `src/`
        # for src-layout packages, and what any kept module put on sys.path.
        self.global_roots: list[PurePosixPath] = [PurePosixPath(".")]
        if PurePosixPath("src") in self.dirs:
            self.global_roots.append(PurePosixPath("src"))
        self.extra_roots: list[PurePosixPath] = []
        # Imports found only by file name, not by any search path (reported).
        self.found_by_name: set[tuple[PurePosixPath, str]] = set()

    def source(self, path: PurePosixPath) -> ModuleSource | None:
        if path not in self.sources:
            module = parse(self.root, path)
            if module is not None:
                module.sys_path = sys_path_changes(module, self.root)
                for change in module.sys_path:
                    if change.directory is not None and change.directory not in self.extra_roots:
                        self.extra_roots.append(change.directory)
            self.sources[path] = module
        return self.sources[path]

    def roots_for(self, path: PurePosixPath) -> list[PurePosixPath]:
        module = self.source(path)
        changes = module.sys_path if module else []
        first = [c.directory for c in changes if c.first and c.directory is not None]
        last = [c.directory for c in changes if not c.first and c.directory is not None]
        unique: list[PurePosixPath] = []
        for directory in first + self.global_roots + last + self.extra_roots:
            if directory not in unique:
                unique.append(directory)
        return unique

    def _at(self, base: PurePosixPath, parts: list[str]) -> Target | None:
        candidate = PurePosixPath(posixpath.normpath(base.joinpath(*parts).as_posix()))
        if candidate.parts[:1] == ("..",):
            return None
        if parts and candidate.with_suffix(".py") in self.files:
            return Target(candidate.with_suffix(".py"), False)
        if candidate in self.dirs or (not parts and str(candidate) == "."):
            return Target(candidate, True)
        return None

    def find(self, importer: PurePosixPath, module: str, level: int) -> Target | None:
        """The target of `import module` / `from module import ...` written in `importer`."""
        parts = [p for p in module.split(".") if p]
        if level:
            base = importer.parent
            for _ in range(level - 1):
                base = base.parent
            return self._at(base, parts)
        if not parts or parts[0] in STDLIB or parts[0] in ("motia", "iii", "iii_helpers"):
            return None
        if self.generation == "0.x" and parts[0] == self.root.name and len(parts) > 1:
            parts = parts[1:]  # 0.x put the project's parent on sys.path
        for root in self.roots_for(importer):
            found = self._at(root, parts)
            if found is not None and str(found.path) != ".":
                return found
        # A last resort for dotted names only: `import chess` must stay the pip package even
        # when the project has a steps/chess/ folder.
        by_name = self.find_by_name(parts) if len(parts) > 1 else []
        if len(by_name) == 1:
            self.found_by_name.add((importer, module))
            return by_name[0]
        return None

    def find_by_name(self, parts: list[str]) -> list[Target]:
        """Files or folders whose path ends with the dotted name: a last resort for imports
        that worked through a search path the importer cannot see (PYTHONPATH, an installed
        package)."""
        tail = "/".join(parts)
        found = [
            Target(f, False)
            for f in self.files
            if f.with_suffix("").as_posix() == tail
            or f.with_suffix("").as_posix().endswith("/" + tail)
        ]
        return sorted(found, key=lambda t: str(t.path))

    def submodule(self, package: Target, name: str) -> Target | None:
        return self._at(package.path, [name]) if package.is_package else None


@dataclass
class Layout:
    """Where each kept file goes: a path under `src/steps/` and its dotted module name."""

    new_paths: dict[PurePosixPath, PurePosixPath] = field(default_factory=dict)
    stripped: frozenset[str] = frozenset()  # scanned folders whose name was dropped

    def directory(self, source_dir: PurePosixPath) -> PurePosixPath:
        parts = source_dir.parts if str(source_dir) != "." else ()
        if parts and parts[0] in self.stripped:
            parts = parts[1:]
        return PACKAGE_DIR.joinpath(*(identifier(p) for p in parts))

    def new_path(self, target: Target) -> PurePosixPath:
        if target.is_package:
            return self.directory(target.path)
        return self.new_paths[target.path]

    def module_name(self, target: Target) -> str:
        new = self.new_path(target)
        relative = new if target.is_package else new.with_suffix("")
        if relative.name == "__init__":
            relative = relative.parent
        return ".".join(relative.parts)


def plan_layout(
    files: list[PurePosixPath], step_files: set[PurePosixPath], scan_roots: tuple[str, ...]
) -> Layout:
    """Mirror the kept files under `src/steps/`, dropping the scanned folders' names
    (`steps/`, `src/`) unless two files would then collide, and renaming step files without
    their `_step`/`.step` suffix unless a sibling already has that name."""
    used = [r for r in scan_roots if any(len(f.parts) > 1 and f.parts[0] == r for f in files)]
    for stripped in (frozenset(used), frozenset(used[:1]), frozenset()):
        layout = Layout(stripped=stripped)
        if _place(layout, files, step_files):
            return layout
    raise AssertionError("a layout without stripped folders cannot collide")


def _place(layout: Layout, files: list[PurePosixPath], step_files: set[PurePosixPath]) -> bool:
    taken: dict[PurePosixPath, PurePosixPath] = {}
    for path in sorted(files, key=str):
        base = layout.directory(path.parent)
        if path.name == "__init__.py":
            new = base / "__init__.py"
        else:
            plain = identifier(Path(path.name).stem.replace(".", "_"))
            stem = step_stem(path.name) if path in step_files else plain
            siblings = {
                identifier(Path(f.name).stem.replace(".", "_"))
                for f in files
                if f.parent == path.parent and f != path and f not in step_files
            }
            new = base / f"{plain if stem in siblings else stem}.py"
        if new in taken:
            if path.name == "__init__.py" or new.parent != base:
                return False
            number = 2
            while new.with_name(f"{new.stem}_{number}.py") in taken:
                number += 1
            new = new.with_name(f"{new.stem}_{number}.py")
        taken[new] = path
        layout.new_paths[path] = new
    return True


def closure(
    modules: ProjectModules, start: list[PurePosixPath]
) -> tuple[list[PurePosixPath], dict[PurePosixPath, list[str]]]:
    """Every project file the start files import, transitively (package `__init__.py` files
    included), and, per file, the imports that found nothing in the project."""
    kept: list[PurePosixPath] = []
    unresolved: dict[PurePosixPath, list[str]] = {}
    queue = deque(start)
    seen: set[PurePosixPath] = set(start)

    def keep(path: PurePosixPath) -> None:
        if path not in seen and path in modules.files:
            seen.add(path)
            queue.append(path)

    while queue:
        path = queue.popleft()
        module = modules.source(path)
        kept.append(path)
        for parent in path.parents:
            if str(parent) != ".":
                keep(parent / "__init__.py")
        if module is None:
            continue
        for node in ast.walk(module.tree):
            for target in import_targets(modules, path, node, unresolved):
                if target.is_package:
                    keep(target.path / "__init__.py")
                else:
                    keep(target.path)
    return kept, unresolved


def import_targets(
    modules: ProjectModules,
    importer: PurePosixPath,
    node: ast.AST,
    unresolved: dict[PurePosixPath, list[str]],
) -> list[Target]:
    targets: list[Target] = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            found = modules.find(importer, alias.name, 0)
            if found is not None:
                targets.append(found)
                # `import a.b.c` runs a, a.b and a.b.c
                parts = alias.name.split(".")
                for depth in range(1, len(parts)):
                    parent = modules.find(importer, ".".join(parts[:depth]), 0)
                    if parent is not None:
                        targets.append(parent)
            elif looks_local(modules, alias.name):
                unresolved.setdefault(importer, []).append(alias.name)
    elif isinstance(node, ast.ImportFrom):
        found = modules.find(importer, node.module or "", node.level)
        if found is None:
            if node.level or looks_local(modules, node.module or ""):
                unresolved.setdefault(importer, []).append("." * node.level + (node.module or ""))
            return targets
        targets.append(found)
        for alias in node.names:
            sub = modules.submodule(found, alias.name)
            if sub is not None:
                targets.append(sub)
    return targets


def looks_local(modules: ProjectModules, name: str) -> bool:
    """An import that found nothing in the project although its first name is a module or
    folder at the top of a search path (`import utils.missing` with a utils/ folder there)."""
    first = name.split(".")[0]
    if not first or first in STDLIB:
        return False
    roots = {PurePosixPath("."), *modules.global_roots, *modules.extra_roots}
    tops = {f.stem for f in modules.files if f.parent in roots}
    tops |= {d.name for d in modules.dirs if d.parent in roots}
    return first in tops
