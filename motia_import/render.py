"""Writing the new project: the template rendered by copier (so `copier update` works on it),
then the converted package, its test, MIGRATION.md, and the dependencies in `pyproject.toml`."""

import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import copier
import yaml

from motia_import.convert import Converted
from motia_import.project import requirement_name, within

DEPENDENCY_MARKER = "# Add your own dependencies below this line"
# Written into the project's pyproject.toml: the converted code keeps its own style, so the
# project's strict settings apply to the template's code and to new code, not to it.
RUFF_STYLE_RULES = '"src/steps/**" = ["E", "W", "I", "B", "UP", "SIM", "RUF", "S", "ASYNC", "F401", "F403", "F405", "F811", "F841"]'
MYPY_OVERRIDE = """
# Added by motia_import: the code converted from Motia is not annotated for --strict. Remove
# this override module by module as you type them (see MIGRATION.md).
[[tool.mypy.overrides]]
module = ["src.steps", "src.steps.*"]
ignore_errors = true
"""
FORMAT_EXCLUDE = """
# Added by motia_import: the converted code keeps the formatting it had in the Motia project.
[tool.ruff.format]
exclude = ["src/steps/**"]
"""
GENERATED = ("src/steps", "tests/test_imported_steps.py", "MIGRATION.md")
# The template's pytest turns every warning into an error; the imported code's own warnings
# (Motia printed them, e.g. pydantic's v1-style `class Config:`) stay warnings. Filters naming
# the warning's module would miss those raised from the library (pydantic warns from its own
# code), so they are by category; the template's own code stays strict through its tests.
IMPORTED_WARNINGS = (
    "default::DeprecationWarning",
    "default::PendingDeprecationWarning",
    "default::UserWarning",
    "default::FutureWarning",
)


class RenderError(Exception):
    """The project could not be written (one line for the user)."""


@dataclass
class Answers:
    worker_name: str
    description: str
    iii_line: str
    python_version: str
    package_manager: str
    deploy: list[str]
    engine_url: str

    def data(self) -> dict[str, Any]:
        return {
            "worker_name": self.worker_name,
            "description": self.description,
            "iii_line": self.iii_line,
            "python_version": self.python_version,
            "package_manager": self.package_manager,
            "deploy": self.deploy,
            "engine_url": self.engine_url,
        }


def template_knows(template: Path, question: str) -> bool:
    questions = yaml.safe_load((template / "copier.yml").read_text(encoding="utf-8"))
    return isinstance(questions, dict) and question in questions


def render_project(template: Path, destination: Path, answers: Answers, needs: list[str]) -> None:
    if not template_knows(template, "own_modules"):
        raise RenderError(
            f"the template at {template} has no `own_modules` answer (too old for the importer)"
        )
    data = {
        **answers.data(),
        "triggers": [],
        "own_modules": [{"module": "steps", "needs": needs}],
    }
    try:
        copier.run_copy(
            str(template),
            destination,
            data=data,
            defaults=True,
            vcs_ref="HEAD",
            quiet=True,
            overwrite=True,
        )
    except (copier.errors.CopierError, ValueError) as error:
        raise RenderError(f"copier could not render the template: {error}") from None


def clear_previous_import(destination: Path) -> None:
    """Before `--force` writes again: the files an earlier import wrote (so a second run
    gives the same tree, not the union of two)."""
    for name in GENERATED:
        path = destination / name
        if path.is_symlink():
            path.unlink()  # the link, never what it points at
        elif path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def toml_string(text: str) -> str:
    if '"' in text and "'" not in text:
        return f"'{text}'"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def insert_after(lines: list[str], header: str, new: list[str]) -> bool:
    at = next((i for i, line in enumerate(lines) if line.strip() == header), None)
    if at is None:
        return False
    lines[at + 1 : at + 1] = new
    return True


def keep_warnings(lines: list[str], requirements: list[str]) -> None:
    """Added after the template's `"error"` entry (later filters win in pytest): the categories
    above, and any warning the imported project's own dependencies issue (requests warns of
    its dependencies' versions at import, as `RequestsDependencyWarning`, a plain Warning)."""
    at = next((i for i, line in enumerate(lines) if line.strip() == '"error",'), None)
    if at is None:  # nothing turns warnings into errors
        return
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    modules = dict.fromkeys(
        name.replace("-", "_") for name in map(requirement_name, requirements) if name
    )
    filters = [*IMPORTED_WARNINGS, *(f"default:::{module}" for module in modules)]
    note = f"{indent}# Added by motia_import: the imported code's warnings stay warnings."
    lines[at + 1 : at + 1] = [note] + [f'{indent}"{w}",' for w in filters]


def exclude_carried(lines: list[str], carried: list[PurePosixPath]) -> None:
    """Carried project files are the source project's as they were: not the template's checks'."""
    outside = sorted(p.as_posix() for p in carried if PurePosixPath("src/steps") not in p.parents)
    if not outside:
        return
    ruff = f"extend-exclude = [{', '.join(toml_string(p) for p in outside)}]"
    mypy = f"exclude = [{', '.join(toml_string('^' + re.escape(p)) for p in outside)}]"
    if not (
        insert_after(lines, "[tool.ruff]", [ruff]) and insert_after(lines, "[tool.mypy]", [mypy])
    ):
        raise RenderError("pyproject.toml has no [tool.ruff]/[tool.mypy] (the template changed?)")


def edit_pyproject(
    path: Path, requirements: list[str], carried: list[PurePosixPath] | None = None
) -> None:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    keep_warnings(lines, requirements)
    exclude_carried(lines, carried or [])
    marker = next((i for i, line in enumerate(lines) if DEPENDENCY_MARKER in line), None)
    if marker is None:
        raise RenderError("pyproject.toml has no place for dependencies (the template changed?)")
    indent = lines[marker][: len(lines[marker]) - len(lines[marker].lstrip())]
    lines[marker + 1 : marker + 1] = [f"{indent}{toml_string(r)}," for r in requirements]
    ignores = next(
        (i for i, line in enumerate(lines) if line.strip() == "[tool.ruff.lint.per-file-ignores]"),
        None,
    )
    if ignores is None:
        lines += ["", "[tool.ruff.lint.per-file-ignores]", RUFF_STYLE_RULES]
    else:
        lines.insert(ignores + 1, RUFF_STYLE_RULES)
    path.write_text("\n".join(lines) + "\n" + MYPY_OVERRIDE + FORMAT_EXCLUDE, encoding="utf-8")


def write_files(destination: Path, files: dict[PurePosixPath, str]) -> None:
    for relative, content in sorted(files.items()):
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


def copy_carried(
    root: Path, destination: Path, carried: dict[PurePosixPath, PurePosixPath]
) -> None:
    """The project files `__file__` paths read, at their new places (the conversion listed
    only files whose real path lies in SOURCE; checked again as they are copied)."""
    for place, original in sorted(carried.items()):
        source = root / original
        if not within(root, source):
            raise RenderError(f"{original}: its real path is outside SOURCE (not copied)")
        (destination / place).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination / place)


def write_project(
    template: Path,
    destination: Path,
    answers: Answers,
    converted: Converted,
    extra_files: dict[PurePosixPath, str],
    requirements: list[str],
    source_root: Path | None = None,
) -> None:
    try:
        clear_previous_import(destination)
        render_project(template, destination, answers, converted.needs)
        if source_root is not None:
            copy_carried(source_root, destination, converted.carried)
        write_files(destination, {**converted.files, **extra_files})
        edit_pyproject(destination / "pyproject.toml", requirements, list(converted.carried))
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        raise RenderError(f"cannot write DEST ({error.strerror or error}{where})") from None
