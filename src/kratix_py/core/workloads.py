"""From a pipeline's output files to the workload groups of a Work (behaviour spec §2.4, §2.14).

Each top-level directory named in ``destination-selectors.yaml`` becomes its own workload group,
scheduled only by that entry's labels; every other file lands in the default group (directory
``.``), scheduled by the root entry plus the Promise's ``destinationSelectors``. Workload content is
gzip (mtime 0) then base64, so the same files always give the same Work and reconciles stay quiet.

Everything here is pure: the adapter reads the files and hands them over as :class:`PipelineOutput`.
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kratix_py.api.promise import DestinationSelector as PromiseDestinationSelector
from kratix_py.api.promise import squash_destination_selectors
from kratix_py.api.work import decode_workload_content, encode_workload_content
from kratix_py.contract import DEFAULT_WORKLOAD_GROUP_DIRECTORY, DEFAULT_WORKLOAD_GROUP_ID
from kratix_py.core.hashing import md5_hex
from kratix_py.core.limited_yaml import (
    DEFAULT_YAML_LIMITS,
    YamlLimitError,
    YamlLimits,
    format_size,
    load_yaml,
    load_yaml_documents,
)
from kratix_py.core.limits import ENV_MAX_WORK_BYTES, largest

DESTINATION_SELECTORS_FILE = "destination-selectors.yaml"
# The older name of the same file; read only when the new name is absent.
LEGACY_DESTINATION_SELECTORS_FILE = "destination.yaml"
PROMISE_SCHEDULING_FILE = "promise-scheduling"

DEFAULT_DIRECTORY = DEFAULT_WORKLOAD_GROUP_DIRECTORY  # "."
DEFAULT_GROUP_ID = DEFAULT_WORKLOAD_GROUP_ID  # md5(".") = 5058f1af8388633f609cadb75a75dc9d

SOURCE_PROMISE = "promise"
SOURCE_PROMISE_WORKFLOW = "promise-workflow"
SOURCE_RESOURCE_WORKFLOW = "resource-workflow"
WORKFLOW_TYPES = ("promise", "resource")

YAML_SUFFIXES = (".yaml", ".yml")


class PipelineOutputError(ValueError):
    """The pipeline wrote something kratix-py cannot turn into a Work; the message names the file."""


# -- content encoding ------------------------------------------------------------------------------


def encode_content(data: bytes) -> str:
    """gzip (mtime 0, so identical input gives identical output) then base64, as Work workloads store it."""
    return encode_workload_content(data)


def decode_content(content: str) -> bytes:
    """The original bytes of a workload's ``content``; ValueError if it is not base64 gzip."""
    try:
        base64.b64decode(content, validate=True)  # stricter than the decoder: garbage must not read as b""
        return decode_workload_content(content)
    except (binascii.Error, OSError, EOFError, zlib.error, ValueError) as error:
        raise ValueError(f"workload content is not base64-encoded gzip: {error}") from None


# -- the data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DirectorySelector:
    """One entry of ``destination-selectors.yaml``; ``directory`` is cleaned, ``.`` for the default group."""

    directory: str
    match_labels: Mapping[str, str]


@dataclass(frozen=True)
class SchedulingSelector:
    """The labels one source asks for: ``promise``, ``promise-workflow`` or ``resource-workflow``."""

    match_labels: Mapping[str, str]
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"matchLabels": dict(sorted(self.match_labels.items())), "source": self.source}


@dataclass(frozen=True)
class Workload:
    """One output file: its path relative to the output directory (POSIX) and its encoded content."""

    filepath: str
    content: str

    def to_dict(self) -> dict[str, Any]:
        return {"filepath": self.filepath, "content": self.content}


@dataclass(frozen=True)
class WorkloadGroup:
    """Files scheduled together; ``id`` is ``md5(directory)`` so it is stable across runs."""

    id: str
    directory: str
    workloads: tuple[Workload, ...]
    destination_selectors: tuple[SchedulingSelector, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The group as it appears in a Work's ``spec.workloadGroups``."""
        group: dict[str, Any] = {
            "id": self.id,
            "directory": self.directory,
            "workloads": [workload.to_dict() for workload in self.workloads],
        }
        if self.destination_selectors:
            group["destinationSelectors"] = [selector.to_dict() for selector in self.destination_selectors]
        return group


@dataclass(frozen=True)
class PipelineOutput:
    """What a pipeline left in its output directory.

    ``files`` maps POSIX paths relative to the output directory to file bytes; ``directories`` holds
    every top-level directory, including empty ones, because a selector may name an empty directory.
    """

    files: Mapping[str, bytes]
    directories: frozenset[str] = field(default_factory=frozenset)


# -- destination-selectors.yaml ---------------------------------------------------------------------


def clean_directory(directory: str) -> str:
    """Normalise a directory like Go's ``filepath.Clean``: ``baz/`` and ``./baz`` become ``baz``; ``""`` is ``.``."""
    return posixpath.normpath(directory) if directory else DEFAULT_DIRECTORY


def _field(entry: Mapping[Any, Any], name: str) -> Any:
    # Kratix decodes these files with Go's encoding/json, which matches field names case-insensitively
    # (and its own promise-scheduling file says "matchlabels"), so we accept any capitalisation too.
    for key, value in entry.items():
        if isinstance(key, str) and key.lower() == name.lower():
            return value
    return None


def _string_labels(labels: Any, where: str) -> dict[str, str]:
    if not isinstance(labels, Mapping):
        raise PipelineOutputError(
            f"{where}: matchLabels must be a map of label names to values, got {labels!r}"
        )
    result: dict[str, str] = {}
    for key, value in labels.items():
        if not isinstance(key, str) or not isinstance(value, str):
            as_yaml = (
                json.dumps(value) if isinstance(value, (bool, int, float)) or value is None else str(value)
            )
            raise PipelineOutputError(
                f"{where}: matchLabels {key}: {as_yaml} is not a string; label values are text, "
                f'so quote them in YAML ({key}: "{as_yaml}")'
            )
        result[key] = value
    return result


def _load_yaml(text: str | bytes, filename: str, limits: YamlLimits) -> Any:
    try:
        return load_yaml(text, filename=filename, limits=limits)
    except YamlLimitError as error:
        raise PipelineOutputError(str(error)) from None


def parse_destination_selectors(
    text: str | bytes, *, filename: str = DESTINATION_SELECTORS_FILE, limits: YamlLimits = DEFAULT_YAML_LIMITS
) -> list[DirectorySelector]:
    """Validate ``destination-selectors.yaml`` as Kratix does and return its entries in file order.

    Rules: a list; each entry has a non-empty ``matchLabels`` map of strings; ``directory`` is cleaned
    (``baz/`` equals ``baz``), must be a single top-level directory, and appears at most once
    (absent or ``.`` names the default group). Errors name the file, the entry index and the fix.
    """
    document = _load_yaml(text, filename, limits)
    if document is None:
        return []
    if not isinstance(document, list):
        raise PipelineOutputError(
            f"{filename} must be a list of {{directory, matchLabels}} entries, got a {type(document).__name__}"
        )
    selectors: list[DirectorySelector] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(document):
        where = f"{filename} entry {index}"
        if not isinstance(entry, Mapping):
            raise PipelineOutputError(f"{where} must be a map with matchLabels, got {entry!r}")
        labels = _string_labels(_field(entry, "matchLabels") or {}, where)
        if not labels:
            raise PipelineOutputError(f"{where} has no matchLabels; every entry needs at least one label")
        raw_directory = _field(entry, "directory")
        if raw_directory is None:
            raw_directory = ""
        if not isinstance(raw_directory, str):
            raise PipelineOutputError(f"{where}: directory must be a string, got {raw_directory!r}")
        directory = clean_directory(raw_directory)
        if directory != DEFAULT_DIRECTORY and ("/" in directory or directory == ".."):
            raise PipelineOutputError(
                f"{where}: directory {raw_directory!r} is not allowed; only top-level directories of the "
                "output can have their own destination selectors (no '/' and no '..')"
            )
        if directory in seen:
            shown = (
                "the default directory '.'" if directory == DEFAULT_DIRECTORY else f"directory {directory!r}"
            )
            raise PipelineOutputError(
                f"{where} repeats {shown} of entry {seen[directory]}; each directory may appear only once"
            )
        seen[directory] = index
        selectors.append(DirectorySelector(directory=directory, match_labels=labels))
    return selectors


def parse_promise_scheduling(
    text: str | bytes, *, filename: str = PROMISE_SCHEDULING_FILE, limits: YamlLimits = DEFAULT_YAML_LIMITS
) -> list[SchedulingSelector]:
    """Read the ``promise-scheduling`` file kratix-py mounts into the work-writer.

    A YAML list of ``{matchLabels, source}``; Kratix writes ``matchlabels`` in lower case, so both
    spellings are read. Entries with empty labels are dropped (they select nothing extra).
    """
    document = _load_yaml(text, filename, limits)
    if document is None:
        return []
    if not isinstance(document, list):
        raise PipelineOutputError(f"{filename} must be a list of {{matchLabels, source}} entries")
    selectors: list[SchedulingSelector] = []
    for index, entry in enumerate(document):
        where = f"{filename} entry {index}"
        if not isinstance(entry, Mapping):
            raise PipelineOutputError(f"{where} must be a map with matchLabels and source")
        labels = _string_labels(_field(entry, "matchLabels") or {}, where)
        source = _field(entry, "source") or SOURCE_PROMISE
        if source not in (SOURCE_PROMISE, SOURCE_PROMISE_WORKFLOW):
            raise PipelineOutputError(f"{where}: unknown source {source!r}")
        if labels:
            selectors.append(SchedulingSelector(match_labels=labels, source=str(source)))
    return selectors


def squash_labels(label_sets: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """Merge label maps into one; on a clash the earlier map wins (the Promise's rule, reused)."""
    return squash_destination_selectors(
        PromiseDestinationSelector.model_construct(match_labels=dict(labels)) for labels in label_sets
    )


# -- output validation and grouping ------------------------------------------------------------------


def kubernetes_object_problem(document: Any) -> str | None:
    """Why one YAML document is not a Kubernetes object, or ``None`` (an empty document is fine).

    GitOps agents apply every YAML file in a Destination's directory; one that is a list, a scalar
    or a map without ``apiVersion`` and ``kind`` makes the whole directory fail to apply, for every
    request placed there, not only the one whose pipeline wrote it.
    """
    if document is None:
        return None
    if isinstance(document, list):
        return "is a list, not an object"
    if not isinstance(document, Mapping):
        return f"is a {type(document).__name__}, not an object"
    missing = [
        key for key in ("apiVersion", "kind") if not isinstance(document.get(key), str) or not document[key]
    ]
    if missing:
        return f"has no {' and no '.join(missing)}"
    return None


def check_yaml_files(
    files: Mapping[str, bytes],
    *,
    limits: YamlLimits = DEFAULT_YAML_LIMITS,
    require_objects: bool = True,
) -> list[str]:
    """Every ``.yaml``/``.yml`` output must parse (several documents allowed) within ``limits``,
    and each document must be a Kubernetes object; other files are opaque.

    A broken manifest caught here fails the pipeline with the file and line, instead of failing
    later, silently, inside a GitOps agent on some destination. With ``require_objects=False`` a
    document that is not a Kubernetes object is written anyway and the returned warnings say so.
    """
    warnings: list[str] = []
    for path in sorted(files):
        if not path.lower().endswith(YAML_SUFFIXES):
            continue
        try:
            documents = load_yaml_documents(
                files[path], filename=f"output file {path}", limits=limits, any_tags=True
            )
        except YamlLimitError as error:
            raise PipelineOutputError(str(error)) from None
        for index, document in enumerate(documents):
            problem = kubernetes_object_problem(document)
            if problem is None:
                continue
            where = f"output file {path}" + (f" (document {index + 1})" if len(documents) > 1 else "")
            message = (
                f"{where} {problem}: GitOps agents apply every YAML file in a Destination's directory "
                "and fail on anything that is not a Kubernetes object (apiVersion, kind, metadata)"
            )
            if require_objects:
                raise PipelineOutputError(
                    f"{message}; write a Kubernetes object, or name the file without .yaml/.yml "
                    "if it is data for a non-Kubernetes destination"
                )
            warnings.append(f"{message}; written anyway")
    return warnings


def _selectors_for(
    directory_selector: DirectorySelector | None, workflow_type: str
) -> list[SchedulingSelector]:
    if directory_selector is None:
        return []
    return [SchedulingSelector(directory_selector.match_labels, f"{workflow_type}-workflow")]


def _workloads(files: Mapping[str, bytes], paths: Iterable[str]) -> tuple[Workload, ...]:
    return tuple(Workload(filepath=path, content=encode_content(files[path])) for path in sorted(paths))


def build_workload_groups(
    output: PipelineOutput,
    directory_selectors: Sequence[DirectorySelector],
    promise_selectors: Sequence[SchedulingSelector],
    *,
    workflow_type: str,
) -> list[WorkloadGroup]:
    """Group the output files by the directories named in ``destination-selectors.yaml``.

    Directory groups get only their own entry's labels (never the Promise's); the default group
    exists only if some file is left for it and gets the root entry's labels plus the Promise's.
    Groups are sorted by directory and workloads by path, so the result never depends on file order.
    """
    if workflow_type not in WORKFLOW_TYPES:
        raise ValueError(f"workflow type must be one of {WORKFLOW_TYPES}, got {workflow_type!r}")
    by_directory = {selector.directory: selector for selector in directory_selectors}
    groups: list[WorkloadGroup] = []
    claimed: set[str] = set()
    for directory, selector in by_directory.items():
        if directory == DEFAULT_DIRECTORY:
            continue
        if directory not in output.directories:
            where = "a file" if directory in output.files else "nothing"
            raise PipelineOutputError(
                f"{DESTINATION_SELECTORS_FILE} names directory {directory!r}, but the output has {where} "
                f"there; write the files to /kratix/output/{directory}/ or remove the entry"
            )
        prefix = directory + "/"
        paths = [path for path in output.files if path.startswith(prefix)]
        claimed.update(paths)
        groups.append(
            WorkloadGroup(
                id=md5_hex(directory),
                directory=directory,
                workloads=_workloads(output.files, paths),
                destination_selectors=tuple(_selectors_for(selector, workflow_type)),
            )
        )
    remaining = [path for path in output.files if path not in claimed]
    if remaining:
        selectors = _selectors_for(by_directory.get(DEFAULT_DIRECTORY), workflow_type)
        for source in (SOURCE_PROMISE_WORKFLOW, SOURCE_PROMISE):
            labels = squash_labels(s.match_labels for s in promise_selectors if s.source == source)
            if labels:
                selectors.append(SchedulingSelector(labels, source))
        groups.append(
            WorkloadGroup(
                id=DEFAULT_GROUP_ID,
                directory=DEFAULT_DIRECTORY,
                workloads=_workloads(output.files, remaining),
                destination_selectors=tuple(selectors),
            )
        )
    return sorted(groups, key=lambda group: group.directory)


def work_size_problem(groups: Sequence[WorkloadGroup], work_bytes: int, max_bytes: int) -> str | None:
    """Why a Work of ``work_bytes`` (as sent to the API server) is too big, naming its largest files.

    The API server refuses objects over about 1.5 MB, and each WorkPlacement carries a copy of its
    group's files, so the limit is checked here, in the pipeline, where the files can be named.
    """
    if work_bytes <= max_bytes:
        return None
    sizes = {workload.filepath: len(workload.content) for group in groups for workload in group.workloads}
    return (
        f"the Work would be {format_size(work_bytes)} with its files compressed, over the limit of "
        f"{format_size(max_bytes)} (set {ENV_MAX_WORK_BYTES} to change it; the API server refuses "
        f"objects over about 1.5 MB); largest files once compressed: {largest(sizes) or 'none'}"
    )
