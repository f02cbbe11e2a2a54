"""The source project as a whole: which Motia generation and version it installs, what it calls
itself, which Python it wants, and the dependencies it declares (without motia).

Everything is read from files inside the project (a file whose real path lies outside it is
never read); nothing in the source project is imported or run.
"""

import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

if sys.version_info >= (3, 11):  # noqa: UP036 (the repository needs 3.11, the importer 3.10)
    import tomllib
else:  # the importer itself runs on 3.10 too, with tomli installed
    import tomli as tomllib

from motia_import.discovery import (
    NPM_RULE_CHANGES,
    PYPI_RULE_CHANGES,
    Resolved,
    Rule,
    newest_allowed,
    rule_for,
)
from motia_import.model import Generation
from motia_import.template_facts import DEFAULT_PYTHON, PYTHON_VERSIONS
from motia_import.versions import Interval, Version, npm_range, parse_version, pep440_range

# Requirements the generated project replaces: motia itself, and the SDK the template pins.
# (`iii` on PyPI is an unrelated package that migrating users sometimes install by mistake.)
REPLACED = {"motia", "iii-sdk", "iii-helpers", "iii"}
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
    constraints: list[tuple[str, str]] = field(default_factory=list)  # (constraint, file)

    def add(self, requirement: str, source: str) -> None:
        """Keep a requirement as written (extras, specifiers and markers whole); the same
        requirement from two files is kept once."""
        requirement = requirement.strip()
        try:
            parsed = Requirement(requirement)
        except InvalidRequirement as error:
            self.notes.append(f"{source}: left out `{requirement}` (not a requirement: {error})")
            return
        name = normalize(parsed.name)
        if name in REPLACED:
            if name == "iii":
                self.notes.append(
                    f"{source}: dropped `{requirement}` (PyPI `iii` is not the iii SDK)"
                )
            return
        if all(str(Requirement(r)) != str(parsed) for r in self.requirements):
            self.requirements.append(requirement)

    def constrain(self, constraint: str, source: str) -> None:
        """A `-c` constraint narrows the requirements of its package, as pip applies it."""
        try:
            limit = Requirement(constraint)
        except InvalidRequirement:
            self.notes.append(f"{source}: left out the constraint `{constraint}`")
            return
        matched = False
        for index, requirement in enumerate(self.requirements):
            parsed = Requirement(requirement)
            if normalize(parsed.name) == normalize(limit.name) and limit.specifier:
                parsed.specifier &= limit.specifier
                self.requirements[index] = str(parsed)
                matched = True
        if not matched and normalize(limit.name) not in REPLACED:
            self.notes.append(
                f"{source}: the constraint `{constraint}` applies to no requirement (not carried)"
            )


@dataclass
class SourceProject:
    root: Path
    generation: Generation
    # The version whose rules apply: the locked one, else the newest the range allows (None: the
    # newest release, as for an unbounded range or no pin).
    motia_version: Version | None
    version_source: str  # where the version was read ("uv.lock", "package.json", ...)
    name: str
    description: str
    python_version: str | None  # one of the template's Python choices, when the project says
    package_manager: str  # "uv" or "pip", by the files the project has
    dependencies: Dependencies
    has_python_motia: bool = False
    motia_range: str = ""  # the range as the project wrote it, when no lock file decided
    other_versions: tuple[Version, ...] = ()  # versions of other rules the range also allows

    @property
    def node_only(self) -> bool:
        """npm `motia` 1.x with no Python `motia`: the Node runtime loads `*.step.ts/js` only
        (MotiaDev/motia `motia-js/packages/motia/src/new/build/loader.ts`), so no Python file
        ran as a step."""
        return (
            not self.has_python_motia
            and self.version_source in ("package.json", "package lock")
            and self.motia_version is not None
            and self.motia_version.major >= 1
        )

    def step_rule(self) -> Rule:
        """The step-file rule of the version it installs, with the rules of the other versions
        its range allows when no lock file says which one ran."""
        if self.node_only:
            python = rule_for("1.x", None, "the PyPI motia package (not pinned here)")
            return replace(
                python,
                step_suffixes=(),
                stream_suffixes=(),
                description=f"npm motia {self.motia_version}: *.step.ts and *.step.js only",
                alternatives=(python,),
            )
        registry = "" if self.generation == "1.x" else " (npm)"
        parse = pep440_range if self.generation == "1.x" else npm_range
        if not self.motia_range:
            label = ""
        elif parse(self.motia_range) is None:
            label = f"motia {self.motia_range.strip()}{registry} (no version: the newest rule)"
        else:
            newest = f", {self.motia_version}" if self.motia_version else ""
            label = f"motia {self.motia_range.strip()}{registry} (the newest it allows{newest})"
        rule = rule_for(self.generation, self.motia_version, label)
        changes = PYPI_RULE_CHANGES if self.generation == "1.x" else NPM_RULE_CHANGES
        others = (
            rule_for(self.generation, v, era_label(v, changes) + registry)
            for v in self.other_versions
        )
        loading_more = tuple(
            a for a in others if (a.step_suffixes, a.roots) != (rule.step_suffixes, rule.roots)
        )
        return replace(rule, alternatives=loading_more)


def within(root: Path, path: Path) -> bool:
    """Whether `path` really lies in `root` (links resolved): the importer reads nothing else."""
    real, real_root = path.resolve(), root.resolve()
    return real == real_root or real_root in real.parents


def project_file(root: Path, name: str, notes: list[str] | None = None) -> Path | None:
    """`root/name` when it is a file inside the project; a link out of it is noted, not read."""
    path = root / name
    if not path.is_file():
        return None
    if not within(root, path):
        if notes is not None:
            notes.append(f"{name}: its real path is outside the project (not read)")
        return None
    return path


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


_INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?<=-[rc]))(\S+)$")


def logical_lines(text: str) -> list[str]:
    """A requirements file's lines with `\\` continuations joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            lines.append(line)
    if pending.strip():
        lines.append(pending.strip())
    return lines


def requirements_file(
    root: Path,
    path: Path,
    dependencies: Dependencies,
    seen: set[Path],
    constraint: bool = False,
) -> None:
    """Read a requirements file (following `-r` and `-c` includes inside the project) into
    `dependencies`; a constraints file's lines narrow the requirements of their packages."""
    inside = within(root, path)
    # Named from the project's root, as the project wrote it (`-r ../shared/base.txt`).
    name = Path(os.path.relpath(path, root)).as_posix()
    if path.resolve() in seen or not path.is_file():
        if not path.is_file():
            dependencies.notes.append(f"{name}: included but missing (not read)")
        return
    if not inside:
        dependencies.notes.append(
            f"{name}: its real path is outside the project (not read, nothing carried from it)"
        )
        return
    seen.add(path.resolve())
    dependencies.sources.append(name)
    for line in logical_lines(path.read_text(encoding="utf-8", errors="replace")):
        include = _INCLUDE.match(line)
        if include:
            requirements_file(
                root,
                path.parent / include[2],
                dependencies,
                seen,
                include[1] in ("-c", "--constraint"),
            )
            continue
        # Per-requirement options (hashes, install options) say how pip installs, not what.
        line = re.split(r"\s--?[a-z][a-z-]*(?:[=\s]|$)", f" {line}", maxsplit=1)[0].strip() or line
        if constraint and not line.startswith("-"):
            dependencies.constraints.append((line, name))
        elif line.startswith(("-e ", "--editable ")):
            target = line.split(None, 1)[1]
            egg = re.search(r"#egg=([A-Za-z0-9._-]+)", target)
            if egg and "://" in target:
                dependencies.add(f"{egg[1]} @ {target.split('#', 1)[0]}", name)
            else:
                dependencies.notes.append(f"{name}: left out the editable `{line}`")
        elif line.startswith("-"):
            dependencies.notes.append(
                f"{name}: left out the pip option `{line}` (set it in the project's "
                "package-manager configuration)"
            )
        elif "://" in line and " @ " not in line:
            egg = re.search(r"#egg=([A-Za-z0-9._-]+)", line)
            if egg:
                dependencies.add(f"{egg[1]} @ {line.split('#', 1)[0]}", name)
            else:
                dependencies.notes.append(f"{name}: left out `{line}` (no package name)")
        else:
            dependencies.add(line, name)


def poetry_constraint(spec: str) -> str | None:
    """A PEP 440 specifier for a poetry constraint (`^1.2`, `~1.2.3`, `1.2.*`, `>=1,<2`), or None
    for one PEP 440 cannot say (`||`)."""
    clauses: list[str] = []
    if "||" in spec or "|" in spec:
        return None
    for clause in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", spec.strip()):
        clause = clause.replace(" ", "")
        if clause in ("", "*"):
            continue
        operator = re.match(r"^(\^|~=|~|==|!=|>=|<=|>|<|=)?", clause)[0]  # type: ignore[index]
        version = clause[len(operator) :]
        numbers = [int(n) for n in re.findall(r"\d+", version.split("-")[0])[:3]] or [0]
        if operator == "^":
            first = next((i for i, n in enumerate(numbers) if n), len(numbers) - 1)
            upper = numbers[: first + 1]
            upper[-1] += 1
            clauses += [f">={version}", "<" + ".".join(map(str, upper))]
        elif operator == "~":
            upper = numbers[:2] if len(numbers) > 1 else numbers[:1]
            upper[-1] += 1
            clauses += [f">={version}", "<" + ".".join(map(str, upper))]
        elif operator in ("", "="):
            clauses.append(f"=={version}")
        else:
            clauses.append(f"{operator}{version}")
    return ",".join(clauses)


def python_marker(spec: str) -> str | None:
    """A marker for a poetry `python = "^3.10"` key."""
    constraint = poetry_constraint(spec)
    if constraint is None:
        return None
    parts = [re.match(r"([<>=!~]+)(.*)", c) for c in constraint.split(",") if c]
    return " and ".join(f'python_version {m[1]} "{m[2]}"' for m in parts if m)


def poetry_requirement(name: str, spec: object, notes: list[str] | None = None) -> str | None:
    """A PEP 508 string for a `[tool.poetry.dependencies]` entry (extras, markers and the
    `python` key included), or None when it has none."""
    notes = notes if notes is not None else []
    if isinstance(spec, str):
        spec = {"version": spec}
    if not isinstance(spec, dict):
        return None
    if spec.get("optional"):
        notes.append(f"pyproject.toml [tool.poetry]: `{name}` is optional (an extra): not carried")
        return None
    if "path" in spec:
        notes.append(f"pyproject.toml [tool.poetry]: left out the local path `{name}`")
        return None
    extras = spec.get("extras") or []
    head = name + (f"[{','.join(extras)}]" if extras else "")
    if "git" in spec:
        ref = spec.get("rev") or spec.get("tag") or spec.get("branch")
        head += f" @ git+{spec['git']}" + (f"@{ref}" if ref else "")
    elif "url" in spec:
        head += f" @ {spec['url']}"
    else:
        constraint = poetry_constraint(str(spec.get("version", "*")))
        if constraint is None:
            notes.append(
                f"pyproject.toml [tool.poetry]: `{name} = {spec.get('version')!r}` has no PEP 440 "
                "form: carried without a version"
            )
            constraint = ""
        head += constraint
    markers = [str(spec["markers"])] if spec.get("markers") else []
    if spec.get("python"):
        marker = python_marker(str(spec["python"]))
        if marker:
            markers.append(marker)
    if spec.get("platform"):
        markers.append(f'sys_platform == "{spec["platform"]}"')
    if markers:
        joined = " and ".join(f"({m})" if len(markers) > 1 and " or " in m else m for m in markers)
        return f"{head}; {joined}"
    return head


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
        # A list gives one requirement per Python or platform (`[{version, python}, ...]`).
        for one in spec if isinstance(spec, list) else [spec]:
            requirement = poetry_requirement(name, one, dependencies.notes)
            if requirement:
                dependencies.add(requirement, "pyproject.toml [tool.poetry]")
    if project.get("dependencies") or poetry:
        dependencies.sources.append("pyproject.toml")


def motia_in(requirements: list[str]) -> str | None:
    """The specifier of the `motia` requirement in a list, or None when there is none."""
    for requirement in requirements:
        if requirement_name(requirement) == "motia":
            try:
                parsed = Requirement(requirement)
                # A URL is no version range: what it installs is unknown here.
                return f"@ {parsed.url}" if parsed.url else str(parsed.specifier)
            except InvalidRequirement:
                return re.sub(r"^\s*[A-Za-z0-9._-]+(\[[^\]]*\])?", "", requirement).split(";")[0]
    return None


def locked_python_motia(root: Path) -> Version | None:
    for lock in ("uv.lock", "poetry.lock", "pdm.lock"):
        path = project_file(root, lock)
        if path is not None:
            for package in read_toml(path).get("package") or []:
                if isinstance(package, dict) and normalize(str(package.get("name"))) == "motia":
                    return parse_version(str(package.get("version", "")))
    return None


def locked_npm_motia(root: Path) -> Version | None:
    lock = project_file(root, "package-lock.json")
    if lock is not None:
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
        path = project_file(root, name)
        if path is not None:
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
    pinned = project_file(root, ".python-version")
    if pinned is not None:
        first = pinned.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        match = re.match(r"(3\.\d+)", first[0]) if first else None
        if match and match[1] in PYTHON_VERSIONS:
            return match[1]
    spec = str((pyproject.get("project") or {}).get("requires-python") or "")
    if not spec:
        return None
    allowed = [v for v in PYTHON_VERSIONS if python_allows(spec, v)]
    if DEFAULT_PYTHON in allowed:
        return DEFAULT_PYTHON
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
    dependencies = Dependencies()
    pyproject_path = project_file(root, "pyproject.toml", dependencies.notes)
    package_path = project_file(root, "package.json", dependencies.notes)
    pyproject = read_toml(pyproject_path) if pyproject_path else {}
    package = read_json(package_path) if package_path else {}

    if (root / "requirements.txt").is_file():
        requirements_file(root, root / "requirements.txt", dependencies, set())
    pyproject_dependencies(pyproject, dependencies)
    for constraint, source in dependencies.constraints:
        dependencies.constrain(constraint, source)

    python_spec = motia_in(
        [
            r
            for r in (pyproject.get("project") or {}).get("dependencies") or []
            if isinstance(r, str)
        ]
        + requirement_lines(root, "requirements.txt")
    )
    poetry_motia = (
        ((pyproject.get("tool") or {}).get("poetry") or {}).get("dependencies") or {}
    ).get("motia")
    if python_spec is None and poetry_motia is not None:
        python_spec = poetry_requirement("motia", poetry_motia) or "motia"
        python_spec = python_spec[len("motia") :].split(";")[0]
    locked_python = locked_python_motia(root)
    npm_spec = npm_motia(package)
    locked_npm = locked_npm_motia(root) if npm_spec is not None else None

    generation: Generation
    version: Version | None
    motia_range = ""
    others: tuple[Version, ...] = ()
    if locked_python is not None:
        generation, version, source = "1.x", locked_python, "uv.lock/poetry.lock"
    elif python_spec is not None:
        resolved = resolve_range(pep440_range(python_spec), PYPI_RULE_CHANGES)
        generation, version, others = "1.x", resolved.version, resolved.others
        motia_range, source = ranged(python_spec, pep440_range), "Python requirements"
    elif npm_spec is not None and locked_npm is not None:
        version, source = locked_npm, "package lock"
        generation = "0.x" if version is None or version.major < 1 else "1.x"
    elif npm_spec is not None:
        resolved = resolve_range(npm_range(npm_spec), NPM_RULE_CHANGES)
        version, others, motia_range, source = (
            resolved.version,
            resolved.others,
            ranged(npm_spec, npm_range),
            "package.json",
        )
        generation = "0.x" if version is None or version.major < 1 else "1.x"
    else:
        generation, version, source = guess_generation(root), None, "step configs"
        # Nothing says which release ran: the newest rule, and every older one reported.
        changes = PYPI_RULE_CHANGES if generation == "1.x" else NPM_RULE_CHANGES
        others = era_samples(changes)

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
        motia_range="" if motia_range.strip() in ("", "*") and version is None else motia_range,
        other_versions=others,
    )


def ranged(spec: str, parse: Callable[[str], list[Interval] | None]) -> str:
    """`spec` when it allows more than one version (what the report calls a range), else ""."""
    intervals = parse(spec)
    exact = intervals is not None and len(intervals) == 1 and intervals[0].low == intervals[0].high
    return "" if exact else spec


def era_label(version: Version, changes: tuple[Version, ...]) -> str:
    """The releases that share `version`'s rules (`motia before 1.0.0rc22`)."""
    era = sum(1 for change in changes if version >= change)
    if era == 0:
        return f"motia before {changes[0]}"
    if era == len(changes):
        return f"motia {changes[-1]} and later"
    return f"motia {changes[era - 1]} to before {changes[era]}"


def era_samples(changes: tuple[Version, ...]) -> tuple[Version, ...]:
    """A version of each rule era before the newest."""
    return (Version(0, 0, 0), *changes[:-1])


def resolve_range(intervals: list[Interval] | None, changes: tuple[Version, ...]) -> Resolved:
    """The rule era a range installs. What is not a range (a URL, `workspace:*`, a dist-tag)
    says nothing of the release: the newest rule, with every older one reported."""
    if intervals:
        return newest_allowed(intervals, changes)
    return Resolved(None, era_samples(changes))


def requirement_lines(root: Path, name: str) -> list[str]:
    path = project_file(root, name)
    if path is None:
        return []
    return logical_lines(path.read_text(encoding="utf-8", errors="replace"))


def guess_generation(root: Path) -> Generation:
    """Without a motia pin: 1.x when a Python step imports from motia, else 0.x when a step
    config carries a `"type"`, else 1.x."""
    saw_typed_config = False
    for directory in ("steps", "src"):
        base = root / directory
        if not base.is_dir():
            continue
        for path in base.rglob("*.py"):
            if not within(root, path):
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            if re.search(r"^\s*(from motia import|import motia)", text, re.MULTILINE):
                return "1.x"
            if re.search(r"""["']type["']\s*:\s*["'](api|event|cron|noop)["']""", text):
                saw_typed_config = True
    return "0.x" if saw_typed_config else "1.x"
