"""render, test and init with real containers: the pipelines run as the operator's Jobs would."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kratix_py.authoring.build import build
from kratix_py.authoring.inputs import load_promise
from kratix_py.local_platform.kratix_image import build_pipeline_image

from .conftest import DATA, EXAMPLES, Outcome

pytestmark = [pytest.mark.containers, pytest.mark.slow]

TEST_IMAGE = "localhost/kratix-py-authoring-test:v1"
PROMISE = DATA / "app-promise.yaml"
REQUEST = DATA / "app-request.yaml"
DESTINATIONS = DATA / "destinations.yaml"


@pytest.fixture(scope="module")
def images(kratix_image: str) -> str:
    """kratix-py's own image (the adapter steps) and the test pipeline image."""
    return build_pipeline_image(Path(__file__).parent / "images" / "pipeline", TEST_IMAGE)


def with_pipeline_args(tmp_path: Path, **args: str) -> Path:
    """The test Promise with other arguments for its pipelines (by pipeline name)."""
    body = yaml.safe_load(PROMISE.read_text())
    for pipeline in body["spec"]["workflows"]["resource"]["configure"]:
        if pipeline["metadata"]["name"] in args:
            pipeline["spec"]["containers"][0]["args"] = [args[pipeline["metadata"]["name"]]]
    path = tmp_path / "promise.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def test_render_shows_files_scheduling_and_status(
    images: str, tmp_path: Path, run_cli: Callable[..., Outcome]
) -> None:
    out = tmp_path / "out"
    outcome = run_cli("render", PROMISE, REQUEST, "--destinations", DESTINATIONS, "--output", out)
    assert outcome.code == 0, outcome.err
    assert outcome.out.startswith("resource configure workflow of App team-a/shop: ran write, check")

    deployment = yaml.safe_load((out / "pipelines/write/app/deployment.yaml").read_text())
    assert deployment == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "shop"},
        "size": "large",
    }
    scheduling = yaml.safe_load((out / "scheduling.yaml").read_text())
    write, check = scheduling["works"]
    assert (write["pipeline"], check["pipeline"], check["groups"]) == ("write", "check", [])
    default, monitoring = write["groups"]
    assert default["files"] == ["app/deployment.yaml", "app/service.yaml"]
    assert default["matchLabels"] == {"environment": "dev"} and default["destinations"] == ["dev"]
    assert monitoring["files"] == ["monitoring/alerts.yaml"]
    assert monitoring["selectors"] == [
        {"matchLabels": {"team": "observability"}, "source": "resource-workflow"}
    ]
    assert monitoring["destinations"] == ["observability"]

    status = yaml.safe_load((out / "status.yaml").read_text())
    # The second pipeline's object.yaml carried the status the first one wrote, and its pod had
    # the KRATIX_* environment of a resource workflow.
    assert status["seen"] == {
        "previousEndpoint": "shop.team-a.svc",
        "pipeline": "check",
        "objectKind": "App",
        "workflowType": "resource",
    }
    assert status["message"] == "wrote shop" and status["workflowsSucceeded"] == 2
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions["ConfigureWorkflowCompleted"] == ("True", "PipelinesExecutedSuccessfully")
    assert conditions["Reconciled"] == ("True", "Reconciled")
    assert all(c["lastTransitionTime"] == "<ignored>" for c in status["conditions"])
    assert "Reconciled                  True     Reconciled: Reconciled" in outcome.out


def test_a_failing_pipeline_exits_1_with_the_containers_log(
    images: str, tmp_path: Path, run_cli: Callable[..., Outcome]
) -> None:
    outcome = run_cli("render", with_pipeline_args(tmp_path, check="fail"), REQUEST)
    assert outcome.code == 1
    assert "pipeline check failed: container main exited 3" in outcome.err
    assert "--- log of container main ---\nthe quota for this team is used up" in outcome.err
    assert "ConfigureWorkflowFailed" in outcome.out
    assert "lands on: (no Destinations given" in outcome.out, "what the first pipeline wrote is still shown"


def test_the_delete_pipeline_sees_the_object_being_deleted(
    images: str, tmp_path: Path, run_cli: Callable[..., Outcome]
) -> None:
    outcome = run_cli("render", PROMISE, REQUEST, "--action", "delete", "--output", tmp_path)
    assert outcome.code == 0, outcome.err
    status = yaml.safe_load((tmp_path / "status.yaml").read_text())
    assert status["message"] == "tore down shop" and status["deleted"] is True
    assert not (tmp_path / "pipelines").exists()


def test_the_promise_workflow_shows_dependencies_and_the_promise_pipelines_output(
    images: str, tmp_path: Path, run_cli: Callable[..., Outcome]
) -> None:
    outcome = run_cli("render", PROMISE, "--destinations", DESTINATIONS, "--output", tmp_path)
    assert outcome.code == 0, outcome.err
    assert outcome.out.startswith("promise configure workflow of Promise app: ran setup")
    assert "static dependencies (placed on every matching Destination)" in outcome.out
    dependencies = yaml.safe_load((tmp_path / "dependencies/static/app-dependencies.yaml").read_text())
    assert dependencies["metadata"]["name"] == "app-system"
    assert (tmp_path / "pipelines/setup/app/deployment.yaml").is_file()
    works = yaml.safe_load((tmp_path / "scheduling.yaml").read_text())["works"]
    assert works[0] == {
        "dependencies": True,
        "placement": "every matching Destination",
        "groups": [
            {
                "directory": ".",
                "id": "5058f1af8388633f609cadb75a75dc9d",
                "selectors": [{"matchLabels": {"environment": "dev"}, "source": "promise"}],
                "matchLabels": {"environment": "dev"},
                "files": ["static/app-dependencies.yaml"],
                "destinations": ["dev"],
            }
        ],
    }
    status = yaml.safe_load((tmp_path / "status.yaml").read_text())
    assert status["message"] == "wrote app", "a Promise keeps only the message of status.yaml"
    assert "endpoint" not in status
    assert status["status"] == "Available"


def test_golden_cases_record_pass_and_show_differences(
    images: str, tmp_path: Path, run_cli: Callable[..., Outcome]
) -> None:
    shutil.copy(PROMISE, tmp_path / "promise.yaml")
    shutil.copy(DESTINATIONS, tmp_path / "destinations.yaml")
    case = tmp_path / "tests" / "large-shop"
    case.mkdir(parents=True)
    shutil.copy(REQUEST, case / "request.yaml")
    recorded = run_cli("test", tmp_path, "--update")
    assert recorded.code == 0 and "UPDATED large-shop" in recorded.out
    assert (case / "expected" / "pipelines" / "write" / "app" / "deployment.yaml").is_file()

    (case / "request.yaml").write_text(REQUEST.read_text().replace("size: large", "size: small"))
    failed = run_cli("test", tmp_path)
    assert failed.code == 1
    assert "FAIL large-shop" in failed.out
    assert "--- expected/pipelines/write/app/deployment.yaml" in failed.out
    assert "-size: large" in failed.out and "+size: small" in failed.out
    assert failed.out.rstrip().endswith("0 passed, 1 failed")


@pytest.mark.parametrize("example", ["postgresql", "redis"])
def test_the_example_promises_render_and_pass_their_golden_test(
    example: str, kratix_image: str, tmp_path: Path, run_cli: Callable[..., Outcome]
) -> None:
    source = EXAMPLES / example
    if not (source / "promise.yaml").is_file():
        pytest.skip(f"examples/promises/{example} is not there yet")
    folder = tmp_path / example
    shutil.copytree(source, folder)
    promise = load_promise(folder / "promise.yaml").promise
    for _type, _action, _index, pipeline in promise.spec.workflows.all_pipelines():
        for container in pipeline.spec.containers:
            build(folder / "pipelines" / pipeline.name, container.image)

    # render --output writes exactly what a golden case expects, so one render makes the goldens.
    case = folder / "tests" / "example"
    case.mkdir(parents=True)
    shutil.copy(folder / "example-request.yaml", case / "request.yaml")
    rendered = run_cli(
        "render", folder / "promise.yaml", case / "request.yaml", "--output", case / "expected"
    )
    assert rendered.code == 0, rendered.err
    outputs = sorted((case / "expected" / "pipelines").rglob("*.yaml"))
    assert outputs, "the example's pipeline wrote files"
    kinds = {doc.get("kind") for path in outputs for doc in yaml.safe_load_all(path.read_text()) if doc}
    expected_kinds = {"postgresql": {"Cluster"}, "redis": {"Redis", "RedisReplication", "RedisCluster"}}[
        example
    ]
    assert kinds & expected_kinds, kinds

    tested = run_cli("test", folder)
    assert tested.code == 0, tested.out
    assert tested.out.rstrip().endswith("1 passed, 0 failed")


def test_a_fresh_scaffold_builds_validates_and_passes_its_test(
    kratix_image: str, tmp_path: Path, run_cli: Callable[..., Outcome]
) -> None:
    folder = tmp_path / "inventory"
    created = run_cli(
        "init", "promise", "inventory", "--group", "shop.example.com", "--kind", "Inventory", "--dir", folder
    )
    assert created.code == 0, created.err
    build(folder / "pipelines" / "configure", "localhost/inventory-configure:v0.1.0")
    validated = run_cli("validate", folder / "promise.yaml", folder / "example-request.yaml", "--strict")
    assert validated.code == 0, validated.out
    tested = run_cli("test", folder)
    assert tested.code == 0, tested.out
    assert "PASS example" in tested.out
