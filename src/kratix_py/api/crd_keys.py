"""Field names of a CustomResourceDefinition, matched the way Kratix's Go decoder matches them.

Kratix reads a Promise's ``spec.api`` into Go's ``CustomResourceDefinition`` type with
``encoding/json``, which matches object keys to struct fields case-insensitively when there is no
exact match. So a Promise that writes ``JSONPath`` instead of ``jsonPath`` in
``additionalPrinterColumns`` (as the marketplace's sql Promise does) is accepted by Kratix, and
the CRD it creates says ``jsonPath``. kratix-py does the same here: every key that names a field
of the CRD's Go types in another capitalisation is rewritten to the field's own name, and each
rewrite is reported so ``kratix-py validate`` can suggest the canonical spelling.

Only field names are touched: map keys chosen by the author (the names under ``properties``,
labels, annotations) and free-form values (``default``, ``enum``, ``example``) stay as written.
Keys that match no field are left alone for the API server to judge. When a document has both
spellings of one field, the later one wins, as in Go.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

# Each struct is {field: shape}. A shape is a struct name, "value" (kept as it is), "map:<shape>"
# (keys chosen by the author), "list:<shape>", or "schema|bool" / "schema|list" for the JSON
# schema unions (a schema, or a bool / a list of schemas).
_STRUCTS: Final[dict[str, dict[str, str]]] = {
    "CRD": {
        "apiVersion": "value",
        "kind": "value",
        "metadata": "ObjectMeta",
        "spec": "Spec",
        "status": "value",
    },
    "ObjectMeta": {
        "name": "value",
        "generateName": "value",
        "namespace": "value",
        "labels": "map:value",
        "annotations": "map:value",
        "uid": "value",
        "resourceVersion": "value",
        "generation": "value",
        "creationTimestamp": "value",
        "finalizers": "value",
        "ownerReferences": "value",
        "managedFields": "value",
    },
    "Spec": {
        "group": "value",
        "names": "Names",
        "scope": "value",
        "versions": "list:Version",
        "conversion": "Conversion",
        "preserveUnknownFields": "value",
    },
    "Names": {
        "plural": "value",
        "singular": "value",
        "shortNames": "value",
        "kind": "value",
        "listKind": "value",
        "categories": "value",
    },
    "Version": {
        "name": "value",
        "served": "value",
        "storage": "value",
        "deprecated": "value",
        "deprecationWarning": "value",
        "schema": "Validation",
        "subresources": "Subresources",
        "additionalPrinterColumns": "list:PrinterColumn",
        "selectableFields": "list:SelectableField",
    },
    "PrinterColumn": {
        "name": "value",
        "type": "value",
        "format": "value",
        "description": "value",
        "priority": "value",
        "jsonPath": "value",
    },
    "SelectableField": {"jsonPath": "value"},
    "Validation": {"openAPIV3Schema": "Schema"},
    "Subresources": {"status": "value", "scale": "Scale"},
    "Scale": {"specReplicasPath": "value", "statusReplicasPath": "value", "labelSelectorPath": "value"},
    "Conversion": {"strategy": "value", "webhook": "Webhook"},
    "Webhook": {"clientConfig": "ClientConfig", "conversionReviewVersions": "value"},
    "ClientConfig": {"url": "value", "service": "Service", "caBundle": "value"},
    "Service": {"namespace": "value", "name": "value", "path": "value", "port": "value"},
    "Schema": {
        "id": "value",
        "$schema": "value",
        "$ref": "value",
        "description": "value",
        "type": "value",
        "format": "value",
        "title": "value",
        "default": "value",
        "maximum": "value",
        "exclusiveMaximum": "value",
        "minimum": "value",
        "exclusiveMinimum": "value",
        "maxLength": "value",
        "minLength": "value",
        "pattern": "value",
        "maxItems": "value",
        "minItems": "value",
        "uniqueItems": "value",
        "multipleOf": "value",
        "enum": "value",
        "maxProperties": "value",
        "minProperties": "value",
        "required": "value",
        "items": "schema|list",
        "allOf": "list:Schema",
        "oneOf": "list:Schema",
        "anyOf": "list:Schema",
        "not": "Schema",
        "properties": "map:Schema",
        "additionalProperties": "schema|bool",
        "patternProperties": "map:Schema",
        "dependencies": "value",
        "additionalItems": "schema|bool",
        "definitions": "map:Schema",
        "externalDocs": "ExternalDocs",
        "example": "value",
        "nullable": "value",
        "x-kubernetes-preserve-unknown-fields": "value",
        "x-kubernetes-embedded-resource": "value",
        "x-kubernetes-int-or-string": "value",
        "x-kubernetes-list-map-keys": "value",
        "x-kubernetes-list-type": "value",
        "x-kubernetes-map-type": "value",
        "x-kubernetes-validations": "list:ValidationRule",
    },
    "ExternalDocs": {"description": "value", "url": "value"},
    "ValidationRule": {
        "rule": "value",
        "message": "value",
        "messageExpression": "value",
        "reason": "value",
        "fieldPath": "value",
        "optionalOldSelf": "value",
    },
}
_FOLDED: Final = {struct: {name.casefold(): name for name in fields} for struct, fields in _STRUCTS.items()}


@dataclass(frozen=True)
class KeyRename:
    """One key written in another capitalisation: where, as written, and the field's own name."""

    path: str
    """The field's path with the canonical name: ``spec.versions[0].additionalPrinterColumns[0].jsonPath``."""
    written: str
    canonical: str


def normalise_crd_keys(crd: Mapping[str, Any], *, path: str = "") -> tuple[dict[str, Any], list[KeyRename]]:
    """``crd`` with every field name in its canonical capitalisation, and the renames made.

    ``path`` prefixes the reported paths (``spec.api`` when the CRD sits in a Promise).
    """
    renames: list[KeyRename] = []
    result = _shape(copy.deepcopy(dict(crd)), "CRD", path, renames)
    return result, renames


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _shape(value: Any, shape: str, path: str, renames: list[KeyRename]) -> Any:
    if shape == "value":
        return value
    if shape.startswith("map:"):
        if not isinstance(value, Mapping):
            return value
        inner = shape[4:]
        return {key: _shape(item, inner, _join(path, str(key)), renames) for key, item in value.items()}
    if shape.startswith("list:"):
        if not isinstance(value, list):
            return value
        inner = shape[5:]
        return [_shape(item, inner, f"{path}[{index}]", renames) for index, item in enumerate(value)]
    if shape in ("schema|bool", "schema|list"):
        if isinstance(value, list):
            return _shape(value, "list:Schema", path, renames)
        return _shape(value, "Schema", path, renames)
    return _struct(value, shape, path, renames)


def _struct(value: Any, struct: str, path: str, renames: list[KeyRename]) -> Any:
    if not isinstance(value, Mapping):
        return value
    fields, folded = _STRUCTS[struct], _FOLDED[struct]
    result: dict[str, Any] = {}
    for key, item in value.items():
        name = key if not isinstance(key, str) or key in fields else folded.get(key.casefold(), key)
        if name != key:
            renames.append(KeyRename(_join(path, name), key, name))
            result.pop(name, None)  # whichever spelling comes last wins, as in Go
        field_shape = fields.get(name, "value") if isinstance(name, str) else "value"
        result[name] = _shape(item, field_shape, _join(path, str(name)), renames)
    return result
