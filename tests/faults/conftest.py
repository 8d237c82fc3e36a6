"""Fixtures of the fault suite, and its figures printed at the end of the run."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kratix_py import kube as k
from kratix_py.local_platform.gitserver import GitServer
from kratix_py.local_platform.kubeconfig import write_kubeconfig
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.testing.fixtures import ADAPTER_IMAGE
from tests.faults.harness import FIGURES, PASSWORD, FaultSystem, Runs, Teardown, steps
from tests.faults.proxy import FaultProxy

_repos = itertools.count()


@pytest.fixture(scope="module")
def git_server() -> Iterator[GitServer]:
    with GitServer(username="kratix", password=PASSWORD, https=False) as server:
        yield server


@pytest.fixture
def teardown() -> Teardown:
    return Teardown()


@pytest.fixture
def platform_and_runs(platform_factory: Callable[..., Any], teardown: Teardown) -> tuple[Any, Runs]:
    runs = Runs()
    return platform_factory(pods="fast", steps=steps(runs, teardown)), runs


@pytest.fixture
def faulty(platform_and_runs, git_server, tmp_path: Path) -> Iterator[tuple[FaultSystem, FaultProxy]]:
    """The system with the operator talking to the API through a :class:`FaultProxy`."""
    platform, runs = platform_and_runs
    repo = f"faults-{next(_repos)}"
    git_server.create_repo(repo)
    proxy = FaultProxy(int(platform.url.rsplit(":", 1)[1]))
    kubeconfig = write_kubeconfig(tmp_path / "through-proxy", proxy.url)
    system = FaultSystem(k.Kube(platform.api_client()), git_server, repo, runs)
    try:
        with RunningOperator(settings_for(str(kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)):
            yield system, proxy
    finally:
        FIGURES["faults injected"] += proxy.total_injected
        proxy.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    shown = ", ".join(
        f"{FIGURES[key]} {key}" for key in ("kills", "faults injected", "requests checked", "invariants held")
    )
    terminalreporter.write_line(f"fault suite: {shown}")
