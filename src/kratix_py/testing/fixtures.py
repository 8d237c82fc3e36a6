"""pytest fixtures for kratix-py and for Promise authors.

Use them from a conftest.py: ``pytest_plugins = ["kratix_py.testing.fixtures", "kratix_py.testing.fixtures_podman"]``
(the second adds ``podman_ready`` and ``base_image``, which ``kratix_image`` needs).

Each test gets a fresh local platform in milliseconds (API emulator + kubeconfig), with kratix-py's
CRDs installed; operator tests add a pod runner (fast in-process steps, or podman) and the operator.

A test marked ``both_servers`` runs twice: ``[emulator]`` as above, and ``[real]`` against the
real control plane with the kratix chart installed (``chart_cluster``, one per session; see
:mod:`kratix_py.testing.realplatform`): ``platform_factory`` then returns a
:class:`~kratix_py.testing.realplatform.RealPlatform` whose ``kubeconfig`` holds the chart
ServiceAccount's token, so the operator the test starts has the chart's permissions, not admin's.
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


API_SERVERS = ("emulator", "real")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "both_servers: run against the API emulator and against the real control plane with the "
        "kratix chart (test ids [emulator] and [real]; the real one is marked real_cluster)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "api_server" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("both_servers") is None:
        return
    metafunc.parametrize(
        "api_server",
        [
            pytest.param("emulator", id="emulator"),
            pytest.param("real", id="real", marks=[pytest.mark.real_cluster, pytest.mark.slow]),
        ],
        indirect=True,
    )


@pytest.fixture
def api_server(request: pytest.FixtureRequest) -> str:
    """Which API server ``platform_factory`` starts against: ``emulator`` unless the test is
    marked ``both_servers`` (then each in turn)."""
    return str(getattr(request, "param", "emulator"))


def adapter_steps_in_pods() -> dict[str, Callable[..., int | None]]:
    """:func:`adapter_steps` for the real control plane: each with its pod's ServiceAccount token."""
    from kratix_py.testing.realplatform import in_pod_step

    return {image: in_pod_step(step) for image, step in adapter_steps().items()}


@pytest.fixture
def platform_factory(
    tmp_path: Path, api_server: str, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Any]]:
    """Start a local platform: ``platform_factory(pods="fast", steps={...})``; stopped after the test.

    With ``api_server == "real"`` it is the session's real control plane instead (see the module
    docs), put back as it was after the test; ``pods`` makes no difference there (the kubelet
    stand-in runs every pod: ``steps`` in-process, other images with podman).
    """
    if api_server == "real":
        yield from _real_platform(request)
        return
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


def _real_platform(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    from kratix_py.testing.realplatform import RealPlatform

    cluster = request.getfixturevalue("chart_cluster")
    started: list[RealPlatform] = []

    def start(**options: Any) -> RealPlatform:
        assert not started, "the real control plane is one cluster: one platform per test"
        platform = RealPlatform(cluster)
        platform.use_steps({**adapter_steps_in_pods(), **dict(options.get("steps") or {})})
        started.append(platform)
        return platform

    try:
        yield start
    finally:
        for platform in started:
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
