"""A default render stays small: the user's code is what a reader sees, the template's machinery
is small. Issue 15 asks for at most 2,000 lines in all and no file over 700; the total here is
the smallest reached so far (4,131 before; the engine double alone is about 2,000 lines, its
real HTTP port and development mode included), to be lowered as the template shrinks; see
docs/decisions/0002-vendored-engine-double.md."""

from collections.abc import Callable
from pathlib import Path

# The budget a default render is held to, in lines as `wc -l` counts them (newline bytes, so a
# last line without one is not counted), .git excluded.
TOTAL_LINES = 4_769  # the issue's goal: 2,000 (4,121 before the engine's functions and worker trigger types; 4,418 before 0.25's observers)
FILE_LINES = 700


def line_counts(root: Path) -> dict[str, int]:
    return {
        str(path.relative_to(root)): path.read_bytes().count(b"\n")
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def biggest(counts: dict[str, int], n: int = 12) -> str:
    ranked = sorted(counts.items(), key=lambda item: -item[1])[:n]
    return "\n".join(f"{lines:6} {name}" for name, lines in ranked)


def test_line_counts_are_those_of_wc(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"one\ntwo\n")
    (tmp_path / "b").write_bytes(b"one\ntwo")  # wc -l: 1
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "c").write_bytes(b"\n" * 9)

    assert line_counts(tmp_path) == {"a": 2, "b": 1}


def test_a_default_render_is_small(rendered: Callable[..., Path]) -> None:
    counts = line_counts(rendered())

    total = sum(counts.values())
    assert total <= TOTAL_LINES, (
        f"{total} lines, over {TOTAL_LINES}; the biggest:\n{biggest(counts)}"
    )
    over = {name: lines for name, lines in counts.items() if lines > FILE_LINES}
    assert not over, f"files over {FILE_LINES} lines:\n{biggest(over)}"
