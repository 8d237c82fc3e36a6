"""Is an OpenAPI v3 schema *structural*, as ``apiextensions.k8s.io/v1`` CRDs must be?

The API server refuses a CRD whose schema is not structural, but nothing here runs an API server:
this check lets the generated CRDs, and the request APIs Promises bring in ``spec.api``, be
refused at the same point, with the same reasons. It covers the rules of the Kubernetes
documentation ("Specifying a structural schema") and the keywords v1 CRDs reject outright.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

_PRESERVE = "x-kubernetes-preserve-unknown-fields"
_INT_OR_STRING = "x-kubernetes-int-or-string"
_EMBEDDED = "x-kubernetes-embedded-resource"
_JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
_FORBIDDEN = ("$ref", "$schema", "id", "definitions", "dependencies", "patternProperties", "additionalItems")
_NOT_IN_JUNCTORS = ("description", "type", "default", "additionalProperties", "nullable")
_INT_OR_STRING_JUNCTOR = [{"type": "integer"}, {"type": "string"}]


def structural_errors(schema: Mapping[str, Any]) -> list[str]:
    """Every reason ``schema`` (an openAPIV3Schema) is not structural; empty when it is."""
    errors = list(_check_node(schema, "openAPIV3Schema", typed=True))
    if schema.get("type") != "object":
        errors.append("openAPIV3Schema: the root must be of type object")
    metadata = schema.get("properties", {}).get("metadata")
    if isinstance(metadata, Mapping):
        errors.extend(_check_metadata(metadata, "openAPIV3Schema.properties.metadata"))
    return errors


def _check_metadata(metadata: Mapping[str, Any], path: str) -> Iterator[str]:
    # Only name and generateName may be restricted; the API server owns the rest of ObjectMeta.
    extra = set(metadata) - {"type", "properties", "description"}
    if extra:
        yield f"{path}: only type and properties (name, generateName) are allowed, not {sorted(extra)}"
    for name in metadata.get("properties", {}):
        if name not in ("name", "generateName"):
            yield f"{path}.properties.{name}: only metadata.name and metadata.generateName may be constrained"


def _children(node: Mapping[str, Any], path: str) -> Iterator[tuple[Mapping[str, Any], str]]:
    for name, child in node.get("properties", {}).items():
        yield child, f"{path}.properties.{name}"
    additional = node.get("additionalProperties")
    if isinstance(additional, Mapping):
        yield additional, f"{path}.additionalProperties"
    items = node.get("items")
    if isinstance(items, Mapping):
        yield items, f"{path}.items"


def _check_node(node: Mapping[str, Any], path: str, *, typed: bool) -> Iterator[str]:
    """``typed``: the node is a value schema (root, property, items ...) and so needs a type."""
    if not isinstance(node, Mapping):
        yield f"{path}: must be a schema object"
        return
    for keyword in _FORBIDDEN:
        if keyword in node:
            yield f"{path}: {keyword} is not allowed in a CRD schema"
    if node.get("uniqueItems") is True:
        yield f"{path}: uniqueItems: true is not allowed in a CRD schema"
    if isinstance(node.get("items"), list):
        yield f"{path}: items must be one schema, not a list"
    if node.get("additionalProperties") is False:
        yield f"{path}: additionalProperties: false is not allowed (unknown fields are pruned anyway)"
    if "properties" in node and "additionalProperties" in node:
        yield f"{path}: properties and additionalProperties are mutually exclusive"
    if _PRESERVE in node and node[_PRESERVE] is not True:
        yield f"{path}: {_PRESERVE} must be true or absent"
    if typed and not node.get("type") and not node.get(_PRESERVE) and not node.get(_INT_OR_STRING):
        yield f"{path}: has no type (only {_PRESERVE} or {_INT_OR_STRING} nodes may omit it)"
    if node.get(_INT_OR_STRING) and node.get("type"):
        yield f"{path}: {_INT_OR_STRING} nodes must not have a type"
    if node.get(_EMBEDDED) and (
        node.get("type") != "object" or not (node.get("properties") or node.get(_PRESERVE))
    ):
        yield f"{path}: {_EMBEDDED} needs type object and properties or {_PRESERVE}"
    yield from _check_junctors(node, path)
    for child, child_path in _children(node, path):
        yield from _check_node(child, child_path, typed=True)


def _check_junctors(node: Mapping[str, Any], path: str) -> Iterator[str]:
    for junctor in _JUNCTORS:
        if junctor not in node:
            continue
        branches = node[junctor] if junctor != "not" else [node[junctor]]
        if node.get(_INT_OR_STRING) and junctor in ("anyOf", "oneOf") and branches == _INT_OR_STRING_JUNCTOR:
            continue  # the one shape allowed for int-or-string
        for index, branch in enumerate(branches):
            branch_path = f"{path}.{junctor}[{index}]"
            yield from _check_junctor_branch(node, branch, branch_path)


def _check_junctor_branch(outer: Mapping[str, Any], branch: Mapping[str, Any], path: str) -> Iterator[str]:
    # Inside allOf/anyOf/oneOf/not only value validations may appear, and only for fields that the
    # schema also declares outside, so the shape of the data never depends on which branch matched.
    for keyword in _NOT_IN_JUNCTORS:
        if keyword in branch:
            yield f"{path}: {keyword} is not allowed inside a logical junctor"
    for name, child in branch.get("properties", {}).items():
        if name not in outer.get("properties", {}):
            yield f"{path}.properties.{name}: not declared outside the junctor"
        else:
            yield from _check_junctor_branch(outer["properties"][name], child, f"{path}.properties.{name}")
    if "items" in branch:
        if "items" not in outer:
            yield f"{path}.items: not declared outside the junctor"
        elif isinstance(branch["items"], Mapping) and isinstance(outer["items"], Mapping):
            yield from _check_junctor_branch(outer["items"], branch["items"], f"{path}.items")
    for junctor in _JUNCTORS:
        if junctor in branch:
            nested = branch[junctor] if junctor != "not" else [branch[junctor]]
            for index, inner in enumerate(nested):
                yield from _check_junctor_branch(outer, inner, f"{path}.{junctor}[{index}]")
