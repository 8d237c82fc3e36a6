"""A pipeline that hangs must not block its object for good (issue 11, item 9), in fast mode."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.testing.fixtures import ADAPTER_IMAGE, wait_for
from tests.integration.test_operator_fast import REDIS, condition, install, promise_body, request_body


class Hang:
    """A step that hangs for requests of size ``small`` until released; others finish at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.runs: list[str] = []

    def __call__(self, ctx: Any) -> int:
        obj = yaml.safe_load((ctx.path("/kratix/input") / "object.yaml").read_text())
        self.runs.append(obj["spec"]["size"])
        if obj["spec"]["size"] == "small":
            self.release.wait(60)
        return 0


@pytest.fixture
def hung(platform_factory) -> Iterator[tuple[k.Kube, Hang]]:
    hang = Hang()
    platform = platform_factory(pods="fast", steps={"test/first:v1": hang})
    settings = settings_for(str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)
    try:
        with RunningOperator(settings):
            yield k.Kube(platform.api_client()), hang
    finally:
        hang.release.set()


def _jobs(kube: k.Kube) -> list[dict[str, Any]]:
    return kube.list(k.JOBS, "default", labels={c.LABEL_RESOURCE_NAME: "my-redis"})


def test_a_hung_pipeline_fails_at_its_deadline_and_says_so(hung):
    kube, _ = hung
    body = promise_body("first")
    body["spec"]["workflows"]["resource"]["configure"][0]["spec"]["jobOptions"] = {"activeDeadlineSeconds": 2}
    install(kube, body)
    kube.create(REDIS, request_body())
    failed = wait_for(
        lambda: (
            (
                found := condition(
                    kube.get(REDIS, "my-redis", "default"), c.CONDITION_CONFIGURE_WORKFLOW_COMPLETED
                )
            )
            and found["reason"] == "ConfigureWorkflowFailed"
            and found
        ),
        timeout=30,
        what="the deadline to fail the hung pipeline",
    )
    assert "DeadlineExceeded" in failed["message"], failed["message"]
    assert [job["spec"]["activeDeadlineSeconds"] for job in _jobs(kube)][:1] == [2]


def test_pipeline_jobs_get_the_default_deadline(hung):
    kube, hang = hung
    hang.release.set()
    install(kube, promise_body("first"))
    kube.create(REDIS, request_body())
    jobs = wait_for(lambda: _jobs(kube), what="the pipeline Job")
    assert jobs[0]["spec"]["activeDeadlineSeconds"] == 3600


def test_a_spec_change_replaces_a_hung_job(hung):
    kube, hang = hung
    install(kube, promise_body("first"))
    kube.create(REDIS, request_body(size="small"))
    wait_for(lambda: hang.runs == ["small"], what="the first run to hang")
    kube.patch(REDIS, "my-redis", {"spec": {"size": "large"}}, "default")
    done = wait_for(
        lambda: (
            (o := kube.get(REDIS, "my-redis", "default"))
            and (condition(o, c.CONDITION_CONFIGURE_WORKFLOW_COMPLETED) or {}).get("status") == "True"
            and o
        ),
        timeout=30,
        what="the new spec's run to complete while the old Job hangs",
    )
    assert hang.runs == ["small", "large"]
    assert done["spec"]["size"] == "large"
    suspended = [job for job in _jobs(kube) if job["spec"].get("suspend") is True]
    assert len(suspended) == 1, "the hung Job of the old spec was stopped"
