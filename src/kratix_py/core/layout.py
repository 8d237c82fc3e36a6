"""Where a WorkPlacement's files go in its Destination's state store, per filepath mode (pure).

The layout is Kratix's (kratix-behaviour.md §3.4, §3.5), because Flux/ArgoCD set-ups point at
these exact directories. Paths are relative to the state store's own ``spec.path`` (the writer
adds that prefix); ``<dest>`` below is the Destination's ``spec.path``, where ``.`` and ``/``
mean the store root.

``nestedByMetadata`` (default): one directory per workload group, replaced wholesale::

    <dest>/dependencies/<promise>/<pipeline>/<id5>/<files>        promise workflow output
    <dest>/dependencies/<promise>/<id5>/<files>                   static dependencies (no pipeline)
    <dest>/resources/<namespace>/<promise>/<request>/<pipeline>/<id5>/<files>

``aggregatedYAML``: every placement of the Destination, sorted by name, joined with
``\\n---\\n`` into ``<dest>/<filename>``.

``none``: files as the pipeline named them, ``<dest>/<filepath>``, plus a state file
``<dest>/.kratix/<namespace>-<placement>.yaml`` listing what the placement owns, so that files
dropped from a later output, and all files on delete, are removed. Unlike Kratix, which lets
placements overwrite each other unnoticed, a pipeline may not write into ``.kratix/`` (the
bookkeeping), two placements claiming one path are refused (:func:`flat_clashes`), and no write
or removal deletes a path another placement still claims (``keep``).

One difference from Kratix: ``<namespace>`` is the *request's* namespace. Kratix uses the
placement's namespace, which is the pipeline's; with ``pipelineNamespace`` set, requests of the
same name from different namespaces would then share (and overwrite) one directory. Without
``pipelineNamespace`` the two are the same, so ordinary layouts are identical to Kratix's.

Every path is built with :mod:`kratix_py.contract`, so a workload path with ``..`` or
an absolute path raises :class:`~kratix_py.contract.UnsafePathError` naming the file,
which the placement reports in its ``WriteSucceeded`` condition; nothing is skipped silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import yaml

from kratix_py import contract as c
from kratix_py.api.destination import Destination
from kratix_py.api.work import WorkPlacement
from kratix_py.contract import UnsafePathError, is_within, join_under, normalise_prefix, safe_relpath
from kratix_py.core.changes import Change, DirChange, FileChange
from kratix_py.core.scheduling import GROUP_ID_PREFIX_LENGTH
from kratix_py.core.workloads import decode_content

DEPENDENCIES_DIR = "dependencies"
RESOURCES_DIR = "resources"
STATE_FILES_DIR = ".kratix"
CANARY_NAMESPACE_FILE = "kratix-canary-namespace.yaml"
CANARY_CONFIG_MAP_FILE = "kratix-canary-configmap.yaml"
CANARY_LABEL = "kratix-canary"
"""Who the canary writes are from, in commit messages."""
CANARY_MESSAGE = "this confirms your infrastructure is reading from Kratix state stores"
AGGREGATED_SEPARATOR = b"\n---\n"


@dataclass(frozen=True)
class PlacementFiles:
    """What the layout needs from one WorkPlacement: who it belongs to and its files."""

    name: str
    namespace: str
    promise: str
    group_id: str
    resource: str | None = None
    resource_namespace: str | None = None
    """The request's namespace when the pipeline ran elsewhere; else the placement's namespace."""
    pipeline: str | None = None
    files: tuple[tuple[str, bytes], ...] = ()
    """(filepath, content) in workload order."""

    @classmethod
    def from_placement(cls, placement: WorkPlacement, *, with_files: bool = True) -> PlacementFiles:
        """Read a placement; ``with_files`` decodes the workloads (ValueError names a bad one)."""
        files: list[tuple[str, bytes]] = []
        if with_files:
            for workload in placement.spec.workloads:
                try:
                    files.append((workload.filepath, decode_content(workload.content)))
                except ValueError as error:
                    raise ValueError(f"workload {workload.filepath!r}: {error}") from None
        labels = placement.metadata.labels
        return cls(
            name=placement.name,
            namespace=placement.metadata.namespace or "",
            promise=placement.spec.promise_name,
            group_id=placement.spec.id,
            resource=placement.spec.resource_name or None,
            resource_namespace=labels.get(c.LABEL_RESOURCE_NAMESPACE) or None,
            pipeline=labels.get(c.LABEL_PIPELINE_NAME) or None,
            files=tuple(files),
        )


@dataclass(frozen=True)
class PlacementWrite:
    """The changes that put a placement's files in place (or remove them).

    ``changes`` is the desired state; ``cleanup`` removes what an earlier write left and this one
    no longer wants (mode ``none`` only). ``owned`` lists the store paths the placement owns
    afterwards (mode ``none``; recorded so the next write knows what to clean up).
    """

    changes: tuple[Change, ...]
    cleanup: tuple[Change, ...] = ()
    owned: tuple[str, ...] = ()

    @property
    def all_changes(self) -> tuple[Change, ...]:
        return self.changes + self.cleanup


# -- paths -----------------------------------------------------------------------------------------


def destination_root(destination: Destination) -> str:
    """The Destination's directory relative to the store root; ``""`` for ``.`` and ``/``."""
    return normalise_prefix(destination.spec.path, what=f"path of Destination {destination.name}")


def group_directory(destination: Destination, placement: PlacementFiles) -> str:
    """The nestedByMetadata directory of a placement's workload group."""
    id5 = placement.group_id[:GROUP_ID_PREFIX_LENGTH]
    if placement.resource:
        namespace = placement.resource_namespace or placement.namespace
        parts = [RESOURCES_DIR, namespace, placement.promise, placement.resource]
    else:
        parts = [DEPENDENCIES_DIR, placement.promise]
    if placement.pipeline:
        parts.append(placement.pipeline)  # static dependencies have no pipeline: no segment
    parts.append(id5)
    for part in parts:
        # Names are Kubernetes names, so this only fails on a hand-made, broken placement.
        safe_relpath(part, what=f"path segment of WorkPlacement {placement.name}")
    return join_under(destination_root(destination), "/".join(parts))


def state_file(destination: Destination, namespace: str, placement_name: str) -> str:
    """``<dest>/.kratix/<namespace>-<placement>.yaml`` (mode none)."""
    return join_under(destination_root(destination), f"{STATE_FILES_DIR}/{namespace}-{placement_name}.yaml")


def aggregated_file(destination: Destination) -> str:
    """``<dest>/<filepath.filename>`` (mode aggregatedYAML)."""
    filename = destination.spec.filepath.filename
    return join_under(
        destination_root(destination), filename, what=f"filepath.filename of Destination {destination.name}"
    )


def _workload_path(base: str, placement: PlacementFiles, filepath: str) -> str:
    return join_under(base, filepath, what=f"workload filepath of WorkPlacement {placement.name}")


def _flat_path(base: str, placement_name: str, filepath: str) -> str:
    """A mode-none workload's store path; ``.kratix/`` is refused: it holds every placement's
    record of what it owns, and overwriting one would make its owner delete the wrong files."""
    path = join_under(base, filepath, what=f"workload filepath of WorkPlacement {placement_name}")
    if safe_relpath(filepath).split("/", 1)[0] == STATE_FILES_DIR:
        raise UnsafePathError(
            f"workload filepath {filepath!r} of WorkPlacement {placement_name} is in {STATE_FILES_DIR}/, "
            "where kratix-py keeps the Destination's bookkeeping; write it elsewhere"
        )
    return path


def flat_claims(
    destination: Destination, placement_name: str, filepaths: Iterable[str], recorded: Iterable[str] = ()
) -> set[str]:
    """Every store path a mode-none placement claims: what it last wrote (``recorded``) and what
    its workloads' ``filepaths`` would write now (paths that cannot be written are not claimed).
    Only paths: no workload needs decoding to know whose a file is."""
    root = destination_root(destination)
    claimed = set(recorded)
    for filepath in filepaths:
        try:
            claimed.add(_flat_path(root, placement_name, filepath))
        except UnsafePathError:
            continue
    return claimed


def flat_clashes(wanted: Iterable[str], others: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Path -> the other placements (sorted) that also claim it, for the paths in ``wanted``."""
    claimed_by: dict[str, list[str]] = {}
    for name in sorted(others):
        for path in others[name]:
            claimed_by.setdefault(path, []).append(name)
    return {path: claimed_by[path] for path in sorted(set(wanted)) if path in claimed_by}


# -- writes ----------------------------------------------------------------------------------------


def placement_write(
    destination: Destination,
    placement: PlacementFiles,
    *,
    peers: Sequence[PlacementFiles] = (),
    previously_owned: Iterable[str] = (),
    keep: Iterable[str] = (),
) -> PlacementWrite:
    """The changes that write ``placement`` to ``destination``.

    ``peers``: for aggregatedYAML, every live placement of the Destination (``placement``
    included or not; it is added). ``previously_owned``: for mode none, the paths the last
    write recorded; ``keep``: paths other placements claim, never cleaned up by this one.
    Raises UnsafePathError for a path that would leave its directory.
    """
    mode = destination.spec.filepath.mode
    if mode == "aggregatedYAML":
        everyone = {p.name: p for p in peers}
        everyone[placement.name] = placement
        return PlacementWrite((aggregated_change(destination, everyone.values(), placement.name),))
    if mode == "none":
        return _flat_write(destination, placement, previously_owned, set(keep))
    directory = group_directory(destination, placement)
    files = {
        safe_relpath(filepath, what=f"workload filepath of WorkPlacement {placement.name}"): content
        for filepath, content in placement.files
    }
    return PlacementWrite((DirChange(directory, files, placement.name),))


def placement_removal(
    destination: Destination,
    placement: PlacementFiles,
    *,
    peers: Sequence[PlacementFiles] = (),
    previously_owned: Iterable[str] = (),
    keep: Iterable[str] = (),
) -> PlacementWrite:
    """The changes that remove ``placement``'s files.

    nestedByMetadata deletes the group directory; aggregatedYAML rewrites the file from the
    other ``peers`` (deleting it when none are left); none deletes the recorded and current
    files and the state file, except the paths in ``keep`` (claimed by other placements) and
    other placements' state files.
    """
    mode = destination.spec.filepath.mode
    if mode == "aggregatedYAML":
        others = [p for p in peers if p.name != placement.name]
        return PlacementWrite((aggregated_change(destination, others, placement.name),))
    if mode == "none":
        record = state_file(destination, placement.namespace, placement.name)
        bookkeeping = join_under(destination_root(destination), STATE_FILES_DIR)
        paths = {
            path
            for path in flat_claims(
                destination, placement.name, [filepath for filepath, _ in placement.files], previously_owned
            )
            if not is_within(path, bookkeeping)
        }
        paths = (paths - set(keep)) | {record}
        return PlacementWrite(tuple(FileChange(path, None, placement.name) for path in sorted(paths)))
    return PlacementWrite((DirChange(group_directory(destination, placement), None, placement.name),))


def aggregated_change(
    destination: Destination, placements: Iterable[PlacementFiles], label: str
) -> FileChange:
    """The aggregated file from ``placements`` (sorted by name); deleted when there are none."""
    documents = [
        content for placement in sorted(placements, key=lambda p: p.name) for _, content in placement.files
    ]
    content = AGGREGATED_SEPARATOR.join(documents) if documents else None
    return FileChange(aggregated_file(destination), content, label)


def _flat_write(
    destination: Destination, placement: PlacementFiles, previously_owned: Iterable[str], keep: set[str]
) -> PlacementWrite:
    root = destination_root(destination)
    changes: list[Change] = []
    owned: list[str] = []
    for filepath, content in placement.files:
        path = _flat_path(root, placement.name, filepath)
        changes.append(FileChange(path, content, placement.name))
        owned.append(path)
    owned = sorted(set(owned))
    record = state_file(destination, placement.namespace, placement.name)
    changes.append(FileChange(record, state_file_content(owned), placement.name))
    bookkeeping = join_under(root, STATE_FILES_DIR)
    stale = sorted(
        path
        for path in set(previously_owned) - set(owned) - {record} - keep
        if not is_within(path, bookkeeping)
    )
    cleanup = tuple(FileChange(_checked(path), None, placement.name) for path in stale)
    return PlacementWrite(tuple(changes), cleanup, tuple(owned))


def _checked(path: str) -> str:
    # Recorded paths come back from an annotation anyone could edit: check them again.
    return safe_relpath(path, what="recorded file")


def state_file_content(owned: Sequence[str]) -> bytes:
    """The state file of mode none: ``files: [<paths relative to the store root>]``."""
    return yaml.safe_dump({"files": list(owned)}, default_flow_style=False).encode()


# -- moving a Destination -------------------------------------------------------------------------


def path_move_removals(
    destination: Destination,
    old_path: str,
    placements: Sequence[tuple[PlacementFiles, Sequence[str]]],
    *,
    keep: Iterable[str] = (),
) -> tuple[Change, ...]:
    """The changes that remove what kratix-py wrote under ``old_path`` for ``destination``, whose
    ``spec.path`` has changed: the canaries and each placement's files there.

    ``placements`` pairs each placement's files with the store paths its written-files record
    holds (mode none). A path the Destination now writes to (possible when one path is inside
    the other), or one in ``keep`` (what another Destination now writes there), is never removed. Raises UnsafePathError for an old path that would leave the store.
    """
    spec = destination.spec.model_copy(update={"path": old_path})
    old = destination.model_copy(update={"spec": spec})
    old_root = destination_root(old)
    removals: dict[str, Change] = {
        _changed_path(change): change for change in canary_changes(old, present=False)
    }
    for files, recorded in placements:
        previously = [path for path in recorded if is_within(path, old_root)]
        for change in placement_removal(old, files, previously_owned=previously).changes:
            removals[_changed_path(change)] = change
    kept = set(canary_paths(destination)) | set(keep)
    for files, _ in placements:
        kept |= placement_paths(destination, files)
    return tuple(
        change
        for path, change in sorted(removals.items())
        if not any(is_within(path, other) or is_within(other, path) for other in kept)
    )


def _changed_path(change: Change) -> str:
    return change.directory if isinstance(change, DirChange) else change.path


def placement_paths(destination: Destination, placement: PlacementFiles) -> set[str]:
    """The store paths a placement's files take on ``destination``."""
    mode = destination.spec.filepath.mode
    if mode == "aggregatedYAML":
        return {aggregated_file(destination)}
    if mode == "none":
        claimed = flat_claims(destination, placement.name, [filepath for filepath, _ in placement.files])
        return claimed | {state_file(destination, placement.namespace, placement.name)}
    return {group_directory(destination, placement)}


# -- canaries --------------------------------------------------------------------------------------


def canary_paths(destination: Destination) -> tuple[str, str]:
    """(namespace file, ConfigMap file): inside dependencies/ and resources/ for nestedByMetadata,
    so both GitOps paths exist from day one; at the Destination's root for other modes."""
    root = destination_root(destination)
    if destination.spec.filepath.mode == "nestedByMetadata":
        return (
            join_under(root, f"{DEPENDENCIES_DIR}/{CANARY_NAMESPACE_FILE}"),
            join_under(root, f"{RESOURCES_DIR}/{CANARY_CONFIG_MAP_FILE}"),
        )
    return join_under(root, CANARY_NAMESPACE_FILE), join_under(root, CANARY_CONFIG_MAP_FILE)


def canary_documents() -> tuple[bytes, bytes]:
    """The kratix-worker-system Namespace and the kratix-info ConfigMap, as stable YAML."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": c.WORKER_SYSTEM_NAMESPACE}}
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": c.CANARY_CONFIG_MAP_NAME, "namespace": c.WORKER_SYSTEM_NAMESPACE},
        "data": {"canary": CANARY_MESSAGE},
    }
    return yaml.safe_dump(namespace).encode(), yaml.safe_dump(config_map).encode()


def canary_changes(destination: Destination, *, present: bool = True) -> tuple[FileChange, ...]:
    """Write (``present``) or remove the canary files."""
    namespace_doc, config_map_doc = canary_documents()
    namespace_path, config_map_path = canary_paths(destination)
    return (
        FileChange(namespace_path, namespace_doc if present else None, CANARY_LABEL),
        FileChange(config_map_path, config_map_doc if present else None, CANARY_LABEL),
    )
