"""What generated projects carry to stay current: the CI and template-update workflows and the
Renovate configuration are valid (checked offline against their JSON schemas), pin every action
by commit and ask for the least permissions; and the template-update workflow's own steps, run for
real against a newer template release, update a project or fail naming what they could not merge.
"""

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.releases import GIT_ENV, commit_all, copy

Render = Callable[..., Path]
BIN = Path(sys.executable).parent
RENDERS: dict[str, dict[str, Any]] = {
    "uv with a container": {"triggers": ["http"]},
    "pip in a virtualenv": {"package_manager": "pip", "deploy": ["virtualenv"]},
}


@pytest.fixture(params=RENDERS)
def project(rendered: Render, request: pytest.FixtureRequest) -> Path:
    return rendered(**RENDERS[request.param])


def workflows(project: Path) -> dict[str, dict[str, Any]]:
    return {
        path.name: yaml.safe_load(path.read_text())
        for path in sorted((project / ".github" / "workflows").glob("*.yml"))
    }


def test_workflows_and_renovate_config_pass_their_schemas(project: Path) -> None:
    paths = [str(p) for p in (project / ".github" / "workflows").glob("*.yml")]
    schemas = [
        ("vendor.github-workflows", paths),
        ("vendor.renovate", [str(project / "renovate.json")]),
    ]
    for schema, files in schemas:
        result = subprocess.run(
            [str(BIN / "check-jsonschema"), "--builtin-schema", schema, *files],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert set(workflows(project)) == {"ci.yml", "template-update.yml"}


def test_every_action_is_pinned_by_commit(project: Path) -> None:
    for name, workflow in workflows(project).items():
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), (name, step)


def test_workflows_ask_for_the_least_permissions(project: Path) -> None:
    ci = workflows(project)["ci.yml"]
    update = workflows(project)["template-update.yml"]

    assert ci["permissions"] == {"contents": "read"}
    assert update["permissions"] == {}
    assert update["jobs"]["update"]["permissions"] == {
        "contents": "write",
        "pull-requests": "write",
    }


def test_ci_builds_the_image_and_smoke_runs_it_with_the_projects_script(project: Path) -> None:
    steps = workflows(project)["ci.yml"]["jobs"]["check"]["steps"]
    runs = [step for step in steps if "run" in step]
    builds = [step for step in runs if step["run"].startswith("docker build")]

    if not (project / "Dockerfile").exists():
        assert builds == []
        assert not (project / "scripts" / "smoke_image.py").exists()
        return
    [build] = builds
    tag = build["run"].split("--tag ", 1)[1].split()[0]
    [smoke] = [step for step in runs if "scripts/smoke_image.py" in step["run"]]
    assert steps.index(smoke) > steps.index(build)
    assert smoke["run"].endswith(f"scripts/smoke_image.py {tag}")
    assert (project / "scripts" / "smoke_image.py").is_file()


def test_renovate_turns_on_its_copier_manager(project: Path) -> None:
    config = yaml.safe_load((project / "renovate.json").read_text())

    assert config["copier"]["enabled"] is True


def step_script(project: Path, name: str) -> str:
    (step,) = [
        s
        for s in workflows(project)["template-update.yml"]["jobs"]["update"]["steps"]
        if s.get("name") == name
    ]
    script: str = step["run"]
    return script


def run_step(project: Path, name: str) -> subprocess.CompletedProcess[str]:
    """A `run:` step of the template-update workflow, in bash with GitHub's flags, with copier
    from this environment (the workflow installs it with `uv tool install`)."""
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step_script(project, name)],
        cwd=project,
        env={**os.environ, **GIT_ENV, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_the_update_workflow_updates_to_the_newest_release(releases: Path, tmp_path: Path) -> None:
    project = copy(releases, tmp_path / "worker", "1.0.0", {"iii_line": "0.22"})

    updated = run_step(project, "copier update")
    checked = run_step(project, "fail on what copier could not merge")

    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert '"iii-sdk==0.22.1"' in (project / "pyproject.toml").read_text()


@pytest.mark.slow
def test_the_update_workflow_fails_naming_what_it_could_not_merge(
    releases: Path, tmp_path: Path
) -> None:
    project = copy(releases, tmp_path / "worker", "1.0.0", {"iii_line": "0.22"})
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"iii-sdk==0.22.0"', '"iii-sdk==0.22.0rc1"'))
    commit_all(project, "our own pin, on the line the template moves")

    updated = run_step(project, "copier update")
    checked = run_step(project, "fail on what copier could not merge")

    assert updated.returncode == 0, updated.stdout + updated.stderr  # copier exits 0 regardless
    assert checked.returncode == 1
    assert "could not merge" in checked.stdout and "pyproject.toml" in checked.stdout
