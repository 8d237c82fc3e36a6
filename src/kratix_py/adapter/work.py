"""The Work a pipeline run produces: its name, labels and body (behaviour spec §2.14). Pure.

One Work per (Promise, pipeline[, request]), found again by its labels on the next run. Unlike
Kratix, the name has no random suffix: ``<promise>-<pipeline>`` or
``<promise>-<request>[-<request namespace>]-<pipeline>``, so ``kubectl get works`` is readable
and re-running a pipeline can never leave two Works behind.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kratix_py.api.meta import format_timestamp
from kratix_py.api.work import WorkSpec
from kratix_py.contract import (
    ANNOTATION_OWNER_UID,
    ANNOTATION_TRACE_PARENT,
    ANNOTATION_TRACE_STATE,
    API_VERSION,
    FINALIZER_WORK_CLEANUP,
    LABEL_DRY_RUN,
    LABEL_PIPELINE_NAME,
    LABEL_PROMISE_NAME,
    LABEL_RESOURCE_NAME,
    LABEL_RESOURCE_NAMESPACE,
    LABEL_WORK_TYPE,
    TRUE_LABEL_VALUE,
)
from kratix_py.core.hashing import canonical_json, md5_hex
from kratix_py.core.names import NAME_SUFFIX_LENGTH, shorten_name
from kratix_py.core.ownership import owner_reference
from kratix_py.core.workloads import WorkloadGroup

MAX_WORK_NAME_LENGTH = 63
_NOT_NAME_CHARACTERS = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class WorkIdentity:
    """What a Work belongs to; ``resource_namespace`` is set only when the pipeline runs elsewhere."""

    promise_name: str
    pipeline_name: str
    workflow_type: str
    namespace: str
    resource_name: str = ""
    resource_namespace: str = ""

    @property
    def is_resource(self) -> bool:
        return self.workflow_type == "resource"

    def readable_name(self) -> str:
        parts = [self.promise_name]
        if self.is_resource:
            parts.append(self.resource_name)
            if self.resource_namespace:
                parts.append(self.resource_namespace)
        parts.append(self.pipeline_name)
        return "-".join(part for part in parts if part)

    def name(self, *, force_hash: bool = False) -> str:
        """A valid object name (lower-case letters, digits, ``-``; at most 63 characters).

        When the readable name had to be changed or cut, or ``force_hash`` is set (another Work
        already has the readable name), it is shortened as Kratix shortens generated names and a
        hash of the full identity is appended, so different identities never share a name.
        """
        readable = self.readable_name()
        cleaned = _NOT_NAME_CHARACTERS.sub("-", readable.lower())
        cleaned = re.sub(r"-{2,}", "-", cleaned).strip("-") or "work"
        if cleaned == readable and len(cleaned) <= MAX_WORK_NAME_LENGTH and not force_hash:
            return cleaned
        key = canonical_json(
            [
                self.promise_name,
                self.resource_namespace,
                self.resource_name,
                self.pipeline_name,
                self.workflow_type,
            ]
        )
        return f"{shorten_name(cleaned)}-{md5_hex(key)[:NAME_SUFFIX_LENGTH]}"

    def labels(self, *, dry_run: bool = False) -> dict[str, str]:
        """The labels the Work is found by: promise, work type, pipeline (and request)."""
        labels = {
            LABEL_PROMISE_NAME: self.promise_name,
            LABEL_WORK_TYPE: "resource" if self.is_resource else "promise",
            LABEL_PIPELINE_NAME: self.pipeline_name,
        }
        if self.is_resource:
            labels[LABEL_RESOURCE_NAME] = self.resource_name
            if self.resource_namespace:
                labels[LABEL_RESOURCE_NAMESPACE] = self.resource_namespace
        if dry_run:
            labels[LABEL_DRY_RUN] = TRUE_LABEL_VALUE
        return labels


@dataclass(frozen=True)
class WorkOwner:
    """The Promise or request the Work is made for, as the pipeline pod's environment names it."""

    api_version: str
    kind: str
    name: str
    namespace: str
    """Empty for the Promise (cluster scoped)."""
    uid: str

    def apply_to(self, metadata: dict[str, Any]) -> None:
        """Make ``metadata`` (a Work's) say who owns it: a controller reference to the owner, or the
        uid annotation when the owner lives in another namespace (references cannot cross them)."""
        if self.namespace and self.namespace != metadata.get("namespace"):
            metadata["annotations"] = {**(metadata.get("annotations") or {}), ANNOTATION_OWNER_UID: self.uid}
            return
        reference = owner_reference(
            {
                "apiVersion": self.api_version,
                "kind": self.kind,
                "metadata": {"name": self.name, "uid": self.uid},
            }
        )
        others = [
            ref
            for ref in metadata.get("ownerReferences") or []
            if not ref.get("controller") and ref.get("uid") != self.uid
        ]
        metadata["ownerReferences"] = [*others, reference]


def trace_annotations(trace_parent: str | None, trace_state: str | None) -> dict[str, str]:
    """Carry the workflow's trace context onto the Work so the scheduling shows up in the same trace."""
    annotations = {}
    if trace_parent:
        annotations[ANNOTATION_TRACE_PARENT] = trace_parent
    if trace_state:
        annotations[ANNOTATION_TRACE_STATE] = trace_state
    return annotations


def work_spec(identity: WorkIdentity, groups: Sequence[WorkloadGroup], *, now: datetime) -> dict[str, Any]:
    """``spec`` of the Work; ``lastExecutionTimestamp`` makes every run a new generation, as in Kratix."""
    spec: dict[str, Any] = {"promiseName": identity.promise_name}
    if identity.is_resource:
        spec["resourceName"] = identity.resource_name
    spec["lastExecutionTimestamp"] = format_timestamp(now)
    spec["workloadGroups"] = [group.to_dict() for group in groups]
    # Round-trip through the API model: what we send is exactly what the Work CRD describes.
    return WorkSpec.model_validate(spec).to_dict()


def new_work(
    identity: WorkIdentity,
    groups: Sequence[WorkloadGroup],
    *,
    now: datetime,
    dry_run: bool = False,
    annotations: Mapping[str, str] | None = None,
    force_hash: bool = False,
    owner: WorkOwner | None = None,
) -> dict[str, Any]:
    """A complete Work to create."""
    metadata: dict[str, Any] = {
        "name": identity.name(force_hash=force_hash),
        "namespace": identity.namespace,
        "labels": identity.labels(dry_run=dry_run),
        # Born with the operator's finalizer: one write fewer than adding it on the first reconcile
        # (the operator still adds it to a Work made without, and drops it from a forged one).
        "finalizers": [FINALIZER_WORK_CLEANUP],
    }
    if annotations:
        metadata["annotations"] = dict(annotations)
    if owner is not None:
        owner.apply_to(metadata)
    return {
        "apiVersion": API_VERSION,
        "kind": "Work",
        "metadata": metadata,
        "spec": work_spec(identity, groups, now=now),
    }


def updated_work(
    existing: Mapping[str, Any],
    identity: WorkIdentity,
    groups: Sequence[WorkloadGroup],
    *,
    now: datetime,
    annotations: Mapping[str, str] | None = None,
    owner: WorkOwner | None = None,
) -> dict[str, Any]:
    """The existing Work with a new spec; metadata (incl. resourceVersion) kept, so the update is guarded.

    The owner is set again too: a Work made before owners were recorded is adopted by its next run.
    """
    work = copy.deepcopy(dict(existing))
    work.pop("status", None)  # the main endpoint ignores status; sending it back only costs bytes
    metadata = work.setdefault("metadata", {})
    if annotations:
        metadata["annotations"] = {**(metadata.get("annotations") or {}), **annotations}
    if owner is not None:
        owner.apply_to(metadata)
    work["spec"] = work_spec(identity, groups, now=now)
    return work
