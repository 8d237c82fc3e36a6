"""Finalizers, deletionTimestamp, namespace deletion, and owner-reference garbage collection."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client import ApiException

from .conftest import Kube

FINALIZER = "conformance.kratix.io/hold"


def _exists(read: Any, *args: Any) -> bool:
    try:
        read(*args)
    except ApiException as exc:
        assert exc.status == 404
        return False
    return True


def test_finalizers_hold_an_object_until_removed(kube: Kube) -> None:
    group = kube.group()
    kube.create_crd("Thing", group=group)
    c = kube.custom
    args = (group, "v1", kube.namespace, "things", "held")
    c.create_namespaced_custom_object(
        group,
        "v1",
        kube.namespace,
        "things",
        {
            "apiVersion": f"{group}/v1",
            "kind": "Thing",
            "metadata": {"name": "held", "finalizers": [FINALIZER]},
        },
    )
    c.delete_namespaced_custom_object(*args)
    held = c.get_namespaced_custom_object(*args)
    assert held["metadata"]["deletionTimestamp"]
    assert held["metadata"]["finalizers"] == [FINALIZER]
    # Deleting again changes nothing; new finalizers cannot be added while terminating.
    c.delete_namespaced_custom_object(*args)
    with pytest.raises(ApiException) as caught:
        c.patch_namespaced_custom_object(
            *args, {"metadata": {"finalizers": [FINALIZER, "conformance.kratix.io/other"]}}
        )
    assert caught.value.status == 422
    c.patch_namespaced_custom_object(*args, {"metadata": {"finalizers": None}})
    kube.eventually(lambda: not _exists(c.get_namespaced_custom_object, *args), message="object not removed")


def test_namespace_deletion_removes_its_objects(kube: Kube) -> None:
    ns = f"doomed-{kube.suffix}"
    kube.core.create_namespace({"metadata": {"name": ns}})
    try:
        kube.core.create_namespaced_config_map(ns, {"metadata": {"name": "plain"}})
        kube.core.create_namespaced_config_map(ns, {"metadata": {"name": "held", "finalizers": [FINALIZER]}})
        kube.core.delete_namespace(ns)
        terminating = kube.core.read_namespace(ns)
        assert terminating.status.phase == "Terminating"
        assert terminating.metadata.deletion_timestamp is not None
        kube.eventually(
            lambda: not _exists(kube.core.read_namespaced_config_map, "plain", ns),
            message="content not deleted",
        )
        with pytest.raises(ApiException) as caught:
            kube.core.create_namespaced_config_map(ns, {"metadata": {"name": "late"}})
        assert caught.value.status == 403
        assert kube.core.read_namespaced_config_map("held", ns).metadata.deletion_timestamp is not None
        assert _exists(kube.core.read_namespace, ns)  # held back by the finalizer of its content
        kube.core.patch_namespaced_config_map("held", ns, {"metadata": {"finalizers": None}})
        kube.eventually(
            lambda: not _exists(kube.core.read_namespace, ns), timeout=60, message="namespace not removed"
        )
    finally:
        if _exists(kube.core.read_namespaced_config_map, "held", ns):
            kube.core.patch_namespaced_config_map("held", ns, {"metadata": {"finalizers": None}})


def _owner_ref(obj: Any, kind: str = "ConfigMap", api_version: str = "v1", **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": obj.metadata.name,
        "uid": obj.metadata.uid,
        **extra,
    }


def _owned(kube: Kube, name: str, *owners: dict[str, Any], finalizers: list[str] | None = None) -> None:
    meta: dict[str, Any] = {"name": name, "ownerReferences": list(owners)}
    if finalizers:
        meta["finalizers"] = finalizers
    kube.core.create_namespaced_config_map(kube.namespace, {"metadata": meta})


def test_background_deletion_collects_dependents(kube: Kube) -> None:
    owner = kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "owner"}})
    _owned(kube, "child", _owner_ref(owner, controller=True))
    grandchild_owner = kube.core.read_namespaced_config_map("child", kube.namespace)
    _owned(kube, "grandchild", _owner_ref(grandchild_owner))
    kube.core.delete_namespaced_config_map("owner", kube.namespace, propagation_policy="Background")
    for name in ("child", "grandchild"):
        kube.eventually(
            lambda n=name: not _exists(kube.core.read_namespaced_config_map, n, kube.namespace),
            message=f"{name} not collected",
        )


def test_a_dependent_with_another_live_owner_survives(kube: Kube) -> None:
    first = kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "first"}})
    second = kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "second"}})
    _owned(kube, "shared", _owner_ref(first), _owner_ref(second))
    kube.core.delete_namespaced_config_map("first", kube.namespace)

    def only_second_left() -> bool:
        refs = kube.core.read_namespaced_config_map("shared", kube.namespace).metadata.owner_references or []
        return [r.name for r in refs] == ["second"]

    kube.eventually(only_second_left, message="the dangling owner reference was not dropped")


def test_orphan_deletion_keeps_dependents(kube: Kube) -> None:
    owner = kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "owner"}})
    _owned(kube, "child", _owner_ref(owner))
    kube.core.delete_namespaced_config_map("owner", kube.namespace, propagation_policy="Orphan")
    kube.eventually(lambda: not _exists(kube.core.read_namespaced_config_map, "owner", kube.namespace))
    kube.eventually(
        lambda: not kube.core.read_namespaced_config_map("child", kube.namespace).metadata.owner_references,
        message="the owner reference was not removed",
    )


def test_foreground_deletion_waits_for_dependents(kube: Kube) -> None:
    owner = kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "owner"}})
    _owned(kube, "child", _owner_ref(owner, blockOwnerDeletion=True), finalizers=[FINALIZER])
    kube.core.delete_namespaced_config_map("owner", kube.namespace, propagation_policy="Foreground")
    waiting = kube.core.read_namespaced_config_map("owner", kube.namespace)
    assert waiting.metadata.deletion_timestamp is not None
    assert "foregroundDeletion" in waiting.metadata.finalizers
    kube.eventually(
        lambda: kube.core.read_namespaced_config_map("child", kube.namespace).metadata.deletion_timestamp,
        message="the dependent was not deleted",
    )
    assert _exists(kube.core.read_namespaced_config_map, "owner", kube.namespace)
    kube.core.patch_namespaced_config_map("child", kube.namespace, {"metadata": {"finalizers": None}})
    kube.eventually(
        lambda: not _exists(kube.core.read_namespaced_config_map, "owner", kube.namespace),
        message="the owner was not removed after its dependents",
    )


def test_custom_object_owning_built_ins(kube: Kube) -> None:
    group = kube.group()
    kube.create_crd("Thing", group=group)
    owner = kube.custom.create_namespaced_custom_object(
        group,
        "v1",
        kube.namespace,
        "things",
        {"apiVersion": f"{group}/v1", "kind": "Thing", "metadata": {"name": "o"}},
    )
    ref = {
        "apiVersion": f"{group}/v1",
        "kind": "Thing",
        "name": "o",
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    kube.core.create_namespaced_config_map(
        kube.namespace, {"metadata": {"name": "made-by-thing", "ownerReferences": [ref]}}
    )
    kube.custom.delete_namespaced_custom_object(group, "v1", kube.namespace, "things", "o")
    # A real garbage collector starts watching a new CRD's kind on its next discovery sync
    # (every 30s), so its objects' dependents can take that long to go.
    kube.eventually(
        lambda: not _exists(kube.core.read_namespaced_config_map, "made-by-thing", kube.namespace),
        timeout=75 if kube.real else 15,
        message="the dependent of a custom object was not collected",
    )


def test_delete_preconditions(kube: Kube) -> None:
    kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "cm"}})
    with pytest.raises(ApiException) as caught:
        kube.core.delete_namespaced_config_map(
            "cm", kube.namespace, body={"preconditions": {"uid": "not-the-uid"}}
        )
    assert caught.value.status == 409
    assert _exists(kube.core.read_namespaced_config_map, "cm", kube.namespace)


def test_dependents_of_missing_owners_are_collected(kube: Kube) -> None:
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "never-existed",
        "uid": "00000000-0000-0000-0000-000000000000",
    }
    kube.core.create_namespaced_config_map(
        kube.namespace, {"metadata": {"name": "orphan", "ownerReferences": [ref]}}
    )

    kube.eventually(
        lambda: not _exists(kube.core.read_namespaced_config_map, "orphan", kube.namespace),
        timeout=60,
        message="a dependent of a missing owner was not collected",
    )


def test_deleting_a_job_without_a_policy_orphans_its_pods(kube: Kube) -> None:
    # batch/v1 Jobs default to the Orphan policy (kubectl asks for Background explicitly).
    job = kube.batch.create_namespaced_job(
        kube.namespace,
        {
            "metadata": {"name": "job"},
            "spec": {
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
                }
            },
        },
    )
    ref = {"apiVersion": "batch/v1", "kind": "Job", "name": "job", "uid": job.metadata.uid}
    kube.core.create_namespaced_pod(
        kube.namespace,
        {
            "metadata": {"name": "job-pod", "ownerReferences": [ref]},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        },
    )
    kube.batch.delete_namespaced_job("job", kube.namespace)
    kube.eventually(lambda: not _exists(kube.batch.read_namespaced_job, "job", kube.namespace))
    kube.eventually(
        lambda: not kube.core.read_namespaced_pod("job-pod", kube.namespace).metadata.owner_references,
        message="the pod was not orphaned",
    )


def test_deleting_an_empty_namespace_or_crd_answers_with_it_terminating_then_it_goes(kube: Kube) -> None:
    """The namespace and CRD controllers do the removal after the DELETE is answered: even with
    nothing inside, the answer is the object, Terminating, not a Success Status."""
    ns = f"empty-{kube.suffix}"
    kube.core.create_namespace({"metadata": {"name": ns}})
    answer = kube.raw("DELETE", f"/api/v1/namespaces/{ns}")
    assert answer.status == 200, answer.body
    assert answer.body["kind"] == "Namespace" and answer.body["status"]["phase"] == "Terminating"
    assert answer.body["metadata"]["deletionTimestamp"]
    kube.eventually(
        lambda: not _exists(kube.core.read_namespace, ns), timeout=60, message="namespace not removed"
    )

    group = kube.group()
    kube.create_crd("Doohickey", group=group, status=False)
    answer = kube.raw("DELETE", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/doohickeys.{group}")
    assert answer.status == 200, answer.body
    assert answer.body["kind"] == "CustomResourceDefinition" and answer.body["metadata"]["deletionTimestamp"]
    assert "customresourcecleanup.apiextensions.k8s.io" in answer.body["metadata"]["finalizers"]
    kube.eventually(
        lambda: (
            kube.raw(
                "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/doohickeys.{group}"
            ).status
            == 404
        ),
        timeout=30,
        message="the CRD did not go",
    )
