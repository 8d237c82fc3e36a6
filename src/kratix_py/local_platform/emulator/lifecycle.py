"""Deletion: finalizers and deletionTimestamp, namespace termination, and CRD clean-up.

An object without finalizers goes at once; one with finalizers is marked (``deletionTimestamp``)
and goes on the write that removes its last finalizer. A namespace is marked ``Terminating``, its
objects are deleted, and it goes once they are all gone; a CRD deletes its objects first (it gets
the ``customresourcecleanup`` finalizer when deleted and holds it until then). Both are answered
first, Terminating, and emptied just after (``Cluster.defer``), as a real server's controllers do. Removing an object runs what depends on it:
garbage collection of its dependents, a terminating namespace or CRD waiting for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import crds, errors, gc, objectmeta
from .errors import Cause
from .jsonutil import deep_copy
from .resources import ResourceType
from .store import StorageKey

if TYPE_CHECKING:
    from .cluster import Cluster

NAMESPACES: StorageKey = ("", "namespaces")
CRDS: StorageKey = ("apiextensions.k8s.io", "customresourcedefinitions")
PODS: StorageKey = ("", "pods")


class Lifecycle:
    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._store = cluster.store

    def write(self, key: StorageKey, new: dict[str, Any]) -> dict[str, Any]:
        """Store an updated object, or remove it when it is deleted and nothing holds it any more."""
        if new["metadata"].get("deletionTimestamp") and self.ready_to_remove(key, new):
            return self.remove(key, new)
        return self._store.put(key, new, "MODIFIED")

    def ready_to_remove(self, key: StorageKey, obj: dict[str, Any]) -> bool:
        if obj["metadata"].get("finalizers"):
            return False
        return key != NAMESPACES or self._store.namespace_is_empty(obj["metadata"]["name"])

    def begin_delete(self, key: StorageKey, obj: dict[str, Any], policy: str) -> tuple[dict[str, Any], bool]:
        """Delete now, or mark terminating; returns the final state and whether it is gone."""
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            return obj, False
        uid = meta["uid"]
        if policy == "Orphan":
            self._cluster.gc.orphan_dependents(uid)
        finalizers = list(meta.get("finalizers") or [])
        # As kube-apiserver does: a CRD gets its clean-up finalizer when it is deleted (not when
        # created), so its objects always go first.
        if key == CRDS and crds.CLEANUP_FINALIZER not in finalizers:
            finalizers.append(crds.CLEANUP_FINALIZER)
        if policy == "Foreground" and self._store.dependents(uid):
            finalizers.append(gc.FOREGROUND)
        if not finalizers and key != NAMESPACES:
            return self.remove(key, obj), True
        new = deep_copy(obj)
        new["metadata"]["deletionTimestamp"] = objectmeta.now_timestamp()
        new["metadata"]["deletionGracePeriodSeconds"] = 0
        if finalizers:
            new["metadata"]["finalizers"] = finalizers
        if key == NAMESPACES:
            new.setdefault("status", {})["phase"] = "Terminating"
        if key == CRDS:
            new["status"] = crds.compute_status(new, new.get("status"), new["metadata"]["deletionTimestamp"])
        stored = self._store.put(key, new, "MODIFIED")
        # As the namespace and CRD-finalizer controllers do, after the DELETE is answered: the
        # client sees the object Terminating, and its contents go a moment later.
        name = meta["name"]
        if key == NAMESPACES:
            self._cluster.defer(lambda: self.terminate_namespace(name))
        elif key == CRDS:
            self._cluster.defer(lambda: self._terminate_crd_named(name))
        if gc.FOREGROUND in finalizers:
            self._cluster.gc.delete_dependents(uid, "Foreground")
            self._cluster.gc.release_foreground(uid)
        current = self._store.get(key, meta.get("namespace", ""), meta["name"])
        if current is None or current["metadata"]["uid"] != uid:
            return stored, True
        return current, False

    def remove(self, key: StorageKey, obj: dict[str, Any]) -> dict[str, Any]:
        """Really remove an object, then run what depends on its removal (GC, namespaces, CRDs)."""
        final = self._store.remove(key, obj)
        meta = final["metadata"]
        self._cluster.applied.pop(meta.get("uid", ""), None)
        if key == PODS:
            self._cluster.pod_logs.drop_pod(meta.get("namespace", ""), meta["name"])
        if key == CRDS:
            self._cluster.unregister_crd(final)
        self._cluster.gc.owner_removed(meta.get("uid", ""))
        self._cluster.gc.dependent_removed(final)
        namespace = meta.get("namespace")
        if namespace:
            ns = self._store.get(NAMESPACES, "", namespace)
            if (
                ns is not None
                and ns["metadata"].get("deletionTimestamp")
                and self.ready_to_remove(NAMESPACES, ns)
            ):
                self.remove(NAMESPACES, ns)
        rt = self._cluster.rt_for_key(key)
        if rt is not None and rt.crd_name and self._store.count(key) == 0:
            crd = self._store.get(CRDS, "", rt.crd_name)
            if crd is not None and crd["metadata"].get("deletionTimestamp"):
                self.drop_finalizer(CRDS, crd, crds.CLEANUP_FINALIZER)
        return final

    def drop_finalizer(self, key: StorageKey, obj: dict[str, Any], finalizer: str) -> None:
        finalizers = obj["metadata"].get("finalizers") or []
        if finalizer not in finalizers:
            return
        new = deep_copy(obj)
        new["metadata"]["finalizers"] = [f for f in finalizers if f != finalizer]
        if not new["metadata"]["finalizers"]:
            del new["metadata"]["finalizers"]
        self.write(key, new)

    def terminate_namespace(self, namespace: str) -> None:
        for okey in list(self._store.namespace_keys(namespace)):
            obj = self._store.get_by_key(okey)
            if obj is not None:
                self.begin_delete(okey[0], obj, "Background")
        ns = self._store.get(NAMESPACES, "", namespace)
        if (
            ns is not None
            and ns["metadata"].get("deletionTimestamp")
            and self.ready_to_remove(NAMESPACES, ns)
        ):
            self.remove(NAMESPACES, ns)

    def _terminate_crd_named(self, name: str) -> None:
        crd = self._store.get(CRDS, "", name)
        if crd is not None and crd["metadata"].get("deletionTimestamp"):
            self.terminate_crd(crd)

    def terminate_crd(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec") or {}
        key = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
        for obj in self._store.objects(key):
            current = self._store.get(key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            if current is not None:
                self.begin_delete(key, current, "Background")
        if self._store.count(key) == 0:
            latest = self._store.get(CRDS, "", crd["metadata"]["name"])
            if latest is not None:
                self.drop_finalizer(CRDS, latest, crds.CLEANUP_FINALIZER)


def propagation(options: dict[str, Any], rt: ResourceType) -> str:
    """The propagation policy a DELETE asked for, or the resource's default."""
    policy = options.get("propagationPolicy")
    orphan = options.get("orphanDependents")
    if policy is None and orphan is not None:
        policy = "Orphan" if orphan else "Background"
    if policy is None:
        return rt.default_propagation
    if policy not in ("Orphan", "Background", "Foreground"):
        raise errors.invalid(
            "DeleteOptions",
            "",
            "",
            [
                Cause(
                    "FieldValueNotSupported",
                    f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan", "nil"',
                    "propagationPolicy",
                )
            ],
        )
    return str(policy)
