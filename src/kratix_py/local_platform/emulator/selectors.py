"""Label and field selectors, with the grammar and error messages of a real API server.

Label selectors: ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k``, ``!k``,
``k>1``, ``k<1``, comma-separated (all must hold). Field selectors: ``f=v``, ``f==v``, ``f!=v`` over
the fields a resource supports (``metadata.name`` and ``metadata.namespace`` everywhere).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, bad_request

_KEY_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_./]*)?[A-Za-z0-9]$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # one of: =, !=, in, notin, exists, !, gt, lt
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if not present:
            return False
        try:
            number, bound = int(str(value)), int(self.values[0])
        except ValueError:
            return False
        return number > bound if self.op == "gt" else number < bound


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside a ``( ... )`` value set."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _check_key(key: str, whole: str) -> str:
    if not key or not _KEY_RE.match(key):
        raise bad_request(f'unable to parse requirement: invalid label key "{key}" in selector "{whole}"')
    return key


_SET_RE = re.compile(r"^\s*(\S+?)\s+(in|notin)\s*\((.*)\)\s*$")
_BINARY_RE = re.compile(r"^\s*([^=!<>\s]+)\s*(==|=|!=|<|>)\s*(.*?)\s*$")


def _parse_requirement(text: str, whole: str) -> Requirement:
    stripped = text.strip()
    match = _SET_RE.match(stripped)
    if match:
        key, op, raw = match.groups()
        values = tuple(sorted(v.strip() for v in raw.split(",") if v.strip()))
        return Requirement(_check_key(key, whole), op, values)
    match = _BINARY_RE.match(stripped)
    if match:
        key, op, value = match.groups()
        op = {"==": "=", "<": "lt", ">": "gt"}.get(op, op)
        if op in ("gt", "lt") and not value.lstrip("-").isdigit():
            raise bad_request(
                "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer"
            )
        return Requirement(_check_key(key, whole), op, (value,))
    if stripped.startswith("!"):
        return Requirement(_check_key(stripped[1:].strip(), whole), "!")
    if re.match(r"^[^\s=!<>()]+$", stripped):
        return Requirement(_check_key(stripped, whole), "exists")
    raise bad_request(
        f"unable to parse requirement: found '{stripped}', expected: in, notin, =, ==, !=, gt, lt"
    )


def parse_label_selector(text: str | None) -> LabelSelector | None:
    """Parse ``?labelSelector=``; ``None`` when empty. Raises a 400 ApiError when malformed."""
    if text is None or not text.strip():
        return None
    return LabelSelector(tuple(_parse_requirement(part, text) for part in _split_top_level(text)))


def selector_from_label_selector_object(selector: Mapping[str, Any] | None) -> LabelSelector:
    """A ``metav1.LabelSelector`` (matchLabels + matchExpressions), as Jobs and Deployments carry."""
    requirements: list[Requirement] = []
    for key, value in sorted(((selector or {}).get("matchLabels") or {}).items()):
        requirements.append(Requirement(key, "=", (str(value),)))
    for expr in (selector or {}).get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}.get(
            expr.get("operator", "")
        )
        if op:
            requirements.append(Requirement(expr.get("key", ""), op, tuple(expr.get("values") or ())))
    return LabelSelector(tuple(requirements))


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    negate: bool


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...]

    def matches(
        self, obj: Mapping[str, Any], extract: Callable[[Mapping[str, Any], str], str | None]
    ) -> bool:
        for req in self.requirements:
            actual = extract(obj, req.field)
            actual = "" if actual is None else actual
            if (actual == req.value) == req.negate:
                return False
        return True


_FIELD_RE = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(==|=|!=)\s*(.*?)\s*$")


def parse_field_selector(text: str | None, supported: Callable[[str], bool]) -> FieldSelector | None:
    """Parse ``?fieldSelector=``; only fields for which ``supported(field)`` is true are allowed."""
    if text is None or not text.strip():
        return None
    requirements: list[FieldRequirement] = []
    for part in text.split(","):
        match = _FIELD_RE.match(part)
        if not match:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        name, op, value = match.groups()
        if not supported(name):
            raise ApiError(400, "BadRequest", f"field label not supported: {name}")
        requirements.append(FieldRequirement(name, value, op == "!="))
    return FieldSelector(tuple(requirements))
