"""Build the example Promises' pipeline images with podman, on kratix-py's local base image.

    .venv/bin/python examples/build_images.py              # every example Promise
    .venv/bin/python examples/build_images.py postgresql   # only these

Each pipeline's source lives next to its Promise in ``pipelines/<pipeline name>/`` (a Dockerfile
and the Python code); the image is tagged exactly as ``promise.yaml`` names it, so the Promise
runs what was just built. kratix-py's SDK (``kratix_py/__init__.py`` and ``kratix_py/sdk.py``) is
copied into the build context, which is why the Dockerfiles can ``COPY kratix_py``. Unchanged
sources are not rebuilt. The same layout also lets the tests find each image's source.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROMISES_DIR = Path(__file__).resolve().parent / "promises"


@dataclass(frozen=True)
class PipelineImage:
    """One container image of a Promise's workflows, and the folder it is built from."""

    promise: str
    workflow: str  # e.g. "resource.configure"
    pipeline: str
    image: str
    source: Path


def load_promise(promise_dir: Path) -> dict[str, Any]:
    data = yaml.safe_load((promise_dir / "promise.yaml").read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("kind") != "Promise":
        raise ValueError(f"{promise_dir / 'promise.yaml'} does not hold a Promise")
    return data


def pipeline_images(promise_dir: Path) -> Iterator[PipelineImage]:
    """Every container image the Promise's workflows run, with its source folder."""
    promise = load_promise(promise_dir)
    workflows = promise.get("spec", {}).get("workflows") or {}
    for workflow_type in ("promise", "resource"):
        for action in ("configure", "delete"):
            for pipeline in (workflows.get(workflow_type) or {}).get(action) or []:
                name = pipeline["metadata"]["name"]
                for container in pipeline["spec"]["containers"]:
                    yield PipelineImage(
                        promise=promise["metadata"]["name"],
                        workflow=f"{workflow_type}.{action}",
                        pipeline=name,
                        image=container["image"],
                        source=promise_dir / "pipelines" / name,
                    )


def example_promise_dirs(names: Sequence[str] = ()) -> list[Path]:
    found = sorted(path.parent for path in PROMISES_DIR.glob("*/promise.yaml"))
    if not names:
        return found
    by_name = {path.name: path for path in found}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise SystemExit(f"no example Promise named {', '.join(unknown)} (there are: {', '.join(by_name)})")
    return [by_name[name] for name in names]


def build(promise_dir: Path) -> list[str]:
    """Build every pipeline image of one Promise; returns the tags."""
    from kratix_py.local_platform.kratix_image import build_pipeline_image

    built: list[str] = []
    for entry in pipeline_images(promise_dir):
        if entry.image in built:
            continue  # several containers may share one image
        if not (entry.source / "Dockerfile").is_file():
            raise SystemExit(f"{entry.image}: no Dockerfile in {entry.source} (pipelines/<pipeline name>/)")
        print(f"building {entry.image} from {entry.source.relative_to(PROMISES_DIR.parent)}", flush=True)
        built.append(build_pipeline_image(entry.source, entry.image))
    return built


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("promises", nargs="*", help="example Promise names (default: all)")
    args = parser.parse_args(argv)
    for promise_dir in example_promise_dirs(args.promises):
        for tag in build(promise_dir):
            print(f"ready: {tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
