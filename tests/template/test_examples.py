"""The committed examples (examples/) are what the working tree renders, so that a template change
shows up in review as a diff of a real project."""

import subprocess
import sys
from pathlib import Path

import pytest

from harness.examples import (
    EXAMPLES,
    EXAMPLES_DIR,
    OWN_FILES,
    REGENERATE,
    differences,
    render_example,
    stable_answers,
    template_version,
)


@pytest.mark.parametrize("name", EXAMPLES)
def test_committed_example_is_what_the_template_renders(
    tmp_path: Path, template_copy: Path, name: str
) -> None:
    rendered = render_example(name, tmp_path / name, template_copy)

    found = differences(EXAMPLES_DIR / name, rendered)

    assert not found, "\n".join(
        [f"examples/{name} is not what the template renders now:", *found, f"Run: {REGENERATE}"]
    )


def test_examples_holds_only_the_examples_the_script_renders() -> None:
    folders = {p.name for p in EXAMPLES_DIR.iterdir() if p.is_dir()}
    files = {p.name for p in EXAMPLES_DIR.iterdir() if p.is_file()}

    assert folders == set(EXAMPLES), f"examples/ has {sorted(folders)}; run: {REGENERATE}"
    assert files <= OWN_FILES


def test_answers_name_neither_the_folder_nor_the_commit_they_were_rendered_from() -> None:
    answers = "# header\n_commit: 1.0.0-3-g00dfba4\n_src_path: /home/me/template\nworker_name: w\n"

    assert stable_answers(answers) == (
        f"# header\n_commit: {template_version()}\n_src_path: ../..\nworker_name: w\n"
    )


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_passes_ruff_under_its_own_config(name: str) -> None:
    """A quick lint of what projects get, in the fast tier: the slow tier runs each render's own
    ruff, mypy and tests after installing it."""
    ruff = Path(sys.executable).parent / "ruff"
    project = EXAMPLES_DIR / name
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [str(ruff), *command, "--no-cache", "."],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"ruff {' '.join(command)} in examples/{name}:\n{done.stdout}"
