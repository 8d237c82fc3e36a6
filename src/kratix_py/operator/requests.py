"""Resource requests: run the Promise's resource workflows and report, for every request kind.

Requests of every Promise's kind come through this one reconciler: the key carries the request's
group/version/plural, and the owning Promise is found through the CRD's ``kratix.io/promise-name``
label. A request waits (``PromiseAvailable=False``) until its Promise is Available, and its hash
covers the Promise spec, so changing a Promise reruns every request (§2.8).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api import Promise, validation_message
from kratix_py.contract import WorkflowType, WorkType
from kratix_py.core import conditions as cond
from kratix_py.core.hashing import resource_spec_hash
from kratix_py.core.names import pipeline_namespace
from kratix_py.operator import resources as r
from kratix_py.operator.cache import ModelReader, parse_model
from kratix_py.operator.request_kinds import RequestKinds
from kratix_py.operator.status import reconciled, transition_events, works_summary, write_status
from kratix_py.operator.workflows import Subject, WorkflowRunner

log = logging.getLogger(__name__)

RequestKey = tuple[str, str, str, str, str, str]
"""("request", group, version, plural, namespace, name)."""


def request_key(group: str, version: str, plural: str, namespace: str, name: str) -> RequestKey:
    return ("request", group, version, plural, namespace, name)


class RequestReconciler:
    """Reconciles one resource request per call; see the module docstring."""

    def __init__(
        self,
        kube: k.Kube,
        workflows: WorkflowRunner,
        *,
        kinds: RequestKinds | None = None,
        model: ModelReader = parse_model,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.kube = kube
        self.workflows = workflows
        self.kinds = kinds
        self.model = model
        self.clock = clock

    def __call__(self, key: tuple[Any, ...]) -> timedelta | None:
        _, group, version, plural, namespace, name = (str(part) for part in key)
        resource = k.Resource(group, version, plural, True)
        obj = self.kube.get(resource, name, namespace)
        if obj is None:
            return None
        now = self.clock()
        promise_name = self._promise_name(group, plural)
        promise_obj = self.kube.get(r.PROMISES, promise_name) if promise_name else None
        promise: Promise | None = None
        if promise_obj is not None:
            try:
                promise = self.model(Promise, promise_obj)
            except ValidationError as error:
                log.warning("Promise %s is invalid: %s", promise_name, validation_message(error))
        resource = k.Resource(group, version, plural, True, str(obj.get("kind") or ""))
        if obj["metadata"].get("deletionTimestamp"):
            return self._delete(resource, obj, promise, now)
        if (
            promise is None
            or promise_obj is None
            or promise_obj.get("status", {}).get("status") != "Available"
        ):
            return self._wait_for_promise(resource, obj, promise_name, promise_obj, now)
        if promise_obj["status"].get("observedGeneration") != promise_obj["metadata"].get("generation"):
            # The Promise changed and its reconciler has not installed the change yet (its CRD may
            # still be the old one). Running now would use a half-applied Promise and run again
            # once the CRD's defaults reach the request; the Promise re-enqueues us when done.
            return timedelta(seconds=2)
        if _label_on(promise_obj, c.LABEL_PAUSED) or _label_on(obj, c.LABEL_PAUSED):
            self._paused(resource, obj, now)
            return None

        obj = self._ensure_metadata(resource, obj, promise.name)
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
        spec_hash = resource_spec_hash((promise_obj or {}).get("spec") or {}, obj.get("spec") or {})
        subject = Subject(promise, WorkflowType.RESOURCE, obj, resource, spec_hash)
        outcome = self.workflows.configure(subject, now)
        status = outcome.status
        works = self._works(promise, obj)
        works_condition = works_summary(works, workflow_completed=outcome.completed)
        failure = outcome.decision.message if outcome.failed else ""  # type: ignore[union-attr]
        status["conditions"] = cond.set_conditions(
            status.get("conditions"),
            [
                works_condition,
                reconciled(outcome.completed, outcome.failed, works_condition, failure_message=failure),
            ],
            now,
        )
        status["observedGeneration"] = obj["metadata"].get("generation")
        if promise.promise_version:
            status["promiseVersion"] = promise.promise_version
        self._write(resource, obj, old_status, status, outcome.events)
        if outcome.completed and works_condition.status == cond.UNKNOWN:
            return min(outcome.requeue_after or timedelta(seconds=5), timedelta(seconds=5))
        return outcome.requeue_after

    # -- helpers -----------------------------------------------------------------------------------
    def _promise_name(self, group: str, plural: str) -> str | None:
        """The Promise owning a request kind, from its CRD's label (the CRD watch keeps it current)."""
        served = self.kinds.by_plural(group, plural) if self.kinds is not None else None
        if served is not None:
            return served.promise
        crd = self.kube.get(k.CRDS, f"{plural}.{group}")
        name = ((crd or {}).get("metadata", {}).get("labels") or {}).get(c.LABEL_PROMISE_NAME)
        return str(name) if name else None

    def _ensure_metadata(
        self, resource: k.Resource, obj: dict[str, Any], promise_name: str
    ) -> dict[str, Any]:
        """Kratix's finalizers and the promise-name label (added if the requester left it out)."""
        obj = self.kube.add_finalizers(resource, obj, list(c.RESOURCE_REQUEST_FINALIZERS))
        labels = obj["metadata"].get("labels") or {}
        if labels.get(c.LABEL_PROMISE_NAME) != promise_name:
            obj = self.kube.patch(
                resource,
                obj["metadata"]["name"],
                {"metadata": {"labels": {c.LABEL_PROMISE_NAME: promise_name}}},
                obj["metadata"]["namespace"],
            )
        return obj

    def _works(self, promise: Promise, obj: Mapping[str, Any]) -> list[dict[str, Any]]:
        meta = obj["metadata"]
        namespace = pipeline_namespace(promise, WorkflowType.RESOURCE, meta["namespace"])
        labels = {
            c.LABEL_PROMISE_NAME: promise.name,
            c.LABEL_RESOURCE_NAME: meta["name"],
            c.LABEL_WORK_TYPE: str(WorkType.RESOURCE),
        }
        if namespace != meta["namespace"]:
            labels[c.LABEL_RESOURCE_NAMESPACE] = meta["namespace"]
        return self.kube.list(r.WORKS, namespace, labels=labels)

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
                c.CONDITION_PROMISE_AVAILABLE, cond.FALSE, "PromiseRequirementsNotInstalled", message
            ),
            now,
        )
        self._write(resource, obj, old, {**old, "conditions": conditions, "message": message})
        return timedelta(seconds=30)

    def _paused(self, resource: k.Resource, obj: dict[str, Any], now: datetime) -> None:
        old = obj.get("status") or {}
        conditions = cond.set_condition(
            old.get("conditions"),
            cond.Condition(c.CONDITION_RECONCILED, cond.UNKNOWN, "PausedReconciliation", "Paused"),
            now,
        )
        self._write(resource, obj, old, {**old, "conditions": conditions})

    def _delete(
        self, resource: k.Resource, obj: dict[str, Any], promise: Promise | None, now: datetime
    ) -> timedelta | None:
        finalizers = list(obj["metadata"].get("finalizers") or [])
        meta = obj["metadata"]
        if c.FINALIZER_DELETE_WORKFLOWS in finalizers:
            if promise is not None and promise.delete_pipeline(WorkflowType.RESOURCE) is not None:
                promise_obj = self.kube.get(r.PROMISES, promise.name) or {}
                spec_hash = resource_spec_hash(promise_obj.get("spec") or {}, obj.get("spec") or {})
                subject = Subject(promise, WorkflowType.RESOURCE, obj, resource, spec_hash)
                outcome = self.workflows.delete(subject, now)
                if not outcome.completed:
                    self._write(resource, obj, obj.get("status") or {}, outcome.status, outcome.events)
                    return outcome.requeue_after or timedelta(seconds=15)
            return self._release(resource, obj, c.FINALIZER_DELETE_WORKFLOWS)
        if c.FINALIZER_WORK_CLEANUP in finalizers:
            works = self._works(promise, obj) if promise is not None else self._orphan_works(meta)
            for work in works:
                if not work["metadata"].get("deletionTimestamp"):
                    self.kube.delete(r.WORKS, work["metadata"]["name"], work["metadata"]["namespace"])
            if works:
                return timedelta(seconds=1)  # the Works' finalizers remove their files first
            return self._release(resource, obj, c.FINALIZER_WORK_CLEANUP)
        if c.FINALIZER_WORKFLOWS_CLEANUP in finalizers:
            labels = {c.LABEL_RESOURCE_NAME: meta["name"], c.LABEL_WORKFLOW_TYPE: str(WorkflowType.RESOURCE)}
            if promise is not None:
                labels[c.LABEL_PROMISE_NAME] = promise.name
            namespace = (
                pipeline_namespace(promise, WorkflowType.RESOURCE, meta["namespace"])
                if promise
                else meta["namespace"]
            )
            for job in self.kube.list(k.JOBS, namespace, labels=labels):
                self.kube.delete(k.JOBS, job["metadata"]["name"], job["metadata"]["namespace"])
            return self._release(resource, obj, c.FINALIZER_WORKFLOWS_CLEANUP)
        if c.FINALIZER_RESOURCE_BINDING_CLEANUP in finalizers:
            return self._release(resource, obj, c.FINALIZER_RESOURCE_BINDING_CLEANUP)
        return None

    def _orphan_works(self, meta: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Works of a request whose Promise is gone: found by the request's labels alone."""
        return self.kube.list(
            r.WORKS,
            meta["namespace"],
            labels={c.LABEL_RESOURCE_NAME: meta["name"], c.LABEL_WORK_TYPE: "resource"},
        )

    def _release(self, resource: k.Resource, obj: dict[str, Any], finalizer: str) -> timedelta:
        self.kube.remove_finalizer(resource, obj, finalizer)
        return timedelta(0)

    def _write(
        self,
        resource: k.Resource,
        obj: Mapping[str, Any],
        old_status: Mapping[str, Any],
        status: Mapping[str, Any],
        extra_events: list[tuple[str, str, str]] | None = None,
    ) -> None:
        written = write_status(self.kube, resource, obj, old_status, status)
        # Events only with a status change: a reconcile that changes nothing stays silent.
        events = [*(extra_events or []), *transition_events(old_status, status)] if written else []
        for event_type, reason, message in events:
            self.kube.emit_event(obj, reason, message, type=event_type)


def _label_on(obj: Mapping[str, Any] | None, key: str) -> bool:
    return (((obj or {}).get("metadata") or {}).get("labels") or {}).get(key) == c.TRUE_LABEL_VALUE
