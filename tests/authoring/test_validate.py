"""``validate``: each check, its message (file, YAML path, line) and the exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kratix_py.authoring.validate import image_pin_problem, validate

from .conftest import DATA, EXAMPLES, Outcome

PROMISE = DATA / "app-promise.yaml"
REQUEST = DATA / "app-request.yaml"


def edited(tmp_path: Path, edit: Callable[[dict], None], name: str = "promise.yaml") -> Path:
    """A copy of the test Promise with ``edit`` applied."""
    body = yaml.safe_load(PROMISE.read_text())
    edit(body)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_valid_promise_and_request_pass_and_the_defaults_are_shown(run_cli: Callable[..., Outcome]) -> None:
    outcome = run_cli("validate", PROMISE, REQUEST)
    assert outcome.code == 0, outcome.out
    assert f"{REQUEST}: request shop: defaults applied: spec.replicas=1" in outcome.out
    assert "validate ok: Promise app, 1 request(s), 0 error(s), 0 warning(s)" in outcome.out


def test_json_output_has_the_findings_and_the_defaulted_request(run_cli: Callable[..., Outcome]) -> None:
    outcome = run_cli("validate", PROMISE, REQUEST, "--output", "json")
    report = json.loads(outcome.out)
    assert report["ok"] is True and report["errors"] == 0
    request = report["requests"][0]
    assert request["defaults"] == {"spec.replicas": 1}
    assert request["object"]["spec"] == {"team": "team-a", "size": "large", "replicas": 1}
    assert "uid" not in request["object"]["metadata"]


@pytest.mark.parametrize("example", ["postgresql", "redis"])
def test_the_example_promises_validate_with_their_requests(
    run_cli: Callable[..., Outcome], example: str
) -> None:
    folder = EXAMPLES / example
    if not (folder / "promise.yaml").is_file():
        pytest.skip(f"examples/promises/{example} is not there yet")
    outcome = run_cli("validate", folder / "promise.yaml", folder / "example-request.yaml", "--strict")
    assert outcome.code == 0, outcome.out


def test_invalid_yaml_is_one_error_with_its_line(tmp_path: Path, run_cli: Callable[..., Outcome]) -> None:
    path = write(tmp_path, "promise.yaml", "apiVersion: platform.kratix.io/v1alpha1\nkind: [Promise\n")
    outcome = run_cli("validate", path)
    assert outcome.code == 1
    assert outcome.out.splitlines()[0].startswith(f"{path}:3: error: invalid YAML")


def test_a_missing_file_is_an_error_not_a_traceback(tmp_path: Path, run_cli: Callable[..., Outcome]) -> None:
    outcome = run_cli("validate", tmp_path / "nope.yaml")
    assert outcome.code == 1
    assert f"{tmp_path / 'nope.yaml'}: error: no such file" in outcome.out


def test_a_request_file_given_as_the_promise_is_named_for_what_it_is(run_cli: Callable[..., Outcome]) -> None:
    outcome = run_cli("validate", REQUEST)
    assert outcome.code == 1
    assert "expected a Promise (kind: Promise), found kind 'App'" in outcome.out


def test_model_errors_name_the_yaml_path_and_line(tmp_path: Path) -> None:
    def bad_pipeline(body: dict) -> None:
        body["spec"]["workflows"]["resource"]["configure"][1]["metadata"]["name"] = "Check_"
        body["spec"]["workflows"]["resource"]["configure"][0]["spec"]["containers"][0]["imagePolicy"] = "x"

    path = edited(tmp_path, bad_pipeline)
    report = validate(path)
    errors = {(f.path, f.line) for f in report.findings if f.severity == "error"}
    text = path.read_text().splitlines()
    name_line = next(f.line for f in report.findings if f.path.endswith("configure[1].metadata.name"))
    assert name_line is not None and "Check_" in text[name_line - 1]
    assert ("spec.workflows.resource.configure[0].spec.containers[0].imagePolicy", None) not in errors
    assert any(p == "spec.workflows.resource.configure[0].spec.containers[0].imagePolicy" for p, _ in errors)


def test_a_schema_that_is_not_structural_is_an_error_on_the_field(tmp_path: Path) -> None:
    def untyped(body: dict) -> None:
        schema = body["spec"]["api"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        del schema["properties"]["spec"]["properties"]["size"]["type"]

    report = validate(edited(tmp_path, untyped))
    [finding] = [f for f in report.findings if f.severity == "error"]
    assert finding.path == "spec.api.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.size"
    assert "not a structural schema" in finding.message and "has no type" in finding.message


def test_an_api_the_api_server_would_refuse_is_reported_under_spec_api(tmp_path: Path) -> None:
    def bad_group(body: dict) -> None:
        body["spec"]["api"]["spec"]["names"]["plural"] = "Apps"
        body["spec"]["api"]["metadata"]["name"] = "Apps.test.kratix.io"

    report = validate(edited(tmp_path, bad_group))
    assert report.errors >= 1
    assert any(f.path.startswith("spec.api") and "Apps" in f.message for f in report.findings)


def test_requests_are_checked_against_the_api(tmp_path: Path) -> None:
    requests = write(
        tmp_path,
        "requests.yaml",
        """\
apiVersion: test.kratix.io/v1alpha1
kind: App
metadata: {name: one}
spec: {team: a, size: huge, colour: blue}
---
apiVersion: test.kratix.io/v1alpha1
kind: App
metadata: {name: two}
spec: {size: small, colour: blue}
---
apiVersion: test.kratix.io/v1alpha1
kind: Database
metadata: {name: three}
""",
    )
    report = validate(PROMISE, [requests])
    messages = [(f.severity, f.path, f.line, f.message) for f in report.findings]
    assert (
        "error",
        "spec.size",
        4,
        'Unsupported value: "huge": supported values: "small", "large"',
    ) in messages
    assert ("error", "spec.team", 9, "Required value") in messages
    kind = next(m for m in messages if m[1] == "kind")
    assert kind[0] == "error" and kind[2] == 12
    assert "this is a Database" in kind[3] and "takes requests of kind App" in kind[3]
    assert report.requests == []


def test_unknown_request_fields_are_warnings_and_strict_fails_on_them(
    tmp_path: Path, run_cli: Callable[..., Outcome]
) -> None:
    request = write(
        tmp_path,
        "r.yaml",
        "apiVersion: test.kratix.io/v1alpha1\nkind: App\nmetadata: {name: r}\nspec: {team: a, colour: blue}\n",
    )
    relaxed = run_cli("validate", PROMISE, request)
    assert relaxed.code == 0
    assert f"{request}:4: warning: spec.colour: not in the Promise's API" in relaxed.out
    strict = run_cli("validate", PROMISE, request, "--strict")
    assert strict.code == 1
    assert "validate failed" in strict.out


def test_a_request_for_a_promise_without_an_api_is_an_error(tmp_path: Path) -> None:
    promise = edited(tmp_path, lambda body: body["spec"].pop("api"))
    report = validate(promise, [REQUEST])
    [finding] = report.findings
    assert finding.severity == "error" and "has no spec.api, so it takes no requests" in finding.message


def test_pipeline_images_must_be_pinned(tmp_path: Path) -> None:
    def unpinned(body: dict) -> None:
        configure = body["spec"]["workflows"]["resource"]["configure"]
        configure[0]["spec"]["containers"][0]["image"] = "ghcr.io/acme/app-pipeline"
        configure[1]["spec"]["containers"][0]["image"] = "ghcr.io/acme/app-pipeline:latest"

    report = validate(edited(tmp_path, unpinned))
    warnings = {f.path: f.message for f in report.findings if f.severity == "warning"}
    assert "has no tag" in warnings["spec.workflows.resource.configure[0].spec.containers[0].image"]
    assert (
        "uses the tag 'latest'" in warnings["spec.workflows.resource.configure[1].spec.containers[0].image"]
    )
    assert report.errors == 0


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("app:v1", True),
        ("registry.example.com:5000/app@sha256:0123", True),
        ("registry.example.com:5000/app", False),
        ("app:latest", False),
        ("app", False),
    ],
)
def test_image_pinning_rule(image: str, pinned: bool) -> None:
    assert (image_pin_problem(image) is None) is pinned


def test_selectors_and_extra_delete_pipelines_are_flagged(tmp_path: Path) -> None:
    def odd(body: dict) -> None:
        body["spec"]["destinationSelectors"].append({"matchLabels": {}})
        body["spec"]["destinationSelectors"].append({"matchLabels": {"bad key!": "x"}})
        delete = body["spec"]["workflows"]["resource"]["delete"]
        delete.append({**delete[0], "metadata": {"name": "second"}})

    report = validate(edited(tmp_path, odd))
    found = {(f.severity, f.path) for f in report.findings}
    assert ("warning", "spec.destinationSelectors[1].matchLabels") in found
    assert ("error", "spec.destinationSelectors[2].matchLabels") in found
    assert ("warning", "spec.workflows.resource.delete[1]") in found


def test_an_invalid_promise_name_is_an_error(tmp_path: Path) -> None:
    report = validate(edited(tmp_path, lambda body: body["metadata"].update(name="My_App")))
    assert any(f.path == "metadata.name" and f.severity == "error" for f in report.findings)


def test_crd_field_names_in_another_capitalisation_are_accepted_as_kratix_does(tmp_path: Path) -> None:
    """The marketplace's sql Promise writes additionalPrinterColumns[].JSONPath; Kratix reads it as jsonPath."""

    def shouting(body: dict) -> None:
        body["spec"]["api"]["spec"]["versions"][0]["additionalPrinterColumns"] = [
            {"name": "Team", "type": "string", "JSONPath": ".spec.team"}
        ]

    report = validate(edited(tmp_path, shouting), [REQUEST])
    assert report.errors == 0, [f.text() for f in report.findings]
    [warning] = report.findings
    assert warning.path == "spec.api.spec.versions[0].additionalPrinterColumns[0].JSONPath"
    assert "read as 'jsonPath', as Kratix reads it" in warning.message and warning.line is not None
    assert [request.name for request in report.requests] == ["shop"]


def test_a_pipeline_whose_job_the_api_server_would_refuse_is_an_error_on_its_field(tmp_path: Path) -> None:
    def keyless(body: dict) -> None:
        container = body["spec"]["workflows"]["resource"]["configure"][0]["spec"]["containers"][0]
        container["env"] = [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db"}}}]

    path = edited(tmp_path, keyless)
    report = validate(path)
    [error] = [f for f in report.findings if f.severity == "error"]
    assert (
        error.path
        == "spec.workflows.resource.configure[0].spec.containers[0].env[0].valueFrom.secretKeyRef.key"
    )
    assert error.message == (
        "Required value: the key of the Secret to read (the API server would refuse the pipeline's Job)"
    )
    assert "name: db" in path.read_text().splitlines()[error.line - 1]  # in the secretKeyRef


def test_broad_pipeline_permissions_are_warnings_and_strict_fails_on_them(
    tmp_path: Path, run_cli: Callable[..., Outcome]
) -> None:
    def greedy(body: dict) -> None:
        body["spec"]["workflows"]["resource"]["configure"][0]["spec"]["rbac"] = {
            "permissions": [
                {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"], "resourceNamespace": "*"}
            ]
        }

    path = edited(tmp_path, greedy)
    assert run_cli("validate", path).code == 0
    outcome = run_cli("validate", path, "--strict")
    assert outcome.code == 1
    assert "warning: spec.workflows.resource.configure[0].spec.rbac.permissions[0]: pipeline " in outcome.out
    assert "grants access to Secrets in every namespace" in outcome.out
