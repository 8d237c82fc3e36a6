"""workflow-control.yaml: parsing, retryAfter-over-suspend precedence, and what lands in the status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kratix_py.core.workflow_control import (
    WorkflowControl,
    WorkflowControlError,
    apply_workflow_control,
    parse_workflow_control,
)

NOW = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
SUSPENDED = {"kratix.io/workflow-suspended": "true"}


def _status(**pipeline: object) -> dict[str, object]:
    return {
        "message": "Pending",
        "kratix": {
            "workflows": {
                "pipelines": [{"name": "first", "phase": "Succeeded"}, {"name": "second", **pipeline}]
            }
        },
    }


def _pipeline(status: dict[str, object], name: str = "second") -> dict[str, object]:
    pipelines = status["kratix"]["workflows"]["pipelines"]  # type: ignore[index]
    return next(p for p in pipelines if p["name"] == name)


# -- parsing ---------------------------------------------------------------------------------------


def test_suspend_with_message() -> None:
    control = parse_workflow_control("suspend: true\nmessage: waiting for approval\n")
    assert control == WorkflowControl(suspend=True, message="waiting for approval")
    assert control.pauses_workflow and not control.is_retry


def test_retry_after_is_a_go_duration() -> None:
    control = parse_workflow_control("retryAfter: 1h30m\n")
    assert control.retry_after == timedelta(hours=1, minutes=30)
    assert control.is_retry and control.pauses_workflow


def test_an_empty_file_or_suspend_false_asks_for_nothing() -> None:
    assert not parse_workflow_control("").pauses_workflow
    assert not parse_workflow_control("suspend: false\nmessage: fine\n").pauses_workflow
    assert not parse_workflow_control("retryAfter: ''\n").pauses_workflow


def test_field_names_match_case_insensitively_and_unknown_fields_are_warnings() -> None:
    control = parse_workflow_control("RetryAfter: 30s\nsuspended: true\n")
    assert control.retry_after == timedelta(seconds=30)
    assert control.warnings == (
        "workflow-control.yaml: ignoring unknown field 'suspended' (known: suspend, retryAfter, message)",
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("suspend: [\n", "workflow-control.yaml is not valid YAML"),
        ("- suspend\n", "workflow-control.yaml must be a map"),
        ("suspend: 'yes please'\n", "suspend must be true or false, got 'yes please'"),
        ("retryAfter: 30\n", "retryAfter must be a duration string such as '30s'"),
        ("retryAfter: soon\n", "retryAfter: invalid duration 'soon'"),
        ("retryAfter: '10'\n", "retryAfter: invalid duration '10'"),
        ("retryAfter: '-5m'\n", "retryAfter must not be negative"),
        ("message: [a]\n", "message must be text"),
    ],
)
def test_invalid_files_are_rejected_with_the_field_and_the_fix(text: str, problem: str) -> None:
    with pytest.raises(WorkflowControlError) as caught:
        parse_workflow_control(text)
    assert problem in str(caught.value)


# -- applying it to the status ---------------------------------------------------------------------


def test_suspend_marks_the_pipeline_and_asks_for_the_label() -> None:
    control = parse_workflow_control("suspend: true\nmessage: waiting\n")
    outcome = apply_workflow_control(
        _status(phase="Running"), control, pipeline_name="second", generation=4, now=NOW
    )
    assert outcome.labels == SUSPENDED
    assert _pipeline(outcome.status) == {"name": "second", "phase": "Suspended", "message": "waiting"}
    assert outcome.status["kratix"]["workflows"]["suspendedGeneration"] == 4
    assert _pipeline(outcome.status, "first") == {"name": "first", "phase": "Succeeded"}


def test_retry_sets_next_retry_and_counts_attempts() -> None:
    control = parse_workflow_control("retryAfter: 5m\nmessage: not yet\n")
    first = apply_workflow_control(
        _status(phase="Running"), control, pipeline_name="second", generation=1, now=NOW
    )
    assert _pipeline(first.status) == {
        "name": "second",
        "phase": "Suspended",
        "message": "not yet",
        "nextRetryAt": "2024-05-01T10:05:00Z",
        "attempts": 1,
    }
    later = NOW + timedelta(minutes=5)
    second = apply_workflow_control(first.status, control, pipeline_name="second", generation=1, now=later)
    assert _pipeline(second.status)["attempts"] == 2
    assert _pipeline(second.status)["nextRetryAt"] == "2024-05-01T10:10:00Z"


def test_retry_after_wins_over_suspend() -> None:
    control = parse_workflow_control("suspend: true\nretryAfter: 30s\n")
    outcome = apply_workflow_control(_status(), control, pipeline_name="second", generation=1, now=NOW)
    assert _pipeline(outcome.status)["nextRetryAt"] == "2024-05-01T10:00:30Z"
    assert outcome.labels == SUSPENDED


def test_a_plain_suspend_drops_earlier_retry_details() -> None:
    control = parse_workflow_control("suspend: true\n")
    status = _status(phase="Suspended", message="old", nextRetryAt="2024-01-01T00:00:00Z", attempts=3)
    outcome = apply_workflow_control(status, control, pipeline_name="second", generation=2, now=NOW)
    assert _pipeline(outcome.status) == {"name": "second", "phase": "Suspended"}


def test_no_control_clears_this_pipelines_suspension_and_sets_no_label() -> None:
    status = _status(phase="Suspended", message="old", nextRetryAt="2024-01-01T00:00:00Z", attempts=3)
    outcome = apply_workflow_control(status, None, pipeline_name="second", generation=2, now=NOW)
    assert outcome.labels == {}
    assert _pipeline(outcome.status) == {"name": "second", "phase": "Running"}
    assert _pipeline(status) != _pipeline(outcome.status)  # the input is not modified


def test_no_control_on_an_object_without_workflow_status_changes_nothing() -> None:
    outcome = apply_workflow_control({"message": "hi"}, None, pipeline_name="p", generation=1, now=NOW)
    assert outcome.status == {"message": "hi"}
    assert outcome.warnings == ()


def test_suspending_an_unknown_pipeline_still_records_and_labels_but_warns() -> None:
    control = WorkflowControl(suspend=True)
    outcome = apply_workflow_control({}, control, pipeline_name="p", generation=7, now=NOW)
    assert outcome.labels == SUSPENDED
    assert outcome.status == {"kratix": {"workflows": {"suspendedGeneration": 7}}}
    assert "no entry for pipeline 'p'" in outcome.warnings[0]
