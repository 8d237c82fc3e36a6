"""Build a Promise's pipeline image from its folder, with the kratix_py pipeline SDK beside it.

Scaffolded pipelines (``kratix-py init promise``) import :mod:`kratix_py.sdk`. Machines without a
registry cannot ``pip install`` it inside the build, so this copies the SDK (standard library and
PyYAML only) into a staging copy of the folder, where the Dockerfile's ``COPY kratix_py ...`` finds
it, and builds on the locally made base image::

    python -m kratix_py.authoring.build pipelines/configure localhost/my-db-configure:v0.1.0
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from kratix_py.errors import CommandError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, help="the pipeline folder holding the Dockerfile")
    parser.add_argument("image", help="the image to build, as the Promise names it (e.g. localhost/x:v0.1.0)")


def build(directory: Path, image: str) -> str:
    """Build ``image`` from ``directory``; a CommandError with podman's output on failure."""
    from kratix_py.local_platform.images import ImageBuildError
    from kratix_py.local_platform.kratix_image import build_pipeline_image
    from kratix_py.local_platform.podman import PodmanError

    if not (directory / "Dockerfile").is_file() and not (directory / "Containerfile").is_file():
        raise CommandError(f"{directory}: no Dockerfile or Containerfile in this folder")
    with tempfile.TemporaryDirectory(prefix="kratix-py-build-") as staging:
        try:
            return build_pipeline_image(directory, image, build_dir=Path(staging) / "context")
        except (ImageBuildError, PodmanError) as error:
            raise CommandError(f"building {image} from {directory} failed: {error}") from None


def run(args: argparse.Namespace) -> int:
    print(build(args.directory, args.image))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kratix_py.authoring.build", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
