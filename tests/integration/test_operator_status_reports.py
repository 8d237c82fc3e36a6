"""What a request's status says after runs and failures (issue 11, item 6), in fast mode."""

from __future__ import annotations

import time

from kratix_py import contract as c
from kratix_py.api.meta import parse_timestamp
from kratix_py.testing.fixtures import wait_for
from tests.integration import test_operator_fast as fast
from tests.integration.test_operator_fast import (
    REDIS,
    completed,
    condition,
    install,
    promise_body,
    request_body,
)

system, recorder = fast.system, fast.recorder  # the fast-mode platform and its recorded steps


def test_last_successful_configure_workflow_time_moves_on_every_success(system, recorder):
    kube, _ = system
    install(kube, promise_body("first"))
    kube.create(REDIS, request_body())
    first = completed(kube)["status"]
    when = first["lastSuccessfulConfigureWorkflowTime"]
    assert first["kratix"]["workflows"]["lastSuccessfulConfigureWorkflowTime"] == when

    time.sleep(1.2)  # timestamps have whole seconds
    kube.patch(
        REDIS, "my-redis", {"metadata": {"labels": {c.LABEL_MANUAL_RECONCILIATION: "true"}}}, "default"
    )
    wait_for(lambda: recorder.count("first") == 2, what="the manual rerun")
    again = wait_for(
        lambda: (
            (o := completed(kube))
            and o["status"].get("lastSuccessfulConfigureWorkflowTime") != when
            and o["status"]
        ),
        what="lastSuccessfulConfigureWorkflowTime to move after the second success",
    )
    moved = again["lastSuccessfulConfigureWorkflowTime"]
    assert parse_timestamp(moved) > parse_timestamp(when)
    assert again["kratix"]["workflows"]["lastSuccessfulConfigureWorkflowTime"] == moved


def test_a_missing_image_is_blamed_on_the_container_that_waits_for_it(system):
    kube, _ = system
    body = promise_body("first")
    pipeline = body["spec"]["workflows"]["resource"]["configure"][0]
    pipeline["spec"]["containers"] = [{"name": "needs-image", "image": "test/not-built:v1"}]
    install(kube, body)
    kube.create(REDIS, request_body())
    failed = wait_for(
        lambda: (
            (o := kube.get(REDIS, "my-redis", "default"))
            and (found := condition(o, c.CONDITION_CONFIGURE_WORKFLOW_COMPLETED))
            and found["reason"] == "ConfigureWorkflowFailed"
            and found
        ),
        what="the missing image to fail the workflow",
    )
    message = failed["message"]
    assert "container needs-image: ErrImageNeverPull" in message, message
    assert "test/not-built:v1" in message and "container reader" not in message
