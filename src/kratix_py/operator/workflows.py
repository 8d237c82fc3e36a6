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
from datetime import UTC, datetime, timedelta
from typing import Any

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api import Promise
from kratix_py.api.meta import parse_timestamp
from kratix_py.contract import WorkflowAction, WorkflowType
from kratix_py.core import conditions as cond
from kratix_py.core import redact
from kratix_py.core.jobs import job_phase, job_record, job_records, job_selector, removed_note
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
from kratix_py.operator.pod_failures import TAIL_SEPARATOR, pod_failure_detail, recorded_failure
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

RECHECK = timedelta(minutes=1)
"""How soon a started or running workflow is looked at again without any Job event."""

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
    def suspended(self) -> bool:
        """A pipeline asked (workflow-control.yaml) to suspend or be retried later; not finished."""
        return isinstance(self.decision, Suspended)

    @property
    def suspension_message(self) -> str:
        """What the suspended pipeline said, for the object's conditions."""
        if not isinstance(self.decision, Suspended):
            return ""
        entries = ((self.status.get("kratix") or {}).get("workflows") or {}).get("pipelines") or []
        entry = entries[self.decision.index] if self.decision.index < len(entries) else {}
        name = entry.get("name", "") if isinstance(entry, Mapping) else ""
        said = entry.get("message", "") if isinstance(entry, Mapping) else ""
        retry = entry.get("nextRetryAt") if isinstance(entry, Mapping) else None
        text = f"pipeline {name} suspended the workflow" + (f": {said}" if said else "")
        if retry:
            text += f" (retry at {retry})"
        else:
            text += f" (remove the label {c.LABEL_WORKFLOW_SUSPENDED} to resume)"
        return text

    @property
    def requeue_after(self) -> timedelta | None:
        decision = self.decision
        if isinstance(decision, Completed):
            return decision.requeue_after
        if isinstance(decision, Failed) and decision.retry_at is not None:
            return max(decision.retry_at - self.now, timedelta(seconds=1))
        if isinstance(decision, Suspended) and decision.resume_at is not None:
            return max(decision.resume_at - self.now, timedelta(seconds=1))
        if isinstance(decision, Wait | Start):
            # Job events bring the object back; this is the safety net if one is lost, so a
            # waiting workflow is never only one missed event away from waiting forever.
            return (
                decision.requeue_after if isinstance(decision, Wait) and decision.requeue_after else RECHECK
            )
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
        _count_finished(jobs, subject.workflow_type, WorkflowAction.CONFIGURE)
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
        if isinstance(decision, Wait):
            events += self._stop_outdated(subject, jobs, records, state)
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
        delete_jobs = [j for j in all_jobs if _job_label(j, c.LABEL_WORKFLOW_ACTION) == WorkflowAction.DELETE]
        delete_records = job_records(delete_jobs)
        _count_finished(delete_jobs, subject.workflow_type, WorkflowAction.DELETE)
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
                    f"{detail}{_DELETION_WAITS}: fix it and add the label "
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
                    if not error.conflict or not self._already_started(obj):
                        # A 409 is only "started before" (e.g. before a restart) if that Job is
                        # there and is this run's: anything else is retried from fresh state,
                        # never taken as a run that nobody will ever see finish.
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

    def _stop_outdated(
        self,
        subject: Subject,
        jobs: Sequence[Mapping[str, Any]],
        records: Sequence[JobRecord],
        state: WorkflowState,
    ) -> list[tuple[str, str, str]]:
        """Suspend running Jobs of an older spec (Kratix suspends a running Job for a rerun too).

        A hung pipeline would otherwise keep the new spec waiting until its deadline: suspended,
        the Job counts as failed, and the next decision starts the new run from the first pipeline.
        """
        stale = {r.name for r in records if r.phase is JobPhase.RUNNING and r.spec_hash != state.spec_hash}
        events = []
        for job in jobs:
            meta = job["metadata"]
            if meta["name"] not in stale or (job.get("spec") or {}).get("suspend") is True:
                continue
            self.kube.patch(k.JOBS, meta["name"], {"spec": {"suspend": True}}, meta.get("namespace"))
            message = f"Job {meta['name']} stopped: the specification changed while it ran"
            log.info("%s for %s", message, subject.name)
            events.append(("Normal", "PipelineReplaced", message))
        return events

    def _already_started(self, job: Mapping[str, Any]) -> bool:
        """The Job named like ``job`` exists, is not going away, and carries this run's labels."""
        meta = job["metadata"]
        existing = self.kube.get(k.JOBS, meta["name"], meta.get("namespace"))
        if existing is None or existing["metadata"].get("deletionTimestamp"):
            return False
        labels = existing["metadata"].get("labels") or {}
        return all(labels.get(key) == value for key, value in (meta.get("labels") or {}).items())

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
        if failed.message.startswith("DeadlineExceeded"):
            # Its containers were killed for it: the deadline is the cause, not their exit codes.
            return f"{detail}: {failed.message} (jobOptions.activeDeadlineSeconds)"
        try:
            pods = self.kube.list(k.PODS, namespace, labels={"job-name": failed.job})
        except k.KubeError:
            pods = []
        job = self.kube.get(k.JOBS, failed.job, namespace)
        recorded = recorded_failure(job)
        if recorded:
            # What the failed pod said, recorded on the Job while the pod was there
            # (operator.pod_failures): the Job controller deletes it when the Job fails under
            # restartPolicy OnFailure, and a pod being deleted may no longer give its log.
            return f"{detail}: {recorded}"
        for pod in pods:
            said = pod_failure_detail(namespace, pod, self.secret_values, self.log_tail)
            if said:
                return f"{detail}: {said}"
        if not pods:
            note = removed_note(job)
            if note:
                # The pods went after the TTL: what was read from them while they were there
                # stays, rather than the status losing its detail (and changing) once they go.
                earlier = _earlier_detail(subject.obj, detail)
                said = earlier or (f"{detail}: {failed.message}" if failed.message else detail)
                return said if earlier else f"{said} ({note}: its log is gone)"
        return f"{detail}: {failed.message}" if failed.message else detail

    def secret_values(self, namespace: str, pod: Mapping[str, Any]) -> list[str] | None:
        return pod_secret_values(self.kube, namespace, pod)

    def log_tail(
        self, namespace: str, pod: str, container: str, secrets: Sequence[str], previous: bool = False
    ) -> str | None:
        """The container's last lines (of its previous run after a restart), Secrets masked; None
        when the log cannot be read."""
        lines = 5
        query: dict[str, Any] = {"container": container, "tailLines": lines}
        if previous:
            query["previous"] = "true"
        try:
            text = self.kube.request_text(k.PODS.path(namespace, pod, "log"), query=query)
        except k.KubeError as error:
            log.debug("cannot read the log of %s/%s %s: %s", namespace, pod, container, error.message)
            return None
        # Masked before it is cut, so a value split by the cut cannot leave its first half behind.
        text = redact.mask(text, secrets)
        kept = [line.strip() for line in text.strip().splitlines()[-lines:] if line.strip()]
        return TAIL_SEPARATOR.join(kept)[:800]


_DELETION_WAITS = ". Deletion waits until the delete pipeline succeeds"


def _earlier_detail(obj: Mapping[str, Any], detail: str) -> str:
    """A failure message about the same Job that was read from its pods, from the object's status."""
    for condition in (obj.get("status") or {}).get("conditions") or []:
        message = str(condition.get("message") or "").partition(_DELETION_WAITS)[0]
        if message.startswith(f"{detail}: container "):
            return message
    return ""


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
        if entry.get("phase") == PHASE_SUSPENDED and not (
            isinstance(decision, Start) and decision.index == index
        ):
            # The status-writer records the suspension while its Job is still running: the Job's
            # own phase must not overwrite it, or the finished Job reads as a plain success and
            # the workflow carries on past a pipeline that asked to wait.
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
        # The status-writer of the last pipeline turns the condition True before we look, so
        # "was it already True" cannot tell a new success from an old one: the condition's
        # transition time (it went False when this run started) is the time of this success, or
        # the end of the run's last Job when the status-writer won the race with that False.
        finished = [r.finished_at for r in records if r.run == run and r.finished_at is not None]
        when = completed.get("lastTransitionTime")
        transitioned = parse_timestamp(when)
        if finished and (transitioned is None or max(finished) > transitioned):
            when = cond.timestamp(max(finished))
        status["lastSuccessfulConfigureWorkflowTime"] = when
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
        # ``attempts`` stays for the run: the status-writer counts retries from it (a new run
        # starts it afresh, see _configure_status).
        for key in ("message", "nextRetryAt"):
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


def pod_secret_values(kube: k.Kube, namespace: str, pod: Mapping[str, Any]) -> list[str] | None:
    """The values of every Secret the pod reads, to mask in its log; ``None`` if one cannot be read.

    ``None`` means: show no log at all. An unreadable Secret could be printed unmasked.
    """
    references = redact.secret_references(pod.get("spec") or {})
    secrets: dict[str, Mapping[str, Any]] = {}
    for name in sorted({reference.name for reference in references}):
        try:
            secret = kube.get(k.SECRETS, name, namespace)
        except k.KubeError:
            return None
        if secret is not None:
            secrets[name] = secret
    return redact.referenced_values(references, secrets)


_STARTED_AT = datetime.now(UTC).replace(microsecond=0)  # API timestamps have whole seconds
_COUNTED: dict[str, None] = {}
"""Uids of finished Jobs already counted (insertion-ordered, bounded): a Job is seen finished on
every later reconcile of its object, but counts once."""
_COUNTED_LIMIT = 10_000


def _count_finished(
    jobs: Sequence[Mapping[str, Any]], workflow_type: WorkflowType, action: WorkflowAction
) -> None:
    """Pipeline run outcomes and durations, for Jobs that finished while this process ran.

    Jobs that finished before it started were counted by the replica that saw them (or by nobody,
    if none ran): counting them again on every restart would make the rate meaningless.
    """
    for job in jobs:
        metadata = job.get("metadata") or {}
        uid = str(metadata.get("uid") or "")
        phase = job_phase(job)
        if not uid or uid in _COUNTED or phase is JobPhase.RUNNING:
            continue
        record = job_record(job)
        finished = record.finished_at if record is not None else None
        if finished is None or finished < _STARTED_AT:
            continue
        _COUNTED[uid] = None
        if len(_COUNTED) > _COUNTED_LIMIT:
            del _COUNTED[next(iter(_COUNTED))]
        created = parse_timestamp(metadata.get("creationTimestamp"))
        seconds = (finished - created).total_seconds() if created is not None else None
        metrics.pipeline_finished(
            str(workflow_type),
            str(action),
            str(_job_label(job, c.LABEL_PIPELINE_NAME) or ""),
            phase is JobPhase.SUCCEEDED,
            seconds,
        )


def _job_label(job: Mapping[str, Any], key: str) -> str | None:
    return ((job.get("metadata") or {}).get("labels") or {}).get(key)
