"""Whose a Work is: it counts only for the Promise or request that owns it (pure).

Anyone allowed to create Works (a pipeline's service account may) could write one carrying
another request's labels and names: its files would land in that request's directory and its
deletion would remove them. So a Work's claim (its ``spec.promiseName``/``spec.resourceName``
and labels, which decide where its files go and whose status it feeds) must be backed by its
owner: a controller owner reference with the owner's uid, or, for a request whose pipeline runs
in another namespace (owner references cannot cross namespaces), :data:`ANNOTATION_OWNER_UID`.

The reference is a controller reference without ``blockOwnerDeletion``: the work-writer runs
with the pipeline's service account, and with the ``OwnerReferencesPermissionEnforcement``
admission plugin that flag would need permission to update the owner's finalizers, which
pipelines do not get. What this check stops is a Work naming an owner by name alone; a pipeline
that can read its kind's requests can still copy a uid (see the Work RBAC in core.rbac).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kratix_py import contract as c

FORGED_IDENTITY_REASON = "ForgedIdentity"
"""Reason of the Work condition and Event for a Work claiming an owner it does not have."""


@dataclass(frozen=True)
class Claim:
    """Whom a Work says it belongs to."""

    promise: str
    resource: str = ""
    """The request's name; empty for the Promise's own Works."""
    resource_namespace: str = ""
    """The request's namespace (resource Works only)."""

    def describe(self) -> str:
        if self.resource:
            return f"request {self.resource_namespace}/{self.resource} of Promise {self.promise}"
        return f"Promise {self.promise}"


def work_claim(work: Mapping[str, Any]) -> Claim | str:
    """The owner a Work claims, or a message when its labels and spec disagree about it."""
    meta = work.get("metadata") or {}
    labels = meta.get("labels") or {}
    spec = work.get("spec") or {}
    promise = str(spec.get("promiseName") or labels.get(c.LABEL_PROMISE_NAME) or "")
    resource = str(spec.get("resourceName") or labels.get(c.LABEL_RESOURCE_NAME) or "")
    for key, value, label in (
        ("spec.promiseName", promise, c.LABEL_PROMISE_NAME),
        ("spec.resourceName", resource, c.LABEL_RESOURCE_NAME),
    ):
        if label in labels and str(labels[label]) != value:
            return f"label {label}={labels[label]!r} does not match {key} {value!r}"
    namespace = str(labels.get(c.LABEL_RESOURCE_NAMESPACE) or meta.get("namespace") or "")
    return Claim(promise, resource, namespace if resource else "")


def owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    """The controller reference a Work of ``owner`` (a Promise or a request) carries."""
    meta = owner.get("metadata") or {}
    return {
        "apiVersion": owner.get("apiVersion"),
        "kind": owner.get("kind"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "controller": True,
    }


def owner_uid(work: Mapping[str, Any]) -> str:
    """The uid the Work is owned by (its controller reference, else the cross-namespace
    annotation); empty when it has none."""
    meta = work.get("metadata") or {}
    for reference in meta.get("ownerReferences") or []:
        if reference.get("controller") and reference.get("uid"):
            return str(reference["uid"])
    return str((meta.get("annotations") or {}).get(c.ANNOTATION_OWNER_UID) or "")


def forged_identity(work: Mapping[str, Any], owner: Mapping[str, Any] | None) -> str | None:
    """Why ``work`` may not act for ``owner`` (the live object it claims), or None if it may.

    An owner that does not exist has nothing to lose: such a Work is not refused here (a Work
    outliving its Promise or request is removed by their deletion anyway).
    """
    claim = work_claim(work)
    if isinstance(claim, str):
        return f"the Work's identity is inconsistent: {claim}"
    if owner is None:
        return None
    expected = str((owner.get("metadata") or {}).get("uid") or "")
    found = owner_uid(work)
    if expected and found == expected:
        return None
    held = f"is owned by uid {found}" if found else "has no owner reference"
    kind = "request" if claim.resource else "Promise"
    return (
        f"refused: this Work claims {claim.describe()} but {held}, and the {kind}'s uid is {expected} "
        "(a forged identity); none of its files are written and nothing is removed for it. Works are "
        "made by their owner's pipeline, which sets the owner reference"
    )


def owned_by(work: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    """Whether ``work`` counts for ``owner``: its status and deletion are ``owner``'s business."""
    return forged_identity(work, owner) is None
