"""Scheduling: which WorkPlacements a Work should have, given the Destinations (pure).

Kratix's rules (kratix-behaviour.md §3.1, §3.2), with one deliberate change:

* Each workload group's selector is its ``destinationSelectors`` merged by source priority,
  resource-workflow < promise-workflow < promise (the Promise wins on a key clash). The
  work-writer already left the Promise's selectors out of directory groups, so merging is all
  that is left to do here.
* A Destination matches when every selector label equals one of its ``metadata.labels``.
  Destinations being deleted never match; nor do dry-run Destinations for ordinary Works; nor,
  when the selector is empty, Destinations with ``strictMatchLabels`` and at least one label.
* Dependency Works (no ``resourceName``) get a placement on every matching Destination.
  Resource Works get one Destination per group.
* An existing placement is never moved: if its Destination stops matching, it is *misplaced*
  (reported, its files left where they are). Placements of groups that left the Work are
  dangling and deleted.

The change: Kratix picks a resource group's Destination with ``math/rand``, so replaying the
same cluster state can place the same request differently. Here the choice is rendezvous
hashing over the request's identity (Promise, namespace, name) and the group id: the same
request and candidates always give the same Destination, and adding a Destination only draws
the groups that now hash highest to it, instead of reshuffling every later choice the way
``hash % len(candidates)`` would.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kratix_py import contract as c
from kratix_py.api.destination import Destination
from kratix_py.api.work import Work, WorkloadGroup, WorkPlacement

MAX_PLACEMENT_NAME_LENGTH = 253
"""WorkPlacement names are DNS subdomains."""
GROUP_ID_PREFIX_LENGTH = 5
"""How much of a workload group id appears in placement names and state-store paths."""

SOURCE_PRIORITY: Mapping[str, int] = {"resource-workflow": 0, "promise-workflow": 1, "promise": 2}
"""Selectors are applied lowest first, so a higher source overwrites a clashing key."""

_NAME_HASH_LENGTH = 8


# -- selectors and matching ------------------------------------------------------------------------


def merged_selector(group: WorkloadGroup) -> dict[str, str]:
    """The group's ``matchLabels`` from every source, the higher source winning on a clash."""
    merged: dict[str, str] = {}
    ordered = sorted(group.destination_selectors, key=lambda s: SOURCE_PRIORITY.get(s.source, 0))
    for selector in ordered:
        merged.update(selector.match_labels)
    return merged


def matches(selector: Mapping[str, str], destination: Destination) -> bool:
    """Every selector label is on the Destination with the same value (an empty selector matches)."""
    labels = destination.labels
    return all(labels.get(key) == value for key, value in selector.items())


def candidates(
    selector: Mapping[str, str], destinations: Sequence[Destination], *, dry_run: bool = False
) -> list[str]:
    """Names of the Destinations a group with ``selector`` may be placed on, sorted."""
    names = []
    conflicting = path_conflicts(destinations)
    for destination in destinations:
        if destination.metadata.deletion_timestamp is not None or destination.name in conflicting:
            continue
        if _is_dry_run(destination.labels) != dry_run:
            continue
        if not selector and destination.spec.strict_match_labels and destination.labels:
            continue
        if matches(selector, destination):
            names.append(destination.name)
    return sorted(names)


def directory_of(destination: Destination) -> tuple[str, str, str]:
    """(state store kind, store name, normalised path): the directory a Destination writes to."""
    ref = destination.spec.state_store_ref
    return (ref.kind, ref.name, posixpath.normpath("/" + (destination.spec.path or "").strip()).strip("/"))


def written_directory(destination: Destination) -> tuple[str, str, str] | None:
    """Where the Destination's files were last written, as :func:`directory_of` says it; ``None``
    when nothing was recorded yet (a new Destination, or one from before kratix-py recorded it).

    Kept in an annotation rather than in ``status``: it survives a CRD whose status schema does not
    know the field (Kratix's own CRDs prune unknown status fields), and it is kratix-py's
    bookkeeping about the store, like the written-files annotation on WorkPlacements.
    """
    raw = destination.metadata.annotations.get(c.ANNOTATION_DESTINATION_WRITTEN_TO)
    if not raw:
        return None
    try:
        value = json.loads(raw)
        ref = value["stateStoreRef"]
        recorded = Destination.model_validate(
            {
                "metadata": {"name": destination.name},
                "spec": {
                    "path": str(value["path"]),
                    "stateStoreRef": {"kind": ref["kind"], "name": ref["name"]},
                },
            }
        )
    except (ValueError, KeyError, TypeError):
        return None  # edited by hand into something else: treated as never recorded
    return directory_of(recorded)


def written_to(destination: Destination) -> str:
    """The annotation value recording that the Destination's files are where its spec says."""
    ref = destination.spec.state_store_ref
    record = {"path": destination.spec.path, "stateStoreRef": {"kind": ref.kind, "name": ref.name}}
    return json.dumps(record, sort_keys=True)


def is_moving(destination: Destination) -> bool:
    """Whether the Destination's spec names another directory than the one its files are in."""
    recorded = written_directory(destination)
    return recorded is not None and recorded != directory_of(destination)


def path_conflicts(destinations: Sequence[Destination]) -> dict[str, str]:
    """Destinations whose directory another one already owns: name -> the owner's name.

    Two Destinations on the same state store and path would overwrite each other's files and
    canaries (Kratix's webhook refuses the second). The first created keeps the directory; the
    others are never scheduled to and report why on their Ready condition.
    """
    owners: dict[tuple[str, str, str], Destination] = {}
    conflicts: dict[str, str] = {}
    # Oldest first; creation times have one-second resolution, so within a second a Destination
    # that is already Ready (it has written its canaries there) keeps the directory, then the name.
    # A Destination whose path just changed comes last: it moves into a directory another one
    # already has, so it is the one refused, however old it is.
    ordered = sorted(
        destinations,
        key=lambda d: (
            is_moving(d),
            str(d.metadata.creation_timestamp or ""),
            not d.status.is_true("Ready"),
            d.name,
        ),
    )
    for destination in ordered:
        if destination.metadata.deletion_timestamp is not None:
            continue
        key = directory_of(destination)
        if key in owners:
            conflicts[destination.name] = owners[key].name
        else:
            owners[key] = destination
    return conflicts


def request_identity(work: Work) -> str:
    """``<promise>/<request namespace>/<request name>``: what a resource group's choice hashes.

    The request's namespace is the ``kratix.io/resource-namespace`` label when the pipeline ran
    elsewhere (``pipelineNamespace``), else the Work's own namespace.
    """
    labels = work.metadata.labels
    namespace = labels.get(c.LABEL_RESOURCE_NAMESPACE) or work.metadata.namespace or ""
    return f"{work.spec.promise_name}/{namespace}/{work.spec.resource_name or ''}"


def choose_destination(identity: str, group_id: str, names: Sequence[str]) -> str:
    """The candidate with the highest rendezvous score for (identity, group); deterministic."""
    if not names:
        raise ValueError("no candidate Destinations to choose from")

    def score(name: str) -> tuple[bytes, str]:
        digest = hashlib.sha256(f"{identity}\0{group_id}\0{name}".encode()).digest()
        return digest, name

    return max(sorted(set(names)), key=score)


def placement_name(work_name: str, destination: str, group_id: str) -> str:
    """``<work>.<destination>-<id5>``, Kratix's name, kept within 253 characters.

    A longer name is cut and given a hash of the full one, so two long names never collide.
    """
    name = f"{work_name}.{destination}-{group_id[:GROUP_ID_PREFIX_LENGTH]}"
    if len(name) <= MAX_PLACEMENT_NAME_LENGTH:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_NAME_HASH_LENGTH]
    head = name[: MAX_PLACEMENT_NAME_LENGTH - _NAME_HASH_LENGTH - 1].rstrip("-.")
    return f"{head}-{digest}"


# -- the schedule ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedPlacement:
    """One WorkPlacement the Work should have; ``manifest`` is its desired labels/owner/spec."""

    name: str
    destination: str
    group_id: str
    misplaced: bool
    manifest: dict[str, Any]


@dataclass(frozen=True)
class Schedule:
    """What to create or update, which groups found no Destination, and what to delete."""

    placements: tuple[PlannedPlacement, ...] = ()
    unscheduled: tuple[str, ...] = ()
    """Ids of groups without a Destination (in the Work's group order)."""
    dangling: tuple[str, ...] = ()
    """Names of existing placements whose group left the Work."""
    selectors: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """The merged selector of each group id, for messages."""

    @property
    def misplaced(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.placements if p.misplaced)


def schedule(work: Work, destinations: Sequence[Destination], existing: Sequence[WorkPlacement]) -> Schedule:
    """The placements ``work`` should have; ``existing`` are its current WorkPlacements.

    Placements being deleted are ignored: they are on their way out and must not hold a group
    in place (a resource group whose placement is deleted is scheduled again, possibly
    elsewhere, once it is gone).
    """
    live = [p for p in existing if p.metadata.deletion_timestamp is None]
    by_group: dict[str, list[WorkPlacement]] = {}
    for placement in sorted(live, key=lambda p: p.name):
        by_group.setdefault(_group_of(placement), []).append(placement)

    dry_run = _is_dry_run(work.metadata.labels)
    identity = request_identity(work)
    planned: list[PlannedPlacement] = []
    unscheduled: list[str] = []
    selectors: dict[str, Mapping[str, str]] = {}
    for group in work.spec.workload_groups:
        selector = merged_selector(group)
        selectors[group.id] = selector
        names = candidates(selector, destinations, dry_run=dry_run)
        current = by_group.get(group.id, [])
        if work.is_dependency:
            # One per candidate; a candidate that already has one keeps it, whatever its name.
            placed = {p.spec.target_destination_name: p.name for p in current}
            chosen = [(name, placed.get(name) or placement_name(work.name, name, group.id)) for name in names]
        elif current:
            chosen = []  # sticky: a resource group keeps the Destination it has
        elif names:
            destination = choose_destination(identity, group.id, names)
            chosen = [(destination, placement_name(work.name, destination, group.id))]
        else:
            chosen = []
        if not names:
            unscheduled.append(group.id)
        taken = {name for _, name in chosen}
        for destination, name in chosen:
            manifest = desired_manifest(work, group, destination, name, misplaced=False)
            planned.append(PlannedPlacement(name, destination, group.id, False, manifest))
        for placement in current:
            if placement.name in taken:
                continue
            destination = placement.spec.target_destination_name
            misplaced = destination not in names
            manifest = desired_manifest(work, group, destination, placement.name, misplaced=misplaced)
            planned.append(PlannedPlacement(placement.name, destination, group.id, misplaced, manifest))

    group_ids = {group.id for group in work.spec.workload_groups}
    dangling = sorted(p.name for p in live if _group_of(p) not in group_ids)
    planned.sort(key=lambda p: p.name)
    return Schedule(tuple(planned), tuple(unscheduled), tuple(dangling), selectors)


def desired_manifest(
    work: Work, group: WorkloadGroup, destination: str, name: str, *, misplaced: bool
) -> dict[str, Any]:
    """The WorkPlacement for ``group`` on ``destination``: labels, controller owner and spec."""
    labels = {
        c.LABEL_WORK: work.name,
        c.LABEL_WORKLOAD_GROUP_ID: group.id,
        c.LABEL_TARGET_DESTINATION_NAME: destination,
    }
    work_labels = work.metadata.labels
    for copied in (c.LABEL_PIPELINE_NAME, c.LABEL_RESOURCE_NAMESPACE):
        # The request namespace is copied too: the state-store path uses it (see core.layout).
        if work_labels.get(copied):
            labels[copied] = work_labels[copied]
    if misplaced:
        labels[c.LABEL_MISPLACED] = c.TRUE_LABEL_VALUE
    spec: dict[str, Any] = {
        "targetDestinationName": destination,
        "workloads": [workload.to_dict() for workload in group.workloads],
        "promiseName": work.spec.promise_name,
    }
    if work.spec.resource_name:
        spec["resourceName"] = work.spec.resource_name
    spec["id"] = group.id
    if work.metadata.generation is not None:
        spec["generation"] = work.metadata.generation
    return {
        "apiVersion": c.API_VERSION,
        "kind": "WorkPlacement",
        "metadata": {
            "name": name,
            "namespace": work.metadata.namespace,
            "labels": labels,
            "ownerReferences": [owner_reference(work)],
        },
        "spec": spec,
    }


def owner_reference(work: Work) -> dict[str, Any]:
    """The Work as controller owner: garbage collection removes placements a Work leaves behind."""
    return {
        "apiVersion": c.API_VERSION,
        "kind": "Work",
        "name": work.name,
        "uid": work.metadata.uid or "",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _group_of(placement: WorkPlacement) -> str:
    return placement.metadata.labels.get(c.LABEL_WORKLOAD_GROUP_ID) or placement.spec.id


def _is_dry_run(labels: Mapping[str, str]) -> bool:
    return labels.get(c.LABEL_DRY_RUN) == c.TRUE_LABEL_VALUE
