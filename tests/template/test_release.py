"""The template's version has one home (pyproject.toml); the changelog follows it, and the
repository carries the license and contributor guide a release needs."""

import re
import tomllib

from harness.projects import TEMPLATE


def test_the_changelog_describes_the_version_in_pyproject() -> None:
    version = tomllib.loads((TEMPLATE / "pyproject.toml").read_text())["project"]["version"]
    headings = re.findall(r"^## (\S+)", (TEMPLATE / "CHANGELOG.md").read_text(), re.MULTILINE)

    assert headings[0] in (version, "Unreleased")
    assert version in headings
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)  # a PEP 440 release, as copier reads tags


def test_the_repository_carries_its_license_and_contributor_guide() -> None:
    assert (TEMPLATE / "LICENSE").read_text().startswith("MIT License")
    assert "## Adding a trigger kind" in (TEMPLATE / "CONTRIBUTING.md").read_text()
