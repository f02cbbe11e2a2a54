"""Which files Motia loaded as steps, by the rule of the version the project installs.

The rule is the runtime's own glob, and it moved more than once (MotiaDev/motia):

- npm `motia` (0.x, steps run by Node; `packages/snap/src/generate-locked-data.ts`): before
  0.5.3, `steps/**/*.step.py`; 0.5.3 to 0.6.x, `*.step.py` and `*_step.py`; from 0.7.0,
  `*_step.py` only (`.step.py` files got a warning and were not loaded); from 0.8.5, under `src/`
  as well as `steps/`.
- PyPI `motia` (1.0 release candidates and 1.0.x; `motia-py/packages/motia/src/motia/cli.py`,
  `discover_steps`): `steps/` and `src/`; `*.step.py` up to 1.0.0rc21, `*_step.py` from
  1.0.0rc22. Stream definitions follow the same suffix (`*.stream.py` / `*_stream.py`).

Neither glob leaves out tests: a `test_orders_step.py` under `steps/` was loaded, so it is a
step here too. Both skip hidden folders. Files Motia never loaded (outside the scanned folders,
other suffixes) are skipped and reported, and so is every file whose real path lies outside the
project (a symlink out of it is never read).
"""

import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from motia_import.model import Generation
from motia_import.versions import Interval, Version, floor

PRUNED = {"node_modules", "__pycache__", "site-packages", "python_modules"}
_TEST_NAME = re.compile(r"(^test_|^conftest\.py$|[._-]test\.py$|[._]spec\.py$)")
_TEST_DIRS = {"tests", "test", "__tests__", "__test__"}
_MENTIONS_STEP = re.compile(r"[._](step|stream)")
_OTHER_STEP = re.compile(r"[._]step\.(ts|js|mjs|cjs|rb)$")

# The releases where the rules changed, oldest first (see the module docstring). A version
# range is compared with these: the rules are the ones of the newest version it allows. PyPI's
# 1.0.4 (its first build, 1.0.4rc1, included) keeps the step rule but brings the module-level
# sync API (`from motia import enqueue, stateManager`) that the conversion reads off the version.
NPM_RULE_CHANGES = (floor(0, 5, 3), floor(0, 7, 0), floor(0, 8, 5))
# npm `motia` 0.x was published as `-beta.N` prereleases, with final versions only at these
# releases; npm ranges match prereleases of their own release only, so `^0.8.0-beta.137`
# installs 0.8.0 and `^0.8.2-beta.139` a 0.8.2 beta, never a 0.8.5 one.
NPM_FINAL_RELEASES = (
    *(Version(0, 0, patch) for patch in range(13, 38)),
    Version(0, 2, 2),
    Version(0, 8, 0),
    Version(0, 13, 0),
)
PYPI_RULE_CHANGES = (Version(1, 0, 0, 2, 22), floor(1, 0, 4))


@dataclass(frozen=True)
class Rule:
    roots: tuple[str, ...]
    step_suffixes: tuple[str, ...]
    stream_suffixes: tuple[str, ...]
    other_language_suffixes: tuple[str, ...]  # TypeScript/JavaScript steps the same Motia ran
    description: str
    # Rules of other versions the project's range allows when no lock file says which one ran,
    # oldest first: files only they load are reported, not converted.
    alternatives: tuple["Rule", ...] = ()


def rule_for(generation: Generation, version: Version | None, label: str = "") -> Rule:
    """The rule of one Motia version (None: the newest release). `label` names the version in
    the report when it came from a range."""
    other = ("_step.ts", "_step.js", ".step.ts", ".step.js")
    if generation == "1.x":
        old = version is not None and version < PYPI_RULE_CHANGES[0]
        suffix = ".step.py" if old else "_step.py"
        stream = ".stream.py" if old else "_stream.py"
        what = label or (f"motia {version}" if version else "motia 1.x (no pin: the newest rule)")
        return Rule(
            ("steps", "src"), (suffix,), (stream,), other, f"{what}: steps/ and src/, *{suffix}"
        )
    what = label or (
        f"motia {version} (npm)" if version else "motia 0.x (npm, no pin: the newest rule)"
    )
    era = sum(1 for change in NPM_RULE_CHANGES if version is None or version >= change)
    if era == 0:
        return Rule(
            ("steps",),
            (".step.py",),
            (".stream.py",),
            (".step.ts", ".step.js"),
            f"{what}: steps/, *.step.py",
        )
    if era == 1:
        return Rule(
            ("steps",),
            (".step.py", "_step.py"),
            (".stream.py", "_stream.py"),
            other,
            f"{what}: steps/, *.step.py and *_step.py",
        )
    roots = ("steps",) if era == 2 else ("steps", "src")
    where = " and ".join(f"{r}/" for r in roots)
    return Rule(roots, ("_step.py",), ("_stream.py",), other, f"{what}: {where}, *_step.py")


@dataclass(frozen=True)
class Resolved:
    """What a version range means for discovery."""

    version: Version | None  # a version with the rule of the newest allowed (None: the newest)
    others: tuple[Version, ...]  # versions with the other rules it allows, when that is unsure


def newest_allowed(intervals: list[Interval], changes: tuple[Version, ...]) -> Resolved:
    """The rule era of the newest version a range allows: a fresh install resolves the newest.

    With an upper bound, the newest release below it may be older than the bound suggests (a
    project pinning `<1.0.0rc30` when rc26 was the last one), so when the range reaches into
    another era too, those eras come back in `others` to be reported."""
    installable = npm_candidates(intervals)
    if installable:
        return Resolved(max(installable), ())
    edges: list[Version | None] = [None, *changes, None]
    eras = [
        (start, end, [i for i in intervals if i.meets(start, end)])
        for start, end in itertools.pairwise(edges)
    ]
    met = [(start, meeting) for start, _, meeting in eras if meeting]
    if not met:
        return Resolved(None, ())

    def sample(start: Version | None, meeting: list[Interval]) -> Version:
        lows = [i.low for i in meeting if i.low is not None]
        candidates = [v for v in (*lows, start) if v is not None]
        return max(candidates) if candidates else Version(0, 0, 0)

    top_start, top = met[-1]
    unbounded = any(i.high is None for i in top)
    newest = None if unbounded else sample(top_start, top)
    if unbounded or len(met) == 1:
        return Resolved(newest, ())
    return Resolved(newest, tuple(sample(start, meeting) for start, meeting in met[:-1]))


def npm_candidates(intervals: list[Interval]) -> list[Version]:
    """What npm could install for a bounded range, by the rules' eras: the final releases it
    allows and the releases whose prereleases it names. Empty when that is not known (an
    unbounded or PEP 440 range, or nothing npm would match, where the interval decides)."""
    if any(i.npm_prereleases is None or i.high is None for i in intervals):
        return []
    found: list[Version] = []
    for interval in intervals:
        found += [v for v in NPM_FINAL_RELEASES if interval.contains(v)]
        for release in interval.npm_prereleases or ():
            start = floor(*release)
            if interval.meets(start, floor(release[0], release[1], release[2] + 1)):
                # The exact version when the range names one, else its release (same rules).
                named = [
                    v
                    for v in (interval.high, interval.low)
                    if v is not None and v.release == release and interval.contains(v)
                ]
                found.append(named[0] if named else start)
    return found


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


OUTSIDE = "its real path is outside the project (a symlink out of it): not read, not copied"


def walk(root: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """Every file under `root`, relative, and apart from them the links whose real path lies
    outside `root` and the links to nothing. Hidden folders (Motia's globs never entered them either), caches,
    virtualenvs and node_modules are left out; linked folders inside `root` are followed, as
    the globs followed them, except back into their own ancestors."""
    real_root = root.resolve()
    found: list[Path] = []
    outside: list[Path] = []
    broken: list[Path] = []

    def inside(path: Path) -> bool:
        real = path.resolve()
        return real == real_root or real_root in real.parents

    for current, dirs, files in os.walk(root, followlinks=True):
        here = Path(current)
        kept = []
        for d in sorted(dirs):
            path = here / d
            if d in PRUNED or d.startswith(".") or (path / "pyvenv.cfg").is_file():
                continue
            if not inside(path):
                outside.append(path.relative_to(root))
                continue
            if path.is_symlink() and any(
                path.resolve() == a.resolve() for a in (here, *here.parents) if a != a.parent
            ):
                continue  # a loop
            kept.append(d)
        dirs[:] = kept
        for name in sorted(files):
            path = here / name
            if not inside(path):
                outside.append(path.relative_to(root))
            elif path.exists():
                found.append(path.relative_to(root))
            else:
                broken.append(path.relative_to(root))
    return found, outside, broken


def discover(root: Path, rule: Rule) -> Discovered:
    found = Discovered(rule)
    where = " and ".join(f"{r}/" for r in rule.roots)
    files, outside, broken = walk(root)
    found.skipped += [(path, OUTSIDE) for path in outside]
    found.skipped += [(path, "a link to a file that does not exist") for path in broken]
    for path in files:
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
        if in_roots and name.endswith(rule.step_suffixes):
            found.steps.append(path)  # the runtime's glob loads tests too
        elif in_roots and name.endswith(rule.stream_suffixes):
            found.streams.append(path)
        elif other := next((a for a in reversed(rule.alternatives) if loads(a, path)), None):
            found.skipped.append(
                (
                    path,
                    f"loaded as a step by {other.description}, which nothing the project "
                    f"pins rules out; the import follows {rule.description}: if the project "
                    "ran the other, pin it (a lock file or `==`) and import again",
                )
            )
        elif is_test(path):
            found.skipped.append((path, "a test file, not a step"))
        elif not in_roots:
            found.skipped.append((path, f"outside {where}: Motia never loaded it"))
        else:
            found.skipped.append((path, f"not a file name loaded by {rule.description}"))
    return found


def loads(rule: Rule, path: Path) -> bool:
    return (
        len(path.parts) > 1
        and path.parts[0] in rule.roots
        and path.name.endswith(rule.step_suffixes)
    )
