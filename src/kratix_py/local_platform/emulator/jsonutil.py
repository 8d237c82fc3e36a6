"""Helpers for JSON-shaped data (dicts, lists, scalars): fast copies, strict equality, encoding."""

from __future__ import annotations

import json
from typing import Any

_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def deep_copy(value: Any) -> Any:
    """Copy JSON data; several times faster than ``copy.deepcopy`` for this shape of data."""
    if isinstance(value, dict):
        return {k: deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [deep_copy(v) for v in value]
    return value


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: ``True`` is not ``1``, but ``1`` equals ``1.0``.

    Python's ``==`` (in C, fast) differs only in also taking ``True`` for ``1``: values it calls
    unequal are unequal, and values it calls equal are JSON-equal unless a boolean faces a number
    somewhere, which the walk looks for. An update that changes nothing (most of a controller's
    writes) compares whole objects here.
    """
    return a is b or (bool(a == b) and _no_boolean_faces_a_number(a, b))


def _no_boolean_faces_a_number(a: Any, b: Any) -> bool:
    """For ``a == b``: whether no position holds a boolean on one side and a number on the other."""
    kind = type(a)
    if kind is dict:
        for key, value in a.items():
            if type(value) is not str and not _no_boolean_faces_a_number(value, b[key]):
                return False
        return True
    if kind is list:
        for x, y in zip(a, b, strict=True):
            if type(x) is not str and not _no_boolean_faces_a_number(x, y):
                return False
        return True
    return (kind is bool) == (type(b) is bool)


def dumps(value: Any) -> bytes:
    return _encoder.encode(value).encode()


def type_name(value: Any) -> str:
    """The OpenAPI type name of a JSON value, as used in validation messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def go_repr(value: Any) -> str:
    """A value formatted roughly like apimachinery's field errors print it (strings quoted)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
