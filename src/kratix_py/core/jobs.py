"""Reading pipeline Jobs back: which of them belong to an object, and what each one tells the
workflow state machine (:class:`kratix_py.core.workflow.JobRecord`).

Kratix orders an object's Jobs by ``creationTimestamp``. kratix-py writes the run number, the
pipeline's position and the attempt into annotations on every Job it creates and reads them back
here, so the order never depends on clocks (kratix-behaviour.md §7.2).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from kratix_py.api.meta import parse_timestamp
from kratix_py.api.promise import Promise
from kratix_py.contract import (
    ANNOTATION_PODS_REMOVED_AT,
    LABEL_HASH,
    LABEL_PIPELINE_NAME,
    LABEL_PROMISE_NAME,
    LABEL_RESOURCE_NAME,
    LABEL_RESOURCE_NAMESPACE,
    LABEL_WORKFLOW_ACTION,
    LABEL_WORKFLOW_TYPE,
    POD_TTL_FIELD,
    WorkflowAction,
    WorkflowType,
)
from kratix_py.core.names import uses_pipeline_namespace
from kratix_py.core.workflow import JobPhase, JobRecord

# kratix-py's own bookkeeping on every pipeline Job (Kratix has no equivalent: it sorts by time).
ANNOTATION_RUN_ID: Final = "kratix.io/run-id"
"""The run this Job belongs to: 1 for the first run of the object's workflow, +1 per new run."""
ANNOTATION_PIPELINE_INDEX: Final = "kratix.io/pipeline-index"
"""The pipeline's position (0-based) in the workflow's list of pipelines."""
ANNOTATION_ATTEMPT: Final = "kratix.io/attempt"
"""1 for the first Job of a pipeline in a run, +1 for each retry or resume of that pipeline."""

_TRUE = "True"


def job_selector(
    promise: Promise,
    workflow_type: WorkflowType | str,
    action: WorkflowAction | str | None,
    request: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Labels selecting the Jobs of one object's workflow, to list in the pipeline namespace.

    ``action=None`` selects both configure and delete Jobs (a delete waits for running configure
    Jobs). With ``pipelineNamespace`` the request namespace is part of the selector too: requests
    of the same name from different namespaces then run their Jobs side by side in one namespace.
    Every Job built by :mod:`kratix_py.core.pipelines` carries these labels.
    """
    workflow_type = WorkflowType(workflow_type)
    labels = {LABEL_PROMISE_NAME: promise.name, LABEL_WORKFLOW_TYPE: str(workflow_type)}
    if workflow_type is WorkflowType.RESOURCE:
        if request is None:
            raise ValueError("a resource workflow's Jobs are selected by the request: pass it")
        metadata = request.get("metadata") or {}
        name, namespace = metadata.get("name"), metadata.get("namespace")
        if not name or not namespace:
            raise ValueError("the request needs metadata.name and metadata.namespace to select its Jobs")
        labels[LABEL_RESOURCE_NAME] = str(name)
        if uses_pipeline_namespace(promise):
            labels[LABEL_RESOURCE_NAMESPACE] = str(namespace)
    if action is not None:
        labels[LABEL_WORKFLOW_ACTION] = str(WorkflowAction(action))
    return labels


def job_phase(job: Mapping[str, Any]) -> JobPhase:
    """Running, Succeeded or Failed, as the Job's status says.

    A Job with ``spec.suspend: true`` and a ``Suspended`` condition counts as failed, as in Kratix:
    that is how a run interrupted by a manual reconciliation ends, and nothing will resume it.
    ``succeeded > 0`` counts as success even before the Job controller writes ``Complete`` (a
    pipeline Job has a single completion); failures count only once the ``Failed`` condition says
    the Job gave up, since until then the Job controller retries failed pods.
    """
    status = job.get("status") or {}
    conditions = status.get("conditions") or []
    if _condition_true(conditions, "Complete"):
        return JobPhase.SUCCEEDED
    if _condition_true(conditions, "Failed"):
        return JobPhase.FAILED
    if (job.get("spec") or {}).get("suspend") is True and _condition_true(conditions, "Suspended"):
        return JobPhase.FAILED
    if int(status.get("active") or 0) == 0 and int(status.get("succeeded") or 0) > 0:
        return JobPhase.SUCCEEDED
    return JobPhase.RUNNING


def job_record(job: Mapping[str, Any]) -> JobRecord | None:
    """What the state machine needs to know about ``job``, or ``None`` if kratix-py did not create it.

    Jobs without kratix-py's run annotations (left by Kratix before a migration, or made by hand
    with the same labels) take no part in kratix-py's decisions; the object's next run then starts
    from the first pipeline, as a rerun of an unchanged specification does in Kratix.
    """
    metadata = job.get("metadata") or {}
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    try:
        run = int(annotations[ANNOTATION_RUN_ID])
        index = int(annotations[ANNOTATION_PIPELINE_INDEX])
        attempt = int(annotations[ANNOTATION_ATTEMPT])
    except (KeyError, TypeError, ValueError):
        return None
    phase = job_phase(job)
    finished_at, message = _outcome(job, phase)
    return JobRecord(
        name=str(metadata.get("name") or ""),
        pipeline=str(labels.get(LABEL_PIPELINE_NAME) or ""),
        index=index,
        run=run,
        attempt=attempt,
        spec_hash=str(labels.get(LABEL_HASH) or ""),
        phase=phase,
        finished_at=finished_at,
        message=message,
    )


def job_records(jobs: Iterable[Mapping[str, Any]]) -> list[JobRecord]:
    """The records of the Jobs kratix-py created, in (run, index, attempt) order."""
    records = [record for record in (job_record(job) for job in jobs) if record is not None]
    return sorted(records, key=lambda record: (record.order, record.name))


def _outcome(job: Mapping[str, Any], phase: JobPhase) -> tuple[datetime | None, str]:
    """When a finished Job finished, and what its failure says (for the object's status)."""
    status = job.get("status") or {}
    conditions = status.get("conditions") or []
    if phase is JobPhase.SUCCEEDED:
        completed = _condition(conditions, "Complete")
        return parse_timestamp(
            status.get("completionTime") or (completed or {}).get("lastTransitionTime")
        ), ""
    if phase is JobPhase.FAILED:
        failed = _condition(conditions, "Failed")
        if failed is not None and failed.get("status") == _TRUE:
            reason, said = str(failed.get("reason") or ""), str(failed.get("message") or "")
            # The reason names the cause a person acts on (DeadlineExceeded, BackoffLimitExceeded).
            message = f"{reason}: {said}" if reason and said else said or reason or "the pipeline Job failed"
            return parse_timestamp(failed.get("lastTransitionTime")), message
        suspended = _condition(conditions, "Suspended") or {}
        message = str(suspended.get("message") or "the pipeline Job was suspended before it finished")
        return parse_timestamp(suspended.get("lastTransitionTime")), message
    return None, ""


def finished_at(job: Mapping[str, Any]) -> datetime | None:
    """When the Job controller declared ``job`` finished (its ``Complete`` or ``Failed`` condition
    turned True), or ``None`` while it runs.

    Only the Job controller's own verdict counts here, not :func:`job_phase`'s early reading of
    ``succeeded``: the pod TTL starts when Kubernetes says the Job is done, as Kratix's does.
    """
    status = job.get("status") or {}
    conditions = status.get("conditions") or []
    for condition_type in ("Complete", "Failed"):
        found = _condition(conditions, condition_type)
        if found is not None and found.get("status") == _TRUE:
            when = found.get("lastTransitionTime") or (
                status.get("completionTime") if condition_type == "Complete" else None
            )
            return parse_timestamp(when)
    return None


def failing(job: Mapping[str, Any]) -> bool:
    """The Job controller has decided the Job fails (``FailureTarget``): its pods go next, and only
    then is it ``Failed``. The moment to read what its pods say."""
    return _condition_true((job.get("status") or {}).get("conditions") or [], "FailureTarget")


def pods_removed(job: Mapping[str, Any]) -> bool:
    """Whether kratix-py deleted this Job's pods for the pod TTL."""
    annotations = (job.get("metadata") or {}).get("annotations") or {}
    return ANNOTATION_PODS_REMOVED_AT in annotations


def removed_note(job: Mapping[str, Any] | None) -> str:
    """Why a finished Job has no pod to read a log from, or ``""`` if kratix-py did not remove them."""
    if job is None or not pods_removed(job):
        return ""
    return f"pod removed after {POD_TTL_FIELD}"


def _condition(conditions: Iterable[Mapping[str, Any]], condition_type: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == condition_type), None)


def _condition_true(conditions: Iterable[Mapping[str, Any]], condition_type: str) -> bool:
    found = _condition(conditions, condition_type)
    return found is not None and found.get("status") == _TRUE
