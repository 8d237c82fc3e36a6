"""Check a request CRD and requests against it the way an API server would, in-process.

This reuses the local platform's API emulator (its cluster object, without the HTTP server): the
CRD is created as ``kubectl apply`` would create it, and each request is created with
``dryRun``, so unknown fields are pruned, defaults applied and the schema enforced by the same code
the local platform runs. Nothing here is a second validator to keep in step.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One field the API server refused, with its message (``Unsupported value: ...``)."""

    path: str
    message: str


@dataclass(frozen=True)
class Admission:
    """What the API server made of a request: the stored object, or why it refused it."""

    obj: dict[str, Any] | None
    problems: tuple[Problem, ...] = ()
    pruned: tuple[str, ...] = ()
    """Fields not in the schema: the API server silently drops them."""
    defaults: tuple[tuple[str, Any], ...] = ()
    """(path, value) of every field the schema's defaults filled in."""

    @property
    def accepted(self) -> bool:
        return self.obj is not None


class CrdRejected(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))
        self.problems = problems


def _problems(error: Any) -> list[Problem]:
    causes = ((error.details or {}).get("causes") or []) if getattr(error, "details", None) else []
    if not causes:
        return [Problem("", str(error.message))]
    return [Problem(str(c.get("field") or ""), str(c.get("message") or "")) for c in causes]


@dataclass
class ApiChecker:
    """An emulated API server that serves one request CRD."""

    crd: Mapping[str, Any]
    _cluster: Any = field(init=False, repr=False)
    _resource: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from kratix_py.local_platform.emulator import errors
        from kratix_py.local_platform.emulator.cluster import Cluster

        self._cluster = Cluster(event_log_size=10)
        crds = self._cluster.rt("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        try:
            created, _ = self._cluster.create(crds, "", copy.deepcopy(dict(self.crd)))
        except errors.ApiError as error:
            raise CrdRejected(_problems(error)) from None
        spec = created["spec"]
        stored = next((v for v in spec["versions"] if v.get("storage")), spec["versions"][0])
        self._resource = self._cluster.rt(spec["group"], stored["name"], spec["names"]["plural"])

    def admit(self, request: Mapping[str, Any]) -> Admission:
        """Create ``request`` with dryRun: the object as stored, or the fields refused."""
        from kratix_py.local_platform.emulator import errors

        body = copy.deepcopy(dict(request))
        body.pop("status", None)
        namespace = str((body.get("metadata") or {}).get("namespace") or "default")
        namespaces = self._cluster.rt("", "v1", "namespaces")
        if self._cluster.store.get(self._cluster.key(namespaces), "", namespace) is None:
            self._cluster.create(namespaces, "", {"metadata": {"name": namespace}})
        try:
            obj, warnings = self._cluster.create(self._resource, namespace, body, dry_run=True)
        except errors.ApiError as error:
            return Admission(obj=None, problems=tuple(_problems(error)))
        for server_field in ("uid", "creationTimestamp", "generation", "resourceVersion"):
            obj.get("metadata", {}).pop(server_field, None)  # set by the server, different every time
        pruned = tuple(w.removeprefix('unknown field "').rstrip('"') for w in warnings)
        defaults = tuple(_added(request.get("spec"), obj.get("spec"), "spec"))
        return Admission(obj=obj, pruned=pruned, defaults=defaults)


def _added(before: Any, after: Any, path: str) -> list[tuple[str, Any]]:
    """Fields present in ``after`` but not in ``before``: the defaults the server applied."""
    if not isinstance(after, Mapping):
        return []
    if not isinstance(before, Mapping):
        return [(path, after)] if before is None and after else []
    added: list[tuple[str, Any]] = []
    for key in sorted(after):
        child = f"{path}.{key}"
        if key not in before:
            added.append((child, after[key]))
        else:
            added.extend(_added(before[key], after[key], child))
    return added
