"""Build times and sizes of the generated images, per Python and package manager.

    DOCKER_HOST=... python -m benchmarks.images [--python 3.11 ...] [--package-manager uv ...]

Needs a container engine with the python:X.Y-slim bases (`.ci/container-engine start DIR` prints
its DOCKER_HOST). For each variant, one after the other, on a fresh copy of the all-triggers
project (no uv.lock): a cold build, with no layers and no download cache (`docker builder prune`
first: it empties the whole engine's build cache, so run this alone), then a rebuild after a change
to src/, which reuses the dependency layers. Sizes are the image's and what it adds to its base.
Downloads are part of the cold figure: compare variants of one run, not runs.
"""

import argparse
import sys
import tempfile
import uuid
from pathlib import Path

from harness import containers
from harness.projects import RENDERS, render


def measure(python: str, package_manager: str, where: Path) -> str:
    if problem := containers.base_problem(python):
        return f"{python:<5} {package_manager:<4} skipped: {problem}"
    answers = {**RENDERS["all"], "python_version": python, "package_manager": package_manager}
    project = render(where / f"{package_manager}-{python}", answers)
    tag = f"copier-iii-worker-bench/{package_manager}-{python}:{uuid.uuid4().hex[:12]}"
    containers.docker("builder", "prune", "--all", "--force", timeout=300)
    try:
        cold = containers.build(project, tag)
        if not cold.ok:
            return f"{python:<5} {package_manager:<4} build failed:\n{cold.log[-2000:]}"
        main = project / "src" / "main.py"
        main.write_text(main.read_text() + "# changed\n")
        cached = containers.build(project, tag)
        size = containers.image_bytes(tag) / 1e6
        added = size - containers.image_bytes(f"python:{python}-slim") / 1e6
        return (
            f"{python:<5} {package_manager:<4} {cold.seconds:6.1f} s {cached.seconds:7.1f} s"
            f" {size:6.0f} MB {added:6.0f} MB"
        )
    finally:
        containers.remove_image(tag)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", nargs="+", default=["3.10", "3.11", "3.12", "3.13"])
    parser.add_argument("--package-manager", nargs="+", default=["uv", "pip"])
    options = parser.parse_args()
    if problem := containers.engine_problem():
        print(problem, file=sys.stderr)
        return 1
    print("python pm     cold  src change    image  on base")
    with tempfile.TemporaryDirectory() as where:
        for python in options.python:
            for package_manager in options.package_manager:
                print(measure(python, package_manager, Path(where)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
