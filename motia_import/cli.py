"""`python -m motia_import SOURCE DEST`: a Motia Python project in, a worker of this template out.

It never writes into SOURCE, refuses a non-empty DEST (with `--force`, one that is not an earlier
import), prints a table of what became of every step, and exits non-zero when it could not
produce a project with at least one converted step.
"""

import argparse
import re
import sys
import time
import traceback
import warnings
from pathlib import Path, PurePosixPath

import yaml
from copier.errors import DirtyLocalWarning

from motia_import.convert import Converted, convert
from motia_import.discovery import Discovered, discover
from motia_import.model import Status
from motia_import.project import SourceError, SourceProject, read_project
from motia_import.render import Answers, RenderError, write_project
from motia_import.report import MIGRATION_HEADER, migration_markdown, terminal_table
from motia_import.template_facts import (
    DEFAULT_LINE,
    DEFAULT_PYTHON,
    DESCRIPTION_MAX,
    ENGINE_URL,
    LINES,
    PYTHON_VERSIONS,
    TEMPLATE,
    WORKER_NAME,
    WORKER_NAME_MAX,
    WORKER_NAME_RULE,
)
from motia_import.testgen import imported_steps_test

STEP_LIKE = re.compile(r"[._]step\.(py|ts|js)$")


class UsageError(Exception):
    """Bad arguments (one line for the user)."""


def valid_worker_name(name: str) -> bool:
    return bool(WORKER_NAME.match(name)) and len(name) <= WORKER_NAME_MAX


def default_worker_name(source: SourceProject) -> str:
    words = re.findall(r"[a-z0-9]+", source.name.lower().replace("@", " ").split("/")[-1])
    while words and words[0][0].isdigit():
        words.pop(0)
    name = "-".join(words)[:WORKER_NAME_MAX].strip("-")
    return name if valid_worker_name(name) else "motia-worker"


def default_description(source: SourceProject) -> str:
    text = " ".join(source.description.split())
    if not text:
        text = f"Imported from the Motia project {source.name}."
    return re.sub(r"[\x00-\x1f\x7f]", " ", text)[:DESCRIPTION_MAX]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m motia_import",
        description=(
            "Convert a Motia Python project (0.x, 1.0 release candidates or 1.0.x) into a new "
            "iii worker of this template: every step becomes iii functions and triggers in "
            "src/steps/, and MIGRATION.md lists what was converted and what is left as TODO."
        ),
    )
    p.add_argument("source", type=Path, help="the Motia project (read only)")
    p.add_argument("dest", type=Path, help="where to write the new project (must be empty)")
    p.add_argument("--worker-name", help="the worker's name (default: from the project's name)")
    p.add_argument("--description", help="one line for the worker (default: the project's)")
    p.add_argument(
        "--iii-line",
        choices=LINES,
        default=DEFAULT_LINE,
        help=f"the iii line (default {DEFAULT_LINE})",
    )
    p.add_argument(
        "--python-version",
        choices=sorted(PYTHON_VERSIONS),
        help=f"default: the project's .python-version or requires-python, else {DEFAULT_PYTHON}",
    )
    p.add_argument(
        "--package-manager",
        choices=("uv", "pip"),
        help="default: pip for a requirements.txt project, else uv",
    )
    p.add_argument(
        "--deploy",
        choices=("container", "virtualenv"),
        action="append",
        help="repeat for both (default: container)",
    )
    p.add_argument("--engine-url", default=ENGINE_URL, help="used when III_URL is unset")
    p.add_argument(
        "--force", action="store_true", help="write over an earlier import of this command in DEST"
    )
    p.add_argument(
        "--template", type=Path, default=TEMPLATE, help="the template checkout to render"
    )
    p.add_argument("--quiet", action="store_true", help="print no table")
    p.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)
    return p


def earlier_import(dest: Path) -> bool:
    """Whether DEST holds a project this command wrote: its MIGRATION.md header, or the
    `own_modules` entry for `steps` it answers copier with."""
    migration = dest / "MIGRATION.md"
    if migration.is_file() and not migration.is_symlink():
        with migration.open(encoding="utf-8", errors="replace") as text:
            if text.readline().rstrip("\n") == MIGRATION_HEADER:
                return True
    answers = dest / ".copier-answers.yml"
    if answers.is_file() and not answers.is_symlink():
        try:
            data = yaml.safe_load(answers.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            return False
        modules = data.get("own_modules") if isinstance(data, dict) else None
        return isinstance(modules, list) and any(
            isinstance(m, dict) and m.get("module") == "steps" for m in modules
        )
    return False


def check_paths(source: Path, dest: Path, force: bool) -> None:
    if not source.is_dir():
        raise UsageError(f"SOURCE {source} is not a directory")
    source_real, dest_real = source.resolve(), dest.resolve()
    if dest_real == source_real or source_real in dest_real.parents:
        raise UsageError("DEST is inside SOURCE: the importer never writes into SOURCE")
    if dest_real in source_real.parents:
        raise UsageError("SOURCE is inside DEST: writing DEST could overwrite SOURCE")
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"DEST {dest} exists and is not a directory")
    blocking = next((p for p in dest.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise UsageError(f"DEST {dest} is under {blocking}, which is a file, not a directory")
    if dest.is_dir() and any(dest.iterdir()):
        if not force:
            raise UsageError(
                f"DEST {dest} is not empty (use --force to write over an earlier import there)"
            )
        if not earlier_import(dest):
            raise UsageError(
                f"DEST {dest} is not empty and holds no earlier import (no MIGRATION.md of this "
                "command): --force only writes over an earlier import"
            )
        for path in dest.rglob("*"):
            if path.is_symlink():
                real = path.resolve()
                if real == source_real or source_real in real.parents:
                    raise UsageError(
                        f"{path} links into SOURCE: the importer never writes into SOURCE"
                    )
                if dest_real not in real.parents:
                    raise UsageError(
                        f"{path} links out of DEST: remove the link, the importer writes only "
                        "inside DEST"
                    )


def step_candidates(found: Discovered) -> list[str]:
    """The files that look like Motia steps, whatever became of them."""
    skipped = [str(path) for path, _ in found.skipped if STEP_LIKE.search(path.name)]
    return sorted({*map(str, found.steps), *map(str, found.other_language), *skipped})


def refuse_empty(source: SourceProject, found: Discovered, converted: Converted) -> None:
    """An import that converts no step has failed: say why, in one line."""
    if converted.steps:
        return
    candidates = step_candidates(found)
    pinned = source.version_source != "step configs"
    if not candidates and not pinned:
        raise SourceError(
            f"{source.root.name} is not a Motia project: no motia dependency and no step files"
        )
    if not candidates:
        raise SourceError(f"no step files found by the rule of {found.rule.description}")
    reasons = [
        f"{f.where}: {f.detail}"
        for f in converted.findings
        if f.where.split(":")[0] in candidates and f.status is not Status.CONVERTED
    ]
    reasons += [
        f"{p}: TypeScript/JavaScript steps are not converted"
        for p in map(str, found.other_language)
    ]
    shown = "; ".join(dict.fromkeys(reasons[:3])) or "none had a readable config and handler"
    raise SourceError(f"found {len(candidates)} step-like file(s) but converted none ({shown})")


def run(args: argparse.Namespace) -> int:
    check_paths(args.source, args.dest, args.force)
    started = time.perf_counter()
    source = read_project(args.source)
    worker = args.worker_name or default_worker_name(source)
    if not valid_worker_name(worker):
        raise UsageError(f"--worker-name {worker!r}: use {WORKER_NAME_RULE}")
    converted = convert(source, worker)
    refuse_empty(source, discover(source.root, source.step_rule()), converted)
    answers = Answers(
        worker_name=worker,
        description=args.description or default_description(source),
        iii_line=args.iii_line,
        python_version=args.python_version or source.python_version or DEFAULT_PYTHON,
        package_manager=args.package_manager or source.package_manager,
        deploy=args.deploy or ["container"],
        engine_url=args.engine_url,
    )
    extra = {
        PurePosixPath("MIGRATION.md"): migration_markdown(source, converted, worker),
        PurePosixPath("tests/test_imported_steps.py"): imported_steps_test(converted.registration),
    }
    write_project(
        args.template.resolve(),
        args.dest,
        answers,
        converted,
        extra,
        source.dependencies.requirements,
        source.root,
    )
    if not args.quiet:
        print(terminal_table(converted))
        print(
            f"\nWrote {args.dest} in {time.perf_counter() - started:.1f} s; read MIGRATION.md there."
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # Rendering from a checkout with uncommitted changes is fine here; copier warns about it.
    warnings.filterwarnings("ignore", category=DirtyLocalWarning)
    try:
        return run(args)
    except (UsageError, SourceError, RenderError) as error:
        print(f"motia_import: error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # a bug in the importer: say so in one line, keep the details
        if args.traceback:
            traceback.print_exc()
        print(
            f"motia_import: internal error: {type(error).__name__}: {error} "
            "(run again with --traceback for the details)",
            file=sys.stderr,
        )
        return 1
