"""``backstage``: the form comes from the CRD schema; the entities have Backstage's structure."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kratix_py.authoring.backstage import (
    BackstageOptions,
    backstage_files,
    catalog_entities,
    scaffolder_template,
)
from kratix_py.authoring.formschema import form_field, title_of
from kratix_py.authoring.inputs import load_promise

from .conftest import DATA, EXAMPLES, Outcome

POSTGRESQL = EXAMPLES / "postgresql" / "promise.yaml"
ENTITY_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


@pytest.fixture
def postgresql() -> Any:
    if not POSTGRESQL.is_file():
        pytest.skip("examples/promises/postgresql is not there yet")
    return load_promise(POSTGRESQL).promise


def check_entity(entity: dict[str, Any], api_version: str, kind: str, spec_keys: set[str]) -> None:
    """What Backstage's catalog requires of every entity (envelope, name rules, kind's spec)."""
    assert entity["apiVersion"] == api_version and entity["kind"] == kind
    assert ENTITY_NAME.match(entity["metadata"]["name"]), entity["metadata"]["name"]
    for key, value in entity["metadata"].get("annotations", {}).items():
        assert isinstance(value, str), key
    assert all(
        isinstance(tag, str) and re.fullmatch(r"[a-z0-9:+#]+(-[a-z0-9:+#]+)*", tag)
        for tag in entity["metadata"]["tags"]
    )
    missing = spec_keys - set(entity["spec"])
    assert not missing, f"{kind} spec lacks {missing}"


def test_the_postgresql_form_has_team_name_size_and_version(postgresql: Any) -> None:
    template = scaffolder_template(postgresql, BackstageOptions())
    check_entity(
        template, "scaffolder.backstage.io/v1beta3", "Template", {"type", "owner", "parameters", "steps"}
    )
    request_page, spec_page = template["spec"]["parameters"]
    assert request_page["required"] == ["name", "namespace"]
    fields = spec_page["properties"]
    assert list(fields)[:3] == ["teamName", "size", "version"]
    assert fields["teamName"]["title"] == "Team name" and fields["teamName"]["type"] == "string"
    assert fields["size"]["enum"] == ["small", "medium", "large"] and fields["size"]["default"] == "small"
    assert fields["version"]["enum"] == ["14", "15", "16"] and fields["version"]["default"] == "16"
    assert "description" in fields["size"] and "description" in fields["teamName"]
    assert spec_page["required"] == ["teamName"]
    assert template["metadata"]["annotations"]["kratix.io/promise-name"] == "postgresql"


def test_the_apply_step_creates_the_request_with_kubernetes_apply(postgresql: Any) -> None:
    [step] = scaffolder_template(postgresql, BackstageOptions())["spec"]["steps"]
    assert step["action"] == "kubernetes:apply"
    manifest = step["input"]["manifest"]
    assert (manifest["apiVersion"], manifest["kind"]) == ("marketplace.kratix.io/v1alpha1", "PostgreSQL")
    assert manifest["metadata"] == {
        "name": "${{ parameters.name }}",
        "namespace": "${{ parameters.namespace }}",
    }
    assert manifest["spec"]["size"] == "${{ parameters.size }}"
    assert step["input"]["namespaced"] is True


def test_the_catalog_has_a_component_and_its_api(postgresql: Any) -> None:
    component, api = catalog_entities(
        postgresql, BackstageOptions(owner="group:platform", system="databases")
    )
    check_entity(
        component, "backstage.io/v1alpha1", "Component", {"type", "lifecycle", "owner", "providesApis"}
    )
    check_entity(api, "backstage.io/v1alpha1", "API", {"type", "lifecycle", "owner", "definition"})
    assert component["spec"]["providesApis"] == [api["metadata"]["name"]]
    assert component["spec"]["owner"] == "group:platform" and api["spec"]["system"] == "databases"
    for entity in (component, api):
        annotations = entity["metadata"]["annotations"]
        assert annotations["kratix.io/promise-name"] == "postgresql"
        assert annotations["kratix.io/promise-version"] == "v1.0.0"
    definition = yaml.safe_load(api["spec"]["definition"])
    assert definition["kind"] == "CustomResourceDefinition"
    assert definition["metadata"]["labels"]["kratix.io/promise-name"] == "postgresql"


def test_the_pull_request_flavour_writes_a_skeleton_and_opens_a_pull_request(postgresql: Any) -> None:
    files = backstage_files(postgresql, BackstageOptions(flavour="pull-request"))
    template = yaml.safe_load(files["template.yaml"])
    actions = [step["action"] for step in template["spec"]["steps"]]
    assert actions == ["fetch:template", "publish:github:pull-request"]
    assert template["spec"]["parameters"][2]["properties"]["repoUrl"]["ui:field"] == "RepoUrlPicker"
    skeleton = files["skeleton/${{ values.name }}.yaml"]
    assert "kind: PostgreSQL" in skeleton and "spec: ${{ values.spec | dump }}" in skeleton
    assert template["spec"]["steps"][0]["input"]["values"]["spec"]["version"] == "${{ parameters.version }}"


def test_the_command_writes_files_or_prints_them(tmp_path: Path, run_cli: Callable[..., Outcome]) -> None:
    printed = run_cli("backstage", DATA / "app-promise.yaml")
    assert printed.code == 0
    documents = list(yaml.safe_load_all(printed.out))
    assert [d["kind"] for d in documents] == ["Template", "Component", "API"]
    written = run_cli(
        "backstage", DATA / "app-promise.yaml", "--output", tmp_path, "--flavour", "pull-request"
    )
    assert written.code == 0
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "catalog-info.yaml",
        "skeleton/${{ values.name }}.yaml",
        "template.yaml",
    ]
    refused = run_cli("backstage", DATA / "app-promise.yaml", "--flavour", "pull-request")
    assert refused.code == 1 and "pass --output DIR" in refused.err


def test_spec_fields_named_like_the_metadata_fields_get_their_own_keys(tmp_path: Path) -> None:
    body = yaml.safe_load((DATA / "app-promise.yaml").read_text())
    spec = body["spec"]["api"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["name"] = {"type": "string"}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(body))
    template = scaffolder_template(load_promise(path).promise, BackstageOptions())
    assert "specName" in template["spec"]["parameters"][1]["properties"]
    assert template["spec"]["steps"][0]["input"]["manifest"]["spec"]["name"] == "${{ parameters.specName }}"


def test_kubernetes_extensions_become_plain_json_schema() -> None:
    field = form_field(
        {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {
                "port": {
                    "x-kubernetes-int-or-string": True,
                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                },
                "tags": {"type": "array", "items": {"type": "string", "nullable": True}, "maxItems": 3},
            },
            "required": ["port"],
        },
        "network",
    )
    assert field == {
        "title": "Network",
        "type": "object",
        "properties": {
            "port": {"title": "Port", "type": "string", "description": "A number or a string."},
            "tags": {"title": "Tags", "type": "array", "maxItems": 3, "items": {"type": "string"}},
        },
        "required": ["port"],
    }


@pytest.mark.parametrize(
    ("name", "title"),
    [("teamName", "Team name"), ("maxMemoryMB", "Max memory MB"), ("enableTLS", "Enable TLS")],
)
def test_field_titles(name: str, title: str) -> None:
    assert title_of(name) == title


def test_a_promise_without_an_api_has_nothing_to_offer(
    tmp_path: Path, run_cli: Callable[..., Outcome]
) -> None:
    path = tmp_path / "deps.yaml"
    path.write_text(
        "apiVersion: platform.kratix.io/v1alpha1\nkind: Promise\nmetadata: {name: deps}\nspec: {}\n"
    )
    outcome = run_cli("backstage", path)
    assert outcome.code == 1
    assert outcome.err.strip() == (
        f"kratix-py backstage: {path}: Promise deps has no spec.api, so there are no resource requests to "
        "offer in Backstage; add a spec.api CustomResourceDefinition"
    )
