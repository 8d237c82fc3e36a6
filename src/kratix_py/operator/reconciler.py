"""The one shape every reconciler has: read → validate → deletion steps → decide → status → Events.

A kind's reconciler subclasses :class:`Reconciler` and supplies its steps: where a key's object
lives (:meth:`~Reconciler.locate`), its model, what to do when it is gone, while it is being
deleted, when it is invalid and otherwise. The loop, the order of the steps and the status write
live here once:

- an object being deleted goes to ``delete`` even when it no longer validates, so a Promise
  (or Destination...) that became invalid can still be deleted;
- status is written only when it changed (a merge patch of the top-level keys that differ, guarded
  by the resourceVersion read), and Events are recorded only with a written change, so a quiet
  reconcile is quiet in ``kubectl describe`` too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api import validation_message
from kratix_py.core import conditions as cond
from kratix_py.core.denials import REASON_PERMISSION_DENIED, parse_denial
from kratix_py.operator.cache import ModelReader, parse_model
from kratix_py.operator.queue import Key
from kratix_py.operator.status import transition_events, write_status

log = logging.getLogger(__name__)

M = TypeVar("M")
Event = tuple[str, str, str]
"""(type, reason, message) of a core/v1 Event."""
Clock = Callable[[], datetime]


def label_on(obj: Mapping[str, Any] | None, key: str) -> bool:
    """Whether a boolean Kratix label (paused, misplaced, manual-reconciliation...) is on."""
    return (((obj or {}).get("metadata") or {}).get("labels") or {}).get(key) == c.TRUE_LABEL_VALUE


PERMISSION_RETRY = timedelta(seconds=30)
"""How often an object whose reconcile the API server refused (403) is tried again."""


def _denied_condition(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    found = cond.find((obj.get("status") or {}).get("conditions"), c.CONDITION_OPERATOR_PERMITTED)
    return found if found is not None and found.get("status") == cond.FALSE else None


def deleting(obj: Mapping[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


class Reconciler(Generic[M]):
    """Reconciles one object per call; see the module docstring."""

    resource: ClassVar[k.Resource]
    model_type: ClassVar[type[BaseModel] | None] = None
    """The pydantic model objects are validated with; None: the object is used as it is."""

    def __init__(self, kube: k.Kube, *, model: ModelReader = parse_model, clock: Clock | None = None) -> None:
        self.kube = kube
        self.model = model
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self._denied: dict[Key, str] = {}
        """Keys whose last reconcile the API server refused, with what was refused (logged once)."""

    def __call__(self, key: Key) -> timedelta | None:
        resource, namespace, name = self.locate(key)
        try:
            obj = self.kube.get(resource, name, namespace)
            if obj is None:
                return self.gone(key)
            requeue = self._steps(key, obj)
        except k.KubeError as error:
            if error.status != 403:
                raise
            return self._permission_denied(key, resource, namespace, name, error)
        if self._denied.pop(key, None) is not None or _denied_condition(obj) is not None:
            self._permission_restored(resource, namespace, name)
        return requeue

    def _steps(self, key: Key, obj: dict[str, Any]) -> timedelta | None:
        parsed: Any = obj
        problem = ""
        if self.model_type is not None:
            try:
                parsed = self.model(self.model_type, obj)
            except ValidationError as error:
                parsed, problem = None, validation_message(error)
        if deleting(obj):
            return self.delete(key, obj, parsed)
        if parsed is None:
            return self.invalid(key, obj, problem)
        return self.reconcile(key, obj, parsed)

    # -- the steps a kind supplies ---------------------------------------------------------------------
    def locate(self, key: Key) -> tuple[k.Resource, str | None, str]:
        """(resource, namespace, name) of the key's object; keys are ``(tag, [namespace,] name)``."""
        if len(key) == 3:
            return self.resource, str(key[1]), str(key[2])
        return self.resource, None, str(key[1])

    def gone(self, key: Key) -> timedelta | None:
        """The object no longer exists: forget whatever was kept for it."""
        return None

    def delete(self, key: Key, obj: dict[str, Any], parsed: M | None) -> timedelta | None:
        return None

    def invalid(self, key: Key, obj: dict[str, Any], problem: str) -> timedelta | None:
        log.warning("%s %s is invalid: %s", self.resource.kind, obj["metadata"].get("name"), problem)
        return None

    def reconcile(self, key: Key, obj: dict[str, Any], parsed: M) -> timedelta | None:
        raise NotImplementedError

    # -- a missing permission ---------------------------------------------------------------------------
    def _permission_denied(
        self, key: Key, resource: k.Resource, namespace: str | None, name: str, error: k.KubeError
    ) -> timedelta:
        """One log line and a condition naming the missing permission; retried slowly, never a loop.

        RBAC changes send the operator no event, so the key is looked at again every
        ``PERMISSION_RETRY``: once the ClusterRole is fixed the object carries on by itself.
        """
        denial = parse_denial(error.message)
        message = (
            denial.message()
            if denial is not None
            else f"the API server refused the operator: {error.message}"
        )
        ref = f"{resource.kind} {namespace + '/' if namespace else ''}{name}"
        if self._denied.get(key) != message:
            log.error("cannot reconcile %s: %s", ref, message)
        else:
            log.debug("still cannot reconcile %s: %s", ref, message)
        self._denied[key] = message
        try:
            obj = self.kube.get(resource, name, namespace)
            if obj is not None:
                old = obj.get("status") or {}
                conditions = cond.set_condition(
                    old.get("conditions"),
                    cond.Condition(
                        c.CONDITION_OPERATOR_PERMITTED, cond.FALSE, REASON_PERMISSION_DENIED, message
                    ),
                    self.clock(),
                )
                self.write_status(obj, old, {**old, "conditions": conditions}, resource=resource)
        except k.KubeError as status_error:  # even status may be refused: the log line has said it all
            log.debug("cannot record the denial on %s: %s", ref, status_error.message)
        return PERMISSION_RETRY

    def _permission_restored(self, resource: k.Resource, namespace: str | None, name: str) -> None:
        """The call goes through again: drop the condition (present only while there is something to fix)."""
        obj = self.kube.get(resource, name, namespace)
        if obj is None or _denied_condition(obj) is None:
            return
        old = obj.get("status") or {}
        kept = [x for x in old.get("conditions") or [] if x.get("type") != c.CONDITION_OPERATOR_PERMITTED]
        self.write_status(obj, old, {**old, "conditions": kept}, resource=resource)
        log.info("%s %s: the operator's permissions suffice again", resource.kind, name)

    # -- shared helpers -----------------------------------------------------------------------------------
    def write_status(
        self,
        obj: Mapping[str, Any],
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        events: Iterable[Event] = (),
        *,
        transitions: Callable[[Mapping[str, Any], Mapping[str, Any]], Sequence[Event]] | None = None,
        resource: k.Resource | None = None,
    ) -> bool:
        """Write ``obj``'s status from ``old`` (as read) to ``new`` if they differ; then the Events.

        ``events`` are recorded only if the status was written, followed by one Event per
        condition transition (``transitions`` chooses them; by default every changed condition).
        Raises the API's 409 when someone wrote first, so the reconcile starts again fresh.
        """
        target = resource or self.resource
        if not write_status(self.kube, target, obj, old, new):
            return False
        chosen = transitions(old, new) if transitions is not None else transition_events(old, new)
        for event_type, reason, message in [*events, *chosen]:
            self.kube.emit_event(obj, reason, message, type=event_type)
        return True

    def release(
        self, obj: Mapping[str, Any], finalizer: str, *, resource: k.Resource | None = None
    ) -> timedelta:
        """Remove one finalizer (guarded by resourceVersion) and look again at once."""
        self.kube.remove_finalizer(resource or self.resource, obj, finalizer)
        return timedelta(0)

    def keep_finalizers(
        self, obj: dict[str, Any], wanted: Sequence[str], *, resource: k.Resource | None = None
    ) -> dict[str, Any]:
        """Make sure ``wanted`` are on the object; returns it as it now is."""
        return self.kube.add_finalizers(resource or self.resource, obj, list(wanted))

    def drop_finalizers(
        self, obj: dict[str, Any], ours: Sequence[str], *, resource: k.Resource | None = None
    ) -> dict[str, Any]:
        """Remove every finalizer in ``ours`` at once (guarded by resourceVersion)."""
        meta = obj["metadata"]
        current = list(meta.get("finalizers") or [])
        remaining = [f for f in current if f not in ours]
        if remaining == current:
            return obj
        patch = {"metadata": {"finalizers": remaining, "resourceVersion": meta["resourceVersion"]}}
        try:
            return self.kube.patch(resource or self.resource, meta["name"], patch, meta.get("namespace"))
        except k.KubeError as error:
            if not error.not_found:
                raise
            return obj
