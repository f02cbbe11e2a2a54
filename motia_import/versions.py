"""Motia versions, as npm (`0.14.0-beta.164`) and PyPI (`1.0.0rc17`) spell them.

Only ordering matters here: which step-file rule and which API a version had. A lock file says
what ran; without one, a range (`>=1.0.0rc10`, `^0.6.0`) means what a fresh install resolves,
the newest version it allows. Ranges become intervals of versions (`pep440_range` with
`packaging.specifiers`, `npm_range` for npm's semver ranges), which discovery.py compares with
the releases where Motia's rules changed: nothing is looked up on the network.
"""

import re
from dataclasses import dataclass, replace

from packaging.specifiers import InvalidSpecifier, SpecifierSet

_STAGES = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "dev": -1}
_VERSION = re.compile(
    r"(?P<release>\d+(?:\.\d+){0,2})"
    r"(?:[-._]?(?P<stage>alpha|beta|rc|pre|dev|a|b|c)[-._]?(?P<number>\d+)?)?",
    re.IGNORECASE,
)


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int
    stage: int = 3  # a final release sorts after its pre-releases
    number: int = 0

    @property
    def release(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if -2 < self.stage < 3:  # a floor (-2) reads as its release
            text += {-1: ".dev", 0: "a", 1: "b", 2: "rc"}[self.stage] + str(self.number)
        return text


def parse_version(text: str) -> Version | None:
    """The first version in `text` (`^0.14.0-beta.164`, `==1.0.0rc17`, `1.0.4`), or None."""
    match = _VERSION.search(text)
    if match is None:
        return None
    parts = [int(p) for p in match["release"].split(".")] + [0, 0]
    stage = _STAGES[match["stage"].lower()] if match["stage"] else 3
    number = int(match["number"] or 0)
    return Version(parts[0], parts[1], parts[2], stage, number)


def pinned_version(specifier: str) -> Version | None:
    """The version a requirement specifier pins, or the lowest it allows.

    Exclusions and upper bounds (`!=`, `<`) say nothing about what ran, so they are skipped.
    """
    for clause in re.split(r"[,|\s]+", specifier.strip()):
        clause = clause.strip()
        if not clause or clause.startswith(("<", "!")) or clause in ("*", "latest"):
            continue
        version = parse_version(clause)
        if version is not None:
            return version
    return None


# A version below every prerelease of its release (npm's `1.2.3-0`), where an x-range or a caret
# range ends: `^0.6.0` stops below every 0.7.0 beta.
def floor(major: int, minor: int, patch: int) -> Version:
    return Version(major, minor, patch, -2, 0)


@dataclass(frozen=True)
class Interval:
    """Versions from `low` to `high` (None: unbounded on that side)."""

    low: Version | None = None
    low_inclusive: bool = True
    high: Version | None = None
    high_inclusive: bool = False
    # npm only: the releases (major, minor, patch) whose prereleases the range may match. npm
    # matches a prerelease only when a comparator names a prerelease of the same release
    # (`^0.8.2-beta.139` matches 0.8.2-beta.140 but no 0.8.6 beta); None where PEP 440 rules.
    npm_prereleases: frozenset[tuple[int, int, int]] | None = None

    def meets(self, start: Version | None, end: Version | None) -> bool:
        """Whether it shares a version with [start, end)."""
        below_end = end is None or self.low is None or self.low < end
        above_start = (
            start is None
            or self.high is None
            or self.high > start
            or (self.high == start and self.high_inclusive)
        )
        return below_end and above_start and not self.empty

    def contains(self, version: Version) -> bool:
        above = (
            self.low is None or self.low < version or (self.low == version and self.low_inclusive)
        )
        below = (
            self.high is None
            or version < self.high
            or (version == self.high and self.high_inclusive)
        )
        return above and below

    def matches(self, version: Version) -> bool:
        """Whether the range installs `version` (npm's prerelease rule included)."""
        prerelease = version.stage < 3
        if prerelease and self.npm_prereleases is not None:
            return version.release in self.npm_prereleases and self.contains(version)
        return self.contains(version)

    @property
    def empty(self) -> bool:
        if self.low is None or self.high is None:
            return False
        return self.low > self.high or (
            self.low == self.high and not (self.low_inclusive and self.high_inclusive)
        )


def intersect(a: Interval, b: Interval) -> Interval:
    low, low_inclusive = a.low, a.low_inclusive
    if b.low is not None and (low is None or b.low > low or (b.low == low and not b.low_inclusive)):
        low, low_inclusive = b.low, b.low_inclusive
    high, high_inclusive = a.high, a.high_inclusive
    if b.high is not None and (
        high is None or b.high < high or (b.high == high and not b.high_inclusive)
    ):
        high, high_inclusive = b.high, b.high_inclusive
    return Interval(low, low_inclusive, high, high_inclusive)


def _all_of(parts: list[Interval]) -> Interval:
    result = Interval()
    for part in parts:
        result = intersect(result, part)
    return result


def pep440_range(spec: str) -> list[Interval] | None:
    """The versions a PEP 440 specifier (`>=1.0.0rc1,<2`, `~=1.0.4`, `==1.0.*`) allows, or None
    when it is not one. Exclusions (`!=`) are left out: they never move the newest version
    across a rule's boundary in practice."""
    try:
        specifiers = SpecifierSet(spec.strip())
    except InvalidSpecifier:
        return None
    parts: list[Interval] = []
    for specifier in specifiers:
        operator, text = specifier.operator, specifier.version
        if operator == "!=":
            continue
        version = parse_version(text)
        if version is None:
            return None
        numbers = [int(n) for n in re.findall(r"\d+", text.split("*")[0].split("rc")[0])[:3]]
        if operator == "==" and text.endswith(".*"):
            start = floor(*([*numbers, 0, 0])[:3])
            parts.append(Interval(start, True, _next_release(numbers, len(numbers) - 1), False))
        elif operator in ("==", "==="):
            parts.append(Interval(version, True, version, True))
        elif operator == "~=":
            parts.append(Interval(version, True, _next_release(numbers, len(numbers) - 2), False))
        elif operator == ">=":
            parts.append(Interval(version, True))
        elif operator == ">":
            parts.append(Interval(version, False))
        elif operator == "<=":
            parts.append(Interval(high=version, high_inclusive=True))
        elif operator == "<":
            parts.append(Interval(high=version))
    return [_all_of(parts)]


def _next_release(numbers: list[int], position: int) -> Version:
    """The first version past a prefix: (1, 0, 4) at position 1 is 1.1 (below its prereleases)."""
    position = max(position, 0)
    bumped = [*numbers[:position], numbers[position] + 1, 0, 0, 0]
    return floor(bumped[0], bumped[1], bumped[2])


_NPM_PART = re.compile(
    r"^v?(?P<major>\d+|[xX*])(?:\.(?P<minor>\d+|[xX*]))?(?:\.(?P<patch>\d+|[xX*]))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+\S*)?$"
)
_NPM_STAGES = {"alpha": 0, "a": 0, "beta": 1, "b": 1, "rc": 2, "pre": 2, "next": 2}


def _npm_version(major: int, minor: int, patch: int, pre: str | None) -> Version:
    if not pre:
        return Version(major, minor, patch)
    label, _, rest = pre.partition(".")
    number = re.match(r"\d+", rest)
    if label.lower() in _NPM_STAGES:
        return Version(
            major, minor, patch, _NPM_STAGES[label.lower()], int(number[0]) if number else 0
        )
    return floor(major, minor, patch)  # `-0` and labels npm sorts first


def _npm_comparator(text: str) -> Interval | None:
    match = re.match(r"^(\^|~>?|>=|<=|>|<|=)?\s*(.*)$", text)
    if match is None:
        return None
    operator, rest = match[1] or "", match[2]
    if rest in ("", "*", "x", "X", "latest"):
        return Interval() if operator in ("", "=", ">=", "^", "~") else None
    part = _NPM_PART.match(rest)
    if part is None:
        return None
    given = [part[k] for k in ("major", "minor", "patch")]
    known = [g for g in given if g is not None and g not in ("x", "X", "*")]
    numbers = [int(n) for n in known] + [0] * (3 - len(known))
    major, minor, patch = numbers
    exact = len(known) == 3
    version = _npm_version(major, minor, patch, part["pre"] if exact else None)
    if not known:
        return Interval()
    # The first version past the partial version (`1.2` -> 1.3.0, `1` -> 2.0.0).
    past = (
        floor(major + 1, 0, 0)
        if len(known) == 1
        else floor(major, minor + 1, 0)
        if len(known) == 2
        else None
    )
    if operator in ("", "="):
        return (
            Interval(version, True, version, True)
            if past is None
            else Interval(version, True, past)
        )
    if operator == "^":
        if major > 0 or len(known) == 1:
            end = floor(major + 1, 0, 0)
        elif minor > 0 or len(known) == 2:
            end = floor(0, minor + 1, 0)
        else:
            end = floor(0, 0, patch + 1)
        return Interval(version, True, end)
    if operator.startswith("~"):
        end = floor(major + 1, 0, 0) if len(known) == 1 else floor(major, minor + 1, 0)
        return Interval(version, True, end)
    if operator == ">=":
        return Interval(version, True)
    if operator == ">":
        return Interval(version, False) if past is None else Interval(past, True)
    if operator == "<":
        return Interval(high=version if past is None else floor(major, minor, patch))
    # <=
    return Interval(high=version, high_inclusive=True) if past is None else Interval(high=past)


def _named_prerelease(comparator: str) -> Version | None:
    part = _NPM_PART.match(re.sub(r"^(\^|~>?|>=|<=|>|<|=)", "", comparator))
    if part is None or not part["pre"] or not part["patch"]:
        return None
    return parse_version(comparator)


def npm_range(spec: str) -> list[Interval] | None:
    """The versions an npm range allows (`^0.6.0`, `~0.8.2-beta.139`, `>=0.5 <0.7`, `0.8.x`,
    `1.2.3 - 1.4`, `a || b`), or None for what is not a range (a tag other than `latest`, a URL,
    `workspace:`, `file:`)."""
    intervals: list[Interval] = []
    for alternative in spec.split("||"):
        alternative = re.sub(r"(\^|~>?|>=|<=|>|<|=)\s+", r"\1", alternative.strip())
        hyphen = re.match(r"^(\S+)\s+-\s+(\S+)$", alternative)
        if hyphen:
            comparators = [f">={hyphen[1]}", f"<={hyphen[2]}"]
        else:
            comparators = alternative.split() or ["*"]
        parts = [_npm_comparator(c) for c in comparators]
        if any(p is None for p in parts):
            return None
        joined = _all_of([p for p in parts if p is not None])
        named = frozenset(
            version.release
            for comparator in comparators
            if (version := _named_prerelease(comparator)) is not None
        )
        if not joined.empty:
            intervals.append(replace(joined, npm_prereleases=named))
    return intervals or None
