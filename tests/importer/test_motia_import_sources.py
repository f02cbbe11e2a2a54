"""What the importer reads as a project: the Motia version a fresh install of it gets, the step
files that version's runtime loads, its dependencies whole, and nothing outside it. Quick:
nothing is rendered or installed.

The step-file rules are the runtime's own globs in MotiaDev/motia:
- PyPI `motia`: `motia-py/packages/motia/src/motia/cli.py`, `discover_steps`/`_discover_files`,
  `glob.glob(os.path.join(directory, "**", pattern), recursive=True)` over `steps/` and `src/`,
  with `*.step.py` at tag v1.0.0-rc.21 and `*_step.py` from tag v1.0.0-rc.22 (the same at
  v1.0.0-rc.26 and motia/v1.0.4-rc.1, `frameworks/motia/motia-py/...`).
- npm `motia` (0.x, the Node runner of Python steps): `packages/snap/src/generate-locked-data.ts`,
  `getStepFiles`: `steps/**/*.step.{ts,js,py,rb}` at v0.5.2-beta.103; `*.step.*` and `*_step.*`
  at v0.5.3-beta.111 to v0.6.4-beta.130; `*_step.{ts,js,py,rb}` (and `*.step.{ts,js,rb}`, so no
  `.step.py`) from v0.7.0-beta.131; `src/` as well as `steps/` from v0.8.5-beta.142.
None of these globs leaves out test files; Python's glob and npm's glob skip hidden folders.
"""

import os
import tomllib
from pathlib import Path

import pytest

from motia_import.convert import convert
from motia_import.discovery import discover, rule_for
from motia_import.model import Status
from motia_import.project import read_project
from motia_import.render import DEPENDENCY_MARKER, edit_pyproject
from motia_import.report import migration_markdown, terminal_table
from motia_import.versions import Interval, npm_range, parse_version, pep440_range
from tests.importer.motia_files import write

STEP_1X = """\
from motia import http

config = {"name": "%s", "triggers": [http("GET", "/%s")], "enqueues": []}


async def handler(request, ctx):
    return {"status": 200, "body": {}}
"""
STEP_0X = """\
config = {"type": "api", "name": "%s", "path": "/%s", "method": "GET", "emits": []}


async def handler(req, context):
    return {"status": 200, "body": {}}
"""


def allows(intervals: list[Interval] | None, version: str) -> bool:
    wanted = parse_version(version)
    assert intervals is not None and wanted is not None
    return any(i.matches(wanted) for i in intervals)


# Ranges ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "inside", "outside"),
    [
        ("^0.6.0", ["0.6.0", "0.6.4"], ["0.5.9", "0.6.4-beta.130", "0.7.0"]),
        ("^0.0.3", ["0.0.3"], ["0.0.4", "0.1.0"]),
        (
            "~0.8.2-beta.139",
            ["0.8.2-beta.139", "0.8.2-beta.140", "0.8.5"],
            ["0.8.2-beta.138", "0.8.7-beta.144", "0.9.0"],
        ),
        (">=0.5 <0.7", ["0.5.0", "0.6.4"], ["0.4.4", "0.6.4-beta.130", "0.7.0"]),
        (">= 0.5.3", ["0.5.3", "0.17.14"], ["0.5.2", "0.17.14-beta.196"]),
        ("0.8.x", ["0.8.0", "0.8.7"], ["0.7.3", "0.8.7-beta.144", "0.9.0"]),
        ("0.8", ["0.8.6"], ["0.9.0"]),
        ("*", ["0.1.0", "1.0.0"], ["1.0.0-rc.26"]),
        ("1.2.3 - 1.4", ["1.2.3", "1.4.9"], ["1.2.2", "1.5.0"]),
        ("<=0.6", ["0.6.4"], ["0.7.0"]),
        (">0.6", ["0.7.0"], ["0.6.9"]),
        ("^0.5.0 || ^0.8.2-beta.139", ["0.5.4", "0.8.2-beta.140"], ["0.6.0", "0.8.6-beta.143"]),
    ],
)
def test_npm_ranges_allow_what_npm_semver_allows(
    spec: str, inside: list[str], outside: list[str]
) -> None:
    intervals = npm_range(spec)

    assert [v for v in inside if not allows(intervals, v)] == []
    assert [v for v in outside if allows(intervals, v)] == []


@pytest.mark.parametrize(
    ("spec", "inside", "outside"),
    [
        (">=1.0.0rc1", ["1.0.0rc1", "1.0.4rc1", "1.0.4"], ["1.0.0b9"]),
        (">=1.0.0rc10,<1.0.0rc22", ["1.0.0rc21"], ["1.0.0rc22", "1.0.0rc9"]),
        ("~=1.0.4", ["1.0.4", "1.0.9"], ["1.1.0", "1.0.3"]),
        ("==1.0.*", ["1.0.0rc5", "1.0.4"], ["1.1.0", "0.9.0"]),
        ("==1.0.0rc17", ["1.0.0rc17"], ["1.0.0rc18", "1.0.0rc16"]),
        ("<=1.0.0rc21", ["1.0.0rc21"], ["1.0.0rc22"]),
    ],
)
def test_pep_440_ranges_allow_what_the_specifier_allows(
    spec: str, inside: list[str], outside: list[str]
) -> None:
    intervals = pep440_range(spec)

    assert [v for v in inside if not allows(intervals, v)] == []
    assert [v for v in outside if allows(intervals, v)] == []


@pytest.mark.parametrize(
    ("files", "suffixes", "roots", "others"),
    [
        # The project: a range with no lock gets what `pip install` gets today, the
        # newest release (1.0.4rc1 on PyPI), whose rule is `*_step.py`.
        ({"requirements.txt": "motia>=1.0.0rc1\n"}, ("_step.py",), ("steps", "src"), ()),
        ({"requirements.txt": "motia==1.0.0rc17\n"}, (".step.py",), ("steps", "src"), ()),
        (
            {
                "pyproject.toml": '[project]\nname = "x"\ndependencies = ["motia>=1.0.0rc1,<1.0.0rc22"]\n'
            },
            (".step.py",),
            ("steps", "src"),
            (),
        ),
        # An upper bound across a rule change: the newest rule, and the older one reported.
        (
            {"requirements.txt": "motia>=1.0.0rc10,<1.0.0rc30\n"},
            ("_step.py",),
            ("steps", "src"),
            ((".step.py",),),
        ),
        (
            {"package.json": '{"dependencies": {"motia": "^0.6.0"}}'},
            (".step.py", "_step.py"),
            ("steps",),
            (),
        ),
        (
            {"package.json": '{"dependencies": {"motia": ">=0.6.0 <0.8.0"}}'},
            ("_step.py",),
            ("steps",),
            ((".step.py", "_step.py"),),
        ),
        (
            {"package.json": '{"dependencies": {"motia": "latest"}}'},
            ("_step.py",),
            ("steps", "src"),
            (),
        ),
        # npm matches prereleases of the named release only, and 0.8.0 is a final release: the
        # newest install is 0.8.0 (steps/ only), not a 0.8.5 beta.
        (
            {"package.json": '{"dependencies": {"motia": "^0.8.0-beta.137"}}'},
            ("_step.py",),
            ("steps",),
            (),
        ),
        (
            {"package.json": '{"dependencies": {"motia": "^0.8.4-beta.141"}}'},
            ("_step.py",),
            ("steps",),
            (),
        ),
        (
            {"package.json": '{"dependencies": {"motia": "^0.5.5-beta.113"}}'},
            (".step.py", "_step.py"),
            ("steps",),
            (),
        ),
    ],
)
def test_a_range_without_a_lock_file_means_the_newest_version_it_allows(
    tmp_path: Path,
    files: dict[str, str],
    suffixes: tuple[str, ...],
    roots: tuple[str, ...],
    others: tuple[tuple[str, ...], ...],
) -> None:
    rule = read_project(write(tmp_path, files)).step_rule()

    assert (rule.step_suffixes, rule.roots) == (suffixes, roots)
    assert tuple(a.step_suffixes for a in rule.alternatives) == others


def test_a_lock_file_says_which_version_ran(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "requirements.txt": "motia>=1.0.0rc1\n",
            "uv.lock": '[[package]]\nname = "motia"\nversion = "1.0.0rc17"\n',
        },
    )

    project = read_project(tmp_path)

    assert str(project.motia_version) == "1.0.0rc17"
    assert project.step_rule().step_suffixes == (".step.py",)


def test_a_range_reaching_the_sync_api_reads_as_that_api(tmp_path: Path) -> None:
    write(tmp_path, {"requirements.txt": "motia>=1.0.0rc1,<2\n"})

    version = read_project(tmp_path).motia_version

    assert version is not None and version.release >= (1, 0, 4)


# Discovery ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("generation", "version", "roots", "suffixes", "source"),
    [
        (
            "0.x",
            "0.5.2-beta.103",
            ("steps",),
            (".step.py",),
            "generate-locked-data.ts@v0.5.2-beta.103",
        ),
        (
            "0.x",
            "0.5.3-beta.111",
            ("steps",),
            (".step.py", "_step.py"),
            "generate-locked-data.ts@v0.5.3-beta.111",
        ),
        (
            "0.x",
            "0.6.4-beta.130",
            ("steps",),
            (".step.py", "_step.py"),
            "generate-locked-data.ts@v0.6.4-beta.130",
        ),
        (
            "0.x",
            "0.7.0-beta.131",
            ("steps",),
            ("_step.py",),
            "generate-locked-data.ts@v0.7.0-beta.131",
        ),
        (
            "0.x",
            "0.8.4-beta.141",
            ("steps",),
            ("_step.py",),
            "generate-locked-data.ts@v0.8.4-beta.141",
        ),
        (
            "0.x",
            "0.8.5-beta.142",
            ("steps", "src"),
            ("_step.py",),
            "generate-locked-data.ts@v0.8.5-beta.142",
        ),
        (
            "0.x",
            "0.17.6-beta.187",
            ("steps", "src"),
            ("_step.py",),
            "generate-locked-data.ts@v0.17.6-beta.187",
        ),
        ("1.x", "1.0.0rc1", ("steps", "src"), (".step.py",), "motia-py/.../cli.py@v1.0.0-rc.1"),
        ("1.x", "1.0.0rc21", ("steps", "src"), (".step.py",), "motia-py/.../cli.py@v1.0.0-rc.21"),
        ("1.x", "1.0.0rc22", ("steps", "src"), ("_step.py",), "motia-py/.../cli.py@v1.0.0-rc.22"),
        (
            "1.x",
            "1.0.4rc1",
            ("steps", "src"),
            ("_step.py",),
            "motia-py/.../cli.py@motia/v1.0.4-rc.1",
        ),
    ],
)
def test_each_release_loads_the_files_its_runtime_glob_matches(
    generation: str, version: str, roots: tuple[str, ...], suffixes: tuple[str, ...], source: str
) -> None:
    """`source` is the MotiaDev/motia file and tag the expectation was read from."""
    rule = rule_for(generation, parse_version(version))  # type: ignore[arg-type]

    assert (rule.roots, rule.step_suffixes) == (roots, suffixes), source


@pytest.mark.parametrize(
    ("generation", "version", "step"),
    [
        ("1.x", "1.0.4rc1", "steps/test_orders_step.py"),
        ("1.x", "1.0.0rc17", "steps/orders/test_orders.step.py"),
        ("1.x", "1.0.4rc1", "src/tests/orders_step.py"),
        ("0.x", "0.8.5-beta.142", "steps/test_orders_step.py"),
        ("0.x", "0.6.4-beta.130", "steps/test/create.step.py"),
    ],
)
def test_step_files_named_like_tests_are_steps_when_the_runtime_glob_loads_them(
    tmp_path: Path, generation: str, version: str, step: str
) -> None:
    """Neither `glob.glob(.., "**", "*_step.py")` (cli.py) nor npm's `globSync('**/*_step...')`
    (generate-locked-data.ts) leaves tests out."""
    write(tmp_path, {step: "", "steps/orders_step_test.py": ""})

    found = discover(tmp_path, rule_for(generation, parse_version(version)))  # type: ignore[arg-type]

    assert [str(p) for p in found.steps] == [step]
    assert [str(p) for p, _ in found.skipped] == ["steps/orders_step_test.py"]


def test_files_only_the_other_rule_of_an_open_range_loads_are_reported(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "requirements.txt": "motia>=1.0.0rc10,<1.0.0rc30\n",
            "steps/new_step.py": STEP_1X % ("New", "new"),
            "steps/old.step.py": STEP_1X % ("Old", "old"),
        },
    )
    source = read_project(tmp_path)

    converted = convert(source, "w")

    assert [s.name for s in converted.steps] == ["New"]
    reported = [f for f in converted.findings if f.where == "steps/old.step.py"]
    assert [f.status for f in reported] == [Status.SKIPPED]
    assert reported[0].detail.startswith(
        "loaded as a step by motia before 1.0.0rc22: steps/ and src/, *.step.py, which nothing "
        "the project pins rules out; the import follows motia <1.0.0rc30,>=1.0.0rc10 (the newest "
        "it allows, 1.0.0rc22): steps/ and src/, *_step.py"
    )
    assert "steps/old.step.py" in terminal_table(converted)
    assert "steps/old.step.py" in migration_markdown(source, converted, "w")
    assert (
        "motia <1.0.0rc30,>=1.0.0rc10 in Python requirements, no lock file: the newest release it "
        "allows (1.0.0rc22 or later)" in migration_markdown(source, converted, "w")
    )


# Dependencies ------------------------------------------------------------------------------------


def test_requirements_files_carry_extras_markers_specifiers_and_includes_whole(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        {
            "requirements.txt": """\
                motia[otel]>=1.0.0rc1
                pydantic[email]>=2.5,<3  # validated emails
                tomli>=2; python_version < "3.11"
                uvloop==0.21.0 ; sys_platform != "win32" \\
                    --hash=sha256:0123456789abcdef
                -r requirements/base.txt
                -c constraints.txt
                httpx[http2]
                """,
            "requirements/base.txt": "python-dateutil>=2.8\n--requirement=extra.txt\n",
            "requirements/extra.txt": "rich>=13\n",
            "constraints.txt": "httpx<0.28\nnumpy<2\n",
        },
    )

    dependencies = read_project(tmp_path).dependencies

    assert dependencies.requirements == [
        "pydantic[email]>=2.5,<3",
        'tomli>=2; python_version < "3.11"',
        'uvloop==0.21.0 ; sys_platform != "win32"',
        "python-dateutil>=2.8",
        "rich>=13",
        "httpx[http2]<0.28",
    ]
    assert any("numpy<2" in note for note in dependencies.notes)


def test_pyproject_and_poetry_dependencies_carry_over_whole(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": """\
                [project]
                name = "flows"
                dependencies = [
                    "motia>=1.0.0rc22",
                    "pydantic[email]>=2.5",
                    "tomli>=2; python_version < '3.11'",
                ]

                [tool.poetry.dependencies]
                python = "^3.10"
                httpx = {version = "^0.27", extras = ["http2"]}
                orjson = {version = "~3.10", markers = "platform_machine == 'x86_64'"}
                anyio = {version = ">=4", python = ">=3.11"}
                tzdata = "*"
                sdk = {git = "https://example.invalid/sdk.git", tag = "v1"}
                local = {path = "../local"}
                """
        },
    )

    dependencies = read_project(tmp_path).dependencies

    assert dependencies.requirements == [
        "pydantic[email]>=2.5",
        "tomli>=2; python_version < '3.11'",
        "httpx[http2]>=0.27,<0.28",
        "orjson>=3.10,<3.11; platform_machine == 'x86_64'",
        'anyio>=4; python_version >= "3.11"',
        "tzdata",
        "sdk @ git+https://example.invalid/sdk.git@v1",
    ]
    assert any("local" in note for note in dependencies.notes)


def test_the_generated_pyproject_lists_the_original_requirements_without_motia(
    tmp_path: Path,
) -> None:
    originals = [
        "pydantic[email]>=2.5,<3",
        'tomli>=2; python_version < "3.11"',
        "requests[socks] ~= 2.31",
        "sdk @ git+https://example.invalid/sdk.git@v1",
    ]
    write(tmp_path / "project", {"requirements.txt": "\n".join(["motia==1.0.0rc17", *originals])})
    generated = tmp_path / "pyproject.toml"
    generated.write_text(
        f'[project]\nname = "w"\ndependencies = [\n    "iii-sdk==0.25.0",\n    {DEPENDENCY_MARKER}\n]\n'
    )

    edit_pyproject(generated, read_project(tmp_path / "project").dependencies.requirements)

    listed = tomllib.loads(generated.read_text())["project"]["dependencies"]
    assert listed == ["iii-sdk==0.25.0", *originals]


# Nothing outside SOURCE --------------------------------------------------------------------------


def test_no_file_whose_real_path_is_outside_the_project_is_read_or_copied(tmp_path: Path) -> None:
    outside = write(
        tmp_path / "outside",
        {
            "secret_step.py": STEP_1X % ("Secret", "secret") + "TOKEN = 'hunter2'\n",
            "shared/helpers.py": "TOKEN = 'hunter2'\n",
            "reqs.txt": "leaky-package==1\n",
            "pyproject.toml": '[project]\nname = "leaky"\ndependencies = ["leaky-package"]\n',
        },
    )
    project = write(
        tmp_path / "project",
        {
            "requirements.txt": (
                "motia==1.0.4rc1\n-r ../outside/reqs.txt\n-r linked.txt\n-r ../project/more.txt\n"
            ),
            "more.txt": "tzdata\n",
            "steps/orders_step.py": STEP_1X % ("Orders", "orders"),
            "lib/flows/flow_step.py": STEP_1X % ("Flow", "flow"),
        },
    )
    (project / "steps/secret_step.py").symlink_to(outside / "secret_step.py")
    (project / "steps/shared").symlink_to(outside / "shared", target_is_directory=True)
    (project / "linked.txt").symlink_to(outside / "reqs.txt")
    (project / "pyproject.toml").symlink_to(outside / "pyproject.toml")
    (project / "steps/alias").symlink_to(project / "lib/flows", target_is_directory=True)
    (project / "steps/loop").symlink_to(project / "steps", target_is_directory=True)
    (project / "steps/ghost_step.py").symlink_to(project / "steps/missing.py")

    source = read_project(project)
    converted = convert(source, "w")

    assert "hunter2" not in "".join(converted.files.values())
    assert "leaky" not in " ".join(source.dependencies.requirements) + source.name
    assert source.dependencies.requirements == ["tzdata"]
    skipped = {f.where: f.detail for f in converted.findings if f.status is Status.SKIPPED}
    assert "real path is outside" in skipped["steps/secret_step.py"]
    assert "real path is outside" in skipped["steps/shared"]
    assert skipped["steps/ghost_step.py"] == "a link to a file that does not exist"
    notes = " ".join(source.dependencies.notes)
    assert "../outside/reqs.txt" in notes and "linked.txt" in notes and "pyproject.toml" in notes
    assert str(tmp_path) not in notes  # the report names them from the project, not this machine
    # A link that stays inside the project is followed, as Motia's glob followed it (a loop once).
    assert sorted(str(s.path) for s in converted.steps) == [
        "steps/alias/flow_step.py",
        "steps/orders_step.py",
    ]


def test_reading_a_project_writes_nothing_into_it(tmp_path: Path) -> None:
    project = write(
        tmp_path / "project",
        {"requirements.txt": "motia>=1.0.0rc1\n", "steps/a_step.py": STEP_1X % ("A", "a")},
    )
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in project.rglob("*") if p.is_file()}

    convert(read_project(project), "w")

    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in project.rglob("*") if p.is_file()}
    assert after == before and not any(p.name == "__pycache__" for p in project.rglob("*"))
    assert os.access(project, os.W_OK)


def test_without_any_pin_files_of_an_older_rule_are_reported_not_dropped(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "steps/new_step.py": STEP_1X % ("New", "new"),
            "steps/old.step.py": STEP_1X % ("Old", "old"),
        },
    )
    source = read_project(tmp_path)

    converted = convert(source, "w")

    assert [s.name for s in converted.steps] == ["New"]
    old = next(f for f in converted.findings if f.where == "steps/old.step.py")
    assert old.status is Status.SKIPPED and "*.step.py" in old.detail
    assert "steps/old.step.py" in terminal_table(converted)


@pytest.mark.parametrize(
    "files",
    [
        {"package.json": '{"dependencies": {"motia": "workspace:*"}}'},
        {"package.json": '{"dependencies": {"motia": "next"}}'},
        {"requirements.txt": "motia @ git+https://example.invalid/motia.git\n"},
    ],
)
def test_a_pin_that_is_no_version_range_reports_the_older_rules_too(
    tmp_path: Path, files: dict[str, str]
) -> None:
    write(tmp_path, files)

    rule = read_project(tmp_path).step_rule()

    assert rule.step_suffixes == ("_step.py",)
    assert ".step.py" in {s for a in rule.alternatives for s in a.step_suffixes}


def test_npm_motia_1x_alone_runs_no_python_step(tmp_path: Path) -> None:
    """`motia-js/packages/motia/src/new/build/loader.ts@v1.0.0-rc.26` globs `*.step.{ts,js}`."""
    write(
        tmp_path,
        {
            "package.json": '{"dependencies": {"motia": "1.0.0-rc.26"}}',
            "src/hello_step.py": STEP_1X % ("Hello", "hello"),
            "src/hello.step.ts": "",
        },
    )
    source = read_project(tmp_path)

    found = discover(source.root, source.step_rule())

    assert found.steps == [] and [str(p) for p in found.other_language] == ["src/hello.step.ts"]
    assert [(str(p), "PyPI motia package" in why) for p, why in found.skipped] == [
        ("src/hello_step.py", True)
    ]


def test_a_workspace_pin_reports_the_files_an_older_release_loaded(tmp_path: Path) -> None:
    """A monorepo's `"motia": "workspace:*"` names no version; 0.5.3-0.6.x loaded `*.step.py` too
    (`generate-locked-data.ts@v0.6.4-beta.130`)."""
    write(
        tmp_path,
        {
            "package.json": '{"dependencies": {"motia": "workspace:*"}}',
            "steps/place_step.py": STEP_0X % ("Place", "orders"),
            "steps/audit.step.py": STEP_0X % ("Audit", "audit"),
        },
    )
    source = read_project(tmp_path)

    converted = convert(source, "w")

    assert [s.name for s in converted.steps] == ["Place"]
    audit = next(f for f in converted.findings if f.where == "steps/audit.step.py")
    assert audit.status is Status.SKIPPED
    assert audit.detail.startswith("loaded as a step by motia 0.5.3 to before 0.7.0 (npm)")
    assert "steps/audit.step.py" in terminal_table(converted)
