"""``workflow-control.yaml`` end to end in fast mode (issue 11, item 3; behaviour spec §2.10).

Modelled on Kratix's workflow_control system test: a pipeline that asks for ``retryAfter`` is run
again after that delay, counting its attempts, and nothing after it runs until it stops asking; a
pipeline that asks to ``suspend`` halts the workflow at that pipeline, the request says so (no
Work, not Reconciled), and removing the ``kratix.io/workflow-suspended`` label resumes there.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import ADAPTER_IMAGE, wait_for
from tests.integration.test_operator_fast import (
    REDIS,
    Recorder,
    completed,
    condition,
    install,
    promise_body,
    request_body,
)


class Control:
    """How many more runs of a pipeline ask for workflow control, and what they ask for."""

    def __init__(self) -> None:
        self.asks: dict[str, tuple[int, dict[str, Any]]] = {}

    def step(self, name: str):  # type: ignore[no-untyped-def]
        def body(ctx: Any, obj: dict[str, Any]) -> None:
            remaining, document = self.asks.get(name, (0, {}))
            if remaining > 0:
                self.asks[name] = (remaining - 1, document)
                (ctx.path("/kratix/metadata") / "workflow-control.yaml").write_text(yaml.safe_dump(document))
                return
            (ctx.path("/kratix/output") / f"{name}.yaml").write_text(
                yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
            )

        return body


@pytest.fixture
def controlled(platform_factory) -> Iterator[tuple[k.Kube, Recorder, Control]]:
    recorder, control = Recorder(), Control()
    steps = {
        "test/first:v1": recorder.step("first", control.step("first")),
        "test/second:v1": recorder.step("second", control.step("second")),
    }
    platform = platform_factory(pods="fast", steps=steps)
    kube = k.Kube(platform.api_client())
    settings = settings_for(str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)
    with RunningOperator(settings):
        yield kube, recorder, control


def _pipeline(obj: dict[str, Any], name: str) -> dict[str, Any]:
    entries = obj["status"]["kratix"]["workflows"]["pipelines"]
    return next(e for e in entries if e["name"] == name)


def _suspended(kube: k.Kube, pipeline: str, attempts: int | None = None) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = kube.get(REDIS, "my-redis", "default")
        if not obj or (obj["metadata"].get("labels") or {}).get(c.LABEL_WORKFLOW_SUSPENDED) != "true":
            return None
        entry = _pipeline(obj, pipeline) if (obj.get("status") or {}).get("kratix") else {}
        if entry.get("phase") != "Suspended" or (attempts is not None and entry.get("attempts") != attempts):
            return None
        reconciled = condition(obj, c.CONDITION_RECONCILED)
        return obj if reconciled and reconciled["reason"] == "WorkflowSuspended" else None

    return wait_for(check, what=f"the workflow to be suspended at {pipeline}")


def _assert_not_done(obj: dict[str, Any], pipeline: str) -> None:
    """A suspended workflow is not reported as finished, in any of the places a person looks."""
    reconciled = condition(obj, c.CONDITION_RECONCILED)
    assert reconciled is not None and reconciled["status"] == "Unknown", reconciled
    completed_condition = condition(obj, c.CONDITION_CONFIGURE_WORKFLOW_COMPLETED)
    assert completed_condition is not None and completed_condition["status"] != "True", completed_condition
    works = condition(obj, c.CONDITION_WORKS_SUCCEEDED)
    assert works is None or works["message"] != "All Works have been written", works
    assert _pipeline(obj, pipeline)["phase"] == "Suspended"


def test_retry_after_reruns_the_pipeline_counting_attempts_and_holds_the_next(controlled):
    kube, recorder, control = controlled
    control.asks["first"] = (2, {"retryAfter": "1s", "message": "waiting for the database"})
    install(kube, promise_body("first", "second"))
    kube.create(REDIS, request_body())

    obj = _suspended(kube, "first", attempts=1)
    _assert_not_done(obj, "first")
    entry = _pipeline(obj, "first")
    assert entry["message"] == "waiting for the database" and entry["nextRetryAt"]
    assert kube.list(r.WORKS, "default", labels={c.LABEL_RESOURCE_NAME: "my-redis"}) == []
    assert recorder.count("second") == 0

    obj = _suspended(kube, "first", attempts=2)
    _assert_not_done(obj, "first")
    assert recorder.count("first") == 2 and recorder.count("second") == 0

    done = completed(kube)
    assert recorder.count("first") == 3 and recorder.count("second") == 1
    assert c.LABEL_WORKFLOW_SUSPENDED not in (done["metadata"].get("labels") or {})
    assert [p["phase"] for p in done["status"]["kratix"]["workflows"]["pipelines"]] == [
        "Succeeded",
        "Succeeded",
    ]
    works = kube.list(r.WORKS, "default", labels={c.LABEL_RESOURCE_NAME: "my-redis"})
    assert {w["metadata"]["labels"][c.LABEL_PIPELINE_NAME] for w in works} == {"first", "second"}


def test_suspend_halts_at_that_pipeline_until_the_label_is_removed(controlled):
    kube, recorder, control = controlled
    control.asks["second"] = (1, {"suspend": True, "message": "approve me"})
    install(kube, promise_body("first", "second"))
    kube.create(REDIS, request_body())

    obj = _suspended(kube, "second")
    # Held: a few seconds later still suspended, nothing reran, no Work from the suspended pipeline.
    time.sleep(3)
    obj = _suspended(kube, "second")
    _assert_not_done(obj, "second")
    assert _pipeline(obj, "second")["message"] == "approve me"
    assert "nextRetryAt" not in _pipeline(obj, "second")
    assert _pipeline(obj, "first")["phase"] == "Succeeded"
    assert recorder.count("first") == 1 and recorder.count("second") == 1
    works = kube.list(r.WORKS, "default", labels={c.LABEL_RESOURCE_NAME: "my-redis"})
    assert {w["metadata"]["labels"][c.LABEL_PIPELINE_NAME] for w in works} == {"first"}

    kube.patch(REDIS, "my-redis", {"metadata": {"labels": {c.LABEL_WORKFLOW_SUSPENDED: None}}}, "default")
    done = completed(kube)
    # Resumed at the suspended pipeline: the first one did not run again.
    assert recorder.count("first") == 1 and recorder.count("second") == 2
    works = kube.list(r.WORKS, "default", labels={c.LABEL_RESOURCE_NAME: "my-redis"})
    assert {w["metadata"]["labels"][c.LABEL_PIPELINE_NAME] for w in works} == {"first", "second"}
    assert c.LABEL_WORKFLOW_SUSPENDED not in (done["metadata"].get("labels") or {})
    # No Destination here, so the Works stay pending: what matters is the suspension is gone.
    wait_for(
        lambda: (
            (condition(kube.get(REDIS, "my-redis", "default"), c.CONDITION_RECONCILED) or {}).get("reason")
            == "WorksPending"
        ),
        what="Reconciled to wait on the Works, no longer on the suspension",
    )
