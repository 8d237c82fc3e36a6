"""pytest fixtures for tests that run real containers; import them into a conftest.py::

    from kratix_py.testing.fixtures_podman import base_image, podman_ready  # noqa: F401

``podman_ready`` (session) makes sure podman can run containers; ``base_image`` (session) returns
the reference of the kratix-py base image, building it once if this machine lacks it (about a
minute, as root). When something is missing and cannot be fixed here, the test is skipped with
what to run - except under CI (``CI=true``), where it fails instead: a CI run that silently skips
the container tests proves nothing.
"""

from __future__ import annotations

import os
import sys

import pytest

from kratix_py.local_platform.images import (
    BUILD_BASE_HINT,
    ImageBuildError,
    base_image_ref,
    ensure_base_image,
)
from kratix_py.local_platform.podman import PodmanError, image_exists, podman_problem


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require(problem: str | None) -> None:
    """Skip the test because of ``problem`` - or, in CI, fail it loudly."""
    if problem is None:
        return
    if in_ci():
        pytest.fail(f"CI=true and a test dependency is missing: {problem}", pytrace=False)
    pytest.skip(problem)


@pytest.fixture(scope="session")
def podman_ready() -> None:
    """podman works with the project's configuration (runc, overlay storage, no pulls)."""
    require(podman_problem())


@pytest.fixture(scope="session")
def base_image(podman_ready: None) -> str:
    """``localhost/kratix-py-base:<suite>-<digest>``, built first if missing (needs root + debootstrap)."""
    ref = base_image_ref()
    if image_exists(ref):
        return ref
    print(f"\nbuilding the base image {ref} (once per machine, about a minute) ...", file=sys.stderr)
    try:
        return ensure_base_image(progress=lambda line: print(line, file=sys.stderr))
    except (ImageBuildError, PodmanError) as error:
        require(f"the base image {ref} is missing and could not be built ({error}); run: {BUILD_BASE_HINT}")
    raise AssertionError("unreachable")  # require() skipped or failed
