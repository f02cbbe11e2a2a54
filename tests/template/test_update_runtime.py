"""`copier update` carries a project generated before the worker runtime moved out of `src/main.py`
(into `src/lib/runtime.py`) to the new layout, keeping the user's edits in their handlers."""

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
    repo = releases_across(
        last_commit_touching(RUNTIME, "--diff-filter=A"),
        tmp_path_factory.mktemp("runtime-releases"),
        "the runtime in src/main.py",
        "the runtime in src/lib/runtime.py",
    )
    assert git(repo, "ls-tree", "--name-only", "1.0.0", RUNTIME) == ""
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
