"""The pipeline contract with real containers: kratix-py's own image runs the adapter steps and a
pipeline image built here (with kratix_py.sdk) runs the user's part, all through podman.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.local_platform.kratix_image import build_pipeline_image
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import ADAPTER_IMAGE, wait_for

from .test_operator_fast import REDIS, condition, install, promise_body, request_body

pytestmark = [pytest.mark.containers, pytest.mark.slow]

PIPELINE_IMAGE = "localhost/kratix-py-test-pipeline:v1"


@pytest.fixture(scope="module")
def pipeline_image(base_image: str) -> str:
    return build_pipeline_image(Path(__file__).parent / "images" / "test-pipeline", PIPELINE_IMAGE)


def with_image(body: dict[str, Any]) -> dict[str, Any]:
    """Point every pipeline at the test image, with its mode (the pipeline name) as argument."""
    for action in body["spec"]["workflows"]["resource"].values():
        for pipeline in action:
            container = pipeline["spec"]["containers"][0]
            container["image"] = PIPELINE_IMAGE
            container["args"] = [pipeline["metadata"]["name"]]
    return body


@pytest.fixture
def system(platform_factory, kratix_image, pipeline_image):
    platform = platform_factory(pods="podman")
    kube = k.Kube(platform.api_client())
    settings = settings_for(str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)
    with RunningOperator(settings):
        yield kube


def workflow_done(kube: k.Kube, name: str = "my-redis", timeout: float = 90) -> dict[str, Any]:
    return wait_for(
        lambda: (
            (o := kube.get(REDIS, name, "default"))
            and (cd := condition(o, "ConfigureWorkflowCompleted"))
            and cd["status"] == "True"
            and o["status"].get("workflowsSucceeded") == o["status"].get("workflows")
            and o
        ),
        timeout=timeout,
        what="the configure workflow to complete",
    )


def test_two_container_pipelines_pass_status_along_and_produce_a_work(system):
    kube = system
    install(kube, with_image(promise_body("first", "second")))
    kube.create(REDIS, request_body(size="large"))
    obj = workflow_done(kube)
    assert obj["status"]["endpoint"] == "my-redis.default:6379"
    assert obj["status"]["sawEndpoint"] == "my-redis.default:6379", (
        "the second pipeline read the first's status"
    )
    assert obj["status"]["message"] == "first done"

    works = kube.list(r.WORKS, "default", labels={c.LABEL_PIPELINE_NAME: "first"})
    assert len(works) == 1
    groups = works[0]["spec"]["workloadGroups"]
    assert [g["directory"] for g in groups] == [".", "monitoring"]
    assert groups[1]["destinationSelectors"][0]["matchLabels"] == {"team": "observability"}

    # The pod ran reader, the user's container, work-writer, then status-writer, each a container.
    jobs = kube.list(k.JOBS, "default", labels={c.LABEL_PIPELINE_NAME: "first"})
    pods = kube.list(k.PODS, "default", labels={"job-name": jobs[0]["metadata"]["name"]})
    statuses = pods[0]["status"]["initContainerStatuses"] + pods[0]["status"]["containerStatuses"]
    assert [s["name"] for s in statuses] == ["reader", "main", "work-writer", "status-writer"]
    assert all(s["state"]["terminated"]["exitCode"] == 0 for s in statuses)
    log = kube.request_text(
        k.PODS.path("default", pods[0]["metadata"]["name"], "log"), query={"container": "main"}
    )
    assert "configured my-redis (large)" in log


def test_a_failing_container_fails_the_workflow_with_its_message(system):
    kube = system
    install(kube, with_image(promise_body("fail")))
    kube.create(REDIS, request_body())
    failed = wait_for(
        lambda: (
            (o := kube.get(REDIS, "my-redis", "default"))
            and (cd := condition(o, "ConfigureWorkflowCompleted"))
            and cd["reason"] == "ConfigureWorkflowFailed"
            and o
        ),
        timeout=90,
        what="the failure",
    )
    message = condition(failed, "ConfigureWorkflowCompleted")["message"]
    assert "container main exited 1" in message and "quota is exceeded" in message
    assert kube.list(r.WORKS, "default", labels={c.LABEL_RESOURCE_NAME: "my-redis"}) == []


def test_the_delete_pipeline_runs_in_a_container_before_the_request_goes(system):
    kube = system
    install(kube, with_image(promise_body("first", delete="teardown")))
    kube.create(REDIS, request_body())
    workflow_done(kube)
    kube.delete(REDIS, "my-redis", "default")
    wait_for(lambda: kube.get(REDIS, "my-redis", "default") is None, timeout=90, what="the request to go")
    events = kube.list(k.EVENTS, "default")
    assert any(e["reason"] == "DeletePipelineStarted" for e in events)


def test_with_a_pod_ttl_the_container_pods_go_after_the_job_finished_and_the_job_stays(
    platform_factory, kratix_image, pipeline_image
):
    platform = platform_factory(pods="podman")
    kube = k.Kube(platform.api_client())
    settings = settings_for(
        str(platform.kubeconfig),
        pipeline_adapter_image=ADAPTER_IMAGE,
        pod_ttl_seconds_after_finished=timedelta(seconds=2),
    )
    with RunningOperator(settings):
        install(kube, with_image(promise_body("first")))
        kube.create(REDIS, request_body())
        workflow_done(kube)
        (job,) = kube.list(k.JOBS, "default", labels={c.LABEL_PIPELINE_NAME: "first"})
        wait_for(
            lambda: not kube.list(k.PODS, "default", labels={"job-name": job["metadata"]["name"]}),
            timeout=30,
            what="the pipeline pod to be deleted",
        )
        (kept,) = kube.list(k.JOBS, "default", labels={c.LABEL_PIPELINE_NAME: "first"})
        assert kept["metadata"]["uid"] == job["metadata"]["uid"]
        assert (
            condition(kube.get(REDIS, "my-redis", "default"), "ConfigureWorkflowCompleted")["status"]
            == "True"
        )
