"""From a request CRD's OpenAPI schema to a Backstage Scaffolder form (react-jsonschema-form).

Backstage renders a Template's ``parameters`` with react-jsonschema-form, which validates with
Ajv (JSON Schema draft 7, formats from ajv-formats, patterns as JavaScript ``u`` regular
expressions). A structural CRD schema is OpenAPI v3.0, which is nearly that already. What has to
change, and why:

* the Kubernetes extensions (``x-kubernetes-*``) mean nothing to a form and are dropped;
  int-or-string becomes a string, a field that keeps unknown fields becomes an object;
* ``nullable`` is dropped, and OpenAPI's boolean ``exclusiveMinimum``/``exclusiveMaximum`` become
  draft 7's numbers (Ajv refuses the boolean form, and the whole form would fail to compile);
* the logical junctors (``anyOf``, ``allOf``, ``oneOf``, ``not``), CEL rules and formats that mean
  something else in Ajv (``duration`` is Go's ``1h30m`` in Kubernetes, ISO 8601 in Ajv) are left
  out: the form would refuse good values. The API server still checks all of them;
* every field gets a ``title`` made from its name, since the form shows titles, not names.

What the form cannot show faithfully is reported as a :class:`FormProblem`: *fatal* ones (a
pattern that is no JavaScript regular expression, a field named like a Backstage UI option, a
field without a type) would give a form Backstage cannot use, so no Template is made; the others
are warnings.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# JSON Schema keywords a form understands and a CRD schema may carry, copied as they are.
_KEPT = (
    "type",
    "description",
    "default",
    "enum",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
)
_JUNCTORS = ("anyOf", "allOf", "oneOf", "not")
_TYPES = ("string", "integer", "number", "boolean", "object", "array")

FORM_FORMATS = frozenset(
    {
        "date",
        "date-time",
        "uri",
        "email",
        "hostname",
        "ipv4",
        "ipv6",
        "uuid",
        "byte",
        "int32",
        "int64",
        "float",
        "double",
        "password",
    }
)
"""Formats that mean the same to Kubernetes and to ajv-formats (what the form validates with)."""

UI_PREFIX = "ui:"
"""Backstage reads keys with this prefix as UI options, never as fields."""


@dataclass(frozen=True)
class FormProblem:
    """Something in the request schema the form cannot show as the API server will check it."""

    path: str
    """Where, as ``spec.a.b`` (``[]`` for array items)."""
    message: str
    fatal: bool = False

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class RequestForm:
    """The form of a request's ``spec`` and what could not be carried over."""

    fields: dict[str, dict[str, Any]]
    required: list[str]
    description: str | None = None
    problems: list[FormProblem] = field(default_factory=list)

    @property
    def fatal(self) -> list[FormProblem]:
        return [p for p in self.problems if p.fatal]

    @property
    def warnings(self) -> list[FormProblem]:
        return [p for p in self.problems if not p.fatal]


def title_of(name: str) -> str:
    """``teamName`` -> ``Team name``; ``maxMemoryMB`` -> ``Max memory MB``."""
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z]|[0-9]|$)|[A-Z]?[a-z]+|[A-Z]+|[0-9]+", name)
    if not words:
        return name
    first, rest = words[0], words[1:]
    shown = [first[0].upper() + first[1:]] + [w if w.isupper() and len(w) > 1 else w.lower() for w in rest]
    return " ".join(shown)


# -- JavaScript regular expressions ------------------------------------------------------------------

_JS_ESCAPE_LETTERS = frozenset("dDwWsSbBnrtfv0cxukpP123456789")
_JS_SYNTAX = frozenset("^$\\.*+?()[]{}|/")
_NOT_JS = (
    (re.compile(r"\(\?[a-zA-Z]+[):]"), "inline flags such as (?i)"),
    (re.compile(r"\(\?P[<=>]"), "Python-style named groups (?P<name>...)"),
    (re.compile(r"\(\?>"), "atomic groups (?>...)"),
    (re.compile(r"\\[AzZhHQEG]"), "anchors and escapes such as \\A or \\z"),
    (re.compile(r"\[\[:[a-z]+:\]\]"), "POSIX classes such as [[:alpha:]]"),
    (re.compile(r"(?<!\\)[*+?}]\+"), "possessive quantifiers such as a++"),
)


def javascript_pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is no JavaScript ``u``-mode regular expression (what Ajv compiles), or None.

    Kubernetes checks ``pattern`` with Go's RE2, which accepts constructs JavaScript refuses; a
    form with such a pattern fails to compile in the browser. This is a close check, not a
    parser: the test suite compiles every pattern the project generates with Ajv itself.
    """
    for construct, what in _NOT_JS:
        if construct.search(pattern):
            return f"pattern {pattern!r} uses {what}, which JavaScript regular expressions do not have"
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            if index + 1 == len(pattern):
                return f"pattern {pattern!r} ends with a lone backslash"
            escaped = pattern[index + 1]
            allowed = escaped in _JS_SYNTAX or escaped in _JS_ESCAPE_LETTERS or (in_class and escaped == "-")
            if not allowed:
                return (
                    f"pattern {pattern!r} escapes {escaped!r} (\\{escaped}), which JavaScript's unicode "
                    f"mode refuses; write {escaped!r} without the backslash"
                    + (" or inside [...]" if escaped == "-" else "")
                )
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        index += 1
    try:
        re.compile(pattern)
    except re.error as error:
        return f"pattern {pattern!r} is not a regular expression: {error}"
    return None


# -- fields ------------------------------------------------------------------------------------------


def _exclusive_bounds(schema: Mapping[str, Any], field_: dict[str, Any]) -> None:
    """OpenAPI v3.0's ``exclusiveMinimum: true`` + ``minimum: n`` is draft 7's ``exclusiveMinimum: n``."""
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        flag = schema.get(exclusive)
        if isinstance(flag, bool):
            if flag and bound in field_:
                field_[exclusive] = field_.pop(bound)
        elif isinstance(flag, int | float):
            field_[exclusive] = flag


def form_field(
    schema: Mapping[str, Any],
    name: str,
    *,
    path: str | None = None,
    problems: list[FormProblem] | None = None,
) -> dict[str, Any]:
    """One property of the CRD schema as a form field (recursively for objects and arrays).

    Problems are appended to ``problems`` when given (``path`` names the field in them).
    """
    where = path or name
    found: list[FormProblem] = problems if problems is not None else []
    field_: dict[str, Any] = {"title": title_of(name)}
    for key in _KEPT:
        if key in schema:
            field_[key] = copy.deepcopy(schema[key])
    _exclusive_bounds(schema, field_)
    if schema.get("x-kubernetes-int-or-string"):
        field_["type"] = "string"
        field_.setdefault("description", "A number or a string.")
    if schema.get("x-kubernetes-preserve-unknown-fields") and "type" not in field_:
        field_["type"] = "object"
    kind = field_.get("type")
    if kind not in _TYPES:
        found.append(
            FormProblem(where, f"has no type the form can show (type {kind!r}); give it a type", fatal=True)
        )
    pattern = field_.get("pattern")
    if isinstance(pattern, str):
        problem = javascript_pattern_problem(pattern)
        if problem:
            found.append(FormProblem(where, problem, fatal=True))
    fmt = field_.get("format")
    if fmt is not None and fmt not in FORM_FORMATS:
        field_.pop("format")
        found.append(
            FormProblem(where, f"format {fmt!r} is not checked by the form (the API server checks it)")
        )
    _dropped_rules(schema, where, found)
    if kind == "object":
        _object_field(schema, field_, where, found)
    if kind == "array":
        items = schema.get("items")
        if isinstance(items, Mapping):
            field_["items"] = form_field(items, "item", path=f"{where}[]", problems=found)
            field_["items"].pop("title", None)
        else:
            found.append(FormProblem(where, "is an array without items; say what its items are", fatal=True))
    return field_


_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]


def _dropped_rules(schema: Mapping[str, Any], where: str, found: list[FormProblem]) -> None:
    """Warn about the validations the form leaves to the API server."""
    dropped = [key for key in (*_JUNCTORS, "x-kubernetes-validations") if key in schema]
    if schema.get("x-kubernetes-int-or-string") and schema.get("anyOf") == _INT_OR_STRING_ANY_OF:
        dropped.remove("anyOf")  # the usual spelling of int-or-string itself: nothing is lost
    if dropped:
        found.append(
            FormProblem(where, f"{', '.join(dropped)} not checked by the form (the API server checks it)")
        )


def _object_field(
    schema: Mapping[str, Any], field_: dict[str, Any], where: str, found: list[FormProblem]
) -> None:
    properties = schema.get("properties") or {}
    for key in properties:
        if str(key).startswith(UI_PREFIX):
            found.append(
                FormProblem(
                    f"{where}.{key}",
                    f"is named like a Backstage UI option ({UI_PREFIX}...), so the form would drop it; rename it",
                    fatal=True,
                )
            )
    if properties:
        field_["properties"] = {
            key: form_field(sub, key, path=f"{where}.{key}", problems=found)
            for key, sub in properties.items()
        }
    if schema.get("required"):
        field_["required"] = list(schema["required"])
    additional = schema.get("additionalProperties")
    if isinstance(additional, Mapping):
        field_["additionalProperties"] = form_field(additional, "value", path=f"{where}.*", problems=found)
        field_["additionalProperties"].pop("title", None)
    elif not properties:
        found.append(
            FormProblem(where, "is a free-form object: the form has no fields for it (set it with kubectl)")
        )


def request_form(spec_schema: Mapping[str, Any]) -> RequestForm:
    """The form fields of a request's ``spec``, which of them are required, and the problems."""
    problems: list[FormProblem] = []
    _dropped_rules(spec_schema, "spec", problems)
    properties = spec_schema.get("properties") or {}
    for key in properties:
        if str(key).startswith(UI_PREFIX):
            problems.append(
                FormProblem(
                    f"spec.{key}",
                    f"is named like a Backstage UI option ({UI_PREFIX}...), so the form would drop it; rename it",
                    fatal=True,
                )
            )
    fields = {
        name: form_field(sub, name, path=f"spec.{name}", problems=problems)
        for name, sub in properties.items()
    }
    required = [name for name in spec_schema.get("required") or [] if name in fields]
    description = spec_schema.get("description")
    return RequestForm(fields, required, str(description) if description else None, problems)
