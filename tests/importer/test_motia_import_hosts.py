"""The importer itself on a Python 3.10 host and a 3.12 host: every fixture project, those of each
defect class included, converts in memory (no copier render) to the same files, findings and
carried files as on the host the suite runs on, and every converted file compiles there. The small
venvs (the importer's runtime dependencies only) are built once and kept under pytest's
temporary root, so later runs pay only for the conversions."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.importer.motia_files import FIXTURES, interpreter, write

pytestmark = pytest.mark.slow

REPO = Path(__file__).parents[2]
HOSTS = ("python3.10", "python3.12")
RUNTIME = ("libcst", "pyyaml", "packaging", "tomli", "copier==9.19.1")

STEP = """\
from motia import http

config = {"name": "%s", "triggers": [http("GET", "/%s")]}


async def handler(request):
    return {"status": 200, "body": {}}
"""
# One small project per defect class of issue 13 (our own code, not the corpus').
DEFECT_CLASSES: dict[str, dict[str, str]] = {
    "fstring_quotes": {
        "pyproject.toml": '[project]\nname = "p"\ndependencies = ["motia==1.0.4"]\n',
        "steps/on_todo_step.py": """\
            from motia import queue

            config = {"name": "OnTodo", "triggers": [queue("todo.created")]}

            async def handler(input, ctx):
                ctx.logger.info(f"todo {input.id} by {input.owner['name']}")
            """,
    },
    "range_without_lock": {
        "requirements.txt": "motia>=1.0.0rc1\n",
        "steps/ping_step.py": STEP % ("Ping", "ping"),
    },
    "test_named_step": {
        "pyproject.toml": '[project]\nname = "p"\ndependencies = ["motia==1.0.4"]\n',
        "steps/test_orders_step.py": STEP % ("TestOrders", "orders"),
    },
    "extras_and_markers": {
        "requirements.txt": (
            "motia==1.0.4\npydantic[email]>=2.5,<3\ntomli>=2; python_version < '3.11'\n"
        ),
        "steps/mail_step.py": STEP % ("Mail", "mail"),
    },
    "stream_in_function": {
        "pyproject.toml": '[project]\nname = "p"\ndependencies = ["motia==1.0.4"]\n',
        "steps/board_step.py": """\
            from motia import Stream, http

            config = {"name": "Board", "triggers": [http("POST", "/board")]}

            def board():
                return Stream("board")

            async def handler(request):
                await board().set("g", "i", {"n": 1})
                return {"status": 200, "body": {}}
            """,
    },
    "not_motia": {
        "pyproject.toml": '[project]\nname = "w"\ndependencies = ["iii-sdk==0.25.0"]\n',
        "src/main.py": "print('hello')\n",
        "tests/test_main.py": "def test_x() -> None: ...\n",
    },
    "symlinks": {
        "pyproject.toml": '[project]\nname = "p"\ndependencies = ["motia==1.0.4"]\n',
        "steps/kept_step.py": STEP % ("Kept", "kept"),
    },
    "file_relative": {
        "pyproject.toml": '[project]\nname = "p"\ndependencies = ["motia==1.0.4"]\n',
        "assets/banner.txt": "hello\n",
        "lib/words.txt": "a\n",
        "steps/banner_step.py": """\
            import os
            from pathlib import Path

            from motia import http

            BANNER = open(os.path.join(os.path.dirname(__file__), "..", "assets", "banner.txt")).read()
            WORDS = (Path(__file__).parent / "../lib/words.txt").read_text()
            config = {"name": "Banner", "triggers": [http("GET", "/banner")]}

            async def handler(request):
                return {"status": 200, "body": BANNER + WORDS}
            """,
    },
}
# Converts each project named on the command line; prints one JSON object (run by each host).
CONVERT = """\
import json, sys
from pathlib import Path
from motia_import.cli import refuse_empty
from motia_import.convert import convert
from motia_import.discovery import discover
from motia_import.project import read_project

results = {}
for root in sys.argv[1:]:
    try:
        source = read_project(Path(root))
        converted = convert(source, "w")
        refuse_empty(source, discover(source.root, source.step_rule()), converted)
    except Exception as error:  # a refusal is a result too, and must match across hosts
        results[Path(root).name] = {"error": f"{type(error).__name__}: {error}"}
        continue
    files = {str(p): text for p, text in sorted(converted.files.items())}
    bad = []
    for path, text in files.items():
        try:
            compile(text, path, "exec")
        except SyntaxError as error:
            bad.append(f"{path}:{error.lineno}: {error.msg}")
    results[Path(root).name] = {
        "files": files,
        "findings": [[f.where, f.what, str(f.status), f.detail, f.step] for f in converted.findings],
        "carried": {str(k): str(v) for k, v in sorted(converted.carried.items())},
        "does_not_compile": bad,
    }
print(json.dumps(results, sort_keys=True))
"""


def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest's own temporary root (`pytest-of-<user>`), which outlives one run."""
    base = tmp_path_factory.getbasetemp()
    for parent in [base, *base.parents]:
        if parent.name.startswith("pytest-of-"):
            return parent / "motia-import-hosts"
    return base / "motia-import-hosts"


def host_venv(python: str, cache: Path) -> Path | None:
    found = interpreter(python)
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if found is None:
        return None
    venv = cache / python
    ready = venv / "ready"
    if not ready.exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([uv, "venv", "-q", "-p", found, str(venv)], check=True)
        subprocess.run(
            [uv, "pip", "install", "-q", "--python", str(venv / "bin/python"), *RUNTIME],
            check=True,
        )
        ready.write_text(found)
    return venv / "bin/python"


def run_conversions(python: str, projects: list[Path]) -> dict[str, object]:
    converted = subprocess.run(
        [python, "-c", CONVERT, *map(str, projects)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert converted.returncode == 0, converted.stderr
    results: dict[str, object] = json.loads(converted.stdout)
    return results


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("host_projects")
    made = [write(root / name, files) for name, files in DEFECT_CLASSES.items()]
    outside = write(root / "outside", {"secret_step.py": STEP % ("Secret", "secret")})
    (root / "symlinks/steps/secret_step.py").symlink_to(outside / "secret_step.py")
    (root / "symlinks/steps/alias").symlink_to(root / "symlinks/steps", target_is_directory=True)
    return sorted(p for p in FIXTURES.iterdir() if p.is_dir()) + made


@pytest.fixture(scope="module")
def on_this_host(projects: list[Path]) -> dict[str, object]:
    """The reference: the host the suite runs on (3.11 or later; CI's is the newest pyenv has)."""
    return run_conversions(sys.executable, projects)


@pytest.mark.parametrize("host", HOSTS)
def test_every_fixture_converts_the_same_on_a_310_and_a_312_host(
    tmp_path_factory: pytest.TempPathFactory,
    projects: list[Path],
    on_this_host: dict[str, object],
    host: str,
) -> None:
    python = host_venv(host, cache_root(tmp_path_factory))
    if python is None:
        pytest.skip(f"{host} is not installed (with pyenv, PYENV_VERSION lists it)")

    there = run_conversions(str(python), projects)

    assert set(there) == {p.name for p in projects}
    for name, result in there.items():
        assert result == on_this_host[name], f"{name} converts differently on {host}"
        if isinstance(result, dict) and "files" in result:
            assert not result["does_not_compile"], f"{name} on {host}"
    # The refusals and the defect classes really were exercised, not skipped.
    assert "is not a Motia project" in there["not_motia"]["error"]  # type: ignore[index]
    assert there["file_relative"]["carried"]  # type: ignore[index]
