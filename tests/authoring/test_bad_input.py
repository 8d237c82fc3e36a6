"""Bad input to render and test: one clear line each, exit 1, never a traceback (no containers run)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kratix_py.authoring import runtime

from .conftest import DATA, Outcome

PROMISE = DATA / "app-promise.yaml"
REQUEST = DATA / "app-request.yaml"


@pytest.fixture
def podman_works(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Pretend podman is fine and holds the images in the returned set (empty: none)."""
    from kratix_py.local_platform import podman

    present: set[str] = set()
    monkeypatch.setattr(podman, "podman_problem", lambda: None)
    monkeypatch.setattr(podman, "image_exists", lambda ref: ref in present)
    return present


def one_line(outcome: Outcome, command: str = "render") -> str:
    assert outcome.code == 1, outcome
    assert "Traceback" not in outcome.err
    lines = outcome.err.strip().splitlines()
    assert len(lines) == 1, outcome.err
    assert lines[0].startswith(f"kratix-py {command}: ")
    return lines[0].removeprefix(f"kratix-py {command}: ")


def test_invalid_yaml(tmp_path: Path, run_cli: Callable[..., Outcome]) -> None:
    path = tmp_path / "promise.yaml"
    path.write_text("kind: Promise\nspec:\n  api: {\n")
    message = one_line(run_cli("render", path))
    assert message.startswith(f"{path}:4:") and "invalid YAML" in message


def test_an_unreadable_promise(tmp_path: Path, run_cli: Callable[..., Outcome]) -> None:
    assert (
        one_line(run_cli("render", tmp_path / "none.yaml"))
        == f"{tmp_path / 'none.yaml'}: no such file; check the path"
    )


def test_an_invalid_promise_points_at_validate(tmp_path: Path, run_cli: Callable[..., Outcome]) -> None:
    body = yaml.safe_load(PROMISE.read_text())
    body["spec"]["workflows"]["resource"]["configure"][0]["metadata"]["name"] = "Bad"
    body["spec"]["workflows"]["resource"]["configure"][1]["spec"]["containers"] = []
    path = tmp_path / "promise.yaml"
    path.write_text(yaml.safe_dump(body))
    message = one_line(run_cli("render", path, REQUEST))
    assert "spec.workflows.resource.configure[0].metadata.name: 'Bad' is not a valid name" in message
    assert "(and 1 more problem: run 'kratix-py validate')" in message


def test_a_promise_without_an_api_for_the_resource_workflow(
    tmp_path: Path, run_cli: Callable[..., Outcome]
) -> None:
    path = tmp_path / "promise.yaml"
    path.write_text(
        "apiVersion: platform.kratix.io/v1alpha1\nkind: Promise\nmetadata: {name: deps}\nspec: {}\n"
    )
    message = one_line(run_cli("render", path, REQUEST))
    assert message == (
        f"{path}: Promise deps has no spec.api, so there are no resource requests to render; "
        "add a spec.api CustomResourceDefinition"
    )


def test_a_request_for_another_kind(tmp_path: Path, run_cli: Callable[..., Outcome]) -> None:
    path = tmp_path / "request.yaml"
    path.write_text("apiVersion: marketplace.kratix.io/v1alpha1\nkind: PostgreSQL\nmetadata: {name: db}\n")
    message = one_line(run_cli("render", PROMISE, path))
    assert message == (
        f"{path}:2: this is a PostgreSQL (marketplace.kratix.io/v1alpha1), but Promise app takes requests "
        "of kind App (test.kratix.io/v1alpha1); pass a request of that kind"
    )


def test_the_workflow_must_fit_the_arguments(run_cli: Callable[..., Outcome]) -> None:
    assert "pass the REQUEST file" in one_line(run_cli("render", PROMISE, "--workflow", "resource"))
    assert "drop the REQUEST file" in one_line(run_cli("render", PROMISE, REQUEST, "--workflow", "promise"))
    assert "no promise delete pipeline" in one_line(run_cli("render", PROMISE, "--action", "delete"))


def test_no_container_runtime(monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., Outcome]) -> None:
    from kratix_py.local_platform import podman

    monkeypatch.setattr(podman, "podman_problem", lambda: "podman is not installed: install it")
    monkeypatch.setattr(runtime.shutil, "which", lambda name: None)
    message = one_line(run_cli("render", PROMISE, REQUEST))
    assert message.startswith("no usable container runtime: podman: podman is not installed")


def test_docker_is_refused_with_what_to_use_instead(
    monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., Outcome]
) -> None:
    monkeypatch.setattr(runtime.shutil, "which", lambda name: None)
    assert "docker is not installed" in one_line(run_cli("render", PROMISE, REQUEST, "--runtime", "docker"))
    monkeypatch.setattr(runtime.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert "use --runtime podman" in one_line(run_cli("render", PROMISE, REQUEST, "--runtime", "docker"))


def test_a_missing_pipeline_image_names_the_image_and_how_to_build_it(
    podman_works: set[str], run_cli: Callable[..., Outcome]
) -> None:
    podman_works.add("localhost/kratix-py:dev")
    message = one_line(run_cli("render", PROMISE, REQUEST))
    assert message.startswith(
        "image localhost/kratix-py-authoring-test:v1 (pipeline write, container main) is not present locally"
    )
    assert "python -m kratix_py.authoring.build" in message


def test_a_missing_adapter_image_says_how_to_build_kratix_py(
    podman_works: set[str], run_cli: Callable[..., Outcome]
) -> None:
    podman_works.add("localhost/kratix-py-authoring-test:v1")
    message = one_line(run_cli("render", PROMISE, REQUEST, "--adapter-image", "localhost/adapter:1"))
    assert message.startswith(
        "image localhost/adapter:1 (kratix-py's pipeline adapter) is not present locally"
    )
    assert "python -m kratix_py.local_platform.kratix_image" in message


def test_a_missing_image_stops_test_once_instead_of_failing_every_case(
    tmp_path: Path, podman_works: set[str], run_cli: Callable[..., Outcome]
) -> None:
    (tmp_path / "promise.yaml").write_text(PROMISE.read_text())
    for case in ("one", "two"):
        (tmp_path / "tests" / case).mkdir(parents=True)
        (tmp_path / "tests" / case / "request.yaml").write_text(REQUEST.read_text())
    message = one_line(run_cli("test", tmp_path), "test")
    assert message.startswith("image localhost/k")


def test_test_needs_a_promise_folder_with_cases(tmp_path: Path, run_cli: Callable[..., Outcome]) -> None:
    assert "no promise.yaml here" in one_line(run_cli("test", tmp_path), "test")
    (tmp_path / "promise.yaml").write_text(PROMISE.read_text())
    assert "no test cases" in one_line(run_cli("test", tmp_path), "test")
    (tmp_path / "tests" / "odd").mkdir(parents=True)
    (tmp_path / "tests" / "odd" / "case.yaml").write_text("workflow: resource\n")
    outcome = run_cli("test", tmp_path)
    assert outcome.code == 1
    assert "FAIL odd" in outcome.out and "a resource case needs a request.yaml" in outcome.out
    assert outcome.out.rstrip().endswith("0 passed, 1 failed")


def test_bad_destinations_are_named(
    tmp_path: Path, podman_works: set[str], run_cli: Callable[..., Outcome]
) -> None:
    path = tmp_path / "destinations.yaml"
    path.write_text("- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: x}\n")
    message = one_line(run_cli("render", PROMISE, REQUEST, "--destinations", path))
    assert message == f"{path}:2: expected Destination objects, found kind 'ConfigMap'"
