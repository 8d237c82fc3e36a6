"""Decoding the protobuf request bodies kubectl's imperative commands send.

``kubectl create namespace|configmap|secret|serviceaccount|rolebinding|clusterrolebinding`` use a
typed client that POSTs ``application/vnd.kubernetes.protobuf`` (everything else kubectl does is
JSON). Those few kinds are decoded here from the wire format with their field numbers (taken from
the Kubernetes ``generated.proto`` files); any other kind is answered with 415, and clients that
send JSON are unaffected. Responses are always JSON, which client-go accepts.
"""

from __future__ import annotations

import base64
from typing import Any

MAGIC = b"k8s\x00"

Field = tuple[str, str, bool]  # (JSON name, type, repeated)

_META: dict[int, Field] = {
    1: ("name", "string", False),
    2: ("generateName", "string", False),
    3: ("namespace", "string", False),
    5: ("uid", "string", False),
    6: ("resourceVersion", "string", False),
    7: ("generation", "int", False),
    11: ("labels", "map<string,string>", False),
    12: ("annotations", "map<string,string>", False),
    13: ("ownerReferences", "OwnerReference", True),
    14: ("finalizers", "string", True),
}

MESSAGES: dict[str, dict[int, Field]] = {
    "Unknown": {
        1: ("typeMeta", "TypeMeta", False),
        2: ("raw", "raw", False),
        3: ("contentEncoding", "string", False),
        4: ("contentType", "string", False),
    },
    "TypeMeta": {1: ("apiVersion", "string", False), 2: ("kind", "string", False)},
    "ObjectMeta": _META,
    "OwnerReference": {
        1: ("kind", "string", False),
        3: ("name", "string", False),
        4: ("uid", "string", False),
        5: ("apiVersion", "string", False),
        6: ("controller", "bool", False),
        7: ("blockOwnerDeletion", "bool", False),
    },
    "Namespace": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "NamespaceSpec", False)},
    "NamespaceSpec": {1: ("finalizers", "string", True)},
    "ConfigMap": {
        1: ("metadata", "ObjectMeta", False),
        2: ("data", "map<string,string>", False),
        3: ("binaryData", "map<string,bytes>", False),
        4: ("immutable", "bool", False),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta", False),
        2: ("data", "map<string,bytes>", False),
        3: ("type", "string", False),
        4: ("stringData", "map<string,string>", False),
        5: ("immutable", "bool", False),
    },
    "ServiceAccount": {
        1: ("metadata", "ObjectMeta", False),
        2: ("secrets", "ObjectReference", True),
        3: ("imagePullSecrets", "LocalObjectReference", True),
        4: ("automountServiceAccountToken", "bool", False),
    },
    "ObjectReference": {
        1: ("kind", "string", False),
        2: ("namespace", "string", False),
        3: ("name", "string", False),
        4: ("uid", "string", False),
        5: ("apiVersion", "string", False),
        6: ("resourceVersion", "string", False),
        7: ("fieldPath", "string", False),
    },
    "LocalObjectReference": {1: ("name", "string", False)},
    "RoleBinding": {
        1: ("metadata", "ObjectMeta", False),
        2: ("subjects", "Subject", True),
        3: ("roleRef", "RoleRef", False),
    },
    "ClusterRoleBinding": {
        1: ("metadata", "ObjectMeta", False),
        2: ("subjects", "Subject", True),
        3: ("roleRef", "RoleRef", False),
    },
    "Subject": {
        1: ("kind", "string", False),
        2: ("apiGroup", "string", False),
        3: ("name", "string", False),
        4: ("namespace", "string", False),
    },
    "RoleRef": {1: ("apiGroup", "string", False), 2: ("kind", "string", False), 3: ("name", "string", False)},
    "Role": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True)},
    "ClusterRole": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True)},
    "PolicyRule": {
        1: ("verbs", "string", True),
        2: ("apiGroups", "string", True),
        3: ("resources", "string", True),
        4: ("resourceNames", "string", True),
        5: ("nonResourceURLs", "string", True),
    },
}

#: the kinds a protobuf body may carry, by (apiVersion, kind)
DECODABLE = {
    ("v1", "Namespace"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "ServiceAccount"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
}


class ProtobufError(ValueError):
    """The body is not protobuf the emulator can decode."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """The raw (field number, value) pairs of one message."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            out.append((number, data[pos : pos + length]))
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return out


def _decode(data: bytes, message: str) -> dict[str, Any]:
    schema = MESSAGES[message]
    out: dict[str, Any] = {}
    for number, raw in _fields(data):
        spec = schema.get(number)
        if spec is None:
            continue  # a field this emulator does not model
        name, kind, repeated = spec
        value: Any
        if kind.startswith("map<"):
            entry = dict(_fields(raw)) if isinstance(raw, bytes) else {}
            key = bytes(entry.get(1, b"")).decode()
            item = bytes(entry.get(2, b""))
            out.setdefault(name, {})[key] = (
                base64.b64encode(item).decode() if kind.endswith("bytes>") else item.decode()
            )
            continue
        if kind == "string":
            value = bytes(raw).decode() if isinstance(raw, bytes) else str(raw)
        elif kind == "raw":
            value = raw
        elif kind == "int":
            value = int(raw) if isinstance(raw, int) else 0
        elif kind == "bool":
            value = bool(raw)
        else:
            value = _decode(bytes(raw), kind) if isinstance(raw, bytes) else {}
        if repeated:
            out.setdefault(name, []).append(value)
        elif value in ("", 0) and kind in ("string", "int"):
            continue  # proto2 from Go writes empty strings and zeros; JSON would omit them
        else:
            out[name] = value
    return out


def decode(body: bytes) -> dict[str, Any]:
    """A Kubernetes protobuf envelope (``k8s\\x00`` + runtime.Unknown) as a JSON-shaped object."""
    if not body.startswith(MAGIC):
        raise ProtobufError("not a Kubernetes protobuf envelope")
    envelope = _decode(body[len(MAGIC) :], "Unknown")
    type_meta = envelope.get("typeMeta") or {}
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    if (api_version, kind) not in DECODABLE:
        raise ProtobufError(f"protobuf bodies of {kind} ({api_version}) are not supported; send JSON or YAML")
    obj = _decode(bytes(envelope.get("raw") or b""), kind)
    return {"apiVersion": api_version, "kind": kind, **obj}
