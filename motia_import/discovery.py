"""Which files Motia loaded as steps, by the rule of the version the project pins.

The rule moved more than once (read from MotiaDev/motia's history):

- npm `motia` (0.x, steps run by Node): before 0.5.3, `steps/**/*.step.py`; 0.5.3 to 0.6.x,
  `*.step.py` and `*_step.py`; from 0.7.0, `*_step.py` only (`.step.py` files got a warning and
  were not loaded); from 0.8.5, under `src/` as well as `steps/`.
- PyPI `motia` (1.0 release candidates and 1.0.x): `steps/` and `src/`; `*.step.py` up to
  1.0.0rc21, `*_step.py` from 1.0.0rc22. Stream definitions follow the same suffix
  (`*.stream.py` / `*_stream.py`).

Tests and files Motia never loaded (outside the scanned folders, other suffixes, virtualenvs,
`node_modules`) are skipped and reported.
"""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from motia_import.model import Generation
from motia_import.versions import Version

PRUNED = {"node_modules", "__pycache__", "site-packages", "python_modules"}
_TEST_NAME = re.compile(r"(^test_|^conftest\.py$|[._-]test\.py$|[._]spec\.py$)")
_TEST_DIRS = {"tests", "test", "__tests__", "__test__"}
_MENTIONS_STEP = re.compile(r"[._](step|stream)")
_OTHER_STEP = re.compile(r"[._]step\.(ts|js|mjs|cjs|rb)$")


@dataclass(frozen=True)
class Rule:
    roots: tuple[str, ...]
    step_suffixes: tuple[str, ...]
    stream_suffixes: tuple[str, ...]
    other_language_suffixes: tuple[str, ...]  # TypeScript/JavaScript steps the same Motia ran
    description: str


def rule_for(generation: Generation, version: Version | None) -> Rule:
    other = ("_step.ts", "_step.js", ".step.ts", ".step.js")
    if generation == "1.x":
        old = version is not None and version < Version(1, 0, 0, 2, 22)
        suffix = ".step.py" if old else "_step.py"
        stream = ".stream.py" if old else "_stream.py"
        what = f"motia {version}" if version else "motia 1.x (no pin: the newest rule)"
        return Rule(
            ("steps", "src"), (suffix,), (stream,), other, f"{what}: steps/ and src/, *{suffix}"
        )
    release = version.release if version else None
    what = f"motia {version} (npm)" if version else "motia 0.x (npm, no pin: the newest rule)"
    if release is not None and release < (0, 5, 3):
        return Rule(
            ("steps",), (".step.py",), (".stream.py",), (".step.ts", ".step.js"),
            f"{what}: steps/, *.step.py",
        )  # fmt: skip
    if release is not None and release < (0, 7, 0):
        return Rule(
            ("steps",), (".step.py", "_step.py"), (".stream.py", "_stream.py"), other,
            f"{what}: steps/, *.step.py and *_step.py",
        )  # fmt: skip
    roots = ("steps",) if release is not None and release < (0, 8, 5) else ("steps", "src")
    where = " and ".join(f"{r}/" for r in roots)
    return Rule(roots, ("_step.py",), ("_stream.py",), other, f"{what}: {where}, *_step.py")


@dataclass
class Discovered:
    rule: Rule
    steps: list[Path] = field(default_factory=list)  # relative to the project root
    streams: list[Path] = field(default_factory=list)
    other_language: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    python_files: list[Path] = field(default_factory=list)  # every .py file, for imports


def is_test(path: Path) -> bool:
    return bool(_TEST_NAME.search(path.name)) or any(p in _TEST_DIRS for p in path.parts[:-1])


def walk(root: Path) -> list[Path]:
    """Every file under `root`, relative, leaving out hidden folders (Motia's globs never
    entered them either), caches, virtualenvs and node_modules."""
    found: list[Path] = []
    for current, dirs, files in os.walk(root):
        here = Path(current)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in PRUNED and not d.startswith(".") and not (here / d / "pyvenv.cfg").is_file()
        )
        found.extend((here / f).relative_to(root) for f in sorted(files))
    return found


def discover(root: Path, rule: Rule) -> Discovered:
    found = Discovered(rule)
    where = " and ".join(f"{r}/" for r in rule.roots)
    for path in walk(root):
        name = path.name
        in_roots = len(path.parts) > 1 and path.parts[0] in rule.roots
        if name.endswith(".py"):
            found.python_files.append(path)
        else:
            if name.endswith(rule.other_language_suffixes) and in_roots:
                found.other_language.append(path)
            elif _OTHER_STEP.search(name) and not is_test(path):
                found.skipped.append((path, f"outside {where}: Motia never loaded it"))
            continue
        if not _MENTIONS_STEP.search(name):
            continue
        if is_test(path):
            found.skipped.append((path, "a test file, not a step"))
        elif not in_roots:
            found.skipped.append((path, f"outside {where}: Motia never loaded it"))
        elif name.endswith(rule.step_suffixes):
            found.steps.append(path)
        elif name.endswith(rule.stream_suffixes):
            found.streams.append(path)
        else:
            found.skipped.append((path, f"not a file name loaded by {rule.description}"))
    return found
