"""The facts the importer shares with the template, read from the template's own files
(copier.yml and lines.yml at the root of this checkout), so they are said in one place: the iii
lines, the Python versions, the worker-name rule and the engine URL default."""

import re
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[1]


def _load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((TEMPLATE / name).read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


_QUESTIONS = _load("copier.yml")


def _choices(question: str) -> list[str]:
    choices = _QUESTIONS[question]["choices"]
    return [str(v) for v in (choices.values() if isinstance(choices, dict) else choices)]


# Newest first, as lines.yml lists them.
LINES: tuple[str, ...] = tuple(str(line) for line in _load("lines.yml"))
DEFAULT_LINE = str(_QUESTIONS["iii_line"]["default"])
PYTHON_VERSIONS: tuple[str, ...] = tuple(
    sorted(_choices("python_version"), key=lambda v: tuple(map(int, v.split("."))), reverse=True)
)
DEFAULT_PYTHON = str(_QUESTIONS["python_version"]["default"])
ENGINE_URL = str(_QUESTIONS["engine_url"]["default"])

_NAME_CHECK = str(_QUESTIONS["worker_name"]["validator"])
WORKER_NAME = re.compile(re.search(r"regex_search\('([^']+)'\)", _NAME_CHECK)[1])  # type: ignore[index]
WORKER_NAME_MAX = int(re.search(r"length > (\d+)", _NAME_CHECK)[1])  # type: ignore[index]
# The validator's own words for what is allowed (its second line).
WORKER_NAME_RULE = re.sub(r"\s+", " ", _NAME_CHECK.split("\n")[2].strip().strip("()"))
DESCRIPTION_MAX = int(
    re.search(r"description \| length > (\d+)", str(_QUESTIONS["description"]["validator"]))[1]  # type: ignore[index]
)
