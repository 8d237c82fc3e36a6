"""Destinations: prove the state store can be written (the canary files) and clean up on delete.

``Ready`` (kratix-behaviour.md §1.2) says whether this Destination's directory can be written:
``StateStoreNotFound`` / ``StateStoreNotReady`` / ``StateStoreWriteFailed`` (False), or
``TestDocumentsWritten`` (True, canaries written) / ``DestinationReady`` (True, ``initWorkloads``
disabled and the canaries removed). The canaries go through the store's batcher like any
placement, so a burst of new Destinations costs one commit.

``cleanup: all`` keeps ``kratix.io/destination-cleanup``: deleting the Destination first deletes
its WorkPlacements (their finalizers remove the files), then the canaries, then lets it go. With
``cleanup: none`` (the default) it goes at once and leaves the files.

Scheduling is not done here: the operator re-enqueues every Work when a Destination's labels,
spec or existence change (see ``app.py``).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api import Destination, WorkPlacement
from kratix_py.contract import UnsafePathError
from kratix_py.core import conditions as cond
from kratix_py.core.changes import Change
from kratix_py.core.layout import (
    PlacementFiles,
    canary_changes,
    canary_paths,
    path_move_removals,
    placement_paths,
)
from kratix_py.core.scheduling import directory_of, path_conflicts, written_directory, written_to
from kratix_py.operator import resources as r
from kratix_py.operator.cache import ModelReader, parse_model
from kratix_py.operator.placements import written_files
from kratix_py.operator.reconciler import Clock, Reconciler
from kratix_py.operator.statestores import (
    Enqueue,
    Key,
    Outcome,
    StateStores,
    StoreProblem,
    backoff,
    changes_digest,
    store_not_found,
    store_not_ready,
    store_ready_problem,
)

log = logging.getLogger(__name__)

STORE_RETRY = c.DEFAULT_REQUEUE
WRITE_BACKOFF = (2.0, 60.0)
WAIT_FOR_BATCH = timedelta(seconds=30)
WAIT_FOR_PLACEMENTS = timedelta(seconds=1)


def destination_key(name: str) -> tuple[str, str]:
    return ("destination", name)


class DestinationReconciler(Reconciler[Destination]):
    """Reconciles one Destination per call; see the module docstring."""

    resource = r.DESTINATIONS
    model_type = Destination

    def __init__(
        self,
        kube: k.Kube,
        stores: StateStores,
        *,
        enqueue: Enqueue,
        model: ModelReader = parse_model,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(kube, model=model, clock=clock)
        self.stores = stores
        self.enqueue = enqueue

    def gone(self, key: Key) -> timedelta | None:
        self.stores.forget(key)
        return None

    def invalid(self, key: Key, obj: dict[str, Any], problem: str) -> timedelta | None:
        message = f"the Destination is invalid: {problem}"
        self._ready(obj, cond.Condition(c.CONDITION_READY, cond.FALSE, "DestinationNotReady", message))
        return None

    def delete(self, key: Key, obj: dict[str, Any], destination: Destination | None) -> timedelta | None:
        if destination is None:
            if c.FINALIZER_DESTINATION_CLEANUP in (obj["metadata"].get("finalizers") or []):
                # No valid spec: no path to clean. Say so, then let it go.
                self.kube.emit_event(
                    obj,
                    "CleanupSkipped",
                    "the Destination is invalid, so its files cannot be found to remove them",
                    type="Warning",
                )
                self.release(obj, c.FINALIZER_DESTINATION_CLEANUP)
            return None
        return self._delete(key, obj, destination)

    def reconcile(self, key: Key, obj: dict[str, Any], destination: Destination) -> timedelta | None:
        obj = self._finalizer(obj, destination)

        ref = destination.spec.state_store_ref
        others = [d for d in map(_parsed, self.kube.list(r.DESTINATIONS)) if d is not None]
        owner = path_conflicts(others).get(destination.name)
        if owner is not None:
            message = (
                f"Destination {owner} already writes to path {destination.spec.path!r} of {ref.kind} {ref.name}: "
                "give this Destination its own spec.path (nothing is scheduled here until then)"
            )
            self._ready(obj, cond.Condition(c.CONDITION_READY, cond.FALSE, "PathConflict", message))
            return STORE_RETRY  # look again: the owner may move or go
        store = self.kube.get(r.STATE_STORES[ref.kind], ref.name)
        if store is None:
            message = store_not_found(ref.kind, ref.name)
            self._ready(obj, cond.Condition(c.CONDITION_READY, cond.FALSE, "StateStoreNotFound", message))
            return STORE_RETRY
        not_ready = store_ready_problem(store)
        try:
            handle = self.stores.handle(ref.kind, store)
        except StoreProblem as problem:
            not_ready = not_ready or f"{problem.reason}: {problem.message}"
            handle = None
        if handle is None or not_ready is not None:
            message = store_not_ready(ref.kind, ref.name, str(not_ready))
            self._ready(obj, cond.Condition(c.CONDITION_READY, cond.FALSE, "StateStoreNotReady", message))
            return STORE_RETRY

        enabled = destination.spec.init_workloads.enabled
        try:
            # Moving: the old path's files go in the same commit as the canaries at the new one.
            changes = canary_changes(destination, present=enabled) + self._moved_out(destination, others)
        except UnsafePathError as error:
            self._ready(
                obj, cond.Condition(c.CONDITION_READY, cond.FALSE, "StateStoreWriteFailed", str(error))
            )
            return None
        digest = changes_digest(handle.fingerprint, changes)
        if self.stores.is_pending(key, digest):
            return WAIT_FOR_BATCH
        outcome = self.stores.outcome(key)
        if outcome is None or outcome.digest != digest:
            self.stores.submit(handle, key, digest, changes)
            return WAIT_FOR_BATCH
        self._ready(obj, _written(outcome, enabled))
        if outcome.ok:
            self._record_directory(obj, destination, others)
            return None
        wait = backoff(outcome.failures, *WRITE_BACKOFF)
        if self._age(outcome) < wait:
            return timedelta(seconds=wait - self._age(outcome))
        self.stores.submit(handle, key, digest, changes)
        return WAIT_FOR_BATCH

    # -- moving ----------------------------------------------------------------------------------------
    def _moved_out(self, destination: Destination, others: list[Destination]) -> tuple[Change, ...]:
        """What to remove under the old path when ``spec.path`` changed (same store); else nothing."""
        recorded = written_directory(destination)
        current = directory_of(destination)
        if recorded is None or recorded == current or recorded[:2] != current[:2]:
            return ()
        keep: set[str] = set()
        successor = _successor(destination, recorded, others)
        if successor is not None:
            # Another Destination writes there now (say two swapped their paths): what it writes
            # stays, whatever this one wrote there before.
            keep |= set(canary_paths(successor))
            for files, _ in self._placement_files(successor):
                keep |= placement_paths(successor, files)
        placements = self._placement_files(destination)
        return path_move_removals(destination, recorded[2] or ".", placements, keep=keep)

    def _placement_files(self, destination: Destination) -> list[tuple[PlacementFiles, list[str]]]:
        """Each placement on ``destination``: its files (contents for mode none) and written-files record."""
        placements = []
        for item in self._placements(destination.name):
            try:
                placement = WorkPlacement.model_validate(item)
                files = PlacementFiles.from_placement(
                    placement, with_files=destination.spec.filepath.mode == "none"
                )
            except (ValidationError, ValueError) as error:
                log.warning("Destination %s: leaving WorkPlacement %s out of the move: %s",
                            destination.name, item["metadata"]["name"], error)  # fmt: skip
                continue
            placements.append((files, written_files(item)))
        return placements

    def _record_directory(
        self, obj: dict[str, Any], destination: Destination, others: list[Destination]
    ) -> None:
        """After a write: remember where the files now are; say so if that is a move."""
        recorded = written_directory(destination)
        current = directory_of(destination)
        if recorded == current:
            return
        meta = obj["metadata"]
        self.kube.patch(
            r.DESTINATIONS,
            meta["name"],
            {"metadata": {"annotations": {c.ANNOTATION_DESTINATION_WRITTEN_TO: written_to(destination)}}},
        )
        if recorded is None:
            return
        old, new = recorded[2] or ".", current[2] or "."
        successor = _successor(destination, recorded, others)
        if recorded[:2] == current[:2]:
            left = (
                f"those under {old!r} were removed but for Destination {successor.name}'s, which writes there now"
                if successor is not None
                else f"those under {old!r} were removed"
            )
            self.kube.emit_event(
                obj,
                "PathMoved",
                f"path moved from {old!r} to {new!r}: the files are written under {new!r}, and {left}",
            )
        else:
            self.kube.emit_event(
                obj,
                "StateStoreChanged",
                f"now writing to {current[0]} {current[1]} path {new!r}; the files in {recorded[0]} "
                f"{recorded[1]} under {old!r} are left there (remove them by hand if nothing reads them)",
                type="Warning",
            )

    # -- helpers -------------------------------------------------------------------------------------
    def _finalizer(self, obj: dict[str, Any], destination: Destination) -> dict[str, Any]:
        if destination.spec.cleanup == "all":
            return self.keep_finalizers(obj, [c.FINALIZER_DESTINATION_CLEANUP])
        if c.FINALIZER_DESTINATION_CLEANUP in (obj["metadata"].get("finalizers") or []):
            self.release(obj, c.FINALIZER_DESTINATION_CLEANUP)
            fresh = self.kube.get(r.DESTINATIONS, destination.name)
            return fresh if fresh is not None else obj
        return obj

    def _age(self, outcome: Outcome) -> float:
        return time.monotonic() - outcome.finished_at

    def _ready(self, obj: Mapping[str, Any], condition: cond.Condition) -> None:
        old = copy.deepcopy(obj.get("status") or {})
        status = dict(old)
        status["conditions"] = cond.set_condition(
            old.get("conditions"), condition, self.clock(), obj["metadata"].get("generation")
        )
        if not self.write_status(obj, old, status):
            return
        if cond.is_true(old.get("conditions"), c.CONDITION_READY) != (condition.status == cond.TRUE):
            self._enqueue_placements(str(obj["metadata"]["name"]))

    def _enqueue_placements(self, name: str) -> None:
        """Readiness flipped: placements waiting for this Destination's store try again."""
        for placement in self._placements(name):
            meta = placement["metadata"]
            self.enqueue(("workplacement", meta["namespace"], meta["name"]), 0.0)

    def _placements(self, name: str) -> list[dict[str, Any]]:
        return self.kube.list(r.WORKPLACEMENTS, None, labels={c.LABEL_TARGET_DESTINATION_NAME: name})

    def _delete(self, key: Key, obj: dict[str, Any], destination: Destination) -> timedelta | None:
        if c.FINALIZER_DESTINATION_CLEANUP not in (obj["metadata"].get("finalizers") or []):
            return None
        placements = self._placements(destination.name)
        for placement in placements:
            meta = placement["metadata"]
            if not meta.get("deletionTimestamp"):
                self.kube.delete(r.WORKPLACEMENTS, meta["name"], meta["namespace"])
        if placements:
            return WAIT_FOR_PLACEMENTS  # their finalizers remove the files first
        wait = self._remove_canaries(key, destination)
        if wait is not None:
            return wait
        self.stores.forget(key)
        self.release(obj, c.FINALIZER_DESTINATION_CLEANUP)
        return None

    def _remove_canaries(self, key: Key, destination: Destination) -> timedelta | None:
        """None once the canaries are gone (or cannot be reached: a missing store has none to remove)."""
        ref = destination.spec.state_store_ref
        others = [d for d in map(_parsed, self.kube.list(r.DESTINATIONS)) if d is not None]
        if any(
            other.name != destination.name
            and other.metadata.deletion_timestamp is None
            and directory_of(other) == directory_of(destination)
            for other in others
        ):
            return None  # another Destination still writes to this directory: leave its canaries
        store = self.kube.get(r.STATE_STORES[ref.kind], ref.name)
        if store is None:
            return None
        try:
            handle = self.stores.handle(ref.kind, store)
            changes = canary_changes(destination, present=False)
        except (StoreProblem, UnsafePathError) as error:
            log.info("Destination %s: not removing the canaries: %s", destination.name, error)
            return None
        digest = changes_digest(handle.fingerprint, changes, "remove")
        if self.stores.is_pending(key, digest):
            return WAIT_FOR_BATCH
        outcome = self.stores.outcome(key)
        if outcome is not None and outcome.digest == digest:
            if outcome.ok:
                return None
            log.warning("Destination %s: removing the canaries failed: %s", destination.name, outcome.message)
            wait = backoff(outcome.failures, *WRITE_BACKOFF)
            if self._age(outcome) < wait:
                return timedelta(seconds=wait - self._age(outcome))
        self.stores.submit(handle, key, digest, changes)
        return WAIT_FOR_BATCH


def _written(outcome: Outcome, enabled: bool) -> cond.Condition:
    if not outcome.ok:
        return cond.Condition(c.CONDITION_READY, cond.FALSE, "StateStoreWriteFailed", outcome.message)
    if enabled:
        return cond.Condition(
            c.CONDITION_READY, cond.TRUE, "TestDocumentsWritten", "Test documents written to State Store"
        )
    return cond.Condition(c.CONDITION_READY, cond.TRUE, "DestinationReady", "Destination ready")


def _successor(
    destination: Destination, recorded: tuple[str, str, str], others: list[Destination]
) -> Destination | None:
    """Another Destination that now writes to the directory ``destination`` moved out of."""
    return next(
        (
            other
            for other in others
            if other.name != destination.name
            and other.metadata.deletion_timestamp is None
            and directory_of(other) == recorded
        ),
        None,
    )


def _parsed(obj: Mapping[str, Any]) -> Destination | None:
    try:
        return Destination.model_validate(obj)
    except ValidationError:
        return None
