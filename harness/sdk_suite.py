"""The iii SDK's own test suite against the engine double, one iii line at a time.

For each line in lines.yml: download the sdist of the line's pinned iii-sdk from PyPI (cached,
never committed), install that SDK and the suite's test dependencies in a throwaway venv, start
the engine double in the line's mode with the engine workers the suite's engine config starts
(and its RBAC listener), point III_URL (and III_HTTP_URL, III_RBAC_WORKER_URL) at it and run the
suite with pytest. Then print a table per line: passed, failed, skipped, and each failure by the
class and reason harness/sdk_suite.yml gives it.

Exit code: 0 when every failure is classified, 1 when one is not (or a suite did not finish),
2 when the run could not be set up (no network, no uv, an install that failed).

    python -m harness.sdk_suite                  # every line
    python -m harness.sdk_suite --line 0.25 -v   # one line, with each failure's message
    python -m harness.sdk_suite --docs           # the docs table of the classified tests
"""

import argparse
import concurrent.futures
import contextlib
import fnmatch
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.projects import ENGINE_DOUBLE_DIR, TEMPLATE

CONFIG_FILE = Path(__file__).with_name("sdk_suite.yml")
REPORT_PLUGIN = Path(__file__).with_name("sdk_suite_report.py")
CLASSES = ("divergence", "kept")
ALL = "all"  # the key of the entries that hold on every line


class SetupError(RuntimeError):
    """The run could not be set up (exit 2); the message is one line saying why."""


@dataclass(frozen=True)
class Entry:
    """A known failure: a test id, a file (each of its tests) or an fnmatch pattern of ids, its
    class and reason."""

    pattern: str
    kind: str  # one of CLASSES
    reason: str
    # Not run at all: the test waits for what the double lacks until the per-test timeout,
    # which would spend the CI budget on a known failure.
    deselect: bool = False

    def matches(self, nodeid: str) -> bool:
        return (
            nodeid == self.pattern
            or nodeid.startswith(self.pattern + "::")
            or fnmatch.fnmatchcase(nodeid, self.pattern)
        )


@dataclass(frozen=True)
class SuiteConfig:
    providers: dict[str, list[str]]
    not_run_files: dict[str, str]
    failures: dict[str, list[Entry]]
    test_timeout: int
    line_timeout: int
    # The second iii-worker-manager's config (port, middleware, rbac block) by line, for the
    # double's RBAC listener.
    rbac: dict[str, dict[str, Any]] = field(default_factory=dict)

    def entries(self, line: str) -> list[Entry]:
        """The line's own entries, then those for every line."""
        return self.failures.get(line, []) + self.failures.get(ALL, [])


def load_config(path: Path = CONFIG_FILE) -> SuiteConfig:
    raw = yaml.safe_load(path.read_text())
    failures: dict[str, list[Entry]] = {}
    for line, entries in (raw.get("failures") or {}).items():
        failures[str(line)] = []
        for pattern, given in entries.items():
            if given.get("class") not in CLASSES:
                raise ValueError(f"{path.name}: {line} {pattern}: class must be one of {CLASSES}")
            if not str(given.get("reason", "")).strip():
                raise ValueError(f"{path.name}: {line} {pattern}: a reason is required")
            entry = Entry(pattern, given["class"], given["reason"], bool(given.get("deselect")))
            if entry.deselect and any(c in pattern for c in "*?["):
                raise ValueError(f"{path.name}: {line} {pattern}: deselect a test id or a file")
            failures[str(line)].append(entry)
    return SuiteConfig(
        providers={str(k): list(v) for k, v in raw["providers"].items()},
        not_run_files=dict(raw.get("not_run_files") or {}),
        failures=failures,
        test_timeout=int(raw.get("test_timeout", 30)),
        line_timeout=int(raw.get("line_timeout", 480)),
        rbac={str(k): dict(v) for k, v in (raw.get("rbac") or {}).items()},
    )


# Reading the suite's results.


@dataclass(frozen=True)
class Outcome:
    nodeid: str
    outcome: str  # passed, failed, skipped or deselected (a known failure the runner did not run)
    message: str = ""
    duration: float = 0.0


def fold(records: Iterable[dict[str, Any]]) -> dict[str, Outcome]:
    """One outcome a test from the report plugin's records (setup, call, teardown, or a
    collection error): failed if any phase failed, skipped if one was skipped, else passed."""
    rank = {"deselected": -1, "passed": 0, "skipped": 1, "failed": 2}
    folded: dict[str, Outcome] = {}
    for record in records:
        nodeid, outcome = record["nodeid"], record["outcome"]
        before = folded.get(nodeid)
        duration = record.get("duration", 0.0) + (before.duration if before else 0.0)
        if before is not None and rank[before.outcome] >= rank[outcome]:
            folded[nodeid] = Outcome(nodeid, before.outcome, before.message, duration)
        else:
            folded[nodeid] = Outcome(nodeid, outcome, record.get("message", ""), duration)
    return folded


def read_report(path: Path) -> dict[str, Outcome]:
    if not path.exists():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    return fold(json.loads(line) for line in lines if line.strip())


@dataclass
class LineResult:
    line: str
    sdk: str
    providers: list[str]
    outcomes: dict[str, Outcome]
    entries: list[Entry]
    not_run_files: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    problem: str = ""  # the suite did not finish (timed out, pytest's own error)

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes.values() if o.outcome == outcome)

    @property
    def failures(self) -> list[Outcome]:
        return sorted(
            (o for o in self.outcomes.values() if o.outcome == "failed"), key=lambda o: o.nodeid
        )

    def entry_for(self, nodeid: str) -> Entry | None:
        return next((entry for entry in self.entries if entry.matches(nodeid)), None)

    @property
    def unclassified(self) -> list[Outcome]:
        return [o for o in self.failures if self.entry_for(o.nodeid) is None]

    @property
    def stale(self) -> list[str]:
        """Tests an entry names that passed: the double does it now, the entry can go."""
        return sorted(
            o.nodeid
            for o in self.outcomes.values()
            if o.outcome == "passed" and self.entry_for(o.nodeid) is not None
        )

    def by_class(self) -> dict[tuple[str, str], list[str]]:
        """The classified failures and the deselected tests, by class and reason."""
        groups: dict[tuple[str, str], list[str]] = {}
        for outcome in sorted(self.outcomes.values(), key=lambda o: o.nodeid):
            entry = self.entry_for(outcome.nodeid)
            if entry is not None and outcome.outcome in ("failed", "deselected"):
                shown = outcome.nodeid + (" (not run)" if outcome.outcome == "deselected" else "")
                groups.setdefault((entry.kind, entry.reason), []).append(shown)
        return groups

    @property
    def ok(self) -> bool:
        return not self.problem and not self.unclassified


def table(result: LineResult, *, verbose: bool = False) -> str:
    """The line's counts, its failures by class and reason, and what is left unclassified."""
    out = [
        f"iii {result.line}: iii-sdk {result.sdk}, double providers "
        f"{', '.join(result.providers)}, {result.seconds:.0f} s",
        f"  {'passed':<12}{result.count('passed'):>5}",
        f"  {'failed':<12}{result.count('failed'):>5}",
        f"  {'skipped':<12}{result.count('skipped'):>5}",
    ]
    if result.count("deselected"):
        out.append(
            f"  {'deselected':<12}{result.count('deselected'):>5}  (known failures, not run)"
        )
    for name, reason in result.not_run_files.items():
        out.append(f"  not run: {name}: {reason}")
    groups = result.by_class()
    if groups:
        out.append("  failures by class:")
        for (kind, reason), nodeids in sorted(groups.items(), key=lambda g: (g[0][0], -len(g[1]))):
            out.append(f"    {kind:<11}{len(nodeids):>4}  {reason}")
            if verbose:
                out.extend(f"{'':17}{nodeid}" for nodeid in nodeids)
    # Skips by the suite's own reason, and the entry that explains them where one does: a
    # test that skips itself when the engine lacks something hides a divergence.
    skips: dict[str, list[Outcome]] = {}
    for o in sorted(result.outcomes.values(), key=lambda o: o.nodeid):
        if o.outcome == "skipped":
            skips.setdefault(o.message or "(no reason)", []).append(o)
    if skips:
        out.append("  skips by the suite's reason:")
    for reason, skipped in sorted(skips.items()):
        entry = result.entry_for(skipped[0].nodeid)
        known = f" ({entry.kind}: {entry.reason})" if entry is not None else ""
        out.append(f"    {'skipped':<11}{len(skipped):>4}  {reason}{known}")
        if verbose:
            out.extend(f"{'':17}{o.nodeid}" for o in skipped)
    unclassified = result.unclassified
    if unclassified:
        out.append(f"  UNCLASSIFIED {len(unclassified)} (add to harness/sdk_suite.yml or fix):")
        out.extend(f"    {o.nodeid}: {o.message or '(no message)'}" for o in unclassified)
    if result.stale:
        out.append(
            f"  now passing, their entries in harness/sdk_suite.yml can go: {len(result.stale)}"
        )
        out.extend(f"    {nodeid}" for nodeid in result.stale)
    if result.problem:
        out.append(f"  DID NOT FINISH: {result.problem}")
    return "\n".join(out)


def exit_code(results: Sequence[LineResult]) -> int:
    return 0 if all(result.ok for result in results) else 1


def _line_order(line: str) -> tuple[int, ...]:
    """`all` first, then the newest line first."""
    return (1,) if line == ALL else (2, *(-int(part) for part in line.split(".")))


def docs_table(config: SuiteConfig) -> str:
    """The markdown table docs/engine-double.md carries (a test checks it is there verbatim)."""
    rows = ["| test | lines | class | reason |", "|---|---|---|---|"]
    merged: dict[tuple[str, str, str, bool], list[str]] = {}
    for line in sorted(config.failures, key=_line_order):
        for entry in config.failures[line]:
            merged.setdefault((entry.pattern, entry.kind, entry.reason, entry.deselect), []).append(
                line
            )
    for (pattern, kind, reason, deselect), lines in merged.items():
        shown = f"`{pattern.removeprefix('tests/')}`" + (" (not run)" if deselect else "")
        rows.append(f"| {shown} | {', '.join(lines)} | {kind} | {reason} |")
    for name, reason in config.not_run_files.items():
        rows.append(f"| `{name.removeprefix('tests/')}` (not run) | all | kept | {reason} |")
    return "\n".join(rows)


# Setting up and running one line.


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "copier-iii-worker" / "sdk-suite"


def download_sdist(version: str, cache: Path) -> Path:
    """The iii-sdk sdist of `version`, from the cache or from PyPI through pip."""
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"iii_sdk-{version}.tar.gz"))
    if found:
        return found[0]
    with tempfile.TemporaryDirectory(dir=cache) as partial:
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        done = subprocess.run(
            [*pip, "--no-binary", ":all:", "-d", partial, f"iii-sdk=={version}"],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        got = list(Path(partial).glob("*.tar.gz"))
        if done.returncode != 0 or not got:
            why = (done.stderr.strip().splitlines() or ["no sdist in pip's download"])[-1]
            raise SetupError(
                f"cannot download the iii-sdk {version} sdist from PyPI (is it reachable?): {why}"
            )
        return Path(shutil.move(str(got[0]), cache / got[0].name))


def unpack(sdist: Path, destination: Path) -> Path:
    with tarfile.open(sdist) as archive:
        archive.extractall(destination, filter="data")
    (root,) = [p for p in destination.iterdir() if p.is_dir()]
    return root


def stand_in_assets(suite: Path) -> None:
    """The repository's sdk/test-assets/handbook.pdf, which the sdist lacks: test_api_triggers
    streams it down and up (raw and multipart) and compares bytes, so any file of a few chunks
    proves the same. Deterministic, so that a failure reproduces."""
    assets = suite.parents[2] / "test-assets"
    assets.mkdir(parents=True, exist_ok=True)
    body = random.Random(0).randbytes(3 * 1024 * 1024)
    (assets / "handbook.pdf").write_bytes(b"%PDF-1.4\n" + body + b"\n%%EOF\n")


# The suite's dev extra, less what does not run tests (linters, coverage, docs tooling);
# pytest-timeout bounds a test that waits on something the double does not serve.
NOT_NEEDED = {"mypy", "ruff", "pytest-cov", "griffe"}


def test_requirements(pyproject: Path) -> list[str]:
    project = _toml(pyproject).get("project", {})
    dev = project.get("optional-dependencies", {}).get("dev", [])
    keep = [r for r in dev if _name(r) not in NOT_NEEDED]
    return [*keep, "pytest-timeout"]


def _name(requirement: str) -> str:
    for stop in "<>=!~[; ":
        requirement = requirement.split(stop)[0]
    return requirement.strip().lower()


def _toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        loaded: dict[str, Any] = tomllib.load(handle)
    return loaded


def make_venv(where: Path, sdk: str, requirements: list[str]) -> Path:
    uv = shutil.which("uv")
    if uv is None:
        raise SetupError("uv is not on PATH (pip install uv)")
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    steps = [
        [uv, "venv", "--quiet", "--python", sys.executable, str(where)],
        [uv, "pip", "install", "--quiet", "--python", str(where / "bin" / "python"),
         f"iii-sdk=={sdk}", *requirements],
    ]  # fmt: skip
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise SetupError(f"{' '.join(step[:3])} for iii-sdk {sdk} failed: {why}")
    return where / "bin" / "python"


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A port bound but not listening, so connecting to it is refused at once: where the suite
    wants a server the double does not have (an RBAC worker manager port, an HTTP port)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


def start_double(line: str, providers: list[str], rbac: dict[str, Any] | None = None) -> Any:
    sys.path.insert(0, str(ENGINE_DOUBLE_DIR))
    from engine_double import EngineDouble

    return EngineDouble(line=line, providers=set(providers), rbac=rbac).start()


def run_line(
    line: str, sdk: str, config: SuiteConfig, cache: Path, work: Path, echo: bool
) -> LineResult:
    started = time.monotonic()
    providers = config.providers[line]
    sdist = download_sdist(sdk, cache)
    # Where the iii repository keeps the SDK (sdk/packages/python/iii), so that the suite finds
    # sdk/test-assets, which stand_in_assets fills, where it looks for it.
    suite = unpack(sdist, work / "sdk" / "packages" / "python")
    stand_in_assets(suite)
    python = make_venv(work / "venv", sdk, test_requirements(suite / "pyproject.toml"))
    shutil.copy(REPORT_PLUGIN, work / REPORT_PLUGIN.name)
    report = work / "report.jsonl"
    rbac = {**config.rbac[line], "port": 0} if line in config.rbac else None
    double = start_double(line, providers, rbac)
    try:
        with refused_port() as nowhere:
            http_url = getattr(double, "http_url", "") or f"http://127.0.0.1:{nowhere}"
            env = {
                **os.environ,
                "III_URL": double.url,
                "III_HTTP_URL": http_url,
                "III_RBAC_WORKER_URL": double.rbac_url or f"ws://127.0.0.1:{nowhere}",
                "PYTHONPATH": str(work),
                "SDK_SUITE_REPORT": str(report),
            }
            env.pop("VIRTUAL_ENV", None)
            command = [
                str(python), "-m", "pytest", "tests", "-q", "-p", "sdk_suite_report",
                "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", str(suite),
                f"--timeout={config.test_timeout}", "--tb=no", "--no-header",
                *(f"--ignore={name}" for name in config.not_run_files),
                *(f"--deselect={e.pattern}" for e in config.entries(line) if e.deselect),
            ]  # fmt: skip
            problem = ""
            try:
                done = subprocess.run(
                    command,
                    cwd=suite,
                    env=env,
                    stdout=None if echo else subprocess.DEVNULL,
                    stderr=None if echo else subprocess.DEVNULL,
                    timeout=config.line_timeout,
                    check=False,
                )
                # 0 all passed, 1 some failed, 5 none collected; 2-4 are pytest's own troubles.
                if done.returncode not in (0, 1):
                    problem = f"pytest exited {done.returncode} (rerun with --line {line} --echo)"
            except subprocess.TimeoutExpired:
                problem = f"the suite took more than {config.line_timeout} s"
    finally:
        double.stop()
    return LineResult(
        line=line,
        sdk=sdk,
        providers=providers,
        outcomes=read_report(report),
        entries=config.entries(line),
        not_run_files=config.not_run_files,
        seconds=time.monotonic() - started,
        problem=problem,
    )


def pinned_sdks() -> dict[str, str]:
    lines = yaml.safe_load((TEMPLATE / "lines.yml").read_text())
    return {str(line): str(rules["sdk"]) for line, rules in lines.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.sdk_suite",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--line", action="append", help="only this line (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list each failure's id")
    parser.add_argument("--echo", action="store_true", help="show pytest's own output")
    parser.add_argument("--jobs", type=int, default=3, help="lines run at once (default 3)")
    parser.add_argument("--docs", action="store_true", help="print the docs table and exit")
    args = parser.parse_args(argv)
    config = load_config()
    if args.docs:
        print(docs_table(config))
        return 0
    sdks = pinned_sdks()
    lines = args.line or list(sdks)
    unknown = [line for line in lines if line not in sdks or line not in config.providers]
    if unknown:
        print(f"sdk_suite: unknown line {', '.join(unknown)} (lines.yml: {', '.join(sdks)})")
        return 2
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sdk-suite-") as scratch:
        jobs = max(1, min(args.jobs, len(lines)))
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            futures = {}
            for line in lines:
                work = Path(scratch) / line
                work.mkdir()
                futures[line] = pool.submit(
                    run_line, line, sdks[line], config, cache_dir(), work, args.echo
                )
            try:
                results = [futures[line].result() for line in lines]
            except SetupError as error:
                for future in futures.values():
                    future.cancel()
                print(f"sdk_suite: {error}")
                return 2
    for result in results:
        print(table(result, verbose=args.verbose))
    code = exit_code(results)
    verdict = "every failure is classified" if code == 0 else "UNCLASSIFIED failures (see above)"
    print(f"sdk_suite: {verdict}; {time.monotonic() - started:.0f} s in all")
    return code


if __name__ == "__main__":
    sys.exit(main())
