"""`copier update` carries a project generated before the worker runtime moved out of `src/main.py`
(into `src/lib/runtime.py`) to the new layout, keeping the user's edits in their handlers."""

import subprocess
from pathlib import Path

import pytest

from harness.projects import TEMPLATE, snapshot
from tests.releases import commit_all, copy, git, leftovers, update
from tests.test_update import passes_its_tests

RUNTIME = "template/src/lib/runtime.py.jinja"
ANSWERS = {"triggers": ["http", "cron"], "iii_line": "0.25"}
OWN_MODULE = '''"""Our own module: one more function."""

from src.lib.iii_client import iii


async def summary(data: dict[str, str]) -> dict[str, str]:
    return {"summary": ", ".join(sorted(data))}


iii.register_function("my-worker::reports::summary", summary)
'''


@pytest.fixture(scope="module")
def before_and_after(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repository tagged 1.0.0 at the commit before `src/lib/runtime.py` and 2.0.0 at
    the working tree."""
    added_in = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", RUNTIME],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-1]
    repo = tmp_path_factory.mktemp("runtime-releases")
    archive = subprocess.run(
        ["git", "archive", f"{added_in}^"], cwd=TEMPLATE, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(repo)], input=archive, check=True)
    assert not (repo / RUNTIME).exists()
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "release 1.0.0: the runtime in src/main.py")
    git(repo, "tag", "1.0.0")
    git(repo, "rm", "-q", "-r", ".")
    snapshot(repo)
    commit_all(repo, "release 2.0.0: the runtime in src/lib/runtime.py")
    git(repo, "tag", "2.0.0")
    return repo


@pytest.mark.slow
def test_an_update_moves_the_runtime_out_of_main_and_keeps_the_users_handlers(
    before_and_after: Path, tmp_path: Path
) -> None:
    project = copy(before_and_after, tmp_path / "worker", "1.0.0", ANSWERS)
    main = project / "src" / "main.py"
    assert "def main() -> int:" in main.read_text()
    # The user's edits: a handler's body, its test, and a module of their own served by http.
    items = project / "src" / "handlers" / "items.py"
    items.write_text(
        items.read_text().replace("MAX_NAME_LENGTH = 200", "MAX_NAME_LENGTH = 120  # ours")
    )
    items_test = project / "tests" / "test_items.py"
    items_test.write_text(
        items_test.read_text()
        + "\n\ndef test_ours() -> None:\n    assert api.MAX_NAME_LENGTH == 120\n"
    )
    (project / "src" / "reports.py").write_text(OWN_MODULE)
    commit_all(project, "our changes")

    update(project, "2.0.0", own_modules=[{"module": "reports", "needs": ["http"]}])

    assert leftovers(project) == []
    assert (project / "src" / "lib" / "runtime.py").is_file()
    assert "def main() -> int:" not in main.read_text()
    assert len(main.read_text().splitlines()) <= 60
    assert '"src.reports",' in main.read_text() and "run(HANDLER_MODULES)" in main.read_text()
    assert "MAX_NAME_LENGTH = 120  # ours" in items.read_text()
    assert "def test_ours()" in items_test.read_text()
    assert "def test_registers_its_functions_and_triggers(" in items_test.read_text()
    assert passes_its_tests(project, ANSWERS)
