"""Which Promise offers which request kind, read from the request CRDs the operator watches.

Every request CRD carries its Promise's name in the ``kratix.io/promise-name`` label (§1.12), so
the CRD watch alone says which kinds exist, which Promise owns each, which version to watch (the
storage version: one watch sees every request, whatever version it was created with) and whether
the API server serves it yet (``Established``). Nothing here is remembered beyond what the watch
says: a kind that moves to another Promise, or goes, is known as soon as its CRD event arrives.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kratix_py import contract as c
from kratix_py import kube as k


@dataclass(frozen=True)
class ServedKind:
    """A request kind as its CRD describes it."""

    promise: str
    group: str
    version: str
    plural: str
    kind: str
    established: bool
    generation: int = 0
    """The CRD's generation: a new schema (new defaults) means cached requests are stale."""

    @property
    def resource(self) -> k.Resource:
        return k.Resource(self.group, self.version, self.plural, True, self.kind)

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{self.group}"


def served_kind(crd: Mapping[str, Any]) -> ServedKind | None:
    """The request kind a Promise's CRD serves, or None if it is not one (or has no version)."""
    meta = crd.get("metadata") or {}
    promise = (meta.get("labels") or {}).get(c.LABEL_PROMISE_NAME)
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    versions = [v for v in spec.get("versions") or [] if v.get("served", True)]
    if not promise or not versions or not names.get("plural") or not spec.get("group"):
        return None
    stored = next((v for v in versions if v.get("storage")), versions[0])
    conditions = (crd.get("status") or {}).get("conditions") or []
    established = any(
        cond.get("type") == "Established" and cond.get("status") == "True" for cond in conditions
    )
    return ServedKind(
        promise=str(promise),
        group=str(spec["group"]),
        version=str(stored.get("name")),
        plural=str(names["plural"]),
        kind=str(names.get("kind") or ""),
        established=established and not meta.get("deletionTimestamp"),
        generation=int(meta.get("generation") or 0),
    )


class RequestKinds:
    """The request kinds of every Promise, kept from CRD events (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_crd: dict[str, ServedKind] = {}

    def update(self, crd: Mapping[str, Any] | None, *, deleted: bool = False) -> None:
        if crd is None:
            return
        name = str((crd.get("metadata") or {}).get("name"))
        kind = None if deleted else served_kind(crd)
        with self._lock:
            if kind is None:
                self._by_crd.pop(name, None)
            else:
                self._by_crd[name] = kind

    def all(self) -> list[ServedKind]:
        with self._lock:
            return sorted(self._by_crd.values(), key=lambda kind: kind.crd_name)

    def of_promise(self, promise: str | None) -> ServedKind | None:
        """The kind ``promise`` offers (a Promise has at most one API)."""
        if not promise:
            return None
        with self._lock:
            return next((kind for kind in self._by_crd.values() if kind.promise == promise), None)

    def by_plural(self, group: str, plural: str) -> ServedKind | None:
        with self._lock:
            return self._by_crd.get(f"{plural}.{group}")

    def by_kind(self, group: str, kind: str) -> ServedKind | None:
        with self._lock:
            return next(
                (found for found in self._by_crd.values() if found.group == group and found.kind == kind),
                None,
            )
