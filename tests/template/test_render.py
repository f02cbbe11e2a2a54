"""What each set of answers renders: which files, and the facts the engine depends on in them."""

import ast
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.kinds import KINDS, OFFERED, registrations
from harness.projects import DEFAULTS, RENDERS, TEMPLATE

Render = Callable[..., Path]

MODULES = {kind: KINDS[kind]["module"] for kind in OFFERED}


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("kind", MODULES)
def test_each_trigger_kind_renders_its_handler_its_test_and_the_import(
    rendered: Render, kind: str
) -> None:
    project = rendered(triggers=[kind])
    module = MODULES[kind]

    handlers = {p.name for p in (project / "src" / "handlers").glob("*.py")}
    health = {"health.py"} if "http" in KINDS[kind]["engine"] else set()
    assert handlers == {"__init__.py", f"{module}.py", *health}
    assert (project / "tests" / f"test_{module}.py").is_file()
    assert f'"src.handlers.{module}"' in (project / "src" / "main.py").read_text()


def test_no_trigger_renders_one_plain_function(rendered: Render) -> None:
    project = rendered(triggers=[])

    handlers = {p.name for p in (project / "src" / "handlers").glob("*.py")}
    assert handlers == {"__init__.py", "greet.py"}
    assert "register_trigger" not in (project / "src" / "handlers" / "greet.py").read_text()


def test_every_rendered_python_file_parses(rendered: Render) -> None:
    project = rendered(**RENDERS["all"])

    for path in project.rglob("*.py"):
        ast.parse(path.read_text(), filename=str(path))


def test_answers_file_keeps_answers_but_not_computed_values(rendered: Render) -> None:
    answers = yaml.safe_load((rendered(**RENDERS["all"]) / ".copier-answers.yml").read_text())

    assert answers["worker_name"] == "orders-worker"
    assert answers["iii_line"] == "0.25"
    assert {"catalogue", "chosen_handlers", "handlers", "line", "summary"}.isdisjoint(answers)


def test_pyproject_pins_the_sdk_of_the_line(rendered: Render) -> None:
    pyproject = tomllib.loads((rendered() / "pyproject.toml").read_text())

    assert pyproject["project"]["dependencies"] == ["iii-sdk==0.25.0"]
    assert pyproject["tool"]["pytest"]["ini_options"]["filterwarnings"] == [
        "error",
        "ignore:register_trigger is deprecated:DeprecationWarning",
    ]


def compose(project: Path) -> dict:  # type: ignore[type-arg]
    loaded = yaml.safe_load((project / "worker-compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


# Keys the 0.25 compose format is known to accept (the 0.25 docs' example and the parser generation
# it matches; see the engine audit); it rejects unknown ones (deny_unknown_fields). `restart` is
# left out: no 0.25 source or doc shows it, and one unknown key would stop `iii compose` whole.
COMPOSE_KEYS = {
    "namespace",
    "startup_timeout",
    "stop_timeout",
    "required_default",
    "engine",
    "containers",
}
ENGINE_WORKERS = {
    "configuration",
    "iii-worker-manager",
    "iii-http-functions",
    "iii-stream",
    "iii-sandbox",
}
CONTAINER_KEYS = {
    "worker", "version", "start_after", "config_name", "config_override", "scripts",
    "working_dir", "environment", "env_file", "startup_timeout", "required",
}  # fmt: skip
SCRIPT_KEYS = {"pre_run", "pre_run_timeout", "run", "post_run"}


@pytest.mark.parametrize("name", ["none", "http", "cron", "queue", "stream", "all", "all-pip"])
def test_worker_compose_uses_only_keys_the_engine_accepts(rendered: Render, name: str) -> None:
    spec = compose(rendered(**RENDERS[name]))

    assert set(spec) <= COMPOSE_KEYS
    assert set(spec["engine"]["workers"]) <= ENGINE_WORKERS
    for container in spec["containers"].values():
        assert set(container) <= CONTAINER_KEYS
        assert set(container.get("scripts", {})) <= SCRIPT_KEYS
        if container["worker"].startswith("package://"):
            assert isinstance(container["version"], str) and "scripts" not in container


@pytest.mark.parametrize(
    ("triggers", "packages"),
    [
        ([], set()),
        (["http"], {"http", "state"}),
        (["http-middleware"], {"http"}),
        (["cron"], {"cron", "state"}),
        (["queue"], {"queue"}),
        (["subscribe"], {"pubsub"}),
        (["state"], {"state"}),
        (["stream", "stream-join-leave", "stream-auth"], set()),
    ],
)
def test_worker_compose_runs_the_engine_workers_the_triggers_need(
    rendered: Render, triggers: list[str], packages: set[str]
) -> None:
    spec = compose(rendered(triggers=triggers))

    worker = spec["containers"].pop("my-worker")
    assert set(spec["containers"]) == packages
    assert worker["worker"] == "path://."
    assert set(worker.get("start_after", [])) == packages
    assert "python -m src.main" in worker["scripts"]["run"]


def test_stream_auth_is_wired_as_the_iii_stream_auth_function(rendered: Render) -> None:
    spec = compose(rendered(triggers=["stream-join-leave", "stream-auth"]))

    assert spec["engine"]["workers"]["iii-stream"]["auth_function"] == "my-worker::stream-auth"


def test_streams_without_auth_get_iii_stream_without_an_auth_function(rendered: Render) -> None:
    spec = compose(rendered(triggers=["stream"]))

    assert "auth_function" not in spec["engine"]["workers"]["iii-stream"]


@pytest.mark.parametrize("package_manager", ["uv", "pip"])
def test_dockerfile_is_multi_stage_with_one_base_a_non_root_user_and_exec_form_cmd(
    rendered: Render, package_manager: str
) -> None:
    dockerfile = rendered(package_manager=package_manager, python_version="3.11") / "Dockerfile"
    lines = dockerfile.read_text().splitlines()

    bases = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert bases == ["python:3.11-slim", "python:3.11-slim"]
    assert "USER 10001" in lines
    assert lines[-1] == 'CMD ["python", "-m", "src.main"]'
    # Dependencies are installed before the source is copied in.
    copy_src = lines.index("COPY src ./src")
    assert any("install" in line or "sync" in line for line in lines[:copy_src])


def test_virtualenv_only_deploy_renders_no_container_files(rendered: Render) -> None:
    project = rendered(deploy=["virtualenv"])

    assert {"Dockerfile", ".dockerignore"}.isdisjoint(files(project))
    assert "pip install ." in (project / "README.md").read_text()


def test_readme_lists_every_registered_function_and_the_guide_errata(rendered: Render) -> None:
    readme = (rendered(**RENDERS["all"]) / "README.md").read_text()

    for function_id in [
        "orders-worker::items::create",
        "orders-worker::admin::require-api-key",
        "orders-worker::heartbeat",
        "orders-worker::jobs::process",
        "orders-worker::stream-presence::join",
        "orders-worker::stream-auth",
    ]:
        assert f"`{function_id}`" in readme
    assert "`status_code`, not `statusCode`" in readme
    assert "UNSUPPORTED_CONFIG_WORKERS" in readme


def test_cli_copy_takes_defaults_and_a_data_file(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yml"
    answers.write_text(yaml.safe_dump(RENDERS["all"]))
    destination = tmp_path / "from-cli"

    copier = [sys.executable, "-m", "copier", "copy", "--defaults", "--quiet", "--vcs-ref", "HEAD"]

    result = subprocess.run(
        [*copier, "--data-file", str(answers), str(TEMPLATE), str(destination)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    written = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    assert written["triggers"] == RENDERS["all"]["triggers"]
    assert (destination / "src" / "handlers" / "stream_auth.py").is_file()


# Both lines run the engine's built-in workers under their iii- names (on 0.22 the unprefixed names
# are registry workers fetched at their newest release, whose queue lacks durable:subscriber).
BUILT_IN_WORKERS = [
    "iii-http", "iii-cron", "iii-queue", "iii-pubsub", "iii-state", "iii-stream", "iii-exec",
]  # fmt: skip


@pytest.mark.parametrize(("line", "sdk"), [("0.22", "0.22.1"), ("0.11", "0.11.6")])
def test_older_lines_run_under_config_yaml_with_the_built_in_workers(
    rendered: Render, line: str, sdk: str
) -> None:
    project = rendered(**{**RENDERS["all"], "iii_line": line})
    config = yaml.safe_load((project / "config.yaml").read_text())

    assert not (project / "worker-compose.yaml").exists()
    assert set(config) == {"workers"}
    assert [worker["name"] for worker in config["workers"]] == BUILT_IN_WORKERS
    workers = {worker["name"]: worker.get("config", {}) for worker in config["workers"]}
    assert workers["iii-stream"]["auth_function"] == "orders-worker::stream-auth"
    # One whole shell command per exec entry (not the guide's [python, -m, src.main]).
    assert workers["iii-exec"] == {"watch": ["src/**/*.py"], "exec": ["uv run python -m src.main"]}
    assert tomllib.loads((project / "pyproject.toml").read_text())["project"]["dependencies"] == [
        f"iii-sdk=={sdk}"
    ]


def test_the_0_11_line_imports_logger_from_iii(rendered: Render) -> None:
    lib = rendered(iii_line="0.11") / "src" / "lib"

    assert "from iii import Logger\n" in (lib / "sdk_gaps.py").read_text()
    assert "worker_description=" not in (lib / "iii_client.py").read_text()


def test_projects_carry_the_add_handler_script_verbatim(rendered: Render) -> None:
    shipped = (rendered() / "scripts" / "add_handler.py").read_text()

    assert shipped == (TEMPLATE / "hooks" / "add_handler.py").read_text()


def literal(source: str, name: str) -> Any:
    """The value of a module-level assignment to `name` (`set()` included)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign | ast.Assign) and node.value is not None:
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
            if isinstance(target, ast.Name) and target.id == name:
                if isinstance(node.value, ast.Call):  # set()
                    return set()
                return ast.literal_eval(node.value)
    raise LookupError(name)


EXTRAS = [
    {"kind": "http", "name": "orders", "path": "/orders"},
    {"kind": "subscribe", "name": "alerts", "topic": "alerts.fired"},
    {"kind": "cron", "name": "nightly", "expression": "0 0 3 * * *"},
]


@pytest.mark.parametrize(
    "answers",
    [
        {"triggers": OFFERED},
        {"triggers": []},
        {"triggers": ["http"], "extra_handlers": EXTRAS},
        {"worker_name": "payments-reconciliation-worker", "triggers": ["stream", "queue"]},
    ],
    ids=["every kind", "none", "with added handlers", "long names"],
)
def test_test_main_expects_what_the_catalogue_says_each_handler_registers(
    rendered: Render, answers: dict[str, Any]
) -> None:
    full = {**DEFAULTS, "queue_topic": "{worker}.jobs", **answers}
    full["queue_topic"] = full["queue_topic"].replace("{worker}", full["worker_name"])
    functions, triggers = registrations(full)
    source = (rendered(**answers) / "tests" / "test_main.py").read_text()

    assert literal(source, "EXPECTED_FUNCTIONS") == functions
    assert sorted(map(repr, literal(source, "EXPECTED_TRIGGERS"))) == sorted(map(repr, triggers))


def test_own_modules_are_imported_and_served_and_replace_the_sample_function(
    rendered: Render,
) -> None:
    project = rendered(triggers=[], own_modules=[{"module": "steps", "needs": ["http", "queue"]}])

    main = (project / "src" / "main.py").read_text()
    assert '"src.steps",' in main and '"src.handlers.health",' in main  # health comes with http
    assert {p.name for p in (project / "src" / "handlers").glob("*.py")} == {
        "__init__.py",
        "health.py",
    }
    assert set(compose(project)["containers"]) == {"http", "queue", "my-worker"}
    test_main = (project / "tests" / "test_main.py").read_text()
    assert "set(engine.functions) >= EXPECTED_FUNCTIONS" in test_main


@pytest.mark.parametrize(("line", "name"), [("0.22", "iii-pubsub"), ("0.11", "iii-pubsub")])
def test_pubsub_runs_under_the_lines_built_in_name(rendered: Render, line: str, name: str) -> None:
    config = yaml.safe_load(
        (rendered(triggers=["subscribe"], iii_line=line) / "config.yaml").read_text()
    )

    assert [worker["name"] for worker in config["workers"]] == [name, "iii-exec"]


def test_projects_carry_their_update_tools_as_dev_dependencies(rendered: Render) -> None:
    pyproject = tomllib.loads((rendered() / "pyproject.toml").read_text())
    dev = " ".join(pyproject["dependency-groups"]["dev"])

    for tool in ("copier", "libcst", "pre-commit", "pyyaml"):
        assert tool in dev


def test_projects_carry_the_move_line_script_verbatim(rendered: Render) -> None:
    shipped = (rendered() / "scripts" / "move_line.py").read_text()

    assert shipped == (TEMPLATE / "hooks" / "move_line.py").read_text()


@pytest.mark.parametrize(
    ("triggers", "workers"),
    [
        ([], []),
        (["http"], ["http", "http_port", "state", "update_ops"]),
        (["stream", "stream-auth"], ["stream", "stream_auth", "stream_port", "update_ops"]),
        (["cron", "queue", "subscribe"], ["cron", "pubsub", "queue", "state", "update_ops"]),
    ],
)
def test_the_engine_double_carries_the_modules_of_the_engine_workers_the_project_runs(
    rendered: Render, triggers: list[str], workers: list[str]
) -> None:
    project = rendered(triggers=triggers)
    package = project / "tests" / "engine_double"
    # The engine's own parts; iii-http-functions, which no run config here starts, is not shipped.
    shared = ["__init__", "__main__", "core", "driving", "engine_fn", "lines", "protocol"]
    shared += ["trigger_types", "observe"]  # observe: the default line's (0.25) observers

    assert sorted(p.stem for p in package.iterdir()) == sorted(shared + workers)
    assert all(
        p.read_text().startswith("# Owned by the copier-iii-worker template")
        for p in package.iterdir()
    )
    # The project's double starts with exactly those engine workers, importing nothing more.
    probe = (
        "import sys; from tests.engine_double import EngineDouble; "
        "d = EngineDouble.for_project('.'); "
        "print(sorted(d.providers), sorted(m for m in sys.modules if m.startswith('tests.engine')))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], cwd=project, capture_output=True, text=True, check=True
    ).stdout
    # Not engine workers; the ports load only at start().
    helpers = {"update_ops", "http_port", "stream_port"}
    providers = sorted({{"stream_auth": "stream"}.get(w, w) for w in workers} - helpers)
    loaded = sorted(
        f"tests.engine_double.{m}"
        for m in shared + workers
        if m not in {"__init__", "__main__", "http_port", "stream_port"}
    )
    assert shown.strip() == f"{providers} {['tests.engine_double', *loaded]}"


@pytest.mark.parametrize("line", ["0.22", "0.11"])
def test_only_a_0_25_project_carries_the_doubles_observers(rendered: Render, line: str) -> None:
    package = rendered(iii_line=line) / "tests" / "engine_double"

    assert (package / "core.py").exists()
    assert not (package / "observe.py").exists()


OWNED_HEADER = "# Owned by the copier-iii-worker template: `copier update` replaces this file.\n"
YOURS = ("src/handlers/", "README.md", "pyproject.toml")


def test_main_is_the_handler_modules_and_one_call_with_no_private_sdk_names(
    rendered: Render,
) -> None:
    project = rendered(triggers=OFFERED, extra_handlers=EXTRAS)
    main = project / "src" / "main.py"

    assert len(main.read_text().splitlines()) <= 60
    assert main.read_text().rstrip().endswith("raise SystemExit(run(HANDLER_MODULES))")
    private = {
        f"{path.relative_to(project)}: {node.attr}"
        for path in [main, *(project / "src" / "handlers").glob("*.py")]
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr.startswith("_")
        if not node.attr.startswith("__")
    }
    assert private == set()


def test_every_maintained_file_says_so_in_its_first_line_and_the_users_files_do_not(
    rendered: Render,
) -> None:
    project = rendered(triggers=OFFERED, deploy=["container"])
    said = {
        name
        for name in files(project)
        if OWNED_HEADER in (project / name).read_text().splitlines(keepends=True)[:3]
    }
    silent = {
        name
        for name in files(project) - said
        if (project / name).stat().st_size and not name.startswith((".git/", "deploy/"))
    }

    assert {name for name in said if name.startswith(YOURS)} == set()
    assert {n for n in silent if not n.startswith(YOURS) and not n.startswith("tests/test_")} == {
        ".copier-answers.yml",  # copier's own warning heads it
        ".python-version",  # a bare version: no comments
        "renovate.json",  # JSON: no comments
    }
    handler_tests = {n for n in silent if n.startswith("tests/test_")}
    assert handler_tests == {f"tests/test_{m}.py" for m in MODULES.values()} | {
        "tests/test_health.py"
    }
    assert all(
        "def test_registers_its_functions_and_triggers(" in (project / name).read_text()
        for name in handler_tests
    )
    readme = (project / "README.md").read_text()
    assert "| yours: edit freely" in readme and "## Requests to the iii SDK" in readme
