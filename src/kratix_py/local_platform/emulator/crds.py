"""CustomResourceDefinitions: their validation, defaults and status, and the resources they serve.

A CRD is accepted and established the moment it is written (``NamesAccepted`` and ``Established``
are ``True``), so its versions appear in discovery in the same request, as kopf and kubectl expect.
"""

from __future__ import annotations

from typing import Any

from . import objectmeta
from .errors import Cause
from .jsonpath import JSONPathError, compile_path
from .jsonutil import go_repr
from .resources import ResourceType
from .schema import rule_problems, structural_problems

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_COLUMN_TYPES = ("integer", "number", "string", "boolean", "date")
_AGE_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def apply_defaults(crd: dict[str, Any]) -> None:
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict) and names.get("kind"):
        names.setdefault("singular", str(names["kind"]).lower())
        names.setdefault("listKind", f"{names['kind']}List")
    spec.setdefault("conversion", {"strategy": "None"})


def validate(crd: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    causes: list[Cause] = []
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [Cause("FieldValueRequired", "Required value", "spec")]
    group = spec.get("group")
    raw_names = spec.get("names")
    names: dict[str, Any] = raw_names if isinstance(raw_names, dict) else {}
    plural = names.get("plural")
    if not group:
        causes.append(Cause("FieldValueRequired", "Required value", "spec.group"))
    elif "." not in group:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {go_repr(group)}: should be a domain with at least one dot",
                "spec.group",
            )
        )
    if not plural:
        causes.append(Cause("FieldValueRequired", "Required value", "spec.names.plural"))
    for key in ("plural", "singular"):
        value = names.get(key)
        if value:
            causes.extend(
                Cause("FieldValueInvalid", f"Invalid value: {go_repr(value)}: {p}", f"spec.names.{key}")
                for p in objectmeta.dns1123_label(value)
            )
    if not names.get("kind"):
        causes.append(Cause("FieldValueRequired", "Required value", "spec.names.kind"))
    name = crd.get("metadata", {}).get("name")
    if group and plural and name != f"{plural}.{group}":
        causes.append(
            Cause(
                "FieldValueInvalid",
                f'Invalid value: {go_repr(name)}: must be spec.names.plural+"."+spec.group',
                "metadata.name",
            )
        )
    scope = spec.get("scope")
    if not scope:
        causes.append(Cause("FieldValueRequired", "Required value", "spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        causes.append(
            Cause(
                "FieldValueNotSupported",
                f'Unsupported value: {go_repr(scope)}: supported values: "Cluster", "Namespaced"',
                "spec.scope",
            )
        )
    causes.extend(_validate_versions(spec.get("versions")))
    if old is not None:
        old_spec = old.get("spec") or {}
        if old_spec.get("scope") and scope != old_spec.get("scope"):
            causes.append(
                Cause(
                    "FieldValueInvalid", f"Invalid value: {go_repr(scope)}: field is immutable", "spec.scope"
                )
            )
        listed = {v.get("name") for v in spec.get("versions") or [] if isinstance(v, dict)}
        for i, stored in enumerate((old.get("status") or {}).get("storedVersions") or []):
            if stored not in listed:
                causes.append(
                    Cause(
                        "FieldValueInvalid",
                        f"Invalid value: {go_repr(stored)}: must appear in spec.versions",
                        f"status.storedVersions[{i}]",
                    )
                )
    return causes


def _validate_versions(versions: Any) -> list[Cause]:
    if not isinstance(versions, list) or not versions:
        return [
            Cause(
                "FieldValueRequired",
                "Required value: must have exactly one version marked as storage version",
                "spec.versions",
            )
        ]
    causes: list[Cause] = []
    storage = [v for v in versions if isinstance(v, dict) and v.get("storage")]
    if len(storage) != 1:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {go_repr(versions)[:80]}: must have exactly one version marked as storage version",
                "spec.versions",
            )
        )
    seen: set[str] = set()
    judged: set[str] = set()
    for i, version in enumerate(versions):
        where = f"spec.versions[{i}]"
        if not isinstance(version, dict):
            causes.append(Cause("FieldValueInvalid", "Invalid value: must be an object", where))
            continue
        vname = version.get("name")
        if not vname:
            causes.append(Cause("FieldValueRequired", "Required value", f"{where}.name"))
        elif vname in seen:
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    f"Invalid value: {go_repr(vname)}: must appear only once",
                    f"{where}.name",
                )
            )
        else:
            seen.add(vname)
            causes.extend(
                Cause("FieldValueInvalid", f"Invalid value: {go_repr(vname)}: {p}", f"{where}.name")
                for p in objectmeta.dns1035_label(vname)
            )
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            causes.append(
                Cause(
                    "FieldValueRequired",
                    "Required value: schemas are required",
                    f"{where}.schema.openAPIV3Schema",
                )
            )
        else:
            problems = structural_problems(schema, f"{where}.schema.openAPIV3Schema")
            causes.extend(problems)
            rules_path = _rules_path(versions, i)
            if not problems and rules_path not in judged:
                judged.add(rules_path)  # one schema shared by every version is judged once, as there
                causes.extend(rule_problems(schema, rules_path))
        for j, column in enumerate(version.get("additionalPrinterColumns") or []):
            cwhere = f"{where}.additionalPrinterColumns[{j}]"
            if not isinstance(column, dict):
                continue
            if not column.get("name"):
                causes.append(Cause("FieldValueRequired", "Required value", f"{cwhere}.name"))
            if column.get("type") not in _COLUMN_TYPES:
                supported = ", ".join(f'"{t}"' for t in _COLUMN_TYPES)
                causes.append(
                    Cause(
                        "FieldValueNotSupported",
                        f"Unsupported value: {go_repr(column.get('type'))}: supported values: {supported}",
                        f"{cwhere}.type",
                    )
                )
            try:
                compile_path(str(column.get("jsonPath", "")))
            except JSONPathError:
                causes.append(
                    Cause(
                        "FieldValueInvalid",
                        f"Invalid value: {go_repr(column.get('jsonPath'))}: must be a simple json path",
                        f"{cwhere}.jsonPath",
                    )
                )
            if not column.get("jsonPath"):
                causes.append(Cause("FieldValueRequired", "Required value", f"{cwhere}.jsonPath"))
    return causes


def _rules_path(versions: list[Any], index: int) -> str:
    """Where kube-apiserver reports a version's CEL rules: versions with one shared schema are
    held as the top-level ``spec.validation`` internally, and reported there."""
    schemas = [(v.get("schema") or {}).get("openAPIV3Schema") for v in versions if isinstance(v, dict)]
    if all(s == schemas[0] for s in schemas):
        return "spec.validation.openAPIV3Schema"
    return f"spec.versions[{index}].schema.openAPIV3Schema"


def _condition(
    kind: str, reason: str, message: str, previous: list[dict[str, Any]], now: str
) -> dict[str, Any]:
    before = next((c for c in previous if c.get("type") == kind and c.get("status") == "True"), None)
    return {
        "type": kind,
        "status": "True",
        "lastTransitionTime": before.get("lastTransitionTime", now) if before else now,
        "reason": reason,
        "message": message,
    }


def compute_status(crd: dict[str, Any], old_status: dict[str, Any] | None, now: str) -> dict[str, Any]:
    """The status the apiextensions controllers would settle on: accepted, established."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    old_status = old_status or {}
    previous = old_status.get("conditions") or []
    accepted = {
        k: names[k]
        for k in ("plural", "singular", "shortNames", "kind", "listKind", "categories")
        if names.get(k)
    }
    stored = list(old_status.get("storedVersions") or [])
    for version in spec.get("versions") or []:
        if isinstance(version, dict) and version.get("storage") and version.get("name") not in stored:
            stored.append(version["name"])
    conditions = [
        _condition("NamesAccepted", "NoConflicts", "no conflicts found", previous, now),
        _condition(
            "Established", "InitialNamesAccepted", "the initial names have been accepted", previous, now
        ),
    ]
    if crd.get("metadata", {}).get("deletionTimestamp"):
        conditions.append(
            _condition(
                "Terminating",
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress",
                previous,
                now,
            )
        )
    return {"conditions": conditions, "acceptedNames": accepted, "storedVersions": stored}


def resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    """One :class:`ResourceType` per served version of the CRD."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    storage_version = next((v["name"] for v in spec.get("versions") or [] if v.get("storage")), None)
    types = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        columns = version.get("additionalPrinterColumns") or [_AGE_COLUMN]
        selectable = {
            str(f.get("jsonPath", "")).lstrip("."): str(f.get("jsonPath", ""))
            for f in version.get("selectableFields") or []
            if isinstance(f, dict) and f.get("jsonPath")
        }
        types.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec.get("scope") == "Namespaced",
                singular=names.get("singular") or names["kind"].lower(),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=("status",) if "status" in subresources else (),
                has_generation=True,
                fields=selectable,
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=columns,
                crd_name=crd["metadata"]["name"],
                storage_version=storage_version,
            )
        )
    return types
