"""Template releases built by the tests themselves, and projects copied from them.

`releases` is a git copy of this template tagged 1.0.0 (the 0.22 line pinned to iii-sdk 0.22.0)
and 2.0.0 (the working tree, which pins 0.22.1).
"""

import os
import subprocess
from pathlib import Path
from typing import Any

import copier
import pytest

from harness.projects import TEMPLATE, snapshot

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
CONFLICT_MARKERS = ("<<<<<<< ", ">>>>>>> ", "=======\n")


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def make_releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository of this template with releases 1.0.0 and 2.0.0."""
    repo = snapshot(tmp_path_factory.mktemp("template-releases"))
    git(repo, "init", "-q", "-b", "main")
    lines = repo / "lines.yml"
    current = lines.read_text()
    assert 'sdk: "0.22.1"' in current
    lines.write_text(current.replace('sdk: "0.22.1"', 'sdk: "0.22.0"'))
    commit_all(repo, "release 1.0.0")
    git(repo, "tag", "1.0.0")
    lines.write_text(current)
    commit_all(repo, "release 2.0.0: iii-sdk 0.22.1")
    git(repo, "tag", "2.0.0")
    return repo


def releases_across(change: str, repo: Path, before: str, after: str) -> Path:
    """`repo` made a git repository of this template tagged 1.0.0 at the commit before `change`
    (a git revision) and 2.0.0 at the working tree: a project of the older layout to update."""
    archive = subprocess.run(
        ["git", "archive", f"{change}^"], cwd=TEMPLATE, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(repo)], input=archive, check=True)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, f"release 1.0.0: {before}")
    git(repo, "tag", "1.0.0")
    git(repo, "rm", "-q", "-r", ".")
    snapshot(repo)
    commit_all(repo, f"release 2.0.0: {after}")
    git(repo, "tag", "2.0.0")
    return repo


def last_commit_touching(path: str, *log_args: str) -> str:
    """The newest commit of this template's history that changed `path` (narrowed by `log_args`,
    e.g. --diff-filter=A for the one that added it). Needs the history: a shallow clone fails."""
    commits = subprocess.run(
        ["git", "log", "--format=%H", *log_args, "--", path],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert commits, f"no commit in this checkout's history touches {path}"
    return commits[0]


def copy(releases: Path, destination: Path, version: str, answers: dict[str, Any]) -> Path:
    copier.run_copy(
        str(releases),
        destination,
        data=answers,
        defaults=True,
        vcs_ref=version,
        quiet=True,
    )
    git(destination, "init", "-q", "-b", "main")
    commit_all(destination, "generated")
    return destination


def update(project: Path, version: str, **answers: Any) -> None:
    """`copier update` as anyone can run it: no --trust (the template has no tasks or migrations)."""
    copier.run_update(
        project,
        data=answers,
        defaults=True,
        overwrite=True,
        vcs_ref=version,
        quiet=True,
    )


def leftovers(project: Path) -> list[str]:
    """Conflict markers, .rej files and unmerged paths an update may have left."""
    found = git(project, "diff", "--name-only", "--diff-filter=U").split()
    for path in project.rglob("*"):
        if ".git" in path.parts or ".venv" in path.parts or not path.is_file():
            continue
        if path.suffix == ".rej" or any(
            marker in path.read_text(errors="replace") for marker in CONFLICT_MARKERS
        ):
            found.append(str(path))
    return found
