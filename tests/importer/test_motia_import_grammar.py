"""Every converted tree is valid Python for the oldest target (3.10), whatever Python runs the
importer: each fixture project and each case of the rewrite tests is converted in memory and
checked by ruff with a 3.10 target and by the real 3.10 and 3.12 compilers (3.12 alone would
accept PEP 701 f-strings that 3.10 rejects, and `ast.parse(feature_version=...)` does too)."""

from pathlib import Path

import pytest

from motia_import.convert import convert
from motia_import.model import Status
from motia_import.project import read_project
from tests.importer.motia_files import (
    FIXTURES,
    TARGET_PYTHONS,
    compile_under,
    lint_for_target,
    write,
)

PROJECTS = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())

# A project whose f-strings hold every key the rewrite writes, at one and two levels.
F_STRINGS = {
    "pyproject.toml": '[project]\nname = "p"\ndependencies = ["motia==1.0.4"]\n',
    "steps/echo_step.py": """\
        from motia import http

        config = {"name": "Echo", "triggers": [http("POST", "/echo/{id}")]}

        async def handler(request, ctx):
            ctx.logger.info(f"echo {request.path_params['id']} {request.body} {request.headers}")
            note = f'{request.query_params.get("q")} {request.method} {request.path}'
            return {"status": 200, "body": f\"\"\"{request.body["x"]} {note}\"\"\"}
        """,
}


def write_converted(source: Path, where: Path) -> Path:
    converted = convert(read_project(source), "w")
    # A module the rewrite gave up on is kept as written and would pass unnoticed.
    assert not [f for f in converted.findings if f.what == "module" and f.status is Status.TODO]
    for relative, content in converted.files.items():
        path = where / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return where


@pytest.fixture(scope="module")
def converted_trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("grammar")
    trees = {name: write_converted(FIXTURES / name, root / name) for name in PROJECTS}
    strings = write(root / "f_strings_source", F_STRINGS)
    trees["f_strings"] = write_converted(strings, root / "f_strings")
    return trees


@pytest.mark.parametrize("name", [*PROJECTS, "f_strings"])
def test_converted_tree_lints_clean_for_a_python_3_10_target(
    converted_trees: dict[str, Path], name: str
) -> None:
    lint_for_target(converted_trees[name])


@pytest.mark.parametrize("python", TARGET_PYTHONS)
@pytest.mark.parametrize("name", [*PROJECTS, "f_strings"])
def test_converted_tree_compiles_under_the_real_interpreter(
    converted_trees: dict[str, Path], name: str, python: str
) -> None:
    if not compile_under(python, converted_trees[name]):
        pytest.skip(f"{python} is not installed (with pyenv, PYENV_VERSION lists it)")


def test_the_check_rejects_a_quote_only_python_3_12_accepts(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "m.py").write_text('d = {}\nx = f"{d.get("a")}"\n')
    with pytest.raises(AssertionError, match=r"added in Python 3\.12"):
        lint_for_target(bad)
    if not compile_under("python3.10", tmp_path / "empty"):
        pytest.skip("python3.10 is not installed (with pyenv, PYENV_VERSION lists it)")
    with pytest.raises(AssertionError, match=r"python3\.10"):
        compile_under("python3.10", bad)
