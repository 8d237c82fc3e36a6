"""The container runtime behind ``render`` and ``test``, and the images it needs, checked up front.

Pipeline pods run on the local platform's pod runner, which drives podman. A missing runtime or a
missing image would otherwise surface as a failed Job with ``ErrImageNeverPull`` somewhere in a
pod status; checking first turns each into one message naming what is missing and how to get it.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from kratix_py.errors import CommandError

RUNTIME_CHOICES = ("auto", "podman", "docker")

ADAPTER_BUILD_HINT = "python -m kratix_py.local_platform.kratix_image"
PIPELINE_BUILD_HINT = "python -m kratix_py.authoring.build <directory with its Dockerfile> {image}"


class EnvironmentProblem(CommandError):
    """This machine cannot run the pipelines (no runtime, missing image): the same for every case."""


def select_runtime(choice: str) -> str:
    """The runtime to use for ``choice`` (``auto`` picks whichever works), or a CommandError."""
    from kratix_py.local_platform.podman import SETUP_HINT, podman_problem

    if choice not in RUNTIME_CHOICES:
        raise CommandError(f"--runtime {choice!r} is not one of {', '.join(RUNTIME_CHOICES)}")
    if choice == "docker":
        if shutil.which("docker") is None:
            raise EnvironmentProblem(
                "--runtime docker: docker is not installed on this machine; "
                "use --runtime podman, or leave --runtime out to use whichever runtime works"
            )
        raise EnvironmentProblem(
            "--runtime docker: pipeline pods run on kratix-py's local pod runner, which drives podman "
            "only for now; install podman and use --runtime podman"
        )
    problem = podman_problem()
    if problem is None:
        return "podman"
    if choice == "auto" and shutil.which("docker") is not None:
        raise EnvironmentProblem(
            f"no usable container runtime: podman: {problem}. docker is installed, but the local pod "
            "runner drives podman only; install podman"
        )
    raise EnvironmentProblem(f"no usable container runtime: podman: {problem}. ({SETUP_HINT})")


def require_images(
    images: Mapping[str, str], *, adapter_image: str, sources: Mapping[str, Path] | None = None
) -> None:
    """Fail with one message unless every image is in local storage (nothing is ever pulled).

    ``images`` maps each image to who uses it (``pipeline configure, container main``);
    ``sources`` the folders images are built from, where known, for the hint.
    """
    from kratix_py.local_platform.podman import image_exists

    missing = [image for image in sorted(images) if not image_exists(image)]
    if not missing:
        return
    image = missing[0]
    if image == adapter_image:
        how = f"build kratix-py's own image with: {ADAPTER_BUILD_HINT} (or pass --adapter-image)"
    elif sources and image in sources:
        how = f"build it first: python -m kratix_py.authoring.build {sources[image]} {image}"
    else:
        how = f"build it first, e.g. {PIPELINE_BUILD_HINT.format(image=image)}"
    others = f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
    raise EnvironmentProblem(
        f"image {image} ({images[image]}) is not present locally and nothing is pulled here; {how}{others}"
    )
