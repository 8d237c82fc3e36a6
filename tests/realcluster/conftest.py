"""Session fixtures of the real-cluster tests that share one ``helm install`` of the kratix chart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kratix_py.local_platform.controlplane import ControlPlane
from kratix_py.local_platform.kratix_image import build_pipeline_image

from .chart_platform import GREETING, GREETING_IMAGE, Platform, installed


@pytest.fixture(scope="session")
def greeting_image(base_image: str) -> str:
    return build_pipeline_image(GREETING / "pipeline", GREETING_IMAGE)


@pytest.fixture(scope="session")
def platform(
    control_plane: ControlPlane,
    helm_binary: Path,
    kratix_image: str,
    greeting_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Platform]:
    """The chart installed with replicas=0 (tests run the operator they need), Git, one Destination."""
    yield from installed(control_plane, helm_binary, kratix_image, tmp_path_factory.mktemp("platform-chart"))
