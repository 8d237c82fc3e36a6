"""Fixtures for tests against a real control plane (etcd, kube-apiserver, kube-controller-manager).

One control plane per test session (starting one takes seconds; several would eat the CI
budget), with the kubelet stand-in running pods in podman. Tests isolate themselves by namespace.
When the components are not built, tests skip naming ``make setup-components`` - except with
``CI=true``, where they fail. The session prints how long the control plane took to start and how
long the real-cluster tests ran, so the suite's cost stays visible.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kratix_py.local_platform import components
from kratix_py.local_platform.controlplane import ControlPlane
from kratix_py.testing.fixtures_podman import require
from kratix_py.testing.realplatform import ChartCluster, started_cluster


def require_components(names: tuple[str, ...]) -> None:
    absent = components.missing(names)
    if absent:
        require(f"not built: {', '.join(absent)}; {components.SETUP_HINT}")


@pytest.fixture(scope="session")
def control_plane_binaries() -> None:
    require_components(components.CONTROL_PLANE)


@pytest.fixture(scope="session")
def control_plane(
    control_plane_binaries: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    """A running real control plane with the kubelet stand-in (pods run in podman)."""
    workdir: Path = tmp_path_factory.mktemp("controlplane")
    started = time.monotonic()
    plane = ControlPlane(workdir=workdir, pods="podman").start()
    print(f"\nreal control plane up in {plane.started_in:.1f}s at {plane.url}", file=sys.stderr)
    try:
        yield plane
    finally:
        plane.stop()
        print(f"\nreal control plane: {time.monotonic() - started:.1f}s from start to stop", file=sys.stderr)


@pytest.fixture(scope="session")
def chart_cluster(
    control_plane_binaries: None,
    helm_binary: Path,
    kratix_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ChartCluster]:
    """A second real control plane with the kratix chart installed, for the suites that run on
    both servers and tests/e2e (see :mod:`kratix_py.testing.realplatform`). Its own, not
    ``control_plane``: tests/realcluster installs the chart there with a Destination of its own."""
    started = time.monotonic()
    clusters = started_cluster(tmp_path_factory.mktemp("chart-cluster"), helm_binary, kratix_image)
    cluster = next(clusters)
    print(
        f"\nreal control plane with the kratix chart up in {time.monotonic() - started:.1f}s", file=sys.stderr
    )
    try:
        yield cluster
    finally:
        clusters.close()
        print(f"\nchart cluster: {time.monotonic() - started:.1f}s from start to stop", file=sys.stderr)


@pytest.fixture(scope="session")
def helm_binary() -> Path:
    """The Helm CLI built from its Go module."""
    require_components(("helm",))
    return components.binary("helm")


@pytest.fixture(scope="session")
def flux_binaries() -> dict[str, Path]:
    """Flux's source-controller and kustomize-controller, built from their Go modules."""
    require_components(components.FLUX)
    return {name: components.binary(name) for name in components.FLUX}


def run_helm(
    helm: Path, *args: str, home: Path, kubeconfig: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``helm args...`` with its config, cache and data folders under ``home`` (never the user's)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    return subprocess.run(
        [str(helm), *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
