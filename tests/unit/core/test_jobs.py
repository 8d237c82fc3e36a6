"""Reading pipeline Jobs back for the workflow state machine, and selecting an object's Jobs."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from kratix_py.api.promise import Promise
from kratix_py.contract import WorkflowAction, WorkflowType
from kratix_py.core.jobs import finished_at, job_phase, job_record, job_records, job_selector, removed_note
from kratix_py.core.pipelines import PipelineRun, PipelineSettings, build_pipeline_resources
from kratix_py.core.workflow import JobPhase

PIPELINE = {
    "apiVersion": "platform.kratix.io/v1alpha1",
    "kind": "Pipeline",
    "metadata": {"name": "main"},
    "spec": {"containers": [{"name": "step", "image": "example.com/step:1"}]},
}
REQUEST = {
    "apiVersion": "example.com/v1",
    "kind": "Cache",
    "metadata": {"name": "sessions", "namespace": "team-a", "uid": "req-uid"},
    "spec": {},
}


def promise(pipeline_namespace: str | None = None) -> Promise:
    workflows: dict[str, Any] = {"resource": {"configure": [PIPELINE]}, "promise": {"configure": [PIPELINE]}}
    if pipeline_namespace:
        workflows["config"] = {"pipelineNamespace": pipeline_namespace}
    return Promise.model_validate(
        {"metadata": {"name": "redis", "uid": "promise-uid"}, "spec": {"workflows": workflows}}
    )


def built_job(
    *, run: int = 2, index: int = 0, attempt: int = 3, status: dict[str, Any] | None = None, **spec
):
    """A Job as kratix-py creates it, with ``status`` (and ``spec`` fields) as the cluster reports."""
    owner = promise()
    pipeline_run = PipelineRun(
        promise=owner,
        workflow_type=WorkflowType.RESOURCE,
        action=WorkflowAction.CONFIGURE,
        pipeline=owner.pipelines(WorkflowType.RESOURCE, WorkflowAction.CONFIGURE)[0],
        index=index,
        run=run,
        attempt=attempt,
        spec_hash="hash-1",
        is_last_pipeline=True,
        request=REQUEST,
        request_plural="caches",
    )
    job = copy.deepcopy(build_pipeline_resources(pipeline_run, PipelineSettings(adapter_image="img")).job)
    job["spec"].update(spec)
    if status is not None:
        job["status"] = status
    return job


def condition(
    kind: str, status: str = "True", when: str = "2026-01-01T12:00:00Z", message: str = "", reason: str = ""
):
    return {"type": kind, "status": status, "lastTransitionTime": when, "message": message, "reason": reason}


# --- phase ------------------------------------------------------------------------------------------


def test_a_new_job_is_running():
    assert job_phase(built_job()) is JobPhase.RUNNING
    assert job_phase(built_job(status={"active": 1})) is JobPhase.RUNNING


def test_complete_condition_means_succeeded():
    assert (
        job_phase(built_job(status={"succeeded": 1, "conditions": [condition("Complete")]}))
        is JobPhase.SUCCEEDED
    )


def test_a_succeeded_pod_counts_before_the_complete_condition_arrives():
    assert job_phase(built_job(status={"succeeded": 1, "active": 0})) is JobPhase.SUCCEEDED


def test_failed_condition_means_failed():
    assert job_phase(built_job(status={"failed": 2, "conditions": [condition("Failed")]})) is JobPhase.FAILED


def test_failed_pods_alone_do_not_fail_the_job_while_it_retries():
    assert job_phase(built_job(status={"failed": 1, "active": 1})) is JobPhase.RUNNING
    assert job_phase(built_job(status={"failed": 1})) is JobPhase.RUNNING


def test_a_suspended_job_counts_as_failed_like_kratix():
    status = {"conditions": [condition("Suspended", message="Job suspended")]}
    assert job_phase(built_job(status=status, suspend=True)) is JobPhase.FAILED


def test_a_suspended_condition_without_spec_suspend_is_not_failure():
    # The Job has been resumed; the controller has not yet flipped the condition.
    status = {"active": 1, "conditions": [condition("Suspended", "False")]}
    assert job_phase(built_job(status=status, suspend=False)) is JobPhase.RUNNING


def test_false_conditions_are_not_outcomes():
    status = {"active": 1, "conditions": [condition("Complete", "False"), condition("Failed", "False")]}
    assert job_phase(built_job(status=status)) is JobPhase.RUNNING


# --- records ----------------------------------------------------------------------------------------


def test_record_of_a_running_job():
    job = built_job(status={"active": 1})
    record = job_record(job)
    assert record is not None
    assert record.name == job["metadata"]["name"]
    assert (record.pipeline, record.run, record.index, record.attempt) == ("main", 2, 0, 3)
    assert record.spec_hash == "hash-1"
    assert record.phase is JobPhase.RUNNING
    assert record.finished_at is None and record.message == ""


def test_record_of_a_succeeded_job_uses_completion_time():
    status = {
        "succeeded": 1,
        "completionTime": "2026-01-01T12:05:00Z",
        "conditions": [condition("Complete", when="2026-01-01T12:05:01Z")],
    }
    record = job_record(built_job(status=status))
    assert record is not None and record.phase is JobPhase.SUCCEEDED
    assert record.finished_at == datetime(2026, 1, 1, 12, 5, tzinfo=UTC)


def test_record_of_a_failed_job_has_the_failure_time_and_message():
    status = {
        "failed": 2,
        "conditions": [
            condition(
                "Failed", when="2026-01-01T12:07:00Z", message="Job has reached the specified backoff limit"
            )
        ],
    }
    record = job_record(built_job(status=status))
    assert record is not None and record.phase is JobPhase.FAILED
    assert record.finished_at == datetime(2026, 1, 1, 12, 7, tzinfo=UTC)
    assert record.message == "Job has reached the specified backoff limit"


def test_record_of_a_suspended_job():
    status = {"conditions": [condition("Suspended", when="2026-01-01T12:09:00Z", message="Job suspended")]}
    record = job_record(built_job(status=status, suspend=True))
    assert record is not None and record.phase is JobPhase.FAILED
    assert record.finished_at == datetime(2026, 1, 1, 12, 9, tzinfo=UTC)
    assert record.message == "Job suspended"


@pytest.mark.parametrize("key", ["kratix.io/run-id", "kratix.io/pipeline-index", "kratix.io/attempt"])
def test_jobs_without_kratix_py_bookkeeping_are_not_recorded(key):
    job = built_job()
    del job["metadata"]["annotations"][key]
    assert job_record(job) is None
    job["metadata"]["annotations"][key] = "not-a-number"
    assert job_record(job) is None


def test_records_come_in_run_index_attempt_order():
    jobs = [
        built_job(run=2, index=0, attempt=1),
        built_job(run=1, index=1, attempt=1),
        built_job(run=1, index=0, attempt=2),
    ]
    foreign = built_job()
    del foreign["metadata"]["annotations"]["kratix.io/run-id"]
    records = job_records([*jobs, foreign])
    assert [record.order for record in records] == [(1, 0, 2), (1, 1, 1), (2, 0, 1)]


# --- selectors --------------------------------------------------------------------------------------


def test_promise_job_selector():
    assert job_selector(promise(), WorkflowType.PROMISE, WorkflowAction.CONFIGURE) == {
        "kratix.io/promise-name": "redis",
        "kratix.io/workflow-type": "promise",
        "kratix.io/workflow-action": "configure",
    }


def test_resource_job_selector():
    assert job_selector(promise(), WorkflowType.RESOURCE, WorkflowAction.DELETE, REQUEST) == {
        "kratix.io/promise-name": "redis",
        "kratix.io/workflow-type": "resource",
        "kratix.io/resource-name": "sessions",
        "kratix.io/workflow-action": "delete",
    }


def test_resource_job_selector_with_pipeline_namespace_includes_the_request_namespace():
    selector = job_selector(promise("pipelines"), WorkflowType.RESOURCE, WorkflowAction.CONFIGURE, REQUEST)
    assert selector["kratix.io/resource-namespace"] == "team-a"


def test_selector_without_action_covers_configure_and_delete():
    assert "kratix.io/workflow-action" not in job_selector(promise(), WorkflowType.RESOURCE, None, REQUEST)


def test_resource_selector_needs_the_request():
    with pytest.raises(ValueError, match="request"):
        job_selector(promise(), WorkflowType.RESOURCE, WorkflowAction.CONFIGURE)


def test_a_job_is_finished_when_its_complete_or_failed_condition_turned_true():
    running = {"status": {"active": 1, "conditions": [{"type": "Complete", "status": "False"}]}}
    assert finished_at(running) is None
    # succeeded without the Job controller's verdict yet: the pod TTL has not started
    assert finished_at({"status": {"succeeded": 1}}) is None
    done = {
        "status": {
            "conditions": [
                {"type": "Complete", "status": "True", "lastTransitionTime": "2026-01-02T03:04:05Z"}
            ]
        }
    }
    assert finished_at(done) == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    failed = {"status": {"conditions": [
        {"type": "FailureTarget", "status": "True", "lastTransitionTime": "2026-01-02T03:04:00Z"},
        {"type": "Failed", "status": "True", "lastTransitionTime": "2026-01-02T03:04:09Z"},
    ]}}  # fmt: skip
    assert finished_at(failed) == datetime(2026, 1, 2, 3, 4, 9, tzinfo=UTC)


def test_only_a_job_whose_pods_the_operator_removed_explains_their_absence():
    assert removed_note(None) == removed_note({"metadata": {}}) == ""
    marked = {
        "metadata": {"annotations": {"internal.workflows.kratix.io/pods-removed-at": "2026-01-02T03:04:05Z"}}
    }
    assert removed_note(marked) == "pod removed after workflows.jobOptions.podTTLSecondsAfterFinished"
