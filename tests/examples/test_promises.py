"""The example Promises as documents: valid Promises, valid request APIs, pinned images, and example
requests that the API server accepts (with the documented defaults filled in)."""

from __future__ import annotations

import copy
import re
from typing import Any

import kubernetes_validate
import pytest
import yaml

from kratix_py import kube as k
from kratix_py.api import Promise
from kratix_py.contract import LABEL_PROMISE_NAME, LABEL_PROMISE_VERSION
from kratix_py.testing.fixtures import wait_for

from .helpers import (
    EXAMPLES,
    PROMISE_NAMES,
    build_images,
    configure_image,
    example_request,
    pipeline_module,
    promise_body,
    promise_dir,
    request_crd,
    request_resource,
    run_pipeline,
)

KUBERNETES_VERSION = "1.32"
# name[:tag][@digest] with a registry host; the tag is what we pin, so it must be there.
PINNED = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$")


def all_images(body: dict[str, Any]) -> list[str]:
    """Every container image a Promise mentions: its pipelines and its dependencies' pods."""
    found: list[str] = []

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for child_key, child in node.items():
                walk(child, child_key)
        elif isinstance(node, list):
            for child in node:
                walk(child, key)
        elif key == "image" and isinstance(node, str):
            found.append(node)

    walk(body["spec"].get("workflows"))
    walk(body["spec"].get("dependencies"))
    return found


def test_the_examples_are_the_two_services():
    assert sorted(p.name for p in build_images.example_promise_dirs()) == sorted(PROMISE_NAMES)


@pytest.mark.parametrize("name", PROMISE_NAMES)
def test_promise_yaml_is_a_valid_versioned_promise_with_an_api_dependencies_and_a_configure_pipeline(name):
    promise = Promise.model_validate(promise_body(name))
    assert promise.metadata.name == name
    assert promise.metadata.labels[LABEL_PROMISE_VERSION] == "v1.0.0"
    gvk = promise.request_gvk()
    assert gvk is not None and gvk.group == "marketplace.kratix.io" and gvk.version == "v1alpha1"
    assert [p.metadata.name for p in promise.pipelines("resource", "configure")] == ["instance-configure"]
    assert promise.pipelines("resource", "delete") == [], (
        "nothing to undo: deleting the Work removes the files"
    )
    kinds = [d["kind"] for d in promise.spec.dependencies]
    assert kinds == ["Namespace", "ServiceAccount", "Deployment"]


@pytest.mark.parametrize(
    ("name", "crd_name", "kind", "fields", "columns"),
    [
        (
            "postgresql",
            "postgresqls.marketplace.kratix.io",
            "PostgreSQL",
            {"teamName", "size", "version", "backups"},
            ["Team", "Size", "Version", "Status"],
        ),
        (
            "redis",
            "redis.marketplace.kratix.io",
            "Redis",
            {"teamName", "mode", "maxMemory", "version"},
            ["Team", "Mode", "Max Memory", "Version", "Status"],
        ),
    ],
)
def test_the_request_crd_builds_keeps_its_columns_and_documents_every_field(
    name, crd_name, kind, fields, columns
):
    crd = request_crd(name)
    assert crd["metadata"]["name"] == crd_name
    assert crd["metadata"]["labels"][LABEL_PROMISE_NAME] == name
    assert crd["spec"]["names"]["kind"] == kind and crd["spec"]["scope"] == "Namespaced"
    (version,) = crd["spec"]["versions"]
    assert [c["name"] for c in version["additionalPrinterColumns"]] == columns
    assert (
        version["additionalPrinterColumns"][-1]["jsonPath"]
        == '.status.conditions[?(@.type=="Reconciled")].message'
    )
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert set(spec["properties"]) == fields
    assert spec["required"] == ["teamName"]
    for field, schema in spec["properties"].items():
        assert len(schema.get("description", "")) > 20, f"spec.{field} needs a description"
    # What `kubectl apply` would send is a valid CustomResourceDefinition.
    kubernetes_validate.validate(crd, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("name", PROMISE_NAMES)
def test_every_built_in_dependency_is_a_valid_kubernetes_object(name):
    for dependency in promise_body(name)["spec"]["dependencies"]:
        kubernetes_validate.validate(dependency, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("name", PROMISE_NAMES)
def test_every_image_is_pinned_by_version_never_latest(name):
    images = all_images(promise_body(name))
    assert len(images) >= 2, images  # the pipeline and the operator
    for image in images:
        match = PINNED.match(image)
        assert match, f"{image} is not registry/name:tag"
        assert match["tag"] != "latest", image


def test_the_dependencies_are_the_operators_the_pipelines_write_for():
    postgres = promise_body("postgresql")["spec"]["dependencies"]
    assert postgres[0] == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "cnpg-system", "labels": {"app.kubernetes.io/name": "cloudnative-pg"}},
    }
    assert postgres[2]["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "ghcr.io/cloudnative-pg/cloudnative-pg:1.24.1"
    )
    redis = promise_body("redis")["spec"]["dependencies"]
    assert (
        redis[2]["spec"]["template"]["spec"]["containers"][0]["image"]
        == "quay.io/opstree/redis-operator:v0.18.0"
    )


@pytest.mark.parametrize("name", PROMISE_NAMES)
def test_each_pipeline_image_has_its_source_next_to_the_promise(name):
    image, source = configure_image(name)
    assert image == f"localhost/kratix-py-example-{name}-configure:v1.0.0"
    assert source == promise_dir(name) / "pipelines" / "instance-configure"
    dockerfile = (source / "Dockerfile").read_text()
    lines = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    assert lines[0].startswith("ARG BASE_IMAGE=docker.io/library/python:"), "a public default base"
    assert lines[1] == "FROM ${BASE_IMAGE}"
    assert "COPY kratix_py /opt/pipeline/kratix_py" in lines
    assert re.search(r"^USER \d+:\d+$", dockerfile, re.M), "runs as a non-root user"
    assert (source / "pipeline.py").is_file()


@pytest.mark.parametrize("name", PROMISE_NAMES)
def test_the_readme_names_the_files_and_image_it_tells_people_to_use(name):
    readme = (promise_dir(name) / "README.md").read_text()
    image, _ = configure_image(name)
    assert image in readme
    for path in ("promise.yaml", "example-request.yaml", "examples/build_images.py"):
        assert path in readme
        assert (EXAMPLES.parent / path).exists() or (promise_dir(name) / path).exists()


def test_the_postgresql_readme_size_table_is_the_pipelines_table():
    readme = (promise_dir("postgresql") / "README.md").read_text()
    rows = re.findall(r"^\| `(\w+)` +\| (\d) +\| (\S+) +\| (\S+) +\| (\S+) +\|", readme, re.M)
    sizes = pipeline_module("postgresql").SIZES
    assert {row[0]: tuple(row[1:]) for row in rows} == {
        name: (str(s.instances), s.cpu, s.memory, s.storage) for name, s in sizes.items()
    }


# -- against the API server (the local platform's emulator) --------------------------------------


def install_api(kube: k.Kube, name: str) -> k.Resource:
    kube.create(k.CRDS, request_crd(name))
    wait_for(
        lambda: any(
            c["type"] == "Established" and c["status"] == "True"
            for c in (
                (kube.get(k.CRDS, request_crd(name)["metadata"]["name"]) or {}).get("status") or {}
            ).get("conditions", [])
        ),
        what=f"the {name} request CRD to be established",
    )
    return request_resource(name)


EXPECTED_DEFAULTED_SPEC = {
    "postgresql": {"teamName": "team-a", "size": "medium", "version": "16", "backups": False},
    "redis": {"teamName": "team-a", "mode": "sentinel", "maxMemory": "512mb", "version": "7.2"},
}


@pytest.mark.parametrize("name", PROMISE_NAMES)
def test_the_example_request_is_accepted_with_the_documented_defaults_filled_in(
    local_platform, tmp_path, name
):
    kube = k.Kube(local_platform.api_client())
    resource = install_api(kube, name)
    created = kube.create(resource, example_request(name))
    assert created["spec"] == EXPECTED_DEFAULTED_SPEC[name]

    # The defaulted object is what a pipeline reads; it builds without a complaint.
    result = run_pipeline(pipeline_module(name), created, tmp_path / "run")
    assert result.exit_code == 0, result.stderr
    assert result.files


@pytest.mark.parametrize(
    ("name", "change", "field"),
    [
        ("postgresql", {"size": "huge"}, "spec.size"),
        ("postgresql", {"version": 16}, "spec.version"),
        ("postgresql", {"teamName": "Team A"}, "spec.teamName"),
        ("postgresql", {"teamName": None}, "spec.teamName"),
        ("redis", {"mode": "replica"}, "spec.mode"),
        ("redis", {"maxMemory": "256MB"}, "spec.maxMemory"),
        ("redis", {"maxMemory": "0mb"}, "spec.maxMemory"),
        ("redis", {"version": "6.2"}, "spec.version"),
    ],
)
def test_a_request_outside_the_api_is_refused_by_the_api_server_naming_the_field(
    local_platform, name, change, field
):
    kube = k.Kube(local_platform.api_client())
    resource = install_api(kube, name)
    body = copy.deepcopy(example_request(name))
    for key, value in change.items():
        if value is None:
            body["spec"].pop(key)
        else:
            body["spec"][key] = value
    with pytest.raises(k.KubeError) as error:
        kube.create(resource, body)
    assert error.value.status == 422
    assert field in error.value.message


@pytest.mark.parametrize("name", PROMISE_NAMES)
def test_the_example_files_are_single_plain_yaml_documents(name):
    for filename in ("promise.yaml", "example-request.yaml"):
        documents = list(yaml.safe_load_all((promise_dir(name) / filename).read_text()))
        assert len(documents) == 1 and isinstance(documents[0], dict), filename
