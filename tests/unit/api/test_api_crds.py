"""The CRDs in crds/ are current, valid, structural, and agree with the models."""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from kratix_py.api import KINDS, KubeObject
from kratix_py.api.crdgen import PRINTER_COLUMNS, build_crd, crd_filename, generate, main, stale_files, write
from kratix_py.api.structural import structural_errors

ROOT = Path(__file__).resolve().parents[3]
CRDS = ROOT / "crds"
DATA = Path(__file__).parent / "data"
OLDEST_SUPPORTED_KUBERNETES = "1.28"

KIND_BY_NAME = {kind.KIND: kind for kind in KINDS}


@functools.cache
def _parsed_crd(filename: str) -> dict[str, Any]:
    (document,) = yaml.safe_load_all((CRDS / filename).read_text())
    assert isinstance(document, dict)
    return document


def load_crd(kind: type[KubeObject]) -> dict[str, Any]:
    """The CRD file of ``kind`` as data (a copy: tests may change it)."""
    return copy.deepcopy(_parsed_crd(crd_filename(kind)))


def openapi(kind: type[KubeObject]) -> dict[str, Any]:
    schema = build_crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert isinstance(schema, dict)
    return schema


def fixtures() -> Iterator[dict[str, Any]]:
    for path in sorted(DATA.glob("*.yaml")):
        yield from (doc for doc in yaml.safe_load_all(path.read_text()) if doc)


FIXTURES = list(fixtures())
FIXTURE_IDS = [f"{doc['kind']}/{doc['metadata']['name']}" for doc in FIXTURES]


# --- crds/ is what the models generate ------------------------------------------------------------


def test_crds_directory_is_up_to_date() -> None:
    stale = stale_files(CRDS)
    assert not stale, f"crds/ is out of date ({', '.join(stale)}): run `make crds`"


def test_generation_is_deterministic() -> None:
    assert generate() == generate()


def test_check_mode_reports_and_write_mode_fixes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "platform.kratix.io_clusters.yaml").write_text("# a kind that no longer exists\n")

    assert main(["--check", "--out", str(tmp_path)]) == 1
    assert "run `make crds`" in capsys.readouterr().err

    assert main(["--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(generate())
    assert main(["--check", "--out", str(tmp_path)]) == 0

    (tmp_path / crd_filename(KINDS[0])).write_text("edited by hand\n")
    assert stale_files(tmp_path) == [crd_filename(KINDS[0])]
    assert write(tmp_path) == [crd_filename(KINDS[0])]


# --- what an API server requires ------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.KIND)
@pytest.mark.parametrize("version", [OLDEST_SUPPORTED_KUBERNETES, kubernetes_validate.latest_version()])
def test_crd_validates_against_the_kubernetes_schema(kind: type[KubeObject], version: str) -> None:
    kubernetes_validate.validate(load_crd(kind), version, strict=True)


def test_the_kubernetes_schema_check_can_fail() -> None:
    crd = load_crd(KINDS[0])
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["x-kubernetes-preserve-unknown-field"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(crd, kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.KIND)
def test_crd_has_what_an_api_server_needs(kind: type[KubeObject]) -> None:
    crd = load_crd(kind)
    spec = crd["spec"]
    assert crd["metadata"]["name"] == f"{kind.PLURAL}.platform.kratix.io"
    assert spec["group"] == "platform.kratix.io"
    assert spec["names"]["kind"] == kind.KIND
    assert spec["names"]["listKind"] == f"{kind.KIND}List"
    assert spec["names"]["plural"] == kind.PLURAL
    assert spec["names"]["singular"] == kind.KIND.lower()
    assert spec["names"]["categories"] == ["kratix"]
    assert spec["scope"] == ("Namespaced" if kind.NAMESPACED else "Cluster")
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    # HealthRecord has Kratix's shape: a top-level data field, no status.
    assert version["subresources"] == ({} if kind.KIND == "HealthRecord" else {"status": {}})
    assert version["schema"]["openAPIV3Schema"]["properties"]["metadata"] == {"type": "object"}


def test_scopes_and_short_names_follow_kratix() -> None:
    scopes = {kind.KIND: load_crd(kind)["spec"]["scope"] for kind in KINDS}
    assert scopes == {
        "Promise": "Cluster",
        "Destination": "Cluster",
        "GitStateStore": "Cluster",
        "BucketStateStore": "Cluster",
        "Work": "Namespaced",
        "WorkPlacement": "Namespaced",
        "PromiseRelease": "Cluster",
        "HealthRecord": "Namespaced",
        "PromiseRevision": "Cluster",
        "ResourceBinding": "Namespaced",
    }
    short = {kind.KIND: load_crd(kind)["spec"]["names"].get("shortNames", []) for kind in KINDS}
    assert short["Destination"] == ["dest", "dests"]
    assert short["WorkPlacement"] == ["wp", "wps"]
    every = [name for names in short.values() for name in names]
    assert len(every) == len(set(every))
    # short names kubectl users already type for built-in resources must stay theirs
    assert not set(every) & {
        "po",
        "svc",
        "deploy",
        "ns",
        "no",
        "cm",
        "sa",
        "ep",
        "ev",
        "ds",
        "rs",
        "sts",
        "pv",
        "pvc",
    }


def test_promise_api_is_an_embedded_resource_as_in_kratix() -> None:
    spec = openapi(KIND_BY_NAME["Promise"])["properties"]["spec"]["properties"]
    assert spec["api"]["type"] == "object"
    assert spec["api"]["x-kubernetes-embedded-resource"] is True
    assert spec["api"]["x-kubernetes-preserve-unknown-fields"] is True
    assert spec["dependencies"]["items"]["x-kubernetes-embedded-resource"] is True


def _resolve(schema: dict[str, Any], json_path: str) -> dict[str, Any] | None:
    """The schema node a printer-column JSONPath points at; a condition filter selects list items."""
    node: dict[str, Any] | None = schema
    for part in re.sub(r'\[\?\(@\.type=="[^"]+"\)\]', "[]", json_path).lstrip(".").split("."):
        assert node is not None
        node = node.get("properties", {}).get(part.removesuffix("[]"))
        if node is not None and part.endswith("[]"):
            node = node.get("items")
    return node


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.KIND)
def test_printer_columns_point_at_fields_that_exist(kind: type[KubeObject]) -> None:
    schema = openapi(kind)
    columns = load_crd(kind)["spec"]["versions"][0]["additionalPrinterColumns"]
    assert columns[-1] == {"name": "Age", "jsonPath": ".metadata.creationTimestamp", "type": "date"}
    assert len({c["name"] for c in columns}) == len(columns)
    for column in columns[:-1]:
        node = _resolve(schema, column["jsonPath"])
        assert node is not None, (
            f"{kind.KIND} column {column['name']}: {column['jsonPath']} is not in the schema"
        )
        assert node["type"] == column["type"]


def test_printer_columns_asked_for() -> None:
    names = {kind.KIND: [c.name for c in columns] for kind, columns in PRINTER_COLUMNS.items()}
    assert names["Promise"] == ["Status", "Kind", "API Version", "Version", "Message", "Age"]
    assert names["WorkPlacement"] == ["Destination", "Ready", "Written", "Age"]
    assert names["Work"] == ["Promise", "Request", "Ready", "Age"]


# --- structural schemas ---------------------------------------------------------------------------


def _nodes(schema: Any) -> Iterator[dict[str, Any]]:
    if isinstance(schema, dict):
        yield schema
        for value in schema.values():
            yield from _nodes(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _nodes(value)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.KIND)
def test_schema_is_structural(kind: type[KubeObject]) -> None:
    schema = load_crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert structural_errors(schema) == []
    for node in _nodes(schema):
        assert not {"anyOf", "oneOf", "allOf", "$ref", "nullable", "title", "const"} & node.keys()


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ({"type": "object", "properties": {"a": {"description": "no type"}}}, "properties.a: has no type"),
        ({"type": "object", "properties": {"a": {"$ref": "#/x"}}}, "$ref is not allowed"),
        (
            {"type": "object", "properties": {"a": {"type": "string", "anyOf": [{"type": "string"}]}}},
            "type is not allowed inside a logical junctor",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "object", "anyOf": [{"properties": {"b": {}}}]}}},
            "properties.b: not declared outside the junctor",
        ),
        ({"type": "object", "properties": {"a": {"type": "object", "additionalProperties": False}}}, "false"),
        (
            {"type": "object", "properties": {"metadata": {"type": "object", "properties": {"labels": {}}}}},
            "only metadata.name and metadata.generateName",
        ),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "string", "x-kubernetes-embedded-resource": True}},
            },
            "needs type object",
        ),
        ({"type": "array", "items": {"type": "string"}}, "root must be of type object"),
        (
            {"type": "object", "properties": {"a": {"type": "array", "items": [{"type": "string"}]}}},
            "one schema",
        ),
    ],
)
def test_structural_checker_finds_violations(schema: dict[str, Any], problem: str) -> None:
    errors = structural_errors(schema)
    assert any(problem in error for error in errors), errors


def test_structural_checker_accepts_int_or_string_and_preserved_nodes() -> None:
    schema = {
        "type": "object",
        "properties": {
            "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
            "raw": {"x-kubernetes-preserve-unknown-fields": True},
            "spec": {
                "type": "object",
                "properties": {"n": {"type": "integer"}},
                "anyOf": [{"required": ["n"]}],
            },
        },
    }
    assert structural_errors(schema) == []


# --- the CRDs and the models agree ----------------------------------------------------------------


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with unknown fields forbidden where the API server would prune them, so a
    fixture field the CRD does not declare fails instead of silently vanishing."""
    schema = copy.deepcopy(schema)
    for node in _nodes(schema):
        if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
            node["additionalProperties"] = False
    return schema


def _apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """What API-server defaulting does: fill missing properties from ``default``, recursively."""
    if isinstance(value, dict):
        for name, child in schema.get("properties", {}).items():
            if name not in value and "default" in child:
                value[name] = copy.deepcopy(child["default"])
            if name in value:
                _apply_defaults(child, value[name])
        if isinstance(schema.get("additionalProperties"), dict):
            for item in value.values():
                _apply_defaults(schema["additionalProperties"], item)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _apply_defaults(schema["items"], item)
    return value


@pytest.mark.parametrize("doc", FIXTURES, ids=FIXTURE_IDS)
def test_fixtures_and_their_model_dumps_fit_the_crd_schema(doc: dict[str, Any]) -> None:
    kind = KIND_BY_NAME[doc["kind"]]
    schema = _closed(openapi(kind))
    jsonschema.validate(doc, schema)
    jsonschema.validate(kind.model_validate(doc).to_dict(), schema)


def test_the_closed_schema_check_can_fail() -> None:
    doc = copy.deepcopy(next(d for d in FIXTURES if d["kind"] == "Destination"))
    doc["spec"]["labels"] = {"env": "dev"}  # a common mistake: Destination labels live in metadata
    with pytest.raises(jsonschema.ValidationError, match="labels"):
        jsonschema.validate(doc, _closed(openapi(KIND_BY_NAME["Destination"])))


@pytest.mark.parametrize("doc", FIXTURES, ids=FIXTURE_IDS)
def test_api_server_defaults_equal_model_defaults(doc: dict[str, Any]) -> None:
    kind = KIND_BY_NAME[doc["kind"]]
    defaulted = _apply_defaults(openapi(kind), copy.deepcopy(doc))
    assert kind.model_validate(doc).to_dict() == defaulted


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.KIND)
def test_every_default_is_valid_for_its_field(kind: type[KubeObject]) -> None:
    for node in _nodes(openapi(kind)):
        if "default" in node and isinstance(node.get("type"), str):
            jsonschema.validate(node["default"], _closed({k: v for k, v in node.items() if k != "default"}))
