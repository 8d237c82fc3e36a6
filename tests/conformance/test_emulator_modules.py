"""The emulator's building blocks on their own (no HTTP): the edge cases the suite above does not reach."""

from __future__ import annotations

from typing import Any

import pytest

from kratix_py.local_platform.emulator import jsonpath, patch, protobuf, schema, selectors
from kratix_py.local_platform.emulator.errors import ApiError
from kratix_py.local_platform.emulator.table import human_duration

pytestmark = pytest.mark.emulator_only

OBJ: dict[str, Any] = {
    "metadata": {"labels": {"app.kubernetes.io/name": "demo"}},
    "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]},
    "spec": {"items": [{"name": "a"}, {"name": "b"}], "n": 3},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (".spec.n", [3]),
        ("{.spec.n}", [3]),
        (".spec.items[0].name", ["a"]),
        (".spec.items[-1].name", ["b"]),
        (".spec.items[*].name", ["a", "b"]),
        ('.status.conditions[?(@.type=="Ready")].status', ["True"]),
        (".status.conditions[?(@.type!='Ready')].type", ["Synced"]),
        (r".metadata.labels.app\.kubernetes\.io/name", ["demo"]),
        (".metadata.labels['app.kubernetes.io/name']", ["demo"]),
        (".spec.missing.deeper", []),
        (".spec.items[5]", []),
    ],
)
def test_jsonpath_subset(expression: str, expected: list[Any]) -> None:
    assert jsonpath.find(OBJ, expression) == expected


def test_jsonpath_rejects_what_it_cannot_do() -> None:
    with pytest.raises(jsonpath.JSONPathError):
        jsonpath.compile_path("..name")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (125, "2m5s"),
        (600, "10m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 60, "3h1m"),
        (30 * 3600, "30h"),
        (50 * 3600, "2d2h"),
        (20 * 86400, "20d"),
        (3 * 365 * 86400, "3y"),
    ],
)
def test_ages_read_like_kubectl(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_label_selector_parsing() -> None:
    parsed = selectors.parse_label_selector("a in (x, y),!b,c!=d,e")
    assert parsed is not None
    assert parsed.matches({"a": "x", "e": ""})
    assert not parsed.matches({"a": "x", "b": "1", "e": ""})
    with pytest.raises(ApiError):
        selectors.parse_label_selector("a b c")


def test_json_patch_operations() -> None:
    doc = {"a": {"b": [1, 2]}, "c": "x"}
    out = patch.json_patch(
        doc,
        [
            {"op": "add", "path": "/a/b/1", "value": 9},
            {"op": "move", "from": "/c", "path": "/d"},
            {"op": "copy", "from": "/a/b", "path": "/e"},
            {"op": "test", "path": "/e", "value": [1, 9, 2]},
        ],
    )
    assert out == {"a": {"b": [1, 9, 2]}, "d": "x", "e": [1, 9, 2]}
    assert doc == {"a": {"b": [1, 2]}, "c": "x"}  # the input is untouched
    with pytest.raises(patch.PatchError):
        patch.json_patch(doc, [{"op": "test", "path": "/c", "value": 1}])
    with pytest.raises(patch.PatchError):  # True is not 1 in JSON
        patch.json_patch({"v": 1}, [{"op": "test", "path": "/v", "value": True}])
    with pytest.raises(patch.PatchFormatError):
        patch.json_patch(doc, {"op": "add"})


def test_strategic_merge_retain_keys_and_service_ports() -> None:
    original = {
        "spec": {
            "ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}],
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
        }
    }
    merged = patch.strategic_merge_patch(
        original,
        {
            "spec": {
                "ports": [{"port": 443, "name": "tls"}],
                "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
            }
        },
    )
    assert merged["spec"]["ports"] == [{"port": 80, "name": "http"}, {"port": 443, "name": "tls"}]
    assert merged["spec"]["strategy"] == {"type": "Recreate"}


def test_apply_merges_schema_list_maps() -> None:
    list_schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object"},
                    }
                },
            }
        },
    }
    live = {"spec": {"ports": [{"name": "a", "port": 1}, {"name": "b", "port": 2}]}}
    applied = {"spec": {"ports": [{"name": "b", "port": 20}]}}
    previous = {"spec": {"ports": [{"name": "a", "port": 1}, {"name": "b", "port": 2}]}}
    merged = patch.apply_patch(live, applied, previous, schema=list_schema, builtin=False)
    assert merged["spec"]["ports"] == [{"name": "b", "port": 20}]


def test_schema_messages_match_a_real_server() -> None:
    spec_schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "replicas": {"type": "integer", "minimum": 1},
                    "name": {"type": "string", "pattern": "^[a-z]+$"},
                },
            }
        },
    }
    causes = schema.validate({"spec": {"replicas": 0, "name": "X"}}, spec_schema)
    assert [c.text() for c in causes] == [
        "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
        "spec.name: Invalid value: \"X\": spec.name in body should match '^[a-z]+$'",
    ]
    causes = schema.validate({"spec": {"replicas": "1"}}, spec_schema)
    assert (
        causes[0].text()
        == 'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'
    )


def test_structural_schema_problems_are_found() -> None:
    problems = schema.structural_problems(
        {"type": "object", "properties": {"spec": {"properties": {"a": {"type": "string"}}}}}, "s"
    )
    assert [p.field for p in problems] == ["s.properties[spec].type"]


def test_protobuf_envelope_of_a_config_map() -> None:
    def field(number: int, payload: bytes) -> bytes:
        return bytes([number << 3 | 2, len(payload)]) + payload

    entry = field(1, b"k") + field(2, b"v")
    config_map = field(1, field(1, b"cm") + field(3, b"ns")) + field(2, entry)
    envelope = protobuf.MAGIC + field(1, field(1, b"v1") + field(2, b"ConfigMap")) + field(2, config_map)
    assert protobuf.decode(envelope) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "ns"},
        "data": {"k": "v"},
    }
    with pytest.raises(protobuf.ProtobufError):
        protobuf.decode(protobuf.MAGIC + field(1, field(1, b"apps/v1") + field(2, b"Deployment")))
