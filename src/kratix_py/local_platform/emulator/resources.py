"""The resource registry: which group/version/plural exists, how it behaves, and discovery.

A :class:`ResourceType` is one served group/version/resource. Several versions of one resource
share storage (their :attr:`ResourceType.storage_key`); objects are stored once and their
``apiVersion`` rewritten on the way out (CRD conversion strategy ``None``).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import objectmeta

STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS = {"status": ("get", "patch", "update"), "log": ("get",)}

FieldGetter = Callable[[dict[str, Any], str], "str | None"]
Hook = Callable[..., Any]


@dataclass
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    subresources: tuple[str, ...] = ()
    has_generation: bool = False
    #: selectable fields beyond metadata.name / metadata.namespace, and how to read them
    fields: dict[str, str] = field(default_factory=dict)
    name_validator: objectmeta.NameValidator = objectmeta.dns1123_subdomain
    #: the propagation policy of a DELETE that names none (batch/v1 Jobs orphan their pods)
    default_propagation: str = "Background"
    #: a DELETE that removes the object answers with the object instead of a Success Status
    returns_deleted_object: bool = False
    #: built-ins: the top-level fields the kind has; others are dropped like unknown fields
    known_fields: frozenset[str] | None = None
    #: CRDs only: the version's structural schema, printer columns, and the owning CRD's name
    schema: dict[str, Any] | None = None
    printer_columns: list[dict[str, Any]] | None = None
    crd_name: str | None = None
    storage_version: str | None = None
    #: per-kind behaviour (defaulting, validation, conversion), see builtins.py
    hooks: Any = None

    def __post_init__(self) -> None:
        if not self.singular:
            self.singular = self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def storage_key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def is_custom(self) -> bool:
        return self.crd_name is not None

    @property
    def status_subresource(self) -> bool:
        return "status" in self.subresources

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def supports_field(self, name: str) -> bool:
        return name in ("metadata.name", "metadata.namespace") or name in self.fields

    def discovery_entries(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        digest = hashlib.sha256(f"{self.group}/{self.storage_version or self.version}/{self.kind}".encode())
        entry["storageVersionHash"] = _b64(digest.digest()[:8])
        entries = [entry]
        for sub in self.subresources:
            entries.append(
                {
                    "name": f"{self.plural}/{sub}",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": list(SUBRESOURCE_VERBS.get(sub, ("get",))),
                }
            )
        return entries


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes version ordering: GA before beta before alpha, higher numbers first; others last."""
    match = _VERSION_RE.match(version)
    if not match:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    stage_rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (stage_rank, -int(major), -int(minor or 0), version)


class Registry:
    """Every served resource; updated at once when CRDs are created, changed or removed."""

    def __init__(self) -> None:
        self._by_gvr: dict[tuple[str, str, str], ResourceType] = {}
        # The same types by group/version: every request asks whether its group/version is served,
        # and that must not cost a scan of every type (hundreds with many Promises installed).
        self._by_group_version: dict[tuple[str, str], dict[str, ResourceType]] = {}
        self._builtin_group_order: list[str] = []
        self._builtin_preferred: dict[str, str] = {}

    # --- registration ---

    def add_builtin(self, rt: ResourceType, *, preferred: bool = True) -> None:
        self._put(rt)
        if rt.group not in self._builtin_group_order:
            self._builtin_group_order.append(rt.group)
        if preferred:
            self._builtin_preferred.setdefault(rt.group, rt.version)

    def replace_crd(self, crd_name: str, types: Iterable[ResourceType]) -> None:
        self.remove_crd(crd_name)
        for rt in types:
            self._put(rt)

    def remove_crd(self, crd_name: str) -> None:
        for key in [k for k, rt in self._by_gvr.items() if rt.crd_name == crd_name]:
            del self._by_gvr[key]
            group, version, plural = key
            served = self._by_group_version[(group, version)]
            del served[plural]
            if not served:
                del self._by_group_version[(group, version)]

    def _put(self, rt: ResourceType) -> None:
        self._by_gvr[(rt.group, rt.version, rt.plural)] = rt
        self._by_group_version.setdefault((rt.group, rt.version), {})[rt.plural] = rt

    # --- lookup ---

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def all(self) -> list[ResourceType]:
        return list(self._by_gvr.values())

    def versions_of(self, storage_key: tuple[str, str]) -> list[ResourceType]:
        return [rt for rt in self._by_gvr.values() if rt.storage_key == storage_key]

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in self._by_group_version.get((group, version), {}).values():
            if rt.kind == kind:
                return rt
        return None

    def groups(self) -> list[str]:
        present = {rt.group for rt in self._by_gvr.values() if rt.group}
        ordered = [g for g in self._builtin_group_order if g in present]
        return ordered + sorted(present - set(ordered))

    def group_versions(self, group: str) -> list[str]:
        versions = {rt.version for rt in self._by_gvr.values() if rt.group == group}
        preferred = self.preferred_version(group)
        rest = sorted(versions - {preferred}, key=version_priority)
        return ([preferred] if preferred in versions else []) + rest

    def preferred_version(self, group: str) -> str | None:
        versions = {rt.version for rt in self._by_gvr.values() if rt.group == group}
        if not versions:
            return None
        builtin = self._builtin_preferred.get(group)
        if builtin in versions:
            return builtin
        return sorted(versions, key=version_priority)[0]

    def serves(self, group: str, version: str) -> bool:
        return (group, version) in self._by_group_version

    def resources_in(self, group: str, version: str) -> list[ResourceType]:
        return list(self._by_group_version.get((group, version), {}).values())

    # --- discovery documents ---

    def api_versions(self, server_address: str) -> dict[str, Any]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
        }

    def _group_doc(self, group: str) -> dict[str, Any]:
        versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in self.group_versions(group)]
        preferred = self.preferred_version(group)
        return {
            "name": group,
            "versions": versions,
            "preferredVersion": {"groupVersion": f"{group}/{preferred}", "version": preferred},
        }

    def api_group_list(self) -> dict[str, Any]:
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [self._group_doc(g) for g in self.groups()],
        }

    def api_group(self, group: str) -> dict[str, Any] | None:
        if group not in self.groups():
            return None
        return {"kind": "APIGroup", "apiVersion": "v1", **self._group_doc(group)}

    def resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        types = self.resources_in(group, version)
        if not types:
            return None
        resources = [
            entry for rt in sorted(types, key=lambda t: t.plural) for entry in rt.discovery_entries()
        ]
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    def find_by_name(self, name: str) -> list[ResourceType]:
        """Resources a user might mean by ``name`` (plural, singular, kind or short name)."""
        lowered = name.lower()
        return [
            rt
            for rt in self._by_gvr.values()
            if lowered in (rt.plural, rt.singular, rt.kind.lower(), *rt.short_names)
        ]
