"""Discovery: what kopf's start-up scan and kubectl's resource mapping read."""

from __future__ import annotations

from typing import Any

from .conftest import Kube


def _resource(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in doc["resources"] if r["name"] == name)


def test_core_group_lists_v1_and_its_resources(kube: Kube) -> None:
    assert "v1" in kube.raw("GET", "/api").body["versions"]
    doc = kube.raw("GET", "/api/v1").body
    assert doc["kind"] == "APIResourceList"
    assert doc["groupVersion"] == "v1"
    configmaps = _resource(doc, "configmaps")
    assert configmaps["kind"] == "ConfigMap"
    assert configmaps["namespaced"] is True
    assert "cm" in configmaps["shortNames"]
    assert {"create", "get", "list", "watch", "patch", "update", "delete", "deletecollection"} <= set(
        configmaps["verbs"]
    )
    namespaces = _resource(doc, "namespaces")
    assert namespaces["namespaced"] is False
    assert _resource(doc, "pods/log")["verbs"] == ["get"]
    assert "patch" in _resource(doc, "pods/status")["verbs"]
    for name in ("secrets", "serviceaccounts", "events", "services"):
        assert _resource(doc, name)["namespaced"] is True


def test_named_groups_have_versions_and_preferred_version(kube: Kube) -> None:
    groups = {g["name"]: g for g in kube.raw("GET", "/apis").body["groups"]}
    for group in (
        "batch",
        "apps",
        "rbac.authorization.k8s.io",
        "apiextensions.k8s.io",
        "coordination.k8s.io",
        "events.k8s.io",
    ):
        assert groups[group]["preferredVersion"] == {"groupVersion": f"{group}/v1", "version": "v1"}
        assert {"groupVersion": f"{group}/v1", "version": "v1"} in groups[group]["versions"]
    batch = kube.raw("GET", "/apis/batch").body
    assert batch["kind"] == "APIGroup" and batch["name"] == "batch"
    jobs = _resource(kube.raw("GET", "/apis/batch/v1").body, "jobs")
    assert jobs["kind"] == "Job" and "all" in jobs["categories"]
    rbac = kube.raw("GET", "/apis/rbac.authorization.k8s.io/v1").body
    assert _resource(rbac, "clusterroles")["namespaced"] is False
    assert _resource(rbac, "roles")["namespaced"] is True
    crds = _resource(kube.raw("GET", "/apis/apiextensions.k8s.io/v1").body, "customresourcedefinitions")
    assert {"crd", "crds"} <= set(crds["shortNames"])
    assert _resource(kube.raw("GET", "/apis/coordination.k8s.io/v1").body, "leases")["kind"] == "Lease"
    assert _resource(kube.raw("GET", "/apis/events.k8s.io/v1").body, "events")["kind"] == "Event"
    assert _resource(kube.raw("GET", "/apis/apps/v1").body, "deployments")["kind"] == "Deployment"


def test_version_endpoint(kube: Kube) -> None:
    version = kube.raw("GET", "/version").body
    assert version["major"] == "1"
    assert version["gitVersion"].startswith("v1.")


def test_crd_is_served_in_discovery_at_once(kube: Kube) -> None:
    group = kube.group()
    kube.create_crd("Gizmo", group=group, short_names=["gz"], categories=["kratix-test"])
    group_doc = kube.raw("GET", f"/apis/{group}").body
    assert group_doc["preferredVersion"]["version"] == "v1"
    doc = kube.raw("GET", f"/apis/{group}/v1").body
    assert doc["groupVersion"] == f"{group}/v1"
    gizmos = _resource(doc, "gizmos")
    assert gizmos["kind"] == "Gizmo"
    assert gizmos["singularName"] == "gizmo"
    assert gizmos["shortNames"] == ["gz"]
    assert gizmos["categories"] == ["kratix-test"]
    assert gizmos["namespaced"] is True
    assert {"list", "watch", "patch"} <= set(gizmos["verbs"])
    assert "patch" in _resource(doc, "gizmos/status")["verbs"]
    assert group in {g["name"] for g in kube.raw("GET", "/apis").body["groups"]}


def test_unknown_paths_answer_404_status(kube: Kube) -> None:
    for path in ("/api/v1/nonexistent", "/apis/batch/v1/nonexistent", "/apis/batch/v9"):
        response = kube.raw("GET", path)
        assert response.status == 404
        assert response.body["kind"] == "Status"
        assert response.body["reason"] == "NotFound"


def test_a_group_nobody_serves_answers_a_plain_404(kube: Kube) -> None:
    # No handler at all: the API server's catch-all, in plain text rather than a Status.
    for path in (
        "/apis/nonexistent.example.com/v1",
        "/apis/nonexistent.example.com",
        "/apis/x.example.com/v1/y",
    ):
        response = kube.raw("GET", path)
        assert response.status == 404
        assert response.body == "404 page not found\n", path
