"""The four PATCH flavours of the Kubernetes API.

* JSON merge patch (RFC 7386) -- ``application/merge-patch+json``;
* JSON patch (RFC 6902) -- ``application/json-patch+json``, a failed ``test`` is a 422;
* strategic merge patch -- ``application/strategic-merge-patch+json``, built-in kinds only: lists
  such as ``containers``/``env``/``volumes`` merge by their key, ``$patch`` directives work, every
  other list is replaced (as for fields without a patch strategy);
* server-side apply -- ``application/apply-patch+yaml``, simplified: the applied configuration is
  merged in (lists merged by ``x-kubernetes-list-map-keys`` or the strategic keys) and fields the
  same manager applied last time but no longer applies are removed. No field-level conflicts.

Every function returns a new document and leaves its inputs unchanged.
"""

from __future__ import annotations

from typing import Any

from .jsonutil import deep_copy, json_equal


class PatchError(Exception):
    """The patch is well-formed but cannot be applied to this object (answered as 422)."""


class PatchFormatError(Exception):
    """The patch body itself is malformed (answered as 400)."""


# --- JSON merge patch -------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return deep_copy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- JSON patch -------------------------------------------------------------------------------


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise PatchFormatError(f"invalid JSON pointer: {path!r}")
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchFormatError(f'JSON pointer must start with "/": {path!r}')
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _list_index(container: list[Any], token: str, path: str, *, for_insert: bool) -> int:
    if for_insert and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r} in {path}")
    index = int(token)
    limit = len(container) if for_insert else len(container) - 1
    if index > limit:
        raise PatchError(f"array index {index} out of bounds in {path}")
    return index


def _parent(doc: Any, tokens: list[str], path: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_list_index(node, token, path, for_insert=False)]
        else:
            raise PatchError(f"doc is missing path: {path}")
    return node


def _get(doc: Any, path: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"doc is missing key: {path}")
        return parent[last]
    if isinstance(parent, list):
        return parent[_list_index(parent, last, path, for_insert=False)]
    raise PatchError(f"doc is missing path: {path}")


def _remove(doc: Any, path: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"remove operation does not apply: doc is missing path: {path}")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_list_index(parent, last, path, for_insert=False))
    raise PatchError(f"remove operation does not apply: doc is missing path: {path}")


def _add(doc: Any, path: Any, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_list_index(parent, last, path, for_insert=True), value)
    else:
        raise PatchError(f"add operation does not apply: doc is missing path: {path}")
    return doc


def json_patch(doc: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise PatchFormatError("a JSON patch must be a list of operations")
    doc = deep_copy(doc)
    for operation in operations:
        if not isinstance(operation, dict):
            raise PatchFormatError(f"invalid JSON patch operation: {operation!r}")
        op = operation.get("op")
        path = operation.get("path")
        if op in ("add", "replace", "test") and "value" not in operation:
            raise PatchFormatError(f'operation "{op}" on {path} is missing a value')
        if op == "add":
            doc = _add(doc, path, deep_copy(operation["value"]))
        elif op == "remove":
            _remove(doc, path)
        elif op == "replace":
            _get(doc, path)  # must exist, as RFC 6902 requires
            if _pointer(path):
                _remove(doc, path)
            doc = _add(doc, path, deep_copy(operation["value"]))
        elif op == "move":
            value = _remove(doc, operation.get("from"))
            doc = _add(doc, path, value)
        elif op == "copy":
            doc = _add(doc, path, deep_copy(_get(doc, operation.get("from"))))
        elif op == "test":
            try:
                actual = _get(doc, path)
            except PatchError:
                raise PatchError(f"testing value {path} failed: path not found") from None
            if not json_equal(actual, operation["value"]):
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchFormatError(f"unknown JSON patch operation {op!r}")
    return doc


# --- strategic merge patch and apply ----------------------------------------------------------

#: The patch merge keys of the built-in types' list fields (from their Go struct tags).
STRATEGIC_MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "conditions": "type",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}
#: Lists of scalars whose strategy is "merge" (a union), rather than replace.
STRATEGIC_SETS = frozenset({"finalizers"})

_DELETE = object()


def _ports_key(original: list[Any], patch: list[Any]) -> str:
    """Container ports merge by ``containerPort``, Service ports by ``port``."""
    for item in [*original, *patch]:
        if isinstance(item, dict) and "containerPort" in item:
            return "containerPort"
    return "port"


class _Strategy:
    """Decides how a list merges: by a key, as a set, or replaced whole."""

    def __init__(self, *, builtin_keys: bool) -> None:
        self.builtin_keys = builtin_keys

    def list_mode(
        self, field: str, schema: dict[str, Any] | None, original: list[Any], patch: list[Any]
    ) -> tuple[str, str | None]:
        if schema:
            list_type = schema.get("x-kubernetes-list-type")
            keys = schema.get("x-kubernetes-list-map-keys") or []
            if list_type == "map" and keys:
                return "map", keys[0]
            if list_type == "set":
                return "set", None
        if self.builtin_keys:
            if field == "ports":
                return "map", _ports_key(original, patch)
            if field in STRATEGIC_MERGE_KEYS:
                return "map", STRATEGIC_MERGE_KEYS[field]
            if field in STRATEGIC_SETS:
                return "set", None
        return "replace", None


def _child_schema(schema: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    if not schema:
        return None
    props = schema.get("properties") or {}
    if key in props:
        return props[key]
    additional = schema.get("additionalProperties")
    return additional if isinstance(additional, dict) else None


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip_directives(v)
            for k, v in value.items()
            if not (
                k.startswith("$patch")
                or k.startswith("$retainKeys")
                or k.startswith("$setElementOrder/")
                or k.startswith("$deleteFromPrimitiveList/")
            )
        }
    if isinstance(value, list):
        return [
            _strip_directives(v) for v in value if not (isinstance(v, dict) and "$patch" in v and len(v) == 1)
        ]
    return value


def _merge_map(
    original: dict[str, Any], patch: dict[str, Any], schema: dict[str, Any] | None, strategy: _Strategy
) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return _strip_directives({k: v for k, v in patch.items() if k != "$patch"})
    if directive not in (None, "merge"):
        raise PatchError(f"unknown patch directive: {directive!r}")
    result = dict(original)
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [x for x in result[field] if not any(json_equal(x, v) for v in value or [])]
            continue
        if value is None:
            result.pop(key, None)
            continue
        current = result.get(key)
        child = _child_schema(schema, key)
        if isinstance(value, dict):
            merged = _merge_map(current if isinstance(current, dict) else {}, value, child, strategy)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(
                key, current if isinstance(current, list) else [], value, child, strategy
            )
        else:
            result[key] = value
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(
    field: str, original: list[Any], patch: list[Any], schema: dict[str, Any] | None, strategy: _Strategy
) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [
            _strip_directives(item)
            for item in patch
            if not (isinstance(item, dict) and item.get("$patch") == "replace")
        ]
    mode, key = strategy.list_mode(field, schema, original, patch)
    if mode == "replace":
        return [_strip_directives(item) for item in patch]
    if mode == "set":
        # kube-apiserver puts the patch's new items first, then the original ones in their order
        # (["a", "c"] patched with ["b", "a"] gives ["b", "a", "c"]).
        added: list[Any] = []
        for item in patch:
            if not any(json_equal(item, existing) for existing in (*original, *added)):
                added.append(deep_copy(item))
        return [*added, *original]
    item_schema = (schema or {}).get("items") if schema else None
    result = list(original)
    for item in patch:
        if not isinstance(item, dict):
            result.append(item)
            continue
        position = next(
            (
                i
                for i, existing in enumerate(result)
                if isinstance(existing, dict) and existing.get(key) == item.get(key)
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if position is not None:
                result.pop(position)
            continue
        if position is None:
            merged = _merge_map({}, item, item_schema, strategy)
            if merged is not _DELETE:
                result.append(merged)
        else:
            merged = _merge_map(result[position], item, item_schema, strategy)
            if merged is _DELETE:
                result.pop(position)
            else:
                result[position] = merged
    return result


def strategic_merge_patch(original: dict[str, Any], patch: Any) -> dict[str, Any]:
    if not isinstance(patch, dict):
        raise PatchFormatError("a strategic merge patch must be a JSON object")
    merged = _merge_map(deep_copy(original), patch, None, _Strategy(builtin_keys=True))
    return {} if merged is _DELETE else merged


def _remove_unapplied(
    live: Any,
    previous: Any,
    applied: Any,
    schema: dict[str, Any] | None,
    strategy: _Strategy,
    field: str = "",
) -> Any:
    """Drop what the manager applied last time but not this time (its fields, simplified)."""
    if isinstance(live, dict) and isinstance(previous, dict) and isinstance(applied, dict):
        for key, old in previous.items():
            if key not in applied:
                live.pop(key, None)
            elif key in live:
                live[key] = _remove_unapplied(
                    live[key], old, applied[key], _child_schema(schema, key), strategy, key
                )
        return live
    if isinstance(live, list) and isinstance(previous, list) and isinstance(applied, list):
        mode, key = strategy.list_mode(field, schema, previous, applied)
        if mode == "map" and key:
            now = {item.get(key) for item in applied if isinstance(item, dict)}
            gone = {item.get(key) for item in previous if isinstance(item, dict)} - now
            return [item for item in live if not (isinstance(item, dict) and item.get(key) in gone)]
        if mode == "set":
            return [
                item
                for item in live
                if not (
                    any(json_equal(item, p) for p in previous)
                    and not any(json_equal(item, a) for a in applied)
                )
            ]
    return live


def apply_patch(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    previous: dict[str, Any] | None,
    *,
    schema: dict[str, Any] | None,
    builtin: bool,
) -> dict[str, Any]:
    """Server-side apply, simplified: merge ``applied`` into ``live``, dropping un-applied fields."""
    if not isinstance(applied, dict):
        raise PatchFormatError("an apply configuration must be an object")
    strategy = _Strategy(builtin_keys=builtin)
    base = deep_copy(live) if live is not None else {}
    if previous:
        base = _remove_unapplied(base, previous, applied, schema, strategy)
    merged = _merge_map(base, applied, schema, strategy)
    return {} if merged is _DELETE else merged
