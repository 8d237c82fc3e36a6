"""Shared pieces of the chart tests: where the charts are, and offline manifest validation."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

REPO = Path(__file__).resolve().parents[2]
KRATIX_CHART = REPO / "charts" / "kratix"
DESTINATION_CHART = REPO / "charts" / "kratix-destination"

KUBERNETES_VERSION = "1.33.0"
"""A recent Kubernetes the built-in manifests are validated against (kubernetes-validate ships it)."""


def validate_builtin(obj: Mapping[str, Any]) -> None:
    """Strict schema validation of a built-in object: unknown fields and wrong types fail."""
    try:
        kubernetes_validate.validate(dict(obj), KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        name = f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}"
        raise AssertionError(
            f"{name} is not valid Kubernetes {KUBERNETES_VERSION}: {error.message}"
        ) from None


def is_builtin(obj: Mapping[str, Any]) -> bool:
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return group in ("", "apps", "batch", "rbac.authorization.k8s.io", "apiextensions.k8s.io")


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
