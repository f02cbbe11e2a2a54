"""`python -m motia_import SOURCE DEST`: a Motia Python project in, a worker of this template out.

It never writes into SOURCE, refuses a non-empty DEST unless `--force`, prints a table of what
became of every step, and exits non-zero only when it could not produce a project at all.
"""

import argparse
import re
import sys
import time
import traceback
import warnings
from pathlib import Path, PurePosixPath

from copier.errors import DirtyLocalWarning

from motia_import.convert import convert
from motia_import.project import PYTHON_VERSIONS, SourceError, SourceProject, read_project
from motia_import.render import TEMPLATE, Answers, RenderError, write_project
from motia_import.report import migration_markdown, terminal_table
from motia_import.testgen import imported_steps_test

LINES = ("0.25", "0.22", "0.11")
WORKER_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class UsageError(Exception):
    """Bad arguments (one line for the user)."""


def default_worker_name(source: SourceProject) -> str:
    words = re.findall(r"[a-z0-9]+", source.name.lower().replace("@", " ").split("/")[-1])
    while words and words[0][0].isdigit():
        words.pop(0)
    name = "-".join(words)[:40].strip("-")
    return name if name and WORKER_NAME.match(name) else "motia-worker"


def default_description(source: SourceProject) -> str:
    text = " ".join(source.description.split())
    if not text:
        text = f"Imported from the Motia project {source.name}."
    return re.sub(r"[\x00-\x1f\x7f]", " ", text)[:300]


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
    p.add_argument("--iii-line", choices=LINES, default="0.25", help="the iii line (default 0.25)")
    p.add_argument(
        "--python-version",
        choices=sorted(PYTHON_VERSIONS),
        help="default: the project's .python-version or requires-python, else 3.12",
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
    p.add_argument(
        "--engine-url", default="ws://127.0.0.1:49134", help="used when III_URL is unset"
    )
    p.add_argument("--force", action="store_true", help="write into a non-empty DEST")
    p.add_argument(
        "--template", type=Path, default=TEMPLATE, help="the template checkout to render"
    )
    p.add_argument("--quiet", action="store_true", help="print no table")
    p.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)
    return p


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
    if dest.is_dir() and any(dest.iterdir()) and not force:
        raise UsageError(f"DEST {dest} is not empty (use --force to write into it)")


def run(args: argparse.Namespace) -> int:
    check_paths(args.source, args.dest, args.force)
    started = time.perf_counter()
    source = read_project(args.source)
    worker = args.worker_name or default_worker_name(source)
    if not WORKER_NAME.match(worker) or len(worker) > 40:
        raise UsageError(
            f"--worker-name {worker!r}: use 1-40 lower-case letters and digits in words joined by "
            "single hyphens, starting with a letter"
        )
    converted = convert(source, worker)
    if not converted.steps and not converted.findings:
        raise SourceError(f"no Motia steps found in {args.source}")
    answers = Answers(
        worker_name=worker,
        description=args.description or default_description(source),
        iii_line=args.iii_line,
        python_version=args.python_version or source.python_version or "3.12",
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
