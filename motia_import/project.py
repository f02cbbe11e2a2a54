"""The source project as a whole: which Motia generation and version it pins, what it calls
itself, which Python it wants, and the dependencies it declares (without motia).

Everything is read from files; nothing in the source project is imported or run.
"""

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from motia_import.model import Generation
from motia_import.versions import Version, parse_version, pinned_version

# Requirements the generated project replaces: motia itself, and the SDK the template pins.
# (`iii` on PyPI is an unrelated package that migrating users sometimes install by mistake.)
REPLACED = {"motia", "iii-sdk", "iii-helpers", "iii"}
PYTHON_VERSIONS = ("3.13", "3.12", "3.11", "3.10")  # what the template offers, newest first
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class SourceError(Exception):
    """The source is not something the importer can read (one line for the user)."""


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = _NAME.match(requirement)
    return normalize(match[1]) if match else ""


@dataclass
class Dependencies:
    """Runtime requirements (PEP 508 strings) in the order the project lists them."""

    requirements: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was left behind, and why
    sources: list[str] = field(default_factory=list)  # the files they came from

    def add(self, requirement: str, source: str) -> None:
        name = requirement_name(requirement)
        if not name:
            return
        if name in REPLACED:
            if name == "iii":
                self.notes.append(
                    f"{source}: dropped `{requirement}` (PyPI `iii` is not the iii SDK)"
                )
            return
        if all(requirement_name(r) != name for r in self.requirements):
            self.requirements.append(requirement)


@dataclass
class SourceProject:
    root: Path
    generation: Generation
    motia_version: Version | None
    version_source: str  # where the version was read ("uv.lock", "package.json", ...)
    name: str
    description: str
    python_version: str | None  # a template choice ("3.12"), when the project says
    package_manager: str  # "uv" or "pip", by the files the project has
    dependencies: Dependencies
    has_python_motia: bool = False


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SourceError(f"cannot read {path.name}: {error}") from None


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SourceError(f"cannot read {path.name}: {error}") from None
    return data if isinstance(data, dict) else {}


def requirements_file(path: Path, dependencies: Dependencies, seen: set[Path]) -> None:
    """Read a requirements file (following `-r` includes) into `dependencies`."""
    if path in seen or not path.is_file():
        return
    seen.add(path)
    dependencies.sources.append(path.name)
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            requirements_file(path.parent / line.split(None, 1)[1], dependencies, seen)
        elif line.startswith(("-e ", "--editable ")):
            target = line.split(None, 1)[1]
            egg = re.search(r"#egg=([A-Za-z0-9._-]+)", target)
            if egg and "://" in target:
                dependencies.add(f"{egg[1]} @ {target.split('#', 1)[0]}", path.name)
            else:
                dependencies.notes.append(f"{path.name}: left out the editable `{line}`")
        elif line.startswith("-"):
            dependencies.notes.append(
                f"{path.name}: left out the pip option `{line}` (set it in the project's "
                "package-manager configuration)"
            )
        elif "://" in line and " @ " not in line:
            egg = re.search(r"#egg=([A-Za-z0-9._-]+)", line)
            if egg:
                dependencies.add(f"{egg[1]} @ {line.split('#', 1)[0]}", path.name)
            else:
                dependencies.notes.append(f"{path.name}: left out `{line}` (no package name)")
        else:
            dependencies.add(line, path.name)


def poetry_requirement(name: str, spec: object) -> str | None:
    """A PEP 508 string for a `[tool.poetry.dependencies]` entry, or None when it has none."""
    if isinstance(spec, dict):
        if "git" in spec:
            return f"{name} @ git+{spec['git']}"
        spec = spec.get("version", "*")
    if not isinstance(spec, str):
        return None
    spec = spec.strip()
    if spec in ("", "*"):
        return name
    if spec.startswith("^"):
        return f"{name}>={spec[1:]}"
    if spec.startswith("~") and not spec.startswith("~="):
        return f"{name}~={spec[1:]}"
    if spec[0].isdigit():
        return f"{name}=={spec}"
    return f"{name}{spec}"


def pyproject_dependencies(data: dict[str, Any], dependencies: Dependencies) -> None:
    project = data.get("project") or {}
    for requirement in project.get("dependencies") or []:
        if isinstance(requirement, str):
            dependencies.add(requirement, "pyproject.toml")
    for group in project.get("optional-dependencies") or {}:
        dependencies.notes.append(
            f"pyproject.toml: the optional dependencies `{group}` were not carried over"
        )
    poetry = ((data.get("tool") or {}).get("poetry") or {}).get("dependencies") or {}
    for name, spec in poetry.items():
        if normalize(name) == "python":
            continue
        requirement = poetry_requirement(name, spec)
        if requirement:
            dependencies.add(requirement, "pyproject.toml [tool.poetry]")
    if project.get("dependencies") or poetry:
        dependencies.sources.append("pyproject.toml")


def motia_in(requirements: list[str]) -> str | None:
    """The specifier of the `motia` requirement in a list, or None when there is none."""
    for requirement in requirements:
        if requirement_name(requirement) == "motia":
            return re.sub(r"^\s*[A-Za-z0-9._-]+(\[[^\]]*\])?", "", requirement).split(";")[0]
    return None


def locked_python_motia(root: Path) -> Version | None:
    for lock in ("uv.lock", "poetry.lock", "pdm.lock"):
        path = root / lock
        if path.is_file():
            for package in read_toml(path).get("package") or []:
                if isinstance(package, dict) and normalize(str(package.get("name"))) == "motia":
                    return parse_version(str(package.get("version", "")))
    return None


def locked_npm_motia(root: Path) -> Version | None:
    lock = root / "package-lock.json"
    if lock.is_file():
        data = read_json(lock)
        entry = (data.get("packages") or {}).get("node_modules/motia") or (
            data.get("dependencies") or {}
        ).get("motia")
        if isinstance(entry, dict) and isinstance(entry.get("version"), str):
            return parse_version(entry["version"])
    for name, pattern in (
        ("pnpm-lock.yaml", r"(?m)^\s+/?motia@([0-9][^:(\s]*)"),
        ("yarn.lock", r'(?m)^"?motia@[^\n]*\n\s+version:? "?([^"\s]+)'),
    ):
        path = root / name
        if path.is_file():
            found = re.search(pattern, path.read_text(encoding="utf-8", errors="replace"))
            if found:
                return parse_version(found[1])
    return None


def npm_motia(package: dict[str, Any]) -> str | None:
    for section in ("dependencies", "devDependencies"):
        spec = (package.get(section) or {}).get("motia")
        if isinstance(spec, str):
            return spec
    return None


def choose_python(root: Path, pyproject: dict[str, Any]) -> str | None:
    """A template Python choice the project asks for: `.python-version`, else the newest
    minor that `requires-python` allows (the template's default 3.12 when that one fits)."""
    pinned = root / ".python-version"
    if pinned.is_file():
        first = pinned.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        match = re.match(r"(3\.\d+)", first[0]) if first else None
        if match and match[1] in PYTHON_VERSIONS:
            return match[1]
    spec = str((pyproject.get("project") or {}).get("requires-python") or "")
    if not spec:
        return None
    allowed = [v for v in PYTHON_VERSIONS if python_allows(spec, v)]
    if "3.12" in allowed:
        return "3.12"
    return allowed[0] if allowed else None


def python_allows(spec: str, version: str) -> bool:
    wanted = tuple(int(p) for p in version.split("."))
    for clause in (c.strip() for c in spec.split(",") if c.strip()):
        match = re.match(r"(>=|<=|==|!=|~=|>|<)?\s*(\d+(?:\.\d+)*)", clause)
        if not match:
            continue
        op, bound = match[1] or "==", tuple(int(p) for p in match[2].split("."))[:2]
        checks = {
            ">=": wanted >= bound,
            ">": wanted > bound,
            "<=": wanted <= bound,
            "<": wanted < bound,
            "==": wanted == bound,
            "!=": wanted != bound,
            "~=": wanted >= bound,
        }
        if not checks[op]:
            return False
    return True


def read_project(root: Path) -> SourceProject:
    if not root.is_dir():
        raise SourceError(f"{root} is not a directory")
    root = root.resolve()
    pyproject = read_toml(root / "pyproject.toml") if (root / "pyproject.toml").is_file() else {}
    package = read_json(root / "package.json") if (root / "package.json").is_file() else {}

    dependencies = Dependencies()
    requirements_file(root / "requirements.txt", dependencies, set())
    pyproject_dependencies(pyproject, dependencies)

    python_spec = motia_in(
        [
            r
            for r in (pyproject.get("project") or {}).get("dependencies") or []
            if isinstance(r, str)
        ]
        + requirement_lines(root / "requirements.txt")
    )
    poetry_motia = (
        ((pyproject.get("tool") or {}).get("poetry") or {}).get("dependencies") or {}
    ).get("motia")
    if python_spec is None and poetry_motia is not None:
        python_spec = poetry_requirement("motia", poetry_motia) or "motia"
        python_spec = python_spec[len("motia") :]
    locked_python = locked_python_motia(root)
    npm_spec = npm_motia(package)

    generation: Generation
    version: Version | None
    if python_spec is not None or locked_python is not None:
        version = locked_python or pinned_version(python_spec or "")
        generation, source = (
            "1.x",
            "uv.lock/poetry.lock" if locked_python else "Python requirements",
        )
    elif npm_spec is not None:
        version = locked_npm_motia(root) or pinned_version(npm_spec)
        source = "package lock" if locked_npm_motia(root) else "package.json"
        generation = "0.x" if version is None or version.major < 1 else "1.x"
    else:
        generation, version, source = guess_generation(root), None, "step configs"

    name = str((pyproject.get("project") or {}).get("name") or package.get("name") or root.name)
    description = str(
        (pyproject.get("project") or {}).get("description") or package.get("description") or ""
    )
    uses_pip = (root / "requirements.txt").is_file() and not (root / "uv.lock").is_file()
    return SourceProject(
        root=root,
        generation=generation,
        motia_version=version,
        version_source=source,
        name=name,
        description=description,
        python_version=choose_python(root, pyproject),
        package_manager="pip" if uses_pip and not pyproject else "uv",
        dependencies=dependencies,
        has_python_motia=python_spec is not None or locked_python is not None,
    )


def requirement_lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def guess_generation(root: Path) -> Generation:
    """Without a motia pin: 1.x when a Python step imports from motia, else 0.x when a step
    config carries a `"type"`, else 1.x."""
    saw_typed_config = False
    for directory in ("steps", "src"):
        base = root / directory
        if not base.is_dir():
            continue
        for path in base.rglob("*.py"):
            text = path.read_text(encoding="utf-8", errors="replace")
            if re.search(r"^\s*(from motia import|import motia)", text, re.MULTILINE):
                return "1.x"
            if re.search(r"""["']type["']\s*:\s*["'](api|event|cron|noop)["']""", text):
                saw_typed_config = True
    return "0.x" if saw_typed_config else "1.x"
