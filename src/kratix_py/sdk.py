"""A small SDK for writing Kratix pipeline containers in Python.

A pipeline container reads the object it works on from ``/kratix/input/object.yaml``, writes the
files to deliver under ``/kratix/output``, and talks back to kratix-py through files in
``/kratix/metadata`` (``status.yaml``, ``destination-selectors.yaml``, ``workflow-control.yaml``).
This module wraps those conventions::

    from kratix_py import sdk

    request = sdk.read_object()
    sdk.write_output("namespace.yaml", {"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": request.name}})
    sdk.write_status({"message": f"namespace {request.name} requested"})

It needs only the standard library and PyYAML, so it runs in a minimal image: copy this one file
next to your script if you do not want to install kratix-py. The directories can be moved with
``INPUT_DIR``, ``OUTPUT_DIR`` and ``METADATA_DIR`` (handy in tests).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

# This module deliberately imports nothing from kratix_py, so the names below repeat the pipeline
# contract (kratix-behaviour.md §2.4/§2.5) instead of importing it.
DEFAULT_INPUT_DIR = "/kratix/input"
DEFAULT_OUTPUT_DIR = "/kratix/output"
DEFAULT_METADATA_DIR = "/kratix/metadata"
OBJECT_FILE = "object.yaml"
STATUS_FILE = "status.yaml"
DESTINATION_SELECTORS_FILE = "destination-selectors.yaml"
WORKFLOW_CONTROL_FILE = "workflow-control.yaml"

_GO_DURATION = re.compile(r"\+?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+")

__all__ = [
    "PipelineObject",
    "SdkError",
    "input_dir",
    "is_configure",
    "is_delete",
    "is_dry_run",
    "is_promise_workflow",
    "is_resource_workflow",
    "metadata_dir",
    "object_kind",
    "object_name",
    "object_namespace",
    "output_dir",
    "pipeline_name",
    "promise_name",
    "read_destination_selectors",
    "read_object",
    "read_status",
    "retry_after",
    "suspend",
    "workflow_action",
    "workflow_type",
    "write_destination_selectors",
    "write_output",
    "write_status",
]


class SdkError(ValueError):
    """The pipeline asked for something kratix-py would reject later; raised early, with the fix."""


# -- where things are -------------------------------------------------------------------------------


def input_dir() -> Path:
    """``/kratix/input``, or ``$INPUT_DIR``."""
    return Path(os.environ.get("INPUT_DIR") or DEFAULT_INPUT_DIR)


def output_dir() -> Path:
    """``/kratix/output``, or ``$OUTPUT_DIR``."""
    return Path(os.environ.get("OUTPUT_DIR") or DEFAULT_OUTPUT_DIR)


def metadata_dir() -> Path:
    """``/kratix/metadata``, or ``$METADATA_DIR``."""
    return Path(os.environ.get("METADATA_DIR") or DEFAULT_METADATA_DIR)


# -- the environment kratix-py gives every pipeline container ----------------------------------------


def workflow_action() -> str:
    """``configure`` or ``delete``."""
    return os.environ.get("KRATIX_WORKFLOW_ACTION", "")


def workflow_type() -> str:
    """``promise`` (the Promise's own workflow) or ``resource`` (a request's workflow)."""
    return os.environ.get("KRATIX_WORKFLOW_TYPE", "")


def promise_name() -> str:
    return os.environ.get("KRATIX_PROMISE_NAME", "")


def pipeline_name() -> str:
    return os.environ.get("KRATIX_PIPELINE_NAME", "")


def object_kind() -> str:
    """Kind of the object in ``object.yaml``: ``Promise``, or the request's kind."""
    return os.environ.get("KRATIX_OBJECT_KIND", "")


def object_name() -> str:
    return os.environ.get("KRATIX_OBJECT_NAME", "")


def object_namespace() -> str:
    """The request's namespace; empty for promise workflows."""
    return os.environ.get("KRATIX_OBJECT_NAMESPACE", "")


def is_promise_workflow() -> bool:
    return workflow_type() == "promise"


def is_resource_workflow() -> bool:
    return workflow_type() == "resource"


def is_configure() -> bool:
    return workflow_action() == "configure"


def is_delete() -> bool:
    return workflow_action() == "delete"


def is_dry_run() -> bool:
    return os.environ.get("KRATIX_DRY_RUN", "").lower() == "true"


# -- reading the object -----------------------------------------------------------------------------


class PipelineObject:
    """The Promise or resource request a pipeline runs for, as read from ``object.yaml``."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data: dict[str, Any] = dict(data)

    def _section(self, key: str) -> dict[str, Any]:
        value = self.data.get(key)
        return value if isinstance(value, dict) else {}

    @property
    def metadata(self) -> dict[str, Any]:
        return self._section("metadata")

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or "")

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "")

    @property
    def kind(self) -> str:
        return str(self.data.get("kind") or "")

    @property
    def api_version(self) -> str:
        return str(self.data.get("apiVersion") or "")

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.metadata.get("labels") or {})

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.metadata.get("annotations") or {})

    @property
    def spec(self) -> dict[str, Any]:
        return self._section("spec")

    @property
    def status(self) -> dict[str, Any]:
        """The status when the pipeline started: how earlier pipelines pass results to later ones."""
        return self._section("status")

    def get(self, path: str, default: Any = None) -> Any:
        """The value at a dotted path, e.g. ``get("spec.size")`` or ``get("spec.ports.0.name")``.

        ``default`` when any step of the path is missing.
        """
        current: Any = self.data
        for part in path.split("."):
            if isinstance(current, Mapping) and part in current:
                current = current[part]
            elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
                current = current[int(part)]
            else:
                return default
        return current

    def __repr__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"PipelineObject({self.kind} {where})"


def read_object() -> PipelineObject:
    """The object this pipeline runs for, including its status."""
    path = input_dir() / OBJECT_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SdkError(f"{path} does not exist; is this running inside a Kratix pipeline?") from None
    if not isinstance(data, dict):
        raise SdkError(f"{path} does not hold a Kubernetes object")
    return PipelineObject(data)


# -- writing output ---------------------------------------------------------------------------------


def _safe_relative(relpath: str | os.PathLike[str], base: Path) -> Path:
    raw = os.fspath(relpath)
    parts = PurePosixPath(raw.replace("\\", "/")).parts
    if not raw or PurePosixPath(raw).is_absolute() or any(part in ("..", "") for part in parts):
        raise SdkError(f"output path {raw!r} must be relative and stay inside the output directory (no '..')")
    parts = tuple(part for part in parts if part != ".")
    if not parts:
        raise SdkError(f"output path {raw!r} names the output directory itself, not a file")
    return base.joinpath(*parts)


def _yaml_text(content: Any) -> str:
    if isinstance(content, Mapping):
        return yaml.safe_dump(_plain(content), sort_keys=False, default_flow_style=False, allow_unicode=True)
    documents = [_plain(document) for document in content]
    return yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False, allow_unicode=True)


def _plain(value: Any) -> Any:
    # safe_dump refuses dict subclasses and tuples; turn them into plain YAML-able values.
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def write_output(relpath: str | os.PathLike[str], content: Any) -> Path:
    """Write one file under the output directory and return its path.

    ``content`` may be bytes or text (written as is), a mapping (one YAML document) or a list of
    mappings (a multi-document YAML file). Parent directories are created; top-level directories
    can get their own destination selectors (see :func:`write_destination_selectors`).
    """
    path = _safe_relative(relpath, output_dir())
    if isinstance(content, bytes):
        data = content
    elif isinstance(content, str):
        data = content.encode("utf-8")
    elif isinstance(content, (Mapping, list, tuple)):
        data = _yaml_text(content).encode("utf-8")
    else:
        raise SdkError(
            f"cannot write a {type(content).__name__} to {relpath}; pass text, bytes, a dict or a list"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# -- status -----------------------------------------------------------------------------------------


def read_status() -> dict[str, Any]:
    """What this pipeline has written to ``status.yaml`` so far (``{}`` if nothing)."""
    path = metadata_dir() / STATUS_FILE
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return dict(data) if isinstance(data, dict) else {}


def _merge_conditions(existing: list[Any], incoming: list[Any]) -> list[Any]:
    merged = list(existing)
    for condition in incoming:
        kind = condition.get("type") if isinstance(condition, Mapping) else None
        index = next(
            (
                i
                for i, old in enumerate(merged)
                if isinstance(old, Mapping) and kind and old.get("type") == kind
            ),
            None,
        )
        if index is None:
            merged.append(condition)
        else:
            merged[index] = condition
    return merged


def write_status(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Add fields to ``status.yaml`` (merged with what is there; ``conditions`` merged by type).

    kratix-py merges the file into the object's status after the pipeline. The ``kratix`` field is
    kratix-py's own and is refused here, as the status-writer would fail on it. Promise workflows
    can only set ``message``. Returns the whole status written so far.
    """
    if "kratix" in fields:
        raise SdkError("'kratix' is a status field managed by kratix-py; choose another name")
    status = read_status()
    for key, value in fields.items():
        if key == "conditions" and isinstance(value, list) and isinstance(status.get("conditions"), list):
            status["conditions"] = _merge_conditions(status["conditions"], _plain(value))
        else:
            status[key] = _plain(copy.deepcopy(value))
    path = metadata_dir() / STATUS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(status, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return status


# -- scheduling -------------------------------------------------------------------------------------


def _clean_directory(directory: Any) -> str:
    if directory in (None, "", "."):
        return "."
    if not isinstance(directory, str):
        raise SdkError(f"directory must be text, got {directory!r}")
    cleaned = os.path.normpath(directory.replace("\\", "/"))
    if cleaned == "." or (cleaned != ".." and "/" not in cleaned):
        return cleaned
    raise SdkError(
        f"directory {directory!r} must be a single top-level directory of the output (no '/' or '..')"
    )


def read_destination_selectors() -> list[dict[str, Any]]:
    """The entries of ``destination-selectors.yaml`` written so far (``[]`` if none)."""
    path = metadata_dir() / DESTINATION_SELECTORS_FILE
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [dict(entry) for entry in data] if isinstance(data, list) else []


def write_destination_selectors(selectors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Say where output goes: ``[{"matchLabels": {...}}, {"directory": "db", "matchLabels": {...}}]``.

    An entry without ``directory`` applies to the files outside the named directories (together
    with the Promise's own ``destinationSelectors``); a named top-level directory is scheduled only
    by its entry. Entries for directories already in the file are replaced, others kept, so several
    containers of a pipeline can each add their own. Returns the whole file's entries.
    """
    by_directory: dict[str, dict[str, Any]] = {}
    for existing in read_destination_selectors():
        by_directory[_clean_directory(existing.get("directory"))] = existing
    for index, selector in enumerate(selectors):
        labels = selector.get("matchLabels")
        if not isinstance(labels, Mapping) or not labels:
            raise SdkError(f"selector {index} needs a non-empty matchLabels map")
        if not all(isinstance(key, str) and isinstance(value, str) for key, value in labels.items()):
            raise SdkError(
                f"selector {index}: matchLabels keys and values must be strings, got {dict(labels)!r}"
            )
        directory = _clean_directory(selector.get("directory"))
        entry: dict[str, Any] = {"directory": directory} if directory != "." else {}
        entry["matchLabels"] = dict(labels)
        by_directory[directory] = entry
    entries = [by_directory[key] for key in sorted(by_directory)]
    path = metadata_dir() / DESTINATION_SELECTORS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(entries, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return entries


# -- workflow control -------------------------------------------------------------------------------


def _write_control(control: dict[str, Any]) -> Path:
    path = metadata_dir() / WORKFLOW_CONTROL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(control, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def suspend(message: str = "") -> Path:
    """Stop the workflow after this pipeline until someone removes ``kratix.io/workflow-suspended``.

    The Work is not updated and later pipelines do not run; ``message`` shows in the object's
    status. Later containers of this same pipeline still run.
    """
    control: dict[str, Any] = {"suspend": True}
    if message:
        control["message"] = message
    return _write_control(control)


def _go_duration(duration: str | timedelta) -> str:
    if isinstance(duration, timedelta):
        milliseconds = round(duration.total_seconds() * 1000)
        if milliseconds < 0:
            raise SdkError(f"retry_after needs a positive duration, got {duration}")
        return f"{milliseconds // 1000}s" if milliseconds % 1000 == 0 else f"{milliseconds}ms"
    text = duration.strip()
    if text != "0" and not _GO_DURATION.fullmatch(text):
        raise SdkError(
            f"invalid duration {duration!r}: use a number with a unit, e.g. '30s', '5m' or '1h30m'"
        )
    return text


def retry_after(duration: str | timedelta, message: str = "") -> Path:
    """Run this pipeline again after ``duration`` (``"30s"``, ``"5m"``, ``"1h30m"`` or a timedelta).

    Like :func:`suspend`, the Work is left as it was; kratix-py counts the attempts in the status.
    """
    control: dict[str, Any] = {"retryAfter": _go_duration(duration)}
    if message:
        control["message"] = message
    return _write_control(control)
