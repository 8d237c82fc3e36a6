"""A minimal OpenAPI v3 discovery, enough for kubectl.

kubectl (``--validate=strict``, its default) reads ``/openapi/v3`` to learn whether the server
checks fields itself: it looks for a PATCH operation of the object's group/version/kind with a
``fieldValidation`` parameter, and then sends ``fieldValidation=Strict`` instead of validating
client-side. So each group/version document lists its resources' paths and operations with those
parameters; no component schemas are served (``kubectl explain`` does not work).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .resources import Registry, ResourceType

_WRITE_PARAMS: list[dict[str, Any]] = [
    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for name in ("dryRun", "fieldManager", "fieldValidation")
]
_PATCH_PARAMS: list[dict[str, Any]] = [
    *_WRITE_PARAMS,
    {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": True}},
]


def gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _operation(rt: ResourceType, action: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "operationId": f"{action}{rt.kind}",
        "parameters": params,
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
    }


def _paths(rt: ResourceType) -> dict[str, Any]:
    base = "/" + gv_path(rt.group, rt.version)
    collection = f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
    item = f"{collection}/{{name}}"
    paths = {
        collection: {"get": _operation(rt, "list", []), "post": _operation(rt, "post", _WRITE_PARAMS)},
        item: {
            "get": _operation(rt, "get", []),
            "put": _operation(rt, "put", _WRITE_PARAMS),
            "patch": _operation(rt, "patch", _PATCH_PARAMS),
            "delete": _operation(
                rt, "delete", [{"name": "dryRun", "in": "query", "schema": {"type": "string"}}]
            ),
        },
    }
    for sub in rt.subresources:
        if sub == "status":
            paths[f"{item}/status"] = {
                "get": _operation(rt, "get", []),
                "put": _operation(rt, "put", _WRITE_PARAMS),
                "patch": _operation(rt, "patch", _PATCH_PARAMS),
            }
    return paths


def group_version_document(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    types = registry.resources_in(group, version)
    if not types:
        return None
    paths: dict[str, Any] = {}
    for rt in sorted(types, key=lambda t: t.plural):
        paths.update(_paths(rt))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def root_document(registry: Registry) -> dict[str, Any]:
    """``/openapi/v3``: one entry per group/version, with a hash that changes with its content."""
    entries: dict[str, Any] = {}
    gvs = {(rt.group, rt.version) for rt in registry.all()}
    for group, version in sorted(gvs):
        doc = group_version_document(registry, group, version)
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()
        path = gv_path(group, version)
        entries[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": entries}
