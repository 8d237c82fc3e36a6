"""Create, get, list, replace and delete, with the metadata and errors a real server gives."""

from __future__ import annotations

import json

import pytest
from kubernetes.client import ApiException

from .conftest import Kube


def _status(exc: ApiException) -> dict:
    body = json.loads(exc.body)
    assert body["kind"] == "Status"
    assert body["status"] == "Failure"
    assert body["code"] == exc.status
    return body


def test_create_answers_201_and_fills_in_metadata(kube: Kube) -> None:
    response = kube.raw(
        "POST",
        f"/api/v1/namespaces/{kube.namespace}/configmaps",
        {"metadata": {"name": "cm"}, "data": {"a": "1"}},
    )
    assert response.status == 201
    meta = response.body["metadata"]
    assert meta["namespace"] == kube.namespace
    assert meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"].endswith("Z")
    assert response.body["kind"] == "ConfigMap" and response.body["apiVersion"] == "v1"
    created = kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"generateName": "gen-"}})
    assert created.metadata.name.startswith("gen-") and len(created.metadata.name) == len("gen-") + 5
    assert created.metadata.generate_name == "gen-"


def test_custom_objects_start_at_generation_1(kube: Kube) -> None:
    group = kube.group()
    kube.create_crd("Thing", group=group)
    obj = kube.custom.create_namespaced_custom_object(
        group,
        "v1",
        kube.namespace,
        "things",
        {"apiVersion": f"{group}/v1", "kind": "Thing", "metadata": {"name": "a"}, "spec": {}},
    )
    assert obj["metadata"]["generation"] == 1
    assert obj["metadata"]["namespace"] == kube.namespace


def test_create_in_a_missing_namespace_is_404(kube: Kube) -> None:
    with pytest.raises(ApiException) as caught:
        kube.core.create_namespaced_config_map("does-not-exist-ns", {"metadata": {"name": "cm"}})
    assert caught.value.status == 404
    body = _status(caught.value)
    assert body["reason"] == "NotFound"
    assert body["details"]["kind"] == "namespaces"
    assert body["details"]["name"] == "does-not-exist-ns"


def test_create_twice_is_409_already_exists(kube: Kube) -> None:
    kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "dup"}})
    with pytest.raises(ApiException) as caught:
        kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "dup"}})
    body = _status(caught.value)
    assert caught.value.status == 409
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'configmaps "dup" already exists'


def test_create_with_a_resource_version_is_rejected(kube: Kube) -> None:
    with pytest.raises(ApiException) as caught:
        kube.core.create_namespaced_config_map(
            kube.namespace, {"metadata": {"name": "x", "resourceVersion": "5"}}
        )
    # A real server answers 500 here (the storage layer refuses it); the emulator answers 400, as
    # it never blames itself for a client's mistake. Either way the message says what is wrong.
    assert caught.value.status in (400, 500)
    assert "resourceVersion should not be set" in _status(caught.value)["message"]


def test_invalid_names_are_422(kube: Kube) -> None:
    with pytest.raises(ApiException) as caught:
        kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "Not_Valid"}})
    body = _status(caught.value)
    assert caught.value.status == 422
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    with pytest.raises(ApiException) as caught:
        kube.core.create_namespaced_config_map(
            kube.namespace, {"metadata": {"name": "ok", "labels": {"a": "has space"}}}
        )
    assert caught.value.status == 422
    assert _status(caught.value)["details"]["causes"][0]["field"] == "metadata.labels"


def test_get_and_404_not_found(kube: Kube) -> None:
    kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "here"}, "data": {"k": "v"}})
    assert kube.core.read_namespaced_config_map("here", kube.namespace).data == {"k": "v"}
    with pytest.raises(ApiException) as caught:
        kube.core.read_namespaced_config_map("missing", kube.namespace)
    body = _status(caught.value)
    assert caught.value.status == 404
    assert body["reason"] == "NotFound"
    assert body["message"] == 'configmaps "missing" not found'
    assert body["details"] == {"name": "missing", "kind": "configmaps"}


def test_list_carries_a_resource_version_and_only_its_namespace(kube: Kube) -> None:
    for name in ("b", "a"):
        kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": name}})
    listed = kube.core.list_namespaced_config_map(kube.namespace)
    assert listed.metadata.resource_version
    names = [cm.metadata.name for cm in listed.items]
    assert set(names) >= {"a", "b"}
    assert all(cm.metadata.namespace == kube.namespace for cm in listed.items)
    everywhere = kube.core.list_config_map_for_all_namespaces()
    assert {(cm.metadata.namespace, cm.metadata.name) for cm in everywhere.items} >= {
        (kube.namespace, "a"),
        (kube.namespace, "b"),
    }


def test_list_pages_with_limit_and_continue(kube: Kube) -> None:
    for i in range(5):
        kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": f"page-{i}"}})
    first = kube.core.list_namespaced_config_map(kube.namespace, limit=2)
    assert len(first.items) == 2 and first.metadata._continue
    seen = [cm.metadata.name for cm in first.items]
    token = first.metadata._continue
    while token:
        page = kube.core.list_namespaced_config_map(kube.namespace, limit=2, _continue=token)
        seen += [cm.metadata.name for cm in page.items]
        token = page.metadata._continue
    assert sorted(n for n in seen if n.startswith("page-")) == [f"page-{i}" for i in range(5)]
    assert len(seen) == len(set(seen))


def test_replace_with_a_stale_resource_version_is_409_conflict(kube: Kube) -> None:
    cm = kube.core.create_namespaced_config_map(
        kube.namespace, {"metadata": {"name": "cm"}, "data": {"v": "1"}}
    )
    stale = cm.metadata.resource_version
    cm.data = {"v": "2"}
    replaced = kube.core.replace_namespaced_config_map("cm", kube.namespace, cm)
    assert replaced.data == {"v": "2"}
    assert replaced.metadata.resource_version != stale
    assert replaced.metadata.uid == cm.metadata.uid
    cm.data = {"v": "3"}
    cm.metadata.resource_version = stale
    with pytest.raises(ApiException) as caught:
        kube.core.replace_namespaced_config_map("cm", kube.namespace, cm)
    body = _status(caught.value)
    assert caught.value.status == 409
    assert body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]
    assert kube.core.read_namespaced_config_map("cm", kube.namespace).data == {"v": "2"}


def test_replace_of_a_custom_object_needs_a_resource_version(kube: Kube) -> None:
    group = kube.group()
    kube.create_crd("Thing", group=group)
    kube.custom.create_namespaced_custom_object(
        group,
        "v1",
        kube.namespace,
        "things",
        {"apiVersion": f"{group}/v1", "kind": "Thing", "metadata": {"name": "a"}},
    )
    with pytest.raises(ApiException) as caught:
        kube.custom.replace_namespaced_custom_object(
            group,
            "v1",
            kube.namespace,
            "things",
            "a",
            {"apiVersion": f"{group}/v1", "kind": "Thing", "metadata": {"name": "a"}, "spec": {"x": 1}},
        )
    assert caught.value.status == 422


def test_delete_removes_the_object(kube: Kube) -> None:
    kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "gone"}})
    kube.core.delete_namespaced_config_map("gone", kube.namespace)
    with pytest.raises(ApiException) as caught:
        kube.core.read_namespaced_config_map("gone", kube.namespace)
    assert caught.value.status == 404
    with pytest.raises(ApiException) as caught:
        kube.core.delete_namespaced_config_map("gone", kube.namespace)
    assert caught.value.status == 404


def test_delete_collection_with_a_label_selector(kube: Kube) -> None:
    for name, team in (("a", "red"), ("b", "red"), ("c", "blue")):
        kube.core.create_namespaced_config_map(
            kube.namespace, {"metadata": {"name": name, "labels": {"team": team}}}
        )
    kube.core.delete_collection_namespaced_config_map(kube.namespace, label_selector="team=red")
    left = {
        cm.metadata.name
        for cm in kube.core.list_namespaced_config_map(kube.namespace, label_selector="team").items
    }
    assert left == {"c"}


def test_cluster_scoped_objects_have_no_namespace(kube: Kube) -> None:
    role = kube.rbac.create_cluster_role(
        {
            "metadata": {"name": f"conformance-{kube.suffix}"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        }
    )
    try:
        assert role.metadata.namespace is None
        assert kube.rbac.read_cluster_role(role.metadata.name).rules[0].verbs == ["get"]
    finally:
        kube.rbac.delete_cluster_role(role.metadata.name)


def test_errors_never_hide_behind_500(kube: Kube) -> None:
    path = f"/api/v1/namespaces/{kube.namespace}/configmaps"
    for body in ("a string", [1, 2]):
        response = kube.raw("POST", path, body)
        assert 400 <= response.status < 500, response.body
        assert response.body["kind"] == "Status"
    response = kube.raw("POST", f"{path}/some-name", {"metadata": {"name": "x"}})
    assert response.status == 405
    assert response.body["reason"] == "MethodNotAllowed"
