"""Resource requests: run the Promise's resource workflows and report, for every request kind.

Requests of every Promise's kind come through this one reconciler: the key carries the request's
group/version/plural, and the owning Promise is the one whose CRD serves that kind (the CRD's
``kratix.io/promise-name`` label, kept current by the CRD watch). A request waits
(``PromiseAvailable=False``) until its Promise is Available, and its hash covers the Promise spec,
so changing a Promise reruns every request (§2.8). A Promise being deleted starts no new workflow.

On delete, what is removed is found by the request's *own* labels (its Promise's name, set on
every request this operator ran): when the Promise cannot be read any more, nothing that another
Promise's request of the same name owns is ever selected.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api import Promise
from kratix_py.contract import WorkflowAction, WorkflowType, WorkType
from kratix_py.core import conditions as cond
from kratix_py.core.hashing import combine_spec_hashes, resource_spec_hash, spec_hash
from kratix_py.core.names import pipeline_namespace
from kratix_py.core.ownership import owned_by
from kratix_py.operator import resources as r
from kratix_py.operator.cache import ModelReader, parse_model
from kratix_py.operator.catalog import CatalogWriter
from kratix_py.operator.queue import Key
from kratix_py.operator.reconciler import Clock, Reconciler, deleting, label_on
from kratix_py.operator.request_kinds import RequestKinds
from kratix_py.operator.revisions import find_binding, new_binding, promise_version, revision_name
from kratix_py.operator.status import (
    failing_work_details,
    reconciled,
    transition_events,
    works_summary,
    write_status,
)
from kratix_py.operator.workflows import Subject, WorkflowRunner

log = logging.getLogger(__name__)

RequestKey = tuple[str, str, str, str, str, str]
"""("request", group, version, plural, namespace, name)."""

WAIT_FOR_PROMISE = timedelta(seconds=30)
"""Look again this soon while the Promise is not available (its changes also enqueue us)."""


def request_key(group: str, version: str, plural: str, namespace: str, name: str) -> RequestKey:
    return ("request", group, version, plural, namespace, name)


class RequestReconciler(Reconciler[dict[str, Any]]):
    """Reconciles one resource request per call; see the module docstring."""

    resource = k.Resource("", "v1", "requests")  # each key names its own kind (see locate)

    def __init__(
        self,
        kube: k.Kube,
        workflows: WorkflowRunner,
        *,
        kinds: RequestKinds | None = None,
        catalog: CatalogWriter | None = None,
        binding_strategy: str = "floating",
        model: ModelReader = parse_model,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(kube, model=model, clock=clock)
        self.workflows = workflows
        self.kinds = kinds
        self.catalog = catalog
        self.binding_strategy = binding_strategy
        self._promise_hashes: dict[tuple[str, str], str] = {}

    def locate(self, key: Key) -> tuple[k.Resource, str | None, str]:
        _, group, version, plural, namespace, name = (str(part) for part in key)
        served = self.kinds.by_plural(group, plural) if self.kinds is not None else None
        return k.Resource(group, version, plural, True, served.kind if served else ""), namespace, name

    # -- the steps -------------------------------------------------------------------------------------
    def reconcile(self, key: Key, obj: dict[str, Any], parsed: dict[str, Any]) -> timedelta | None:
        resource = self._resource_of(key, obj)
        now = self.clock()
        promise_name = self._promise_name(resource)
        promise_obj = self.kube.get(r.PROMISES, promise_name) if promise_name else None
        promise = self._promise(promise_obj)
        if (
            promise is not None
            and promise_obj is not None
            and not deleting(promise_obj)
            and (label_on(promise_obj, c.LABEL_PAUSED) or label_on(obj, c.LABEL_PAUSED))
        ):
            # Before availability: a paused Promise is Unavailable, yet its requests are paused,
            # not waiting, and say so where kubectl shows it (Kratix checks pause first too).
            self._paused(resource, obj, now)
            return None
        if (
            promise is None
            or promise_obj is None
            or promise_obj.get("status", {}).get("status") != "Available"
            or deleting(promise_obj)
        ):
            if promise_obj is not None and _reconfiguring(promise_obj):
                # A Promise that served before and is rerunning its own workflow after an update
                # is not "not installed": the request keeps its status and waits (the Promise
                # re-enqueues its requests once it is Available again).
                return timedelta(seconds=2)
            return self._wait_for_promise(resource, obj, promise_name, promise_obj, now)
        if promise_obj["status"].get("observedGeneration") != promise_obj["metadata"].get("generation"):
            # The Promise changed and its reconciler has not installed the change yet (its CRD may
            # still be the old one). Running now would use a half-applied Promise and run again
            # once the CRD's defaults reach the request; the Promise re-enqueues us when done.
            return timedelta(seconds=2)

        obj = self._ensure_metadata(resource, obj, promise.name)
        binding = self._binding(promise.name, obj, promise_obj)
        if label_on(binding, c.LABEL_MANUAL_RECONCILIATION):
            obj, binding = self._rerun_from_binding(resource, obj, binding)
        bound = self._bound(binding, promise_obj)
        if isinstance(bound, str):
            self._version_missing(resource, obj, binding, bound, now)
            return None  # an edit of the binding (or a new revision) enqueues the request again
        version, promise_obj = bound
        promise = self.model(Promise, promise_obj)
        if promise.pipelines(WorkflowType.RESOURCE, WorkflowAction.CONFIGURE):
            obj = self._after_unpause(resource, obj)
        old_status = copy.deepcopy(obj.get("status") or {})
        status = copy.deepcopy(old_status)
        status["conditions"] = cond.set_condition(
            status.get("conditions"),
            cond.Condition(
                c.CONDITION_PROMISE_AVAILABLE, cond.TRUE, "PromiseAvailable", "Promise is available"
            ),
            now,
        )
        obj = {**obj, "status": status}
        spec_hash = combine_spec_hashes(self._promise_hash(promise_obj), obj.get("spec") or {})
        # The hash covers the Promise's spec too: when the request's own spec has been seen
        # already (observedGeneration), a new hash can only mean the Promise changed.
        own_change = old_status.get("observedGeneration") != obj["metadata"].get("generation")
        subject = Subject(
            promise,
            WorkflowType.RESOURCE,
            obj,
            resource,
            spec_hash,
            change_reason=(
                "the request's specification changed"
                if own_change
                else f"the request moved to version {version}"
                if old_status.get("promiseVersion", c.UNVERSIONED_PROMISE) != version
                else "the Promise changed"
            ),
        )
        outcome = self.workflows.configure(subject, now)
        status = outcome.status
        # Only the request's own Works count: one claiming it without its uid is refused by the
        # Work reconciler and must not turn this request red (or green).
        works = [work for work in self._works(promise.name, promise, obj) if owned_by(work, obj)]
        works_condition = works_summary(
            works,
            workflow_completed=outcome.completed,
            workflow_suspended=outcome.suspended,
            details=failing_work_details(self.kube, works),
        )
        failure = outcome.decision.message if outcome.failed else ""  # type: ignore[union-attr]
        status["conditions"] = cond.set_conditions(
            status.get("conditions"),
            [
                works_condition,
                reconciled(
                    outcome.completed,
                    outcome.failed,
                    works_condition,
                    failure_message=failure,
                    suspended_message=outcome.suspension_message,
                ),
            ],
            now,
        )
        status["observedGeneration"] = obj["metadata"].get("generation")
        if version != c.UNVERSIONED_PROMISE:
            status["promiseVersion"] = version
        status["resourceBindingVersion"] = binding["spec"]["version"]
        self.write_status(obj, old_status, status, outcome.events, resource=resource)
        self._upgrade(binding, version, outcome.completed, outcome.failed, failure, now)
        if self.catalog is not None:
            self.catalog.request(promise_obj, {**obj, "status": status}, works)
        if outcome.completed and works_condition.status == cond.UNKNOWN:
            return min(outcome.requeue_after or timedelta(seconds=5), timedelta(seconds=5))
        return outcome.requeue_after

    def delete(self, key: Key, obj: dict[str, Any], parsed: dict[str, Any] | None) -> timedelta | None:
        resource = self._resource_of(key, obj)
        now = self.clock()
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        # The request's own label says which Promise ran it; the kind's Promise is the fallback
        # for a request deleted before its first reconcile added the label.
        own_promise = (meta.get("labels") or {}).get(c.LABEL_PROMISE_NAME)
        promise_name = str(own_promise) if own_promise else self._promise_name(resource)
        promise_obj = self.kube.get(r.PROMISES, promise_name) if promise_name else None
        if promise_obj is not None and own_promise:
            # A request pinned to a version runs that version's delete pipelines.
            binding = find_binding(self.kube, str(own_promise), meta["namespace"], meta["name"])
            bound = self._bound(binding, promise_obj) if binding is not None else None
            if isinstance(bound, tuple):
                promise_obj = bound[1]
        promise = self._promise(promise_obj)
        if c.FINALIZER_DELETE_WORKFLOWS in finalizers:
            if promise is not None and promise.delete_pipeline(WorkflowType.RESOURCE) is not None:
                spec_hash = resource_spec_hash((promise_obj or {}).get("spec") or {}, obj.get("spec") or {})
                subject = Subject(promise, WorkflowType.RESOURCE, obj, resource, spec_hash)
                outcome = self.workflows.delete(subject, now)
                if not outcome.completed:
                    self.write_status(
                        obj, obj.get("status") or {}, outcome.status, outcome.events, resource=resource
                    )
                    return outcome.requeue_after or timedelta(seconds=15)
            return self.release(obj, c.FINALIZER_DELETE_WORKFLOWS, resource=resource)
        if c.FINALIZER_WORK_CLEANUP in finalizers:
            works = self._works(own_promise, promise, obj) if own_promise else []
            catalog_work = (
                self.catalog.request_work(own_promise, obj) if self.catalog and own_promise else None
            )
            if catalog_work is not None:
                works.append(catalog_work)  # its files go before the request does, like the rest
            abandon = (meta.get("annotations") or {}).get(c.ANNOTATION_ABANDON_CLEANUP) == c.TRUE_LABEL_VALUE
            blocked = []
            for work in works:
                work_meta = work["metadata"]
                if (
                    abandon
                    and (work_meta.get("annotations") or {}).get(c.ANNOTATION_ABANDON_CLEANUP) != "true"
                ):
                    # The request's choice reaches its placements through its Works.
                    self.kube.patch(
                        r.WORKS,
                        work_meta["name"],
                        {"metadata": {"annotations": {c.ANNOTATION_ABANDON_CLEANUP: c.TRUE_LABEL_VALUE}}},
                        work_meta["namespace"],
                    )
                if not work_meta.get("deletionTimestamp"):
                    self.kube.delete(r.WORKS, work_meta["name"], work_meta["namespace"])
                ready = cond.find((work.get("status") or {}).get("conditions"), c.CONDITION_READY)
                if ready is not None and ready.get("reason") == "CleanupBlocked":
                    blocked.append(f"Work {work_meta['name']}: {ready.get('message')}")
            if blocked:
                old = obj.get("status") or {}
                conditions = cond.set_condition(
                    old.get("conditions"),
                    cond.Condition(c.CONDITION_RECONCILED, cond.FALSE, "CleanupBlocked", "; ".join(blocked)),
                    now,
                )
                self.write_status(obj, old, {**old, "conditions": conditions}, resource=resource)
                return timedelta(seconds=15)
            if works:
                return timedelta(seconds=1)  # the Works' finalizers remove their files first
            return self.release(obj, c.FINALIZER_WORK_CLEANUP, resource=resource)
        if c.FINALIZER_WORKFLOWS_CLEANUP in finalizers:
            if own_promise:
                labels = {
                    c.LABEL_PROMISE_NAME: str(own_promise),
                    c.LABEL_RESOURCE_NAME: meta["name"],
                    c.LABEL_WORKFLOW_TYPE: str(WorkflowType.RESOURCE),
                }
                namespace = (
                    pipeline_namespace(promise, WorkflowType.RESOURCE, meta["namespace"]) if promise else None
                )
                for job in self.kube.list(k.JOBS, namespace, labels=labels):
                    if _job_of(job, meta):
                        self.kube.delete(k.JOBS, job["metadata"]["name"], job["metadata"]["namespace"])
            return self.release(obj, c.FINALIZER_WORKFLOWS_CLEANUP, resource=resource)
        if c.FINALIZER_RESOURCE_BINDING_CLEANUP in finalizers:
            if own_promise:
                binding = find_binding(self.kube, str(own_promise), meta["namespace"], meta["name"])
                if binding is not None:
                    self.kube.delete(r.RESOURCE_BINDINGS, binding["metadata"]["name"], meta["namespace"])
            return self.release(obj, c.FINALIZER_RESOURCE_BINDING_CLEANUP, resource=resource)
        return None

    # -- helpers -----------------------------------------------------------------------------------
    def _resource_of(self, key: Key, obj: Mapping[str, Any]) -> k.Resource:
        resource, _, _ = self.locate(key)
        return k.Resource(resource.group, resource.version, resource.plural, True, str(obj.get("kind") or ""))

    def _promise_name(self, resource: k.Resource) -> str | None:
        """The Promise owning a request kind, from its CRD's label (the CRD watch keeps it current)."""
        served = self.kinds.by_plural(resource.group, resource.plural) if self.kinds is not None else None
        if served is not None:
            return served.promise
        crd = self.kube.get(k.CRDS, f"{resource.plural}.{resource.group}")
        name = ((crd or {}).get("metadata", {}).get("labels") or {}).get(c.LABEL_PROMISE_NAME)
        return str(name) if name else None

    def _promise_hash(self, promise_obj: Mapping[str, Any]) -> str:
        """md5 of the Promise's spec, kept per Promise version."""
        meta = promise_obj.get("metadata") or {}
        key = (str(meta.get("uid")), str(meta.get("resourceVersion")))
        found = self._promise_hashes.get(key)
        if found is None:
            found = spec_hash(promise_obj.get("spec") or {})
            if len(self._promise_hashes) > 256:
                self._promise_hashes.clear()
            self._promise_hashes[key] = found
        return found

    def _promise(self, promise_obj: Mapping[str, Any] | None) -> Promise | None:
        if promise_obj is None:
            return None
        try:
            return self.model(Promise, promise_obj)
        except ValueError:  # pydantic's ValidationError: the Promise reports it in its own status
            return None

    def _ensure_metadata(
        self, resource: k.Resource, obj: dict[str, Any], promise_name: str
    ) -> dict[str, Any]:
        """Kratix's finalizers, the promise-name label (added if the requester left it out) and,
        with a Backstage catalog, the Kubernetes plugin's label, in one write."""
        meta = obj["metadata"]
        current = list(meta.get("finalizers") or [])
        missing = [f for f in c.RESOURCE_REQUEST_FINALIZERS if f not in current]
        labels = self.catalog.missing_labels(promise_name, obj) if self.catalog is not None else {}
        if (meta.get("labels") or {}).get(c.LABEL_PROMISE_NAME) != promise_name:
            labels[c.LABEL_PROMISE_NAME] = promise_name
        if not missing and not labels:
            return obj
        patch: dict[str, Any] = {"resourceVersion": meta["resourceVersion"]}
        if missing:
            patch["finalizers"] = current + missing
        if labels:
            patch["labels"] = labels
        return self.kube.patch(resource, meta["name"], {"metadata": patch}, meta["namespace"])

    def _works(
        self, promise_name: str, promise: Promise | None, obj: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """The request's Works, by its Promise's name and its own name and namespace."""
        meta = obj["metadata"]
        namespace = pipeline_namespace(promise, WorkflowType.RESOURCE, meta["namespace"]) if promise else None
        labels = {
            c.LABEL_PROMISE_NAME: promise_name,
            c.LABEL_RESOURCE_NAME: meta["name"],
            c.LABEL_WORK_TYPE: str(WorkType.RESOURCE),
        }
        return [work for work in self.kube.list(r.WORKS, namespace, labels=labels) if _work_of(work, meta)]

    def _binding(
        self, promise_name: str, obj: Mapping[str, Any], promise_obj: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The request's ResourceBinding, created (following ``latest``) when it has none."""
        meta = obj["metadata"]
        found = find_binding(self.kube, promise_name, meta["namespace"], meta["name"])
        if found is not None:
            return found
        # A binding deleted by hand comes back with the version the request was bound to; a new
        # one follows latest, or pins the Promise's current version with the pinned strategy.
        version = (obj.get("status") or {}).get("resourceBindingVersion") or (
            promise_version(promise_obj) if self.binding_strategy == "pinned" else c.LATEST_VERSION
        )
        body = new_binding(promise_name, meta["namespace"], meta["name"], str(version))
        # A 409 (made meanwhile, not yet in the cache) goes to the queue, which reconciles again.
        return self.kube.create(r.RESOURCE_BINDINGS, body)

    def _rerun_from_binding(
        self, resource: k.Resource, obj: dict[str, Any], binding: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Kratix's manual-reconciliation label on a binding goes to its request (which reruns)."""
        meta = obj["metadata"]
        label = {"metadata": {"labels": {c.LABEL_MANUAL_RECONCILIATION: c.TRUE_LABEL_VALUE}}}
        obj = self.kube.patch(resource, meta["name"], label, meta["namespace"])
        unlabel = {"metadata": {"labels": {c.LABEL_MANUAL_RECONCILIATION: None}}}
        binding_meta = binding["metadata"]
        binding = self.kube.patch(
            r.RESOURCE_BINDINGS, binding_meta["name"], unlabel, binding_meta["namespace"]
        )
        return obj, binding

    def _bound(
        self, binding: Mapping[str, Any], promise_obj: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]] | str:
        """(version, Promise to run) for the binding, or why its version cannot be run.

        ``latest`` runs the live Promise (its latest revision holds the same spec); a pinned
        version runs its revision's spec, found by name (one cache read however many exist).
        """
        wanted = str((binding.get("spec") or {}).get("version") or c.LATEST_VERSION)
        current = promise_version(promise_obj)
        if wanted == c.LATEST_VERSION:
            return current, dict(promise_obj)
        promise_name = str(promise_obj["metadata"]["name"])
        revision = self.kube.get(r.PROMISE_REVISIONS, revision_name(promise_name, wanted))
        if revision is None or (revision.get("spec") or {}).get("version") != wanted:
            if wanted == current:
                return current, dict(promise_obj)  # its revision is being recorded right now
            known = sorted(
                str((rev.get("spec") or {}).get("version"))
                for rev in self.kube.list(r.PROMISE_REVISIONS, labels={c.LABEL_PROMISE_NAME: promise_name})
            )
            return (
                f"ResourceBinding {binding['metadata']['name']} spec.version {wanted!r} is not a version "
                f"of Promise {promise_name} (it has: {', '.join(known) or 'none'}): set spec.version "
                f"to one of them or to {c.LATEST_VERSION}"
            )
        meta = promise_obj["metadata"]
        # The Promise as it was at that version: its spec from the revision, and a resourceVersion
        # of both objects so a parsed model or spec hash is never mixed up with the live Promise's.
        pinned = {
            **promise_obj,
            "metadata": {
                **meta,
                "resourceVersion": f"{meta.get('resourceVersion')}@{revision['metadata'].get('resourceVersion')}",
            },
            "spec": revision["spec"].get("promiseSpec") or {},
        }
        return wanted, pinned

    def _version_missing(
        self,
        resource: k.Resource,
        obj: dict[str, Any],
        binding: dict[str, Any],
        message: str,
        now: datetime,
    ) -> None:
        """A binding to a version that does not exist: said on the request and the binding."""
        old = obj.get("status") or {}
        conditions = cond.set_condition(
            old.get("conditions"),
            cond.Condition(c.CONDITION_RECONCILED, cond.FALSE, "VersionNotFound", message),
            now,
        )
        self.write_status(obj, old, {**old, "conditions": conditions}, resource=resource)
        old_binding = binding.get("status") or {}
        conditions = cond.set_condition(
            old_binding.get("conditions"),
            cond.Condition(c.CONDITION_UPGRADE_SUCCEEDED, cond.FALSE, "VersionNotFound", message),
            now,
        )
        self._write_binding(binding, old_binding, {**old_binding, "conditions": conditions})

    def _upgrade(
        self,
        binding: dict[str, Any],
        version: str,
        completed: bool,
        failed: bool,
        failure: str,
        now: datetime,
    ) -> None:
        """The binding's UpgradeSucceeded and versions after a run of ``version``.

        A version that failed stays ``False`` while it is retried (no flapping through Unknown on
        every retry); it turns True when a run of it, or of another version, succeeds. Only a move
        from one version to another shows Unknown/UpgradeInProgress while it runs.
        """
        old = binding.get("status") or {}
        new = copy.deepcopy(old)
        if completed and not failed:
            new["lastAppliedVersion"] = version
            new.pop("failedVersion", None)
            condition = cond.Condition(
                c.CONDITION_UPGRADE_SUCCEEDED, cond.TRUE, "UpgradeComplete", f"running version {version}"
            )
        elif failed:
            new["failedVersion"] = version
            condition = cond.Condition(
                c.CONDITION_UPGRADE_SUCCEEDED,
                cond.FALSE,
                "UpgradeFailed",
                f"version {version} failed: {failure}" if failure else f"version {version} failed",
            )
        elif old.get("failedVersion") == version or old.get("lastAppliedVersion") == version:
            return  # a retry of a failed version, or a rerun of the applied one: not an upgrade
        elif not old.get("lastAppliedVersion") and not old.get("failedVersion"):
            return  # the first run is an install, not an upgrade: its outcome is the first word
        else:
            condition = cond.Condition(
                c.CONDITION_UPGRADE_SUCCEEDED,
                cond.UNKNOWN,
                "UpgradeInProgress",
                f"moving to version {version}",
            )
        new["conditions"] = cond.set_condition(old.get("conditions"), condition, now)
        self._write_binding(binding, old, new)

    def _write_binding(
        self, binding: Mapping[str, Any], old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> None:
        """The binding's status, and an Event per changed condition (as the skeleton does for the
        request itself)."""
        if write_status(self.kube, r.RESOURCE_BINDINGS, binding, old, new):
            for event_type, reason, message in transition_events(old, new):
                self.kube.emit_event(binding, reason, message, type=event_type)

    def _wait_for_promise(
        self,
        resource: k.Resource,
        obj: dict[str, Any],
        promise_name: str | None,
        promise_obj: Mapping[str, Any] | None,
        now: datetime,
    ) -> timedelta:
        old = obj.get("status") or {}
        if promise_obj is None:
            message = f"Promise {promise_name or '(unknown)'} is not installed"
        elif (promise_obj.get("metadata") or {}).get("deletionTimestamp"):
            message = f"Promise {promise_name} is being deleted"
        else:
            requirements = [
                f"{req.get('name')}" + (f" {req.get('version')}" if req.get("version") else "")
                for req in (promise_obj.get("status") or {}).get("requiredPromises") or []
                if req.get("state") != "Requirement installed"
            ]
            message = (
                "Promise "
                + str(promise_name)
                + " is not available"
                + (": required Promises missing: " + ", ".join(requirements) if requirements else "")
            )
        conditions = cond.set_condition(
            old.get("conditions"),
            cond.Condition(
                c.CONDITION_PROMISE_AVAILABLE,
                cond.FALSE,
                "PromiseRequirementsNotInstalled",
                f"{c.MESSAGE_PROMISE_REQUIREMENTS_NOT_INSTALLED}: {message}",
            ),
            now,
        )
        # ``status.message`` is Kratix's one word (the ``message`` column of ``kubectl get``, read by
        # scripts); the condition carries the reason in full.
        status = {**old, "conditions": conditions, "message": c.MESSAGE_PENDING}
        self.write_status(obj, old, status, resource=resource)
        return WAIT_FOR_PROMISE

    def _after_unpause(self, resource: k.Resource, obj: dict[str, Any]) -> dict[str, Any]:
        """A request whose pause (its own or its Promise's) was lifted reruns from its first pipeline.

        Its last word was ``Reconciled=Unknown PausedReconciliation``; the run-from-start label
        (Kratix's way) makes the workflow start a new run, and the label goes when it starts.
        """
        reconciled_now = cond.find((obj.get("status") or {}).get("conditions"), c.CONDITION_RECONCILED)
        if reconciled_now is None or reconciled_now.get("reason") != c.REASON_PAUSED_RECONCILIATION:
            return obj
        meta = obj["metadata"]
        patch = {"metadata": {"labels": {c.LABEL_RUN_FROM_START: c.TRUE_LABEL_VALUE}}}
        log.info(
            "request %s/%s unpaused: rerunning its workflow from the start", meta["namespace"], meta["name"]
        )
        return self.kube.patch(resource, meta["name"], patch, meta["namespace"])

    def _paused(self, resource: k.Resource, obj: dict[str, Any], now: datetime) -> None:
        old = obj.get("status") or {}
        conditions = cond.set_condition(
            old.get("conditions"),
            cond.Condition(c.CONDITION_RECONCILED, cond.UNKNOWN, c.REASON_PAUSED_RECONCILIATION, "Paused"),
            now,
        )
        self.write_status(obj, old, {**old, "conditions": conditions}, resource=resource)


def _reconfiguring(promise_obj: Mapping[str, Any]) -> bool:
    """The Promise was Available and is only rerunning its configure workflow after a change."""
    meta, status = promise_obj.get("metadata") or {}, promise_obj.get("status") or {}
    if (
        not status.get("lastAvailableTime")
        or meta.get("deletionTimestamp")
        or label_on(promise_obj, c.LABEL_PAUSED)
    ):
        return False
    if any(req.get("state") != "Requirement installed" for req in status.get("requiredPromises") or []):
        return False
    if status.get("observedGeneration") != meta.get("generation"):
        return True
    running = cond.find(status.get("conditions"), c.CONDITION_CONFIGURE_WORKFLOW_COMPLETED)
    return bool(running and running.get("reason") == "PipelinesInProgress")


def _work_of(work: Mapping[str, Any], request_meta: Mapping[str, Any]) -> bool:
    """A Work found by labels is this request's only if it is for the request's namespace too
    (with ``pipelineNamespace`` the Works of several namespaces' requests share one namespace)."""
    meta = work.get("metadata") or {}
    namespace = (meta.get("labels") or {}).get(c.LABEL_RESOURCE_NAMESPACE) or meta.get("namespace")
    return bool(namespace == request_meta.get("namespace"))


def _job_of(job: Mapping[str, Any], request_meta: Mapping[str, Any]) -> bool:
    annotations = (job.get("metadata") or {}).get("annotations") or {}
    namespace = annotations.get(c.ANNOTATION_JOB_RESOURCE_NAMESPACE) or (job.get("metadata") or {}).get(
        "namespace"
    )
    return bool(namespace == request_meta.get("namespace"))
