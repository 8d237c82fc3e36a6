"""``workflow-control.yaml``: a pipeline asking to pause its workflow (behaviour spec §2.10).

A pipeline writes ``{suspend: true, message}`` to stop the workflow until a person removes the
``kratix.io/workflow-suspended`` label, or ``{retryAfter: 5m, message}`` to have kratix-py run it
again later (``retryAfter`` wins when both are set). Either way the work-writer leaves the Work
alone and the status-writer records the suspension in ``status.kratix.workflows``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kratix_py.api.duration import parse_duration
from kratix_py.api.meta import format_timestamp
from kratix_py.contract import LABEL_WORKFLOW_SUSPENDED, TRUE_LABEL_VALUE
from kratix_py.core.limited_yaml import DEFAULT_YAML_LIMITS, YamlLimitError, YamlLimits, load_yaml

WORKFLOW_CONTROL_FILE = "workflow-control.yaml"
PHASE_SUSPENDED = "Suspended"
PHASE_RUNNING = "Running"

_KNOWN_KEYS = {"suspend": "suspend", "retryafter": "retryAfter", "message": "message"}


class WorkflowControlError(ValueError):
    """``workflow-control.yaml`` is malformed; the message names the file, the field and the fix."""


@dataclass(frozen=True)
class WorkflowControl:
    """What the pipeline asked for. ``retry_after`` is set only when ``retryAfter`` was given."""

    suspend: bool = False
    retry_after: timedelta | None = None
    message: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def is_retry(self) -> bool:
        return self.retry_after is not None

    @property
    def pauses_workflow(self) -> bool:
        """Suspend or retry: the Work is left untouched and the workflow is not marked complete."""
        return self.suspend or self.is_retry


def parse_workflow_control(
    text: str | bytes, *, filename: str = WORKFLOW_CONTROL_FILE, limits: YamlLimits = DEFAULT_YAML_LIMITS
) -> WorkflowControl:
    """Validate the file: ``suspend`` a boolean, ``retryAfter`` a Go duration (``30s``, ``1h30m``), ``message`` text.

    Field names match case-insensitively, as Kratix's Go decoder does; unknown fields are reported
    as warnings (a misspelt ``retryafter`` would otherwise silently not retry).
    """
    try:
        document = load_yaml(text, filename=filename, limits=limits)
    except YamlLimitError as error:
        raise WorkflowControlError(str(error)) from None
    if document is None:
        return WorkflowControl()
    if not isinstance(document, Mapping):
        raise WorkflowControlError(
            f"{filename} must be a map like 'suspend: true' or 'retryAfter: 5m', got {type(document).__name__}"
        )
    fields: dict[str, Any] = {}
    warnings: list[str] = []
    for key, value in document.items():
        known = _KNOWN_KEYS.get(str(key).lower())
        if known is None:
            warnings.append(
                f"{filename}: ignoring unknown field {key!r} (known: suspend, retryAfter, message)"
            )
        else:
            fields[known] = value

    suspend = fields.get("suspend", False)
    if suspend is None:
        suspend = False
    if not isinstance(suspend, bool):
        raise WorkflowControlError(f"{filename}: suspend must be true or false, got {suspend!r}")

    retry_after: timedelta | None = None
    raw_retry = fields.get("retryAfter")
    if raw_retry not in (None, ""):
        if not isinstance(raw_retry, str):
            raise WorkflowControlError(
                f"{filename}: retryAfter must be a duration string such as '30s', '5m' or '1h30m', got {raw_retry!r}"
            )
        try:
            retry_after = parse_duration(raw_retry)
        except ValueError as error:
            raise WorkflowControlError(f"{filename}: retryAfter: {error}") from None
        if retry_after < timedelta(0):
            raise WorkflowControlError(f"{filename}: retryAfter must not be negative, got {raw_retry!r}")

    message = fields.get("message")
    if message is None:
        message = ""
    if not isinstance(message, str):
        raise WorkflowControlError(f"{filename}: message must be text, got {message!r}")
    return WorkflowControl(
        suspend=suspend, retry_after=retry_after, message=message, warnings=tuple(warnings)
    )


@dataclass(frozen=True)
class ControlOutcome:
    """The status after applying workflow control, the labels to set on the object, and warnings."""

    status: dict[str, Any]
    labels: dict[str, str]
    warnings: tuple[str, ...] = ()


def _workflows(status: dict[str, Any]) -> dict[str, Any]:
    """``status.kratix.workflows``, created if absent."""
    kratix = status.get("kratix")
    if not isinstance(kratix, dict):
        kratix = status["kratix"] = {}
    workflows = kratix.get("workflows")
    if not isinstance(workflows, dict):
        workflows = kratix["workflows"] = {}
    return workflows


def _pipeline_entry(workflows: Mapping[str, Any], pipeline_name: str) -> dict[str, Any] | None:
    for entry in workflows.get("pipelines") or []:
        if isinstance(entry, dict) and entry.get("name") == pipeline_name:
            return entry
    return None


def apply_workflow_control(
    status: Mapping[str, Any],
    control: WorkflowControl | None,
    *,
    pipeline_name: str,
    generation: int,
    now: datetime,
) -> ControlOutcome:
    """Record a suspension or retry in ``status.kratix.workflows``, or clear an earlier one.

    Pausing: the pipeline's phase becomes ``Suspended`` with the message, ``suspendedGeneration`` is
    the object's generation, a retry adds ``nextRetryAt`` (now + retryAfter) and counts ``attempts``,
    and the object must get ``kratix.io/workflow-suspended: "true"``. Not pausing: any earlier
    suspension details of this pipeline are removed and its phase is ``Running`` again (the
    controller marks it ``Succeeded`` once the Job is done).
    """
    result = copy.deepcopy(dict(status))
    pauses = control is not None and control.pauses_workflow
    kratix = result.get("kratix")
    existing = kratix.get("workflows") if isinstance(kratix, dict) else None
    workflows = _workflows(result) if pauses else (existing if isinstance(existing, dict) else {})
    entry = _pipeline_entry(workflows, pipeline_name)
    if control is None or not pauses:
        if entry is not None:
            entry["phase"] = PHASE_RUNNING
            for key in ("message", "nextRetryAt", "attempts"):
                entry.pop(key, None)
        return ControlOutcome(status=result, labels={})

    warnings: list[str] = []
    if entry is None:
        # The controller writes one entry per pipeline before starting the Job; when it is missing we
        # still record the suspension and the label rather than fail the pipeline over bookkeeping.
        warnings.append(
            f"status.kratix.workflows.pipelines has no entry for pipeline {pipeline_name!r}; "
            "recorded the suspension without the pipeline's phase"
        )
    workflows["suspendedGeneration"] = generation
    if entry is not None:
        entry["phase"] = PHASE_SUSPENDED
        if control.message:
            entry["message"] = control.message
        else:
            entry.pop("message", None)
        if control.retry_after is not None:
            entry["nextRetryAt"] = format_timestamp(now + control.retry_after)
            previous = entry.get("attempts")
            entry["attempts"] = (
                previous if isinstance(previous, int) and not isinstance(previous, bool) else 0
            ) + 1
        else:
            entry.pop("nextRetryAt", None)
            entry.pop("attempts", None)
    return ControlOutcome(
        status=result, labels={LABEL_WORKFLOW_SUSPENDED: TRUE_LABEL_VALUE}, warnings=tuple(warnings)
    )
