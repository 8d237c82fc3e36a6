"""Writing status without churn and without clobbering anyone else's writes.

Pipelines write to the same status (the status-writer merges ``status.yaml``), so the operator never
sends its whole view of the status back: it sends only the top-level keys it changed, guarded by the
``resourceVersion`` it read. A concurrent write makes that a 409 and the object is reconciled again
from fresh state; an unchanged status sends nothing at all (no write, no watch event, no Event).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.core import conditions as cond
from kratix_py.operator import resources as r


def status_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level keys of ``new`` that differ from ``old``; keys dropped become ``None`` (merge-patch delete)."""
    patch: dict[str, Any] = {key: value for key, value in new.items() if old.get(key) != value}
    patch.update({key: None for key in old if key not in new})
    return patch


def write_status(
    kube: k.Kube, resource: k.Resource, obj: Mapping[str, Any], old: Mapping[str, Any], new: Mapping[str, Any]
) -> bool:
    """Patch ``obj``'s status from ``old`` (as read from the API) to ``new``; True if a write happened.

    Raises :class:`kratix_py.kube.KubeError` 409 when someone else wrote first (reconcile again).
    """
    patch = status_patch(old, new)
    if not patch:
        return False
    meta = obj["metadata"]
    body = {"metadata": {"resourceVersion": meta["resourceVersion"]}, "status": patch}
    kube.patch(resource, meta["name"], body, meta.get("namespace"), subresource="status")
    return True


def transition_events(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> list[tuple[str, str, str]]:
    """(type, reason, message) for the condition transitions worth an Event.

    A condition that turns False (other than a step in progress) is a Warning; of the rest only
    the milestones a person waits for are recorded (Reconciled, Available, Ready turning True),
    so ``kubectl describe`` tells the story instead of every intermediate step, and an unchanged
    reconcile records nothing.
    """
    before = {c_["type"]: c_ for c_ in (old or {}).get("conditions") or [] if "type" in c_}
    events: list[tuple[str, str, str]] = []
    for condition in (new or {}).get("conditions") or []:
        previous = before.get(condition.get("type"))
        if previous is not None and (previous.get("status"), previous.get("reason")) == (
            condition.get("status"),
            condition.get("reason"),
        ):
            continue
        kind, status = condition.get("type"), condition.get("status")
        reason = str(condition.get("reason") or kind)
        if status == cond.FALSE and reason not in _QUIET:
            event_type = "Warning"
        elif status == cond.TRUE and kind in _MILESTONES:
            event_type = "Normal"
            reason = _MILESTONES[str(kind)] or reason
        else:
            continue
        message = f"{kind} is {status}"
        if condition.get("message"):
            message += f": {condition['message']}"
        events.append((event_type, reason, message))
    return events


# False conditions that describe progress, not trouble.
_QUIET = {"PipelinesInProgress", "DeleteWorkflowRunning"}
# Conditions whose turning True is worth an Event, with the Event's reason (None: the condition's).
_MILESTONES: dict[str, str | None] = {
    c.CONDITION_RECONCILED: "ReconcileSucceeded",  # Kratix's Event reason for it
    c.CONDITION_AVAILABLE: None,
    c.CONDITION_READY: None,
}


def works_summary(
    works: Sequence[Mapping[str, Any]],
    *,
    workflow_completed: bool = True,
    workflow_suspended: bool = False,
    details: Mapping[str, str] | None = None,
) -> cond.Condition:
    """``WorksSucceeded`` from the Works' ``Ready`` messages (kratix-behaviour.md §2.9).

    kratix-py's Work ``Ready`` means *written to every Destination's state store*, not merely
    scheduled, so this condition turns True only once the files are really there. Kratix also
    reports True while a workflow that has produced no Works yet is still running; here that is
    Unknown until the workflow completes. ``details`` (Work name -> why it fails, e.g. its
    placements' write errors) are added to the names of failing Works, so the request itself says
    what to fix.
    """
    if workflow_suspended:
        # The suspended pipeline wrote no Work: whatever the others wrote is not the whole answer.
        return cond.Condition(
            c.CONDITION_WORKS_SUCCEEDED, cond.UNKNOWN, "WorksPending", "The workflow is suspended"
        )
    # Each Work's name stays paired with its own message.
    by_name: dict[str, str] = {}
    for work in works:
        ready = cond.find((work.get("status") or {}).get("conditions"), c.CONDITION_READY)
        by_name[str(work["metadata"]["name"])] = str((ready or {}).get("message") or "Pending")
    messages = list(by_name.values())
    if not workflow_completed and all(message == "Pending" for message in messages):
        # A Work written while its workflow still runs is no news (and one status write fewer per
        # request); a Work that fails or lands early is, below.
        return cond.Condition(
            c.CONDITION_WORKS_SUCCEEDED, cond.UNKNOWN, "WorksPending", "The workflow has not finished"
        )
    if "Failing" in messages:
        failing = [
            f"{name} ({details[name]})" if details and details.get(name) else name
            for name, message in sorted(by_name.items())
            if message == "Failing"
        ]
        return cond.Condition(
            c.CONDITION_WORKS_SUCCEEDED, cond.FALSE, "WorksFailing", f"Works failing: {', '.join(failing)}"
        )
    if "Pending" in messages:
        return cond.Condition(
            c.CONDITION_WORKS_SUCCEEDED, cond.UNKNOWN, "WorksPending", "Some Works are not written yet"
        )
    if "Misplaced" in messages:
        return cond.Condition(
            c.CONDITION_WORKS_SUCCEEDED,
            cond.FALSE,
            "WorksMisplaced",
            "Some Works are on Destinations that no longer match",
        )
    return cond.Condition(
        c.CONDITION_WORKS_SUCCEEDED, cond.TRUE, "WorksSucceeded", "All Works have been written"
    )


def reconciled(
    workflow_completed: bool,
    workflow_failed: bool,
    works: cond.Condition,
    *,
    failure_message: str = "",
    suspended_message: str = "",
) -> cond.Condition:
    """``Reconciled`` from the workflow and the Works, as Kratix derives it (§2.9, §2.10)."""
    if suspended_message:
        return cond.Condition(c.CONDITION_RECONCILED, cond.UNKNOWN, "WorkflowSuspended", suspended_message)
    if workflow_failed:
        return cond.Condition(
            c.CONDITION_RECONCILED,
            cond.FALSE,
            "ConfigureWorkflowFailed",
            failure_message or "Workflow failed",
        )
    if not workflow_completed:
        return cond.Condition(c.CONDITION_RECONCILED, cond.UNKNOWN, "WorkflowPending", "Workflow pending")
    if works.status == cond.UNKNOWN:
        return cond.Condition(c.CONDITION_RECONCILED, cond.UNKNOWN, "WorksPending", "Works pending")
    if works.status == cond.FALSE:
        return cond.Condition(c.CONDITION_RECONCILED, cond.FALSE, "WorksFailing", works.message)
    return cond.Condition(c.CONDITION_RECONCILED, cond.TRUE, "Reconciled", "Reconciled")


def failing_work_details(kube: k.Kube, works: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Work name -> the write errors of its placements, for the Works whose ``Ready`` says Failing.

    A Work's ``Ready`` message is a machine-readable word (Kratix's contract); what went wrong is on
    its placements. Read only for failing Works, so a healthy request costs no extra read.
    """
    details: dict[str, str] = {}
    for work in works:
        ready = cond.find((work.get("status") or {}).get("conditions"), c.CONDITION_READY)
        if (ready or {}).get("message") != "Failing":
            continue
        meta = work["metadata"]
        errors = []
        placements = kube.list(r.WORKPLACEMENTS, meta.get("namespace"), labels={c.LABEL_WORK: meta["name"]})
        for placement in sorted(placements, key=lambda p: str(p["metadata"]["name"])):
            written = cond.find(
                (placement.get("status") or {}).get("conditions"), c.CONDITION_WRITE_SUCCEEDED
            )
            if written is not None and written.get("status") == cond.FALSE and written.get("message"):
                errors.append(f"WorkPlacement {placement['metadata']['name']}: {written['message']}")
        if errors:
            details[str(meta["name"])] = "; ".join(errors)
    return details
