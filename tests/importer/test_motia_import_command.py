"""The command's edges (bad input gives one clear line, never a traceback), the report, and the
files it writes besides the converted code. Quick: nothing is rendered or installed."""

import shutil
import subprocess
import tomllib
from pathlib import Path, PurePosixPath
from textwrap import dedent

import copier
import pytest

from motia_import import cli
from motia_import.convert import Registration, convert
from motia_import.project import read_project
from motia_import.render import DEPENDENCY_MARKER, RenderError, copy_carried, edit_pyproject
from motia_import.report import checks, migration_markdown, terminal_table
from motia_import.testgen import imported_steps_test
from tests.importer.motia_files import FIXTURES, write

RUFF = shutil.which("ruff") or "ruff"


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(args)
    return code, capsys.readouterr().err


# Bad input --------------------------------------------------------------------------------------


def test_a_missing_source_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli([str(tmp_path / "nope"), str(tmp_path / "out")], capsys)

    assert code == 1
    assert err.count("\n") == 1 and "is not a directory" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_non_empty_destination_needs_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    destination = tmp_path / "out"
    destination.mkdir()
    (destination / "keep.txt").write_text("mine")

    code, err = run_cli([str(FIXTURES / "v0_shop"), str(destination)], capsys)

    assert code == 1 and "not empty (use --force" in err
    assert [p.name for p in destination.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize(
    ("source", "dest", "message"),
    [
        ("project", "project/out", "DEST is inside SOURCE"),
        ("project/sub", "project", "SOURCE is inside DEST"),
    ],
)
def test_source_and_destination_must_not_overlap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str, dest: str, message: str
) -> None:
    shutil.copytree(FIXTURES / "v104_notes", tmp_path / source)

    code, err = run_cli([str(tmp_path / source), str(tmp_path / dest), "--force"], capsys)

    assert code == 1 and message in err


def test_a_bad_worker_name_says_what_is_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_cli(
        [str(FIXTURES / "v104_notes"), str(tmp_path / "out"), "--worker-name", "Bad_Name"], capsys
    )

    assert code == 1 and "lower-case letters and digits" in err


def test_a_directory_without_motia_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "src", {"app.py": "print('hello')\n"})

    code, err = run_cli([str(tmp_path / "src"), str(tmp_path / "out")], capsys)

    assert code == 1 and "is not a Motia project" in err
    assert not (tmp_path / "out").exists()


def test_an_internal_error_is_one_line_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr(cli, "convert", broken)

    code, err = run_cli([str(FIXTURES / "v104_notes"), str(tmp_path / "out")], capsys)

    assert code == 1
    assert "internal error: KeyError" in err and "--traceback" in err and "Traceback" not in err


def test_help_describes_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])

    out = capsys.readouterr().out
    assert exit_.value.code == 0
    for option in (
        "--worker-name",
        "--iii-line",
        "--python-version",
        "--package-manager",
        "--deploy",
        "--force",
    ):
        assert option in out


# Defaults from the source project ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("@acme/Order Flows_2", "order-flows-2"),
        ("shop-flows", "shop-flows"),
        ("123", "motia-worker"),
    ],
)
def test_the_worker_name_comes_from_the_project_name(
    tmp_path: Path, name: str, expected: str
) -> None:
    write(tmp_path, {"package.json": f'{{"name": "{name}", "dependencies": {{"motia": "0.8.0"}}}}'})

    assert cli.default_worker_name(read_project(tmp_path)) == expected


def test_the_description_is_the_projects_or_says_where_it_came_from(tmp_path: Path) -> None:
    write(tmp_path, {"package.json": '{"name": "flows", "dependencies": {"motia": "0.8.0"}}'})

    assert (
        cli.default_description(read_project(tmp_path)) == "Imported from the Motia project flows."
    )
    assert cli.default_description(read_project(FIXTURES / "rc_helpdesk")).startswith(
        "Support tickets"
    )


# The report -------------------------------------------------------------------------------------


def test_the_report_lists_lonely_topics_shared_topics_and_duplicate_routes(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "package.json": '{"name": "p", "dependencies": {"motia": "0.13.0"}}',
            "steps/a_step.py": """\
                config = {"type": "api", "name": "A", "path": "/items/:id", "method": "GET", "emits": ["lonely"]}
                async def handler(req, context):
                    await context.emit({"topic": "lonely", "data": {}})
                    await context.emit({"topic": "shared", "data": {}})
                """,
            "steps/b_step.py": """\
                config = {"type": "api", "name": "B", "path": "/items/{item_id}", "method": "GET"}
                async def handler(req, context): ...
                """,
            "steps/c_step.py": """\
                config = {"type": "event", "name": "C", "subscribes": ["shared"]}
                async def handler(input, context): ...
                """,
            "steps/d_step.py": """\
                config = {"type": "event", "name": "D", "subscribes": ["shared", "nobody.publishes"]}
                async def handler(input, context): ...
                """,
        },
    )
    source = read_project(tmp_path)
    converted = convert(source, "w")

    found = checks(converted)
    markdown = migration_markdown(source, converted, "w")
    table = terminal_table(converted)

    assert found.unsubscribed == ["lonely"]
    assert found.unpublished == ["nobody.publishes"]
    assert found.several_subscribers == [("shared", ["C", "D"])]
    assert found.duplicate_routes == [("GET /items/:", ["w::steps::a", "w::steps::b"])]
    for heading in (
        "## Steps and triggers",
        "## TODO",
        "## Topics",
        "## Dependencies",
        "## Behaviour",
    ):
        assert heading in markdown
    assert "Topics nobody subscribes to: `lonely`" in markdown
    assert "duplicate routes: GET /items/:" in table
    assert "4 step(s), 4 trigger(s) registered" in table  # the engine refuses the second route
    refused = [f for f in converted.findings if f.step == "B" and f.what.startswith("trigger")]
    assert [f.status.value for f in refused] == ["TODO"] and "duplicate route" in refused[0].detail


def test_every_todo_in_the_code_is_in_the_report(tmp_path: Path) -> None:
    source = read_project(FIXTURES / "rc_helpdesk")
    converted = convert(source, "helpdesk")
    markdown = migration_markdown(source, converted, "helpdesk")

    in_code = sum(text.count("# TODO(motia-import):") for text in converted.files.values())
    todo_section = markdown.split("## TODO", 1)[1].split("## Topics", 1)[0]
    rows = [line for line in todo_section.splitlines() if line.startswith("| `")]
    assert in_code > 0
    assert len(rows) >= in_code


# Files besides the converted code -----------------------------------------------------------------


def test_dependencies_go_below_the_marker_and_style_rules_skip_the_converted_code(
    tmp_path: Path,
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        dedent(
            f"""\
            [project]
            dependencies = [
                "iii-sdk==0.25.0",
                {DEPENDENCY_MARKER}, so that updates merge cleanly.
            ]

            [tool.ruff.lint.per-file-ignores]
            "tests/**" = ["S"]
            """
        )
    )

    edit_pyproject(pyproject, ["requests>=2", 'tomli; python_version < "3.11"'])

    text = pyproject.read_text()
    assert '    "requests>=2",\n' in text and "    'tomli; python_version < \"3.11\"',\n" in text
    assert text.index("requests") > text.index(DEPENDENCY_MARKER)
    assert '"src/steps/**" = [' in text and 'module = ["src.steps", "src.steps.*"]' in text
    assert 'exclude = ["src/steps/**"]' in text


def test_the_generated_pytest_config_keeps_the_imported_codes_warnings_as_warnings(
    tmp_path: Path,
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        dedent(
            f"""\
            [project]
            dependencies = [
                {DEPENDENCY_MARKER}
            ]

            [tool.pytest.ini_options]
            filterwarnings = [
                "error",
            ]
            """
        )
    )

    edit_pyproject(pyproject, ["requests==2.32.3", "python-dateutil>=2"])

    filters = tomllib.loads(pyproject.read_text())["tool"]["pytest"]["ini_options"]
    # pytest applies the later entries last: these win over "error" for their categories,
    # and for whatever the imported project's dependencies warn of.
    assert filters["filterwarnings"][0] == "error"
    assert {
        "default::DeprecationWarning",
        "default::UserWarning",
        "default:::requests",
        "default:::python_dateutil",
    } <= set(filters["filterwarnings"][1:])


def test_carried_python_files_outside_the_converted_package_skip_the_templates_checks(
    tmp_path: Path,
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        f"[project]\ndependencies = [\n    {DEPENDENCY_MARKER}\n]\n\n[tool.ruff]\n"
        'line-length = 100\n\n[tool.mypy]\nstrict = true\nfiles = ["src"]\n'
    )

    edit_pyproject(
        pyproject,
        [],
        [PurePosixPath("src/services/image-agent/proc.py"), PurePosixPath("src/steps/a.txt")],
    )

    data = tomllib.loads(pyproject.read_text())
    assert data["tool"]["ruff"]["extend-exclude"] == ["src/services/image-agent/proc.py"]
    assert data["tool"]["mypy"]["exclude"] == ["^src/services/image\\-agent/proc\\.py"]


def test_carried_files_are_copied_and_listed_in_migration_md(tmp_path: Path) -> None:
    source = write(
        tmp_path / "project",
        {
            "requirements.txt": "motia==1.0.4\n",
            "assets/banner.txt": "hello\n",
            "steps/hello_step.py": """\
                from pathlib import Path

                from motia import http

                BANNER = (Path(__file__).parent / "../assets/banner.txt").read_text()
                config = {"name": "Hello", "triggers": [http("GET", "/hello")]}

                async def handler(request):
                    return {"status": 200, "body": BANNER}
                """,
        },
    )
    project = read_project(source)
    converted = convert(project, "w")

    copy_carried(project.root, tmp_path / "out", converted.carried)

    assert (tmp_path / "out/src/assets/banner.txt").read_text() == "hello\n"
    report = migration_markdown(project, converted, "w")
    assert "- `assets/banner.txt` -> `src/assets/banner.txt`" in report
    assert '`"default::DeprecationWarning"`' in report


def test_copying_refuses_a_carried_file_whose_real_path_left_the_project(tmp_path: Path) -> None:
    """Checked again as it is copied: the file may have become a link since it was read."""
    outside = write(tmp_path / "outside", {"secret.txt": "hunter2\n"})
    source = tmp_path / "project"
    source.mkdir()
    (source / "banner.txt").symlink_to(outside / "secret.txt")

    with pytest.raises(RenderError, match="outside SOURCE"):
        copy_carried(
            source,
            tmp_path / "out",
            {PurePosixPath("src/banner.txt"): PurePosixPath("banner.txt")},
        )
    assert not (tmp_path / "out").exists()


def test_the_generated_registration_test_is_formatted_and_typed(tmp_path: Path) -> None:
    registration = Registration(
        functions=["w::steps::a", "w::steps::b::http", "w::steps::b::http::condition"],
        triggers=[
            (
                "http",
                "w::steps::b::http",
                {
                    "api_path": "/b",
                    "http_method": "POST",
                    "condition_function_id": "w::steps::b::http::condition",
                },
            ),
            ("cron", "w::steps::a", {"expression": "0 0 * * * *"}),
        ],
    )
    path = tmp_path / "test_imported_steps.py"
    path.write_text(imported_steps_test(registration))
    empty = tmp_path / "test_empty.py"
    empty.write_text(imported_steps_test(Registration()))

    result = subprocess.run(
        [RUFF, "format", "--check", "--isolated", "--line-length", "100", str(path), str(empty)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "EXPECTED_FUNCTIONS: set[str] = set()" in empty.read_text()
    compile(path.read_text(), str(path), "exec")


def test_the_routes_the_importer_leaves_to_the_template_are_the_templates() -> None:
    import yaml

    from motia_import.convert import TEMPLATE_ROUTES

    kinds = yaml.safe_load((Path(__file__).parents[2] / "kinds.yml").read_text())["kinds"]
    health = kinds["health"]
    route = f"GET {health['params']['path']['default']}"
    assert health["with_engine"] == "http"
    assert set(TEMPLATE_ROUTES) == {route}


# Projects that are not Motia, imports that convert nothing -----------------------------------------


def test_a_project_that_is_not_motia_is_refused_even_with_test_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Security review L14: an iii worker with tests used to exit 0."""
    write(
        tmp_path / "worker",
        {
            "pyproject.toml": '[project]\nname = "w"\ndependencies = ["iii-sdk==0.25.0"]\n',
            "src/main.py": "print('hello')\n",
            "tests/test_main.py": "def test_x() -> None: ...\n",
            "tests/conftest.py": "",
        },
    )

    code, err = run_cli([str(tmp_path / "worker"), str(tmp_path / "out")], capsys)

    assert code == 1 and "worker is not a Motia project" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_an_import_that_finds_steps_but_converts_none_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 1.0.0rc17 loads `*.step.py` only (cli.py@v1.0.0-rc.17), so the `_step.py` file is no step.
    write(
        tmp_path / "project",
        {
            "requirements.txt": "motia==1.0.0rc17\n",
            "steps/orders_step.py": "config = {'name': 'Orders', 'triggers': []}\n",
        },
    )

    code, err = run_cli([str(tmp_path / "project"), str(tmp_path / "out")], capsys)

    assert code == 1 and err.count("\n") == 1
    assert "found 1 step-like file(s) but converted none" in err
    assert "steps/orders_step.py: not a file name loaded by motia 1.0.0rc17" in err
    assert not (tmp_path / "out").exists()


# DEST ----------------------------------------------------------------------------------------------


def test_a_destination_under_a_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recwarn: pytest.WarningsRecorder
) -> None:
    """Security review L15: copier's warning and an internal error before."""
    (tmp_path / "some_file").write_text("x")

    code, err = run_cli([str(FIXTURES / "v104_notes"), str(tmp_path / "some_file" / "sub")], capsys)

    assert code == 1 and err.count("\n") == 1
    assert "is under" in err and "some_file, which is a file" in err and "internal" not in err
    assert len(recwarn) == 0


def test_force_refuses_a_folder_that_holds_no_earlier_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Security review L16: `--force` overwrote an unrelated project's README and pyproject."""
    destination = write(tmp_path / "out", {"README.md": "mine", "pyproject.toml": "[project]\n"})

    code, err = run_cli([str(FIXTURES / "v104_notes"), str(destination), "--force"], capsys)

    assert code == 1 and err.count("\n") == 1 and "holds no earlier import" in err
    assert sorted(p.name for p in destination.iterdir()) == ["README.md", "pyproject.toml"]
    assert (destination / "README.md").read_text() == "mine"


@pytest.mark.parametrize(
    ("files", "earlier"),
    [
        ({"MIGRATION.md": "# Migration from Motia\n\nImported ...\n"}, True),
        (
            {".copier-answers.yml": "own_modules:\n- module: steps\n  needs: [http]\n"},
            True,
        ),
        ({"MIGRATION.md": "# Migration notes of my own\n"}, False),
        ({".copier-answers.yml": "own_modules:\n- module: billing\n  needs: []\n"}, False),
        ({".copier-answers.yml": ": not yaml ["}, False),
    ],
)
def test_force_recognises_an_earlier_import_by_what_the_importer_wrote(
    tmp_path: Path, files: dict[str, str], earlier: bool
) -> None:
    destination = write(tmp_path / "out", {"README.md": "", **files})

    assert cli.earlier_import(destination) is earlier
    if earlier:
        cli.check_paths(FIXTURES / "v104_notes", destination, force=True)


def test_force_never_follows_a_link_from_dest_into_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "project"
    shutil.copytree(FIXTURES / "v104_notes", source)
    destination = write(tmp_path / "out", {"MIGRATION.md": "# Migration from Motia\n"})
    (destination / "src").symlink_to(source, target_is_directory=True)

    code, err = run_cli([str(source), str(destination), "--force"], capsys)

    assert code == 1 and "links into SOURCE" in err


# One source for what the template decides ------------------------------------------------------------


def test_the_template_facts_come_from_copier_yml_and_lines_yml() -> None:
    import yaml

    root = Path(__file__).parents[2]
    questions = yaml.safe_load((root / "copier.yml").read_text())
    lines = list(yaml.safe_load((root / "lines.yml").read_text()))
    options = {a.dest: a for a in cli.parser()._actions}

    assert list(options["iii_line"].choices or []) == lines
    assert options["iii_line"].default == questions["iii_line"]["default"]
    assert sorted(options["python_version"].choices or []) == sorted(
        questions["python_version"]["choices"]
    )
    assert options["engine_url"].default == questions["engine_url"]["default"]
    for name, allowed in [("orders-worker", True), ("a1-b2", True), ("Bad_Name", False),
                          ("-x", False), ("x" * 40, True), ("x" * 41, False)]:  # fmt: skip
        assert cli.valid_worker_name(name) is allowed, name


def test_the_importer_restates_no_template_fact() -> None:
    """The values live in copier.yml and lines.yml; a copy in motia_import/ would drift."""
    import yaml

    root = Path(__file__).parents[2]
    questions = yaml.safe_load((root / "copier.yml").read_text())
    facts = [
        questions["engine_url"]["default"],
        "^[a-z][a-z0-9]*(-[a-z0-9]+)*$",
        *(f'"{line}"' for line in yaml.safe_load((root / "lines.yml").read_text())),
        *(f'"{v}"' for v in questions["python_version"]["choices"]),
    ]
    restated = {
        (path.name, fact)
        for path in (root / "motia_import").glob("*.py")
        for fact in facts
        if fact in path.read_text()
    }
    assert restated == set()


def test_force_never_writes_through_a_link_out_of_dest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = write(tmp_path / "elsewhere", {"README.md": "someone else's"})
    destination = write(tmp_path / "out", {"MIGRATION.md": "# Migration from Motia\n"})
    (destination / "README.md").symlink_to(elsewhere / "README.md")

    code, err = run_cli([str(FIXTURES / "v104_notes"), str(destination), "--force"], capsys)

    assert code == 1 and "links out of DEST" in err
    assert (elsewhere / "README.md").read_text() == "someone else's"


def test_a_destination_that_cannot_be_written_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*_: object, **__: object) -> None:
        raise PermissionError(13, "Permission denied", str(tmp_path / "out"))

    # Tests run as root here, where a read-only folder would not refuse anything.
    monkeypatch.setattr(copier, "run_copy", refused)

    code, err = run_cli([str(FIXTURES / "v104_notes"), str(tmp_path / "out")], capsys)

    assert code == 1 and err.count("\n") == 1
    assert "cannot write DEST (Permission denied" in err and "internal" not in err


def test_step_named_files_without_motia_configs_are_no_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tool whose `steps/*_step.py` hold classes: Motia's `load_and_register_step` needs a
    module-level `config` and `handler`, so it registered nothing; neither does the import."""
    write(
        tmp_path / "tool",
        {
            "requirements.txt": "rich>=13\n",
            "steps/intro_step.py": "class IntroStep:\n    def run(self) -> None: ...\n",
            "steps/outro_step.py": "class OutroStep:\n    def run(self) -> None: ...\n",
        },
    )

    code, err = run_cli([str(tmp_path / "tool"), str(tmp_path / "out")], capsys)

    assert code == 1 and err.count("\n") == 1
    assert (
        "found 2 step-like file(s) but converted none" in err and "no module-level `config`" in err
    )
    assert not (tmp_path / "out").exists()
