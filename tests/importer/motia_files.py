"""What the importer's tests share: the fixture projects, and small projects written on the spot."""

import functools
import shutil
import subprocess
from pathlib import Path
from textwrap import dedent

FIXTURES = Path(__file__).parent / "motia_projects"


def write(root: Path, files: dict[str, str]) -> Path:
    """A project at `root` with these files (paths to dedented contents)."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(content))
    return root


# The oldest Python a converted project may target, and the newest whose grammar changed how
# converted code may be written (PEP 701 f-strings): each compiles every converted file.
TARGET_PYTHONS = ("python3.10", "python3.12")
COMPILE_ALL = """\
import pathlib, sys
bad = []
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.py")):
    try:
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    except SyntaxError as error:
        bad.append(f"{path}:{error.lineno}: {error.msg}")
print("\\n".join(bad))
sys.exit(1 if bad else 0)
"""


def lint_for_target(where: Path) -> None:
    """Ruff finds no syntax a Python 3.10 target rejects and no undefined name under `where`."""
    ruff = shutil.which("ruff") or "ruff"
    linted = subprocess.run(
        [
            *(ruff, "check", "--isolated", "--no-cache", "--target-version", "py310"),
            *("--select", "E9,F821,F822,F823", str(where)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout


@functools.cache
def interpreter(python: str) -> str | None:
    """The real executable behind `python3.x` (a pyenv shim is a slow script), or None when that
    version is not installed (the shim then exits 127)."""
    found = shutil.which(python)
    if found is None:
        return None
    asked = subprocess.run(
        [found, "-c", "import sys; print(sys.executable)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return asked.stdout.strip() or None if asked.returncode == 0 else None


def compile_under(python: str, where: Path) -> bool:
    """Every Python file under `where` compiles under that interpreter; False when it is not
    installed."""
    found = interpreter(python)
    if found is None:
        return False
    compiled = subprocess.run(
        [found, "-c", COMPILE_ALL, str(where)], capture_output=True, text=True, check=False
    )
    assert compiled.returncode == 0, f"{python}:\n{compiled.stdout}{compiled.stderr}"
    return True


def check_target_grammar(where: Path) -> None:
    """The converted tree under `where` is valid for a Python 3.10 target: ruff, then the real
    compilers of TARGET_PYTHONS that are installed (tests/importer/test_motia_import_grammar.py
    requires them)."""
    lint_for_target(where)
    for python in TARGET_PYTHONS:
        compile_under(python, where)
