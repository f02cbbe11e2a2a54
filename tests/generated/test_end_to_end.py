"""Generated workers, run for real: the installed project's `python -m src.main` process, the real
iii-sdk, a real WebSocket, and the engine double on the other end.

Every trigger kind alone and the all-triggers project: what the worker registers, and how it
answers what the engine sends it. Then faults: the engine going away and coming back, SIGTERM, a
handler that raises, and 200 invocations at once.
"""

import hashlib
import hmac
import json
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from engine_double import PROVIDERS, EngineDouble, InvocationFailed
from websockets.sync.client import connect

from harness.kinds import expected
from harness.projects import RENDERS, Project, answers_of, kill_if_running

pytestmark = pytest.mark.slow

# The worker refuses guessable secrets at start: these are made the way its README says.
API_KEY = secrets.token_urlsafe(32)
STREAM_SECRET = secrets.token_urlsafe(32)
PREVIOUS_STREAM_SECRET = secrets.token_urlsafe(32)


def registered(engine: EngineDouble) -> tuple[set[str], list[str]]:
    triggers = engine.triggers.values()
    return set(engine.functions), sorted(
        repr((t["trigger_type"], t["function_id"], t["config"])) for t in triggers
    )


@dataclass
class Running:
    """A generated worker process connected to the engine double."""

    project: Project
    engine: EngineDouble
    process: "subprocess.Popen[bytes]"

    @property
    def answers(self) -> dict[str, Any]:
        return answers_of(self.project.name)

    @property
    def prefix(self) -> str:
        return str(self.answers["worker_name"]) + "::"

    def wait_registered(self) -> None:
        functions, triggers = expected(self.project.name)
        self.engine.wait_until(
            lambda: (
                bool(self.engine.workers)
                and set(self.engine.functions) >= functions
                and len(self.engine.triggers) + len(self.engine.parked) >= len(triggers)
            ),
            timeout=30,
        )

    def stop(self, stop_signal: signal.Signals = signal.SIGTERM, within: float = 5.0) -> int:
        self.process.send_signal(stop_signal)
        return self.process.wait(timeout=within)

    def stop_and_read_log(self) -> str:
        """Stop the worker (started with `keep_output`) and return what it printed."""
        self.process.send_signal(signal.SIGTERM)
        output, _ = self.process.communicate(timeout=10)
        return output.decode(errors="replace")


@contextmanager
def running_worker(
    project: Project,
    *,
    keep_output: bool = False,
    engine: EngineDouble | None = None,
    **env: str,
) -> Iterator[Running]:
    """The project's worker against `engine` (by default the one its run config describes)."""
    engine = (engine or EngineDouble.for_project(project.path)).start()
    process = project.start_worker(engine.url, env=env, keep_output=keep_output)
    worker = Running(project, engine, process)
    try:
        worker.wait_registered()
        yield worker
    finally:
        kill_if_running(process)
        engine.stop()


def renders(where: Callable[[list[str]], bool]) -> list[Any]:
    """The renders whose triggers match, each in the xdist group that builds it."""
    return [name for name, answers in RENDERS.items() if where(answers["triggers"])]


def with_kind(kind: str) -> list[Any]:
    """The renders with `kind`, but `all-pip`: it runs the `all` render's code on another Python
    and package manager, which its registration check and its own tests cover."""
    return [name for name in renders(lambda triggers: kind in triggers) if name != "all-pip"]


EVERY_RENDER = renders(lambda _: True)
NO_TRIGGERS = renders(lambda triggers: not triggers)
ALL = ["all"]


@pytest.fixture
def worker(built: Callable[[str], Project], request: pytest.FixtureRequest) -> Iterator[Running]:
    with running_worker(
        built(request.param),
        API_KEY=API_KEY,
        STREAM_AUTH_SECRET=STREAM_SECRET,
        STREAM_AUTH_SECRET_PREVIOUS=PREVIOUS_STREAM_SECRET,
    ) as running:
        yield running
        assert running.stop() == 0


@pytest.mark.parametrize("worker", EVERY_RENDER, indirect=True)
def test_registers_exactly_its_functions_and_triggers_and_the_engine_accepts_them(
    worker: Running,
) -> None:
    assert registered(worker.engine) == expected(worker.project.name)
    assert worker.engine.rejected == [] and worker.engine.parked == []
    assert worker.engine.workers[-1]["name"] == worker.prefix[:-2]


@pytest.mark.parametrize("worker", NO_TRIGGERS, indirect=True)
def test_plain_function_answers_and_refuses_a_bad_call(worker: Running) -> None:
    assert worker.engine.invoke(worker.prefix + "greet", {"name": "Ada"}) == {
        "message": "Hello, Ada!"
    }
    with pytest.raises(InvocationFailed, match="invocation_failed"):
        worker.engine.invoke(worker.prefix + "greet", {})


@pytest.mark.parametrize("worker", with_kind("http"), indirect=True)
def test_http_api_answers_201_200_400_and_404(worker: Running) -> None:
    path = worker.answers["http_path"]
    http = worker.engine.http

    created = http("POST", path, body={"name": "Genmaicha"})
    read = http("GET", f"{path}/{created.body['id']}")

    assert created.status_code == 201 and read.status_code == 200 and read.body == created.body
    assert http("POST", path, body={"name": ""}).status_code == 400
    assert http("POST", path, headers={"content-type": "text/plain"}).status_code == 400
    assert http("GET", f"{path}/missing").status_code == 404


@pytest.mark.parametrize("worker", with_kind("http"), indirect=True)
def test_item_names_with_control_or_invisible_characters_answer_400(worker: Running) -> None:
    path = worker.answers["http_path"]
    hidden = ["tea\x00", "green\r\ntea", "\u202eaet", "\u200b", "\u200b\u200b", "te\u2066a"]

    answers = [worker.engine.http("POST", path, body={"name": name}) for name in hidden]

    assert [a.status_code for a in answers] == [400] * len(hidden)
    assert all("invisible" in a.body["error"] for a in answers)
    padded = worker.engine.http("POST", path, body={"name": f"  {'x' * 200}  "})
    assert padded.status_code == 201 and padded.body["name"] == "x" * 200


def items_stored(worker: Running) -> list[Any]:
    scope = worker.prefix + "items"
    return [value for (at, _), value in worker.engine.state.items() if at == scope]


@pytest.mark.parametrize("worker", with_kind("http"), indirect=True)
def test_a_create_retried_with_its_idempotency_key_answers_the_same_and_stores_one_item(
    worker: Running,
) -> None:
    path = worker.answers["http_path"]
    key = {"Idempotency-Key": "8c0e4b1e-order-42"}

    # The first answer is lost on its way back (a timeout, a cut connection): the client retries.
    first = worker.engine.http("POST", path, body={"name": "Bancha"}, headers=key)
    retried = worker.engine.http("POST", path, body={"name": "Bancha"}, headers=key)
    reused = worker.engine.http("POST", path, body={"name": "Kabusecha"}, headers=key)

    assert first.status_code == retried.status_code == 201
    assert retried.body == first.body and retried.headers["location"] == first.headers["location"]
    assert reused.status_code == 422
    assert items_stored(worker) == [first.body]


@pytest.mark.parametrize("worker", with_kind("http"), indirect=True)
def test_copies_of_a_create_sent_at_once_with_one_idempotency_key_store_one_item(
    worker: Running,
) -> None:
    path = worker.answers["http_path"]

    def create(_: int) -> Any:
        headers = {"Idempotency-Key": "sent-twice-by-a-proxy"}
        return worker.engine.http("POST", path, body={"name": "Shincha"}, headers=headers)

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(create, range(10)))

    assert {(a.status_code, a.body["id"]) for a in answers} == {(201, answers[0].body["id"])}
    assert items_stored(worker) == [answers[0].body]


@pytest.mark.parametrize("name", with_kind("http"))
def test_an_unexpected_error_answers_500_with_only_an_error_id_and_logs_the_details_under_it(
    built: Callable[[str], Project], name: str
) -> None:
    # An engine without its state worker: the create's `state::set` fails inside the handler
    # (and a state trigger waits, parked, for a worker that never comes).
    engine = EngineDouble(line=answers_of(name)["iii_line"], providers=PROVIDERS - {"state"})
    with running_worker(built(name), keep_output=True, engine=engine) as worker:
        response = worker.engine.http(
            "POST", worker.answers["http_path"], body={"name": "Kyobancha"}
        )
        log = worker.stop_and_read_log()

    assert response.status_code == 500
    assert response.body == {"error": "internal error", "error_id": response.body["error_id"]}
    assert b"state::set" not in response.content
    (logged,) = [line for line in log.splitlines() if response.body["error_id"] in line]
    assert "state::set" in logged and "Traceback" in logged  # the details, in one record


@pytest.mark.parametrize("worker", with_kind("http") + with_kind("http-middleware"), indirect=True)
def test_the_readiness_check_answers_through_the_engines_http_port(worker: Running) -> None:
    with urllib.request.urlopen(worker.engine.http_url + "/healthz", timeout=10) as response:
        status, body = response.status, json.loads(response.read())

    assert status == 200
    assert body["status"] == "ready" and body["engine"] == "connected"


@pytest.mark.parametrize("name", ["http"])
def test_development_mode_serves_the_worker_on_the_engines_ports_without_an_engine(
    built: Callable[[str], Project], name: str
) -> None:
    """The README's development mode: `python -m tests.engine_double`, then the worker, then any
    HTTP client on the http port."""
    project = built(name)
    port, http_port = free_port(), free_port()
    engine = subprocess.Popen(
        [project.tool("python"), "-m", "tests.engine_double", "--port", str(port),
         "--http-port", str(http_port)],
        cwd=project.path, env=project.env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert engine.stdout is not None
    banner = "".join(iter(engine.stdout.readline, "Ctrl-C stops it.\n"))
    worker = project.start_worker(f"ws://127.0.0.1:{port}")
    try:
        registered = [engine.stdout.readline() for _ in expected(name)[1]]
        request = urllib.request.Request(
            f"http://127.0.0.1:{http_port}/items", data=b'{"name": "tea"}', method="POST",
            headers={"content-type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as response:
            created = response.status, json.loads(response.read())
    finally:
        kill_if_running(worker)
        engine.send_signal(signal.SIGINT)
        engine.communicate(timeout=10)

    assert "FOR DEVELOPMENT ONLY" in banner
    assert all(line.startswith("registered: http") for line in registered)
    assert created[0] == 201 and created[1]["name"] == "tea"
    assert engine.returncode == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("worker", with_kind("http-middleware"), indirect=True)
def test_middleware_answers_401_without_or_with_a_wrong_key_and_lets_the_right_key_in(
    worker: Running,
) -> None:
    http = worker.engine.http

    assert http("GET", "/admin/status").status_code == 401
    assert http("GET", "/admin/status", headers={"x-api-key": "wrong"}).status_code == 401
    assert http("GET", "/admin/status", headers={"x-api-key": API_KEY}).status_code == 200


@pytest.mark.parametrize("name", with_kind("http-middleware")[:1])
def test_middleware_fails_closed_when_the_worker_has_no_key(
    built: Callable[[str], Project], name: str
) -> None:
    with running_worker(built(name)) as worker:
        assert (
            worker.engine.http("GET", "/admin/status", headers={"x-api-key": ""}).status_code == 401
        )
        assert worker.stop() == 0


@pytest.mark.parametrize("name", with_kind("http-middleware")[:1])
def test_a_refused_caller_cannot_tell_whether_the_worker_has_a_key(
    built: Callable[[str], Project], name: str
) -> None:
    guess = {"x-api-key": "guess"}
    with running_worker(built(name)) as without_key:
        unconfigured = without_key.engine.http("GET", "/admin/status", headers=guess)
    with running_worker(built(name), API_KEY=API_KEY) as with_key:
        wrong = with_key.engine.http("GET", "/admin/status", headers=guess)

    assert unconfigured.status_code == wrong.status_code == 401
    assert unconfigured.body == wrong.body
    assert "API_KEY" not in unconfigured.content.decode()


@pytest.mark.parametrize("worker", with_kind("cron"), indirect=True)
def test_cron_tick_runs_the_job(worker: Running) -> None:
    worker.engine.cron_tick(worker.prefix + "heartbeat")

    assert worker.engine.state[(worker.prefix + "heartbeat", "last-run")]["job_id"]


@pytest.mark.parametrize("worker", with_kind("queue"), indirect=True)
def test_a_published_job_reaches_the_subscriber(worker: Running) -> None:
    job = {"kind": "email", "payload": {"to": "ada@example.com"}}

    assert worker.engine.invoke(worker.prefix + "jobs::publish", job)["published"] is True
    worker.engine.wait_until(lambda: (worker.prefix + "jobs::process", job) in worker.engine.fired)


@pytest.mark.parametrize("name", with_kind("queue"))
def test_a_malformed_job_is_dropped_with_its_content_in_the_log(
    built: Callable[[str], Project], name: str
) -> None:
    topic = answers_of(name)["queue_topic"]
    job = {"kind": 7, "payload": {"order": "ord-1187"}}
    with running_worker(built(name), keep_output=True) as worker:
        worker.engine.call("iii::durable::publish", {"topic": topic, "data": job})
        worker.engine.wait_until(
            lambda: (worker.prefix + "jobs::process", job) in worker.engine.fired
        )
        log = worker.stop_and_read_log()

    (dropped,) = [line for line in log.splitlines() if "Dropped a malformed job" in line]
    assert "ord-1187" in dropped


@pytest.mark.parametrize("worker", with_kind("subscribe"), indirect=True)
def test_a_pubsub_message_reaches_the_subscriber(worker: Running) -> None:
    message = {"kind": "price-changed", "sku": "tea-1"}

    assert worker.engine.invoke(worker.prefix + "broadcasts::publish", message)["published"] is True
    worker.engine.wait_until(
        lambda: (worker.prefix + "broadcasts::on-message", message) in worker.engine.fired
    )


@pytest.mark.parametrize("worker", with_kind("state"), indirect=True)
def test_state_set_in_the_workers_scope_fires_the_state_handler_and_elsewhere_not(
    worker: Running,
) -> None:
    own_scope = worker.prefix[:-2]
    handler = worker.prefix + "state-changes"
    worker.engine.call("state::set", {"scope": "orders", "key": "o-1", "value": {"status": "new"}})
    worker.engine.call("state::set", {"scope": own_scope, "key": "o-1", "value": {"status": "new"}})

    worker.engine.wait_until(lambda: any(f == handler for f, _ in worker.engine.fired))
    time.sleep(0.2)  # a firing for the other scope would have arrived by now
    assert [e["scope"] for f, e in worker.engine.fired if f == handler] == [own_scope]


@pytest.mark.parametrize("worker", with_kind("stream"), indirect=True)
def test_stream_set_fires_the_stream_handler(worker: Running) -> None:
    item = {
        "stream_name": worker.answers["stream_name"],
        "group_id": "g",
        "item_id": "i",
        "data": {},
    }

    worker.engine.call("stream::set", item)

    worker.engine.wait_until(
        lambda: any(f == worker.prefix + "stream-changes" for f, _ in worker.engine.fired)
    )


# The kind alone and the oldest line: the port itself is the double's (tests/double has its rules).
@pytest.mark.parametrize("worker", ["stream", "line-0.11"], indirect=True)
def test_a_stream_client_on_the_stream_port_receives_the_change_that_fires_the_handler(
    worker: Running,
) -> None:
    """A browser's view: it joins the stream on the engine's stream port (with a token, which the
    render's auth function and join handler check where it has them), gets the group's `sync`,
    then the `create` of the item whose change also fires the worker's stream handler."""
    stream_name = worker.answers["stream_name"]
    join = {"subscriptionId": "s1", "streamName": stream_name, "groupId": "g"}
    with connect(f"{worker.engine.stream_url}/?token={signed('ada')}", open_timeout=30) as client:
        client.send(json.dumps({"type": "join", "data": join}))
        synced = json.loads(client.recv(timeout=30))
        worker.engine.call(
            "stream::set",
            {"stream_name": stream_name, "group_id": "g", "item_id": "i", "data": {"n": 1}},
        )
        created = json.loads(client.recv(timeout=30))

    assert synced["event"] == {"type": "sync", "data": []}
    assert (created["streamName"], created["groupId"], created["id"]) == (stream_name, "g", "i")
    assert created["event"] == {"type": "create", "data": {"n": 1}}
    worker.engine.wait_until(
        lambda: any(f == worker.prefix + "stream-changes" for f, _ in worker.engine.fired)
    )


@pytest.mark.parametrize("worker", with_kind("stream-join-leave"), indirect=True)
def test_join_is_refused_without_an_authenticated_context_and_accepted_with_one(
    worker: Running,
) -> None:
    assert worker.engine.join("chat", "room-1") is False
    assert worker.engine.join("chat", "room-1", context={"user_id": "ada"}) is True
    worker.engine.leave("chat", "room-1", context={"user_id": "ada"})


@pytest.mark.parametrize("worker", with_kind("stream-auth"), indirect=True)
def test_stream_auth_turns_a_signed_token_into_a_context(worker: Running) -> None:
    anonymous = worker.engine.invoke(
        worker.prefix + "stream-auth", {"query_params": {}, "headers": {}}
    )
    assert anonymous == {"context": None}

    context = worker.engine.authenticate({"token": [signed("ada")]})
    expired = worker.engine.authenticate({"token": [signed("ada", lifetime_seconds=-1)]})

    assert context == {"user_id": "ada"}
    assert expired is None
    if "stream-join-leave" in worker.answers["triggers"]:
        assert worker.engine.join("chat", "room-1", context=context) is True


def signed(user_id: str, lifetime_seconds: int = 60, secret: str = STREAM_SECRET) -> str:
    """A token as the generated `issue_token` makes them: `<user_id>.<expires_at>.<signature>`."""
    claims = f"{user_id}.{int(time.time()) + lifetime_seconds}"
    signature = hmac.new(secret.encode(), claims.encode(), hashlib.sha256).hexdigest()
    return f"{claims}.{signature}"


@pytest.mark.parametrize("worker", with_kind("stream-auth"), indirect=True)
def test_stream_auth_refuses_tokens_valid_for_more_than_a_day_and_accepts_the_previous_secret(
    worker: Running,
) -> None:
    three_years = signed("ada", lifetime_seconds=3 * 365 * 86400)
    a_day = signed("ada", lifetime_seconds=86400 - 60)
    old_secret = signed("ada", secret=PREVIOUS_STREAM_SECRET)
    unknown_secret = signed("ada", secret=secrets.token_urlsafe(32))

    assert worker.engine.authenticate({"token": [three_years]}) is None
    assert worker.engine.authenticate({"token": [a_day]}) == {"user_id": "ada"}
    assert worker.engine.authenticate({"token": [old_secret]}) == {"user_id": "ada"}
    assert worker.engine.authenticate({"token": [unknown_secret]}) is None


@pytest.mark.parametrize("name", with_kind("stream-auth"))
def test_stream_auth_refuses_a_non_ascii_signature_without_an_error(
    built: Callable[[str], Project], name: str
) -> None:
    claims = f"ada.{int(time.time()) + 60}"
    tokens = [f"{claims}.\u00e9t\u00e9", f"{claims}.\udc80", f"\udc80.{claims}.00"]
    with running_worker(built(name), keep_output=True, STREAM_AUTH_SECRET=STREAM_SECRET) as worker:
        contexts = [worker.engine.authenticate({"token": [token]}) for token in tokens]
        headers = {"authorization": f"Bearer {tokens[0]}"}
        contexts.append(worker.engine.authenticate({}, headers))
        log = worker.stop_and_read_log()

    assert contexts == [None] * 4
    assert "Traceback" not in log and " ERROR " not in log, log


# Faults, on the all-triggers project.


@pytest.mark.parametrize("worker", ALL, indirect=True)
def test_worker_reconnects_and_registers_everything_again_when_the_engine_comes_back(
    worker: Running,
) -> None:
    before = registered(worker.engine)

    worker.engine.restart()
    worker.engine.wait_until(lambda: worker.engine.connections_seen >= 2, timeout=30)
    worker.wait_registered()

    assert registered(worker.engine) == before
    assert (
        worker.engine.http("GET", "/admin/status", headers={"x-api-key": API_KEY}).status_code
        == 200
    )


@pytest.mark.parametrize("worker", ALL, indirect=True)
def test_a_handler_that_raises_fails_that_call_and_the_worker_keeps_serving(
    worker: Running,
) -> None:
    with pytest.raises(InvocationFailed, match="invocation_failed"):
        worker.engine.invoke(worker.prefix + "jobs::publish", {"kind": ""})

    assert worker.engine.http("POST", "/items", body={"name": "still here"}).status_code == 201


@pytest.mark.parametrize("name", with_kind("queue"))
def test_a_failed_invocation_logs_one_line_saying_what_failed_and_where(
    built: Callable[[str], Project], name: str
) -> None:
    with running_worker(built(name), keep_output=True) as worker:
        with pytest.raises(InvocationFailed):
            worker.engine.invoke(worker.prefix + "jobs::publish", {"kind": ""})
        log = worker.stop_and_read_log()

    failed = [line for line in log.splitlines() if "Error in handler" in line]
    assert len(failed) == 1, log
    assert "ValueError: 'kind' must be a non-empty string" in failed[0]
    assert "src/handlers/jobs.py:" in failed[0]
    assert "Traceback" not in log


@pytest.mark.parametrize("worker", ALL, indirect=True)
def test_200_concurrent_invocations_are_all_answered(worker: Running) -> None:
    calls = [(worker.prefix + "items::create", {"body": {"name": f"item {i}"}}) for i in range(200)]

    results = worker.engine.invoke_many(calls, timeout=120)

    assert [r["status_code"] for r in results] == [201] * 200
    assert len({r["body"]["id"] for r in results}) == 200


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("name", ALL)
def test_worker_exits_0_within_5_s_on_a_stop_signal(
    built: Callable[[str], Project], name: str, stop_signal: signal.Signals
) -> None:
    with running_worker(built(name)) as worker:
        assert worker.stop(stop_signal, within=5) == 0
