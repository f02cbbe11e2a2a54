"""The committed example renders in `examples/`, so that a template change reads as a diff of a
real project. Regenerate them all from the working tree (uncommitted changes included):

    python -m harness.examples            # rewrite examples/
    python -m harness.examples --check    # list what differs, exit 1 if anything does

tests/template/test_examples.py runs the check in the fast tier.
"""

import argparse
import difflib
import re
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import yaml

from harness.projects import RENDERS, TEMPLATE, render, snapshot, working_tree_files

EXAMPLES_DIR = TEMPLATE / "examples"
REGENERATE = "python -m harness.examples"
# Each example is a folder of examples/ holding one whole project. `all-kinds` is the `all` render
# of tests/renders.yml (every kind, both deploy styles, compose and Kubernetes production files),
# so the example is a project the full suite installs, lints, type-checks and runs.
EXAMPLES: dict[str, dict[str, Any]] = {
    "default": {},  # `copier copy --defaults`
    "all-kinds": RENDERS["all"],
}
# Files of examples/ that no render writes.
OWN_FILES = {"README.md"}


def template_version() -> str:
    return str(tomllib.loads((TEMPLATE / "pyproject.toml").read_text())["project"]["version"])


def stable_answers(text: str) -> str:
    """The answers file with the two values copier takes from where and when it rendered.

    `_src_path` is the folder rendered from (a temporary copy here, a checkout elsewhere): it
    becomes `../..`, the template as seen from examples/<name>/, which is true in every clone.
    `_commit` is `git describe` of the template, which changes with every commit (copier even
    commits a dirty tree to a throwaway commit first); it becomes the release `pyproject.toml`
    names, which is what copying that release's tag writes, so it moves only with a release.
    """
    stable = yaml.safe_dump({"_commit": template_version(), "_src_path": "../.."})
    text = re.sub(r"(?m)^_commit: .*\n", "", text)
    return re.sub(r"(?m)^_src_path: .*\n", lambda _: stable, text, count=1)


def render_example(name: str, destination: Path, template: Path) -> Path:
    """Render example `name` from `template` (a plain copy of the working tree, see `snapshot`:
    it renders what is on disk, committed or not, and writes no `_commit` of its own)."""
    render(destination, dict(EXAMPLES[name]), template)
    answers = destination / ".copier-answers.yml"
    answers.write_text(stable_answers(answers.read_text()))
    return destination


def tree(root: Path) -> dict[str, tuple[bytes, bool]]:
    """Each file under `root` by its relative path: its bytes and whether it is executable. Under
    examples/, the files git would commit (not caches a tool left in an example)."""
    if root.is_relative_to(EXAMPLES_DIR):
        inside = root.relative_to(TEMPLATE).as_posix()
        paths = [TEMPLATE / name for name in working_tree_files(inside)]
    else:
        paths = list(root.rglob("*"))
    return {
        path.relative_to(root).as_posix(): (path.read_bytes(), bool(path.stat().st_mode & 0o111))
        for path in sorted(paths)
        if path.is_file()
    }


def differences(committed: Path, rendered: Path) -> list[str]:
    """One line per file that differs between a committed example and a fresh render, followed by
    a short diff of each changed text file."""
    old, new = tree(committed), tree(rendered)
    lines: list[str] = []
    diffs: list[str] = []
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            lines.append(f"  {path}: in examples/ but no longer rendered")
        elif path not in old:
            lines.append(f"  {path}: rendered but not in examples/")
        elif old[path][0] != new[path][0]:
            lines.append(f"  {path}: content differs")
            try:
                before, after = old[path][0].decode(), new[path][0].decode()
            except UnicodeDecodeError:
                continue
            diffs.extend(
                difflib.unified_diff(
                    before.splitlines(),
                    after.splitlines(),
                    f"committed/{path}",
                    f"rendered/{path}",
                    n=1,
                    lineterm="",
                )
            )
        elif old[path][1] != new[path][1]:
            lines.append(f"  {path}: executable bit differs")
    shown = 40
    more = [f"  ... {len(diffs) - shown} more diff lines"] if len(diffs) > shown else []
    return lines + diffs[:shown] + more if lines else []


def check(template: Path, scratch: Path) -> dict[str, list[str]]:
    """What differs, per example (empty when examples/ is current), rendering into `scratch`."""
    found: dict[str, list[str]] = {}
    for name in EXAMPLES:
        rendered = render_example(name, scratch / name, template)
        if lines := differences(EXAMPLES_DIR / name, rendered):
            found[name] = lines
    strays = {p.name for p in EXAMPLES_DIR.iterdir() if p.is_dir()} - EXAMPLES.keys()
    for stray in sorted(strays):
        found[stray] = ["  a folder of examples/ that no example renders"]
    return found


def regenerate(template: Path, scratch: Path) -> None:
    """Replace every example folder with a fresh render (files a render no longer writes go)."""
    for folder in (p for p in EXAMPLES_DIR.iterdir() if p.is_dir()):
        shutil.rmtree(folder)
    for name in EXAMPLES:
        shutil.copytree(render_example(name, scratch / name, template), EXAMPLES_DIR / name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=REGENERATE, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 on a diff")
    arguments = parser.parse_args(argv)
    EXAMPLES_DIR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        template = snapshot(Path(scratch) / "template")
        if not arguments.check:
            regenerate(template, Path(scratch) / "renders")
            print(f"examples/: {', '.join(EXAMPLES)} rendered from the working tree")
            return 0
        found = check(template, Path(scratch) / "renders")
    for name, lines in found.items():
        print(f"examples/{name}:", *lines, sep="\n")
    if found:
        print(f"Regenerate with: {REGENERATE}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
