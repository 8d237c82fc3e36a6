"""From a request CRD's OpenAPI schema to a Backstage Scaffolder form (react-jsonschema-form).

Backstage renders a template's ``parameters`` with react-jsonschema-form, which reads plain JSON
Schema. A structural CRD schema is nearly that already; what has to change: the Kubernetes
extensions (``x-kubernetes-*``) mean nothing to a form and are dropped (int-or-string becomes a
string), ``nullable`` is dropped, the logical junctors (which in a structural schema only add
value validations) are left out, and every field gets a ``title`` made from its name, since the
form shows titles rather than field names.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

# JSON Schema keywords a form understands and a CRD schema may carry.
_KEPT = (
    "type",
    "description",
    "default",
    "enum",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
)


def title_of(name: str) -> str:
    """``teamName`` -> ``Team name``; ``maxMemoryMB`` -> ``Max memory MB``."""
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z]|[0-9]|$)|[A-Z]?[a-z]+|[A-Z]+|[0-9]+", name)
    if not words:
        return name
    first, rest = words[0], words[1:]
    shown = [first[0].upper() + first[1:]] + [w if w.isupper() and len(w) > 1 else w.lower() for w in rest]
    return " ".join(shown)


def form_field(schema: Mapping[str, Any], name: str) -> dict[str, Any]:
    """One property of the CRD schema as a form field (recursively for objects and arrays)."""
    field: dict[str, Any] = {"title": title_of(name)}
    for key in _KEPT:
        if key in schema:
            field[key] = copy.deepcopy(schema[key])
    if schema.get("x-kubernetes-int-or-string"):
        field["type"] = "string"
        field.setdefault("description", "A number or a string.")
    if schema.get("x-kubernetes-preserve-unknown-fields") and "type" not in field:
        field["type"] = "object"
    if field.get("type") == "object":
        properties = schema.get("properties") or {}
        if properties:
            field["properties"] = {key: form_field(sub, key) for key, sub in properties.items()}
        if schema.get("required"):
            field["required"] = list(schema["required"])
        additional = schema.get("additionalProperties")
        if isinstance(additional, Mapping):
            field["additionalProperties"] = form_field(additional, "value")
            field["additionalProperties"].pop("title", None)
    if field.get("type") == "array" and isinstance(schema.get("items"), Mapping):
        field["items"] = form_field(schema["items"], "item")
        field["items"].pop("title", None)
    return field


def spec_form(spec_schema: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The form fields of a request's ``spec`` and which of them are required."""
    properties = spec_schema.get("properties") or {}
    fields = {name: form_field(sub, name) for name, sub in properties.items()}
    required = [name for name in spec_schema.get("required") or [] if name in fields]
    return fields, required
