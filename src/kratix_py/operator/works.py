"""Works: schedule each workload group onto Destinations as WorkPlacements, and report.

One reconcile reads the Work, every Destination and the Work's placements, asks
:func:`kratix_py.core.scheduling.schedule` what should exist, creates/updates/deletes placements
to match, and writes the status (only when it changed).

Status (kratix-behaviour.md §1.5, §3.2) with kratix-py's stronger ``Ready``: the message is
``Ready`` only when every placement has written the Work's current content
(``WriteSucceeded=True`` for the placement's current generation), not merely when everything is
scheduled. Requests and Promises derive ``WorksSucceeded`` from that message, so they turn
green only once the files are really in the state stores. In order of precedence the message is
``Failing`` (a placement's write failed), ``Pending`` (a group has no Destination), ``Misplaced``
(a placement's Destination no longer matches), ``Pending`` (writes still in flight), ``Ready``.

Deleting a Work deletes its placements first and waits until they are gone (their own
finalizers remove the files), then releases ``kratix.io/work-cleanup``.

A Work claiming a Promise or request that exists but does not own it (:mod:`kratix_py.core.ownership`)
is refused: ``Ready=False`` with reason ``ForgedIdentity``, a Warning Event, no placements (any it
had are removed *without* their files, which are the real owner's) and no finalizer, so deleting it
removes nothing either.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api import Destination, Promise, Work, WorkPlacement, validation_message
from kratix_py.core import conditions as cond
from kratix_py.core.ownership import FORGED_IDENTITY_REASON, forged_identity, work_claim
from kratix_py.core.scheduling import PlannedPlacement, Schedule, schedule
from kratix_py.operator import metrics
from kratix_py.operator import resources as r
from kratix_py.operator.placements import placement_finalizers
from kratix_py.operator.queue import Key
from kratix_py.operator.reconciler import Reconciler

log = logging.getLogger(__name__)

WAIT_FOR_PLACEMENTS = timedelta(seconds=1)
"""Deleting: look again this soon (placement deletions also enqueue the Work)."""


def work_key(namespace: str, name: str) -> tuple[str, str, str]:
    return ("work", namespace, name)


class WorkReconciler(Reconciler[Work]):
    """Reconciles one Work per call; see the module docstring."""

    resource = r.WORKS
    model_type = Work

    def delete(self, key: Key, obj: dict[str, Any], parsed: Work | None) -> timedelta | None:
        if forged_identity(obj, self._claimed_owner(obj)) is not None:
            self._discard_placements(obj)
            if c.FINALIZER_WORK_CLEANUP in (obj["metadata"].get("finalizers") or []):
                self.release(obj, c.FINALIZER_WORK_CLEANUP)
            return None
        return self._delete(obj)

    def invalid(self, key: Key, obj: dict[str, Any], problem: str) -> timedelta | None:
        obj = self.keep_finalizers(obj, [c.FINALIZER_WORK_CLEANUP])
        message = f"the Work is invalid: {problem}"
        invalid = [
            cond.Condition(c.CONDITION_SCHEDULE_SUCCEEDED, cond.FALSE, "FailedToScheduleWorkloads", message),
            cond.Condition(c.CONDITION_READY, cond.FALSE, "FailedToScheduleWorkloads", "Failing"),
        ]
        self._write(obj, invalid, self.clock())
        return None

    def reconcile(self, key: Key, obj: dict[str, Any], work: Work) -> timedelta | None:
        namespace, name = str(key[1]), str(key[2])
        forged = forged_identity(obj, self._claimed_owner(obj))
        if forged is not None:
            return self._refuse(obj, forged)
        obj = self.keep_finalizers(obj, [c.FINALIZER_WORK_CLEANUP])
        now = self.clock()
        destinations = self._destinations()
        existing_objs: list[dict[str, Any]] = []
        existing: list[WorkPlacement] = []
        for item in self._placements(namespace, name):
            try:
                existing.append(self.model(WorkPlacement, item))
                existing_objs.append(item)
            except ValidationError as error:  # hand-edited beyond repair: leave it alone, say so
                log.warning(
                    "ignoring invalid WorkPlacement %s: %s",
                    item["metadata"].get("name"),
                    validation_message(error),
                )
        plan = schedule(work, destinations, existing)
        _count_outcomes(work, plan)
        by_name = {d.name: d for d in destinations}
        before = {p["metadata"]["name"]: p for p in existing_objs}
        current = self._apply(work, plan, before, by_name)
        conditions = work_conditions(plan, current, carried=_carried(obj, plan, before))
        extra = {"workPlacements": len(plan.placements), "workPlacementsCreated": len(current)}
        self._write(obj, conditions, now, extra, plan)
        if plan.unscheduled and not work.is_dependency:
            return c.SLOW_REQUEUE  # resource Works look for a Destination again (§3.2)
        if len(current) < len(plan.placements):
            return WAIT_FOR_PLACEMENTS  # a placement of the same name is still being deleted
        return None

    # -- whose it is ----------------------------------------------------------------------------------
    def _claimed_owner(self, obj: Mapping[str, Any]) -> dict[str, Any] | None:
        """The live Promise or request the Work claims (None if it does not exist)."""
        claim = work_claim(obj)
        if isinstance(claim, str) or not claim.promise:
            return None
        promise_obj = self.kube.get(r.PROMISES, claim.promise)
        if not claim.resource or promise_obj is None:
            return promise_obj
        try:
            gvk = self.model(Promise, promise_obj).request_gvk()
        except ValidationError:
            return None  # the Promise reports itself; without its API its requests cannot be read
        if gvk is None:
            return None
        kind = k.Resource(gvk.group, gvk.version, gvk.plural, True, gvk.kind)
        return self.kube.get(kind, claim.resource, claim.resource_namespace)

    def _refuse(self, obj: dict[str, Any], problem: str) -> timedelta | None:
        """Schedule nothing for a forged Work, and say so on it (once, with a Warning Event)."""
        meta = obj["metadata"]
        self._discard_placements(obj)
        if c.FINALIZER_WORK_CLEANUP in (meta.get("finalizers") or []):
            obj = self.drop_finalizers(obj, [c.FINALIZER_WORK_CLEANUP])
        old = copy.deepcopy(obj.get("status") or {})
        refused = [
            cond.Condition(c.CONDITION_SCHEDULE_SUCCEEDED, cond.FALSE, FORGED_IDENTITY_REASON, problem),
            cond.Condition(c.CONDITION_READY, cond.FALSE, FORGED_IDENTITY_REASON, problem),
        ]
        status = {
            **old,
            "conditions": cond.set_conditions(
                old.get("conditions"), refused, self.clock(), meta.get("generation")
            ),
        }
        if self.write_status(
            obj, old, status, [("Warning", FORGED_IDENTITY_REASON, problem)], transitions=_none
        ):
            log.warning("Work %s/%s: %s", meta.get("namespace"), meta.get("name"), problem)
        return None

    def _discard_placements(self, obj: Mapping[str, Any]) -> None:
        """Delete the Work's placements without their cleanup: the files in their paths belong to
        the owner the Work impersonated (a placement written before the Work was found forged)."""
        meta = obj["metadata"]
        for placement in self._placements(meta["namespace"], meta["name"]):
            self.drop_finalizers(placement, _PLACEMENT_FINALIZERS, resource=r.WORKPLACEMENTS)
            if not placement["metadata"].get("deletionTimestamp"):
                self.kube.delete(r.WORKPLACEMENTS, placement["metadata"]["name"], meta["namespace"])

    # -- reading -------------------------------------------------------------------------------------
    def _destinations(self) -> list[Destination]:
        destinations = []
        for item in self.kube.list(r.DESTINATIONS):
            try:
                destinations.append(self.model(Destination, item))
            except ValidationError as error:
                log.warning(
                    "ignoring invalid Destination %s: %s",
                    item["metadata"].get("name"),
                    validation_message(error),
                )
        return destinations

    def _placements(self, namespace: str, work_name: str) -> list[dict[str, Any]]:
        return self.kube.list(r.WORKPLACEMENTS, namespace, labels={c.LABEL_WORK: work_name})

    # -- writing -------------------------------------------------------------------------------------
    def _apply(
        self,
        work: Work,
        plan: Schedule,
        existing: Mapping[str, dict[str, Any]],
        destinations: Mapping[str, Destination],
    ) -> dict[str, dict[str, Any]]:
        """Make the placements match the plan; returns the planned ones as they now are."""
        current: dict[str, dict[str, Any]] = {}
        for planned in plan.placements:
            obj = existing.get(planned.name)
            if obj is not None and obj["metadata"].get("deletionTimestamp"):
                continue  # recreated once the old one is gone
            result = (
                self._create(planned, destinations.get(planned.destination))
                if obj is None
                else self._update(obj, planned)
            )
            if result is not None:
                current[planned.name] = result
        for name in plan.dangling:
            self.kube.delete(r.WORKPLACEMENTS, name, work.metadata.namespace)
        return current

    def _create(self, planned: PlannedPlacement, destination: Destination | None) -> dict[str, Any] | None:
        manifest = planned.manifest
        if destination is not None:
            # Born with its finalizers: one write fewer than adding them on its first reconcile.
            manifest = {
                **manifest,
                "metadata": {**manifest["metadata"], "finalizers": placement_finalizers(destination)},
            }
        try:
            return self.kube.create(r.WORKPLACEMENTS, manifest)
        except k.KubeError as error:
            if error.conflict:
                return None  # created meanwhile (or still terminating): the next reconcile sees it
            raise

    def _update(self, obj: dict[str, Any], planned: PlannedPlacement) -> dict[str, Any]:
        patch = placement_patch(obj, planned.manifest)
        if not patch:
            return obj
        return self.kube.patch(r.WORKPLACEMENTS, obj["metadata"]["name"], patch, obj["metadata"]["namespace"])

    def _write(
        self,
        obj: Mapping[str, Any],
        conditions: list[cond.Condition],
        now: datetime,
        extra: Mapping[str, Any] | None = None,
        plan: Schedule | None = None,
    ) -> None:
        old = copy.deepcopy(obj.get("status") or {})
        status = {**old, **(extra or {})}
        status["conditions"] = cond.set_conditions(
            old.get("conditions"), conditions, now, obj["metadata"].get("generation")
        )
        self.write_status(
            obj, old, status, transitions=lambda before, after: work_events(before, after, plan)
        )

    # -- deleting ------------------------------------------------------------------------------------
    def _delete(self, obj: dict[str, Any]) -> timedelta | None:
        meta = obj["metadata"]
        if c.FINALIZER_WORK_CLEANUP not in (meta.get("finalizers") or []):
            return None
        placements = self._placements(meta["namespace"], meta["name"])
        for placement in placements:
            if not placement["metadata"].get("deletionTimestamp"):
                self.kube.delete(r.WORKPLACEMENTS, placement["metadata"]["name"], meta["namespace"])
        if placements:
            blocked = [
                f"{p['metadata']['name']}: {written.get('message')}"
                for p in placements
                if (
                    written := cond.find(
                        (p.get("status") or {}).get("conditions"), c.CONDITION_WRITE_SUCCEEDED
                    )
                )
                and written.get("status") == cond.FALSE
                and str(written.get("message") or "").startswith("cannot remove the files")
            ]
            if blocked:
                # Say why the deletion waits, here too: the request reads its Works' Ready.
                ready = cond.Condition(c.CONDITION_READY, cond.FALSE, "CleanupBlocked", "; ".join(blocked))
                self._write(obj, [ready], self.clock())
            return WAIT_FOR_PLACEMENTS
        self.release(obj, c.FINALIZER_WORK_CLEANUP)
        spec = obj.get("spec") or {}
        metrics.forget_request(
            str(spec.get("promiseName") or ""), str(spec.get("resourceName") or ""), meta["namespace"]
        )
        return None


_PLACEMENT_FINALIZERS = (c.FINALIZER_WORKPLACEMENT_REPO_CLEANUP, c.FINALIZER_WORKPLACEMENT_DOT_FILES_CLEANUP)


def _none(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    return []


def placement_patch(obj: Mapping[str, Any], manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch taking an existing placement to the desired labels, owner and spec ({} if none)."""
    patch: dict[str, Any] = {}
    labels = obj["metadata"].get("labels") or {}
    wanted = manifest["metadata"]["labels"]
    label_patch: dict[str, Any] = {key: value for key, value in wanted.items() if labels.get(key) != value}
    if c.LABEL_MISPLACED in labels and c.LABEL_MISPLACED not in wanted:
        label_patch[c.LABEL_MISPLACED] = None
    if label_patch:
        patch["metadata"] = {"labels": label_patch}
    owner = manifest["metadata"]["ownerReferences"][0]
    owners = obj["metadata"].get("ownerReferences") or []
    if not any(o.get("uid") == owner["uid"] and o.get("controller") for o in owners):
        others = [o for o in owners if not o.get("controller")]
        patch.setdefault("metadata", {})["ownerReferences"] = [*others, owner]
    if obj.get("spec") != manifest["spec"]:
        patch["spec"] = manifest["spec"]
    return patch


def _carried(work: Mapping[str, Any], plan: Schedule, before: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Placements whose files in the store are already this Work generation's content.

    Every pipeline run bumps the Work's generation (``lastExecutionTimestamp``), and with it each
    placement's ``spec.generation``, so their ``WriteSucceeded`` is one generation behind until
    the placement reconciler has looked. When nothing but that number changed the files are
    already right, and calling the Work ``Pending`` meanwhile would flap every request's
    ``WorksSucceeded`` on every rerun. A placement counts as carried over when it was written
    and only its generation changes now, or (on a later reconcile of the same generation) when
    this Work already said ``Ready`` for this generation, which it only does in that case.
    """
    generation = (work.get("metadata") or {}).get("generation")
    ready = cond.find((work.get("status") or {}).get("conditions"), c.CONDITION_READY) or {}
    ready_now = ready.get("status") == cond.TRUE and ready.get("observedGeneration") == generation
    carried = set()
    for planned in plan.placements:
        obj = before.get(planned.name)
        if obj is None:
            continue
        state = _write_state(obj)
        same_files = _without_generation(obj.get("spec")) == _without_generation(planned.manifest["spec"])
        if (state == "written" and same_files) or (state == "stale" and ready_now):
            carried.add(planned.name)
    return carried


def _without_generation(spec: Any) -> dict[str, Any]:
    return {key: value for key, value in (spec or {}).items() if key != "generation"}


def work_conditions(
    plan: Schedule,
    placements: Mapping[str, Mapping[str, Any]],
    *,
    carried: set[str] | frozenset[str] = frozenset(),
) -> list[cond.Condition]:
    """``ScheduleSucceeded`` and ``Ready`` from the schedule and the placements' write status
    (``carried``: placements whose stored files are already current, see :func:`_carried`)."""
    if plan.unscheduled:
        ids = " ".join(plan.unscheduled)
        scheduled = cond.Condition(
            c.CONDITION_SCHEDULE_SUCCEEDED,
            cond.FALSE,
            "UnscheduledWorkloads",
            f"No matching destination found for workloadGroups: [{ids}]",
        )
    else:
        scheduled = cond.Condition(
            c.CONDITION_SCHEDULE_SUCCEEDED,
            cond.TRUE,
            "AllWorkplacementsScheduled",
            "All workplacements scheduled successfully",
        )
    failing = sorted(name for name, p in placements.items() if _write_state(p) == "failed")
    unwritten = [
        p.name
        for p in plan.placements
        if p.name not in placements
        or not (
            _write_state(placements[p.name]) == "written"
            or (p.name in carried and _write_state(placements[p.name]) == "stale")
        )
    ]
    if failing:
        ready = cond.Condition(c.CONDITION_READY, cond.FALSE, "WorkplacementsFailing", "Failing")
    elif plan.unscheduled:
        ready = cond.Condition(c.CONDITION_READY, cond.FALSE, "UnscheduledWorkloads", "Pending")
    elif plan.misplaced:
        ready = cond.Condition(c.CONDITION_READY, cond.FALSE, "Misplaced", "Misplaced")
    elif unwritten:
        ready = cond.Condition(c.CONDITION_READY, cond.FALSE, "WorkplacementsNotWritten", "Pending")
    else:
        ready = cond.Condition(c.CONDITION_READY, cond.TRUE, "AllWorkplacementsWritten", "Ready")
    return [scheduled, ready]


def _write_state(placement: Mapping[str, Any]) -> str:
    """``written`` (current generation), ``stale`` (written, for an older generation), ``failed``
    (last write failed) or ``pending``."""
    written = cond.find((placement.get("status") or {}).get("conditions"), c.CONDITION_WRITE_SUCCEEDED)
    if written is None:
        return "pending"
    if written.get("status") == cond.FALSE:
        return "failed"
    if written.get("status") != cond.TRUE:
        return "pending"
    current = written.get("observedGeneration") == placement["metadata"].get("generation")
    return "written" if current else "stale"


def work_events(
    old: Mapping[str, Any], new: Mapping[str, Any], plan: Schedule | None
) -> list[tuple[str, str, str]]:
    """Events on transitions only: no Destination found, misplaced, failing, written."""
    events: list[tuple[str, str, str]] = []
    before = {x.get("type"): (x.get("status"), x.get("reason")) for x in old.get("conditions") or []}
    for condition in new.get("conditions") or []:
        kind, status, reason = condition.get("type"), condition.get("status"), condition.get("reason")
        if before.get(kind) == (status, reason):
            continue
        message = str(condition.get("message") or "")
        if kind == c.CONDITION_SCHEDULE_SUCCEEDED and reason == "UnscheduledWorkloads":
            if plan is not None:  # name what nothing matched, so the fix is obvious
                wanted = "; ".join(
                    f"{group_id[:5]}: {dict(plan.selectors.get(group_id) or {}) or 'no selectors'}"
                    for group_id in plan.unscheduled
                )
                message = f"{message} (selectors {wanted})"
            events.append(("Normal", "NoMatchingDestination", message))
        elif kind == c.CONDITION_READY and reason == "Misplaced" and plan is not None:
            events.append(
                (
                    "Warning",
                    "Misplaced",
                    "WorkPlacements on Destinations that no longer match: " + ", ".join(plan.misplaced),
                )
            )
        elif kind == c.CONDITION_READY and reason == "WorkplacementsFailing":
            events.append(
                (
                    "Warning",
                    "WorkplacementsFailing",
                    "Writing to a state store failed; see the WorkPlacements",
                )
            )
    return events


def _count_outcomes(work: Work, plan: Schedule) -> None:
    """Kratix's ``kratix_workplacement_outcomes_total``: one per group and scheduling pass."""
    promise, resource = work.spec.promise_name, work.spec.resource_name or ""
    namespace = work.metadata.namespace or ""
    for planned in plan.placements:
        result = "misplaced" if planned.misplaced else "scheduled"
        metrics.placement_outcome(result, promise, resource, namespace, planned.destination)
    for _ in plan.unscheduled:
        metrics.placement_outcome("unscheduled", promise, resource, namespace, "")
