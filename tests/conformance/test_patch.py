"""The PATCH flavours: merge, JSON (with kopf's resourceVersion test), strategic merge, apply."""

from __future__ import annotations

import json

import pytest
import yaml
from kubernetes.client import ApiException

from .conftest import Kube


def _cm_path(kube: Kube, name: str) -> str:
    return f"/api/v1/namespaces/{kube.namespace}/configmaps/{name}"


def test_merge_patch_merges_maps_and_null_deletes(kube: Kube) -> None:
    kube.core.create_namespaced_config_map(
        kube.namespace,
        {"metadata": {"name": "cm", "labels": {"a": "1", "b": "2"}}, "data": {"x": "1", "y": "2"}},
    )
    response = kube.raw(
        "PATCH",
        _cm_path(kube, "cm"),
        {"metadata": {"labels": {"b": None, "c": "3"}}, "data": {"y": "20"}},
        content_type="application/merge-patch+json",
    )
    assert response.status == 200
    assert response.body["metadata"]["labels"] == {"a": "1", "c": "3"}
    assert response.body["data"] == {"x": "1", "y": "20"}


def test_json_patch_guarded_by_a_resource_version_test(kube: Kube) -> None:
    cm = kube.core.create_namespaced_config_map(
        kube.namespace, {"metadata": {"name": "cm"}, "data": {"x": "1"}}
    )
    rv = cm.metadata.resource_version
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/keep"]},
        {"op": "replace", "path": "/data/x", "value": "2"},
    ]
    response = kube.raw("PATCH", _cm_path(kube, "cm"), ops, content_type="application/json-patch+json")
    assert response.status == 200
    assert response.body["metadata"]["finalizers"] == ["example.com/keep"]
    assert response.body["data"] == {"x": "2"}
    # The same patch again: the resourceVersion moved on, so the test op fails with 422.
    stale = kube.raw("PATCH", _cm_path(kube, "cm"), ops, content_type="application/json-patch+json")
    assert stale.status == 422
    assert stale.body["kind"] == "Status"
    appended = kube.raw(
        "PATCH",
        _cm_path(kube, "cm"),
        [{"op": "add", "path": "/metadata/finalizers/-", "value": "example.com/two"}],
        content_type="application/json-patch+json",
    )
    assert appended.body["metadata"]["finalizers"] == ["example.com/keep", "example.com/two"]
    removed = kube.raw(
        "PATCH",
        _cm_path(kube, "cm"),
        [{"op": "remove", "path": "/metadata/finalizers"}],
        content_type="application/json-patch+json",
    )
    assert "finalizers" not in removed.body["metadata"]


def test_json_patch_on_a_missing_path_is_rejected(kube: Kube) -> None:
    kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "cm"}})
    response = kube.raw(
        "PATCH",
        _cm_path(kube, "cm"),
        [{"op": "replace", "path": "/data/nope", "value": "1"}],
        content_type="application/json-patch+json",
    )
    assert response.status == 422
    assert response.body["kind"] == "Status"


def _pod_template(containers: list[dict]) -> dict:
    return {"metadata": {"labels": {"app": "demo"}}, "spec": {"containers": containers}}


def test_strategic_merge_patch_merges_lists_by_key(kube: Kube) -> None:
    deployment = {
        "metadata": {"name": "demo"},
        "spec": {
            "selector": {"matchLabels": {"app": "demo"}},
            "template": _pod_template(
                [
                    {
                        "name": "main",
                        "image": "busybox:1",
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    },
                    {"name": "side", "image": "busybox:1"},
                ]
            ),
        },
    }
    kube.apps.create_namespaced_deployment(kube.namespace, deployment)
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": "busybox:2",
                            "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
                        },
                        {"name": "side", "$patch": "delete"},
                    ]
                }
            }
        }
    }
    patched = kube.apps.patch_namespaced_deployment(
        "demo", kube.namespace, patch
    )  # strategic merge by default
    containers = patched.spec.template.spec.containers
    assert [c.name for c in containers] == ["main"]
    assert containers[0].image == "busybox:2"
    assert {e.name: e.value for e in containers[0].env} == {"A": "1", "B": "20", "C": "3"}
    assert patched.metadata.generation == 2


def test_strategic_merge_patch_replace_directive_and_primitive_lists(kube: Kube) -> None:
    kube.core.create_namespaced_config_map(
        kube.namespace,
        {"metadata": {"name": "cm", "finalizers": ["example.com/a"]}, "data": {"x": "1", "y": "2"}},
    )
    response = kube.raw(
        "PATCH",
        _cm_path(kube, "cm"),
        {"data": {"$patch": "replace", "z": "3"}, "metadata": {"finalizers": ["example.com/b"]}},
        content_type="application/strategic-merge-patch+json",
    )
    assert response.status == 200
    assert response.body["data"] == {"z": "3"}
    # metadata.finalizers has the "merge" strategy: the lists are united, the patch's new items first.
    assert response.body["metadata"]["finalizers"] == ["example.com/b", "example.com/a"]
    pruned = kube.raw(
        "PATCH",
        _cm_path(kube, "cm"),
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a"]}},
        content_type="application/strategic-merge-patch+json",
    )
    assert pruned.body["metadata"]["finalizers"] == ["example.com/b"]
    # Leave nothing that would hold the test namespace back on a real cluster.
    kube.core.patch_namespaced_config_map("cm", kube.namespace, {"metadata": {"finalizers": None}})


def test_strategic_merge_patch_is_refused_for_custom_objects(kube: Kube) -> None:
    group = kube.group()
    kube.create_crd("Thing", group=group)
    kube.custom.create_namespaced_custom_object(
        group,
        "v1",
        kube.namespace,
        "things",
        {"apiVersion": f"{group}/v1", "kind": "Thing", "metadata": {"name": "a"}},
    )
    response = kube.raw(
        "PATCH",
        f"/apis/{group}/v1/namespaces/{kube.namespace}/things/a",
        {"spec": {"x": 1}},
        content_type="application/strategic-merge-patch+json",
    )
    assert response.status == 415
    assert response.body["reason"] == "UnsupportedMediaType"


def test_patch_of_a_missing_object_is_404(kube: Kube) -> None:
    with pytest.raises(ApiException) as caught:
        kube.core.patch_namespaced_config_map("absent", kube.namespace, {"data": {"a": "b"}})
    assert caught.value.status == 404


def test_patch_with_a_stale_resource_version_is_409(kube: Kube) -> None:
    cm = kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "cm"}})
    kube.core.patch_namespaced_config_map("cm", kube.namespace, {"data": {"a": "1"}})
    response = kube.raw(
        "PATCH",
        _cm_path(kube, "cm"),
        {"metadata": {"resourceVersion": cm.metadata.resource_version}, "data": {"a": "2"}},
        content_type="application/merge-patch+json",
    )
    assert response.status == 409
    assert response.body["reason"] == "Conflict"


def test_server_side_apply_creates_updates_and_forgets_fields(kube: Kube) -> None:
    path = _cm_path(kube, "applied")
    query = {"fieldManager": "conformance", "force": "true"}
    first = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "applied", "labels": {"a": "1"}},
        "data": {"x": "1", "y": "2"},
    }
    created = kube.raw(
        "PATCH", path, json.dumps(first), content_type="application/apply-patch+yaml", query=query
    )
    assert created.status == 201, created.body
    assert created.body["data"] == {"x": "1", "y": "2"}
    # YAML 1.1, as the API server reads it: an unquoted y is a boolean, so the key is "true".
    ones = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "yaml11"}}
    text = yaml.safe_dump(ones) + "data:\n  y: 'yes'\n  n: 'no'\n"
    decoded = kube.raw("PATCH", _cm_path(kube, "yaml11"), text, content_type="application/apply-patch+yaml",
                       query=query)  # fmt: skip
    assert decoded.body["data"] == {"true": "yes", "false": "no"}, decoded.body
    kube.core.patch_namespaced_config_map("applied", kube.namespace, {"data": {"other": "kept"}})
    second = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"x": "10"}}
    updated = kube.raw(
        "PATCH", path, json.dumps(second), content_type="application/apply-patch+yaml", query=query
    )
    assert updated.status == 200
    # y and the label were applied by this manager before and are not any more: they go.
    # "other" belongs to another manager and stays.
    assert updated.body["data"] == {"x": "10", "other": "kept"}
    assert "a" not in (updated.body["metadata"].get("labels") or {})


def test_apply_needs_a_field_manager(kube: Kube) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    response = kube.raw(
        "PATCH", _cm_path(kube, "x"), json.dumps(body), content_type="application/apply-patch+yaml"
    )
    assert response.status == 422
    assert response.body["reason"] == "Invalid"
    assert response.body["details"]["causes"][0]["field"] == "fieldManager"
