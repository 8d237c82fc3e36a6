"""The CRD for a Promise's resource requests, built from ``spec.api`` as Kratix does (§1.12).

Kratix adds the promise-name label, the status subresource and a status schema it owns, default
printer columns, and a 63-character limit on request names. kratix-py also puts every request CRD in
the ``kratix-request`` category, which is how the operator finds request kinds to watch (kopf
re-scans a group whenever a CRD changes) and how ``kubectl get kratix-request -A`` lists every
request of every Promise.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kratix_py import contract as constants
from kratix_py.api.crd_keys import normalise_crd_keys

REQUEST_CATEGORY = "kratix-request"

_STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-kubernetes-preserve-unknown-fields": True,
    "properties": {
        "message": {"type": "string"},
        "observedGeneration": {"type": "integer", "format": "int64"},
        "workflows": {"type": "integer", "format": "int64"},
        "workflowsSucceeded": {"type": "integer", "format": "int64"},
        "workflowsFailed": {"type": "integer", "format": "int64"},
        "lastSuccessfulConfigureWorkflowTime": {"type": "string", "format": "date-time"},
        "conditions": {
            "type": "array",
            "items": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "required": ["type", "status"],
                "properties": {
                    "type": {"type": "string"},
                    "status": {"type": "string"},
                    "reason": {"type": "string"},
                    "message": {"type": "string"},
                    "lastTransitionTime": {"type": "string", "format": "date-time"},
                    "observedGeneration": {"type": "integer", "format": "int64"},
                },
            },
        },
        "kratix": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {
                "workflows": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {
                        "lastSuccessfulConfigureWorkflowTime": {"type": "string", "format": "date-time"},
                        "suspendedGeneration": {"type": "integer", "format": "int64"},
                        "pipelines": {
                            "type": "array",
                            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    },
                }
            },
        },
    },
}

_DEFAULT_COLUMNS = [
    {"name": "message", "type": "string", "jsonPath": ".status.message"},
    {"name": "status", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Reconciled")].message'},
]


class InvalidAPI(ValueError):
    """``spec.api`` cannot become a request CRD; the message names the field and the fix."""


@dataclass(frozen=True)
class RequestKind:
    """The kind of resource request a Promise offers."""

    group: str
    version: str
    kind: str
    plural: str
    crd_name: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


def request_kind(api: Mapping[str, Any]) -> RequestKind:
    """The group/kind/plural and stored version of ``spec.api``, after checking its shape."""
    api, _ = normalise_crd_keys(api)  # names in any capitalisation, as in build_request_crd
    if api.get("apiVersion") != "apiextensions.k8s.io/v1" or api.get("kind") != "CustomResourceDefinition":
        raise InvalidAPI(
            "spec.api must be an apiextensions.k8s.io/v1 CustomResourceDefinition "
            f"(got apiVersion {api.get('apiVersion')!r}, kind {api.get('kind')!r})"
        )
    spec = api.get("spec") or {}
    names = spec.get("names") or {}
    group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
    if not group or not kind or not plural:
        raise InvalidAPI("spec.api.spec must set group, names.kind and names.plural")
    crd_name = (api.get("metadata") or {}).get("name")
    if crd_name != f"{plural}.{group}":
        raise InvalidAPI(f"spec.api.metadata.name must be {plural}.{group} (plural.group), not {crd_name!r}")
    if spec.get("scope", "Namespaced") != "Namespaced":
        raise InvalidAPI("spec.api.spec.scope must be Namespaced: resource requests live in namespaces")
    versions = spec.get("versions") or []
    if not versions:
        raise InvalidAPI("spec.api.spec.versions must list at least one version")
    for index, version in enumerate(versions):
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, Mapping) or not schema:
            raise InvalidAPI(
                f"spec.api.spec.versions[{index}] ({version.get('name')}) has no schema.openAPIV3Schema: "
                "every version needs a schema describing its spec"
            )
    stored = next((v for v in versions if v.get("storage")), versions[0])
    return RequestKind(group=group, version=stored["name"], kind=kind, plural=plural, crd_name=crd_name)


def build_request_crd(promise_name: str, api: Mapping[str, Any]) -> dict[str, Any]:
    """The CRD to apply for ``spec.api`` (raises :class:`InvalidAPI` naming the problem).

    Field names in another capitalisation (``JSONPath``) get their canonical spelling first, as
    Kratix's Go decoder gives them (see :mod:`kratix_py.api.crd_keys`).
    """
    crd, _ = normalise_crd_keys(api)
    kind = request_kind(crd)
    metadata = crd.setdefault("metadata", {})
    metadata.setdefault("labels", {})[constants.LABEL_PROMISE_NAME] = promise_name
    for key in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
        metadata.pop(key, None)
    crd.pop("status", None)
    spec = crd["spec"]
    spec["scope"] = "Namespaced"
    names = spec["names"]
    categories = list(names.get("categories") or [])
    if REQUEST_CATEGORY not in categories:
        categories.append(REQUEST_CATEGORY)
    names["categories"] = categories
    versions = spec["versions"]
    if not any(v.get("storage") for v in versions):
        versions[0]["storage"] = True
    for version in versions:
        version.setdefault("served", True)
        version.setdefault("storage", False)
        version["subresources"] = {**(version.get("subresources") or {}), "status": {}}
        if not version.get("additionalPrinterColumns"):
            version["additionalPrinterColumns"] = copy.deepcopy(_DEFAULT_COLUMNS)
        schema = version["schema"]["openAPIV3Schema"]
        schema.setdefault("type", "object")
        properties = schema.setdefault("properties", {})
        properties["status"] = copy.deepcopy(_STATUS_SCHEMA)
        if version["name"] == kind.version:
            metadata_schema = properties.setdefault("metadata", {"type": "object"})
            metadata_schema.setdefault("type", "object")
            name_schema = metadata_schema.setdefault("properties", {}).setdefault("name", {"type": "string"})
            name_schema["maxLength"] = 63
    return crd
