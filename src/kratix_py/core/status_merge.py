"""What the status-writer makes of ``status.yaml`` (behaviour spec §2.9).

The pipeline's ``/kratix/metadata/status.yaml`` is merged into the object's existing status: each
top-level key from the file replaces the existing one, except ``conditions``, which are merged by
``type``. Unlike Kratix, the merged list keeps the existing order and appends new types at the end,
so an unchanged status serialises identically and a re-run does not produce a noisy update.
After the last pipeline of a workflow the object is marked complete. All functions are pure;
the current time is a parameter.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kratix_py.api.meta import format_timestamp
from kratix_py.core.limited_yaml import DEFAULT_YAML_LIMITS, YamlLimitError, YamlLimits, load_yaml
from kratix_py.core.workflow_control import WorkflowControl, apply_workflow_control

STATUS_FILE = "status.yaml"

MESSAGE_PENDING = "Pending"
MESSAGE_RESOURCE_REQUESTED = "Resource requested"
MESSAGE_PROMISE_CONFIGURED = "Promise configured"
MESSAGE_DRY_RUN_EXECUTED = "Dry run executed"
REASON_PIPELINES_EXECUTED_SUCCESSFULLY = "PipelinesExecutedSuccessfully"
MESSAGE_PIPELINES_COMPLETED = "Pipelines completed"

RESERVED_STATUS_KEY = "kratix"


class StatusFileError(ValueError):
    """``status.yaml`` cannot be merged; the message names the file, the problem and the fix."""


def parse_status_file(
    text: str | bytes, *, filename: str = STATUS_FILE, limits: YamlLimits = DEFAULT_YAML_LIMITS
) -> dict[str, Any]:
    """Read ``status.yaml``: a map (empty file = nothing to merge), without the reserved ``kratix`` key.

    Parsed within ``limits`` (size, depth, aliases), so an alias bomb is refused here rather than
    expanded when the status is sent to the API server.
    """
    try:
        document = load_yaml(text, filename=filename, limits=limits)
    except YamlLimitError as error:
        raise StatusFileError(str(error)) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise StatusFileError(
            f"{filename} must be a map of status fields (e.g. 'message: Ready'), got {type(document).__name__}"
        )
    if RESERVED_STATUS_KEY in document:
        raise StatusFileError(
            f"{filename}: 'kratix' is a status field managed by kratix-py and cannot be set by a pipeline; "
            f"remove the 'kratix' key from /kratix/metadata/{STATUS_FILE}"
        )
    conditions = document.get("conditions")
    if conditions is not None and not isinstance(conditions, list):
        raise StatusFileError(
            f"{filename}: conditions must be a list of {{type, status, reason, message}} maps, "
            f"got {type(conditions).__name__}"
        )
    return {str(key): value for key, value in document.items()}


@dataclass(frozen=True)
class StatusUpdate:
    """The status to write, the labels to set on the object (``{}`` for none) and warnings for the log."""

    status: dict[str, Any]
    labels: dict[str, str]
    warnings: tuple[str, ...] = ()


def _condition_type(condition: Any) -> str | None:
    if isinstance(condition, Mapping) and isinstance(condition.get("type"), str) and condition["type"]:
        return str(condition["type"])
    return None


def merge_conditions(
    existing: Sequence[Any], incoming: Sequence[Any], *, now: datetime | None = None
) -> tuple[list[Any], list[str]]:
    """Merge conditions by ``type``: incoming replaces in place, new types are appended in order.

    An incoming condition without ``lastTransitionTime`` keeps the existing one when its ``status``
    is unchanged, and gets ``now`` otherwise (when ``now`` is given). Entries without a ``type``
    cannot be merged and are dropped with a warning.
    """
    merged: list[Any] = [copy.deepcopy(condition) for condition in existing]
    position = {kind: index for index, condition in enumerate(merged) if (kind := _condition_type(condition))}
    warnings: list[str] = []
    for index, condition in enumerate(incoming):
        kind = _condition_type(condition)
        if kind is None:
            warnings.append(f"{STATUS_FILE}: ignoring conditions[{index}], which has no type")
            continue
        new = dict(condition)
        previous = merged[position[kind]] if kind in position else None
        if "lastTransitionTime" not in new and now is not None:
            unchanged = isinstance(previous, Mapping) and previous.get("status") == new.get("status")
            if unchanged and isinstance(previous, Mapping) and previous.get("lastTransitionTime"):
                new["lastTransitionTime"] = previous["lastTransitionTime"]
            else:
                new["lastTransitionTime"] = format_timestamp(now)
        if kind in position:
            merged[position[kind]] = new
        else:
            position[kind] = len(merged)
            merged.append(new)
    return merged, warnings


def merge_status(
    existing: Mapping[str, Any], incoming: Mapping[str, Any], *, now: datetime | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Shallow merge, incoming wins per top-level key; ``conditions`` merged by type (see above)."""
    result = copy.deepcopy(dict(existing))
    warnings: list[str] = []
    for key, value in incoming.items():
        if key == "conditions" and isinstance(value, list):
            current = result.get("conditions")
            merged, problems = merge_conditions(current if isinstance(current, list) else [], value, now=now)
            result["conditions"] = merged
            warnings.extend(problems)
        else:
            result[key] = copy.deepcopy(value)
    return result, warnings


def promise_status_fields(incoming: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Promise workflows may only set ``message``: the Promise CRD has no room for other fields."""
    kept = {key: value for key, value in incoming.items() if key == "message"}
    dropped = sorted(key for key in incoming if key != "message")
    warnings = []
    if dropped:
        warnings.append(
            f"{STATUS_FILE}: a promise workflow can only set 'message' in the Promise status; "
            f"ignoring {', '.join(dropped)}"
        )
    return kept, warnings


def mark_completed(status: Mapping[str, Any], *, workflow_type: str) -> dict[str, Any]:
    """The last pipeline's containers are done: a final message, no suspension.

    ``ConfigureWorkflowCompleted=True`` is *not* set here, unlike Kratix's status-writer: this
    runs inside the pipeline's pod, whose Job still shows Running until the pod exits, so the
    condition would claim completion seconds before it is true. The operator sets it once it
    sees the Job succeed (operator.workflows), the only place that knows.
    """
    result = copy.deepcopy(dict(status))
    if result.get("message") == MESSAGE_PENDING:
        result["message"] = (
            MESSAGE_PROMISE_CONFIGURED if workflow_type == "promise" else MESSAGE_RESOURCE_REQUESTED
        )
    kratix = result.get("kratix")
    if isinstance(kratix, dict) and isinstance(kratix.get("workflows"), dict):
        kratix["workflows"].pop("suspendedGeneration", None)
    return result


def status_after_pipeline(
    existing: Mapping[str, Any],
    incoming: Mapping[str, Any],
    *,
    workflow_type: str,
    pipeline_name: str,
    generation: int,
    is_last_pipeline: bool,
    control: WorkflowControl | None,
    now: datetime,
    dry_run: bool = False,
) -> StatusUpdate:
    """Everything the status-writer decides after one pipeline: merge, completion, suspension.

    ``incoming`` is the parsed ``status.yaml`` (see :func:`parse_status_file`), ``existing`` the
    object's current status. Completion is only marked after the last pipeline and never while
    the pipeline asked to suspend or retry.
    """
    warnings: list[str] = []
    if workflow_type == "promise":
        incoming, dropped = promise_status_fields(incoming)
        warnings.extend(dropped)
    status, problems = merge_status(existing, incoming, now=now)
    warnings.extend(problems)
    if is_last_pipeline and not (control is not None and control.pauses_workflow):
        status = mark_completed(status, workflow_type=workflow_type)
    if control is not None:
        warnings.extend(control.warnings)
    outcome = apply_workflow_control(
        status, control, pipeline_name=pipeline_name, generation=generation, now=now
    )
    warnings.extend(outcome.warnings)
    status = outcome.status
    if dry_run:
        status["message"] = MESSAGE_DRY_RUN_EXECUTED
    return StatusUpdate(status=status, labels=outcome.labels, warnings=tuple(warnings))
