"""The trigger-kind catalogue (kinds.yml) is whole and true to Python, and adding a kind takes only
its folder and its catalogue entry: the questions, the render, the README, the run config and the
project's own registration test pick it up."""

import builtins
import keyword
from pathlib import Path

import copier
import pytest
import yaml

from harness.kinds import CATALOGUE, KINDS
from harness.projects import TEMPLATE, snapshot
from tests.releases import commit_all, git

RESERVED = {name for names in CATALOGUE["reserved_names"].values() for name in names}


def test_every_kind_has_its_folder_and_every_folder_is_a_kind() -> None:
    folders = {p.name for p in (TEMPLATE / "kinds").iterdir() if p.is_dir()}

    assert folders == set(KINDS)
    for kind in KINDS:
        assert {p.name for p in (TEMPLATE / "kinds" / kind).iterdir()} == {
            "handler.py.jinja",
            "test.py.jinja",
        }


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_names_what_it_takes_and_needs(kind: str) -> None:
    entry = KINDS[kind]

    assert set(entry.get("params") or {}) <= set(CATALOGUE["params"])
    assert set(entry["engine"]) <= set(CATALOGUE["engine_workers"])
    assert entry["functions"] and all("{id}" in f["id"] for f in entry["functions"])
    # A kind that comes with an engine worker reserves its module name; the others leave theirs free.
    assert (entry["module"] in RESERVED) == bool(entry.get("with_engine"))
    # ... and needs only that engine worker (copier.yml's engine_needs counts on it).
    if entry.get("with_engine"):
        assert entry["engine"] == [entry["with_engine"]]


def test_reserved_names_hold_every_keyword_and_builtin_of_this_python() -> None:
    """Module names are lower case, so only lower-case keywords and builtins can collide."""
    names = {*keyword.kwlist, *keyword.softkwlist, *dir(builtins)}
    lower_case = {name for name in names if name.islower() and not name.startswith("_")}

    assert lower_case <= RESERVED


ECHO_HANDLER = '''{%- from 'kinds/fill.jinja' import constant with context -%}
"""Echoes what it is sent: a kind added by the recipe in CONTRIBUTING.md."""

from typing import Any

from src.lib.iii_client import iii

{{ constant('FUNCTION_ID', h.id) }}


async def echo(data: Any) -> Any:
    return data


iii.register_function(FUNCTION_ID, echo, description="Echo")
iii.register_trigger(
    {"type": "http", "function_id": FUNCTION_ID, "config": {"api_path": {{ h.path | tojson }}}}
)
'''
ECHO_TEST = '''"""The echo handler answers with what it was sent."""

from src.handlers import {{ h.name }} as handler
from tests.engine_double import EngineDouble


def test_echoes(engine: EngineDouble) -> None:
    engine.wait_for_functions(handler.FUNCTION_ID)

    assert engine.invoke(handler.FUNCTION_ID, {"a": 1}) == {"a": 1}
'''
ECHO_ENTRY = {
    "choice": "echo: an HTTP route that answers with what it is sent",
    "module": "echo",
    "params": {"path": {"default": "/echo"}},
    "engine": ["http"],
    "functions": [
        {
            "id": "{id}",
            "trigger": {"type": "http", "config": {"api_path": "{path}"}},
            "fired_by": "`http` GET `{path}`",
            "does": "answers with what it was sent",
        }
    ],
}


def test_a_new_kind_needs_only_its_folder_and_its_catalogue_entry(tmp_path: Path) -> None:
    template = snapshot(tmp_path / "template")
    (template / "kinds" / "echo").mkdir()
    (template / "kinds" / "echo" / "handler.py.jinja").write_text(ECHO_HANDLER)
    (template / "kinds" / "echo" / "test.py.jinja").write_text(ECHO_TEST)
    catalogue = yaml.safe_load((template / "kinds.yml").read_text())
    catalogue["kinds"]["echo"] = ECHO_ENTRY
    (template / "kinds.yml").write_text(yaml.safe_dump(catalogue, sort_keys=False))
    git(template, "init", "-q", "-b", "main")
    commit_all(template, "the echo kind")

    project = tmp_path / "project"
    copier.run_copy(str(template), project, data={"triggers": ["echo"]}, defaults=True, quiet=True)

    assert (project / "src" / "handlers" / "echo.py").is_file()
    assert (project / "tests" / "test_echo.py").is_file()
    assert '"src.handlers.echo",' in (project / "src" / "main.py").read_text()
    assert '"my-worker::echo"' in (project / "tests" / "test_main.py").read_text()
    assert "| `my-worker::echo` | `http` GET `/echo` |" in (project / "README.md").read_text()
    compose = yaml.safe_load((project / "worker-compose.yaml").read_text())
    assert set(compose["containers"]) == {"http", "my-worker"}
