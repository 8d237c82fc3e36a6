"""CRDs: status, stored schema, validation, defaulting, pruning, versions, deletion."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client import ApiException

from .conftest import Kube

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "string", "enum": ["small", "medium"]},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 5, "default": 1},
                "name": {"type": "string", "minLength": 2, "maxLength": 8, "pattern": "^[a-z]+$"},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
                "port": {"x-kubernetes-int-or-string": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "x-kubernetes-preserve-unknown-fields": True,
                },
                "nested": {
                    "type": "object",
                    "default": {},
                    "properties": {
                        "mode": {"type": "string", "default": "auto"},
                        "note": {"type": "string", "nullable": True},
                    },
                },
                "withDefault": {"type": "string", "default": "filled"},
                "plain": {"type": "string"},
            },
        },
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}


def _widget(group: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


def _create(kube: Kube, group: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return kube.custom.create_namespaced_custom_object(
        group, "v1", kube.namespace, "widgets", _widget(group, name, spec)
    )


def _invalid(kube: Kube, group: str, spec: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ApiException) as caught:
        _create(kube, group, "bad", spec)
    assert caught.value.status == 422, caught.value.body
    body = json.loads(caught.value.body)
    assert body["kind"] == "Status" and body["reason"] == "Invalid"
    return body


@pytest.fixture
def widgets(kube: Kube) -> str:
    group = kube.group()
    kube.create_crd("Widget", group=group, schema=SCHEMA)
    return group


def test_crd_status_is_established_with_accepted_names(kube: Kube) -> None:
    group = kube.group()
    kube.create_crd("Gadget", group=group, short_names=["gd"])
    crd = kube.ext.read_custom_resource_definition(f"gadgets.{group}")
    conditions = {c.type: c for c in crd.status.conditions}
    assert conditions["Established"].status == "True"
    assert conditions["NamesAccepted"].status == "True"
    assert crd.status.accepted_names.kind == "Gadget"
    assert crd.status.accepted_names.plural == "gadgets"
    assert crd.status.accepted_names.short_names == ["gd"]
    assert crd.status.stored_versions == ["v1"]
    # The clean-up finalizer comes with deletion, not creation.
    assert not crd.metadata.finalizers


def test_a_deleted_crd_holds_its_clean_up_finalizer_until_its_objects_are_gone(kube: Kube) -> None:
    group = kube.group()
    kube.create_crd("Gizmo", group=group, status=False)
    obj = {
        "apiVersion": f"{group}/v1",
        "kind": "Gizmo",
        "metadata": {"name": "g", "finalizers": ["test/hold"]},
    }
    kube.custom.create_namespaced_custom_object(group, "v1", kube.namespace, "gizmos", obj)
    kube.ext.delete_custom_resource_definition(f"gizmos.{group}")
    crd = kube.ext.read_custom_resource_definition(f"gizmos.{group}")
    assert crd.metadata.deletion_timestamp is not None
    assert "customresourcecleanup.apiextensions.k8s.io" in (crd.metadata.finalizers or [])
    # Its object is being deleted; it goes when its own finalizer is removed, and the CRD after it.
    kube.eventually(
        lambda: kube.custom.get_namespaced_custom_object(group, "v1", kube.namespace, "gizmos", "g")[
            "metadata"
        ].get("deletionTimestamp"),
        message="the CRD's object was not deleted",
    )
    kube.custom.patch_namespaced_custom_object(
        group, "v1", kube.namespace, "gizmos", "g", {"metadata": {"finalizers": None}}
    )

    def gone() -> bool:
        try:
            kube.ext.read_custom_resource_definition(f"gizmos.{group}")
            return False
        except ApiException as error:
            return error.status == 404

    kube.eventually(gone, timeout=30, message="the CRD did not go after its objects")


def test_crd_stores_the_openapi_schema(kube: Kube, widgets: str) -> None:
    crd = kube.raw("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{widgets}").body
    stored = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert stored["properties"]["spec"]["properties"]["size"]["enum"] == ["small", "medium"]
    assert stored["properties"]["spec"]["properties"]["replicas"]["default"] == 1


def test_enum_violation_names_the_field_and_the_supported_values(kube: Kube, widgets: str) -> None:
    body = _invalid(kube, widgets, {"size": "huge"})
    cause = body["details"]["causes"][0]
    assert cause == {
        "reason": "FieldValueNotSupported",
        "message": 'Unsupported value: "huge": supported values: "small", "medium"',
        "field": "spec.size",
    }
    assert body["message"] == (
        f'Widget.{widgets} "bad" is invalid: spec.size: Unsupported value: "huge": '
        'supported values: "small", "medium"'
    )
    assert body["details"]["kind"] == "Widget" and body["details"]["group"] == widgets


@pytest.mark.parametrize(
    ("spec", "field", "reason"),
    [
        ({}, "spec.size", "FieldValueRequired"),
        ({"size": "small", "replicas": "three"}, "spec.replicas", "FieldValueTypeInvalid"),
        ({"size": "small", "replicas": 0}, "spec.replicas", "FieldValueInvalid"),
        ({"size": "small", "replicas": 9}, "spec.replicas", "FieldValueInvalid"),
        ({"size": "small", "name": "a"}, "spec.name", "FieldValueInvalid"),
        ({"size": "small", "name": "abcdefghij"}, "spec.name", "FieldValueTooLong"),
        ({"size": "small", "name": "ABC"}, "spec.name", "FieldValueInvalid"),
        ({"size": "small", "tags": []}, "spec.tags", "FieldValueInvalid"),
        ({"size": "small", "tags": ["a", "b", "c"]}, "spec.tags", "FieldValueTooMany"),
        ({"size": "small", "tags": [1]}, "spec.tags[0]", "FieldValueTypeInvalid"),
        ({"size": "small", "port": True}, "spec.port", "FieldValueTypeInvalid"),
        ({"size": "small", "labels": {"a": 1}}, "spec.labels.a", "FieldValueTypeInvalid"),
    ],
)
def test_schema_violations(kube: Kube, widgets: str, spec: dict[str, Any], field: str, reason: str) -> None:
    causes = _invalid(kube, widgets, spec)["details"]["causes"]
    assert (field, reason) in [(c["field"], c["reason"]) for c in causes], causes


def test_several_violations_are_reported_together(kube: Kube, widgets: str) -> None:
    body = _invalid(kube, widgets, {"size": "huge", "replicas": 0})
    assert {c["field"] for c in body["details"]["causes"]} == {"spec.size", "spec.replicas"}
    assert "is invalid: [" in body["message"]


def test_defaulting(kube: Kube, widgets: str) -> None:
    spec = _create(kube, widgets, "w", {"size": "small", "withDefault": None, "nested": {"note": None}})[
        "spec"
    ]
    assert spec["replicas"] == 1
    assert spec["withDefault"] == "filled"  # a null in a non-nullable field with a default gets the default
    assert spec["nested"] == {"mode": "auto", "note": None}  # nullable keeps null


def test_null_without_default_is_dropped(kube: Kube, widgets: str) -> None:
    spec = _create(kube, widgets, "w", {"size": "small", "plain": None})["spec"]
    assert "plain" not in spec


def test_pruning(kube: Kube, widgets: str) -> None:
    created = _create(
        kube,
        widgets,
        "w",
        {
            "size": "small",
            "unknown": "dropped",
            "labels": {"any": "kept"},
            "free": {"whatever": {"deep": True}},
            "template": {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "x"},
                "data": {"k": "v"},
            },
            "port": "http",
        },
    )
    spec = created["spec"]
    assert "unknown" not in spec
    assert spec["labels"] == {"any": "kept"}
    assert spec["free"] == {"whatever": {"deep": True}}
    assert spec["template"]["kind"] == "ConfigMap" and spec["template"]["data"] == {"k": "v"}
    assert spec["port"] == "http"
    top = kube.custom.create_namespaced_custom_object(
        widgets,
        "v1",
        kube.namespace,
        "widgets",
        {**_widget(widgets, "w2", {"size": "small"}), "topLevelUnknown": 1},
    )
    assert "topLevelUnknown" not in top


def test_unknown_fields_warn_or_fail_under_strict_validation(kube: Kube, widgets: str) -> None:
    path = f"/apis/{widgets}/v1/namespaces/{kube.namespace}/widgets"
    lenient = kube.raw("POST", path, _widget(widgets, "lenient", {"size": "small", "colour": "red"}))
    assert lenient.status == 201
    assert 'unknown field \\"spec.colour\\"' in lenient.headers.get("Warning", "")
    strict = kube.raw(
        "POST",
        path,
        _widget(widgets, "strict", {"size": "small", "colour": "red"}),
        query={"fieldValidation": "Strict"},
    )
    assert strict.status == 400
    assert 'unknown field "spec.colour"' in strict.body["message"]


def test_updates_are_validated_too(kube: Kube, widgets: str) -> None:
    _create(kube, widgets, "w", {"size": "small"})
    with pytest.raises(ApiException) as caught:
        kube.custom.patch_namespaced_custom_object(
            widgets, "v1", kube.namespace, "widgets", "w", {"spec": {"size": "huge"}}
        )
    assert caught.value.status == 422
    assert (
        kube.custom.get_namespaced_custom_object(widgets, "v1", kube.namespace, "widgets", "w")["spec"][
            "size"
        ]
        == "small"
    )


def test_multiple_versions_are_served_from_one_storage(kube: Kube) -> None:
    group = kube.group()
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    versions = [
        {"name": "v1alpha1", "served": True, "storage": False, "schema": {"openAPIV3Schema": schema}},
        {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}},
    ]
    kube.create_crd("Multi", group=group, versions=versions)
    kube.custom.create_namespaced_custom_object(
        group,
        "v1alpha1",
        kube.namespace,
        "multis",
        {"apiVersion": f"{group}/v1alpha1", "kind": "Multi", "metadata": {"name": "m"}, "spec": {"a": 1}},
    )
    as_v1 = kube.custom.get_namespaced_custom_object(group, "v1", kube.namespace, "multis", "m")
    assert as_v1["apiVersion"] == f"{group}/v1" and as_v1["spec"] == {"a": 1}
    as_alpha = kube.custom.get_namespaced_custom_object(group, "v1alpha1", kube.namespace, "multis", "m")
    assert as_alpha["apiVersion"] == f"{group}/v1alpha1"
    assert kube.raw("GET", f"/apis/{group}").body["preferredVersion"]["version"] == "v1"


def test_crd_update_changes_served_versions(kube: Kube) -> None:
    group = kube.group()
    kube.create_crd("Evolving", group=group)
    name = f"evolvings.{group}"
    crd = kube.raw("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}").body
    new_version = {**crd["spec"]["versions"][0], "name": "v2", "storage": False}
    patched = kube.raw(
        "PATCH",
        f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}",
        [{"op": "add", "path": "/spec/versions/-", "value": new_version}],
        content_type="application/json-patch+json",
    )
    assert patched.status == 200
    assert patched.body["metadata"]["generation"] == 2
    kube.eventually(lambda: kube.raw("GET", f"/apis/{group}/v2").status == 200, message="v2 not served")


def test_invalid_crds_are_rejected(kube: Kube) -> None:
    group = kube.group()
    body = kube.crd_body("Broken", group=group)
    body["metadata"]["name"] = f"wrong.{group}"
    with pytest.raises(ApiException) as caught:
        kube.ext.create_custom_resource_definition(body)
    assert caught.value.status == 422
    assert "metadata.name" in {c["field"] for c in json.loads(caught.value.body)["details"]["causes"]}
    body = kube.crd_body("Broken", group=group)
    del body["spec"]["versions"][0]["schema"]
    with pytest.raises(ApiException) as caught:
        kube.ext.create_custom_resource_definition(body)
    assert caught.value.status == 422


def test_deleting_a_crd_removes_its_objects_and_its_discovery(kube: Kube) -> None:
    group = kube.group()
    kube.create_crd("Doomed", group=group)
    for name in ("a", "b"):
        kube.custom.create_namespaced_custom_object(
            group,
            "v1",
            kube.namespace,
            "doomeds",
            {"apiVersion": f"{group}/v1", "kind": "Doomed", "metadata": {"name": name}},
        )
    kube.ext.delete_custom_resource_definition(f"doomeds.{group}")

    def gone() -> bool:
        try:
            kube.ext.read_custom_resource_definition(f"doomeds.{group}")
        except ApiException as exc:
            return exc.status == 404
        return False

    kube.eventually(gone, timeout=30, message="CRD not removed")
    kube.eventually(lambda: kube.raw("GET", f"/apis/{group}/v1").status == 404, message="still in discovery")
    assert group not in {g["name"] for g in kube.raw("GET", "/apis").body["groups"]}
    # Recreating the CRD does not bring the objects back.
    kube.create_crd("Doomed", group=group)
    assert kube.custom.list_namespaced_custom_object(group, "v1", kube.namespace, "doomeds")["items"] == []


def test_cluster_scoped_custom_resources(kube: Kube) -> None:
    group = kube.group()
    kube.create_crd("Global", group=group, scope="Cluster")
    created = kube.custom.create_cluster_custom_object(
        group, "v1", "globals", {"apiVersion": f"{group}/v1", "kind": "Global", "metadata": {"name": "g"}}
    )
    assert "namespace" not in created["metadata"]
    assert [
        o["metadata"]["name"] for o in kube.custom.list_cluster_custom_object(group, "v1", "globals")["items"]
    ] == ["g"]
    response = kube.raw("GET", f"/apis/{group}/v1/namespaces/{kube.namespace}/globals")
    assert response.status == 404


def test_a_default_added_by_a_crd_update_shows_on_existing_objects(kube: Kube) -> None:
    """The API server defaults on read: no new resourceVersion or generation for the old object."""
    group = kube.group("later")
    schema = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"size": {"type": "string"}}}},
    }
    kube.create_crd("Gadget", group=group, schema=schema)
    created = kube.custom.create_namespaced_custom_object(
        group,
        "v1",
        kube.namespace,
        "gadgets",
        {"apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {"name": "g"}, "spec": {"size": "s"}},
    )
    raw = kube.raw("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.{group}").body
    raw["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "replicas"
    ] = {
        "type": "integer",
        "default": 3,
    }
    kube.ext.replace_custom_resource_definition(f"gadgets.{group}", raw)

    def defaulted() -> dict[str, Any] | None:
        obj = kube.custom.get_namespaced_custom_object(group, "v1", kube.namespace, "gadgets", "g")
        return obj if obj["spec"].get("replicas") == 3 else None

    obj = kube.eventually(defaulted, message="the new default never appeared")
    assert obj["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert obj["metadata"]["generation"] == created["metadata"]["generation"]
