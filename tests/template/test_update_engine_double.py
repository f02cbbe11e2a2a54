"""`copier update` carries a project whose engine double is one file (tests/engine_double.py, the
template before the double became a package) to the package, and its tests keep passing."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.releases import (
    commit_all,
    copy,
    git,
    last_commit_touching,
    leftovers,
    releases_across,
    update,
)
from tests.template.test_update import passes_its_tests

SINGLE_FILE = "template/tests/engine_double.py"
ANSWERS = {"triggers": ["http"], "iii_line": "0.25"}


@pytest.fixture(scope="module")
def before_and_after(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repository tagged 1.0.0 at the last commit with the single-file double and
    2.0.0 at the working tree."""
    repo = releases_across(
        last_commit_touching(SINGLE_FILE),
        tmp_path_factory.mktemp("double-releases"),
        "the single-file engine double",
        "the engine double as a package",
    )
    assert git(repo, "ls-tree", "--name-only", "1.0.0", SINGLE_FILE).strip() == SINGLE_FILE
    return repo


def double_in_use(project: Path) -> str:
    """The file `from tests.engine_double import EngineDouble` loads in the project."""
    found = subprocess.run(
        [sys.executable, "-c", "import tests.engine_double as d; print(d.__file__)"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(found.stdout.strip()).relative_to(project.resolve()).as_posix()


@pytest.mark.slow
def test_an_update_replaces_the_single_file_double_with_the_package(
    before_and_after: Path, tmp_path: Path
) -> None:
    project = copy(before_and_after, tmp_path / "worker", "1.0.0", ANSWERS)
    assert (project / "tests" / "engine_double.py").is_file()

    update(project, "2.0.0")

    package = project / "tests" / "engine_double"
    assert not (project / "tests" / "engine_double.py").exists()  # unmodified, so copier removed it
    assert sorted(p.name for p in package.glob("*.py")) == [
        "__init__.py", "__main__.py", "core.py", "driving.py", "engine_fn.py", "http.py",
        "http_port.py", "lines.py", "observe.py", "protocol.py", "state.py", "trigger_types.py",
        "update_ops.py",
    ]  # fmt: skip
    assert leftovers(project) == []
    assert passes_its_tests(project, ANSWERS)


@pytest.mark.slow
def test_the_single_file_double_goes_even_when_edited_as_its_header_warned(
    before_and_after: Path, tmp_path: Path
) -> None:
    project = copy(before_and_after, tmp_path / "worker", "1.0.0", ANSWERS)
    single = project / "tests" / "engine_double.py"
    single.write_text(single.read_text() + "\n# our note\n")
    commit_all(project, "our note in the double")

    update(project, "2.0.0")

    # Copier removes a file the template dropped even when the user changed it; the file said
    # that `copier update` replaces it. Were it kept, the package would still win the import:
    assert not single.exists()
    assert leftovers(project) == []
    single.write_text("raise ImportError('the old module was imported')\n")
    assert double_in_use(project) == "tests/engine_double/__init__.py"
