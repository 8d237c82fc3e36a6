"""What ``render`` shows: a text report for people and a folder of files for tools and goldens.

The folder (``render --output DIR``, and what ``test`` compares with a case's ``expected/``)::

    pipelines/<pipeline>/<path>   every file a pipeline wrote to /kratix/output, decoded
    dependencies/<path>           the Promise's static dependencies (promise workflow only)
    scheduling.yaml               per Work and workload group: selectors, files, Destinations
    status.yaml                   the object's status after the workflow

Volatile values (timestamps Kratix stamps, uids, resourceVersions) are written as
:data:`IGNORED` in ``status.yaml``, so the same inputs always give byte-identical output.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from kratix_py.authoring.engine import RenderedGroup, RenderedWork, RenderResult

IGNORED = "<ignored>"
"""Stands for a value that changes from run to run; in a golden file it matches any value."""

VOLATILE_KEYS = frozenset(
    {
        "lastTransitionTime",
        "lastSuccessfulConfigureWorkflowTime",
        "lastAvailableTime",
        "lastExecutionTimestamp",
        "nextRetryAt",
        "creationTimestamp",
        "deletionTimestamp",
        "uid",
        "resourceVersion",
    }
)
"""Keys whose values are replaced by :data:`IGNORED`, wherever they appear in the status."""

PIPELINES_DIR = "pipelines"
DEPENDENCIES_DIR = "dependencies"
SCHEDULING_FILE = "scheduling.yaml"
STATUS_FILE = "status.yaml"


def normalise(value: Any) -> Any:
    """A copy of ``value`` with every :data:`VOLATILE_KEYS` value replaced by :data:`IGNORED`."""
    if isinstance(value, Mapping):
        return {key: IGNORED if key in VOLATILE_KEYS else normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalise(item) for item in value]
    return value


def without_volatile(value: Any) -> Any:
    """A copy of ``value`` without the :data:`VOLATILE_KEYS` (for reports read by people)."""
    if isinstance(value, Mapping):
        return {key: without_volatile(item) for key, item in value.items() if key not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [without_volatile(item) for item in value]
    return value


def dump_yaml(value: Any) -> str:
    """Stable YAML: sorted keys, block style, unicode kept."""
    return yaml.safe_dump(value, sort_keys=True, default_flow_style=False, allow_unicode=True)


def _work_dir(work: RenderedWork) -> PurePosixPath:
    return PurePosixPath(PIPELINES_DIR, work.pipeline) if work.pipeline else PurePosixPath(DEPENDENCIES_DIR)


def scheduling_summary(result: RenderResult) -> dict[str, Any]:
    """Where each group would go, as data (``scheduling.yaml``)."""
    works = []
    for work in result.works:
        entry: dict[str, Any] = {"pipeline": work.pipeline} if work.pipeline else {"dependencies": True}
        entry["placement"] = "every matching Destination" if work.dependency else "one matching Destination"
        entry["groups"] = [
            {
                "directory": group.directory,
                "id": group.id,
                "selectors": [dict(s) for s in group.selectors],
                "matchLabels": dict(group.selector),
                "files": sorted(group.files),
                "destinations": list(group.destinations),
            }
            for group in work.groups
        ]
        works.append(entry)
    return {"destinations": list(result.destinations), "works": works}


def result_files(result: RenderResult) -> dict[str, bytes]:
    """The output folder as ``relative path -> content`` (what :func:`write_output` writes)."""
    files: dict[str, bytes] = {}
    for work in result.works:
        base = _work_dir(work)
        for group in work.groups:
            for path, content in group.files.items():
                files[str(base / path)] = content
    files[SCHEDULING_FILE] = dump_yaml(scheduling_summary(result)).encode()
    files[STATUS_FILE] = dump_yaml(normalise(dict(result.status))).encode()
    return dict(sorted(files.items()))


def write_output(result: RenderResult, directory: Path) -> None:
    """Write :func:`result_files` to ``directory``, replacing what an earlier render left there."""
    for name in (PIPELINES_DIR, DEPENDENCIES_DIR):
        shutil.rmtree(directory / name, ignore_errors=True)
    write_files(result_files(result), directory)


def write_files(files: Mapping[str, bytes], directory: Path) -> None:
    for relative, content in files.items():
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


# -- the text report ------------------------------------------------------------------------------


def _labels(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(labels.items())) or "(none)"


def _group_lines(
    group: RenderedGroup, work: RenderedWork, result: RenderResult, contents: bool
) -> Iterable[str]:
    sources = "; ".join(
        f"{_labels(s.get('matchLabels') or {})} from {s.get('source', '?')}" for s in group.selectors
    )
    yield f"  group {group.directory} (id {group.id[:5]}): {len(group.files)} file(s)"
    yield f"    selectors: {sources or '(none: any Destination)'}"
    if group.destinations:
        yield f"    lands on: {', '.join(group.destinations)}"
    elif result.destinations:
        yield f"    lands on: nothing: no given Destination has {_labels(group.selector)}"
    else:
        yield "    lands on: (no Destinations given: pass --destinations FILE to see where)"
    for path, content in group.files.items():
        yield f"    - {path}"
        if contents:
            text = content.decode("utf-8", "replace")
            for line in text.rstrip("\n").splitlines():
                yield f"        {line}"


def format_report(result: RenderResult, *, contents: bool = True) -> str:
    """The human-readable account of a render: pipelines, files, scheduling, status, conditions."""
    lines = [
        f"{result.workflow} {result.action} workflow of {result.subject}: "
        + (f"ran {', '.join(result.pipelines)}" if result.pipelines else "no pipeline ran")
    ]
    for work in result.works:
        title = f"pipeline {work.pipeline}" if work.pipeline else "static dependencies"
        placement = "every matching Destination" if work.dependency else "one matching Destination per group"
        lines.append("")
        lines.append(f"{title} (placed on {placement})")
        if not work.groups:
            lines.append("  no output files")
        for group in work.groups:
            lines.extend(_group_lines(group, work, result, contents))
    status = without_volatile(dict(result.status))
    conditions = status.pop("conditions", None) or []
    lines.append("")
    lines.append("status:")
    shown = dump_yaml(status).rstrip("\n") if status else "{}"
    lines.extend(f"  {line}" for line in shown.splitlines())
    if conditions:
        lines.append("conditions:")
        width = max(len(str(cd.get("type", ""))) for cd in conditions)
        for condition in conditions:
            lines.append(
                f"  {str(condition.get('type', '')).ljust(width)}  {str(condition.get('status', '')).ljust(7)}  "
                f"{condition.get('reason', '')}: {condition.get('message', '')}"
            )
    return "\n".join(lines) + "\n"


def format_failure(result: RenderResult) -> str:
    failure = result.failure
    if failure is None:
        return ""
    where = f"container {failure.container} " if failure.container else ""
    text = f"pipeline {failure.pipeline} failed: {where}{failure.reason}\n"
    if failure.log.strip():
        text += f"--- log of container {failure.container} ---\n{failure.log.rstrip()}\n---\n"
    return text
