"""Carrying out configure and delete workflows for a Promise or a resource request.

The decisions are :mod:`kratix_py.core.workflow`'s; the objects are :mod:`kratix_py.core.pipelines`'.
This module reads the object's Jobs, asks for the next step, applies it (pipeline RBAC and the Job,
label removal, pruning) and returns the status the object should now have. It never sleeps and never
waits for a Job: Job events bring the object back to the queue.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api import Promise
from kratix_py.api.meta import parse_timestamp
from kratix_py.contract import WorkflowAction, WorkflowType
from kratix_py.core import conditions as cond
from kratix_py.core import redact
from kratix_py.core.jobs import job_records, job_selector
from kratix_py.core.names import pipeline_namespace
from kratix_py.core.pipelines import PipelineRun, PipelineSettings, build_pipeline_resources
from kratix_py.core.rbac import permission_labels, stale_permission_objects
from kratix_py.core.workflow import (
    Completed,
    Decision,
    DeleteState,
    Failed,
    JobPhase,
    JobRecord,
    RetryPolicy,
    Start,
    Suspended,
    Wait,
    WorkflowState,
    decide,
    decide_delete,
    jobs_to_prune,
)
from kratix_py.operator import metrics
from kratix_py.operator.reconciler import label_on

log = logging.getLogger(__name__)

_KIND_RESOURCES = {
    "ServiceAccount": k.SERVICEACCOUNTS,
    "ConfigMap": k.CONFIGMAPS,
    "Role": k.ROLES,
    "RoleBinding": k.ROLEBINDINGS,
    "ClusterRole": k.CLUSTERROLES,
    "ClusterRoleBinding": k.CLUSTERROLEBINDINGS,
    "Job": k.JOBS,
}

_PERMISSION_RESOURCES = (k.ROLES, k.ROLEBINDINGS, k.CLUSTERROLES, k.CLUSTERROLEBINDINGS)
"""Where ``rbac.permissions`` become objects (found again by their labels to revoke stale ones)."""

PHASE_PENDING, PHASE_RUNNING, PHASE_SUCCEEDED, PHASE_FAILED, PHASE_SUSPENDED = (
    "Pending",
    "Running",
    "Succeeded",
    "Failed",
    "Suspended",
)


@dataclass
class Outcome:
    """What a workflow step did and what the object's status should say about it."""

    decision: Decision
    status: dict[str, Any]
    now: datetime
    events: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, reason, message) to record, beyond the condition-transition events."""

    @property
    def completed(self) -> bool:
        return isinstance(self.decision, Completed)

    @property
    def failed(self) -> bool:
        return isinstance(self.decision, Failed)

    @property
    def requeue_after(self) -> timedelta | None:
        decision = self.decision
        if isinstance(decision, Completed):
            return decision.requeue_after
        if isinstance(decision, Failed) and decision.retry_at is not None:
            return max(decision.retry_at - self.now, timedelta(seconds=1))
        if isinstance(decision, Suspended) and decision.resume_at is not None:
            return max(decision.resume_at - self.now, timedelta(seconds=1))
        if isinstance(decision, Wait):
            return decision.requeue_after
        return None


@dataclass
class Subject:
    """The object a workflow runs for: the Promise itself or one of its resource requests."""

    promise: Promise
    workflow_type: WorkflowType
    obj: dict[str, Any]
    resource: k.Resource
    spec_hash: str
    change_reason: str = "the specification changed"
    """What a new spec hash means for this object (see WorkflowState.change_reason)."""

    @property
    def request(self) -> dict[str, Any] | None:
        return self.obj if self.workflow_type is WorkflowType.RESOURCE else None

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.obj.get("metadata") or {}).get("labels") or {})

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        namespace = (self.obj.get("metadata") or {}).get("namespace")
        return str(namespace) if namespace else None


class WorkflowRunner:
    """Runs the workflows of Promises and requests through the Kubernetes API."""

    def __init__(
        self,
        kube: k.Kube,
        pipeline_settings: PipelineSettings,
        *,
        jobs_to_keep: int = 5,
        default_interval: timedelta | None = timedelta(hours=10),
        retry: RetryPolicy | None = None,
        reconcile_after_failure: bool = True,
    ) -> None:
        self.kube = kube
        self.pipeline_settings = pipeline_settings
        self.jobs_to_keep = jobs_to_keep
        self.default_interval = default_interval
        self.retry = retry or RetryPolicy()
        self.reconcile_after_failure = reconcile_after_failure

    # -- reading -----------------------------------------------------------------------------------
    def jobs(self, subject: Subject, action: WorkflowAction | None) -> list[dict[str, Any]]:
        namespace = pipeline_namespace(subject.promise, subject.workflow_type, subject.namespace)
        selector = job_selector(subject.promise, subject.workflow_type, action, subject.request)
        return self.kube.list(k.JOBS, namespace, labels=selector)

    # -- configure ---------------------------------------------------------------------------------
    def configure(self, subject: Subject, now: datetime) -> Outcome:
        pipelines = list(subject.promise.pipelines(subject.workflow_type, WorkflowAction.CONFIGURE))
        status = copy.deepcopy(subject.obj.get("status") or {})
        jobs = self.jobs(subject, WorkflowAction.CONFIGURE)
        records = job_records(jobs)
        workflows_status = (status.get("kratix") or {}).get("workflows") or {}
        suspended_index, resume_at = _suspension(workflows_status, pipelines, records)
        completed = cond.find(status.get("conditions"), c.CONDITION_CONFIGURE_WORKFLOW_COMPLETED)
        completed_at = None
        if completed is not None and completed.get("status") == cond.TRUE:
            completed_at = parse_timestamp(completed.get("lastTransitionTime"))
        state = WorkflowState(
            pipelines=[p.name for p in pipelines],
            spec_hash=subject.spec_hash,
            jobs=records,
            now=now,
            rerun_requested=label_on(subject.obj, c.LABEL_MANUAL_RECONCILIATION)
            or label_on(subject.obj, c.LABEL_RUN_FROM_START),
            completed_at=completed_at,
            interval=subject.promise.reconciliation_interval() or self.default_interval,
            retry=self.retry,
            suspended=label_on(subject.obj, c.LABEL_WORKFLOW_SUSPENDED),
            suspended_index=suspended_index,
            resume_at=resume_at,
            change_reason=subject.change_reason,
            reconcile_after_failure=self.reconcile_after_failure,
        )
        decision = decide(state)
        events: list[tuple[str, str, str]] = []
        if isinstance(decision, Suspended) and decision.resume_at is not None and decision.resume_at <= now:
            # The pipeline asked to be retried later and that time has come: lift the suspension.
            self._remove_labels(subject, [c.LABEL_WORKFLOW_SUSPENDED])
            state = WorkflowState(**{**state.__dict__, "suspended": False})
            decision = decide(state)
        if isinstance(decision, Start):
            self._start(subject, pipelines, decision, WorkflowAction.CONFIGURE)
            events.append(("Normal", "PipelineStarted", _started_message(pipelines, decision)))
        self._prune(subject, records)
        if isinstance(decision, Failed):
            decision = Failed(
                decision.index,
                decision.job,
                self.failure_detail(subject, pipelines, decision),
                decision.retry_at,
            )
            events.append(("Warning", "PipelineFailed", decision.message))
        status = _configure_status(status, pipelines, records, decision, now, subject)
        return Outcome(decision, status, now, events)

    # -- delete ------------------------------------------------------------------------------------
    def delete(self, subject: Subject, now: datetime) -> Outcome:
        pipeline = subject.promise.delete_pipeline(subject.workflow_type)
        status = copy.deepcopy(subject.obj.get("status") or {})
        all_jobs = self.jobs(subject, None)
        configure_running = any(
            record.phase is JobPhase.RUNNING
            for record in job_records(
                j for j in all_jobs if _job_label(j, c.LABEL_WORKFLOW_ACTION) == WorkflowAction.CONFIGURE
            )
        )
        delete_records = job_records(
            j for j in all_jobs if _job_label(j, c.LABEL_WORKFLOW_ACTION) == WorkflowAction.DELETE
        )
        decision = decide_delete(
            DeleteState(
                pipeline=pipeline.name if pipeline else None,
                delete_jobs=delete_records,
                configure_running=configure_running,
                now=now,
                rerun_requested=label_on(subject.obj, c.LABEL_MANUAL_RECONCILIATION),
                retry=self.retry,
            )
        )
        events: list[tuple[str, str, str]] = []
        if isinstance(decision, Start) and pipeline is not None:
            self._start(subject, [pipeline], decision, WorkflowAction.DELETE)
            events.append(("Normal", "DeletePipelineStarted", f"Delete pipeline {pipeline.name} started"))
        conditions = status.get("conditions")
        if isinstance(decision, Failed):
            detail = self.failure_detail(subject, [pipeline], decision)
            conditions = cond.set_condition(
                conditions,
                cond.Condition(
                    c.CONDITION_DELETE_WORKFLOW_COMPLETED,
                    cond.FALSE,
                    "DeleteWorkflowFailed",
                    f"{detail}. Deletion waits until the delete pipeline succeeds: fix it and add the label "
                    f"{c.LABEL_MANUAL_RECONCILIATION}=true to rerun it, or remove the finalizer "
                    f"{c.FINALIZER_DELETE_WORKFLOWS} to abandon it.",
                ),
                now,
            )
        elif isinstance(decision, Start | Wait):
            conditions = cond.set_condition(
                conditions,
                cond.Condition(
                    c.CONDITION_DELETE_WORKFLOW_COMPLETED,
                    cond.FALSE,
                    "DeleteWorkflowRunning",
                    "Delete pipeline running",
                ),
                now,
            )
        if conditions is not None:
            status["conditions"] = conditions
        self._prune(subject, delete_records)
        return Outcome(decision, status, now, events)

    # -- acting ------------------------------------------------------------------------------------
    def _start(
        self, subject: Subject, pipelines: Sequence[Any], decision: Start, action: WorkflowAction
    ) -> None:
        if decision.new_run:
            self._remove_labels(subject, [c.LABEL_MANUAL_RECONCILIATION, c.LABEL_RUN_FROM_START])
        run = PipelineRun(
            promise=subject.promise,
            workflow_type=subject.workflow_type,
            action=action,
            pipeline=pipelines[decision.index],
            index=decision.index,
            run=decision.run,
            attempt=decision.attempt,
            spec_hash=subject.spec_hash,
            is_last_pipeline=decision.index == len(pipelines) - 1,
            request=subject.request,
            request_plural=subject.resource.plural if subject.request is not None else None,
        )
        resources = build_pipeline_resources(run, self.pipeline_settings)
        self._revoke_stale_permissions(subject, run, resources.namespace, resources.rbac)
        for obj in resources.objects():
            resource = _KIND_RESOURCES[obj["kind"]]
            if obj is resources.service_account and resources.service_account_named_by_pipeline:
                self._ensure_named_service_account(obj)
            elif obj["kind"] == "Job":
                try:
                    self.kube.create(resource, obj)
                    metrics.PIPELINE_RUNS.labels(str(run.workflow_type), str(action)).inc()
                except k.KubeError as error:
                    if not error.conflict:  # 409: this exact run was started before (e.g. before a restart)
                        raise
            else:
                self.kube.apply(resource, obj)
        log.info(
            "started %s pipeline %s for %s (run %d, attempt %d): %s",
            action,
            pipelines[decision.index].name,
            subject.name,
            decision.run,
            decision.attempt,
            decision.reason,
        )

    def _ensure_named_service_account(self, account: Mapping[str, Any]) -> None:
        """Create the ServiceAccount a pipeline names in ``rbac.serviceAccount`` if it is missing.

        One that exists is updated only if this Promise created it (its label says so); any other
        belongs to a person or another Promise and is left exactly as it is, as Kratix does.
        """
        meta = account["metadata"]
        existing = self.kube.get(k.SERVICEACCOUNTS, meta["name"], meta["namespace"])
        if existing is None:
            try:
                self.kube.create(k.SERVICEACCOUNTS, account)
                log.info(
                    "created ServiceAccount %s/%s named by the pipeline", meta["namespace"], meta["name"]
                )
                return
            except k.KubeError as error:
                if not error.conflict:
                    raise
                existing = self.kube.get(k.SERVICEACCOUNTS, meta["name"], meta["namespace"])
        owner = ((existing or {}).get("metadata", {}).get("labels") or {}).get(c.LABEL_PROMISE_NAME)
        if owner == meta["labels"][c.LABEL_PROMISE_NAME]:
            self.kube.apply(k.SERVICEACCOUNTS, account)

    def _revoke_stale_permissions(
        self, subject: Subject, run: PipelineRun, namespace: str, desired: Sequence[Mapping[str, Any]]
    ) -> None:
        """Delete Roles/bindings of ``rbac.permissions`` the pipeline no longer asks for (§2.6)."""
        selector = permission_labels(
            subject.promise.name, run.pipeline.name, namespace, run.workflow_type, run.action
        )
        existing: list[dict[str, Any]] = []
        for resource in _PERMISSION_RESOURCES:
            existing += [
                {**item, "kind": resource.kind} for item in self.kube.list(resource, None, labels=selector)
            ]
        for stale in stale_permission_objects(existing, desired):
            meta = stale["metadata"]
            self.kube.delete(_KIND_RESOURCES[str(stale["kind"])], meta["name"], meta.get("namespace"))
            log.info("revoked %s %s: the pipeline no longer asks for it", stale["kind"], meta["name"])

    def _remove_labels(self, subject: Subject, keys: Sequence[str]) -> None:
        present = [key for key in keys if key in subject.labels]
        if not present:
            return
        patch = {"metadata": {"labels": dict.fromkeys(present)}}
        updated = self.kube.patch(subject.resource, subject.name, patch, subject.namespace)
        subject.obj["metadata"] = updated["metadata"]

    def _prune(self, subject: Subject, records: Sequence[JobRecord]) -> None:
        namespace = pipeline_namespace(subject.promise, subject.workflow_type, subject.namespace)
        for name in jobs_to_prune(records, keep=self.jobs_to_keep):
            self.kube.delete(k.JOBS, name, namespace)

    def failure_detail(self, subject: Subject, pipelines: Sequence[Any], failed: Failed) -> str:
        """ "pipeline X failed: container Y exited 3: <last log lines>" — what a person needs to act.

        The log and termination message are the pipeline's own words: the values of the Secrets
        its pod reads are masked (core.redact) before they can reach a condition or an Event.
        """
        namespace = pipeline_namespace(subject.promise, subject.workflow_type, subject.namespace)
        pipeline = pipelines[failed.index].name if failed.index < len(pipelines) else failed.job
        detail = f"pipeline {pipeline} (Job {failed.job}) failed"
        try:
            pods = self.kube.list(k.PODS, namespace, labels={"job-name": failed.job})
        except k.KubeError:
            pods = []
        for pod in pods:
            statuses = (pod.get("status") or {}).get("initContainerStatuses") or []
            statuses = [*statuses, *((pod.get("status") or {}).get("containerStatuses") or [])]
            for container in statuses:
                state = container.get("state") or {}
                terminated = state.get("terminated") or {}
                waiting = state.get("waiting") or {}
                if terminated and terminated.get("exitCode", 0) != 0:
                    secrets = self._secret_values(namespace, pod)
                    if secrets is None:
                        log_tail, message = "(log not shown: its Secrets could not be read to mask them)", ""
                    else:
                        log_tail = self._log_tail(
                            namespace, pod["metadata"]["name"], container["name"], secrets
                        )
                        message = redact.mask(str(terminated.get("message") or ""), secrets)
                    reason = message or log_tail or terminated.get("reason") or ""
                    return f"{detail}: container {container['name']} exited {terminated.get('exitCode')}" + (
                        f": {reason}" if reason else ""
                    )
                if waiting.get("reason") and waiting.get("reason") not in ("PodInitializing",):
                    return f"{detail}: container {container['name']}: {waiting.get('reason')}: " + str(
                        waiting.get("message") or ""
                    )
        return f"{detail}: {failed.message}" if failed.message else detail

    def _secret_values(self, namespace: str, pod: Mapping[str, Any]) -> list[str] | None:
        """The values of every Secret the pod reads; ``None`` if one exists but cannot be read."""
        references = redact.secret_references(pod.get("spec") or {})
        secrets: dict[str, Mapping[str, Any]] = {}
        for name in sorted({reference.name for reference in references}):
            try:
                secret = self.kube.get(k.SECRETS, name, namespace)
            except k.KubeError:
                return None
            if secret is not None:
                secrets[name] = secret
        return redact.referenced_values(references, secrets)

    def _log_tail(
        self, namespace: str, pod: str, container: str, secrets: Sequence[str], lines: int = 5
    ) -> str:
        try:
            text = self.kube.request_text(
                k.PODS.path(namespace, pod, "log"), query={"container": container, "tailLines": lines}
            )
        except k.KubeError:
            return ""
        # Masked before it is cut, so a value split by the cut cannot leave its first half behind.
        text = redact.mask(text, secrets)
        return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:] if line.strip())[:800]


def _configure_status(
    status: dict[str, Any],
    pipelines: Sequence[Any],
    records: Sequence[JobRecord],
    decision: Decision,
    now: datetime,
    subject: Subject,
) -> dict[str, Any]:
    """The workflow part of the object's status after ``decision`` (conditions, counters, phases)."""
    names = [p.name for p in pipelines]
    kratix = dict(status.get("kratix") or {})
    workflows = dict(kratix.get("workflows") or {})
    entries = [dict(e) for e in workflows.get("pipelines") or [] if isinstance(e, Mapping)]
    if [e.get("name") for e in entries] != names:
        entries = [{"name": name, "phase": PHASE_PENDING} for name in names]
    run = (
        decision.run if isinstance(decision, Start | Completed) else max((r.run for r in records), default=0)
    )
    current = {r.index: r for r in records if r.run == run}
    if isinstance(decision, Start) and decision.new_run:
        current = {}
        for entry in entries:
            entry.update(phase=PHASE_PENDING)
            for key in ("message", "nextRetryAt", "attempts"):
                entry.pop(key, None)
    for index, entry in enumerate(entries):
        record = current.get(index)
        if (
            entry.get("phase") == PHASE_SUSPENDED
            and isinstance(decision, Suspended)
            and decision.index == index
        ):
            continue
        if isinstance(decision, Start) and decision.index == index:
            _set_phase(entry, PHASE_RUNNING, now)
        elif record is not None:
            phase = {JobPhase.RUNNING: PHASE_RUNNING, JobPhase.SUCCEEDED: PHASE_SUCCEEDED}.get(
                record.phase, PHASE_FAILED
            )
            _set_phase(entry, phase, now)
    succeeded = sum(1 for e in entries if e.get("phase") == PHASE_SUCCEEDED)
    status["workflows"] = len(names)
    status["workflowsSucceeded"] = succeeded if names else 0
    status["workflowsFailed"] = 1 if isinstance(decision, Failed) else 0
    if names:
        workflows["pipelines"] = entries
    else:
        workflows.pop("pipelines", None)
    conditions = status.get("conditions")
    if isinstance(decision, Start):
        if decision.new_run or "message" not in status:
            status["message"] = "Pending"
        conditions = cond.set_condition(
            conditions,
            cond.Condition(
                c.CONDITION_CONFIGURE_WORKFLOW_COMPLETED,
                cond.FALSE,
                "PipelinesInProgress",
                "Pipelines are still in progress",
            ),
            now,
        )
    elif isinstance(decision, Failed):
        conditions = cond.set_condition(
            conditions,
            cond.Condition(
                c.CONDITION_CONFIGURE_WORKFLOW_COMPLETED,
                cond.FALSE,
                "ConfigureWorkflowFailed",
                decision.message,
            ),
            now,
        )
    elif isinstance(decision, Completed) and names:
        was_completed = cond.is_true(conditions, c.CONDITION_CONFIGURE_WORKFLOW_COMPLETED)
        conditions = cond.set_condition(
            conditions,
            cond.Condition(
                c.CONDITION_CONFIGURE_WORKFLOW_COMPLETED,
                cond.TRUE,
                "PipelinesExecutedSuccessfully",
                "Pipelines completed",
            ),
            now,
        )
        if status.get("message") == "Pending":
            status["message"] = (
                "Resource requested"
                if subject.workflow_type is WorkflowType.RESOURCE
                else "Promise configured"
            )
        completed = cond.find(conditions, c.CONDITION_CONFIGURE_WORKFLOW_COMPLETED) or {}
        if not was_completed or "lastSuccessfulConfigureWorkflowTime" not in status:
            status["lastSuccessfulConfigureWorkflowTime"] = completed.get("lastTransitionTime")
        workflows["lastSuccessfulConfigureWorkflowTime"] = status["lastSuccessfulConfigureWorkflowTime"]
        workflows.pop("suspendedGeneration", None)
    if conditions is not None:
        status["conditions"] = conditions
    if workflows:
        kratix["workflows"] = workflows
        status["kratix"] = kratix
    return status


def _set_phase(entry: dict[str, Any], phase: str, now: datetime) -> None:
    if entry.get("phase") != phase:
        entry["phase"] = phase
        entry["lastTransitionTime"] = cond.timestamp(now)
    if phase != PHASE_SUSPENDED:
        for key in ("message", "nextRetryAt", "attempts"):
            entry.pop(key, None)


def _suspension(
    workflows: Mapping[str, Any], pipelines: Sequence[Any], records: Sequence[JobRecord]
) -> tuple[int | None, datetime | None]:
    names = [p.name for p in pipelines]
    for entry in workflows.get("pipelines") or []:
        if (
            isinstance(entry, Mapping)
            and entry.get("phase") == PHASE_SUSPENDED
            and entry.get("name") in names
        ):
            return names.index(str(entry["name"])), parse_timestamp(entry.get("nextRetryAt"))
    return None, None


def _started_message(pipelines: Sequence[Any], decision: Start) -> str:
    return (
        f"Pipeline {pipelines[decision.index].name} started ({decision.reason}; run {decision.run}"
        + (f", attempt {decision.attempt}" if decision.attempt > 1 else "")
        + ")"
    )


def _job_label(job: Mapping[str, Any], key: str) -> str | None:
    return ((job.get("metadata") or {}).get("labels") or {}).get(key)
