# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""After `copier update`: no conflict markers and no `.rej` files are left in the project.

Copier reports a conflict by writing markers into the file (or a `.rej` beside it) and still
exits 0, so this check is what stops a half-merged update from being committed.

This file belongs to the template: `copier update` replaces it.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SKIPPED = {
    ".git",
    ".venv",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
}
MARKERS = tuple(sign * 7 + " " for sign in "<>")  # written this way so this file has none


def project_files() -> list[Path]:
    return [
        path
        for path in PROJECT_ROOT.rglob("*")
        if path.is_file() and not SKIPPED.intersection(path.relative_to(PROJECT_ROOT).parts)
    ]


def test_no_rej_files() -> None:
    assert [str(p) for p in project_files() if p.suffix == ".rej"] == []


def test_no_conflict_markers() -> None:
    marked = []
    for path in project_files():
        try:
            lines = path.read_text().splitlines()
        except (UnicodeDecodeError, OSError):
            continue
        if any(line.startswith(MARKERS) for line in lines):
            marked.append(str(path.relative_to(PROJECT_ROOT)))
    assert marked == []
