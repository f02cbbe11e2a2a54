"""Reading a Motia project: which generation and version it pins, which files Motia loaded as
steps under that version's rule, and what each step config says. Quick: nothing is installed."""

from pathlib import Path
from textwrap import dedent

import pytest

from motia_import.configs import read_step
from motia_import.discovery import discover, rule_for
from motia_import.model import Opaque
from motia_import.project import read_project
from motia_import.registrations import api_path, cron_expression, slug
from motia_import.static_eval import evaluate_path
from motia_import.versions import Version, parse_version, pinned_version
from tests.importer.motia_files import FIXTURES, write


def step_of(source: str, name: str = "steps/x_step.py"):  # type: ignore[no-untyped-def]
    import ast

    text = dedent(source)
    return read_step(Path(name), text, ast.parse(text), None)


# Versions and pins ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("^0.14.0-beta.164", Version(0, 14, 0, 1, 164)),
        ("==1.0.0rc17", Version(1, 0, 0, 2, 17)),
        ("1.0.4", Version(1, 0, 4)),
        (">=1.0.0rc10,<2", Version(1, 0, 0, 2, 10)),
        ("~0.8.2-beta.139", Version(0, 8, 2, 1, 139)),
    ],
)
def test_versions_parse_as_npm_and_pypi_spell_them(text: str, version: Version) -> None:
    assert pinned_version(text) == version


def test_pre_releases_sort_before_their_release() -> None:
    assert parse_version("1.0.0rc21") < parse_version("1.0.0rc22") < parse_version("1.0.0")  # type: ignore[operator]


@pytest.mark.parametrize(
    ("name", "generation", "version", "source"),
    [
        ("v0_shop", "0.x", "0.8.2b139", "package.json"),
        ("rc_helpdesk", "1.x", "1.0.0rc17", "Python requirements"),
        ("v104_notes", "1.x", "1.0.4", "uv.lock/poetry.lock"),
    ],
)
def test_the_fixture_projects_pin_their_generation(
    name: str, generation: str, version: str, source: str
) -> None:
    project = read_project(FIXTURES / name)

    assert (project.generation, str(project.motia_version), project.version_source) == (
        generation,
        version,
        source,
    )


def test_dependencies_carry_over_without_motia_or_the_sdk(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "requirements.txt": """\
                motia[otel]==1.0.0rc17
                iii-sdk==0.2.0
                -r more.txt
                requests>=2  # http
                --index-url https://example.invalid/simple
                """,
            "more.txt": "python-dateutil>=2.8\n",
        },
    )

    project = read_project(tmp_path)

    assert project.dependencies.requirements == ["python-dateutil>=2.8", "requests>=2"]
    assert any("--index-url" in note for note in project.dependencies.notes)
    assert project.package_manager == "pip"


def test_poetry_dependencies_become_pep_508(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": """\
                [tool.poetry]
                name = "flows"
                [tool.poetry.dependencies]
                python = "^3.11"
                motia = "^1.0.4"
                httpx = "^0.27"
                """
        },
    )

    project = read_project(tmp_path)

    # Poetry's caret has an upper bound: ^1.0.4 is 1.0.4 and later 1.x releases.
    assert project.generation == "1.x" and str(project.motia_version) == "1.0.4"
    assert project.motia_range == ">=1.0.4,<2"
    assert project.dependencies.requirements == ["httpx>=0.27,<0.28"]


def test_the_python_version_comes_from_the_project(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.13"\n'})

    assert read_project(tmp_path).python_version == "3.13"


def test_without_a_pin_the_step_configs_tell_the_generation(tmp_path: Path) -> None:
    write(tmp_path, {"steps/a_step.py": 'config = {"type": "event", "subscribes": ["x"]}\n'})

    assert read_project(tmp_path).generation == "0.x"


# Discovery (each release's rule: test_motia_import_sources.py) ---------------------------------


def test_discovery_skips_tests_copies_and_other_suffixes_and_lists_typescript(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        {
            "steps/a/create_step.py": "",
            "steps/a/create_step_test.py": "",
            "steps/a/create.step.test.py": "",
            "steps/a/old.step.py": "",
            "steps/a/notify.step.ts": "",
            "steps/a/ui_step.tsx": "",
            "src/b/list_step.py": "",
            "dist/steps/create_step.py": "",
            "steps/node_modules/pkg/x_step.py": "",
            "steps/.cache/y_step.py": "",
            "steps/a/orders_stream.py": "",
        },
    )

    found = discover(tmp_path, rule_for("1.x", Version(1, 0, 4)))

    assert [str(p) for p in found.steps] == ["src/b/list_step.py", "steps/a/create_step.py"]
    assert [str(p) for p in found.streams] == ["steps/a/orders_stream.py"]
    assert [str(p) for p in found.other_language] == ["steps/a/notify.step.ts"]
    skipped = {str(p): why for p, why in found.skipped}
    assert set(skipped) == {
        "steps/a/create_step_test.py",
        "steps/a/create.step.test.py",
        "steps/a/old.step.py",
        "dist/steps/create_step.py",
    }
    assert "outside" in skipped["dist/steps/create_step.py"]


# Step configs -----------------------------------------------------------------------------------


def test_a_0x_api_config_reads_path_method_and_middleware() -> None:
    read = step_of(
        """\
        from .mw import auth
        config = {"type": "api", "name": "GetOrder", "path": "/orders/{id}", "method": "get",
                  "middleware": [auth], "emits": [{"topic": "order.read", "label": "x"}]}
        async def handler(req, context): ...
        """
    )

    assert read.step is not None
    step = read.step
    (trigger,) = step.triggers
    assert (step.shape, trigger.kind, trigger.method, trigger.path) == (
        "0.x",
        "http",
        "GET",
        "/orders/{id}",
    )
    assert trigger.middleware == ["auth"]
    assert step.emits == ["order.read"]


def test_a_0x_event_config_gives_one_trigger_per_subscribed_topic() -> None:
    read = step_of(
        """\
        TOPIC = "order.paid"
        config = {"type": "event", "name": "Ship", "subscribes": [TOPIC, f"{TOPIC}.retry"]}
        async def handler(input, context): ...
        """
    )

    assert read.step is not None
    assert [t.topic for t in read.step.triggers] == ["order.paid", "order.paid.retry"]


def test_a_1x_config_reads_every_trigger_helper_and_raw_dicts() -> None:
    read = step_of(
        """\
        from motia import http, queue, cron, state, stream, QueueConfig, api
        def is_open(input, ctx): return True
        config = {
            "name": "Everything",
            "triggers": [
                http("POST", "/x", middleware=[m1], condition=is_open),
                api("GET", "/x/:id"),
                queue("t", config=QueueConfig(max_retries=5, backoff_type="exponential")),
                cron("0 0 * * * *"),
                state(),
                stream("chat", group_id="room"),
                {"type": "queue", "topic": "raw"},
                lambda: None,
            ],
        }
        async def handler(input, ctx): ...
        """
    )

    assert read.step is not None
    triggers = read.step.triggers
    assert [t.kind for t in triggers] == [
        "http",
        "http",
        "queue",
        "cron",
        "state",
        "stream",
        "queue",
    ]
    assert triggers[0].condition == "is_open" and triggers[0].middleware == ["m1"]
    assert triggers[2].queue_config == {"maxRetries": 5, "backoffType": "exponential"}
    assert (triggers[5].stream_name, triggers[5].group_id) == ("chat", "room")
    assert any("could not be read" in p for p in read.step.config_problems)


def test_step_builders_and_handler_aliases_are_read() -> None:
    read = step_of(
        """\
        from motia import http, step
        async def run(request, ctx): ...
        config = step({"name": "Built", "triggers": [http("GET", "/b")]}, run)
        handler = run
        """
    )

    assert read.step is not None
    assert (read.step.name, read.step.handler) == ("Built", "run")


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("x = 1\n", "no module-level `config`"),
        ('config = {"name": "A", "triggers": []}\n', "no `handler`"),
        ('config = {"type": "noop", "name": "N"}\nasync def handler(): ...\n', "noop"),
        ("config = build_config()\nasync def handler(): ...\n", "could not be read"),
    ],
)
def test_files_that_are_not_steps_say_why(source: str, reason: str) -> None:
    read = step_of(source)

    assert read.step is None and reason in read.reason


def test_a_trigger_built_from_the_environment_is_reported_not_guessed() -> None:
    read = step_of(
        """\
        import os
        from motia import http
        config = {"name": "Env", "triggers": [http("GET", os.environ["ROUTE"])]}
        async def handler(request, ctx): ...
        """
    )

    assert read.step is not None
    (trigger,) = read.step.triggers
    assert trigger.path == "" and "not a plain string" in trigger.problems[0]


# What the registrations get ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected", "noted"),
    [
        ("0 2 * * *", "0 0 2 * * *", True),
        ("0 */15 * * * *", "0 */15 * * * *", False),
        ("0 0 3 * * * *", "0 0 3 * * * *", False),
        ("@daily", "@daily", False),
        ("every day", "", True),
    ],
)
def test_cron_expressions_get_seconds_first(expression: str, expected: str, noted: bool) -> None:
    converted, note = cron_expression(expression)

    assert converted == expected
    assert bool(note) == noted


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/orders/{id}", "/orders/:id"),
        ("orders/:id", "/orders/:id"),
        ("/a/{b}/c/{d_e}", "/a/:b/c/:d_e"),
    ],
)
def test_brace_and_colon_parameters_both_become_colon_segments(path: str, expected: str) -> None:
    assert api_path(path) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("CreateTicket", "create-ticket"), ("SSE Example", "sse-example"), ("bebop-bemu-sim", "bebop-bemu-sim"),
     ("APIHealth", "api-health"), ("api.v1.users", "api-v1-users")],
)  # fmt: skip
def test_step_names_become_function_id_slugs(name: str, expected: str) -> None:
    assert slug(name) == expected


def test_sys_path_expressions_are_worked_out_from_file() -> None:
    import ast

    file, cwd = "/p/steps/a/x_step.py", "/p"
    cases = {
        'os.path.join(os.path.dirname(__file__), "..", "..", "lib")': "/p/lib",
        "os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))": "/p/steps",
        'str(Path(__file__).resolve().parent / "scripts")': "/p/steps/a/scripts",
        "Path(__file__).parents[2]": "/p",
        '"src"': "/p/src",
    }
    for source, expected in cases.items():
        assert evaluate_path(ast.parse(source, mode="eval").body, {}, file, cwd) == expected, source
    assert evaluate_path(ast.parse("os.environ['X']", mode="eval").body, {}, file, cwd) is None


def test_opaque_values_keep_their_source() -> None:
    read = step_of(
        """\
        from motia import http
        config = {"name": "A", "triggers": [http("GET", "/a", body_schema=Body)]}
        async def handler(request, ctx): ...
        """
    )

    assert read.step is not None
    assert read.step.triggers[0].body_schema == "Body"
    assert Opaque("x").source == "x"
