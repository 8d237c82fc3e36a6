"""Promises: install the request API, the dependencies and the promise workflow; uninstall in order.

One reconcile moves a Promise one step: validate it, keep its finalizers, check its required
Promises, apply its request CRD, keep its static-dependencies Work, run its configure workflow, and
write the status (only when it changed). Deletion walks Kratix's finalizers in their order (§3.7);
each step tolerates what is already gone, so a missing Destination, state store or RBAC object can
never leave a Promise stuck.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import yaml
from pydantic import ValidationError

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api import ObjectMeta, Promise, Work
from kratix_py.api.work import Workload, WorkloadGroup, WorkloadGroupSelector, WorkSpec
from kratix_py.contract import WorkflowAction, WorkflowType, WorkType
from kratix_py.core import conditions as cond
from kratix_py.core.hashing import promise_spec_hash
from kratix_py.core.ownership import owned_by, owner_reference
from kratix_py.core.pipeline_checks import JobProblem, pipeline_job_problems
from kratix_py.core.rbac import BROAD_PERMISSIONS_REASON, broad_permission_warnings
from kratix_py.core.request_crd import InvalidAPI, build_request_crd, request_kind
from kratix_py.operator import resources as r
from kratix_py.operator.cache import ModelReader, parse_model
from kratix_py.operator.catalog import CatalogWriter
from kratix_py.operator.queue import Key
from kratix_py.operator.reconciler import Clock, Reconciler, label_on
from kratix_py.operator.request_kinds import served_kind
from kratix_py.operator.status import failing_work_details, reconciled, works_summary
from kratix_py.operator.workflows import Subject, WorkflowRunner

log = logging.getLogger(__name__)

INVALID_PIPELINE_JOB_REASON = "InvalidPipelineJob"


class PromiseReconciler(Reconciler[Promise]):
    """Reconciles one Promise per call; see the module docstring."""

    resource = r.PROMISES
    model_type = Promise

    def __init__(
        self,
        kube: k.Kube,
        workflows: WorkflowRunner,
        *,
        enqueue_requests: Callable[[str], None],
        catalog: CatalogWriter | None = None,
        model: ModelReader = parse_model,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(kube, model=model, clock=clock)
        self.workflows = workflows
        self.enqueue_requests = enqueue_requests
        self.catalog = catalog
        self._warnings: dict[tuple[str, str], tuple[cond.Condition | None, cond.Condition | None]] = {}

    def invalid(self, key: Key, obj: dict[str, Any], problem: str) -> timedelta | None:
        self._invalid(obj, f"the Promise is invalid: {problem}", self.clock())
        return None

    def reconcile(self, key: Key, obj: dict[str, Any], parsed: Promise) -> timedelta | None:
        return self._reconcile(parsed, obj, self.clock())

    def delete(self, key: Key, obj: dict[str, Any], parsed: Promise | None) -> timedelta | None:
        return self._delete(parsed, obj, self.clock())

    # -- install / update --------------------------------------------------------------------------
    def _reconcile(self, promise: Promise, obj: dict[str, Any], now: datetime) -> timedelta | None:
        obj = self.keep_finalizers(obj, _finalizers(promise))
        old_status = copy.deepcopy(obj.get("status") or {})
        status = copy.deepcopy(old_status)
        required_by = required_by_status(promise.name, self.kube.list(r.PROMISES))
        if required_by:
            status["requiredBy"] = required_by
        else:
            status.pop("requiredBy", None)
        conditions = status.get("conditions")
        was_paused = (cond.find(conditions, c.CONDITION_RECONCILED) or {}).get(
            "reason"
        ) == c.REASON_PAUSED_RECONCILIATION
        if label_on(obj, c.LABEL_PAUSED):
            conditions = cond.set_conditions(
                conditions,
                [
                    cond.Condition(
                        c.CONDITION_AVAILABLE, cond.FALSE, c.REASON_PAUSED_RECONCILIATION, "Paused"
                    ),
                    cond.Condition(
                        c.CONDITION_RECONCILED, cond.UNKNOWN, c.REASON_PAUSED_RECONCILIATION, "Paused"
                    ),
                ],
                now,
            )
            status.update(conditions=conditions, status="Unavailable")
            self.write_status(obj, old_status, status)
            if not was_paused and promise.has_api:
                self.enqueue_requests(promise.name)  # so each says Paused, not what it did last
            return None
        if was_paused:
            obj = self._unpaused(promise, obj)

        # Required Promises.
        requirement_states, missing = self._requirements(promise)
        if promise.spec.required_promises:
            status["requiredPromises"] = requirement_states
            conditions = cond.set_condition(
                conditions,
                cond.Condition(
                    c.CONDITION_REQUIREMENTS_FULFILLED,
                    cond.TRUE,
                    "RequirementsInstalled",
                    "Requirements fulfilled",
                )
                if not missing
                else cond.Condition(
                    c.CONDITION_REQUIREMENTS_FULFILLED,
                    cond.FALSE,
                    "RequirementsNotInstalled",
                    "Required Promises not available: " + ", ".join(missing),
                ),
                now,
            )
        if promise.promise_version:
            status["version"] = promise.promise_version

        # The request API.
        if promise.has_api:
            problem = self._install_api(promise, status)
            if problem is not None:
                reason, message = problem
                conditions = cond.set_conditions(
                    conditions,
                    [
                        cond.Condition(c.CONDITION_AVAILABLE, cond.FALSE, reason, message),
                        cond.Condition(c.CONDITION_RECONCILED, cond.FALSE, reason, message),
                    ],
                    now,
                )
                status.update(conditions=conditions, status="Unavailable", message=message)
                self.write_status(obj, old_status, status)
                return None if reason != "APINotEstablished" else timedelta(seconds=1)

        # Static dependencies.
        dependency_problem = self._sync_dependencies(promise)

        # The promise configure workflow.
        status["conditions"] = conditions
        obj = {**obj, "status": status}
        subject = Subject(
            promise, WorkflowType.PROMISE, obj, r.PROMISES, promise_spec_hash(obj.get("spec") or {})
        )
        outcome = self.workflows.configure(subject, now)
        status = outcome.status
        conditions = status.get("conditions")
        works = [
            work
            for work in self.kube.list(
                r.WORKS, c.SYSTEM_NAMESPACE, labels={c.LABEL_PROMISE_NAME: promise.name}
            )
            if owned_by(work, obj)
        ]
        works_condition = works_summary(
            works,
            workflow_completed=outcome.completed,
            workflow_suspended=outcome.suspended,
            details=failing_work_details(self.kube, works),
        )
        pipelines = promise.pipelines(WorkflowType.PROMISE, WorkflowAction.CONFIGURE)
        completed = outcome.completed
        failure = outcome.decision.message if outcome.failed else ""  # type: ignore[union-attr]
        reconciled_condition = reconciled(
            completed,
            outcome.failed,
            works_condition,
            failure_message=failure,
            suspended_message=outcome.suspension_message,
        )
        if missing and reconciled_condition.status != cond.FALSE:
            # Kratix's wording: a Promise that cannot serve is not Reconciled, whatever its workflow
            # did (`kubectl wait --for=condition=Reconciled` must not pass on it).
            reconciled_condition = cond.Condition(
                c.CONDITION_RECONCILED,
                cond.UNKNOWN,
                "RequirementsNotFulfilled",
                "Required Promises not available: " + ", ".join(missing),
            )
        conditions = cond.set_conditions(conditions, [works_condition, reconciled_condition], now)
        available = completed and not missing and dependency_problem is None
        if available:
            conditions = cond.set_condition(
                conditions,
                cond.Condition(
                    c.CONDITION_AVAILABLE, cond.TRUE, "PromiseAvailable", "Ready to fulfil resource requests"
                ),
                now,
            )
            status["status"] = "Available"
            if old_status.get("status") != "Available":
                status["lastAvailableTime"] = cond.timestamp(now)
        else:
            reason, message = _unavailable_reason(
                outcome.failed, failure, missing, dependency_problem, pipelines
            )
            if outcome.suspended and not missing and dependency_problem is None:
                reason, message = "WorkflowSuspended", "Suspended"  # Kratix's wording (§1 conditions)
            conditions = cond.set_condition(
                conditions, cond.Condition(c.CONDITION_AVAILABLE, cond.FALSE, reason, message), now
            )
            status["status"] = "Unavailable"
        jobs_warning, permissions_warning = self._pipeline_warnings(promise)
        conditions = cond.set_warning(conditions, c.CONDITION_PIPELINE_JOBS_VALID, jobs_warning, now)
        conditions = cond.set_warning(conditions, c.CONDITION_PIPELINE_PERMISSIONS, permissions_warning, now)
        status["conditions"] = conditions
        generation = obj["metadata"].get("generation")
        spec_changed = status.get("observedGeneration") != generation
        status["observedGeneration"] = generation
        self.write_status(obj, old_status, status, outcome.events)
        if available and self.catalog is not None:
            self.catalog.promise({**obj, "status": status})
        if available and promise.has_api and (spec_changed or old_status.get("status") != "Available"):
            # A new Promise spec changes every request's hash: each reruns its workflow (§2.8).
            self.enqueue_requests(promise.name)
        if label_on(obj, c.LABEL_RECONCILE_RESOURCES):
            self.kube.patch(
                r.PROMISES, promise.name, {"metadata": {"labels": {c.LABEL_RECONCILE_RESOURCES: None}}}
            )
            self.enqueue_requests(promise.name)
        return outcome.requeue_after if not missing else timedelta(seconds=30)

    def _pipeline_warnings(self, promise: Promise) -> tuple[cond.Condition | None, cond.Condition | None]:
        """Warnings about the Promise's pipelines, once per Promise generation: Jobs the API server
        would refuse (Kratix refuses such a Promise at admission; here the Promise says so) and
        ``rbac.permissions`` broader than a pipeline should get."""
        key = (str(promise.metadata.uid), str(promise.metadata.generation))
        found = self._warnings.get(key)
        if found is not None:
            return found
        jobs: cond.Condition | None = None
        try:
            problems = pipeline_job_problems(promise, self.workflows.pipeline_settings)
        except ValueError as error:  # a Job that cannot even be built: its workflow will say why too
            problems = [JobProblem("spec.workflows", str(error))]
        if problems:
            jobs = cond.Condition(
                c.CONDITION_PIPELINE_JOBS_VALID,
                cond.FALSE,
                INVALID_PIPELINE_JOB_REASON,
                "the API server would refuse the Job of a pipeline: "
                + "; ".join(problem.text() for problem in problems),
            )
        permissions: cond.Condition | None = None
        broad = broad_permission_warnings(promise)
        if broad:
            permissions = cond.Condition(
                c.CONDITION_PIPELINE_PERMISSIONS,
                cond.FALSE,
                BROAD_PERMISSIONS_REASON,
                "pipelines are granted more than they should need: "
                + "; ".join(f"{warning.path}: {warning.message}" for warning in broad),
            )
        if len(self._warnings) > 256:
            self._warnings.clear()
        self._warnings[key] = (jobs, permissions)
        return jobs, permissions

    def _unpaused(self, promise: Promise, obj: dict[str, Any]) -> dict[str, Any]:
        """The pause is lifted: rerun the promise workflow from its start and every request, with
        Kratix's own labels (the workflow and this reconciler remove them once acted on)."""
        labels = {c.LABEL_RECONCILE_RESOURCES: c.TRUE_LABEL_VALUE}
        if promise.pipelines(WorkflowType.PROMISE, WorkflowAction.CONFIGURE):
            labels[c.LABEL_RUN_FROM_START] = c.TRUE_LABEL_VALUE  # removed when the run starts
        log.info("Promise %s unpaused: rerunning its workflow and its requests", promise.name)
        return self.kube.patch(r.PROMISES, promise.name, {"metadata": {"labels": labels}})

    def _requirements(self, promise: Promise) -> tuple[list[dict[str, Any]], list[str]]:
        states: list[dict[str, Any]] = []
        missing: list[str] = []
        for required in promise.spec.required_promises:
            other = self.kube.get(r.PROMISES, required.name)
            version = ((other or {}).get("metadata", {}).get("labels") or {}).get(c.LABEL_PROMISE_VERSION)
            available = ((other or {}).get("status") or {}).get("status") == "Available"
            if other is None:
                state = "Requirement not installed"
            elif required.version and version != required.version:
                state = "Requirement not installed at the specified version"
            elif not available:
                state = "Requirement not available"
            else:
                state = "Requirement installed"
            if state != "Requirement installed":
                missing.append(
                    f"{required.name}" + (f" at version {required.version}" if required.version else "")
                )
            states.append({"name": required.name, "version": required.version or "", "state": state})
        return states, missing

    def _install_api(self, promise: Promise, status: dict[str, Any]) -> tuple[str, str] | None:
        """Apply the request CRD; (reason, message) when it cannot be installed yet or at all."""
        try:
            crd = build_request_crd(promise.name, promise.spec.api or {})
            kind = request_kind(crd)
        except InvalidAPI as error:
            return "InvalidAPI", str(error)
        existing = self.kube.get(k.CRDS, kind.crd_name)
        if (
            existing is None
            or (existing["metadata"].get("labels") or {}).get(c.LABEL_PROMISE_NAME) == promise.name
        ):
            # Before the CRD exists, so the operator may watch the new kind from its first event.
            self.kube.apply(k.CLUSTERROLES, controller_cluster_role(promise.name, kind.group, kind.plural))
        if existing is not None:
            owner = (existing["metadata"].get("labels") or {}).get(c.LABEL_PROMISE_NAME)
            if owner != promise.name:
                who = f"Promise {owner}" if owner else "another installation (not a Promise)"
                return (
                    "APIConflict",
                    f"{kind.kind} in group {kind.group} ({kind.crd_name}) is already provided by {who}; "
                    "choose another group or kind",
                )
            patch = {"metadata": {"labels": crd["metadata"]["labels"]}, "spec": crd["spec"]}
            try:
                current = self.kube.patch(k.CRDS, kind.crd_name, patch)
            except k.KubeError as error:
                if error.status in (400, 422):
                    return "InvalidAPI", f"the API server rejected the request CRD: {error.message}"
                raise
        else:
            try:
                current = self.kube.create(k.CRDS, crd)
            except k.KubeError as error:
                if error.status in (400, 422):
                    return "InvalidAPI", f"the API server rejected the request CRD: {error.message}"
                raise
        status["kind"] = kind.kind
        status["apiVersion"] = kind.api_version
        if not cond.is_true((current.get("status") or {}).get("conditions"), "Established"):
            return "APINotEstablished", f"waiting for the API server to establish {kind.crd_name}"
        return None

    def _sync_dependencies(self, promise: Promise) -> str | None:
        """Upsert (or delete) the static-dependencies Work; a problem message if it failed."""
        existing = self.kube.list(
            r.WORKS,
            c.SYSTEM_NAMESPACE,
            labels={c.LABEL_PROMISE_NAME: promise.name, c.LABEL_WORK_TYPE: WorkType.STATIC_DEPENDENCY},
        )
        if not promise.spec.dependencies:
            for work in existing:
                self.kube.delete(r.WORKS, work["metadata"]["name"], c.SYSTEM_NAMESPACE)
            return None
        work = static_dependencies_work(promise)
        try:
            self.kube.apply(r.WORKS, work)
        except k.KubeError as error:
            return f"could not write the dependencies Work: {error.message}"
        for other in existing:
            if other["metadata"]["name"] != work["metadata"]["name"]:
                self.kube.delete(r.WORKS, other["metadata"]["name"], c.SYSTEM_NAMESPACE)
        return None

    # -- delete ------------------------------------------------------------------------------------
    def _delete(self, promise: Promise | None, obj: dict[str, Any], now: datetime) -> timedelta | None:
        """One deletion step per call, in Kratix's finalizer order (§3.7).

        ``promise`` is None when the Promise no longer validates: every step but the delete
        pipeline works from names and labels alone, and the delete pipeline waits for a fix (or
        for the finalizer to be removed by hand), saying so.
        """
        name = str(obj["metadata"]["name"])
        finalizers = list(obj["metadata"].get("finalizers") or [])
        old_status = copy.deepcopy(obj.get("status") or {})
        if c.FINALIZER_DELETE_WORKFLOWS in finalizers:
            if promise is None:
                message = (
                    "the Promise is invalid, so its delete pipeline cannot run: fix the Promise, or "
                    f"remove the finalizer {c.FINALIZER_DELETE_WORKFLOWS} to delete it without that pipeline"
                )
                self._deleting(obj, old_status, cond.FALSE, "InvalidPromise", message, now)
                return c.SLOW_REQUEUE
            if promise.delete_pipeline(WorkflowType.PROMISE) is not None:
                subject = Subject(
                    promise, WorkflowType.PROMISE, obj, r.PROMISES, promise_spec_hash(obj.get("spec") or {})
                )
                outcome = self.workflows.delete(subject, now)
                if not outcome.completed:
                    self.write_status(obj, old_status, outcome.status, outcome.events)
                    return outcome.requeue_after or timedelta(seconds=15)
            return self.release(obj, c.FINALIZER_DELETE_WORKFLOWS)
        if c.FINALIZER_WORKFLOWS_CLEANUP in finalizers:
            # Only the Promise's own workflow Jobs: its requests' Jobs go with each request, after
            # their delete pipelines (deleting them here would look like "never ran" to a request).
            labels = {c.LABEL_PROMISE_NAME: name, c.LABEL_WORKFLOW_TYPE: str(WorkflowType.PROMISE)}
            for job in self.kube.list(k.JOBS, None, labels=labels):
                self.kube.delete(k.JOBS, job["metadata"]["name"], job["metadata"]["namespace"])
            return self.release(obj, c.FINALIZER_WORKFLOWS_CLEANUP)
        if c.FINALIZER_RESOURCE_REQUEST_CLEANUP in finalizers:
            remaining, blocked = self._delete_requests(name, promise)
            if remaining:
                if blocked:
                    message = (
                        f"waiting for {remaining} resource request(s) to be deleted; delete pipelines "
                        "failing for: " + "; ".join(blocked[:5]) + (" ..." if len(blocked) > 5 else "")
                    )
                    self._deleting(obj, old_status, cond.FALSE, "DeletePipelinesFailing", message, now)
                else:
                    message = f"waiting for {remaining} resource request(s) to be deleted"
                    self._deleting(obj, old_status, cond.UNKNOWN, "DeletingResources", message, now)
                return timedelta(seconds=1) if not blocked else c.DEFAULT_REQUEUE
            return self.release(obj, c.FINALIZER_RESOURCE_REQUEST_CLEANUP)
        if c.FINALIZER_REVISION_CLEANUP in finalizers:
            # The revision reconciler deletes them now that the requests are gone.
            if self.kube.list(r.PROMISE_REVISIONS, labels={c.LABEL_PROMISE_NAME: name}):
                message = "waiting for the Promise's revisions to be deleted"
                self._deleting(obj, old_status, cond.UNKNOWN, "DeletingRevisions", message, now)
                return timedelta(seconds=1)
            return self.release(obj, c.FINALIZER_REVISION_CLEANUP)
        if c.FINALIZER_DYNAMIC_CONTROLLER_DEPENDANT_RESOURCES_CLEANUP in finalizers:
            for resource in r.PIPELINE_RBAC_AND_CONFIG:
                for item in self.kube.list(resource, None, labels={c.LABEL_PROMISE_NAME: name}):
                    self.kube.delete(resource, item["metadata"]["name"], item["metadata"].get("namespace"))
            return self.release(obj, c.FINALIZER_DYNAMIC_CONTROLLER_DEPENDANT_RESOURCES_CLEANUP)
        if c.FINALIZER_DEPENDENCIES_CLEANUP in finalizers:
            works = self.kube.list(r.WORKS, None, labels={c.LABEL_PROMISE_NAME: name})
            catalog_work = self.catalog.promise_work(name) if self.catalog is not None else None
            if catalog_work is not None:
                works.append(catalog_work)
            for work in works:
                if not work["metadata"].get("deletionTimestamp"):
                    self.kube.delete(r.WORKS, work["metadata"]["name"], work["metadata"]["namespace"])
            if works:
                return timedelta(seconds=1)  # the Works' own finalizers remove their files first
            return self.release(obj, c.FINALIZER_DEPENDENCIES_CLEANUP)
        if c.FINALIZER_API_CRD_CLEANUP in finalizers:
            # As Kratix: the finalizer goes once the CRD is gone. A real API server deletes a CRD
            # in the background (its objects first, then its own clean-up finalizer), so right
            # after the delete the CRD is still there, Terminating.
            crd_names = self._crd_names(name, promise)
            if crd_names:
                for crd_name in crd_names:
                    existing = self.kube.get(k.CRDS, crd_name)
                    if existing is not None and not existing["metadata"].get("deletionTimestamp"):
                        self.kube.delete(k.CRDS, crd_name)
                message = (
                    f"waiting for the API's CustomResourceDefinition {', '.join(crd_names)} to be deleted"
                )
                self._deleting(obj, old_status, cond.UNKNOWN, "DeletingAPI", message, now)
                return timedelta(seconds=1)
            return self.release(obj, c.FINALIZER_API_CRD_CLEANUP)
        return None

    def _request_kinds(self, name: str, promise: Promise | None) -> list[k.Resource]:
        """The request kinds this Promise's CRDs serve (by their label; the spec as a fallback)."""
        kinds = []
        for crd in self.kube.list(k.CRDS, labels={c.LABEL_PROMISE_NAME: name}):
            served = served_kind(crd)
            if served is not None:
                kinds.append(k.Resource(served.group, served.version, served.plural, True, served.kind))
        if not kinds and promise is not None:
            gvk = _safe_gvk(promise)
            if gvk is not None:
                kinds.append(k.Resource(gvk.group, gvk.version, gvk.plural, True, gvk.kind))
        return kinds

    def _crd_names(self, name: str, promise: Promise | None) -> list[str]:
        names = {
            str(crd["metadata"]["name"])
            for crd in self.kube.list(k.CRDS, labels={c.LABEL_PROMISE_NAME: name})
        }
        gvk = _safe_gvk(promise) if promise is not None else None
        if gvk is not None:
            existing = self.kube.get(k.CRDS, gvk.crd_name)
            if (
                existing is not None
                and (existing["metadata"].get("labels") or {}).get(c.LABEL_PROMISE_NAME) == name
            ):
                names.add(gvk.crd_name)
        return sorted(names)

    def _delete_requests(self, name: str, promise: Promise | None) -> tuple[int, list[str]]:
        """Delete every request of the Promise; how many remain and which delete pipelines fail."""
        remaining = 0
        blocked: list[str] = []
        for resource in self._request_kinds(name, promise):
            for request in self.kube.list(resource):
                meta = request["metadata"]
                remaining += 1
                if not meta.get("deletionTimestamp"):
                    self.kube.delete(resource, meta["name"], meta["namespace"])
                    continue
                failed = cond.find(
                    (request.get("status") or {}).get("conditions"), c.CONDITION_DELETE_WORKFLOW_COMPLETED
                )
                if failed is not None and failed.get("reason") == "DeleteWorkflowFailed":
                    blocked.append(f"{meta['namespace']}/{meta['name']}: {failed.get('message')}")
        return remaining, blocked

    def _deleting(
        self,
        obj: dict[str, Any],
        old: Mapping[str, Any],
        status: str,
        reason: str,
        message: str,
        now: datetime,
    ) -> None:
        """While deleting, the Promise serves nothing: Available False, Reconciled saying why it waits."""
        conditions = cond.set_conditions(
            old.get("conditions"),
            [
                cond.Condition(
                    c.CONDITION_AVAILABLE, cond.FALSE, "PromiseDeleting", "The Promise is being deleted"
                ),
                cond.Condition(c.CONDITION_RECONCILED, status, reason, message),
            ],
            now,
        )
        self.write_status(
            obj, old, {**old, "conditions": conditions, "status": "Unavailable", "message": message}
        )

    # -- status ------------------------------------------------------------------------------------
    def _invalid(self, obj: dict[str, Any], message: str, now: datetime) -> None:
        old = obj.get("status") or {}
        conditions = cond.set_condition(
            old.get("conditions"),
            cond.Condition(c.CONDITION_AVAILABLE, cond.FALSE, "InvalidPromise", message),
            now,
        )
        self.write_status(
            obj, old, {**old, "conditions": conditions, "status": "Unavailable", "message": message}
        )


def static_dependencies_work(promise: Promise) -> dict[str, Any]:
    """The Work carrying ``spec.dependencies`` as ``static/<promise>-dependencies.yaml`` (§3.3)."""
    content = yaml.safe_dump_all(promise.spec.dependencies, sort_keys=True, explicit_start=False)
    selectors = promise.destination_selector_labels()
    group = WorkloadGroup(
        id=c.DEFAULT_WORKLOAD_GROUP_ID,
        directory=".",
        workloads=[Workload.from_file(f"static/{promise.name}-dependencies.yaml", content)],
        destination_selectors=[WorkloadGroupSelector(match_labels=selectors, source="promise")]
        if selectors
        else [],
    )
    work = Work(
        metadata=ObjectMeta(
            name=f"{promise.name}-static-deps",
            namespace=c.SYSTEM_NAMESPACE,
            labels={c.LABEL_PROMISE_NAME: promise.name, c.LABEL_WORK_TYPE: str(WorkType.STATIC_DEPENDENCY)},
        ),
        spec=WorkSpec(promise_name=promise.name, workload_groups=[group]),
    )
    body = work.to_dict()
    body.pop("status", None)
    if promise.metadata.uid:
        # Owned like a pipeline's Work: a Work counts only for its owner (core.ownership).
        owner = {"apiVersion": c.API_VERSION, "kind": "Promise", "metadata": promise.metadata.to_dict()}
        body["metadata"]["ownerReferences"] = [owner_reference(owner)]
    return body


def required_promise_names(obj: Mapping[str, Any] | None) -> set[str]:
    """The names in a Promise's ``spec.requiredPromises`` (as stored; the Promise need not be valid)."""
    required = ((obj or {}).get("spec") or {}).get("requiredPromises") or []
    return {str(entry["name"]) for entry in required if isinstance(entry, Mapping) and entry.get("name")}


def required_by_status(name: str, promises: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``status.requiredBy`` of Promise ``name``: every Promise whose ``requiredPromises`` name it.

    Kratix's shape (``{promise: {name, version}, requiredVersion}``, empty fields left out), sorted
    by name so an unchanged set of Promises writes nothing. Computed from the Promises themselves
    on every reconcile, so a Promise that stops requiring this one, or goes, drops out of it.
    """
    entries: list[dict[str, Any]] = []
    for other in promises:
        meta = other.get("metadata") or {}
        for entry in (other.get("spec") or {}).get("requiredPromises") or []:
            if not isinstance(entry, Mapping) or entry.get("name") != name:
                continue
            summary = {"name": str(meta.get("name"))}
            version = (meta.get("labels") or {}).get(c.LABEL_PROMISE_VERSION)
            if version:
                summary["version"] = str(version)
            item: dict[str, Any] = {"promise": summary}
            if entry.get("version"):
                item["requiredVersion"] = str(entry["version"])
            entries.append(item)
            break
    return sorted(entries, key=lambda item: str(item["promise"]["name"]))


def controller_cluster_role(promise_name: str, group: str, plural: str) -> dict[str, Any]:
    """The operator's access to one Promise's requests (Kratix's ``<promise>-promise-controller``).

    The chart aggregates every ClusterRole with the aggregate label into the operator's role, so
    this grants exactly the new kind, and it goes away with the Promise (it carries its label).
    """
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": f"{promise_name}-promise-controller",
            "labels": {
                c.LABEL_PROMISE_NAME: promise_name,
                c.LABEL_AGGREGATE_TO_CONTROLLER: c.TRUE_LABEL_VALUE,
            },
        },
        "rules": [
            {
                "apiGroups": [group],
                "resources": [plural, f"{plural}/status", f"{plural}/finalizers"],
                "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
            }
        ],
    }


def _finalizers(promise: Promise) -> list[str]:
    wanted = [c.FINALIZER_WORKFLOWS_CLEANUP, c.FINALIZER_DEPENDENCIES_CLEANUP]
    if promise.delete_pipeline(WorkflowType.PROMISE) is not None:
        wanted.insert(0, c.FINALIZER_DELETE_WORKFLOWS)
    if promise.has_api:
        wanted += [
            c.FINALIZER_RESOURCE_REQUEST_CLEANUP,
            c.FINALIZER_DYNAMIC_CONTROLLER_DEPENDANT_RESOURCES_CLEANUP,
            c.FINALIZER_API_CRD_CLEANUP,
        ]
    return [f for f in c.PROMISE_FINALIZERS if f in wanted]


def _unavailable_reason(
    failed: bool, failure: str, missing: list[str], dependency_problem: str | None, pipelines: Any
) -> tuple[str, str]:
    if missing:
        return "PromiseUnavailable", "Required Promises not available: " + ", ".join(missing)
    if dependency_problem:
        return "DependenciesFailed", dependency_problem
    if failed:
        return "ConfigureWorkflowFailed", failure
    return "PromiseUnavailable", "Waiting for the promise configure workflow to complete"


def _safe_gvk(promise: Promise) -> Any:
    try:
        return promise.request_gvk()
    except (ValidationError, ValueError):
        return None
