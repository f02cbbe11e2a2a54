"""Free text and long names still render projects that parse, keep the text inside its literal,
and pass the project's own `ruff format --check`, `ruff check` and `mypy --strict` (a project that
fails them is red on its first push): descriptions full of quotes, backslashes, newlines, braces
and Jinja syntax, and the longest names, paths, topics and streams the questions allow."""

import ast
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.kinds import OFFERED
from harness.projects import render

BIN = Path(sys.executable).parent
TOKENS = [
    *"\"'\\\n\r\t{}%#<>&`$:;,[]|*!-=",
    *["{{", "}}", "{%", "%}", "{#", "#}", '"""', "'''", "\\n", "\\u0041"],
    *["{{ 7 * 7 }}", "{% raw %}", "{% endraw %}", "${HOME}", "é", "€", "😀", "abc", " ", "xyz"],
]
TRICKY = (
    st.lists(st.sampled_from(TOKENS), min_size=1, max_size=30)
    .map("".join)
    .filter(lambda text: text.strip() != "" and len(text) <= 300)
)
WORD = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)
WORKER_NAME = st.lists(WORD, min_size=1, max_size=5).map("-".join).filter(lambda n: len(n) <= 40)
HTTP_PATH = st.lists(WORD, min_size=1, max_size=8).map(lambda ws: "/" + "/".join(ws))
NAMES = st.fixed_dictionaries(
    {
        "worker_name": WORKER_NAME,
        "http_path": HTTP_PATH.filter(lambda p: len(p) <= 100),
        "queue_topic": st.lists(WORD, min_size=1, max_size=8).map(".".join),
        "stream_name": st.lists(WORD, min_size=1, max_size=6).map("_".join),
    }
)
LONGEST = {
    "worker_name": "payments-reconciliation-worker-eu-west-1",
    "http_path": "/api/v1/" + "reconciliation-batches/" * 3 + "entries-and-adjustments",
    "queue_topic": "payments.reconciliation." + "x" * 70,
    "stream_name": "reconciliation-events-" + "y" * 40,
}


@pytest.fixture(scope="module")
def mypy_cache() -> Iterator[Path]:
    cache = Path(tempfile.mkdtemp(prefix="mypy-cache-"))
    yield cache
    shutil.rmtree(cache)


def rendered(answers: dict[str, Any], source: Path) -> Iterator[Path]:
    workdir = Path(tempfile.mkdtemp())
    try:
        yield render(workdir / "p", answers, source)
    finally:
        shutil.rmtree(workdir)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(description='Say "hi" {{ 7 * 7 }} {% raw %} \\ \n """ done')
@given(description=TRICKY)
def test_description_survives_every_file_it_lands_in(description: str, template_copy: Path) -> None:
    for project in rendered({"description": description, "triggers": ["cron"]}, template_copy):
        summary = " ".join(description.split())

        # The worker reads its description from the installed package's metadata, so the
        # description never lands in Python source.
        client = ast.parse((project / "src" / "lib" / "iii_client.py").read_text())
        strings = {n.value for n in ast.walk(client) if isinstance(n, ast.Constant)}
        assert summary not in strings
        pyproject = tomllib.loads((project / "pyproject.toml").read_text())
        assert pyproject["project"]["description"] == summary
        answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
        assert answers["description"] == description
        yaml.safe_load((project / "worker-compose.yaml").read_text())
        for path in project.rglob("*.py"):
            ast.parse(path.read_text())
        readme = (project / "README.md").read_text()  # universal newlines: \r and \r\n read as \n
        assert description.replace("\r\n", "\n").replace("\r", "\n") in readme


def checks(project: Path, mypy_cache: Path) -> list[subprocess.CompletedProcess[str]]:
    commands = [
        [str(BIN / "ruff"), "format", "--no-cache", "--check", "."],
        [str(BIN / "ruff"), "check", "--no-cache", "."],
        [str(BIN / "mypy"), "--cache-dir", str(mypy_cache), "--python-version", "3.12"],
    ]
    return [
        subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
        for command in commands
    ]


@pytest.mark.slow
@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@example(description='A "quoted" description with \\ backslashes', names=LONGEST)
@given(description=TRICKY, names=NAMES)
def test_free_text_and_long_names_pass_the_projects_own_format_lint_and_types(
    description: str, names: dict[str, str], mypy_cache: Path, template_copy: Path
) -> None:
    answers = {"description": description, "triggers": OFFERED, **names}
    for project in rendered(answers, template_copy):
        for result in checks(project, mypy_cache):
            assert result.returncode == 0, result.args[0] + ":\n" + result.stdout + result.stderr
