"""WorkPlacements: write one workload group to its Destination's state store, remove it on delete.

A reconcile computes the placement's changes (:mod:`kratix_py.core.layout`) and hands them to the
store's batcher (:mod:`kratix_py.operator.statestores`), which writes many placements in one
commit and calls this reconciler again with the outcome; only then is the status written.

Status follows Kratix (kratix-behaviour.md §1.6): ``ScheduleSucceeded`` (misplaced or not),
``WriteSucceeded`` (with the writer's error on failure) and ``Ready`` (message ``Ready`` only
when written and not misplaced; else ``Pending``, ``Misplaced`` or ``Failing``), plus
``status.versionID``. Conditions carry the placement's ``generation``, so the Work can tell a
write of the current content from an older one. Failed writes are retried with backoff.

On a ``filepath.mode: none`` Destination the placements share one directory: one whose files
another placement also claims writes nothing and says which placement (and request) it clashes
with, and the other is woken to say the same; the clash is looked at again every
``CLASH_RETRY``, so once one side goes the other writes. No write or removal deletes a path
another placement claims.

On delete the files are removed before the finalizers go. If the Destination, its state store
or the store's Secret no longer exists there is nothing the operator could clean, so the
finalizers are dropped at once instead of leaving the placement (and its Work, its request,
its Promise) stuck: Kratix's most reported deletion bug.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api import Destination, WorkPlacement, validation_message
from kratix_py.contract import UnsafePathError
from kratix_py.core import conditions as cond
from kratix_py.core.layout import (
    PlacementFiles,
    PlacementWrite,
    flat_claims,
    flat_clashes,
    placement_removal,
    placement_write,
)
from kratix_py.core.scheduling import path_conflicts
from kratix_py.operator import metrics
from kratix_py.operator import resources as r
from kratix_py.operator.cache import ModelReader, parse_model
from kratix_py.operator.reconciler import Clock, Reconciler
from kratix_py.operator.statestores import (
    Key,
    Outcome,
    StateStores,
    StoreHandle,
    StoreProblem,
    backoff,
    changes_digest,
    store_not_found,
    store_not_ready,
    store_ready_problem,
)
from kratix_py.operator.status import write_status
from kratix_py.statestores.base import Change

log = logging.getLogger(__name__)

WRITE_BACKOFF = (2.0, 60.0)
"""(first, longest) wait before retrying a failed write."""
WAIT_FOR_BATCH = timedelta(seconds=30)
"""Safety net while a write is in flight: the batcher enqueues us when done, this covers a lost wake-up."""
STORE_NOT_READY_RETRY = timedelta(seconds=15)
CLASH_RETRY = timedelta(seconds=30)
"""A placement refused for a path clash looks again this soon (the other side may have gone)."""
CLEANUP_BACKOFF = (5.0, 300.0)
"""(first, longest) wait between attempts to remove the files of a deleted placement."""

_SCHEDULED = cond.Condition(
    c.CONDITION_SCHEDULE_SUCCEEDED, cond.TRUE, "ScheduledToDestination", "Scheduled to correct Destination"
)
_MISPLACED = cond.Condition(
    c.CONDITION_SCHEDULE_SUCCEEDED,
    cond.FALSE,
    "DestinationSelectorMismatch",
    "Target Destination no longer matches destinationSelectors",
)


def placement_key(namespace: str, name: str) -> Key:
    return ("workplacement", namespace, name)


@dataclass(frozen=True)
class _Target:
    """Where a placement's files go, or why they cannot go there (``gone``: nothing to clean)."""

    destination: Destination | None = None
    handle: StoreHandle | None = None
    problem: str = ""
    gone: bool = False


class WorkPlacementReconciler(Reconciler[WorkPlacement]):
    """Reconciles one WorkPlacement per call; see the module docstring."""

    resource = r.WORKPLACEMENTS
    model_type = WorkPlacement

    def __init__(
        self,
        kube: k.Kube,
        stores: StateStores,
        *,
        rewrite_interval: timedelta = c.DEFAULT_STATE_STORE_RECONCILIATION_INTERVAL,
        model: ModelReader = parse_model,
        clock: Clock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        enqueue: Callable[[Key], None] | None = None,
    ) -> None:
        super().__init__(kube, model=model, clock=clock)
        self.stores = stores
        self.enqueue = enqueue
        self.rewrite_interval = rewrite_interval
        self.monotonic = monotonic
        self._cleanup_failures: dict[Key, int] = {}

    def gone(self, key: Key) -> timedelta | None:
        self.stores.forget(key)
        self._cleanup_failures.pop(key, None)
        return None

    def invalid(self, key: Key, obj: dict[str, Any], problem: str) -> timedelta | None:
        log.warning("WorkPlacement %s/%s is invalid: %s", key[1], key[2], problem)
        return None

    def delete(self, key: Key, obj: dict[str, Any], placement: WorkPlacement | None) -> timedelta | None:
        if placement is None:
            # Beyond repair by hand: without a valid spec there is no path to clean.
            return self._release(key, obj)
        return self._remove(key, obj, placement, self._target(placement))

    def reconcile(self, key: Key, obj: dict[str, Any], placement: WorkPlacement) -> timedelta | None:
        target = self._target(placement)
        if target.destination is None and target.gone:
            # No Destination: nothing to write to and nothing a later delete could clean. The
            # Work reports the placement as misplaced; a Destination of that name coming back
            # makes it write again (and take its finalizers again).
            self.stores.forget(key)
            self._misplaced_status(self._drop_finalizers(obj))
            return None
        if target.destination is None:
            self._status(obj, placement, written=False, message=target.problem)
            return None  # the Destination's own update enqueues its placements
        obj = self.keep_finalizers(obj, placement_finalizers(target.destination))
        if target.handle is None:
            self._status(obj, placement, written=False, message=target.problem)
            return STORE_NOT_READY_RETRY
        return self._write(key, obj, placement, target.destination, target.handle)

    # -- writing -----------------------------------------------------------------------------------
    def _write(
        self,
        key: Key,
        obj: dict[str, Any],
        placement: WorkPlacement,
        destination: Destination,
        handle: StoreHandle,
    ) -> timedelta | None:
        previously_owned = written_files(obj)
        others: dict[str, set[str]] = {}
        try:
            files = PlacementFiles.from_placement(placement)
            if destination.spec.filepath.mode == "none":
                others = self._flat_claims(destination, obj)
            keep = set().union(*others.values()) if others else set()
            write = placement_write(destination, files, previously_owned=previously_owned, keep=keep)
        except (UnsafePathError, ValueError) as error:
            # Bad pipeline output: retrying cannot help, a new Work generation will.
            self._status(obj, placement, written=False, message=f"nothing written: {error}")
            return None
        clashes = flat_clashes(write.owned, others)
        if clashes:
            return self._clash(obj, placement, clashes)
        digest = changes_digest(handle.fingerprint, write.changes, destination.spec.filepath.mode)
        source: Sequence[Change] | Callable[[], Sequence[Change]] = write.all_changes
        if destination.spec.filepath.mode == "aggregatedYAML":
            # The file holds every placement of the Destination: compute it when the batch is
            # written, from the placements that exist then, so concurrent updates cannot lose one.
            def aggregated() -> Sequence[Change]:
                return placement_write(destination, files, peers=self._peers(destination)).changes

            source = aggregated
        return self._submit_or_report(
            key, handle, digest, source, lambda outcome: self._report(obj, placement, outcome, write)
        )

    def _report(
        self, obj: dict[str, Any], placement: WorkPlacement, outcome: Outcome, write: PlacementWrite
    ) -> None:
        if outcome.ok and write.owned and list(write.owned) != written_files(obj):
            obj = self.kube.patch(
                r.WORKPLACEMENTS,
                obj["metadata"]["name"],
                {"metadata": {"annotations": {c.ANNOTATION_WRITTEN_FILES: json.dumps(list(write.owned))}}},
                obj["metadata"]["namespace"],
            )
        metrics.placement_written(
            outcome.ok,
            placement.spec.promise_name,
            placement.spec.resource_name or "",
            placement.spec.target_destination_name,
            placement.metadata.labels.get(c.LABEL_PIPELINE_NAME, ""),
            namespace=obj["metadata"]["namespace"],
        )
        self._status(
            obj, placement, written=outcome.ok, message=outcome.message, version_id=outcome.version_id
        )

    def _submit_or_report(
        self,
        key: Key,
        handle: StoreHandle,
        digest: str,
        source: Sequence[Change] | Callable[[], Sequence[Change]],
        report: Callable[[Outcome], None],
    ) -> timedelta | None:
        """Report the outcome of this exact content if there is one; else (re)submit it.

        Returns when to look again: after the rewrite interval (drift repair) on success, after
        the backoff on failure, or the safety net while a write is in flight.
        """
        if self.stores.is_pending(key, digest):
            return WAIT_FOR_BATCH
        outcome = self.stores.outcome(key)
        if outcome is not None and outcome.digest == digest:
            report(outcome)
            age = self.monotonic() - outcome.finished_at
            wait = (
                self.rewrite_interval.total_seconds()
                if outcome.ok
                else backoff(outcome.failures, *WRITE_BACKOFF)
            )
            if age < wait:
                return timedelta(seconds=wait - age)
        self.stores.submit(handle, key, digest, source)
        return WAIT_FOR_BATCH

    def _peers(self, destination: Destination) -> list[PlacementFiles]:
        """Every live placement of the Destination (for its aggregated file)."""
        peers = []
        listed = self.kube.list(
            r.WORKPLACEMENTS, None, labels={c.LABEL_TARGET_DESTINATION_NAME: destination.name}
        )
        for item in listed:
            if item["metadata"].get("deletionTimestamp"):
                continue
            try:
                peers.append(PlacementFiles.from_placement(WorkPlacement.model_validate(item)))
            except (ValidationError, ValueError) as error:
                log.warning(
                    "leaving WorkPlacement %s out of the aggregated file: %s", item["metadata"]["name"], error
                )
        return peers

    def _flat_claims(self, destination: Destination, obj: Mapping[str, Any]) -> dict[str, set[str]]:
        """``namespace/name`` -> store paths, for every other placement on the mode-none Destination
        (being deleted too: its files are there until it is gone)."""
        me = (obj["metadata"].get("namespace"), obj["metadata"]["name"])
        claims: dict[str, set[str]] = {}
        listed = self.kube.list(
            r.WORKPLACEMENTS, None, labels={c.LABEL_TARGET_DESTINATION_NAME: destination.name}
        )
        for item in listed:
            meta = item["metadata"]
            if (meta.get("namespace"), meta["name"]) == me:
                continue
            filepaths = [
                str(workload.get("filepath"))
                for workload in (item.get("spec") or {}).get("workloads") or []
                if isinstance(workload, Mapping) and workload.get("filepath")
            ]
            claimed = flat_claims(destination, meta["name"], filepaths, written_files(item))
            if claimed:
                claims[f"{meta.get('namespace')}/{meta['name']}"] = claimed
        return claims

    def _clash(
        self, obj: dict[str, Any], placement: WorkPlacement, clashes: Mapping[str, Sequence[str]]
    ) -> timedelta:
        """Write nothing, name each shared path and who else claims it, and wake the others so
        that their requests report the clash too."""
        namespace = obj["metadata"].get("namespace") or ""
        described = "; ".join(
            f"{path} is also claimed by {', '.join(self._describe_placement(other) for other in others)}"
            for path, others in clashes.items()
        )
        message = (
            f"nothing written: {described}. On a Destination with filepath.mode none every file belongs "
            "to one placement: change the output path of one of the pipelines"
        )
        self._status(obj, placement, written=False, message=message)
        mine = f"{namespace}/{placement.name}"
        for other in sorted({name for others in clashes.values() for name in others}):
            other_namespace, _, other_name = other.partition("/")
            peer = self.kube.get(r.WORKPLACEMENTS, other_name, other_namespace)
            written = cond.find(
                ((peer or {}).get("status") or {}).get("conditions"), c.CONDITION_WRITE_SUCCEEDED
            )
            if (
                peer is not None
                and self.enqueue is not None
                and mine not in str((written or {}).get("message"))
            ):
                self.enqueue(placement_key(other_namespace, other_name))
        return CLASH_RETRY

    def _describe_placement(self, qualified: str) -> str:
        """``WorkPlacement ns/name (request ns/rr)``: the request is what a person recognises."""
        namespace, _, name = qualified.partition("/")
        peer = self.kube.get(r.WORKPLACEMENTS, name, namespace) or {}
        resource = (peer.get("spec") or {}).get("resourceName")
        labels = (peer.get("metadata") or {}).get("labels") or {}
        if resource:
            owner = f"request {labels.get(c.LABEL_RESOURCE_NAMESPACE) or namespace}/{resource}"
        else:
            owner = f"Promise {(peer.get('spec') or {}).get('promiseName')}"
        return f"WorkPlacement {qualified} ({owner})"

    # -- removing ----------------------------------------------------------------------------------
    def _remove(
        self, key: Key, obj: dict[str, Any], placement: WorkPlacement, target: _Target
    ) -> timedelta | None:
        if not set(obj["metadata"].get("finalizers") or []) & set(_OUR_FINALIZERS):
            return None
        if target.destination is None and target.gone:
            # The Destination itself is gone: nobody knows where its files were, so there is
            # nothing to clean (its state store may hold them; `cleanup: all` removes them first).
            log.info(
                "WorkPlacement %s/%s: %s; nothing to clean up",
                placement.metadata.namespace,
                placement.name,
                target.problem,
            )
            return self._release(key, obj)
        if target.handle is None or target.destination is None:
            # The store, or its Secret, is missing or broken: the files are still there. Keep the
            # finalizer and say so (a rotated Secret comes back), unless the user abandons them.
            if self._abandoned(obj):
                return self._abandon(key, obj, placement, target.problem)
            return self._blocked(key, obj, placement, target.problem)
        destination, handle = target.destination, target.handle
        try:
            files = PlacementFiles.from_placement(
                placement, with_files=destination.spec.filepath.mode == "none"
            )
        except ValueError:
            files = PlacementFiles.from_placement(placement, with_files=False)
        keep: set[str] = set()
        if destination.spec.filepath.mode == "none":
            keep = set().union(*self._flat_claims(destination, obj).values())
        try:
            removal = placement_removal(destination, files, previously_owned=written_files(obj), keep=keep)
        except UnsafePathError as error:
            self._status(obj, placement, written=False, message=f"cannot remove the files: {error}")
            return None
        digest = changes_digest(handle.fingerprint, removal.changes, "remove")
        source: Sequence[Change] | Callable[[], Sequence[Change]] = removal.changes
        if destination.spec.filepath.mode == "aggregatedYAML":

            def aggregated() -> Sequence[Change]:
                return placement_removal(destination, files, peers=self._peers(destination)).changes

            source = aggregated
        released: list[bool] = []

        failed: list[str] = []

        def report(outcome: Outcome) -> None:
            if outcome.ok:
                released.append(True)
            else:
                failed.append(outcome.message)

        wait = self._submit_or_report(key, handle, digest, source, report)
        if released:
            return self._release(key, obj)
        if failed:
            if self._abandoned(obj):
                return self._abandon(key, obj, placement, failed[0])
            self._status(obj, placement, written=False, message=self._cleanup_message(failed[0]))
        return wait

    def _release(self, key: Key, obj: dict[str, Any]) -> timedelta | None:
        self.stores.forget(key)
        self._cleanup_failures.pop(key, None)
        self._drop_finalizers(obj)
        return None

    def _blocked(self, key: Key, obj: dict[str, Any], placement: WorkPlacement, problem: str) -> timedelta:
        """The files cannot be removed now: say so on the placement (its Work and request pass it
        on) and try again with backoff."""
        self._status(obj, placement, written=False, message=self._cleanup_message(problem))
        failures = self._cleanup_failures.get(key, 0) + 1
        self._cleanup_failures[key] = failures
        return timedelta(seconds=backoff(failures, *CLEANUP_BACKOFF))

    @staticmethod
    def _cleanup_message(problem: str) -> str:
        return (
            f"cannot remove the files: {problem}. The deletion waits and retries; to leave the files "
            f"in the state store and finish it, annotate the request, Work or WorkPlacement with "
            f"{c.ANNOTATION_ABANDON_CLEANUP}=true"
        )

    def _abandoned(self, obj: Mapping[str, Any]) -> bool:
        """Whether the user asked to leave the files behind: on the placement, its Work or its request."""
        if _annotation_on(obj, c.ANNOTATION_ABANDON_CLEANUP):
            return True
        meta = obj["metadata"]
        work_name = (meta.get("labels") or {}).get(c.LABEL_WORK)
        work = self.kube.get(r.WORKS, str(work_name), meta["namespace"]) if work_name else None
        if work is None:
            return False
        # The request passes its own annotation on to its Works when it is deleted.
        return _annotation_on(work, c.ANNOTATION_ABANDON_CLEANUP)

    def _abandon(
        self, key: Key, obj: dict[str, Any], placement: WorkPlacement, problem: str
    ) -> timedelta | None:
        message = (
            f"cleanup abandoned as asked ({c.ANNOTATION_ABANDON_CLEANUP}): the files of this placement stay "
            f"in the state store of Destination {placement.spec.target_destination_name} ({problem})"
        )
        self.kube.emit_event(obj, "CleanupAbandoned", message, type="Warning")
        log.warning("WorkPlacement %s/%s: %s", placement.metadata.namespace, placement.name, message)
        return self._release(key, obj)

    def _drop_finalizers(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Remove our finalizers (guarded by resourceVersion); returns the object as it now is."""
        return self.drop_finalizers(obj, _OUR_FINALIZERS)

    # -- where to --------------------------------------------------------------------------------------
    def _target(self, placement: WorkPlacement) -> _Target:
        destination_name = placement.spec.target_destination_name
        destination_obj = self.kube.get(r.DESTINATIONS, destination_name)
        if destination_obj is None:
            return _Target(problem=f"Destination {destination_name} not found: it does not exist", gone=True)
        try:
            destination = Destination.model_validate(destination_obj)
        except ValidationError as error:
            return _Target(problem=f"Destination {destination_name} is invalid: {validation_message(error)}")
        ref = destination.spec.state_store_ref
        owner = self._path_owner(destination)
        if owner is not None:
            # Its Destination moved (or was set) to a directory another Destination writes to:
            # writing there would overwrite that one's files. The Destination's Ready says the same.
            return _Target(
                destination,
                problem=f"Destination {destination_name} has path {destination.spec.path!r} of {ref.kind} "
                f"{ref.name}, which Destination {owner} already writes to: nothing is written until it has its own",
            )
        store = self.kube.get(r.STATE_STORES[ref.kind], ref.name)
        if store is None:
            return _Target(destination, problem=store_not_found(ref.kind, ref.name))
        try:
            handle = self.stores.handle(ref.kind, store)
        except StoreProblem as problem:
            return _Target(destination, problem=f"{ref.kind} {ref.name}: {problem.message}")
        not_ready = store_ready_problem(store)
        if not_ready is not None:
            return _Target(destination, problem=store_not_ready(ref.kind, ref.name, not_ready))
        return _Target(destination, handle)

    def _path_owner(self, destination: Destination) -> str | None:
        """The Destination that owns this one's directory, if not this one (see path_conflicts).

        Only the Destinations on the same store can clash; they come from the cache, parsed once
        per version, so this costs nothing per request.
        """
        ref = destination.spec.state_store_ref
        same_store = []
        for item in self.kube.list(r.DESTINATIONS):
            store_ref = (item.get("spec") or {}).get("stateStoreRef") or {}
            if (store_ref.get("kind"), store_ref.get("name")) != (ref.kind, ref.name):
                continue
            try:
                same_store.append(self.model(Destination, item))
            except ValidationError:
                continue
        return path_conflicts(same_store).get(destination.name)

    # -- status ----------------------------------------------------------------------------------------
    def _misplaced_status(self, obj: Mapping[str, Any]) -> None:
        """The Destination is gone: once the Work marks the placement misplaced, say so (the last
        write's ``WriteSucceeded`` stays as it was: the files are still wherever they were written)."""
        if (obj["metadata"].get("labels") or {}).get(c.LABEL_MISPLACED) != c.TRUE_LABEL_VALUE:
            return
        old = copy.deepcopy(obj.get("status") or {})
        ready = cond.Condition(c.CONDITION_READY, cond.FALSE, "Misplaced", "Misplaced")
        conditions = cond.set_conditions(
            old.get("conditions"), [_MISPLACED, ready], self.clock(), obj["metadata"].get("generation")
        )
        write_status(self.kube, r.WORKPLACEMENTS, obj, old, {**old, "conditions": conditions})

    def _status(
        self,
        obj: Mapping[str, Any],
        placement: WorkPlacement,
        *,
        written: bool,
        message: str,
        version_id: str = "",
    ) -> None:
        now = self.clock()
        generation = obj["metadata"].get("generation")
        misplaced = (obj["metadata"].get("labels") or {}).get(c.LABEL_MISPLACED) == c.TRUE_LABEL_VALUE
        old = copy.deepcopy(obj.get("status") or {})
        if written:
            write = cond.Condition(
                c.CONDITION_WRITE_SUCCEEDED,
                cond.TRUE,
                "WorkloadsWrittenToStateStore",
                "Workloads written to State Store",
            )
        else:
            write = cond.Condition(
                c.CONDITION_WRITE_SUCCEEDED, cond.FALSE, "WorkloadsFailedWrite", message or "write failed"
            )
        if not written:
            ready = cond.Condition(c.CONDITION_READY, cond.FALSE, "WorkloadsFailedWrite", "Failing")
        elif misplaced:
            ready = cond.Condition(c.CONDITION_READY, cond.FALSE, "Misplaced", "Misplaced")
        else:
            ready = cond.Condition(
                c.CONDITION_READY, cond.TRUE, "WorkloadsWrittenToTargetDestination", "Ready"
            )
        status = dict(old)
        status["conditions"] = cond.set_conditions(
            old.get("conditions"), [_MISPLACED if misplaced else _SCHEDULED, write, ready], now, generation
        )
        if written and version_id:
            status["versionID"] = version_id
        if not write_status(self.kube, r.WORKPLACEMENTS, obj, old, status):
            return
        for event_type, reason, text in _events(old, status, placement):
            self.kube.emit_event(obj, reason, text, type=event_type)


_OUR_FINALIZERS = (c.FINALIZER_WORKPLACEMENT_REPO_CLEANUP, c.FINALIZER_WORKPLACEMENT_DOT_FILES_CLEANUP)


def placement_finalizers(destination: Destination) -> list[str]:
    """The finalizers a placement on ``destination`` carries (set at creation, kept by its reconciler)."""
    wanted = [c.FINALIZER_WORKPLACEMENT_REPO_CLEANUP]
    if destination.spec.filepath.mode == "none":
        wanted.append(c.FINALIZER_WORKPLACEMENT_DOT_FILES_CLEANUP)
    return wanted


def _annotation_on(obj: Mapping[str, Any], key: str) -> bool:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(key) == c.TRUE_LABEL_VALUE


def written_files(obj: Mapping[str, Any]) -> list[str]:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(c.ANNOTATION_WRITTEN_FILES)
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return []
    return [str(item) for item in value] if isinstance(value, list) else []


def _events(
    old: Mapping[str, Any], new: Mapping[str, Any], placement: WorkPlacement
) -> list[tuple[str, str, str]]:
    """Events only on transitions: written / failed, and misplaced."""
    events = []
    before_write = cond.find(old.get("conditions"), c.CONDITION_WRITE_SUCCEEDED)
    after_write = cond.find(new.get("conditions"), c.CONDITION_WRITE_SUCCEEDED)
    destination = placement.spec.target_destination_name
    if after_write is not None and (before_write or {}).get("status") != after_write.get("status"):
        if after_write.get("status") == cond.TRUE:
            events.append(
                ("Normal", "WorkloadsWrittenToStateStore", f"Workloads written to Destination {destination}")
            )
        else:
            events.append(
                (
                    "Warning",
                    "FailedWriteToDestination",
                    f"Failed to write to Destination {destination}: {after_write.get('message')}",
                )
            )
    before_schedule = cond.find(old.get("conditions"), c.CONDITION_SCHEDULE_SUCCEEDED)
    after_schedule = cond.find(new.get("conditions"), c.CONDITION_SCHEDULE_SUCCEEDED)
    if (
        after_schedule is not None
        and after_schedule.get("status") == cond.FALSE
        and (before_schedule or {}).get("status") != cond.FALSE
    ):
        events.append(
            (
                "Warning",
                "DestinationSelectorMismatch",
                f"Destination {destination} no longer matches the Work's selectors",
            )
        )
    return events
