"""The runner of the iii SDK's own suite (`python -m harness.sdk_suite`): how it folds pytest's
reports, classifies failures, prints its table and picks its exit code. No network: the suite
itself runs in CI through `.ci/run`."""

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from engine_double import PROVIDERS

from harness import sdk_suite
from harness.projects import TEMPLATE
from harness.sdk_suite import (
    Entry,
    LineResult,
    Outcome,
    SetupError,
    docs_table,
    exit_code,
    fold,
    load_config,
    table,
)

HTTP = "needs HTTP on a real port"


def record(nodeid: str, when: str, outcome: str, message: str = "") -> dict[str, Any]:
    return {"nodeid": nodeid, "when": when, "outcome": outcome, "duration": 0.1, "message": message}


def result(outcomes: dict[str, str], entries: list[Entry], problem: str = "") -> LineResult:
    return LineResult(
        line="0.25",
        sdk="0.25.0",
        providers=["http"],
        outcomes={n: Outcome(n, o, "boom" if o == "failed" else "") for n, o in outcomes.items()},
        entries=entries,
        problem=problem,
    )


def test_a_test_fails_when_any_of_its_phases_fails_and_keeps_that_message() -> None:
    folded = fold(
        [
            record("t.py::a", "setup", "passed"),
            record("t.py::a", "call", "passed"),
            record("t.py::a", "teardown", "failed", "teardown broke"),
            record("t.py::b", "setup", "skipped"),
            record("t.py::b", "teardown", "passed"),
            record("t.py::c", "setup", "passed"),
            record("t.py::c", "call", "failed", "assert 404 == 200"),
            record("t.py::c", "teardown", "passed"),
            record("t.py", "collect", "failed", "ImportError"),
        ]
    )
    assert {n: o.outcome for n, o in folded.items()} == {
        "t.py::a": "failed",
        "t.py::b": "skipped",
        "t.py::c": "failed",
        "t.py": "failed",
    }
    assert folded["t.py::a"].message == "teardown broke"
    assert folded["t.py::c"].message == "assert 404 == 200"
    assert folded["t.py::c"].duration == pytest.approx(0.3)


def test_an_entry_matches_its_test_every_test_of_its_file_or_its_pattern() -> None:
    exact = Entry("tests/test_bridge.py::test_list", "divergence", "builtins")
    whole_file = Entry("tests/test_middleware.py", "divergence", HTTP)
    pattern = Entry("tests/test_observe_*.py::*", "divergence", "observers")
    assert exact.matches("tests/test_bridge.py::test_list")
    assert not exact.matches("tests/test_bridge.py::test_list_more")
    assert whole_file.matches("tests/test_middleware.py::test_short_circuit")
    assert whole_file.matches("tests/test_middleware.py::TestX::test_y[1]")
    assert not whole_file.matches("tests/test_middleware_input_namespace.py::test_a")
    assert pattern.matches("tests/test_observe_e2e_local.py::test_a")
    assert not pattern.matches("tests/test_streams.py::test_a")


def test_classified_failures_pass_and_an_unclassified_one_fails_the_run() -> None:
    entries = [Entry("tests/test_middleware.py", "divergence", HTTP)]
    classified = result(
        {"tests/test_middleware.py::a": "failed", "tests/x.py::b": "passed"}, entries
    )
    assert classified.unclassified == []
    assert exit_code([classified]) == 0

    regressed = result({"tests/test_state.py::c": "failed"}, entries)
    assert [o.nodeid for o in regressed.unclassified] == ["tests/test_state.py::c"]
    assert exit_code([classified, regressed]) == 1


def test_a_suite_that_did_not_finish_fails_the_run_even_with_nothing_unclassified() -> None:
    stuck = result({"tests/x.py::a": "passed"}, [], problem="the suite took more than 480 s")
    assert exit_code([stuck]) == 1
    assert "DID NOT FINISH: the suite took more than 480 s" in table(stuck)


def test_the_table_counts_outcomes_and_groups_failures_by_class_and_reason() -> None:
    entries = [
        Entry("tests/test_middleware.py", "divergence", HTTP),
        Entry("tests/test_init_api.py::test_fake", "kept", "not about the engine", deselect=True),
        Entry("tests/test_streams.py::test_custom", "divergence", "custom stream operations"),
    ]
    shown = table(
        result(
            {
                "tests/test_middleware.py::a": "failed",
                "tests/test_middleware.py::b": "failed",
                "tests/test_state.py::c": "failed",
                "tests/test_streams.py::test_custom": "passed",
                "tests/x.py::d": "passed",
                "tests/x.py::e": "skipped",
                "tests/test_init_api.py::test_fake": "deselected",
            },
            entries,
        ),
        verbose=True,
    )
    lines = shown.splitlines()
    assert lines[1].split() == ["passed", "2"]
    assert lines[2].split() == ["failed", "3"]
    assert lines[3].split() == ["skipped", "1"]
    assert lines[4].split()[:2] == ["deselected", "1"]
    assert re.search(rf"^ +divergence +2 +{HTTP}$", shown, re.MULTILINE)
    assert re.search(r"^ +kept +1 +not about the engine$", shown, re.MULTILINE)
    assert "tests/test_init_api.py::test_fake (not run)" in shown
    assert "UNCLASSIFIED 1" in shown
    assert "tests/test_state.py::c: boom" in shown
    # An entry whose test passes now is named, so it can go.
    assert "entries in harness/sdk_suite.yml can go: 1" in shown
    assert lines[-1].strip() == "tests/test_streams.py::test_custom"


def test_skips_are_listed_by_the_suites_reason_with_the_entry_that_explains_them() -> None:
    entries = [
        Entry("tests/test_http_external.py::test_delivers_*", "divergence", "http-functions")
    ]
    skipped = {
        "tests/test_http_external.py::test_delivers_a": "III engine not available",
        "tests/test_http_external.py::test_delivers_b": "III engine not available",
        "tests/test_api.py::test_pdf": "handbook.pdf not found",
    }
    line = result({}, entries)
    line.outcomes = {n: Outcome(n, "skipped", why) for n, why in skipped.items()}
    shown = table(line)
    assert re.search(
        r"^ +skipped +2 +III engine not available \(divergence: http-functions\)$", shown, re.M
    )
    assert re.search(r"^ +skipped +1 +handbook.pdf not found$", shown, re.M)
    assert exit_code([line]) == 0  # a skip is not a failure, classified or not


def write_config(tmp_path: Path, failures: dict[str, Any]) -> Path:
    path = tmp_path / "suite.yml"
    path.write_text(yaml.safe_dump({"providers": {"0.25": ["http"]}, "failures": failures}))
    return path


def test_a_classification_needs_a_known_class_and_a_reason(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="class must be one of"):
        load_config(write_config(tmp_path, {"0.25": {"tests/t.py": {"class": "flaky"}}}))
    with pytest.raises(ValueError, match="a reason is required"):
        load_config(write_config(tmp_path, {"0.25": {"tests/t.py": {"class": "kept"}}}))
    deselect_pattern = {"class": "kept", "reason": "r", "deselect": True}
    with pytest.raises(ValueError, match="deselect a test id or a file"):
        load_config(write_config(tmp_path, {"0.25": {"tests/t_*.py": deselect_pattern}}))


def test_entries_for_every_line_apply_to_each_line(tmp_path: Path) -> None:
    config = load_config(
        write_config(
            tmp_path,
            {
                "all": {"tests/a.py": {"class": "kept", "reason": "everywhere"}},
                "0.25": {"tests/b.py": {"class": "divergence", "reason": "only 0.25"}},
            },
        )
    )
    assert [e.pattern for e in config.entries("0.25")] == ["tests/b.py", "tests/a.py"]
    assert [e.pattern for e in config.entries("0.11")] == ["tests/a.py"]


def test_the_repositorys_classification_covers_every_line_with_the_doubles_providers() -> None:
    config = load_config()
    lines = yaml.safe_load((TEMPLATE / "lines.yml").read_text())
    assert set(config.providers) == set(lines)
    for providers in config.providers.values():
        assert set(providers) <= PROVIDERS
    assert set(config.failures) <= {*lines, "all"}


def test_the_docs_list_every_classified_test_with_its_reason() -> None:
    docs = (TEMPLATE / "docs" / "engine-double.md").read_text()
    assert "## The iii SDK's own suite" in docs
    assert docs_table(load_config()) in docs


def test_a_setup_failure_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def offline(version: str, cache: Path) -> Path:
        raise SetupError(f"cannot download the iii-sdk {version} sdist from PyPI: no network")

    monkeypatch.setattr(sdk_suite, "download_sdist", offline)
    assert sdk_suite.main(["--line", "0.25"]) == 2
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed == ["sdk_suite: cannot download the iii-sdk 0.25.0 sdist from PyPI: no network"]


def test_an_unknown_line_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert sdk_suite.main(["--line", "0.99"]) == 2
    assert "unknown line 0.99" in capsys.readouterr().out


def test_the_report_plugin_writes_one_record_per_phase_even_when_a_test_patches_open(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_sample.py").write_text(
        textwrap.dedent(
            """
            import builtins, threading, time, pytest

            def test_passes():
                pass

            def test_fails():
                assert 404 == 200

            def test_skips():
                pytest.skip("no engine")

            @pytest.mark.xfail(reason="known")
            def test_xfails():
                assert False

            def test_patches_open(monkeypatch):
                def refuse(*args, **kwargs):
                    raise OSError("boom")
                monkeypatch.setattr(builtins, "open", refuse)

            def test_not_run():
                assert False

            def test_leaves_a_thread_behind():
                # As an SDK client that is never shut down: pytest must still exit.
                threading.Thread(target=time.sleep, args=(600,)).start()
            """
        )
    )
    report = tmp_path / "report.jsonl"
    plugin = Path(sdk_suite.REPORT_PLUGIN)
    (tmp_path / plugin.name).write_text(plugin.read_text())
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "SDK_SUITE_REPORT": str(report)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "sdk_suite_report", "-p", "no:cacheprovider",
         "-o", "addopts=", "-c", os.devnull, "--rootdir", str(tmp_path), "test_sample.py",
         "--deselect", "test_sample.py::test_not_run"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(records) == 6 * 3 + 1
    outcomes = {n: o.outcome for n, o in fold(records).items()}
    assert outcomes == {
        "test_sample.py::test_passes": "passed",
        "test_sample.py::test_fails": "failed",
        "test_sample.py::test_skips": "skipped",
        "test_sample.py::test_xfails": "skipped",
        "test_sample.py::test_patches_open": "passed",
        "test_sample.py::test_leaves_a_thread_behind": "passed",
        "test_sample.py::test_not_run": "deselected",
    }
    assert fold(records)["test_sample.py::test_fails"].message == "assert 404 == 200"
    assert fold(records)["test_sample.py::test_skips"].message == "no engine"


def test_the_stand_in_handbook_is_where_the_suites_http_tests_look_for_it(tmp_path: Path) -> None:
    """test_api_triggers.py reads `Path(__file__).parent.parent.parent.parent.parent /
    "test-assets" / "handbook.pdf"` (the iii repository's sdk/test-assets); the runner unpacks the
    sdist as the repository lays the SDK out and puts a file there, the same on every run."""
    suite = tmp_path / "sdk" / "packages" / "python" / "iii_sdk-0.25.0"
    test_file = suite / "tests" / "test_api_triggers.py"

    sdk_suite.stand_in_assets(suite)
    first = (test_file.parents[4] / "test-assets" / "handbook.pdf").read_bytes()
    sdk_suite.stand_in_assets(suite)

    assert first.startswith(b"%PDF-") and len(first) > 2 * 2**20  # past one channel frame
    assert (test_file.parents[4] / "test-assets" / "handbook.pdf").read_bytes() == first
