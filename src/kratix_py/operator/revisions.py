"""PromiseRevisions: every version of a Promise kept (kratix-behaviour.md §1.8).

One key per Promise, ``("revisions", promise)``: the Promise's current version (its
``kratix.io/promise-version`` label, ``not-set`` without one) is kept as the revision
``<promise>-<md5(version)[:5]>`` with the Promise's spec, labelled ``kratix.io/latest-revision``
and ``status.latest: true``; the label and marker go from every other revision of the Promise.
A Promise edited without a new version updates its revision's spec, as Kratix does.

Kratix refuses to delete the latest revision with a webhook; kratix-py has no webhook, so each
revision carries Kratix's finalizer ``kratix.io/resource-request-cleanup`` and a latest revision
being deleted stays (condition ``DeletionBlocked=True`` and a Warning Event say why) until its
Promise moves to another version or is deleted. Other revisions go when deleted. A Promise being
deleted lets its revisions go once its requests are gone (its ``kratix.io/revision-cleanup``
finalizer waits for that).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.core import conditions as cond
from kratix_py.core.hashing import md5_hex
from kratix_py.core.names import NAME_SUFFIX_LENGTH, deterministic_name, shorten_name
from kratix_py.operator import resources as r
from kratix_py.operator.queue import Key
from kratix_py.operator.reconciler import Reconciler, deleting
from kratix_py.operator.status import write_status

log = logging.getLogger(__name__)

REVISION_FINALIZER = c.FINALIZER_RESOURCE_REQUEST_CLEANUP
"""The finalizer Kratix puts on PromiseRevisions."""
MAX_LABEL_VALUE = 63


def revisions_key(promise: str) -> tuple[str, str]:
    return ("revisions", promise)


def promise_version(promise_obj: Mapping[str, Any]) -> str:
    """The version a Promise is at: its label, or ``not-set``."""
    labels = (promise_obj.get("metadata") or {}).get("labels") or {}
    return str(labels.get(c.LABEL_PROMISE_VERSION) or c.UNVERSIONED_PROMISE)


def revision_name(promise: str, version: str) -> str:
    """Kratix's revision name: the Promise's name and five hex characters of md5(version)."""
    return f"{shorten_name(promise)}-{md5_hex(version)[:NAME_SUFFIX_LENGTH]}"


def binding_name(request: str, promise: str) -> str:
    """Kratix's name for a new ResourceBinding: ``<request>-<promise>`` and an md5 suffix."""
    return deterministic_name(f"{request}-{promise}")


def label_value(value: str) -> str:
    """A name as a label value: names longer than a label allows are hashed, as Kratix does."""
    return value if len(value) <= MAX_LABEL_VALUE else deterministic_name(value)


def binding_labels(promise: str, request: str) -> dict[str, str]:
    return {c.LABEL_PROMISE_NAME: promise, c.LABEL_RESOURCE_NAME: label_value(request)}


def find_binding(kube: k.Kube, promise: str, namespace: str, request: str) -> dict[str, Any] | None:
    """The request's binding, by labels (so one a user created first is adopted); an index lookup."""
    found = [
        b
        for b in kube.list(r.RESOURCE_BINDINGS, namespace, labels=binding_labels(promise, request))
        if ((b.get("spec") or {}).get("resourceRef") or {}).get("name") in (request, None)
    ]
    return min(found, key=lambda b: str(b["metadata"]["name"])) if found else None


def new_binding(promise: str, namespace: str, request: str, version: str) -> dict[str, Any]:
    return {
        "apiVersion": c.API_VERSION,
        "kind": "ResourceBinding",
        "metadata": {
            "name": binding_name(request, promise),
            "namespace": namespace,
            "labels": binding_labels(promise, request),
        },
        "spec": {
            "version": version,
            "promiseRef": {"name": promise},
            "resourceRef": {"name": request, "namespace": namespace},
        },
    }


def desired_revision(promise_obj: Mapping[str, Any], version: str) -> dict[str, Any]:
    meta = promise_obj["metadata"]
    name = str(meta["name"])
    return {
        "apiVersion": c.API_VERSION,
        "kind": "PromiseRevision",
        "metadata": {
            "name": revision_name(name, version),
            "labels": {c.LABEL_PROMISE_NAME: name, c.LABEL_LATEST_REVISION: c.TRUE_LABEL_VALUE},
            "finalizers": [REVISION_FINALIZER],
            "ownerReferences": [
                {
                    "apiVersion": c.API_VERSION,
                    "kind": "Promise",
                    "name": name,
                    "uid": meta["uid"],
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "promiseRef": {"name": name},
            "version": version,
            "promiseSpec": copy.deepcopy(promise_obj.get("spec") or {}),
        },
    }


class RevisionReconciler(Reconciler[dict[str, Any]]):
    """Keeps one Promise's revisions per call; see the module docstring."""

    resource = r.PROMISES

    def revisions_of(self, promise: str) -> list[dict[str, Any]]:
        return self.kube.list(r.PROMISE_REVISIONS, labels={c.LABEL_PROMISE_NAME: promise})

    # -- the steps --------------------------------------------------------------------------------
    def gone(self, key: Key) -> timedelta | None:
        return self._let_go(str(key[1]))

    def delete(self, key: Key, obj: dict[str, Any], parsed: dict[str, Any] | None) -> timedelta | None:
        # Requests are deleted first (they may still read their revision): the Promise's own
        # request-cleanup finalizer goes once they are gone.
        if c.FINALIZER_RESOURCE_REQUEST_CLEANUP in (obj["metadata"].get("finalizers") or []):
            return None
        return self._let_go(obj["metadata"]["name"])

    def reconcile(self, key: Key, obj: dict[str, Any], parsed: dict[str, Any]) -> timedelta | None:
        name = obj["metadata"]["name"]
        version = promise_version(obj)
        desired = desired_revision(obj, version)
        current_name = desired["metadata"]["name"]
        existing = self.kube.get(r.PROMISE_REVISIONS, current_name)
        if existing is None:
            try:
                existing = self.kube.create(r.PROMISE_REVISIONS, desired)
            except k.KubeError as error:
                if not error.conflict:
                    raise
                return timedelta(0)  # made meanwhile (the cache is behind): look again
            log.info("Promise %s: revision %s recorded for version %s", name, current_name, version)
        elif _differs(existing, desired):
            body = copy.deepcopy(existing)
            body["metadata"]["labels"] = {
                **(body["metadata"].get("labels") or {}),
                **desired["metadata"]["labels"],
            }
            finalizers = list(body["metadata"].get("finalizers") or [])
            if REVISION_FINALIZER not in finalizers:
                body["metadata"]["finalizers"] = [*finalizers, REVISION_FINALIZER]
            owners = [
                o
                for o in body["metadata"].get("ownerReferences") or []
                if o.get("uid") != obj["metadata"]["uid"]
            ]
            body["metadata"]["ownerReferences"] = [*owners, *desired["metadata"]["ownerReferences"]]
            body["spec"] = desired["spec"]
            existing = self.kube.replace(r.PROMISE_REVISIONS, body)
        self._mark(existing, latest=True)
        requeue: timedelta | None = None
        for revision in self.revisions_of(name):
            meta = revision["metadata"]
            if meta["name"] == current_name:
                continue
            if (meta.get("labels") or {}).get(c.LABEL_LATEST_REVISION) is not None:
                revision = self.kube.patch(
                    r.PROMISE_REVISIONS,
                    meta["name"],
                    {"metadata": {"labels": {c.LABEL_LATEST_REVISION: None}}},
                )
            self._mark(revision, latest=False)
            if deleting(revision) and REVISION_FINALIZER in (revision["metadata"].get("finalizers") or []):
                requeue = self.release(revision, REVISION_FINALIZER, resource=r.PROMISE_REVISIONS)
        return requeue

    # -- helpers ----------------------------------------------------------------------------------
    def _mark(self, revision: dict[str, Any], *, latest: bool) -> None:
        """status.latest, and on a latest revision being deleted the condition saying it stays."""
        old = revision.get("status") or {}
        new = copy.deepcopy(old)
        new["latest"] = latest
        events = []
        if latest and deleting(revision):
            message = (
                f"revision {revision['metadata']['name']} is the latest of Promise "
                f"{revision['spec']['promiseRef']['name']} and cannot be deleted: it goes once the "
                f"Promise is at another version ({c.LABEL_PROMISE_VERSION}) or is deleted"
            )
            new["conditions"] = cond.set_condition(
                old.get("conditions"),
                cond.Condition(c.CONDITION_DELETION_BLOCKED, cond.TRUE, "LatestRevision", message),
                self.clock(),
            )
            events.append(("Warning", "LatestRevision", message))
        elif cond.find(old.get("conditions"), c.CONDITION_DELETION_BLOCKED) is not None:
            new["conditions"] = [
                x for x in old.get("conditions") or [] if x.get("type") != c.CONDITION_DELETION_BLOCKED
            ]
        # Written here rather than through the skeleton: the skeleton's kind is the Promise.
        if write_status(self.kube, r.PROMISE_REVISIONS, revision, old, new):
            for event_type, reason, message in events:
                self.kube.emit_event(revision, reason, message, type=event_type)

    def _let_go(self, promise: str) -> timedelta | None:
        """The Promise is gone or going: its revisions go too."""
        for revision in self.revisions_of(promise):
            meta = revision["metadata"]
            if not meta.get("deletionTimestamp"):
                # Its change comes back here as an event; the finalizer goes then.
                self.kube.delete(r.PROMISE_REVISIONS, meta["name"])
            elif REVISION_FINALIZER in (meta.get("finalizers") or []):
                self.kube.remove_finalizer(r.PROMISE_REVISIONS, revision, REVISION_FINALIZER)
        return None


def _differs(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    meta, wanted = existing.get("metadata") or {}, desired["metadata"]
    labels = meta.get("labels") or {}
    return (
        existing.get("spec") != desired["spec"]
        or any(labels.get(key) != value for key, value in wanted["labels"].items())
        or REVISION_FINALIZER not in (meta.get("finalizers") or [])
        or not any(
            o.get("uid") == wanted["ownerReferences"][0]["uid"] for o in meta.get("ownerReferences") or []
        )
    )
