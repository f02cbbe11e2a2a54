"""Motia versions, as npm (`0.14.0-beta.164`) and PyPI (`1.0.0rc17`) spell them.

Only ordering matters here: which step-file rule and which API a pinned version had. A version
range pins its lowest version (`>=1.0.0rc10`, `^0.6.0`): a lock file, when there is one, says
what really ran.
"""

import re
from dataclasses import dataclass

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
        if self.stage < 3:
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
