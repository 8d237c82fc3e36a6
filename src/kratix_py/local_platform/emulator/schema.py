"""Structural OpenAPI v3 schemas of CRDs: pruning, defaulting and validation.

The order is the API server's: unknown fields are pruned (unless
``x-kubernetes-preserve-unknown-fields``), then defaults are applied (a ``null`` in a field that is
not ``nullable`` is replaced by the default or dropped), then the object is validated and every
problem becomes a :class:`Cause` with the field path and the wording of a real server, e.g.
``spec.size: Unsupported value: "huge": supported values: "small", "medium"``.

After the schema checks come the CEL rules (``x-kubernetes-validations``), evaluated by
:mod:`kratix_py.core.cel` (:func:`validate_rules`); a CRD whose rules do not compile, or would cost
too much (:mod:`kratix_py.core.cel_cost`), is refused (:func:`rule_problems`). ``format`` is
checked for the formats :mod:`.formats` knows, and accepted for the others.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from kratix_py.core import cel, cel_cost

from . import formats
from .errors import Cause
from .jsonutil import deep_copy, go_repr, json_equal, type_name
from .objectmeta import OBJECT_META_FIELDS

Schema = dict[str, Any]

_ROOT_KEYS = ("apiVersion", "kind", "metadata")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --- pruning ----------------------------------------------------------------------------------


def prune(value: Any, schema: Schema | None, *, root: bool = True) -> tuple[Any, list[str]]:
    """Remove the fields the schema does not specify; returns the value and the pruned paths."""
    pruned: list[str] = []
    return _prune(value, schema, "", pruned, root), pruned


def _prune(value: Any, schema: Schema | None, path: str, pruned: list[str], root: bool) -> Any:
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True or additional is True
        embedded = schema.get("x-kubernetes-embedded-resource") is True
        out: dict[str, Any] = {}
        for key, child in value.items():
            child_path = _join(path, key)
            if (root or embedded) and key in _ROOT_KEYS:
                # metadata is ObjectMeta, decoded by type rather than by the schema.
                if key == "metadata" and isinstance(child, dict):
                    kept = {k: v for k, v in child.items() if k in OBJECT_META_FIELDS}
                    pruned.extend(_join(child_path, k) for k in child if k not in OBJECT_META_FIELDS)
                    out[key] = kept
                else:
                    out[key] = child
            elif key in props:
                out[key] = _prune(child, props[key], child_path, pruned, False)
            elif isinstance(additional, dict):
                out[key] = _prune(child, additional, child_path, pruned, False)
            elif preserve:
                out[key] = child
            else:
                pruned.append(child_path)
        return out
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            return [_prune(v, items, f"{path}[{i}]", pruned, False) for i, v in enumerate(value)]
    return value


# --- defaulting -------------------------------------------------------------------------------


def apply_defaults(value: Any, schema: Schema | None, *, root: bool = True) -> Any:
    """Fill in ``default`` values, in place where possible; returns the (possibly new) value."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, sub in props.items():
            if root and key in _ROOT_KEYS:
                continue
            _default_member(value, key, sub)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for key in [k for k in value if k not in props]:
                _default_member(value, key, additional)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                value[i] = apply_defaults(item, items, root=False)
    return value


def _default_member(obj: dict[str, Any], key: str, sub: Schema) -> None:
    if not isinstance(sub, dict):
        return
    if key in obj:
        if obj[key] is None and not sub.get("nullable"):
            if "default" in sub:
                obj[key] = deep_copy(sub["default"])
            else:
                del obj[key]
                return
    elif "default" in sub:
        obj[key] = deep_copy(sub["default"])
    else:
        return
    obj[key] = apply_defaults(obj[key], sub, root=False)


# --- validation -------------------------------------------------------------------------------


def validate(value: Any, schema: Schema | None) -> list[Cause]:
    """All the schema violations in an object (empty when it is valid)."""
    causes: list[Cause] = []
    if isinstance(schema, dict):
        _validate(value, schema, "", causes, root=True)
    return causes


def validate_rules(value: Any, old: Any, schema: Schema | None, earlier: list[Cause]) -> list[Cause]:
    """The CEL rules ``value`` breaks (``old`` on update), after the schema checks ``earlier``.

    As on a real server, a blocking schema error (type, required, enum, length) means no rule is
    evaluated, and one cause says so instead.
    """
    if not isinstance(schema, dict) or not cel.has_rules(schema):
        return []
    if any(cause.reason in cel.BLOCKING_REASONS for cause in earlier):
        blocked = cel.not_checked()
        return [Cause(blocked.reason, blocked.message, blocked.field)]
    return [Cause(e.reason, e.message, e.field) for e in cel.evaluate(schema, value, old)]


def rule_problems(schema: Any, path: str) -> list[Cause]:
    """The CEL rules of a CRD schema that do not compile or cost too much, as the CRD's 422 causes."""
    reasons = {
        "Required value": "FieldValueRequired",
        "Unsupported value": "FieldValueNotSupported",
        "Forbidden": "FieldValueForbidden",
    }
    return [
        Cause(reasons.get(p.message.split(":", 1)[0], "FieldValueInvalid"), p.message, p.field)
        for p in (*cel.rule_problems(schema, path), *cel_cost.cost_problems(schema, path))
    ]


def _num(number: Any) -> str:
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number)


def _type_ok(value: Any, expected: str) -> bool:
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


def _type_error(path: str, value: Any, expected: str) -> Cause:
    actual = type_name(value)
    return Cause(
        "FieldValueTypeInvalid",
        f'Invalid value: "{actual}": {path or "body"} in body must be of type {expected}: "{actual}"',
        path,
    )


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {go_repr(value)}: {detail}", path)


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None  # an RE2 construct Python does not know: be lenient, as for formats


def _validate(value: Any, schema: Schema, path: str, causes: list[Cause], root: bool = False) -> None:
    if value is None:
        if not schema.get("nullable") and schema.get("type"):
            causes.append(_type_error(path, value, schema["type"]))
        return
    expected = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        if isinstance(value, bool) or not isinstance(value, int | str):
            causes.append(_type_error(path, value, "integer,string"))
            return
    elif expected and not _type_ok(value, expected):
        causes.append(_type_error(path, value, expected))
        return

    enum = schema.get("enum")
    if isinstance(enum, list) and not any(json_equal(value, e) for e in enum):
        supported = ", ".join(go_repr(e) for e in enum)
        causes.append(
            Cause(
                "FieldValueNotSupported",
                f"Unsupported value: {go_repr(value)}: supported values: {supported}",
                path,
            )
        )

    if isinstance(value, str):
        _validate_string(value, schema, path, causes)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _validate_number(value, schema, path, causes)
    elif isinstance(value, list):
        _validate_array(value, schema, path, causes)
    elif isinstance(value, dict):
        _validate_object(value, schema, path, causes, root)

    _validate_combinators(value, schema, path, causes, root)


def _validate_string(value: str, schema: Schema, path: str, causes: list[Cause]) -> None:
    where = f"{path} in body"
    if "minLength" in schema and len(value) < schema["minLength"]:
        causes.append(_invalid(path, value, f"{where} should be at least {schema['minLength']} chars long"))
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        causes.append(
            Cause("FieldValueTooLong", f"Too long: may not be more than {schema['maxLength']} bytes", path)
        )
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        regex = _regex(pattern)
        if regex is not None and not regex.search(value):
            causes.append(_invalid(path, value, f"{where} should match '{pattern}'"))
    format_name = schema.get("format")
    if isinstance(format_name, str) and formats.violates(format_name, value):
        shown = go_repr(value)
        causes.append(
            Cause(
                "FieldValueTypeInvalid",
                f"Invalid value: {shown}: {where} must be of type {format_name}: {shown}",
                path,
            )
        )


def _validate_number(value: float, schema: Schema, path: str, causes: list[Cause]) -> None:
    where = f"{path} in body"
    if "minimum" in schema:
        bound = schema["minimum"]
        if schema.get("exclusiveMinimum") is True and value <= bound:
            causes.append(_invalid(path, value, f"{where} should be greater than {_num(bound)}"))
        elif value < bound:
            causes.append(_invalid(path, value, f"{where} should be greater than or equal to {_num(bound)}"))
    if "maximum" in schema:
        bound = schema["maximum"]
        if schema.get("exclusiveMaximum") is True and value >= bound:
            causes.append(_invalid(path, value, f"{where} should be less than {_num(bound)}"))
        elif value > bound:
            causes.append(_invalid(path, value, f"{where} should be less than or equal to {_num(bound)}"))
    multiple = schema.get("multipleOf")
    if isinstance(multiple, int | float) and multiple and (value / multiple) != int(value / multiple):
        causes.append(_invalid(path, value, f"{where} should be a multiple of {_num(multiple)}"))


def _validate_array(value: list[Any], schema: Schema, path: str, causes: list[Cause]) -> None:
    where = f"{path} in body"
    if "minItems" in schema and len(value) < schema["minItems"]:
        causes.append(_invalid(path, len(value), f"{where} should have at least {schema['minItems']} items"))
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        causes.append(
            Cause(
                "FieldValueTooMany",
                f"Too many: {len(value)}: must have at most {schema['maxItems']} items",
                path,
            )
        )
    list_type = schema.get("x-kubernetes-list-type")
    if schema.get("uniqueItems") or list_type == "set":
        for i, item in enumerate(value):
            if any(json_equal(item, earlier) for earlier in value[:i]):
                causes.append(
                    Cause("FieldValueDuplicate", f"Duplicate value: {go_repr(item)}", f"{path}[{i}]")
                )
    elif list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen: list[Any] = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                ident = [item.get(k) for k in keys]
                if ident in seen:
                    shown = ", ".join(f"{k}:{go_repr(v)}" for k, v in zip(keys, ident, strict=True))
                    causes.append(
                        Cause("FieldValueDuplicate", f"Duplicate value: map[{shown}]", f"{path}[{i}]")
                    )
                seen.append(ident)
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            _validate(item, items, f"{path}[{i}]", causes)


def _validate_object(
    value: dict[str, Any], schema: Schema, path: str, causes: list[Cause], root: bool
) -> None:
    props = schema.get("properties") or {}
    for name in schema.get("required") or []:
        if name not in value:
            causes.append(Cause("FieldValueRequired", "Required value", _join(path, name)))
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        causes.append(
            _invalid(
                path, len(value), f"{path} in body should have at least {schema['minProperties']} properties"
            )
        )
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        causes.append(
            Cause(
                "FieldValueTooMany",
                f"Too many: {len(value)}: must have at most {schema['maxProperties']} items",
                path,
            )
        )
    embedded = schema.get("x-kubernetes-embedded-resource") is True
    if embedded and value:
        for name in ("apiVersion", "kind"):
            if not value.get(name):
                causes.append(
                    Cause("FieldValueRequired", "Required value: must not be empty", _join(path, name))
                )
    for key, sub in props.items():
        if key not in value or not isinstance(sub, dict):
            continue
        if root and key in ("apiVersion", "kind"):
            continue
        if (root or embedded) and key == "metadata":
            _validate_metadata_names(value[key], sub, _join(path, key), causes)
            continue
        _validate(value[key], sub, _join(path, key), causes)
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        for key in value:
            if key not in props:
                _validate(value[key], additional, _join(path, key), causes)


def _validate_metadata_names(meta: Any, schema: Schema, path: str, causes: list[Cause]) -> None:
    """A CRD schema may only constrain ``metadata.name`` and ``metadata.generateName``."""
    if not isinstance(meta, dict):
        return
    props = schema.get("properties") or {}
    for key in ("name", "generateName"):
        if key in props and key in meta:
            _validate(meta[key], props[key], _join(path, key), causes)


def _passes(value: Any, schema: Schema, path: str) -> bool:
    trial: list[Cause] = []
    _validate(value, schema, path, trial)
    return not trial


def _validate_combinators(value: Any, schema: Schema, path: str, causes: list[Cause], root: bool) -> None:
    for sub in schema.get("allOf") or []:
        if isinstance(sub, dict):
            _validate(value, sub, path, causes, root)
    any_of = [s for s in schema.get("anyOf") or [] if isinstance(s, dict)]
    if any_of and not any(_passes(value, s, path) for s in any_of):
        causes.append(_invalid(path, value, "must validate at least one schema (anyOf)"))
    one_of = [s for s in schema.get("oneOf") or [] if isinstance(s, dict)]
    if one_of and sum(_passes(value, s, path) for s in one_of) != 1:
        causes.append(_invalid(path, value, "must validate one and only one schema (oneOf)"))
    negated = schema.get("not")
    if isinstance(negated, dict) and _passes(value, negated, path):
        causes.append(_invalid(path, value, "must not validate the schema (not)"))


# --- structural checks on the schema itself (CRD validation) -----------------------------------


def structural_problems(schema: Any, path: str) -> list[Cause]:
    """The most common reasons a CRD schema is not structural, with the server's field paths."""
    causes: list[Cause] = []
    if not isinstance(schema, dict):
        return [Cause("FieldValueRequired", "Required value: schemas are required", path)]
    if schema.get("type") != "object":
        causes.append(
            Cause(
                "FieldValueRequired" if "type" not in schema else "FieldValueInvalid",
                "Required value: must not be empty at the root"
                if "type" not in schema
                else 'Invalid value: "' + str(schema.get("type")) + '": must be object at the root',
                f"{path}.type",
            )
        )
    _structural(schema, path, causes, root=True)
    return causes


def _structural(schema: Schema, path: str, causes: list[Cause], root: bool = False) -> None:
    for key, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        sub_path = f"{path}.properties[{key}]"
        untyped_ok = sub.get("x-kubernetes-int-or-string") or sub.get("x-kubernetes-preserve-unknown-fields")
        if not sub.get("type") and not untyped_ok and not (root and key == "metadata"):
            causes.append(
                Cause(
                    "FieldValueRequired",
                    "Required value: must not be empty for specified object fields",
                    f"{sub_path}.type",
                )
            )
        _structural(sub, sub_path, causes)
    items = schema.get("items")
    if isinstance(items, dict):
        untyped_ok = items.get("x-kubernetes-int-or-string") or items.get(
            "x-kubernetes-preserve-unknown-fields"
        )
        if not items.get("type") and not untyped_ok:
            causes.append(
                Cause(
                    "FieldValueRequired",
                    "Required value: must not be empty for specified array items",
                    f"{path}.items.type",
                )
            )
        _structural(items, f"{path}.items", causes)
    if schema.get("type") == "array" and not isinstance(items, dict):
        causes.append(Cause("FieldValueRequired", "Required value: must be specified", f"{path}.items"))
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        if schema.get("properties"):
            causes.append(
                Cause(
                    "FieldValueForbidden",
                    "Forbidden: additionalProperties and properties are mutual exclusive",
                    f"{path}.additionalProperties",
                )
            )
        _structural(additional, f"{path}.additionalProperties", causes)
