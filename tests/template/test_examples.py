"""The committed examples (examples/) are what the working tree renders, so that a template change
shows up in review as a diff of a real project."""

from pathlib import Path

import pytest

from harness.examples import (
    EXAMPLES,
    EXAMPLES_DIR,
    OWN_FILES,
    REGENERATE,
    differences,
    render_example,
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


def test_example_answers_name_no_path_of_the_machine_that_rendered_them(
    tmp_path: Path, template_copy: Path
) -> None:
    answers = (render_example("default", tmp_path / "default", template_copy)).joinpath(
        ".copier-answers.yml"
    )

    text = answers.read_text()
    assert "_src_path: ../..\n" in text
    assert str(tmp_path) not in text and str(template_copy) not in text
