"""The template's own code (its tests and helpers) passes the same lint and type check as the
code it generates."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.projects import TEMPLATE

BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=TEMPLATE, capture_output=True, text=True, check=False)


def test_ruff_finds_nothing() -> None:
    lint = run(str(BIN / "ruff"), "check", "--no-cache", ".")
    layout = run(str(BIN / "ruff"), "format", "--no-cache", "--check", ".")

    assert lint.returncode == 0, lint.stdout
    assert layout.returncode == 0, layout.stdout


def test_mypy_strict_finds_nothing() -> None:
    result = run(str(BIN / "mypy"))

    assert result.returncode == 0, result.stdout


def test_shell_scripts_pass_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("no shellcheck here (apt-get install shellcheck)")
    scripts = sorted(str(path) for path in (TEMPLATE / ".ci").iterdir() if path.is_file())

    result = run(shellcheck, *scripts)

    assert result.returncode == 0, result.stdout
