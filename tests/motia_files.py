"""What the importer's tests share: the fixture projects, and small projects written on the spot."""

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
