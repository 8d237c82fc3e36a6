"""pytest fixtures for kratix-py and for Promise authors.

Use them from a conftest.py: ``pytest_plugins = ["kratix_py.testing.fixtures", "kratix_py.testing.fixtures_podman"]``
(the second adds ``podman_ready`` and ``base_image``, which ``kratix_image`` needs).

Each test gets a fresh local platform in milliseconds (API emulator + kubeconfig), with kratix-py's
CRDs installed; operator tests add a pod runner (fast in-process steps, or podman) and the operator.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kratix_py import kube as k
from kratix_py.local_platform.platform import LocalPlatform

T = TypeVar("T")

ADAPTER_IMAGE = "localhost/kratix-py:dev"
"""kratix-py's image on the local platform (see kratix_image.py); fast mode runs its steps in-process."""


def install_crds(kube: k.Kube) -> None:
    """Create kratix-py's CRDs from the models (what ``kubectl apply -f crds/`` does)."""
    import yaml

    from kratix_py.api import crdgen

    for text in crdgen.generate().values():
        crd = yaml.safe_load(text)
        kube.apply(k.CRDS, crd)


def wait_for(
    check: Callable[[], T | None], *, timeout: float = 20.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check!r} (last: {last!r})")


def adapter_steps() -> dict[str, Callable[..., int | None]]:
    """Fast-mode steps for the adapter image: the real adapter code, run in-process."""
    from kratix_py.adapter.steps import run_container

    return {ADAPTER_IMAGE: run_container}


@pytest.fixture
def platform_factory(tmp_path: Path) -> Iterator[Callable[..., LocalPlatform]]:
    """Start a local platform: ``platform_factory(pods="fast", steps={...})``; stopped after the test."""
    started: list[LocalPlatform] = []

    def start(**options: Any) -> LocalPlatform:
        steps = dict(options.pop("steps", {}))
        if options.get("pods") == "fast":
            steps = {**adapter_steps(), **steps}
        platform = LocalPlatform(
            workdir=tmp_path / f"platform-{len(started)}", steps=steps, **options
        ).start()
        started.append(platform)
        install_crds(k.Kube(platform.api_client()))
        return platform

    yield start
    for platform in reversed(started):
        platform.stop()


@pytest.fixture
def local_platform(platform_factory: Callable[..., LocalPlatform]) -> LocalPlatform:
    """A local platform with kratix-py's CRDs and no pod runner."""
    return platform_factory()


@pytest.fixture(scope="session")
def kratix_image(base_image: str) -> str:
    """kratix-py's own image, built from the working tree (reused while the source is unchanged)."""
    from kratix_py.local_platform.kratix_image import ensure_kratix_image

    return ensure_kratix_image(ADAPTER_IMAGE)
