"""ObjectMeta: which fields exist, timestamps, and the name/label/ownerReference validation every
kind shares, with the error wording of a real API server (so tests see the same messages)."""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from .errors import Cause
from .jsonutil import go_repr

OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)


_OMIT_WHEN_EMPTY = ("generateName", "labels", "annotations", "ownerReferences", "finalizers", "managedFields")


def normalize(meta: dict[str, Any]) -> None:
    """Drop empty optional fields, as the round trip through Go's ObjectMeta (omitempty) does."""
    for key in _OMIT_WHEN_EMPTY:
        if key in meta and meta[key] in (None, "", {}, []):
            del meta[key]


def now_timestamp() -> str:
    """RFC 3339 with whole seconds, like ``metav1.Time`` serialises."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def parse_timestamp(text: str) -> float | None:
    """Seconds since the epoch for an RFC 3339 timestamp, ``None`` if unparseable."""
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_RE = re.compile(rf"^{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*$")
_DNS1123_LABEL_RE = re.compile(rf"^{_DNS1123_LABEL}$")
_DNS1035_LABEL_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

NameValidator = Callable[[str], list[str]]


def dns1123_subdomain(value: str) -> list[str]:
    problems = []
    if len(value) > 253:
        problems.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN_RE.match(value):
        problems.append(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
            "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        )
    return problems


def dns1123_label(value: str) -> list[str]:
    problems = []
    if len(value) > 63:
        problems.append("must be no more than 63 characters")
    if not _DNS1123_LABEL_RE.match(value):
        problems.append(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
            "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
            "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        )
    return problems


def dns1035_label(value: str) -> list[str]:
    problems = []
    if len(value) > 63:
        problems.append("must be no more than 63 characters")
    if not _DNS1035_LABEL_RE.match(value):
        problems.append(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
            "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
            "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
        )
    return problems


def path_segment_name(value: str) -> list[str]:
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in "/%" if c in value]


def qualified_name(value: str) -> list[str]:
    """A label or annotation key: an optional DNS-subdomain prefix, ``/``, and a name."""
    problems: list[str] = []
    prefix, _, name = value.rpartition("/")
    if "/" in value and not prefix:
        problems.append("prefix part must be non-empty")
    elif prefix:
        problems.extend("prefix part " + p for p in dns1123_subdomain(prefix))
    if not name:
        problems.append("name part must be non-empty")
    else:
        if len(name) > 63:
            problems.append("name part must be no more than 63 characters")
        if not _QUALIFIED_NAME_RE.match(name):
            problems.append(
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
            )
    return problems


def label_value(value: str) -> list[str]:
    problems = []
    if len(value) > 63:
        problems.append("must be no more than 63 characters")
    if not _LABEL_VALUE_RE.match(value):
        problems.append(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
            "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        )
    return problems


def _invalid(field: str, value: Any, problems: list[str]) -> list[Cause]:
    return [Cause("FieldValueInvalid", f"Invalid value: {go_repr(value)}: {p}", field) for p in problems]


def validate_object_meta(meta: Mapping[str, Any], name_validator: NameValidator) -> list[Cause]:
    """Validate the metadata every object shares (the name, labels, annotations, owners)."""
    causes: list[Cause] = []
    name = meta.get("name")
    if not name:
        causes.append(
            Cause("FieldValueRequired", "Required value: name or generateName is required", "metadata.name")
        )
    elif not isinstance(name, str):
        causes.append(
            Cause("FieldValueInvalid", f"Invalid value: {go_repr(name)}: must be a string", "metadata.name")
        )
    else:
        causes.extend(_invalid("metadata.name", name, name_validator(name)))
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        causes.append(
            Cause("FieldValueInvalid", "Invalid value: must be a map of strings", "metadata.labels")
        )
    else:
        for key, value in labels.items():
            causes.extend(_invalid("metadata.labels", key, qualified_name(key)))
            if not isinstance(value, str):
                causes.append(
                    Cause(
                        "FieldValueInvalid",
                        f"Invalid value: {go_repr(value)}: must be a string",
                        f"metadata.labels.{key}",
                    )
                )
            else:
                causes.extend(_invalid("metadata.labels", value, label_value(value)))
    annotations = meta.get("annotations") or {}
    if not isinstance(annotations, dict):
        causes.append(
            Cause("FieldValueInvalid", "Invalid value: must be a map of strings", "metadata.annotations")
        )
    else:
        for key, value in annotations.items():
            causes.extend(_invalid("metadata.annotations", key, qualified_name(key.lower())))
            if not isinstance(value, str):
                causes.append(
                    Cause(
                        "FieldValueInvalid",
                        f"Invalid value: {go_repr(value)}: must be a string",
                        f"metadata.annotations.{key}",
                    )
                )
    causes.extend(_validate_owner_references(meta.get("ownerReferences") or []))
    finalizers = meta.get("finalizers") or []
    for i, finalizer in enumerate(finalizers if isinstance(finalizers, list) else []):
        if not isinstance(finalizer, str) or qualified_name(finalizer):
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    f"Invalid value: {go_repr(finalizer)}: name part must consist of alphanumeric characters, '-', '_' or '.'",
                    f"metadata.finalizers[{i}]",
                )
            )
    return causes


def _validate_owner_references(refs: Any) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(refs, list):
        return [Cause("FieldValueInvalid", "Invalid value: must be a list", "metadata.ownerReferences")]
    controllers = 0
    for i, ref in enumerate(refs):
        where = f"metadata.ownerReferences[{i}]"
        if not isinstance(ref, dict):
            causes.append(Cause("FieldValueInvalid", "Invalid value: must be an object", where))
            continue
        for key in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(key):
                problem = "version must not be empty" if key == "apiVersion" else f"{key} must not be empty"
                causes.append(
                    Cause(
                        "FieldValueInvalid",
                        f"Invalid value: {go_repr(ref.get(key, ''))}: {problem}",
                        f"{where}.{key}",
                    )
                )
        if ref.get("controller") is True:
            controllers += 1
    if controllers > 1:
        causes.append(
            Cause(
                "FieldValueInvalid",
                "Invalid value: only one reference can have Controller set to true",
                "metadata.ownerReferences",
            )
        )
    return causes
