"""Free text (the description) full of quotes, backslashes, newlines, braces and Jinja syntax
still renders files that parse, and the text stays inside its literal."""

import ast
import shutil
import tempfile
import tomllib
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.template import render

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


def python_literal(source: str, name: str) -> object:
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return ast.literal_eval(node.value)
    raise LookupError(name)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example('Say "hi" {{ 7 * 7 }} {% raw %} \\ \n """ done')
@given(description=TRICKY)
def test_description_survives_every_file_it_lands_in(description: str) -> None:
    workdir = Path(tempfile.mkdtemp())
    try:
        project = render(workdir / "p", {"description": description, "triggers": ["cron"]})
        summary = " ".join(description.split())

        client = (project / "src" / "lib" / "iii_client.py").read_text()
        assert python_literal(client, "WORKER_DESCRIPTION") == summary
        pyproject = tomllib.loads((project / "pyproject.toml").read_text())
        assert pyproject["project"]["description"] == summary
        answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
        assert answers["description"] == description
        yaml.safe_load((project / "worker-compose.yaml").read_text())
        for path in project.rglob("*.py"):
            ast.parse(path.read_text())
        readme = (project / "README.md").read_text()  # universal newlines: \r and \r\n read as \n
        assert description.replace("\r\n", "\n").replace("\r", "\n") in readme
    finally:
        shutil.rmtree(workdir)
