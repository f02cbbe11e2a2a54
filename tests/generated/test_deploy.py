"""The production files (`production` answer): what each option renders on each iii line, checked
offline against the Kubernetes API schemas and the compose specification, and the facts the
engine and the worker depend on in them."""

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from importlib.resources import files as package_files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from kubernetes_validate.utils import ValidationError, validate
from pytest_copie.plugin import Copie

from harness.projects import TEMPLATE
from tests.template.test_questions import first_line, refusal
from tests.template.test_render import CONTAINER_KEYS

Render = Callable[..., Path]

KUBERNETES_VERSION = "1.32.0"  # the API the manifests are checked against (kubectl here is 1.32)
LINES: dict[str, dict[str, Any]] = yaml.safe_load((TEMPLATE / "lines.yml").read_text())
EVERY_KIND = [
    "http", "http-middleware", "cron", "queue", "subscribe", "state", "stream",
    "stream-join-leave", "stream-auth",
]  # fmt: skip
BOTH = ["compose", "kubernetes"]
ENGINE_UID, WORKER_UID = 65532, 10001  # iiidev/iii's distroless nonroot user; the Dockerfile's
# What the 0.23+ engine's config.yaml may list (iii.dev/docs/0-25-0/using-iii/engine).
ENGINE_OWNED_WORKERS = {
    "configuration",
    "iii-worker-manager",
    "iii-http-functions",
    "iii-stream",
    "iii-sandbox",
}
# Each engine worker's shared adapter as the engine source names it.
ADAPTERS = {
    "state": ("redis", "redis_url"),
    "stream": ("redis", "redis_url"),
    "cron": ("redis", "redis_url"),
    "pubsub": ("redis", "redis_url"),
    "queue": ("rabbitmq", "amqp_url"),
}
COMPOSE_SPEC = json.loads(
    package_files("check_jsonschema.builtin_schemas.vendor")
    .joinpath("compose-spec.json")
    .read_text()
)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_all(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def kubernetes_errors(document: dict[str, Any]) -> str | None:
    try:
        validate(document, KUBERNETES_VERSION, strict=True)
    except ValidationError as error:
        return str(error)
    return None


def compose_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.validators.validator_for(COMPOSE_SPEC)(COMPOSE_SPEC)  # draft 2020-12
    return [error.message for error in validator.iter_errors(document)]


def kustomize(directory: Path) -> str:
    """`kubectl kustomize`, offline: the manifests as the cluster would get them."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the base and overlay files are checked one by one")
    built = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, built.stderr
    return built.stdout


def base_manifests(project: Path) -> Iterator[dict[str, Any]]:
    base = project / "deploy" / "kubernetes" / "base"
    for name in load(base / "kustomization.yaml")["resources"]:
        yield load(base / name)


def deployment(project: Path) -> dict[str, Any]:
    [found] = [m for m in base_manifests(project) if m["kind"] == "Deployment"]
    return found


def containers(project: Path) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in deployment(project)["spec"]["template"]["spec"]["containers"]}


def python_constant(source: Path, name: str) -> float:
    """A number the generated code defines, so the tests follow it when it changes."""
    match = re.search(rf"{name}\s*=\s*([0-9.]+)", source.read_text())
    assert match, f"{name} not found in {source}"
    return float(match.group(1))


def drain_seconds(project: Path) -> float:
    """How long a stopping worker may take: running invocations, then closing the client."""
    grace = python_constant(project / "src" / "lib" / "runtime.py", "DEFAULT_STOP_GRACE_SECONDS")
    close = python_constant(
        project / "src" / "lib" / "iii_client.py", r"def stop_client\(timeout: float"
    )
    return grace + close


@pytest.fixture(params=list(LINES))
def line(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def render_of_line(shared_render: Callable[..., Path]) -> Callable[[str], Path]:
    """Every trigger kind and both production options, rendered once per line (the tests only
    read it)."""
    return lambda line: shared_render(triggers=EVERY_KIND, iii_line=line, production=BOTH)


@pytest.fixture
def everything(render_of_line: Callable[[str], Path], line: str) -> Path:
    return render_of_line(line)


# --- What each answer renders -----------------------------------------------------------------


def test_the_default_render_has_no_production_files(rendered: Render) -> None:
    project = rendered()

    assert not (project / "deploy").exists()
    assert "deploy/README.md" not in (project / "README.md").read_text()


@pytest.mark.parametrize(
    ("production", "present", "absent"),
    [
        (["compose"], {"compose.yaml", "engine/config.yaml"}, {"kubernetes"}),
        (["kubernetes"], {"kubernetes/base/kustomization.yaml"}, {"compose.yaml", "engine"}),
    ],
)
def test_each_option_renders_only_its_files(
    rendered: Render, production: list[str], present: set[str], absent: set[str]
) -> None:
    deploy = rendered(production=production) / "deploy"

    for name in present | {"README.md", ".env.example"}:
        assert (deploy / name).is_file(), name
    for name in absent:
        assert not (deploy / name).exists(), name


def test_production_without_the_container_deploy_is_refused(
    copie: Copie, template_copy: Path
) -> None:
    refused = refusal(copie, template_copy, {"deploy": ["virtualenv"], "production": ["compose"]})

    assert first_line(refused) == "Choose container under deploy first, or no production files"
    assert len(first_line(refused)) < 70


def test_an_unknown_production_option_is_refused(copie: Copie, template_copy: Path) -> None:
    result = copie.copy(extra_answers={"production": ["helm"]}, template_dir=template_copy)

    assert result.exit_code != 0
    assert "compose" in str(result.exception)


def test_the_generated_readme_links_the_operational_readme(everything: Path) -> None:
    readme = (everything / "README.md").read_text()

    assert "`deploy/README.md`" in readme
    assert (everything / "deploy" / "README.md").is_file()


def test_every_rendered_yaml_file_parses(everything: Path) -> None:
    for path in (everything / "deploy").rglob("*.yaml"):
        assert load_all(path.read_text()), path


# --- Offline validation -------------------------------------------------------------------------


def test_every_kubernetes_manifest_passes_the_api_schemas(everything: Path) -> None:
    for manifest in base_manifests(everything):
        assert kubernetes_errors(manifest) is None, manifest["kind"]


@pytest.mark.parametrize("layer", ["base", "overlays/production"])
def test_the_kustomize_build_passes_the_api_schemas(everything: Path, layer: str) -> None:
    built = load_all(kustomize(everything / "deploy" / "kubernetes" / layer))

    assert {doc["kind"] for doc in built} == {
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    for document in built:
        assert kubernetes_errors(document) is None, document["kind"]


def test_the_api_schemas_refuse_an_unknown_field(everything: Path) -> None:
    broken = deployment(everything)
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}

    assert kubernetes_errors(broken) is not None


def test_the_compose_file_passes_the_compose_specification(everything: Path) -> None:
    assert compose_errors(load(everything / "deploy" / "compose.yaml")) == []


def test_the_compose_specification_refuses_an_unknown_key(everything: Path) -> None:
    broken = load(everything / "deploy" / "compose.yaml")
    broken["services"]["worker"]["restart_policy"] = "always"

    assert compose_errors(broken) != []


def test_the_production_overlay_sets_replicas_and_the_image(everything: Path) -> None:
    built = load_all(kustomize(everything / "deploy" / "kubernetes" / "overlays" / "production"))
    [unit] = [doc for doc in built if doc["kind"] == "Deployment"]

    assert unit["spec"]["replicas"] == 3
    images = {c["name"]: c["image"] for c in unit["spec"]["template"]["spec"]["containers"]}
    assert images["worker"] == "registry.example.com/my-worker:0.1.0"


# --- The engine, pinned and configured as the line's source says ------------------------------


def test_the_engine_image_is_the_lines_pinned_engine(everything: Path, line: str) -> None:
    image = f"iiidev/iii:{LINES[line]['engine']}"
    services = load(everything / "deploy" / "compose.yaml")["services"]
    engines = {name: s["image"] for name, s in services.items() if name.startswith("engine")}
    pods = {name: c["image"] for name, c in containers(everything).items() if name != "worker"}

    assert set(engines.values()) == {image}
    assert set(pods.values()) == {image}


def test_the_engine_and_sdk_pins_share_the_line(line: str) -> None:
    assert LINES[line]["engine"].rsplit(".", 1)[0] == line
    assert LINES[line]["sdk"].rsplit(".", 1)[0] == line


@pytest.mark.parametrize(
    "line", [name for name, line in LINES.items() if line["runner"] == "iii-exec"]
)
def test_config_yaml_lines_list_their_engine_workers_on_shared_adapters(
    rendered: Render, line: str
) -> None:
    project = rendered(triggers=EVERY_KIND, iii_line=line, production=["compose"])
    workers = {
        w["name"]: w.get("config", {})
        for w in load(project / "deploy/engine/config.yaml")["workers"]
    }
    names = LINES[line]["engine_workers"]

    assert "iii-exec" not in workers  # the worker runs in its own container
    assert set(workers) == {names[need] for need in ["http", *ADAPTERS]} | {"iii-worker-manager"}
    for need, (adapter, key) in ADAPTERS.items():
        assert workers[names[need]]["adapter"]["name"] == adapter
        assert set(workers[names[need]]["adapter"]["config"]) == {key}
    assert workers["iii-stream"]["auth_function"] == "my-worker::stream-auth"


def test_the_0_25_engine_lists_only_its_own_workers_and_compose_runs_the_rest(
    rendered: Render,
) -> None:
    project = rendered(triggers=EVERY_KIND, iii_line="0.25", production=["compose"])
    engine = load(project / "deploy/engine/config.yaml")
    compose = load(project / "deploy/engine/worker-compose.yaml")

    assert {w["name"] for w in engine["workers"]} <= ENGINE_OWNED_WORKERS
    assert engine["workers"][0]["config"]["adapter"] == {
        "name": "redis",
        "config": {"redis_url": "${REDIS_URL}"},
    }
    assert set(compose) == {"containers"}  # no engine: section, no path:// worker, no watcher
    packages = compose["containers"]
    assert {name: c["version"] for name, c in packages.items()} == LINES["0.25"]["packages"]
    for name, container in packages.items():
        assert set(container) <= CONTAINER_KEYS
        assert container["worker"] == f"package://api.workers.iii.dev/{name}"
        if name in ADAPTERS:
            adapter, key = ADAPTERS[name]
            assert container["config_override"]["adapter"]["name"] == adapter
            assert set(container["config_override"]["adapter"]["config"]) == {key}
        elif name == "http":
            assert container["config_override"] == {"concurrency_request_limit": 64}
        else:
            assert "config_override" not in container


def test_the_kubernetes_engine_files_are_the_compose_ones(everything: Path) -> None:
    deploy = everything / "deploy"
    for name in ["config.yaml", "worker-compose.yaml"]:
        compose_side = deploy / "engine" / name
        if compose_side.exists():
            assert (
                deploy / "kubernetes/base/engine" / name
            ).read_text() == compose_side.read_text()


def test_a_worker_without_engine_workers_needs_no_redis_rabbitmq_or_compose(
    rendered: Render,
) -> None:
    project = rendered(triggers=[], production=BOTH)
    services = load(project / "deploy/compose.yaml")["services"]

    assert set(services) == {"engine", "worker"}
    assert not (project / "deploy/engine/worker-compose.yaml").exists()
    assert set(containers(project)) == {"engine", "worker"}
    assert compose_errors(load(project / "deploy/compose.yaml")) == []
    for manifest in base_manifests(project):
        assert kubernetes_errors(manifest) is None


# --- Secrets -------------------------------------------------------------------------------------


def test_every_secret_the_files_read_is_in_env_example(everything: Path) -> None:
    deploy = everything / "deploy"
    listed = {
        line.split("=", 1)[0]
        for line in (deploy / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    interpolated = set(re.findall(r"\$\{([A-Z_]+)", (deploy / "compose.yaml").read_text()))
    # The engine expands every ${NAME} in its files, comments too, and stops when one is unset
    # and has no default (${NAME:default}).
    for engine_file in (deploy / "engine").glob("*.yaml"):
        interpolated |= set(re.findall(r"\$\{([^}:]+)\}", engine_file.read_text()))
    from_secret = {
        env["valueFrom"]["secretKeyRef"]["key"]
        for container in containers(everything).values()
        for env in container.get("env", [])
        if "valueFrom" in env
    }

    assert interpolated <= listed
    assert from_secret <= listed
    assert {"REDIS_URL", "RABBITMQ_URL", "API_KEY", "STREAM_AUTH_SECRET"} <= from_secret


def test_the_real_env_file_is_git_ignored_and_the_example_is_not(rendered: Render) -> None:
    everything = rendered(production=BOTH)
    git = shutil.which("git") or "git"
    subprocess.run([git, "init", "-q"], cwd=everything, check=True)
    (everything / "deploy" / ".env").write_text("REDIS_PASSWORD=secret\n")

    def ignored(name: str) -> bool:
        check = subprocess.run([git, "check-ignore", "-q", name], cwd=everything)
        return check.returncode == 0

    assert ignored("deploy/.env")
    assert not ignored("deploy/.env.example")
    assert not ignored("deploy/compose.yaml")


# --- Security, probes, shutdown ------------------------------------------------------------------


def test_every_container_runs_locked_down(everything: Path) -> None:
    pod = deployment(everything)["spec"]["template"]["spec"]

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    for name, container in containers(everything).items():
        context = container["securityContext"]
        assert context["runAsUser"] == (WORKER_UID if name == "worker" else ENGINE_UID), name
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["capabilities"] == {"drop": ["ALL"]}, name
        assert set(container["resources"]) == {"requests", "limits"}, name


def test_the_compose_services_drop_privileges_and_restart(everything: Path) -> None:
    services = load(everything / "deploy" / "compose.yaml")["services"]

    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        if name.startswith("engine") or name == "worker":
            assert service["read_only"] is True, name
            assert service["cap_drop"] == ["ALL"], name


def test_probes_work_with_a_distroless_engine_and_the_workers_health_route(
    everything: Path,
) -> None:
    units = containers(everything)
    engine_ports = {p["name"]: p["containerPort"] for p in units["engine"]["ports"]}

    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert units["engine"][probe]["tcpSocket"]["port"] in engine_ports, probe
    ports = {p["name"]: p["containerPort"] for c in units.values() for p in c.get("ports", [])}
    assert ports["http"] == 3111
    assert units["worker"]["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 3111}
    liveness = units["worker"]["livenessProbe"]
    assert liveness["httpGet"] == {"path": "/healthz", "port": 3111}
    # Longer than the SDK's reconnect backoff (30 s at most) after an engine restart.
    assert liveness["periodSeconds"] * liveness["failureThreshold"] > 30


def test_a_worker_without_http_has_no_health_probe(rendered: Render) -> None:
    project = rendered(triggers=["queue"], production=BOTH)
    worker = containers(project)["worker"]
    services = load(project / "deploy/compose.yaml")["services"]

    assert "readinessProbe" not in worker
    assert "livenessProbe" not in worker
    assert "healthcheck" not in services["worker"]


def test_the_grace_period_outlasts_the_workers_drain(everything: Path) -> None:
    pod = deployment(everything)["spec"]["template"]["spec"]
    drain = drain_seconds(everything)
    worker = load(everything / "deploy" / "compose.yaml")["services"]["worker"]

    assert drain == 13  # STOP_GRACE_SECONDS' default, then closing the client
    assert pod["terminationGracePeriodSeconds"] > drain
    assert float(worker["stop_grace_period"].removesuffix("s")) > drain


def pre_stop_seconds(container: dict[str, Any]) -> int:
    return int(container["lifecycle"]["preStop"]["sleep"]["seconds"])


def test_every_container_waits_before_sigterm_and_all_of_it_fits_the_grace_period(
    everything: Path,
) -> None:
    """The worker's own preStop lets the Service stop routing to it before SIGTERM (without it,
    a rollout answered 404s); then it drains and closes its client. The engine containers wait
    out all of that, and the whole sequence ends before the kubelet's SIGKILL."""
    pod = deployment(everything)["spec"]["template"]["spec"]
    units = containers(everything)
    env = {e["name"]: e.get("value") for e in units["worker"]["env"]}
    stop_grace = float(env["STOP_GRACE_SECONDS"])  # set in the manifest, not left to a default
    close = python_constant(
        everything / "src" / "lib" / "iii_client.py", r"def stop_client\(timeout: float"
    )
    worker_pre_stop = pre_stop_seconds(units["worker"])

    assert worker_pre_stop >= 3  # endpoint removal reaches kube-proxy and Ingresses in seconds
    assert worker_pre_stop + stop_grace + close < pod["terminationGracePeriodSeconds"]
    for name, container in units.items():
        if name != "worker":
            assert worker_pre_stop + stop_grace <= pre_stop_seconds(container), name
            assert pre_stop_seconds(container) < pod["terminationGracePeriodSeconds"], name


def test_a_pod_disruption_budget_keeps_a_unit_serving(everything: Path) -> None:
    manifests = {m["kind"]: m for m in base_manifests(everything)}
    selector = manifests["Deployment"]["spec"]["selector"]["matchLabels"]

    assert manifests["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    assert manifests["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == selector
    assert manifests["Service"]["spec"]["selector"] == selector
    assert manifests["Deployment"]["spec"]["replicas"] >= 2


def test_the_worker_connects_to_its_own_engine_and_runs_its_image(everything: Path) -> None:
    worker = containers(everything)["worker"]
    service = load(everything / "deploy" / "compose.yaml")["services"]["worker"]
    env = {e["name"]: e.get("value") for e in worker["env"]}

    assert env["III_URL"] == "ws://127.0.0.1:49134"
    assert service["environment"]["III_URL"] == "ws://engine:49134"
    assert "command" not in service and "command" not in worker  # the image's CMD, no watcher
    assert "develop" not in service  # no compose watch mode
    assert "watchfiles" not in (everything / "deploy" / "compose.yaml").read_text()


# --- Secure by default (issue 14) ----------------------------------------------------------------

SECRET_NAMES = re.compile(r"PASSWORD|SECRET|KEY|TOKEN|_URL$")  # the URLs carry the passwords


def example_values(project: Path) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in (project / "deploy" / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )


def test_the_example_env_file_gives_no_secret_a_usable_value(everything: Path) -> None:
    """Copied as is, compose must refuse to start: its `${VAR:?}` refuses only unset or empty
    values, and `change-me` opened the API and signed stream tokens."""
    values = example_values(everything)
    secrets = {name for name in values if SECRET_NAMES.search(name)}
    compose = (everything / "deploy" / "compose.yaml").read_text()

    assert {"API_KEY", "STREAM_AUTH_SECRET", "REDIS_PASSWORD", "RABBITMQ_PASSWORD"} <= secrets
    assert {name: values[name] for name in secrets} == dict.fromkeys(secrets, "")
    for name in secrets - {"REDIS_PASSWORD"}:  # Redis reads its password as a compose secret
        assert f"${{{name}:?" in compose, name
    readme = (everything / "deploy" / "README.md").read_text()
    assert "secrets.token_urlsafe(32)" in readme
    assert "exits 2" in readme


def test_redis_gets_its_password_from_a_file_not_a_command_line_or_environment(
    everything: Path,
) -> None:
    compose = load(everything / "deploy" / "compose.yaml")
    redis = compose["services"]["redis"]

    assert compose["secrets"]["redis_password"] == {"environment": "REDIS_PASSWORD"}
    assert redis["secrets"] == ["redis_password"]
    assert "environment" not in redis
    assert "${REDIS_PASSWORD" not in json.dumps(redis)  # interpolated, it shows in docker inspect
    assert "--requirepass" not in json.dumps(redis)


def test_compose_publishes_ports_on_the_loopback_unless_told_otherwise(everything: Path) -> None:
    services = load(everything / "deploy" / "compose.yaml")["services"]
    published = [port for service in services.values() for port in service.get("ports", [])]

    assert published  # http and streams
    for port in published:
        assert port.startswith("${BIND_ADDRESS:-127.0.0.1}:"), port
    assert example_values(everything)["BIND_ADDRESS"] == "127.0.0.1"


def test_every_compose_service_is_limited_and_gains_no_privileges(everything: Path) -> None:
    services = load(everything / "deploy" / "compose.yaml")["services"]

    assert {"redis", "rabbitmq", "worker", "engine"} <= set(services)
    for name, service in services.items():
        assert service["security_opt"] == ["no-new-privileges:true"], name
        assert set(service["deploy"]["resources"]["limits"]) == {"memory", "cpus", "pids"}, name
    assert services["worker"]["deploy"]["resources"]["limits"]["memory"] == "256m"


# Answer sets whose engine serves different public ports: none at all for a queue-only, a
# cron-only or a handler-less worker, where the Service once carried 49134.
# The last field: whether the engine container serves a port besides 49134, so that 49134 can be
# bound to the pod's loopback (the kubelet's probes take the other port).
PORT_ANSWERS: dict[str, tuple[list[str], str, set[int], bool]] = {
    "every kind": (EVERY_KIND, "0.25", {3111, 3112}, True),  # 3112 is on the engine
    "http": (["http"], "0.25", {3111}, False),  # 3111 is on the registry http worker
    "http on 0.22": (["http"], "0.22", {3111}, True),  # the 0.22 engine serves 3111 itself
    "stream": (["stream"], "0.25", {3112}, True),
    "queue": (["queue"], "0.25", set(), False),
    "cron on 0.11": (["cron"], "0.11", set(), False),
    "none": ([], "0.25", set(), False),
}


@pytest.fixture
def port_render(shared_render: Callable[..., Path]) -> Callable[[str], Path]:
    """Each of PORT_ANSWERS rendered once (the tests only read them)."""

    def get(name: str) -> Path:
        triggers, line, _, _ = PORT_ANSWERS[name]
        return shared_render(triggers=triggers, iii_line=line, production=BOTH)

    return get


@pytest.mark.parametrize("answers", PORT_ANSWERS)
def test_only_the_public_ports_are_reachable_and_49134_is_in_no_service(
    port_render: Callable[[str], Path], answers: str
) -> None:
    public = PORT_ANSWERS[answers][2]
    project = port_render(answers)
    manifests: dict[str, dict[str, Any]] = {m["kind"]: m for m in base_manifests(project)}
    policy = manifests["NetworkPolicy"]["spec"]

    assert policy["podSelector"] == manifests["Deployment"]["spec"]["selector"]
    assert policy["policyTypes"] == ["Ingress"]
    admitted = {port["port"] for rule in policy["ingress"] for port in rule["ports"]}
    assert admitted == public
    assert all(set(rule) == {"ports"} for rule in policy["ingress"])  # from anywhere, these ports
    if public:
        assert {p["port"] for p in manifests["Service"]["spec"]["ports"]} == public
    else:
        assert "Service" not in manifests
    for manifest in manifests.values():
        assert kubernetes_errors(manifest) is None, manifest["kind"]
    built = load_all(kustomize(project / "deploy" / "kubernetes" / "overlays" / "production"))
    assert {doc["kind"] for doc in built} == set(manifests) | {"ConfigMap"}


def test_no_production_render_of_the_suite_publishes_the_worker_port(everything: Path) -> None:
    services = load(everything / "deploy" / "compose.yaml")["services"]
    built = (everything / "deploy" / "kubernetes").rglob("*.yaml")

    assert not any("49134" in str(port) for s in services.values() for port in s.get("ports", []))
    for path in built:
        for document in load_all(path.read_text()):
            if document.get("kind") == "Service":
                assert 49134 not in {p["port"] for p in document["spec"]["ports"]}, path


def test_the_http_worker_bounds_requests_in_flight_with_a_key_its_line_accepts(
    everything: Path, line: str
) -> None:
    """The engine's http config refuses unknown keys (`deny_unknown_fields` in rest_api/config.rs
    on 0.11.6 and 0.22.1), and has no body-size key: `body_limit`, which docs list, would stop the
    engine. `concurrency_request_limit` is its key; with a proxy's body limit it bounds memory."""
    deploy = everything / "deploy"
    if LINES[line]["runner"] == "iii-exec":
        workers = {
            w["name"]: w.get("config", {}) for w in load(deploy / "engine/config.yaml")["workers"]
        }
        http = workers[LINES[line]["engine_workers"]["http"]]
    else:
        http = load(deploy / "engine/worker-compose.yaml")["containers"]["http"]["config_override"]

    assert http["concurrency_request_limit"] == 64
    assert "body_limit" not in http
    readme = (deploy / "README.md").read_text()
    assert "concurrency_request_limit" in readme and "256Mi" in readme


def test_pods_bound_their_disk_spread_over_nodes_and_keep_payloads_out_of_traces(
    everything: Path, line: str
) -> None:
    pod = deployment(everything)["spec"]["template"]["spec"]

    for volume in pod["volumes"]:
        if "emptyDir" in volume:
            assert volume["emptyDir"]["sizeLimit"], volume["name"]
    for name, container in containers(everything).items():
        assert container["resources"]["limits"]["ephemeral-storage"], name
        assert container["resources"]["requests"]["ephemeral-storage"], name
    [spread] = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert (
        spread["labelSelector"]["matchLabels"]
        == deployment(everything)["spec"]["selector"]["matchLabels"]
    )
    env = {e["name"]: e.get("value") for e in containers(everything)["worker"]["env"]}
    # The SDK reads it from 0.22 (iii.py); 0.11 attaches no payloads to spans.
    assert env.get("III_DISABLE_TRACE_PAYLOADS") == (None if line == "0.11" else "true")


def engine_listener(project: Path) -> dict[str, Any]:
    workers = load(project / "deploy/engine/config.yaml")["workers"]
    [listener] = [w["config"] for w in workers if w["name"] == "iii-worker-manager"]
    return dict(listener)


@pytest.mark.parametrize("answers", PORT_ANSWERS)
def test_the_engines_worker_listener_is_on_the_pods_loopback_where_it_can_be(
    port_render: Callable[[str], Path], answers: str
) -> None:
    """Defence where the network plugin ignores NetworkPolicy: bound to 127.0.0.1, 49134 takes
    nothing from outside the pod. The kubelet probes the pod's address, so the engine's probes
    move to a port it serves there; an engine without one keeps 49134 for them."""
    loopback = PORT_ANSWERS[answers][3]
    project = port_render(answers)
    engine = containers(project)["engine"]
    env = {e["name"]: e.get("value") for e in engine.get("env", [])}
    ports = {p["name"]: p["containerPort"] for p in engine["ports"]}
    compose_engine = load(project / "deploy/compose.yaml")["services"]["engine"]

    assert engine_listener(project) == {"host": "${III_WORKER_HOST:0.0.0.0}", "port": 49134}
    assert "III_WORKER_HOST" not in compose_engine.get("environment", {})  # the worker's container
    if loopback:
        assert env["III_WORKER_HOST"] == "127.0.0.1"
        assert 49134 not in ports.values()
    else:
        assert "III_WORKER_HOST" not in env
        assert ports == {"engine": 49134}
    probed = {engine[p]["tcpSocket"]["port"] for p in ("startupProbe", "livenessProbe")}
    assert probed <= set(ports)
    assert kubernetes_errors(deployment(project)) is None
