"""kratix_py.kube against the local platform's API: apply is create, patch-if-different, or nothing."""

from __future__ import annotations

import pytest

from kratix_py import kube as k


@pytest.fixture
def kube(local_platform) -> k.Kube:
    return k.Kube(local_platform.api_client())


def config_map(data: dict[str, str], labels: dict[str, str] | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "default", "labels": labels or {"app": "x"}},
        "data": data,
    }


def test_apply_creates_then_leaves_an_unchanged_object_alone(kube):
    created = kube.apply(k.CONFIGMAPS, config_map({"a": "1"}))
    again = kube.apply(k.CONFIGMAPS, config_map({"a": "1"}))
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_apply_patches_what_differs_and_keeps_what_others_added(kube):
    kube.apply(k.CONFIGMAPS, config_map({"a": "1"}))
    kube.patch(k.CONFIGMAPS, "settings", {"metadata": {"labels": {"added-by": "someone"}}}, "default")
    updated = kube.apply(k.CONFIGMAPS, config_map({"a": "2"}))
    assert updated["data"] == {"a": "2"}
    assert updated["metadata"]["labels"] == {"app": "x", "added-by": "someone"}


def test_api_errors_carry_the_servers_message(kube):
    with pytest.raises(k.KubeError) as error:
        kube.create(k.CONFIGMAPS, {**config_map({}), "metadata": {"name": "x", "namespace": "missing"}})
    assert error.value.not_found and "missing" in error.value.message
    assert kube.get(k.CONFIGMAPS, "nothing", "default") is None
    assert kube.delete(k.CONFIGMAPS, "nothing", "default") is False
