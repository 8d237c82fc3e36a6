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
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from pydantic import ValidationError

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api import ObjectMeta, Promise, Work, validation_message
from kratix_py.api.work import Workload, WorkloadGroup, WorkloadGroupSelector, WorkSpec
from kratix_py.contract import WorkflowAction, WorkflowType, WorkType
from kratix_py.core import conditions as cond
from kratix_py.core.hashing import promise_spec_hash
from kratix_py.core.request_crd import InvalidAPI, build_request_crd, request_kind
from kratix_py.operator import resources as r
from kratix_py.operator.status import reconciled, transition_events, works_summary, write_status
from kratix_py.operator.workflows import Subject, WorkflowRunner

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class PromiseReconciler:
    """Reconciles one Promise per call; see the module docstring."""

    def __init__(
        self,
        kube: k.Kube,
        workflows: WorkflowRunner,
        *,
        enqueue_requests: Callable[[str], None],
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.kube = kube
        self.workflows = workflows
        self.enqueue_requests = enqueue_requests
        self.clock = clock

    def __call__(self, key: tuple[Any, ...]) -> timedelta | None:
        name = str(key[1])
        obj = self.kube.get(r.PROMISES, name)
        if obj is None:
            return None
        now = self.clock()
        try:
            promise = Promise.model_validate(obj)
        except ValidationError as error:
            self._invalid(obj, f"the Promise is invalid: {validation_message(error)}", now)
            return None
        if obj["metadata"].get("deletionTimestamp"):
            return self._delete(promise, obj, now)
        return self._reconcile(promise, obj, now)

    # -- install / update --------------------------------------------------------------------------
    def _reconcile(self, promise: Promise, obj: dict[str, Any], now: datetime) -> timedelta | None:
        obj = self.kube.add_finalizers(r.PROMISES, obj, _finalizers(promise))
        old_status = copy.deepcopy(obj.get("status") or {})
        status = copy.deepcopy(old_status)
        conditions = status.get("conditions")
        if _label_on(obj, c.LABEL_PAUSED):
            conditions = cond.set_conditions(
                conditions,
                [
                    cond.Condition(c.CONDITION_AVAILABLE, cond.FALSE, "PausedReconciliation", "Paused"),
                    cond.Condition(c.CONDITION_RECONCILED, cond.UNKNOWN, "PausedReconciliation", "Paused"),
                ],
                now,
            )
            status.update(conditions=conditions, status="Unavailable")
            self._write(obj, old_status, status)
            return None

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
                self._write(obj, old_status, status)
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
        works = self.kube.list(r.WORKS, c.SYSTEM_NAMESPACE, labels={c.LABEL_PROMISE_NAME: promise.name})
        works_condition = works_summary(works, workflow_completed=outcome.completed)
        pipelines = promise.pipelines(WorkflowType.PROMISE, WorkflowAction.CONFIGURE)
        completed = outcome.completed
        failure = outcome.decision.message if outcome.failed else ""  # type: ignore[union-attr]
        conditions = cond.set_conditions(
            conditions,
            [
                works_condition,
                reconciled(completed, outcome.failed, works_condition, failure_message=failure),
            ],
            now,
        )
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
            conditions = cond.set_condition(
                conditions, cond.Condition(c.CONDITION_AVAILABLE, cond.FALSE, reason, message), now
            )
            status["status"] = "Unavailable"
        status["conditions"] = conditions
        generation = obj["metadata"].get("generation")
        spec_changed = status.get("observedGeneration") != generation
        status["observedGeneration"] = generation
        self._write(obj, old_status, status, outcome.events)
        if available and promise.has_api and (spec_changed or old_status.get("status") != "Available"):
            # A new Promise spec changes every request's hash: each reruns its workflow (§2.8).
            self.enqueue_requests(promise.name)
        if _label_on(obj, c.LABEL_RECONCILE_RESOURCES):
            self.kube.patch(
                r.PROMISES, promise.name, {"metadata": {"labels": {c.LABEL_RECONCILE_RESOURCES: None}}}
            )
            self.enqueue_requests(promise.name)
        return outcome.requeue_after if not missing else timedelta(seconds=30)

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
    def _delete(self, promise: Promise, obj: dict[str, Any], now: datetime) -> timedelta | None:
        finalizers = list(obj["metadata"].get("finalizers") or [])
        old_status = copy.deepcopy(obj.get("status") or {})
        if c.FINALIZER_DELETE_WORKFLOWS in finalizers:
            if promise.delete_pipeline(WorkflowType.PROMISE) is not None:
                subject = Subject(
                    promise, WorkflowType.PROMISE, obj, r.PROMISES, promise_spec_hash(obj.get("spec") or {})
                )
                outcome = self.workflows.delete(subject, now)
                if not outcome.completed:
                    self._write(obj, old_status, outcome.status, outcome.events)
                    return outcome.requeue_after or timedelta(seconds=15)
            return self._release(obj, c.FINALIZER_DELETE_WORKFLOWS)
        if c.FINALIZER_WORKFLOWS_CLEANUP in finalizers:
            for job in self.kube.list(k.JOBS, None, labels={c.LABEL_PROMISE_NAME: promise.name}):
                self.kube.delete(k.JOBS, job["metadata"]["name"], job["metadata"]["namespace"])
            return self._release(obj, c.FINALIZER_WORKFLOWS_CLEANUP)
        if c.FINALIZER_RESOURCE_REQUEST_CLEANUP in finalizers:
            remaining = self._delete_requests(promise)
            if remaining:
                return timedelta(seconds=1)
            return self._release(obj, c.FINALIZER_RESOURCE_REQUEST_CLEANUP)
        if c.FINALIZER_REVISION_CLEANUP in finalizers:
            return self._release(obj, c.FINALIZER_REVISION_CLEANUP)
        if c.FINALIZER_DYNAMIC_CONTROLLER_DEPENDANT_RESOURCES_CLEANUP in finalizers:
            for resource in r.PIPELINE_RBAC_AND_CONFIG:
                for item in self.kube.list(resource, None, labels={c.LABEL_PROMISE_NAME: promise.name}):
                    self.kube.delete(resource, item["metadata"]["name"], item["metadata"].get("namespace"))
            return self._release(obj, c.FINALIZER_DYNAMIC_CONTROLLER_DEPENDANT_RESOURCES_CLEANUP)
        if c.FINALIZER_DEPENDENCIES_CLEANUP in finalizers:
            works = self.kube.list(r.WORKS, None, labels={c.LABEL_PROMISE_NAME: promise.name})
            for work in works:
                if not work["metadata"].get("deletionTimestamp"):
                    self.kube.delete(r.WORKS, work["metadata"]["name"], work["metadata"]["namespace"])
            if works:
                return timedelta(seconds=1)  # the Works' own finalizers remove their files first
            return self._release(obj, c.FINALIZER_DEPENDENCIES_CLEANUP)
        if c.FINALIZER_API_CRD_CLEANUP in finalizers:
            gvk = _safe_gvk(promise)
            if gvk is not None:
                self.kube.delete(k.CRDS, gvk.crd_name)
            return self._release(obj, c.FINALIZER_API_CRD_CLEANUP)
        return None

    def _delete_requests(self, promise: Promise) -> int:
        gvk = _safe_gvk(promise)
        if gvk is None:
            return 0
        resource = k.Resource(gvk.group, gvk.version, gvk.plural, True, gvk.kind)
        requests = self.kube.list(resource)
        for request in requests:
            if not request["metadata"].get("deletionTimestamp"):
                self.kube.delete(resource, request["metadata"]["name"], request["metadata"]["namespace"])
        return len(requests)

    def _release(self, obj: dict[str, Any], finalizer: str) -> timedelta:
        self.kube.remove_finalizer(r.PROMISES, obj, finalizer)
        return timedelta(0)

    # -- status ------------------------------------------------------------------------------------
    def _invalid(self, obj: dict[str, Any], message: str, now: datetime) -> None:
        old = obj.get("status") or {}
        conditions = cond.set_condition(
            old.get("conditions"),
            cond.Condition(c.CONDITION_AVAILABLE, cond.FALSE, "InvalidPromise", message),
            now,
        )
        self._write(obj, old, {**old, "conditions": conditions, "status": "Unavailable", "message": message})

    def _write(
        self,
        obj: Mapping[str, Any],
        old_status: Mapping[str, Any],
        status: Mapping[str, Any],
        extra_events: list[tuple[str, str, str]] | None = None,
    ) -> None:
        written = write_status(self.kube, r.PROMISES, obj, old_status, status)
        # Events only with a status change: a reconcile that changes nothing stays silent.
        events = [*(extra_events or []), *transition_events(old_status, status)] if written else []
        for event_type, reason, message in events:
            self.kube.emit_event(obj, reason, message, type=event_type)


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
    return body


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
        return "RequirementsNotInstalled", "Required Promises not available: " + ", ".join(missing)
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


def _label_on(obj: Mapping[str, Any], key: str) -> bool:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(key) == c.TRUE_LABEL_VALUE
