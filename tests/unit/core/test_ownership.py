"""A Work counts only for the Promise or request that owns it (issue 13 item 1)."""

from __future__ import annotations

from typing import Any

from kratix_py import contract as c
from kratix_py.core.ownership import Claim, forged_identity, owned_by, owner_reference, work_claim

REQUEST = {
    "apiVersion": "example.com/v1",
    "kind": "Database",
    "metadata": {"name": "orders", "namespace": "team-a", "uid": "uid-orders"},
}
PROMISE = {"apiVersion": c.API_VERSION, "kind": "Promise", "metadata": {"name": "database", "uid": "uid-db"}}


def work(
    *, owners: list[dict[str, Any]] | None = None, resource: str = "orders", **labels: str
) -> dict[str, Any]:
    all_labels = {c.LABEL_PROMISE_NAME: "database", c.LABEL_RESOURCE_NAME: resource, **labels}
    spec: dict[str, Any] = {"promiseName": "database", "resourceName": resource}
    meta: dict[str, Any] = {"name": "w", "namespace": "team-a", "labels": all_labels}
    if owners is not None:
        meta["ownerReferences"] = owners
    return {"metadata": meta, "spec": spec}


def test_the_claim_comes_from_spec_and_labels():
    assert work_claim(work()) == Claim("database", "orders", "team-a")
    elsewhere = work(**{c.LABEL_RESOURCE_NAMESPACE: "team-b"})
    assert work_claim(elsewhere) == Claim("database", "orders", "team-b")
    promise_work = {"metadata": {"namespace": "kratix-platform-system"}, "spec": {"promiseName": "database"}}
    assert work_claim(promise_work) == Claim("database")


def test_labels_that_disagree_with_the_spec_are_refused_even_without_an_owner():
    mixed = work(**{c.LABEL_RESOURCE_NAME: "innocent"})
    problem = forged_identity(mixed, None)
    assert problem is not None and "does not match spec.resourceName 'orders'" in problem


def test_a_work_owned_by_the_request_counts_for_it():
    owned = work(owners=[owner_reference(REQUEST)])
    assert owner_reference(REQUEST) == {
        "apiVersion": "example.com/v1",
        "kind": "Database",
        "name": "orders",
        "uid": "uid-orders",
        "controller": True,
    }
    assert forged_identity(owned, REQUEST) is None and owned_by(owned, REQUEST)


def test_a_work_claiming_a_request_without_its_uid_is_forged():
    for forged in (
        work(),
        work(owners=[{**owner_reference(REQUEST), "uid": "uid-attacker"}]),
        work(owners=[{**owner_reference(REQUEST), "controller": False}]),
        # The annotation is only for owners in another namespace, and must still carry the uid.
        {**work(), "metadata": {**work()["metadata"], "annotations": {c.ANNOTATION_OWNER_UID: "guess"}}},
    ):
        problem = forged_identity(forged, REQUEST)
        assert problem is not None and not owned_by(forged, REQUEST)
        assert "claims request team-a/orders of Promise database" in problem
        assert "forged identity" in problem and "uid-orders" in problem


def test_the_cross_namespace_annotation_carries_the_owner():
    annotated = work(**{c.LABEL_RESOURCE_NAMESPACE: "team-a"})
    annotated["metadata"]["namespace"] = "pipelines"
    annotated["metadata"]["annotations"] = {c.ANNOTATION_OWNER_UID: "uid-orders"}
    assert owned_by(annotated, REQUEST)


def test_promise_works_and_absent_owners():
    promise_work = {"metadata": {"namespace": "kratix-platform-system"}, "spec": {"promiseName": "database"}}
    assert "claims Promise database but has no owner reference" in str(forged_identity(promise_work, PROMISE))
    promise_work["metadata"]["ownerReferences"] = [owner_reference(PROMISE)]
    assert owned_by(promise_work, PROMISE)
    # Nobody to impersonate: a Work for a Promise or request that does not exist is not refused here.
    assert forged_identity(work(), None) is None
