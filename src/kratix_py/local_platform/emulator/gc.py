"""Owner-reference garbage collection, done synchronously as the owners go.

* background (the default): when an owner is removed, each dependent whose owners are all gone is
  deleted; a dependent that still has a live owner just loses the reference to the removed one;
* foreground: the owner gets the ``foregroundDeletion`` finalizer and stays (with a
  deletionTimestamp) until its dependents are gone, then it is removed;
* orphan: the dependents lose their reference to the owner and stay.

A dependent created with owner references that all point at missing objects is deleted shortly
after, as the real garbage collector would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .jsonutil import deep_copy
from .store import ObjectKey

if TYPE_CHECKING:
    from .cluster import Cluster

FOREGROUND = "foregroundDeletion"


class GarbageCollector:
    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._store = cluster.store

    def _set_owners(self, okey: ObjectKey, obj: dict[str, Any], refs: list[dict[str, Any]]) -> None:
        new = deep_copy(obj)
        if refs:
            new["metadata"]["ownerReferences"] = refs
        else:
            new["metadata"].pop("ownerReferences", None)
        self._cluster.lifecycle.write(okey[0], new)

    def _release_dependent(self, okey: ObjectKey, gone: set[str], policy: str = "Background") -> None:
        """A dependent lost owners ``gone``: delete it if none is left, else drop the references."""
        obj = self._store.get_by_key(okey)
        if obj is None:
            return
        refs = obj["metadata"].get("ownerReferences") or []
        live = [
            r
            for r in refs
            if r.get("uid") not in gone and self._store.locate_uid(r.get("uid", "")) is not None
        ]
        if live:
            if len(live) != len(refs):
                self._set_owners(okey, obj, live)
        else:
            self._cluster.lifecycle.begin_delete(okey[0], obj, policy)

    def owner_removed(self, uid: str) -> None:
        for okey in self._store.dependents(uid):
            self._release_dependent(okey, {uid})

    def check_owners_exist(self, okey: ObjectKey) -> None:
        obj = self._store.get_by_key(okey)
        if obj is None:
            return
        refs = obj["metadata"].get("ownerReferences") or []
        missing = {r.get("uid", "") for r in refs if self._store.locate_uid(r.get("uid", "")) is None}
        if missing:
            self._release_dependent(okey, missing)

    def orphan_dependents(self, uid: str) -> None:
        for okey in self._store.dependents(uid):
            obj = self._store.get_by_key(okey)
            if obj is not None:
                refs = obj["metadata"].get("ownerReferences") or []
                self._set_owners(okey, obj, [r for r in refs if r.get("uid") != uid])

    def delete_dependents(self, uid: str, policy: str) -> None:
        for okey in self._store.dependents(uid):
            obj = self._store.get_by_key(okey)
            if obj is not None:
                self._cluster.lifecycle.begin_delete(okey[0], obj, policy)

    def release_foreground(self, uid: str) -> None:
        """Remove an owner waiting in foreground deletion once it has no dependents left."""
        okey = self._store.locate_uid(uid)
        owner = self._store.get_by_key(okey) if okey else None
        if owner is None or okey is None:
            return
        if FOREGROUND in (owner["metadata"].get("finalizers") or []) and not self._store.dependents(uid):
            self._cluster.lifecycle.drop_finalizer(okey[0], owner, FOREGROUND)

    def dependent_removed(self, final: dict[str, Any]) -> None:
        for ref in final["metadata"].get("ownerReferences") or []:
            if isinstance(ref, dict) and ref.get("uid"):
                self.release_foreground(ref["uid"])
