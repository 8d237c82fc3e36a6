"""status.yaml merging: top-level overwrite, stable condition order, completion, promise rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kratix_py.core.status_merge import (
    StatusFileError,
    mark_completed,
    merge_conditions,
    merge_status,
    parse_status_file,
    status_after_pipeline,
)
from kratix_py.core.workflow_control import WorkflowControl

NOW = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
EARLIER = "2024-04-01T08:00:00Z"


def _condition(kind: str, status: str = "True", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "status": status, "reason": "R", "message": "m", **extra}


def _types(status: dict[str, Any]) -> list[str]:
    return [condition["type"] for condition in status["conditions"]]


def _find(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == kind)


# -- parsing ---------------------------------------------------------------------------------------


def test_an_empty_status_file_merges_nothing() -> None:
    assert parse_status_file("") == {}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("message: [\n", "status.yaml is not valid YAML"),
        ("- a\n- b\n", "status.yaml must be a map of status fields"),
        ("just text\n", "status.yaml must be a map of status fields (e.g. 'message: Ready'), got str"),
        ("kratix:\n  workflows: {}\n", "'kratix' is a status field managed by kratix-py"),
        ("conditions: {type: Ready}\n", "conditions must be a list"),
    ],
)
def test_invalid_status_files_are_rejected(text: str, problem: str) -> None:
    with pytest.raises(StatusFileError) as caught:
        parse_status_file(text)
    assert problem in str(caught.value)


# -- merging ---------------------------------------------------------------------------------------


def test_top_level_keys_are_replaced_not_deep_merged() -> None:
    existing = {"message": "old", "endpoint": {"host": "a", "port": 1}, "kept": True}
    merged, warnings = merge_status(existing, {"message": "new", "endpoint": {"host": "b"}})
    assert merged == {"message": "new", "endpoint": {"host": "b"}, "kept": True}
    assert warnings == []
    assert existing["message"] == "old"  # inputs are not modified


def test_conditions_merge_by_type_keeping_existing_order_and_appending_new_types() -> None:
    existing = {"conditions": [_condition("A"), _condition("B"), _condition("C")]}
    incoming = {"conditions": [_condition("D"), _condition("B", "False"), _condition("E")]}
    merged, _ = merge_status(existing, incoming)
    assert _types(merged) == ["A", "B", "C", "D", "E"]
    assert _find(merged, "B")["status"] == "False"
    # merging the same thing again gives exactly the same list: no churn between runs
    again, _ = merge_status(merged, incoming)
    assert again == merged


def test_condition_time_is_kept_when_status_is_unchanged_and_set_when_it_changes() -> None:
    existing = [
        _condition("Ready", "True", lastTransitionTime=EARLIER),
        _condition("Other", "True", lastTransitionTime=EARLIER),
    ]
    merged, _ = merge_conditions(
        existing, [_condition("Ready", "True"), _condition("Other", "False")], now=NOW
    )
    assert merged[0]["lastTransitionTime"] == EARLIER
    assert merged[1]["lastTransitionTime"] == "2024-05-01T10:00:00Z"


def test_conditions_without_type_are_dropped_with_a_warning() -> None:
    merged, warnings = merge_conditions([], [{"status": "True"}, _condition("Ready")])
    assert [c["type"] for c in merged] == ["Ready"]
    assert warnings == ["status.yaml: ignoring conditions[0], which has no type"]


# -- completion ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("workflow_type", "final_message"),
    [("resource", "Resource requested"), ("promise", "Promise configured")],
)
def test_mark_completed_replaces_pending_and_leaves_completion_to_the_operator(
    workflow_type: str, final_message: str
) -> None:
    in_progress = _condition(
        "ConfigureWorkflowCompleted", "False", reason="PipelinesInProgress", lastTransitionTime=EARLIER
    )
    status = {
        "message": "Pending",
        "conditions": [in_progress],
        "kratix": {"workflows": {"suspendedGeneration": 3, "pipelines": []}},
    }
    completed = mark_completed(status, workflow_type=workflow_type)
    assert completed["message"] == final_message
    # The pod's Job is still running while this runs: only the operator may say "completed".
    assert completed["conditions"] == [in_progress]
    assert completed["kratix"] == {"workflows": {"pipelines": []}}


def test_mark_completed_keeps_a_message_the_pipeline_set() -> None:
    assert mark_completed({"message": "All good"}, workflow_type="resource")["message"] == "All good"


def test_completing_twice_changes_nothing_more() -> None:
    once = mark_completed({"message": "Pending"}, workflow_type="resource")
    assert mark_completed(once, workflow_type="resource") == once


# -- the whole decision ----------------------------------------------------------------------------


def _existing() -> dict[str, Any]:
    return {
        "message": "Pending",
        "conditions": [
            _condition("Reconciled", "Unknown", lastTransitionTime=EARLIER),
            _condition("ConfigureWorkflowCompleted", "False", lastTransitionTime=EARLIER),
        ],
        "kratix": {"workflows": {"pipelines": [{"name": "p1", "phase": "Running"}]}},
    }


def test_last_pipeline_merges_then_completes() -> None:
    update = status_after_pipeline(
        _existing(),
        {"endpoint": "db:5432", "conditions": [_condition("DatabaseReady")]},
        workflow_type="resource",
        pipeline_name="p1",
        generation=2,
        is_last_pipeline=True,
        control=None,
        now=NOW,
    )
    status = update.status
    assert status["endpoint"] == "db:5432"
    assert status["message"] == "Resource requested"
    assert _types(status) == ["Reconciled", "ConfigureWorkflowCompleted", "DatabaseReady"]
    assert _find(status, "ConfigureWorkflowCompleted")["status"] == "False", "the operator completes it"
    assert update.labels == {}


def test_a_pipeline_that_is_not_the_last_does_not_complete() -> None:
    update = status_after_pipeline(
        _existing(),
        {},
        workflow_type="resource",
        pipeline_name="p1",
        generation=2,
        is_last_pipeline=False,
        control=None,
        now=NOW,
    )
    assert update.status["message"] == "Pending"
    assert _find(update.status, "ConfigureWorkflowCompleted")["status"] == "False"


@pytest.mark.parametrize(
    "control", [WorkflowControl(suspend=True), WorkflowControl(retry_after=timedelta(minutes=1))]
)
def test_suspend_or_retry_on_the_last_pipeline_does_not_complete(control: WorkflowControl) -> None:
    update = status_after_pipeline(
        _existing(),
        {},
        workflow_type="resource",
        pipeline_name="p1",
        generation=2,
        is_last_pipeline=True,
        control=control,
        now=NOW,
    )
    assert update.status["message"] == "Pending"
    assert _find(update.status, "ConfigureWorkflowCompleted")["status"] == "False"
    assert update.status["kratix"]["workflows"]["pipelines"][0]["phase"] == "Suspended"
    assert update.labels == {"kratix.io/workflow-suspended": "true"}


def test_promise_workflows_keep_only_message_and_warn_about_the_rest() -> None:
    update = status_after_pipeline(
        {},
        {"message": "configured", "endpoint": "x", "conditions": []},
        workflow_type="promise",
        pipeline_name="p",
        generation=1,
        is_last_pipeline=False,
        control=None,
        now=NOW,
    )
    assert update.status == {"message": "configured"}
    assert update.warnings == (
        "status.yaml: a promise workflow can only set 'message' in the Promise status; ignoring conditions, endpoint",
    )


def test_dry_runs_force_their_message() -> None:
    update = status_after_pipeline(
        _existing(),
        {"message": "x"},
        workflow_type="resource",
        pipeline_name="p1",
        generation=1,
        is_last_pipeline=True,
        control=None,
        now=NOW,
        dry_run=True,
    )
    assert update.status["message"] == "Dry run executed"


def test_control_warnings_are_passed_on() -> None:
    control = WorkflowControl(warnings=("workflow-control.yaml: ignoring unknown field 'x'",))
    update = status_after_pipeline(
        {},
        {},
        workflow_type="resource",
        pipeline_name="p",
        generation=1,
        is_last_pipeline=False,
        control=control,
        now=NOW,
    )
    assert update.warnings == ("workflow-control.yaml: ignoring unknown field 'x'",)
